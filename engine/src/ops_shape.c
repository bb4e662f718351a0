/* Shape ops, each forward followed by its backward: max-pool 2x2, nearest upsample 2x,
 * channel concat/slice, reshape (a view) and permute. Kernels: kernels/shape.cl. The
 * copies move 32-bit words, so they serve int32 tensors too. */
#include <inttypes.h>

#include "ops_internal.h"

static int want_map(const char *op, const gm_tensor *x, gm_error *err) {
  return gm__want_ndim(op, "x (B, C, H, W)", x, 4, err);
}

/* ---- maxpool2x2 ---- */

/* dx[argmax of each window] += dy, the argmax found again from x (one window per
 * work-item; windows do not overlap, so no two work-items write one element). */
static int maxpool2x2_backward(gm__node *n, gm_error *err) {
  gm_tensor *x = n->in[0], *dy = n->out->grad, *dx;
  if (!x->requires_grad) return 0;
  int rc = gm__grad(x, &dx, err);
  if (rc) return rc;
  return GM__LAUNCH1D(x->dev, "shape_maxpool2x2_backward", (size_t)dy->numel, err, GMK_T(dx),
                      GMK_T(dy), GMK_T(x), GMK_I(x->shape[2]), GMK_I(x->shape[3]),
                      GMK_I(dy->numel));
}

int gm_maxpool2x2(gm_tensor **y, gm_tensor *x, gm_error *err) {
  int rc = gm__want_f32("maxpool2x2", x, err);
  if (rc == 0) rc = want_map("maxpool2x2", x, err);
  if (rc) return rc;
  if (x->shape[2] % 2 || x->shape[3] % 2 || x->shape[2] == 0 || x->shape[3] == 0) {
    char s[96];
    return gm_error_set(err, GM_ESHAPE, "maxpool2x2: H and W of x must be even and non-zero, got %s",
                        gm_shape_str(x, s, sizeof s));
  }
  rc = gm__tensor_temp(y, x->dev, GM_F32, 4,
                       GM_SHAPE(x->shape[0], x->shape[1], x->shape[2] / 2, x->shape[3] / 2), err);
  if (rc == 0)
    rc = GM__LAUNCH1D(x->dev, "shape_maxpool2x2_forward", (size_t)(*y)->numel, err, GMK_T(*y),
                      GMK_T(x), GMK_I(x->shape[2]), GMK_I(x->shape[3]), GMK_I((*y)->numel));
  if (rc) return rc;
  gm__tape_record(x->dev, "maxpool2x2", maxpool2x2_backward, *y, (gm_tensor *[]){x}, 1, &rc, err);
  return rc;
}

/* ---- upsample2x ---- */

/* dx[i] += the sum of the 2x2 block of dy that x[i] was copied to (one work-item per x). */
static int upsample2x_backward(gm__node *n, gm_error *err) {
  gm_tensor *x = n->in[0], *dx;
  if (!x->requires_grad) return 0;
  int rc = gm__grad(x, &dx, err);
  if (rc) return rc;
  return GM__LAUNCH1D(x->dev, "shape_upsample2x_backward", (size_t)x->numel, err, GMK_T(dx),
                      GMK_T(n->out->grad), GMK_I(x->shape[2]), GMK_I(x->shape[3]),
                      GMK_I(x->numel));
}

int gm_upsample2x(gm_tensor **y, gm_tensor *x, gm_error *err) {
  int rc = want_map("upsample2x", x, err);
  if (rc == 0)
    rc = gm__tensor_temp(y, x->dev, x->dtype, 4,
                         GM_SHAPE(x->shape[0], x->shape[1], x->shape[2] * 2, x->shape[3] * 2),
                         err);
  if (rc == 0)
    rc = GM__LAUNCH1D(x->dev, "shape_upsample2x_forward", (size_t)(*y)->numel, err, GMK_T(*y),
                      GMK_T(x), GMK_I(x->shape[2]), GMK_I(x->shape[3]), GMK_I((*y)->numel));
  if (rc) return rc;
  gm__tape_record(x->dev, "upsample2x", upsample2x_backward, *y, (gm_tensor *[]){x}, 1, &rc, err);
  return rc;
}

