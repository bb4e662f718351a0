/* A model's named parameters and buffers in flat storage (engine/src/params.c).
 *
 * Declare everything, then finalize. Trainable parameters become views into ONE flat
 * float32 value buffer, packed in declaration order without gaps, and each view's ->grad
 * is the matching view into ONE flat grad buffer of the same layout: the optimiser and
 * EMA run one kernel over the whole model, and zero_grad is one fill. Buffers (running
 * statistics, masks: never trained) are packed the same way into a second flat buffer.
 * Names are the checkpoint keys ("conv1.weight"); the order is the declaration order.
 * Everything starts at zero after finalize; initialise it with gm_init_uniform & co.
 *
 *     gm_params *p;
 *     gm_params_create(&p, dev, &err);
 *     gm_params_declare(p, "fc.weight", GM_F32, 2, GM_SHAPE(10, 64), GM_PARAM_TRAINABLE, &err);
 *     gm_params_declare(p, "fc.bias", GM_F32, 1, GM_SHAPE(10), GM_PARAM_TRAINABLE, &err);
 *     gm_params_finalize(p, &err);
 *     gm_tensor *w = gm_params_find(p, "fc.weight");   // w->grad is a view too
 *     ...
 *     gm_params_destroy(p);                             // frees the views and the storage
 */
#ifndef GENMOJI_PARAMS_H
#define GENMOJI_PARAMS_H

#include <stdint.h>
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gm_params gm_params;

/* A kind; gm_params_numel also takes both OR'ed together. */
enum { GM_PARAM_TRAINABLE = 1, GM_PARAM_BUFFER = 2 };

GM_API int gm_params_create(gm_params **out, gm_device *dev, gm_error *err);
/* Frees every view, its grad view and the flat storage (safe on NULL). */
GM_API void gm_params_destroy(gm_params *p);

/* Declares one tensor. Trainable parameters must be float32; buffers may be float32 or
 * int32 (both are 4-byte words in the buffer storage). A duplicate name is GM_EEXISTS,
 * a declaration after finalize GM_EINVAL. */
GM_API int gm_params_declare(gm_params *p, const char *name, gm_dtype dtype, int ndim,
                             const int64_t *shape, int kind, gm_error *err);
/* Allocates the flat storage (zero-filled) and makes the views. Once only. */
GM_API int gm_params_finalize(gm_params *p, gm_error *err);

GM_API int gm_params_count(const gm_params *p);
/* The i-th declared tensor (NULL before finalize or out of range); *name and *kind (each
 * may be NULL) are filled whenever i is in range. */
GM_API gm_tensor *gm_params_at(const gm_params *p, int i, const char **name, int *kind);
/* The tensor declared as name, or NULL (also before finalize). */
GM_API gm_tensor *gm_params_find(const gm_params *p, const char *name);
/* The element offset of the i-th tensor within its kind's flat storage (-1 out of range):
 * where its slice of gm_params_flat, the grads, the moments and the EMA lies. */
GM_API int64_t gm_params_offset(const gm_params *p, int i);
/* Total elements of that kind (or of both). */
GM_API int64_t gm_params_numel(const gm_params *p, int kind);
/* The flat trainable values (1-D, gm_params_numel(p, GM_PARAM_TRAINABLE) elements; its
 * ->grad is gm_params_flat_grad) and their grads; NULL before finalize. */
GM_API gm_tensor *gm_params_flat(const gm_params *p);
GM_API gm_tensor *gm_params_flat_grad(const gm_params *p);
/* The flat buffer storage (1-D, 4-byte words: float32 or int32 per buffer); NULL before
 * finalize. */
GM_API gm_tensor *gm_params_flat_buffers(const gm_params *p);
/* Every trainable grad set to zero: one fill over the flat grad. */
GM_API int gm_params_zero_grad(gm_params *p, gm_error *err);
GM_API gm_device *gm_params_device(const gm_params *p);

#ifdef __cplusplus
}
#endif
#endif
