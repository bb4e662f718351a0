/* The diffusion helpers: timestep draws, the forward process with per-image coefficients
 * (forward against a double reference, gradients against finite differences), the
 * in-place reverse step and the map back to pixels. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"

START_TEST(timesteps_map_uniforms_onto_the_range_and_scale) {
  gm_error err = {0};
  float u[6] = {0.0f, 0.2499f, 0.25f, 0.5f, 0.99999994f, 0.75f};
  gm_tensor *tu = gmt_tensor_from(1, GM_SHAPE(6), u), *idx, *tin;
  gmt_ok(gm_diffusion_timesteps(&idx, &tin, tu, 1, 4, 0.125f, &err), &err);
  ck_assert_int_eq(idx->dtype, GM_I32);
  int got[6];
  gmt_ok(gm_tensor_read(idx, got, sizeof got, &err), &err);
  const int want[6] = {1, 1, 2, 3, 4, 4};
  for (int i = 0; i < 6; i++) ck_assert_int_eq(got[i], want[i]);
  float *t = gmt_read(tin);
  float wantt[6];
  for (int i = 0; i < 6; i++) wantt[i] = (float)want[i] * 0.125f;
  gmt_assert_close(t, wantt, 6, 0, 0, "time input = idx * scale");
  free(t);
  ck_assert_int_eq(gm_diffusion_timesteps(&idx, &tin, tu, 1, 0, 1.0f, &err), GM_EINVAL);
  gm_tape_reset(gmt_device());
  gm_tensor_destroy(tu);
}
END_TEST

/* ---- q_sample against a double reference ---- */

typedef struct q_case {
  int64_t batch, per;
  int len, clamp;
  const int *idx;
  const double *a, *s;
} q_case;

static void ref_q_sample(void *ctx, double *const *in, double *out) {
  const q_case *c = ctx;
  for (int64_t b = 0; b < c->batch; b++)
    for (int64_t i = 0; i < c->per; i++) {
      int64_t e = b * c->per + i;
      double v = c->a[c->idx[b]] * in[0][e] + c->s[c->idx[b]] * in[1][e];
      if (c->clamp) v = v < -1 ? -1 : v > 1 ? 1 : v;
      out[e] = v;
    }
}

static void check_q_sample(int clamp, uint64_t seed) {
  gm_error err = {0};
  gmt_rng r;
  gmt_rng_seed(&r, seed);
  enum { B = 3, C = 2, H = 3, W = 4, L = 5 };
  const int64_t per = C * H * W, n = B * per;
  const int idx[B] = {4, 0, 2};
  double a[L], s[L];
  float af[L], sf[L];
  for (int k = 0; k < L; k++) {
    af[k] = (float)(a[k] = (float)sqrt(1.0 - 0.2 * k));
    sf[k] = (float)(s[k] = (float)sqrt(0.2 * k + 0.05));
  }
  float x0[n], eps[n];
  double dx0[n], deps[n];
  /* keep the clamped values away from the kink at +-1 so that finite differences hold */
  for (int64_t i = 0; i < n; i++) {
    int64_t b = i / per;
    for (;;) {
      x0[i] = gmt_uniform(&r, -1.2f, 1.2f);
      eps[i] = gmt_normal(&r);
      double v = a[idx[b]] * x0[i] + s[idx[b]] * eps[i];
      if (fabs(fabs(v) - 1) > 0.01) break;
    }
    dx0[i] = x0[i];
    deps[i] = eps[i];
  }
  gm_tensor *tx0 = gmt_tensor_from(4, GM_SHAPE(B, C, H, W), x0);
  gm_tensor *teps = gmt_tensor_from(4, GM_SHAPE(B, C, H, W), eps);
  gm_tensor *tidx;
  gmt_ok(gm_tensor_create(&tidx, gmt_device(), GM_I32, 1, GM_SHAPE(B), &err), &err);
  gmt_ok(gm_tensor_write(tidx, idx, sizeof idx, &err), &err);
  gm_tensor *ta = gmt_tensor_from(1, GM_SHAPE(L), af), *ts = gmt_tensor_from(1, GM_SHAPE(L), sf);
  gmt_ok(gm_tensor_set_requires_grad(tx0, 1, &err), &err);
  gmt_ok(gm_tensor_set_requires_grad(teps, 1, &err), &err);
  gm_tensor *y;
  gmt_ok(gm_diffusion_q_sample(&y, tx0, teps, tidx, ta, ts, clamp, &err), &err);
  q_case c = {B, per, L, clamp, idx, a, s};
  double want[n];
  double *ins[2] = {dx0, deps};
  ref_q_sample(&c, ins, want);
  float wantf[n];
  for (int64_t i = 0; i < n; i++) wantf[i] = (float)want[i];
  float *got = gmt_read(y);
  gmt_assert_close(got, wantf, (size_t)n, 1e-6, 1e-6, "q_sample forward");
  free(got);

  float up[n];
  double upd[n];
  gmt_fill_uniform(&r, up, (size_t)n, -1, 1);
  for (int64_t i = 0; i < n; i++) upd[i] = up[i];
  gmt_backward_from(y, up);
  for (int k = 0; k < 2; k++) {
    double fd[n];
    gmt_fd_grad(ref_q_sample, &c, ins, k, (size_t)n, (size_t)n, upd, 1e-4, fd);
    float *g = gmt_read(k ? teps->grad : tx0->grad);
    gmt_assert_grad(g, fd, (size_t)n, 1e-4, 1e-6, k ? "q_sample d eps" : "q_sample d x0");
    free(g);
  }
  gm_tape_reset(gmt_device());
  gm_tensor_destroy(tx0);
  gm_tensor_destroy(teps);
  gm_tensor_destroy(tidx);
  gm_tensor_destroy(ta);
  gm_tensor_destroy(ts);
}

