/* Text-encoder ops, each backward right above its forward. Kernels: kernels/text.cl. */
#include <math.h>

#include "ops_internal.h"

/* iarg: V, D, N (ids). in[1] (ids) is int32 and never requires grad. */
static int embedding_lookup_backward(gm__node *n, gm_error *err) {
  gm_tensor *table = n->in[0], *ids = n->in[1], *g;
  if (!table->requires_grad) return 0;
  int rc = gm__grad(table, &g, err);
  if (rc) return rc;
  int64_t V = n->iarg[0], D = n->iarg[1], N = n->iarg[2];
  return GM__LAUNCH1D(table->dev, "text_embedding_lookup_backward", (size_t)(V * D), err,
                      GMK_T(g), GMK_T(n->out->grad), GMK_T(ids), GMK_I(N), GMK_I(D),
                      GMK_I(V * D));
}

int gm_embedding_lookup(gm_tensor **y, gm_tensor *table, gm_tensor *ids, gm_error *err) {
  int rc = gm__want_f32("embedding_lookup", table, err);
  if (rc == 0) rc = gm__want_ndim("embedding_lookup", "table (V, D)", table, 2, err);
  if (rc == 0) rc = gm__want_i32("embedding_lookup", ids, err);
  if (rc) return rc;
  if (ids->ndim + 1 > GM_MAX_DIMS)
    return gm_error_set(err, GM_ESHAPE, "embedding_lookup: ids have %d dimensions, at most %d",
                        ids->ndim, GM_MAX_DIMS - 1);
  if (ids->dev != table->dev)
    return gm_error_set(err, GM_EINVAL, "embedding_lookup: ids and table on different devices");
  int64_t V = table->shape[0], D = table->shape[1], N = ids->numel;
  int64_t shape[GM_MAX_DIMS];
  for (int i = 0; i < ids->ndim; i++) shape[i] = ids->shape[i];
  shape[ids->ndim] = D;
  rc = gm__tensor_temp(y, table->dev, GM_F32, ids->ndim + 1, shape, err);
  if (rc == 0 && N * D > 0)
    rc = GM__LAUNCH1D(table->dev, "text_embedding_lookup_forward", (size_t)(N * D), err,
                      GMK_T(*y), GMK_T(table), GMK_T(ids), GMK_I(V), GMK_I(D), GMK_I(N * D));
  if (rc) return rc;
  gm__node *n = gm__tape_record(table->dev, "embedding_lookup", embedding_lookup_backward, *y,
                                (gm_tensor *[]){table, ids}, 2, &rc, err);
  if (n) {
    n->iarg[0] = V;
    n->iarg[1] = D;
    n->iarg[2] = N;
  }
  return rc;
}

/* Checks x (B, L, D) float32 and mask (B, L) float32 of the same B and L. */
static int check_tokens(const char *op, const gm_tensor *x, const gm_tensor *mask,
                        gm_error *err) {
  int rc = gm__want_f32(op, x, err);
  if (rc == 0) rc = gm__want_ndim(op, "x (B, L, D)", x, 3, err);
  if (rc == 0) rc = gm__want_f32(op, mask, err);
  if (rc == 0) rc = gm__want_ndim(op, "mask (B, L)", mask, 2, err);
  if (rc) return rc;
  if (mask->shape[0] != x->shape[0] || mask->shape[1] != x->shape[1]) {
    char xs[64], ms[64];
    return gm_error_set(err, GM_ESHAPE, "%s: mask %s does not match x %s (B, L)", op,
                        gm_shape_str(mask, ms, sizeof ms), gm_shape_str(x, xs, sizeof xs));
  }
  return 0;
}

/* iarg: L, D. in[1] (mask) gets no gradient. */
static int masked_mean_backward(gm__node *n, gm_error *err) {
  gm_tensor *x = n->in[0], *mask = n->in[1], *g;
  if (!x->requires_grad) return 0;
  int rc = gm__grad(x, &g, err);
  if (rc) return rc;
  return GM__LAUNCH1D(x->dev, "text_masked_mean_backward", (size_t)x->numel, err, GMK_T(g),
                      GMK_T(n->out->grad), GMK_T(mask), GMK_I(n->iarg[0]), GMK_I(n->iarg[1]),
                      GMK_I(x->numel));
}

