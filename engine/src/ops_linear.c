/* The fully connected layer, forward then backward: one GEMM each way, with the bias
 * added and reduced by the conv family's per-channel kernels (P = 1). */
#include <inttypes.h>

#include "ops_conv_internal.h"

static int linear_gemm(gm_device *dev, int ta, int tb, size_t m, size_t n, size_t k,
                       const gm_tensor *a, size_t lda, const gm_tensor *b, size_t ldb,
                       gm_tensor *c, float beta, gm_error *err) {
  gm__gemm_desc d = {.trans_a = ta, .trans_b = tb, .m = m, .n = n, .k = k, .alpha = 1.0f,
                     .beta = beta, .a = gm__mem(a), .b = gm__mem(b), .c = gm__mem(c),
                     .a_off = a->offset, .b_off = b->offset, .c_off = c->offset, .lda = lda,
                     .ldb = ldb, .ldc = n, .batch = 1};
  return gm__gemm(dev, &d, err);
}

/* dx += dy w; dw += dy^T x; db += the column sums of dy. */
static int linear_backward(gm__node *nd, gm_error *err) {
  gm_tensor *x = nd->in[0], *w = nd->in[1], *b = nd->n_in > 2 ? nd->in[2] : NULL;
  gm_tensor *dy = nd->out->grad, *g;
  size_t nbatch = (size_t)x->shape[0], in = (size_t)x->shape[1], out = (size_t)w->shape[0];
  int rc = 0;
  if (x->requires_grad) {
    rc = gm__grad(x, &g, err);
    if (rc == 0) rc = linear_gemm(x->dev, 0, 0, nbatch, in, out, dy, out, w, in, g, 1.0f, err);
  }
  if (rc == 0 && w->requires_grad) {
    rc = gm__grad(w, &g, err);
    if (rc == 0) rc = linear_gemm(x->dev, 1, 0, out, in, nbatch, dy, out, x, in, g, 1.0f, err);
  }
  if (rc == 0 && b && b->requires_grad) {
    rc = gm__grad(b, &g, err);
    if (rc == 0) rc = gm__channel_bias_grad(g, dy, (int64_t)nbatch, (int64_t)out, 1, err);
  }
  return rc;
}

static int linear_check(const gm_tensor *x, const gm_tensor *w, const gm_tensor *b,
                        gm_error *err) {
  const char *op = "linear";
  int rc = gm__want_ndim(op, "x (B, in)", x, 2, err);
  if (rc == 0) rc = gm__want_ndim(op, "w (out, in)", w, 2, err);
  if (rc == 0) rc = gm__want_f32(op, x, err);
  if (rc == 0) rc = gm__want_f32(op, w, err);
  if (rc == 0 && b) rc = gm__want_f32(op, b, err);
  if (rc) return rc;
  char sx[96], sw[96], sb[96];
  gm_shape_str(x, sx, sizeof sx);
  gm_shape_str(w, sw, sizeof sw);
  if (x->shape[0] < 1 || x->shape[1] < 1 || w->shape[0] < 1)
    return gm_error_set(err, GM_ESHAPE, "linear: empty x %s or w %s", sx, sw);
  if (w->shape[1] != x->shape[1])
    return gm_error_set(err, GM_ESHAPE,
                        "linear: x %s has %" PRId64 " features, w %s expects %" PRId64, sx,
                        x->shape[1], sw, w->shape[1]);
  if (b && (b->ndim != 1 || b->shape[0] != w->shape[0]))
    return gm_error_set(err, GM_ESHAPE, "linear: bias %s must be (%" PRId64 ") for w %s",
                        gm_shape_str(b, sb, sizeof sb), w->shape[0], sw);
  return 0;
}

int gm_linear(gm_tensor **y, gm_tensor *x, gm_tensor *w, gm_tensor *b, gm_error *err) {
  int rc = linear_check(x, w, b, err);
  if (rc) return rc;
  int64_t nbatch = x->shape[0], in = x->shape[1], out = w->shape[0];
  rc = gm__tensor_temp(y, x->dev, GM_F32, 2, GM_SHAPE(nbatch, out), err);
  if (rc == 0)
    rc = linear_gemm(x->dev, 0, 1, (size_t)nbatch, (size_t)out, (size_t)in, x, (size_t)in, w,
                     (size_t)in, *y, 0.0f, err);
  if (rc == 0 && b) rc = gm__channel_bias_add(*y, b, nbatch, out, 1, err);
  if (rc) return rc;
  gm__tape_record(x->dev, "linear", linear_backward, *y, (gm_tensor *[]){x, w, b}, b ? 3 : 2,
                  &rc, err);
  return rc;
}
