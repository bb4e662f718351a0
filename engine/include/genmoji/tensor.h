/* Tensors: float32 or int32, contiguous, row-major (NCHW for images), up to 5 dimensions,
 * living in a device buffer at an element offset. Host transfers only through
 * gm_tensor_read/gm_tensor_write, so that every hidden sync is visible in review.
 *
 * Two lifetimes: tensors from gm_tensor_create/gm_tensor_view are the caller's and are
 * freed by gm_tensor_destroy; tensors that ops return belong to the device's step arena
 * and are freed by gm_tape_reset (see autograd.h). */
#ifndef GENMOJI_TENSOR_H
#define GENMOJI_TENSOR_H

#include <stddef.h>
#include <stdint.h>
#include "device.h"
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GM_MAX_DIMS 5

typedef enum gm_dtype { GM_F32 = 0, GM_I32 = 1 } gm_dtype;

struct gm__buffer;

typedef struct gm_tensor {
  gm_device *dev;
  gm_dtype dtype;
  int ndim;
  int64_t shape[GM_MAX_DIMS];
  int64_t numel;
  int requires_grad;        /* set by gm_tensor_set_requires_grad or inherited by op outputs */
  struct gm_tensor *grad;   /* same shape, F32; NULL until a backward pass reaches it */
  char name[64];            /* optional, used in messages ("conv1.weight") */

  /* Engine-private from here on: plugins read the fields above only. */
  struct gm__buffer *buf;   /* backing device buffer */
  size_t offset;            /* in elements from the start of buf */
  unsigned flags;           /* GM__T_* in engine/src */
  struct gm_tensor *arena_next;
  struct gm__node *producer; /* the tape node that wrote this tensor, if recorded */
} gm_tensor;

/* A shape literal: gm_tensor_create(&t, dev, GM_F32, 4, GM_SHAPE(B, C, H, W), err). */
#define GM_SHAPE(...) ((const int64_t[]){__VA_ARGS__})

GM_API size_t gm_dtype_size(gm_dtype dt);
GM_API const char *gm_dtype_name(gm_dtype dt);

/* A new tensor with its own buffer from the device pool; contents undefined. */
GM_API int gm_tensor_create(gm_tensor **out, gm_device *dev, gm_dtype dtype, int ndim,
                            const int64_t *shape, gm_error *err);
/* A tensor that shares base's buffer from element `offset` on; base must outlive it. */
GM_API int gm_tensor_view(gm_tensor **out, gm_tensor *base, size_t offset, int ndim,
                          const int64_t *shape, gm_error *err);
/* Frees t, its grad if it owns one, and its buffer if it owns that (safe on NULL).
 * Arena tensors are freed by gm_tape_reset instead; destroying one is an internal error. */
GM_API void gm_tensor_destroy(gm_tensor *t);

/* Blocking copies of the whole tensor; bytes must equal numel * dtype size. */
GM_API int gm_tensor_read(const gm_tensor *t, void *host, size_t bytes, gm_error *err);
GM_API int gm_tensor_write(gm_tensor *t, const void *host, size_t bytes, gm_error *err);

/* Every element set to value (converted to the tensor's dtype). */
GM_API int gm_tensor_fill(gm_tensor *t, double value, gm_error *err);
/* dst <- src; same dtype and element count (shapes may differ). */
GM_API int gm_tensor_copy(gm_tensor *dst, const gm_tensor *src, gm_error *err);
/* Changes the shape in place; the element count must stay the same. */
GM_API int gm_tensor_reshape(gm_tensor *t, int ndim, const int64_t *shape, gm_error *err);

GM_API int gm_tensor_set_requires_grad(gm_tensor *t, int on, gm_error *err);
GM_API void gm_tensor_set_name(gm_tensor *t, const char *name);

/* "(8, 3, 32, 32)" into buf; returns buf. */
GM_API char *gm_shape_str(const gm_tensor *t, char *buf, size_t n);
GM_API size_t gm_tensor_bytes(const gm_tensor *t);

#ifdef __cplusplus
}
#endif
#endif
