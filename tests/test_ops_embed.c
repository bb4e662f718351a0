/* The sinusoidal timestep embedding against a double reference (DDPM convention), its
 * gradient into t against finite differences, and refusals. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "optest.h"
#include "testlib.h"

/* ip[0] = dim; f_i = exp(-ln(10000) i / (half - 1)) */
static void ref_embedding(void *ctx, double *const *in, double *out) {
  const op_case *c = ctx;
  int64_t batch = c->shape[0][0], dim = c->ip[0], half = dim / 2;
  for (int64_t b = 0; b < batch; b++)
    for (int64_t i = 0; i < half; i++) {
      double f = exp(-log(10000.0) * (double)i / (double)(half - 1)), a = in[0][b] * f;
      out[b * dim + i] = sin(a);
      out[b * dim + half + i] = cos(a);
    }
}

static int call_embedding(gm_tensor **y, gm_tensor *const *x, const op_case *c, gm_error *err) {
  return gm_sinusoidal_embedding(y, x[0], c->ip[0], err);
}

/* Integer timesteps 0 .. hi - 1, as a DDPM draws them. */
static void fill_timesteps(gmt_rng *r, float *x, size_t n, int k, const op_case *c) {
  (void)k;
  for (size_t i = 0; i < n; i++) x[i] = floorf(gmt_uniform(r, 0, c->hi[0]));
}

static const int64_t emb_batch[] = {1, 5, 8, 3};
static const int emb_dim[] = {4, 8, 32, 128};

START_TEST(sinusoidal_embedding_matches_reference_for_small_t) {
  op_case c = {.name = "sinusoidal embedding", .op = "gm_sinusoidal_embedding",
               .n_in = 1, .ndim = {1},
               .shape = {{emb_batch[_i]}}, .lo = {0}, .hi = {4}, .call = call_embedding,
               .ref = ref_embedding, .out_ndim = 2, .out_shape = {emb_batch[_i], emb_dim[_i]},
               .ip = {emb_dim[_i]}};
  gmt_run_op_case(&c, 400 + _i);
}
END_TEST

START_TEST(sinusoidal_embedding_matches_reference_for_ddpm_timesteps) {
  /* t up to 999: the float32 argument t f_i is off by |t f_i| 2^-24 from rounding (6e-5 at
   * t = 999) plus up to 3 ulp of OpenCL's exp in f_i (1.8e-4 more), so the forward
   * tolerance is absolute 4e-4 (PoCL stays under 3e-5); the gradient into t is checked on
   * the same data. */
  op_case c = {.name = "sinusoidal embedding, integer t",
               .op = "gm_sinusoidal_embedding", .n_in = 1, .ndim = {1},
               .shape = {{16}}, .hi = {1000}, .fill = fill_timesteps, .call = call_embedding,
               .ref = ref_embedding, .out_ndim = 2, .out_shape = {16, 128}, .ip = {128},
               .atol = 4e-4, .grad_rtol = 2e-3};
  gmt_run_op_case(&c, 410);
}
END_TEST

START_TEST(sinusoidal_embedding_known_values) {
  /* dim 4: half 2, f = {1, 1e-4}; t = 1 -> {sin 1, sin 1e-4, cos 1, cos 1e-4}; t = 0 -> {0, 0, 1, 1} */
  gm_error err = {0};
  gm_tensor *t = gmt_tensor_from(1, GM_SHAPE(2), (float[]){1, 0}), *y;
  gmt_ok(gm_sinusoidal_embedding(&y, t, 4, &err), &err);
  ck_assert_int_eq(y->ndim, 2);
  ck_assert_int_eq(y->shape[0], 2);
  ck_assert_int_eq(y->shape[1], 4);
  float *got = gmt_read(y);
  gmt_assert_close(got, ((float[]){0.841470985f, 1e-4f, 0.540302306f, 1, 0, 0, 1, 1}), 8, 1e-6,
                   1e-7, "embedding of t = 1 and t = 0");
  free(got);
  gm_tape_reset(gmt_device());
  gm_tensor_destroy(t);
}
END_TEST

START_TEST(sinusoidal_embedding_refuses_bad_arguments) {
  gm_error err = {0};
  gm_tensor *t = gmt_tensor_from(1, GM_SHAPE(3), NULL);
  gm_tensor *t2 = gmt_tensor_from(2, GM_SHAPE(3, 1), NULL), *y = NULL;
  ck_assert_int_eq(gm_sinusoidal_embedding(&y, t, 7, &err), GM_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "got 7"));
  ck_assert_int_eq(gm_sinusoidal_embedding(&y, t, 2, &err), GM_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "at least 4"));
  ck_assert_int_eq(gm_sinusoidal_embedding(&y, t2, 8, &err), GM_ESHAPE);
  ck_assert_ptr_nonnull(strstr(err.msg, "(3, 1)"));
  gm_tensor_destroy(t);
  gm_tensor_destroy(t2);
}
END_TEST

int main(void) {
  Suite *s = suite_create("ops_embed");
  TCase *tc = tcase_create("embed");
  tcase_add_loop_test(tc, sinusoidal_embedding_matches_reference_for_small_t, 0, 4);
  tcase_add_test(tc, sinusoidal_embedding_matches_reference_for_ddpm_timesteps);
  tcase_add_test(tc, sinusoidal_embedding_known_values);
  tcase_add_test(tc, sinusoidal_embedding_refuses_bad_arguments);
  suite_add_tcase(s, tc);
  return gmt_run(s);
}
