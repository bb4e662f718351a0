/* The text-encoder ops against double references on random data, their gradients against
 * finite differences (through tests/support/optest), ids outside the table, texts with
 * no token, and refusals. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "optest.h"
#include "testlib.h"

/* ---- embedding lookup: in[0] table (V, D), in[1] ids (int32) ---- */

static void ref_lookup(void *ctx, double *const *in, double *out) {
  const op_case *c = ctx;
  int64_t V = c->shape[0][0], D = c->shape[0][1];
  size_t N = gmt_numel(c->ndim[1], c->shape[1]);
  for (size_t i = 0; i < N; i++) {
    int64_t v = (int64_t)in[1][i];
    for (int64_t d = 0; d < D; d++) out[i * D + d] = v >= 0 && v < V ? in[0][v * D + d] : 0.0;
  }
}

static int call_lookup(gm_tensor **y, gm_tensor *const *x, const op_case *c, gm_error *err) {
  (void)c;
  return gm_embedding_lookup(y, x[0], x[1], err);
}

/* ids in -1 .. V: some outside the table on purpose, and repeats (V is small) */
static void fill_ids(gmt_rng *r, float *x, size_t n, int k, const op_case *c) {
  if (k == 0) {
    gmt_fill_uniform(r, x, n, -1, 1);
    return;
  }
  for (size_t i = 0; i < n; i++) x[i] = floorf(gmt_uniform(r, -1, (float)c->shape[0][0] + 1));
}

START_TEST(embedding_lookup_matches_reference_and_gathers_its_gradient) {
  static const int64_t V[] = {7, 1, 40}, D[] = {5, 3, 16}, B[] = {2, 1, 4}, L[] = {6, 4, 16};
  op_case c = {.name = "embedding lookup", .op = "gm_embedding_lookup", .n_in = 2,
               .dtype = {GM_F32, GM_I32}, .ndim = {2, 2},
               .shape = {{V[_i], D[_i]}, {B[_i], L[_i]}}, .fill = fill_ids, .call = call_lookup,
               .ref = ref_lookup, .out_ndim = 3, .out_shape = {B[_i], L[_i], D[_i]},
               .skip_grad = {0, 1}};
  gmt_run_op_case(&c, 900 + _i);
}
END_TEST

/* ---- poolings: in[0] x (B, L, D), in[1] mask (B, L) for masked mean;
 *      in[0] x, in[1] q (D), in[2] mask for attention pooling ---- */

/* mask rows: row 0 all tokens, the last row none, the rest random with a token first */
static void fill_mask(gmt_rng *r, float *m, int64_t B, int64_t L) {
  for (int64_t b = 0; b < B; b++)
    for (int64_t l = 0; l < L; l++) {
      float v = b == 0 ? 1.0f : b == B - 1 && B > 1 ? 0.0f : l == 0 ? 1.0f
                : gmt_uniform(r, 0, 1) < 0.5f ? 1.0f : 0.0f;
      m[b * L + l] = v;
    }
}

static void fill_pool(gmt_rng *r, float *x, size_t n, int k, const op_case *c) {
  int mask_k = c->n_in - 1;
  if (k == mask_k) fill_mask(r, x, c->shape[0][0], c->shape[0][1]);
  else gmt_fill_uniform(r, x, n, -2, 2);
}

static void ref_masked_mean(void *ctx, double *const *in, double *out) {
  const op_case *c = ctx;
  int64_t B = c->shape[0][0], L = c->shape[0][1], D = c->shape[0][2];
  for (int64_t b = 0; b < B; b++) {
    int cnt = 0;
    for (int64_t l = 0; l < L; l++) cnt += in[1][b * L + l] != 0;
    for (int64_t d = 0; d < D; d++) {
      double s = 0;
      for (int64_t l = 0; l < L; l++)
        if (in[1][b * L + l] != 0) s += in[0][(b * L + l) * D + d];
      out[b * D + d] = s / (cnt > 0 ? cnt : 1);
    }
  }
}

static int call_masked_mean(gm_tensor **y, gm_tensor *const *x, const op_case *c,
                            gm_error *err) {
  (void)c;
  return gm_masked_mean(y, x[0], x[1], err);
}

static const int64_t pool_B[] = {3, 1, 5}, pool_L[] = {4, 1, 16}, pool_D[] = {5, 8, 12};

START_TEST(masked_mean_matches_reference_with_empty_and_full_texts) {
  op_case c = {.name = "masked mean", .op = "gm_masked_mean", .n_in = 2, .ndim = {3, 2},
               .shape = {{pool_B[_i], pool_L[_i], pool_D[_i]}, {pool_B[_i], pool_L[_i]}},
               .fill = fill_pool, .call = call_masked_mean, .ref = ref_masked_mean,
               .out_ndim = 2, .out_shape = {pool_B[_i], pool_D[_i]}, .skip_grad = {0, 1}};
  gmt_run_op_case(&c, 920 + _i);
}
END_TEST