START_TEST(q_sample_matches_reference_and_finite_differences) { check_q_sample(0, 71); }
END_TEST

START_TEST(q_sample_clamped_matches_reference_and_blocks_gradient_at_the_clamp) {
  check_q_sample(1, 72);
}
END_TEST

START_TEST(q_sample_index_outside_the_table_gives_nan) {
  gm_error err = {0};
  gm_tensor *x = gmt_tensor_from(2, GM_SHAPE(2, 2), (float[]){1, 2, 3, 4});
  gm_tensor *tab = gmt_tensor_from(1, GM_SHAPE(3), (float[]){1, 1, 1}), *idx, *y;
  gmt_ok(gm_tensor_create(&idx, gmt_device(), GM_I32, 1, GM_SHAPE(2), &err), &err);
  gmt_ok(gm_tensor_write(idx, (int[]){2, 3}, 8, &err), &err);
  gmt_ok(gm_diffusion_q_sample(&y, x, x, idx, tab, tab, 0, &err), &err);
  float *got = gmt_read(y);
  ck_assert_float_eq(got[0], 2.0f);
  ck_assert_float_eq(got[1], 4.0f);
  ck_assert(isnan(got[2]) && isnan(got[3]));
  free(got);
  gm_tensor *bad = gmt_tensor_from(2, GM_SHAPE(3, 2), NULL);
  ck_assert_int_eq(gm_diffusion_q_sample(&y, bad, bad, idx, tab, tab, 0, &err), GM_ESHAPE);
  ck_assert_int_eq(gm_diffusion_q_sample(&y, x, bad, idx, tab, tab, 0, &err), GM_ESHAPE);
  ck_assert_int_eq(gm_diffusion_q_sample(&y, x, x, x, tab, tab, 0, &err), GM_EDTYPE);
  gm_tape_reset(gmt_device());
  gm_tensor_destroy(x);
  gm_tensor_destroy(bad);
  gm_tensor_destroy(tab);
  gm_tensor_destroy(idx);
}
END_TEST

/* ---- the reverse step ---- */