/* ---- channel copies shared by concat and slice ---- */

/* The element count after dimension 1. */
static int64_t inner_size(const gm_tensor *x) {
  int64_t n = 1;
  for (int i = 2; i < x->ndim; i++) n *= x->shape[i];
  return n;
}

/* dst[:, dst_off + c] (=, or += when add) src[:, src_off + c] for c < count over
 * (B, *, inner) layouts; `add` is the float backward form. */
static int channel_copy(gm_tensor *dst, int64_t dst_off, const gm_tensor *src, int64_t src_off,
                        int64_t count, int add, gm_error *err) {
  int64_t batch = src->shape[0], inner = inner_size(src), rows = batch * count;
  return GM__LAUNCH2D(dst->dev, add ? "shape_channels_add" : "shape_channels_copy",
                      (size_t)inner, (size_t)rows, err, GMK_T(dst), GMK_T(src), GMK_I(inner),
                      GMK_I(dst->shape[1]), GMK_I(dst_off), GMK_I(src->shape[1]),
                      GMK_I(src_off), GMK_I(count), GMK_I(rows));
}

/* ---- concat_channels ---- */

/* One node per input that requires grad, all with the same output:
 * dx += dy[:, off : off + C_x]. This serves any number of inputs. */
static int concat_channels_backward(gm__node *n, gm_error *err) {
  gm_tensor *x = n->in[0], *dx;
  int rc = gm__grad(x, &dx, err);
  if (rc) return rc;
  return channel_copy(dx, 0, n->out->grad, n->iarg[0], x->shape[1], 1, err);
}

static int concat_check(const gm_tensor *const *xs, int n, int64_t *channels, gm_error *err) {
  if (n < 1 || !xs)
    return gm_error_set(err, GM_EINVAL, "concat_channels: needs at least one input, got %d", n);
  for (int i = 0; i < n; i++)
    if (!xs[i]) return gm_error_set(err, GM_EINVAL, "concat_channels: input %d is NULL", i);
  const gm_tensor *a = xs[0];
  if (a->ndim < 2) {
    char s[96];
    return gm_error_set(err, GM_ESHAPE, "concat_channels: inputs must be (B, C, ...), input 0 is %s",
                        gm_shape_str(a, s, sizeof s));
  }
  *channels = 0;
  for (int i = 0; i < n; i++) {
    const gm_tensor *b = xs[i];
    int same = b->ndim == a->ndim;
    for (int d = 0; same && d < a->ndim; d++) same = d == 1 || b->shape[d] == a->shape[d];
    if (!same) {
      char sa[96], sb[96];
      return gm_error_set(err, GM_ESHAPE,
                          "concat_channels: input %d %s does not match input 0 %s outside "
                          "dimension 1",
                          i, gm_shape_str(b, sb, sizeof sb), gm_shape_str(a, sa, sizeof sa));
    }
    if (b->dtype != a->dtype)
      return gm_error_set(err, GM_EDTYPE, "concat_channels: input %d is %s, input 0 is %s", i,
                          gm_dtype_name(b->dtype), gm_dtype_name(a->dtype));
    *channels += b->shape[1];
  }
  if (*channels > INT32_MAX)
    return gm_error_set(err, GM_ESHAPE, "concat_channels: %" PRId64 " channels in all", *channels);
  return 0;
}