static void ref_attention_pool(void *ctx, double *const *in, double *out) {
  const op_case *c = ctx;
  int64_t B = c->shape[0][0], L = c->shape[0][1], D = c->shape[0][2];
  const double *x = in[0], *q = in[1], *m = in[2];
  double scale = 1.0 / sqrt((double)D);
  for (int64_t b = 0; b < B; b++) {
    double s[64], top = -INFINITY, sum = 0;
    for (int64_t l = 0; l < L; l++) {
      s[l] = 0;
      for (int64_t d = 0; d < D; d++) s[l] += q[d] * x[(b * L + l) * D + d];
      s[l] *= scale;
      if (m[b * L + l] != 0 && s[l] > top) top = s[l];
    }
    for (int64_t l = 0; l < L; l++) {
      s[l] = m[b * L + l] != 0 ? exp(s[l] - top) : 0;
      sum += s[l];
    }
    for (int64_t d = 0; d < D; d++) {
      double y = 0;
      for (int64_t l = 0; l < L; l++) y += (sum > 0 ? s[l] / sum : 0) * x[(b * L + l) * D + d];
      out[b * D + d] = y;
    }
  }
}

static int call_attention_pool(gm_tensor **y, gm_tensor *const *x, const op_case *c,
                               gm_error *err) {
  (void)c;
  return gm_attention_pool(y, x[0], x[1], x[2], err);
}

START_TEST(attention_pool_matches_reference_and_its_gradients) {
  op_case c = {.name = "attention pool", .op = "gm_attention_pool", .n_in = 3, .ndim = {3, 1, 2},
               .shape = {{pool_B[_i], pool_L[_i], pool_D[_i]}, {pool_D[_i]},
                         {pool_B[_i], pool_L[_i]}},
               .fill = fill_pool, .call = call_attention_pool, .ref = ref_attention_pool,
               .out_ndim = 2, .out_shape = {pool_B[_i], pool_D[_i]}, .skip_grad = {0, 0, 1},
               .grad_rtol = 2e-3, .grad_atol = 1e-5};
  gmt_run_op_case(&c, 940 + _i);
}
END_TEST

/* ---- refusals ---- */


START_TEST(bad_shapes_and_dtypes_are_refused) {
  gm_tensor *table = gmt_tensor_from(2, GM_SHAPE(4, 3), NULL);
  gm_tensor *flat = gmt_tensor_from(1, GM_SHAPE(4), NULL);
  gm_tensor *x = gmt_tensor_from(3, GM_SHAPE(2, 5, 3), NULL);
  gm_tensor *mask = gmt_tensor_from(2, GM_SHAPE(2, 5), NULL);
  gm_tensor *mask_bad = gmt_tensor_from(2, GM_SHAPE(2, 4), NULL);
  gm_tensor *q4 = gmt_tensor_from(1, GM_SHAPE(4), NULL);
  gm_tensor *ids_f = gmt_tensor_from(1, GM_SHAPE(2), NULL);
  EXPECT_REFUSAL(gm_embedding_lookup(&y_, flat, ids_f, &e_), GM_ESHAPE, "table (V, D)");
  EXPECT_REFUSAL(gm_embedding_lookup(&y_, table, ids_f, &e_), GM_EDTYPE, "embedding_lookup");
  EXPECT_REFUSAL(gm_masked_mean(&y_, mask, mask, &e_), GM_ESHAPE, "x (B, L, D)");
  EXPECT_REFUSAL(gm_masked_mean(&y_, x, mask_bad, &e_), GM_ESHAPE, "does not match x");
  EXPECT_REFUSAL(gm_attention_pool(&y_, x, q4, mask, &e_), GM_ESHAPE, "q has 4 elements");
  EXPECT_REFUSAL(gm_attention_pool(&y_, x, mask, mask, &e_), GM_ESHAPE, "q (D)");
  gm_tensor *all[] = {table, flat, x, mask, mask_bad, q4, ids_f};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) gm_tensor_destroy(all[i]);
}
END_TEST

static Suite *make_suite(void) {
  Suite *s = suite_create("ops_text");
  TCase *tc = tcase_create("text");
  tcase_set_timeout(tc, 300);
  tcase_add_loop_test(tc, embedding_lookup_matches_reference_and_gathers_its_gradient, 0, 3);
  tcase_add_loop_test(tc, masked_mean_matches_reference_with_empty_and_full_texts, 0, 3);
  tcase_add_loop_test(tc, attention_pool_matches_reference_and_its_gradients, 0, 3);
  tcase_add_test(tc, bad_shapes_and_dtypes_are_refused);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return gmt_run(make_suite()); }