static void check_step(int with_z, int clip, int clamp_out) {
  gm_error err = {0};
  gmt_rng r;
  gmt_rng_seed(&r, 90 + with_z * 4 + clip * 2 + clamp_out);
  enum { N = 2 * 3 * 5 * 5 };
  float x[N], eps[N], z[N];
  for (int i = 0; i < N; i++) {
    x[i] = 1.5f * gmt_normal(&r);
    eps[i] = gmt_normal(&r);
    z[i] = gmt_normal(&r);
  }
  gm_diffusion_step_coefs c = {.inv_sqrt_ab = 1.7f, .sqrt_1mab = 0.8f, .clip_x0 = clip,
                               .c0 = 0.3f, .c1 = 0.9f, .sigma = 0.25f, .clamp_out = clamp_out};
  float want[N];
  for (int i = 0; i < N; i++) {
    double x0 = ((double)x[i] - 0.8 * eps[i]) * 1.7;
    if (clip) x0 = fmin(fmax(x0, -1), 1);
    double v = 0.3 * x0 + 0.9 * x[i] + (with_z ? 0.25 * z[i] : 0);
    if (clamp_out) v = fmin(fmax(v, -1), 1);
    want[i] = (float)v;
  }
  gm_tensor *tx = gmt_tensor_from(4, GM_SHAPE(2, 3, 5, 5), x);
  gm_tensor *te = gmt_tensor_from(4, GM_SHAPE(2, 3, 5, 5), eps);
  gm_tensor *tz = gmt_tensor_from(4, GM_SHAPE(2, 3, 5, 5), z);
  gmt_ok(gm_diffusion_step(tx, te, with_z ? tz : NULL, &c, &err), &err);
  float *got = gmt_read(tx);
  gmt_assert_close(got, want, N, 1e-5, 1e-6, "diffusion step");
  free(got);
  gm_tensor_destroy(tx);
  gm_tensor_destroy(te);
  gm_tensor_destroy(tz);
}

START_TEST(step_matches_reference_with_and_without_noise_clip_and_clamp) {
  check_step(_i & 1, (_i >> 1) & 1, (_i >> 2) & 1);
}
END_TEST

START_TEST(step_refuses_mismatched_shapes) {
  gm_error err = {0};
  gm_tensor *a = gmt_tensor_from(1, GM_SHAPE(4), NULL), *b = gmt_tensor_from(1, GM_SHAPE(5), NULL);
  gm_diffusion_step_coefs c = {0};
  ck_assert_int_eq(gm_diffusion_step(a, b, NULL, &c, &err), GM_ESHAPE);
  ck_assert_int_eq(gm_diffusion_step(a, a, b, &c, &err), GM_ESHAPE);
  gm_tensor_destroy(a);
  gm_tensor_destroy(b);
}
END_TEST

/* ---- back to pixels ---- */

START_TEST(to_pixels_clamps_or_stretches_each_image) {
  gm_error err = {0};
  /* image 0: values beyond [-1, 1]; image 1: constant; each image 1 x 2 x 2 */
  float x[8] = {-1.5f, -1.0f, 0.0f, 2.0f, 0.3f, 0.3f, 0.3f, 0.3f};
  gm_tensor *tx = gmt_tensor_from(4, GM_SHAPE(2, 1, 2, 2), x), *y;
  gmt_ok(gm_diffusion_to_pixels(&y, tx, 0, &err), &err);
  float *got = gmt_read(y);
  gmt_assert_close(got, ((float[]){0, 0, 127.5f, 255, 165.75f, 165.75f, 165.75f, 165.75f}), 8,
                   1e-6, 1e-4, "clamped pixels");
  free(got);
  gmt_ok(gm_diffusion_to_pixels(&y, tx, 1, &err), &err);
  got = gmt_read(y);
  /* image 0 spans -1.5 .. 2: (v + 1.5) / 3.5 * 255 */
  gmt_assert_close(got,
                   ((float[]){0, 0.5f / 3.5f * 255, 1.5f / 3.5f * 255, 255, 127.5f, 127.5f,
                              127.5f, 127.5f}),
                   8, 1e-5, 1e-3, "stretched pixels");
  free(got);
  gm_tape_reset(gmt_device());
  gm_tensor_destroy(tx);
}
END_TEST

int main(void) {
  Suite *s = suite_create("ops_diffusion");
  TCase *tc = tcase_create("diffusion");
  tcase_add_test(tc, timesteps_map_uniforms_onto_the_range_and_scale);
  tcase_add_test(tc, q_sample_matches_reference_and_finite_differences);
  tcase_add_test(tc, q_sample_clamped_matches_reference_and_blocks_gradient_at_the_clamp);
  tcase_add_test(tc, q_sample_index_outside_the_table_gives_nan);
  tcase_add_loop_test(tc, step_matches_reference_with_and_without_noise_clip_and_clamp, 0, 8);
  tcase_add_test(tc, step_refuses_mismatched_shapes);
  tcase_add_test(tc, to_pixels_clamps_or_stretches_each_image);
  suite_add_tcase(s, tc);
  return gmt_run(s);
}
