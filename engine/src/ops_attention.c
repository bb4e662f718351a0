/* Single-head self-attention and masked cross-attention, forward then backward: scores
 * and outputs are batched GEMMs through gm__gemm, with a row softmax kernel between them
 * (kernels/attention.cl). */
#include <math.h>

#include "ops_internal.h"

/* One operand of a batched GEMM: item b of t is a row-major rows x cols matrix at
 * element b * rows * cols. */
typedef struct operand {
  const gm_tensor *t;
  size_t rows, cols;
} operand;

/* c = alpha op(a) op(b) + beta c for each of `batch` items. */
static int batched_gemm(gm_device *dev, size_t batch, float alpha, operand a, int trans_a,
                        operand b, int trans_b, float beta, operand c, gm_error *err) {
  gm__gemm_desc d = {
      .trans_a = trans_a, .trans_b = trans_b,
      .m = c.rows, .n = c.cols, .k = trans_a ? a.rows : a.cols,
      .alpha = alpha, .beta = beta,
      .a = gm__mem(a.t), .b = gm__mem(b.t), .c = gm__mem(c.t),
      .a_off = a.t->offset, .b_off = b.t->offset, .c_off = c.t->offset,
      .lda = a.cols, .ldb = b.cols, .ldc = c.cols,
      .batch = batch,
      .stride_a = a.rows * a.cols, .stride_b = b.rows * b.cols, .stride_c = c.rows * c.cols,
  };
  return gm__gemm(dev, &d, err);
}

/* saved[0]: P (B, N, M); iarg: B, C, N, M (M = N for self-attention); farg[0]: 1 / sqrt(C).
 * dV = dY P; dP = dY^T V; dS = P * (dP - rowsum(dP * P)) / sqrt(C); dQ = K dS^T;
 * dK = Q dS. Masked keys have P = 0, so they get no gradient. */
static int attention_backward(gm__node *n, gm_error *err) {
  gm_tensor *q = n->in[0], *k = n->in[1], *v = n->in[2], *p = n->saved[0];
  gm_tensor *dy = n->out->grad, *g;
  gm_device *dev = q->dev;
  size_t B = (size_t)n->iarg[0], C = (size_t)n->iarg[1], N = (size_t)n->iarg[2],
         M = (size_t)n->iarg[3];
  float scale = (float)n->farg[0];
  int rc = 0;
  if (v->requires_grad) {
    rc = gm__grad(v, &g, err);
    if (rc == 0)
      rc = batched_gemm(dev, B, 1.0f, (operand){dy, C, N}, 0, (operand){p, N, M}, 0, 1.0f,
                        (operand){g, C, M}, err);
    if (rc) return rc;
  }
  if (!q->requires_grad && !k->requires_grad) return 0;
  gm_tensor *ds;
  rc = gm__tensor_temp(&ds, dev, GM_F32, 3, GM_SHAPE((int64_t)B, (int64_t)N, (int64_t)M), err);
  if (rc == 0)
    rc = batched_gemm(dev, B, 1.0f, (operand){dy, C, N}, 1, (operand){v, C, M}, 0, 0.0f,
                      (operand){ds, N, M}, err);
  if (rc == 0)
    rc = GM__LAUNCH1D(dev, "attention_softmax_rows_backward", B * N, err, GMK_T(ds), GMK_T(p),
                      GMK_I(B * N), GMK_I(M), GMK_F(scale));
  if (rc == 0 && q->requires_grad) {
    rc = gm__grad(q, &g, err);
    if (rc == 0)
      rc = batched_gemm(dev, B, 1.0f, (operand){k, C, M}, 0, (operand){ds, N, M}, 1, 1.0f,
                        (operand){g, C, N}, err);
  }
  if (rc == 0 && k->requires_grad) {
    rc = gm__grad(k, &g, err);
    if (rc == 0)
      rc = batched_gemm(dev, B, 1.0f, (operand){q, C, N}, 0, (operand){ds, N, M}, 0, 1.0f,
                        (operand){g, C, M}, err);
  }
  return rc;
}

static int check_inputs(gm_tensor *q, gm_tensor *k, gm_tensor *v, gm_error *err) {
  int rc = gm__want_f32("attention", q, err);
  if (rc == 0) rc = gm__want_f32("attention", k, err);
  if (rc == 0) rc = gm__want_f32("attention", v, err);
  if (rc == 0) rc = gm__want_ndim("attention", "q (B, C, N)", q, 3, err);
  if (rc == 0) rc = gm__same_shape("attention (q and k)", q, k, err);
  if (rc == 0) rc = gm__same_shape("attention (q and v)", q, v, err);
  if (rc == 0 && q->numel == 0) {
    char s[96];
    rc = gm_error_set(err, GM_ESHAPE, "attention: q %s is empty", gm_shape_str(q, s, sizeof s));
  }
  return rc;
}

