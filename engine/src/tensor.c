/* Tensors: creation from the device pool, views, host transfers, fill, copy, reshape,
 * and the arena tensors that ops return (freed by gm_tape_reset in autograd.c). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

size_t gm_dtype_size(gm_dtype dt) {
  (void)dt;
  return 4;  /* F32 and I32 */
}

const char *gm_dtype_name(gm_dtype dt) { return dt == GM_I32 ? "int32" : "float32"; }

size_t gm_tensor_bytes(const gm_tensor *t) { return (size_t)t->numel * gm_dtype_size(t->dtype); }

char *gm_shape_str(const gm_tensor *t, char *buf, size_t n) {
  size_t used = 0;
  used += (size_t)snprintf(buf, n, "(");
  for (int i = 0; i < t->ndim && used < n; i++)
    used += (size_t)snprintf(buf + used, n - used, "%s%" PRId64, i ? ", " : "", t->shape[i]);
  if (used < n) snprintf(buf + used, n - used, ")");
  return buf;
}

static int check_shape(int ndim, const int64_t *shape, int64_t *numel, gm_error *err) {
  if (ndim < 0 || ndim > GM_MAX_DIMS)
    return gm_error_set(err, GM_EINVAL, "tensor: %d dimensions (1..%d allowed)", ndim,
                        GM_MAX_DIMS);
  int64_t n = 1;
  for (int i = 0; i < ndim; i++)
    if (shape[i] < 0)
      return gm_error_set(err, GM_EINVAL, "tensor: dimension %d of size %" PRId64 " is negative",
                          i, shape[i]);
  double total = 1; /* in double: the product may not fit 64 bits */
  for (int i = 0; i < ndim; i++) total *= (double)shape[i];
  if (total > (double)INT32_MAX) {
    char dims[GM_MAX_DIMS * 22 + 3] = "(";
    size_t used = 1;
    for (int i = 0; i < ndim && used < sizeof dims; i++)
      used += (size_t)snprintf(dims + used, sizeof dims - used, "%s%" PRId64, i ? ", " : "",
                               shape[i]);
    if (used < sizeof dims) snprintf(dims + used, sizeof dims - used, ")");
    return gm_error_set(err, GM_ERANGE, "tensor %s: %.0f elements, over the limit of 2^31 - 1 "
                        "elements per tensor", dims, total);
  }
  for (int i = 0; i < ndim; i++) n *= shape[i];
  *numel = n;
  return 0;
}

static int make(gm_tensor **out, gm_device *dev, gm_dtype dtype, int ndim,
                const int64_t *shape, unsigned flags, gm_error *err) {
  *out = NULL;
  int64_t numel = 0;
  int rc = check_shape(ndim, shape, &numel, err);
  if (rc) return rc;
  gm_tensor *t = calloc(1, sizeof *t);
  if (!t) return gm_error_set(err, GM_ENOMEM, "tensor: out of host memory");
  t->dev = dev;
  t->dtype = dtype;
  t->ndim = ndim;
  for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
  t->numel = numel;
  t->flags = flags | GM__T_OWNS_BUF;
  rc = gm__pool_alloc(dev, (size_t)numel * gm_dtype_size(dtype), &t->buf, err);
  if (rc) {
    free(t);
    return rc;
  }
  *out = t;
  return 0;
}

int gm_tensor_create(gm_tensor **out, gm_device *dev, gm_dtype dtype, int ndim,
                     const int64_t *shape, gm_error *err) {
  return make(out, dev, dtype, ndim, shape, 0, err);
}

static void arena_push(gm_device *dev, gm_tensor *t) {
  t->arena_next = dev->tape.arena;
  dev->tape.arena = t;
  dev->tape.n_arena++;
}

int gm__tensor_temp(gm_tensor **out, gm_device *dev, gm_dtype dtype, int ndim,
                    const int64_t *shape, gm_error *err) {
  int rc = make(out, dev, dtype, ndim, shape, GM__T_ARENA, err);
  if (rc == 0) arena_push(dev, *out);
  return rc;
}

static int make_view(gm_tensor **out, gm_tensor *base, size_t offset, int ndim,
                     const int64_t *shape, unsigned flags, gm_error *err) {
  *out = NULL;
  int64_t numel = 0;
  int rc = check_shape(ndim, shape, &numel, err);
  if (rc) return rc;
  if (offset + (size_t)numel > (size_t)base->numel)
    return gm_error_set(err, GM_ESHAPE, "view of %" PRId64 " elements at %zu exceeds %s's %" PRId64,
                        numel, offset, base->name[0] ? base->name : "tensor", base->numel);
  gm_tensor *t = calloc(1, sizeof *t);
  if (!t) return gm_error_set(err, GM_ENOMEM, "tensor view: out of host memory");
  t->dev = base->dev;
  t->dtype = base->dtype;
  t->ndim = ndim;
  for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
  t->numel = numel;
  t->buf = base->buf;
  t->offset = base->offset + offset;
  t->flags = flags;
  *out = t;
  return 0;
}

int gm_tensor_view(gm_tensor **out, gm_tensor *base, size_t offset, int ndim,
                   const int64_t *shape, gm_error *err) {
  return make_view(out, base, offset, ndim, shape, 0, err);
}

