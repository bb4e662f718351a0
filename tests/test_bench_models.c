/* Whole-model timing (engine/src/bench_models.c) on tiny PixelCNNs loaded through the
 * registry: the training row's step count, rate and pool peak, and the sampling row's
 * line through its two partial runs, measured outright when b reaches the whole run.
 * Times are only checked for consistency with each other, never for speed. */
#include <math.h>
#include <string.h>

#include "testlib.h"

static const gm_model_vtable *vt;

static void load_plugin(void) { vt = gmt_model_plugin("pixelcnn"); }

static void unload_plugin(void) {
  gmt_model_plugins_close();
  vt = NULL;
}

START_TEST(train_row_runs_min_steps_and_reports_rate_and_peak) {
  gm_error err = {0};
  const char *sets[] = {"width=8", "image_size=6"};
  gm_resolved_options ro;
  gmt_ok(gm_model_options_resolve(vt, "seed", sets, 2, &ro, &err), &err);
  gm_bench_train_opts o = {.batch = 3, .size = 6, .seconds = 0, .min_steps = 4, .seed = 9};
  gm_bench_train_result r;
  gmt_ok(gm_bench_train(gmt_device(), vt, "pixelcnn", &ro, &o, &r, &err), &err);
  ck_assert_int_eq(r.steps, 4);
  ck_assert_msg(r.seconds > 0, "seconds %g", r.seconds);
  ck_assert_double_eq_tol(r.mean_images_per_s, 4.0 * 3 / r.seconds, 1e-9 * r.mean_images_per_s);
  ck_assert_double_eq_tol(r.images_per_s, 3 / r.step_seconds, 1e-9 * r.images_per_s);
  /* the median of 4 steps lies within their total */
  ck_assert_msg(r.step_seconds > 0 && r.step_seconds < r.seconds, "median step %g of %g s",
                r.step_seconds, r.seconds);
  ck_assert_msg(isfinite(r.loss) && r.loss > 0, "loss %g", r.loss);
  /* seed net: 3->8 (3x3), three 8->8 (7x7, 9x9, 7x7), 8->48 (1x1), with biases */
  int64_t params = 3 * 8 * 9 + 8 + 8 * 8 * (49 + 81 + 49) + 3 * 8 + 8 * 48 + 48;
  ck_assert_int_eq(r.params, params);
  /* the parameters, their grads and two Adam moments at least */
  ck_assert_uint_ge(r.peak_bytes, (uint64_t)params * 4 * 4);
  gm_mem_stats s;
  gm_device_mem_stats(gmt_device(), &s);
  ck_assert_uint_ge(s.peak_bytes, r.peak_bytes);
  o.batch = 0;
  ck_assert_int_eq(gm_bench_train(gmt_device(), vt, "pixelcnn", &ro, &o, &r, &err), GM_EINVAL);
  gm_model_options_free(&ro);
}
END_TEST

/* b is where the line ends: the whole run (measured) with a generous budget, a part of
 * it (extrapolated through a = 1 and b) with none. */
START_TEST(sample_row_is_the_line_through_two_partial_runs) {
  gm_error err = {0};
  const char *sets[] = {"width=6", "layers=2", "kernel=3", "image_size=5"};
  gm_model *m = gmt_model_create(vt, "gated", sets, 4, 3);
  gm_sample_options so = {.n = 2, .sampler = "naive"};
  gm_bench_sample_result r;
  gmt_ok(gm_bench_sample(gmt_device(), vt, m, &so, 600, &r, &err), &err);
  ck_assert_int_eq(r.total_units, 25);
  ck_assert_int_eq(r.units_a, 1);
  ck_assert_int_eq(r.units_b, 25);
  ck_assert_double_eq(r.seconds, r.seconds_b);
  ck_assert_double_eq_tol(r.seconds_per_image, r.seconds / 2, 1e-12);
  ck_assert_double_eq(r.evaluations_per_image, 3 * 25);  /* R, G, B drawn in turn */

  gmt_ok(gm_bench_sample(gmt_device(), vt, m, &so, 1e-9, &r, &err), &err);
  ck_assert_int_eq(r.units_a, 1);
  ck_assert_int_eq(r.units_b, 2);  /* the first b already took over half the budget */
  double per = (r.seconds_b - r.seconds_a) / (r.units_b - r.units_a);
  ck_assert_double_eq_tol(r.seconds_per_unit, per, 1e-12);
  ck_assert_double_eq_tol(r.fixed_seconds, r.seconds_a - per, 1e-12);
  ck_assert_double_eq_tol(r.seconds, fmax(r.fixed_seconds + 25 * per, r.seconds_b), 1e-12);
  ck_assert_double_eq_tol(r.evaluations_per_image, 3 * 25, 1e-9);
  so.n = 0;
  ck_assert_int_eq(gm_bench_sample(gmt_device(), vt, m, &so, 1, &r, &err), GM_EINVAL);
  vt->destroy(m);
  gm_tape_reset(gmt_device());
}
END_TEST

int main(void) {
  Suite *s = suite_create("bench_models");
  TCase *tc = tcase_create("bench_models");
  tcase_add_unchecked_fixture(tc, load_plugin, unload_plugin);
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, train_row_runs_min_steps_and_reports_rate_and_peak);
  tcase_add_test(tc, sample_row_is_the_line_through_two_partial_runs);
  suite_add_tcase(s, tc);
  return gmt_run(s);
}