/* Both attentions once their inputs are checked: q (B, C, N), k and v (B, C, M), mask
 * (B, M) or NULL (every key counts); recorded as `name`. */
static int attend(const char *name, gm_tensor **y, gm_tensor *q, gm_tensor *k, gm_tensor *v,
                  gm_tensor *mask, gm_error *err) {
  gm_device *dev = q->dev;
  int64_t B = q->shape[0], C = q->shape[1], N = q->shape[2], M = k->shape[2];
  float scale = (float)(1.0 / sqrt((double)C));
  size_t b = (size_t)B, c = (size_t)C, n = (size_t)N, m = (size_t)M;
  gm_tensor *p;
  int rc = gm__tensor_temp(&p, dev, GM_F32, 3, GM_SHAPE(B, N, M), err);
  if (rc == 0)  /* S = Q^T K / sqrt(C) */
    rc = batched_gemm(dev, b, scale, (operand){q, c, n}, 1, (operand){k, c, m}, 0, 0.0f,
                      (operand){p, n, m}, err);
  if (rc == 0 && mask)
    rc = GM__LAUNCH1D(dev, "attention_softmax_rows_masked", b * n, err, GMK_T(p), GMK_T(mask),
                      GMK_I(B * N), GMK_I(N), GMK_I(M));
  else if (rc == 0)
    rc = GM__LAUNCH1D(dev, "attention_softmax_rows", b * n, err, GMK_T(p), GMK_I(B * N),
                      GMK_I(M));
  if (rc == 0) rc = gm__tensor_temp(y, dev, GM_F32, 3, q->shape, err);
  if (rc == 0)  /* Y = V P^T */
    rc = batched_gemm(dev, b, 1.0f, (operand){v, c, m}, 0, (operand){p, n, m}, 1, 0.0f,
                      (operand){*y, c, n}, err);
  if (rc) return rc;
  gm__node *nd = gm__tape_record(dev, name, attention_backward, *y, (gm_tensor *[]){q, k, v}, 3,
                                 &rc, err);
  if (nd) {
    nd->saved[0] = p;
    nd->iarg[0] = B;
    nd->iarg[1] = C;
    nd->iarg[2] = N;
    nd->iarg[3] = M; /* N for self-attention */
    nd->farg[0] = scale;
  }
  return rc;
}

int gm_attention(gm_tensor **y, gm_tensor *q, gm_tensor *k, gm_tensor *v, gm_error *err) {
  int rc = check_inputs(q, k, v, err);
  return rc ? rc : attend("attention", y, q, k, v, NULL, err);
}

/* ---- cross-attention ---- */

int gm_cross_attention(gm_tensor **y, gm_tensor *q, gm_tensor *k, gm_tensor *v, gm_tensor *mask,
                       gm_error *err) {
  const char *op = "cross_attention";
  int rc = gm__want_f32(op, q, err);
  if (rc == 0) rc = gm__want_f32(op, k, err);
  if (rc == 0) rc = gm__want_f32(op, v, err);
  if (rc == 0) rc = gm__want_f32(op, mask, err);
  if (rc == 0) rc = gm__want_ndim(op, "q (B, C, N)", q, 3, err);
  if (rc == 0) rc = gm__want_ndim(op, "k (B, C, M)", k, 3, err);
  if (rc == 0) rc = gm__same_shape("cross_attention (k and v)", k, v, err);
  if (rc == 0) rc = gm__want_ndim(op, "mask (B, M)", mask, 2, err);
  char s1[96], s2[96], s3[96];
  if (rc == 0 && (k->shape[0] != q->shape[0] || k->shape[1] != q->shape[1] ||
                  mask->shape[0] != q->shape[0] || mask->shape[1] != k->shape[2]))
    rc = gm_error_set(err, GM_ESHAPE,
                      "cross_attention: q %s, k %s and mask %s do not agree (q (B, C, N), k and "
                      "v (B, C, M), mask (B, M))",
                      gm_shape_str(q, s1, sizeof s1), gm_shape_str(k, s2, sizeof s2),
                      gm_shape_str(mask, s3, sizeof s3));
  if (rc == 0 && (q->numel == 0 || k->numel == 0))
    rc = gm_error_set(err, GM_ESHAPE, "cross_attention: q %s or k %s is empty",
                      gm_shape_str(q, s1, sizeof s1), gm_shape_str(k, s2, sizeof s2));
  if (rc) return rc;
  return attend("cross_attention", y, q, k, v, mask, err);
}