int gm__tensor_temp_view(gm_tensor **out, gm_tensor *base, size_t offset, int ndim,
                         const int64_t *shape, gm_error *err) {
  int rc = make_view(out, base, offset, ndim, shape, GM__T_ARENA, err);
  if (rc == 0) arena_push(base->dev, *out);
  return rc;
}

/* Frees one tensor's storage; used by gm_tensor_destroy and the arena. */
void gm__tensor_free(gm_tensor *t) {
  if (t->flags & GM__T_OWNS_BUF) gm__pool_release(t->dev, t->buf);
  free(t);
}

void gm_tensor_destroy(gm_tensor *t) {
  if (!t) return;
  GM_ASSERT(!(t->flags & GM__T_ARENA));
  if (t->grad && !(t->grad->flags & GM__T_ARENA)) gm_tensor_destroy(t->grad);
  gm__tensor_free(t);
}

int gm_tensor_read(const gm_tensor *t, void *host, size_t bytes, gm_error *err) {
  if (bytes != gm_tensor_bytes(t))
    return gm_error_set(err, GM_EINVAL, "gm_tensor_read %s: %zu bytes asked, tensor has %zu",
                        t->name, bytes, gm_tensor_bytes(t));
  if (!bytes) return 0;
  cl_int cl = clEnqueueReadBuffer(t->dev->queue, t->buf->mem, CL_TRUE, t->offset * 4, bytes,
                                  host, 0, NULL, NULL);
  if (cl != CL_SUCCESS) return gm__cl_fail(err, GM_EOPENCL, cl, "clEnqueueReadBuffer", t->name);
  return 0;
}

int gm_tensor_write(gm_tensor *t, const void *host, size_t bytes, gm_error *err) {
  if (bytes != gm_tensor_bytes(t))
    return gm_error_set(err, GM_EINVAL, "gm_tensor_write %s: %zu bytes given, tensor has %zu",
                        t->name, bytes, gm_tensor_bytes(t));
  if (!bytes) return 0;
  cl_int cl = clEnqueueWriteBuffer(t->dev->queue, t->buf->mem, CL_TRUE, t->offset * 4, bytes,
                                   host, 0, NULL, NULL);
  if (cl != CL_SUCCESS) return gm__cl_fail(err, GM_EOPENCL, cl, "clEnqueueWriteBuffer", t->name);
  return 0;
}

int gm_tensor_fill(gm_tensor *t, double value, gm_error *err) {
  if (t->dtype == GM_I32)
    return GM__LAUNCH1D(t->dev, "tensor_fill_i32", (size_t)t->numel, err, GMK_T(t), GMK_I((int)value),
                        GMK_I(t->numel));
  return GM__LAUNCH1D(t->dev, "tensor_fill_f32", (size_t)t->numel, err, GMK_T(t), GMK_F((float)value),
                      GMK_I(t->numel));
}

int gm_tensor_copy(gm_tensor *dst, const gm_tensor *src, gm_error *err) {
  if (dst->dtype != src->dtype || dst->numel != src->numel) {
    char a[96], b[96];
    return gm_error_set(err, GM_ESHAPE, "gm_tensor_copy: %s %s <- %s %s", gm_dtype_name(dst->dtype),
                        gm_shape_str(dst, a, sizeof a), gm_dtype_name(src->dtype),
                        gm_shape_str(src, b, sizeof b));
  }
  if (!dst->numel || (dst->buf == src->buf && dst->offset == src->offset)) return 0;
  cl_int cl = clEnqueueCopyBuffer(dst->dev->queue, src->buf->mem, dst->buf->mem, src->offset * 4,
                                  dst->offset * 4, gm_tensor_bytes(src), 0, NULL, NULL);
  if (cl != CL_SUCCESS) return gm__cl_fail(err, GM_EOPENCL, cl, "clEnqueueCopyBuffer", dst->name);
  return 0;
}

int gm_tensor_reshape(gm_tensor *t, int ndim, const int64_t *shape, gm_error *err) {
  int64_t numel = 0;
  int rc = check_shape(ndim, shape, &numel, err);
  if (rc) return rc;
  if (numel != t->numel) {
    char a[96];
    return gm_error_set(err, GM_ESHAPE, "reshape %s of %s: %" PRId64 " elements cannot become %" PRId64,
                        t->name, gm_shape_str(t, a, sizeof a), t->numel, numel);
  }
  t->ndim = ndim;
  for (int i = 0; i < GM_MAX_DIMS; i++) t->shape[i] = i < ndim ? shape[i] : 0;
  if (t->grad && t->grad->numel == numel) {
    t->grad->ndim = ndim;
    for (int i = 0; i < GM_MAX_DIMS; i++) t->grad->shape[i] = t->shape[i];
  }
  return 0;
}

int gm_tensor_set_requires_grad(gm_tensor *t, int on, gm_error *err) {
  if (on && t->dtype != GM_F32)
    return gm_error_set(err, GM_EDTYPE, "%s: only float32 tensors can require grad", t->name);
  t->requires_grad = on != 0;
  return 0;
}

void gm_tensor_set_name(gm_tensor *t, const char *name) {
  snprintf(t->name, sizeof t->name, "%s", name ? name : "");
}
