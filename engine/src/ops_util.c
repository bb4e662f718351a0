/* Shape and dtype checks with messages, and gradient accumulation, for every op family. */
#include "ops_internal.h"

int gm__same_shape(const char *op, const gm_tensor *a, const gm_tensor *b, gm_error *err) {
  int same = a->ndim == b->ndim;
  for (int i = 0; same && i < a->ndim; i++) same = a->shape[i] == b->shape[i];
  if (same) return 0;
  char sa[96], sb[96];
  return gm_error_set(err, GM_ESHAPE, "%s: shapes differ: %s and %s", op,
                      gm_shape_str(a, sa, sizeof sa), gm_shape_str(b, sb, sizeof sb));
}

int gm__want_ndim(const char *op, const char *what, const gm_tensor *t, int ndim,
                  gm_error *err) {
  if (t->ndim == ndim) return 0;
  char s[96];
  return gm_error_set(err, GM_ESHAPE, "%s: %s must have %d dimensions, got %s", op, what, ndim,
                      gm_shape_str(t, s, sizeof s));
}

int gm__want_f32(const char *op, const gm_tensor *t, gm_error *err) {
  if (t->dtype == GM_F32) return 0;
  return gm_error_set(err, GM_EDTYPE, "%s: %s must be float32, is %s", op,
                      t->name[0] ? t->name : "input", gm_dtype_name(t->dtype));
}

int gm__want_i32(const char *op, const gm_tensor *t, gm_error *err) {
  if (t->dtype == GM_I32) return 0;
  return gm_error_set(err, GM_EDTYPE, "%s: %s must be int32, is %s", op,
                      t->name[0] ? t->name : "input", gm_dtype_name(t->dtype));
}

int gm__axpy(gm_tensor *dst, const gm_tensor *src, float alpha, gm_error *err) {
  return GM__LAUNCH1D(dst->dev, "elementwise_axpy_f32", (size_t)dst->numel, err, GMK_T(dst), GMK_T(src),
                      GMK_F(alpha), GMK_I(dst->numel));
}

int gm__accumulate_grad(gm_tensor *x, const gm_tensor *src, float alpha, gm_error *err) {
  if (!x->requires_grad) return 0;
  gm_tensor *g;
  int rc = gm__grad(x, &g, err);
  if (rc) return rc;
  return gm__axpy(g, src, alpha, err);
}
