/* Philox4x32-10 streams: the host reference of one block, and the device draws (uniform,
 * normal, categorical, initialisation) that kernels/rng.cl computes. */
#include <math.h>

#include "ops_internal.h"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void gm_rng_init(gm_rng *r, uint64_t seed, uint64_t stream) {
  r->seed = seed;
  r->stream = stream;
  r->offset = 0;
}

static void philox_round(uint32_t c[4], const uint32_t k[2]) {
  uint64_t p0 = (uint64_t)PHILOX_M0 * c[0], p1 = (uint64_t)PHILOX_M1 * c[2];
  uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
  uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
  uint32_t n0 = hi1 ^ c[1] ^ k[0], n2 = hi0 ^ c[3] ^ k[1];
  c[0] = n0;
  c[1] = lo1;
  c[2] = n2;
  c[3] = lo0;
}

void gm_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
  uint32_t c[4] = {ctr[0], ctr[1], ctr[2], ctr[3]}, k[2] = {key[0], key[1]};
  for (int r = 0; r < 10; r++) {
    if (r) {
      k[0] += PHILOX_W0;
      k[1] += PHILOX_W1;
    }
    philox_round(c, k);
  }
  for (int i = 0; i < 4; i++) out[i] = c[i];
}

static uint64_t blocks_for(int64_t n) { return (uint64_t)(n + 3) / 4; }

/* The checks every fill shares: F32 and a name for messages. */
static int want_fill_target(const char *op, const gm_tensor *out, gm_error *err) {
  if (!out) return gm_error_set(err, GM_EINVAL, "%s: no output tensor", op);
  return gm__want_f32(op, out, err);
}

int gm_rng_uniform(gm_tensor *out, gm_rng *r, float lo, float hi, gm_error *err) {
  int rc = want_fill_target("rng_uniform", out, err);
  if (rc) return rc;
  if (!isfinite(lo) || !isfinite(hi) || !(lo <= hi))
    return gm_error_set(err, GM_ERANGE, "rng_uniform %s: range [%g, %g) is not a finite lo <= hi",
                        out->name, (double)lo, (double)hi);
  uint64_t nb = blocks_for(out->numel);
  rc = GM__LAUNCH1D(out->dev, "rng_uniform", (size_t)nb, err, GMK_T(out), GMK_I(out->numel),
                    GMK_U64(r->seed), GMK_U64(r->stream), GMK_U64(r->offset), GMK_F(lo),
                    GMK_F(hi));
  if (rc == 0) r->offset += nb;
  return rc;
}

int gm_rng_normal(gm_tensor *out, gm_rng *r, float mean, float std, gm_error *err) {
  int rc = want_fill_target("rng_normal", out, err);
  if (rc) return rc;
  if (!isfinite(mean) || !isfinite(std) || std < 0)
    return gm_error_set(err, GM_ERANGE, "rng_normal %s: mean %g, std %g (finite, std >= 0)",
                        out->name, (double)mean, (double)std);
  uint64_t nb = blocks_for(out->numel);
  rc = GM__LAUNCH1D(out->dev, "rng_normal", (size_t)nb, err, GMK_T(out), GMK_I(out->numel),
                    GMK_U64(r->seed), GMK_U64(r->stream), GMK_U64(r->offset), GMK_F(mean),
                    GMK_F(std));
  if (rc == 0) r->offset += nb;
  return rc;
}

int gm_rng_categorical(gm_tensor *out, gm_tensor *logits, float temperature, gm_rng *r,
                       gm_error *err) {
  const char *op = "rng_categorical";
  int rc = gm__want_f32(op, logits, err);
  if (rc == 0) rc = gm__want_i32(op, out, err);
  if (rc == 0) rc = gm__want_ndim(op, "logits (N, K)", logits, 2, err);
  if (rc == 0) rc = gm__want_ndim(op, "out (N)", out, 1, err);
  if (rc) return rc;
  char so[96], sl[96];
  if (out->shape[0] != logits->shape[0])
    return gm_error_set(err, GM_ESHAPE, "%s: out %s needs one entry per row of logits %s", op,
                        gm_shape_str(out, so, sizeof so), gm_shape_str(logits, sl, sizeof sl));
  if (logits->shape[1] < 1)
    return gm_error_set(err, GM_ESHAPE, "%s: logits %s has no classes", op,
                        gm_shape_str(logits, sl, sizeof sl));
  if (!(temperature > 0) || !isfinite(temperature))
    return gm_error_set(err, GM_ERANGE, "%s: temperature %g must be finite and > 0", op,
                        (double)temperature);
  int64_t rows = logits->shape[0];
  rc = GM__LAUNCH1D(out->dev, "rng_categorical", (size_t)rows, err, GMK_T(out), GMK_T(logits),
                    GMK_I(rows), GMK_I(logits->shape[1]), GMK_F(temperature), GMK_U64(r->seed),
                    GMK_U64(r->stream), GMK_U64(r->offset));
  if (rc == 0) r->offset += blocks_for(rows);
  return rc;
}

int gm_init_uniform(gm_tensor *t, float bound, gm_rng *r, gm_error *err) {
  if (!isfinite(bound) || bound < 0)
    return gm_error_set(err, GM_ERANGE, "init_uniform %s: bound %g must be finite and >= 0",
                        t ? t->name : "", (double)bound);
  return gm_rng_uniform(t, r, -bound, bound, err);
}

int64_t gm_fan_in(const gm_tensor *weight) {
  if (!weight || weight->ndim < 2) return GM_EINVAL;
  int64_t fan = weight->shape[1];
  for (int i = 2; i < weight->ndim; i++) fan *= weight->shape[i];
  return fan;
}

int gm_init_default(gm_tensor *weight, gm_tensor *bias, gm_rng *r, gm_error *err) {
  int64_t fan = gm_fan_in(weight);
  if (fan <= 0) {
    char sh[96];
    return gm_error_set(err, GM_ESHAPE, "init_default %s: weight %s has no fan-in (2+ nonzero "
                        "dimensions needed)", weight->name, gm_shape_str(weight, sh, sizeof sh));
  }
  float bound = (float)(1.0 / sqrt((double)fan));
  int rc = gm_init_uniform(weight, bound, r, err);
  if (rc == 0 && bias) rc = gm_init_uniform(bias, bound, r, err);
  return rc;
}