int gm_masked_mean(gm_tensor **y, gm_tensor *x, gm_tensor *mask, gm_error *err) {
  int rc = check_tokens("masked_mean", x, mask, err);
  if (rc) return rc;
  int64_t B = x->shape[0], L = x->shape[1], D = x->shape[2];
  rc = gm__tensor_temp(y, x->dev, GM_F32, 2, GM_SHAPE(B, D), err);
  if (rc == 0 && B * D > 0)
    rc = GM__LAUNCH1D(x->dev, "text_masked_mean_forward", (size_t)(B * D), err, GMK_T(*y),
                      GMK_T(x), GMK_T(mask), GMK_I(L), GMK_I(D), GMK_I(B * D));
  if (rc) return rc;
  gm__node *n = gm__tape_record(x->dev, "masked_mean", masked_mean_backward, *y,
                                (gm_tensor *[]){x, mask}, 2, &rc, err);
  if (n) {
    n->iarg[0] = L;
    n->iarg[1] = D;
  }
  return rc;
}

/* saved[0]: the weights a (B, L); iarg: B, L, D; farg[0]: 1 / sqrt(D). */
static int attention_pool_backward(gm__node *n, gm_error *err) {
  gm_tensor *x = n->in[0], *q = n->in[1], *a = n->saved[0], *dy = n->out->grad, *g;
  gm_device *dev = x->dev;
  int64_t B = n->iarg[0], L = n->iarg[1], D = n->iarg[2];
  gm_tensor *ds;
  int rc = gm__tensor_temp(&ds, dev, GM_F32, 2, GM_SHAPE(B, L), err);
  if (rc == 0)
    rc = GM__LAUNCH1D(dev, "text_attention_pool_dscores", (size_t)B, err, GMK_T(ds), GMK_T(dy),
                      GMK_T(x), GMK_T(a), GMK_I(L), GMK_I(D), GMK_F(n->farg[0]), GMK_I(B));
  if (rc == 0 && x->requires_grad) {
    rc = gm__grad(x, &g, err);
    if (rc == 0)
      rc = GM__LAUNCH1D(dev, "text_attention_pool_dx", (size_t)x->numel, err, GMK_T(g),
                        GMK_T(dy), GMK_T(a), GMK_T(ds), GMK_T(q), GMK_I(L), GMK_I(D),
                        GMK_I(x->numel));
  }
  if (rc == 0 && q->requires_grad) {
    rc = gm__grad(q, &g, err);
    if (rc == 0)
      rc = GM__LAUNCH1D(dev, "text_attention_pool_dq", (size_t)D, err, GMK_T(g), GMK_T(ds),
                        GMK_T(x), GMK_I(B * L), GMK_I(D));
  }
  return rc;
}

int gm_attention_pool(gm_tensor **y, gm_tensor *x, gm_tensor *q, gm_tensor *mask,
                      gm_error *err) {
  int rc = check_tokens("attention_pool", x, mask, err);
  if (rc == 0) rc = gm__want_f32("attention_pool", q, err);
  if (rc == 0) rc = gm__want_ndim("attention_pool", "q (D)", q, 1, err);
  if (rc) return rc;
  int64_t B = x->shape[0], L = x->shape[1], D = x->shape[2];
  if (q->shape[0] != D)
    return gm_error_set(err, GM_ESHAPE, "attention_pool: q has %lld elements, x has D = %lld",
                        (long long)q->shape[0], (long long)D);
  float scale = D > 0 ? 1.0f / sqrtf((float)D) : 1.0f;
  gm_tensor *a;
  rc = gm__tensor_temp(&a, x->dev, GM_F32, 2, GM_SHAPE(B, L), err);
  if (rc == 0) rc = gm__tensor_temp(y, x->dev, GM_F32, 2, GM_SHAPE(B, D), err);
  if (rc == 0 && B > 0)
    rc = GM__LAUNCH1D(x->dev, "text_attention_pool_weights", (size_t)B, err, GMK_T(a), GMK_T(x),
                      GMK_T(q), GMK_T(mask), GMK_I(L), GMK_I(D), GMK_F(scale), GMK_I(B));
  if (rc == 0 && B * D > 0)
    rc = GM__LAUNCH1D(x->dev, "text_attention_pool_forward", (size_t)(B * D), err, GMK_T(*y),
                      GMK_T(x), GMK_T(a), GMK_I(L), GMK_I(D), GMK_I(B * D));
  if (rc) return rc;
  gm__node *n = gm__tape_record(x->dev, "attention_pool", attention_pool_backward, *y,
                                (gm_tensor *[]){x, q, mask}, 3, &rc, err);
  if (n) {
    n->saved[0] = a;
    n->iarg[0] = B;
    n->iarg[1] = L;
    n->iarg[2] = D;
    n->farg[0] = scale;
  }
  return rc;
}
