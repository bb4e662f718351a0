/* The diffusion helpers: timestep draws, the forward process with per-image coefficients
 * (forward against a double reference, gradients against finite differences), the
 * in-place reverse step and the map back to pixels. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "optest.h"
#include "testlib.h"

/* ---- timesteps: two outputs, idx (int32) and the time input ---- */

/* ip = {lo, count}, p[0] = scale */
static void ref_timesteps(void *ctx, double *const *in, double *out) {
  const op_case *c = ctx;
  int64_t b = c->shape[0][0];
  for (int64_t i = 0; i < b; i++) {
    double f = floor(in[0][i] * c->ip[1]);
    double idx = c->ip[0] + (f < c->ip[1] - 1 ? f : c->ip[1] - 1);
    out[i] = idx;
    out[b + i] = idx * (double)c->p[0];
  }
}

static int call_timesteps(gm_tensor **y, gm_tensor *const *x, const op_case *c, gm_error *err) {
  return gm_diffusion_timesteps(&y[0], &y[1], x[0], c->ip[0], c->ip[1], c->p[0], err);
}

/* The edges of the classes of count 4: 0, just under a quarter, a quarter, ..., 1 - 2^-24. */
static void fill_class_edges(gmt_rng *r, float *x, size_t n, int k, const op_case *c) {
  (void)r, (void)k, (void)c;
  static const float u[6] = {0.0f, 0.2499f, 0.25f, 0.5f, 0.99999994f, 0.75f};
  for (size_t i = 0; i < n; i++) x[i] = u[i % 6];
}

/* Exact: count a power of two, so u count rounds nowhere. */
static op_case timesteps_case(int64_t b, int lo, int count, float scale) {
  op_case c = {.name = "diffusion timesteps", .op = "gm_diffusion_timesteps", .n_in = 1,
               .ndim = {1}, .shape = {{b}}, .lo = {0}, .hi = {1}, .call = call_timesteps,
               .ref = ref_timesteps, .n_out = 2, .out_ndim = 1, .out_shape = {b},
               .out2_ndim = 1, .out2_shape = {b}, .out_dtype = {GM_I32, GM_F32},
               .forward_only = 1, .exact = 1,
               .p = {scale}, .ip = {lo, count}};
  return c;
}

START_TEST(timesteps_map_uniforms_onto_the_range_and_scale) {
  op_case c = timesteps_case(6, 1, 4, 0.125f);
  c.fill = fill_class_edges;   /* idx {1, 1, 2, 3, 4, 4} */
  gmt_run_op_case(&c, 60);
  op_case d = timesteps_case(37, 3, 8, 0.5f);
  gmt_run_op_case(&d, 61);
  gm_error err = {0};
  gm_tensor *tu = gmt_tensor_from(1, GM_SHAPE(6), NULL), *idx, *tin;
  ck_assert_int_eq(gm_diffusion_timesteps(&idx, &tin, tu, 1, 0, 1.0f, &err), GM_EINVAL);
  gm_tensor_destroy(tu);
}
END_TEST

/* ---- q_sample against a double reference ---- */

/* in: x0 (B, ...), eps (B, ...), idx (B) int32, a (L), s (L); ip[0] = clamp */
static void ref_q_sample(void *ctx, double *const *in, double *out) {
  const op_case *c = ctx;
  int64_t batch = c->shape[0][0], per = (int64_t)gmt_numel(c->ndim[0], c->shape[0]) / batch;
  for (int64_t b = 0; b < batch; b++)
    for (int64_t i = 0; i < per; i++) {
      int64_t e = b * per + i, t = (int64_t)in[2][b];
      double v = in[3][t] * in[0][e] + in[4][t] * in[1][e];
      if (c->ip[0]) v = v < -1 ? -1 : v > 1 ? 1 : v;
      out[e] = v;
    }
}

static int call_q_sample(gm_tensor **y, gm_tensor *const *x, const op_case *c, gm_error *err) {
  return gm_diffusion_q_sample(y, x[0], x[1], x[2], x[3], x[4], c->ip[0], err);
}

/* The tables sqrt(1 - 0.2 k) and sqrt(0.2 k + 0.05), images at t = 4, 0, 2, and x0 and
 * eps redrawn until the clamped values keep away from the kink at +-1 (so that finite
 * differences hold). */
static void fill_q_sample(gmt_rng *r, float *const *x, const size_t *n, const op_case *c) {
  static const float idx[3] = {4, 0, 2};
  for (size_t k = 0; k < n[3]; k++) {
    x[3][k] = (float)sqrt(1.0 - 0.2 * (double)k);
    x[4][k] = (float)sqrt(0.2 * (double)k + 0.05);
  }
  for (size_t b = 0; b < n[2]; b++) x[2][b] = idx[b % 3];
  size_t per = n[0] / n[2];
  for (size_t i = 0; i < n[0]; i++) {
    int t = (int)x[2][i / per];
    for (;;) {
      x[0][i] = gmt_uniform(r, -1.2f, 1.2f);
      x[1][i] = gmt_normal(r);
      double v = (double)x[3][t] * x[0][i] + (double)x[4][t] * x[1][i];
      if (!c->ip[0] || fabs(fabs(v) - 1) > 0.01) break;
    }
  }
}