int gm_concat_channels(gm_tensor **y, gm_tensor *const *xs, int n, gm_error *err) {
  int64_t channels = 0;
  int rc = concat_check((const gm_tensor *const *)xs, n, &channels, err);
  if (rc) return rc;
  int64_t shape[GM_MAX_DIMS];
  for (int d = 0; d < xs[0]->ndim; d++) shape[d] = xs[0]->shape[d];
  shape[1] = channels;
  rc = gm__tensor_temp(y, xs[0]->dev, xs[0]->dtype, xs[0]->ndim, shape, err);
  int64_t off = 0;
  for (int i = 0; rc == 0 && i < n; i++) {
    rc = channel_copy(*y, off, xs[i], 0, xs[i]->shape[1], 0, err);
    if (rc) break;
    gm__node *node = gm__tape_record(xs[i]->dev, "concat_channels", concat_channels_backward, *y,
                                     &xs[i], 1, &rc, err);
    if (node) node->iarg[0] = off;
    off += xs[i]->shape[1];
  }
  return rc;
}

/* ---- slice_channels ---- */

static int slice_channels_backward(gm__node *n, gm_error *err) {
  gm_tensor *x = n->in[0], *dx;
  if (!x->requires_grad) return 0;
  int rc = gm__grad(x, &dx, err);
  if (rc) return rc;
  return channel_copy(dx, n->iarg[0], n->out->grad, 0, n->out->shape[1], 1, err);
}

int gm_slice_channels(gm_tensor **y, gm_tensor *x, int start, int count, gm_error *err) {
  char s[96];
  if (x->ndim < 2)
    return gm_error_set(err, GM_ESHAPE, "slice_channels: x must be (B, C, ...), got %s",
                        gm_shape_str(x, s, sizeof s));
  if (start < 0 || count < 1 || (int64_t)start + count > x->shape[1])
    return gm_error_set(err, GM_ERANGE,
                        "slice_channels: channels %d .. %d (start %d, count %d) are not within "
                        "the %" PRId64 " channels of x %s",
                        start, start + count - 1, start, count, x->shape[1],
                        gm_shape_str(x, s, sizeof s));
  int64_t shape[GM_MAX_DIMS];
  for (int d = 0; d < x->ndim; d++) shape[d] = x->shape[d];
  shape[1] = count;
  int rc = gm__tensor_temp(y, x->dev, x->dtype, x->ndim, shape, err);
  if (rc == 0) rc = channel_copy(*y, 0, x, start, count, 0, err);
  if (rc) return rc;
  gm__node *n = gm__tape_record(x->dev, "slice_channels", slice_channels_backward, *y,
                                (gm_tensor *[]){x}, 1, &rc, err);
  if (n) n->iarg[0] = start;
  return rc;
}

/* ---- reshape ---- */

static int reshape_backward(gm__node *n, gm_error *err) {
  return gm__accumulate_grad(n->in[0], n->out->grad, 1.0f, err);
}

int gm_reshape(gm_tensor **y, gm_tensor *x, int ndim, const int64_t *shape, gm_error *err) {
  char s[96];
  if (ndim < 1 || ndim > GM_MAX_DIMS)
    return gm_error_set(err, GM_ESHAPE, "reshape: %d dimensions asked for x %s (1 to %d allowed)",
                        ndim, gm_shape_str(x, s, sizeof s), GM_MAX_DIMS);
  int64_t numel = 1;
  for (int d = 0; d < ndim; d++) {
    if (shape[d] < 0)
      return gm_error_set(err, GM_ESHAPE, "reshape: dimension %d of the new shape is %" PRId64,
                          d, shape[d]);
    numel *= shape[d];
  }
  if (numel != x->numel)
    return gm_error_set(err, GM_ESHAPE,
                        "reshape: x %s has %" PRId64 " elements, the new shape has %" PRId64,
                        gm_shape_str(x, s, sizeof s), x->numel, numel);
  int rc = gm__tensor_temp_view(y, x, 0, ndim, shape, err);
  if (rc) return rc;
  gm__tape_record(x->dev, "reshape", reshape_backward, *y, (gm_tensor *[]){x}, 1, &rc, err);
  return rc;
}

/* ---- permute ---- */

/* The kernel's view of a permute: y's sizes and, for each y axis, the stride of the x axis
 * it reads, right-aligned into 5 slots (leading slots size 1, stride 0). */
typedef struct permute_plan {
  int dims[GM_MAX_DIMS];
  int strides[GM_MAX_DIMS];
} permute_plan;

static void plan_permute(const gm_tensor *x, const int *perm, permute_plan *p) {
  int64_t xstride[GM_MAX_DIMS], acc = 1;
  for (int d = x->ndim - 1; d >= 0; d--) {
    xstride[d] = acc;
    acc *= x->shape[d];
  }
  int pad = GM_MAX_DIMS - x->ndim;
  for (int i = 0; i < GM_MAX_DIMS; i++) {
    p->dims[i] = i < pad ? 1 : (int)x->shape[perm[i - pad]];
    p->strides[i] = i < pad ? 0 : (int)xstride[perm[i - pad]];
  }
}

static int launch_permute(const char *kernel, gm_tensor *dst, const gm_tensor *src,
                          const permute_plan *p, int64_t n, gm_error *err) {
  return GM__LAUNCH1D(dst->dev, kernel, (size_t)n, err, GMK_T(dst), GMK_T(src), GMK_I(p->dims[0]),
                      GMK_I(p->dims[1]), GMK_I(p->dims[2]), GMK_I(p->dims[3]), GMK_I(p->dims[4]),
                      GMK_I(p->strides[0]), GMK_I(p->strides[1]), GMK_I(p->strides[2]),
                      GMK_I(p->strides[3]), GMK_I(p->strides[4]), GMK_I(n));
}

/* dx[the x element y[i] came from] += dy[i]: a bijection, so no two work-items collide. */
static int permute_backward(gm__node *n, gm_error *err) {
  gm_tensor *x = n->in[0], *dx;
  if (!x->requires_grad) return 0;
  int rc = gm__grad(x, &dx, err);
  if (rc) return rc;
  int perm[GM_MAX_DIMS];
  for (int i = 0; i < x->ndim; i++) perm[i] = (int)n->iarg[i];
  permute_plan p;
  plan_permute(x, perm, &p);
  return launch_permute("shape_permute_backward", dx, n->out->grad, &p, x->numel, err);
}

int gm_permute(gm_tensor **y, gm_tensor *x, const int *perm, gm_error *err) {
  char s[96];
  if (x->ndim < 1 || x->ndim > GM_MAX_DIMS)
    return gm_error_set(err, GM_ESHAPE, "permute: x %s must have 1 to %d dimensions",
                        gm_shape_str(x, s, sizeof s), GM_MAX_DIMS);
  int seen[GM_MAX_DIMS] = {0};
  for (int i = 0; i < x->ndim; i++) {
    if (perm[i] < 0 || perm[i] >= x->ndim)
      return gm_error_set(err, GM_EINVAL, "permute: perm[%d] = %d is not an axis of x %s", i,
                          perm[i], gm_shape_str(x, s, sizeof s));
    if (seen[perm[i]]++)
      return gm_error_set(err, GM_EINVAL, "permute: axis %d of x %s appears twice in perm",
                          perm[i], gm_shape_str(x, s, sizeof s));
  }
  int64_t shape[GM_MAX_DIMS];
  for (int i = 0; i < x->ndim; i++) shape[i] = x->shape[perm[i]];
  int rc = gm__tensor_temp(y, x->dev, x->dtype, x->ndim, shape, err);
  if (rc) return rc;
  permute_plan p;
  plan_permute(x, perm, &p);
  rc = launch_permute("shape_permute_forward", *y, x, &p, x->numel, err);
  if (rc) return rc;
  gm__node *n = gm__tape_record(x->dev, "permute", permute_backward, *y, (gm_tensor *[]){x}, 1,
                                &rc, err);
  if (n)
    for (int i = 0; i < x->ndim; i++) n->iarg[i] = perm[i];
  return rc;
}