static void check_q_sample(int clamp, uint64_t seed) {
  enum { B = 3, C = 2, H = 3, W = 4, L = 5 };
  op_case c = {.name = clamp ? "q_sample, clamped" : "q_sample", .op = "gm_diffusion_q_sample",
               .n_in = 5, .ndim = {4, 4, 1, 1, 1},
               .shape = {{B, C, H, W}, {B, C, H, W}, {B}, {L}, {L}},
               .fill_all = fill_q_sample, .dtype = {GM_F32, GM_F32, GM_I32},
               .skip_grad = {0, 0, 1, 1, 1}, .call = call_q_sample, .ref = ref_q_sample,
               .out_ndim = 4, .out_shape = {B, C, H, W}, .rtol = 1e-6, .atol = 1e-6,
               .grad_rtol = 1e-4, .grad_atol = 1e-6, .fd_eps = 1e-4, .ip = {clamp}};
  gmt_run_op_case(&c, seed);
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

/* in: x, eps, z (absent without noise); data: the coefficients */
static void ref_step(void *ctx, double *const *in, double *out) {
  const op_case *c = ctx;
  const gm_diffusion_step_coefs *k = c->data;
  for (size_t i = 0; i < gmt_numel(c->ndim[0], c->shape[0]); i++) {
    double x0 = (in[0][i] - (double)k->sqrt_1mab * in[1][i]) * (double)k->inv_sqrt_ab;
    if (k->clip_x0) x0 = fmin(fmax(x0, -1), 1);
    double v = (double)k->c0 * x0 + (double)k->c1 * in[0][i] +
               (c->absent[2] ? 0 : (double)k->sigma * in[2][i]);
    if (k->clamp_out) v = fmin(fmax(v, -1), 1);
    out[i] = v;
  }
}

/* In place: the output is x itself. */
static int call_step(gm_tensor **y, gm_tensor *const *x, const op_case *c, gm_error *err) {
  y[0] = x[0];
  return gm_diffusion_step(x[0], x[1], x[2], c->data, err);
}

/* x 1.5 N(0, 1), eps and z N(0, 1) */
static void fill_step(gmt_rng *r, float *x, size_t n, int k, const op_case *c) {
  (void)c;
  for (size_t i = 0; i < n; i++) x[i] = (k == 0 ? 1.5f : 1.0f) * gmt_normal(r);
}

static void check_step(int with_z, int clip, int clamp_out) {
  gm_diffusion_step_coefs k = {.inv_sqrt_ab = 1.7f, .sqrt_1mab = 0.8f, .clip_x0 = clip,
                               .c0 = 0.3f, .c1 = 0.9f, .sigma = 0.25f, .clamp_out = clamp_out};
  op_case c = {.name = "diffusion step", .op = "gm_diffusion_step", .n_in = 3,
               .ndim = {4, 4, 4}, .shape = {{2, 3, 5, 5}, {2, 3, 5, 5}, {2, 3, 5, 5}},
               .fill = fill_step, .absent = {0, 0, !with_z}, .call = call_step, .ref = ref_step,
               .out_ndim = 4, .out_shape = {2, 3, 5, 5}, .forward_only = 1, .rtol = 1e-5,
               .atol = 1e-6, .data = &k};
  gmt_run_op_case(&c, 90 + (uint64_t)(with_z * 4 + clip * 2 + clamp_out));
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

/* ip[0] = stretch */
static void ref_to_pixels(void *ctx, double *const *in, double *out) {
  const op_case *c = ctx;
  int64_t b = c->shape[0][0], per = (int64_t)gmt_numel(c->ndim[0], c->shape[0]) / b;
  for (int64_t n = 0; n < b; n++) {
    const double *x = in[0] + n * per;
    double lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < per; i++) lo = fmin(lo, x[i]), hi = fmax(hi, x[i]);
    for (int64_t i = 0; i < per; i++) {
      double v = x[i];
      if (c->ip[0]) v = hi > lo ? (v - lo) / (hi - lo) * 2 - 1 : 0;
      out[n * per + i] = fmin(fmax((v + 1) * 127.5, 0), 255);
    }
  }
}

static int call_to_pixels(gm_tensor **y, gm_tensor *const *x, const op_case *c, gm_error *err) {
  return gm_diffusion_to_pixels(y, x[0], c->ip[0], err);
}

/* image 0: values beyond [-1, 1]; image 1: constant; each image 1 x 2 x 2 */
static void fill_pixels(gmt_rng *r, float *x, size_t n, int k, const op_case *c) {
  (void)r, (void)k, (void)c;
  static const float v[8] = {-1.5f, -1.0f, 0.0f, 2.0f, 0.3f, 0.3f, 0.3f, 0.3f};
  for (size_t i = 0; i < n; i++) x[i] = v[i % 8];
}

START_TEST(to_pixels_clamps_or_stretches_each_image) {
  /* image 0 stretched spans -1.5 .. 2: (v + 1.5) / 3.5 * 255; image 1 becomes 127.5 */
  for (int stretch = 0; stretch < 2; stretch++) {
    op_case c = {.name = stretch ? "stretched pixels" : "clamped pixels",
                 .op = "gm_diffusion_to_pixels", .n_in = 1, .ndim = {4},
                 .shape = {{2, 1, 2, 2}}, .fill = fill_pixels, .call = call_to_pixels,
                 .ref = ref_to_pixels, .out_ndim = 4, .out_shape = {2, 1, 2, 2},
                 .forward_only = 1, .rtol = stretch ? 1e-5 : 1e-6,
                 .atol = stretch ? 1e-3 : 1e-4, .ip = {stretch}};
    gmt_run_op_case(&c, 80);
    /* random images of several channels */
    c.fill = NULL;
    c.lo[0] = -1.5f;
    c.hi[0] = 1.5f;
    c.shape[0][0] = c.out_shape[0] = 3;
    c.shape[0][1] = c.out_shape[1] = 3;
    c.shape[0][2] = c.out_shape[2] = 4;
    c.shape[0][3] = c.out_shape[3] = 5;
    gmt_run_op_case(&c, 81 + (uint64_t)stretch);
  }
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
