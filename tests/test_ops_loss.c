/* Losses and reductions against plain C references in double: cross-entropy (mean and per
 * position) and softmax over a middle or last class axis, MSE, sum and mean; backward
 * passes against central finite differences; reductions bit-for-bit repeatable. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "optest.h"
#include "testlib.h"

/* ---- references, in double ---- */

typedef struct ref_ctx {
  int64_t outer, K, inner;   /* the class view */
  double inv_t;              /* softmax: 1 / temperature */
} ref_ctx;

static size_t at(const ref_ctx *c, int64_t pos, int64_t k) {
  int64_t o = pos / c->inner, i = pos % c->inner;
  return (size_t)((o * c->K + k) * c->inner + i);
}

static double ref_lse(const ref_ctx *c, const double *l, int64_t pos) {
  double m = -INFINITY, s = 0;
  for (int64_t k = 0; k < c->K; k++) m = fmax(m, l[at(c, pos, k)]);
  for (int64_t k = 0; k < c->K; k++) s += exp(l[at(c, pos, k)] - m);
  return m + log(s);
}

/* in: logits, targets (int32 values) */
static void ref_ce_each(void *ctx, double *const *in, double *out) {
  const ref_ctx *c = ((const op_case *)ctx)->data;
  for (int64_t p = 0; p < c->outer * c->inner; p++)
    out[p] = ref_lse(c, in[0], p) - in[0][at(c, p, (int64_t)in[1][p])];
}

static void ref_ce_mean(void *ctx, double *const *in, double *out) {
  const ref_ctx *c = ((const op_case *)ctx)->data;
  int64_t positions = c->outer * c->inner;
  double *each = malloc((size_t)positions * sizeof *each), s = 0;
  ref_ce_each(ctx, in, each);
  for (int64_t p = 0; p < positions; p++) s += each[p];
  out[0] = s / (double)positions;
  free(each);
}

static void ref_softmax(void *ctx, double *const *in, double *out) {
  const ref_ctx *c = ((const op_case *)ctx)->data;
  for (int64_t p = 0; p < c->outer * c->inner; p++) {
    double m = -INFINITY, s = 0;
    for (int64_t k = 0; k < c->K; k++) m = fmax(m, in[0][at(c, p, k)]);
    for (int64_t k = 0; k < c->K; k++) s += exp((in[0][at(c, p, k)] - m) * c->inv_t);
    for (int64_t k = 0; k < c->K; k++)
      out[at(c, p, k)] = exp((in[0][at(c, p, k)] - m) * c->inv_t) / s;
  }
}

static void ref_sum(void *ctx, double *const *in, double *out) {
  const op_case *c = ctx;
  double s = 0;
  for (size_t i = 0; i < gmt_numel(c->ndim[0], c->shape[0]); i++) s += in[0][i];
  out[0] = s;
}

static void ref_mean(void *ctx, double *const *in, double *out) {
  const op_case *c = ctx;
  ref_sum(ctx, in, out);
  out[0] /= (double)gmt_numel(c->ndim[0], c->shape[0]);
}

static void ref_mse(void *ctx, double *const *in, double *out) {
  const op_case *c = ctx;
  size_t n = gmt_numel(c->ndim[0], c->shape[0]);
  double s = 0;
  for (size_t i = 0; i < n; i++) s += (in[0][i] - in[1][i]) * (in[0][i] - in[1][i]);
  out[0] = s / (double)n;
}

/* ---- helpers ---- */

static gm_tensor *i32_tensor(int ndim, const int64_t *shape, const int32_t *data) {
  gm_error err = {0};
  gm_tensor *t;
  gmt_ok(gm_tensor_create(&t, gmt_device(), GM_I32, ndim, shape, &err), &err);
  gmt_ok(gm_tensor_write(t, data, gm_tensor_bytes(t), &err), &err);
  return t;
}

/* ---- cross-entropy and softmax ---- */

typedef struct ce_case {
  int ndim;
  int64_t shape[5];
  int class_axis;   /* as passed (may be negative) */
  float range;      /* logits uniform in +-range */
} ce_case;

static const ce_case ce_cases[] = {
    {5, {2, 3, 16, 4, 5}, 2, 4.0f},   /* the PixelCNN seed layout (B, 3, 16, H, W) */
    {5, {2, 3, 4, 5, 16}, 4, 4.0f},   /* classes last */
    {3, {3, 7, 6}, 1, 3.0f},          /* odd K in the middle */
    {2, {5, 13}, -1, 3.0f},           /* odd K last, negative axis */
    {4, {1, 3, 16, 9}, 2, 50.0f},     /* large logits stay finite */
    {1, {11}, 0, 2.0f},               /* one position */
};

/* The class view of a case and the targets' shape (the logits' without the class axis). */
static ref_ctx case_view(const ce_case *c, int64_t *tshape) {
  int axis = c->class_axis < 0 ? c->class_axis + c->ndim : c->class_axis;
  ref_ctx v = {.outer = 1, .K = c->shape[axis], .inner = 1, .inv_t = 1};
  for (int d = 0, e = 0; d < c->ndim; d++) {
    if (d < axis) v.outer *= c->shape[d];
    if (d > axis) v.inner *= c->shape[d];
    if (d != axis) tshape[e++] = c->shape[d];
  }
  return v;
}

/* Targets over every class, including 0 and K - 1. */
static void fill_targets(gmt_rng *r, float *x, size_t n, int k, const op_case *c) {
  const ref_ctx *v = c->data;
  if (k == 0) {
    gmt_fill_uniform(r, x, n, c->lo[0], c->hi[0]);
    return;
  }
  for (size_t p = 0; p < n; p++)
    x[p] = (float)((int32_t)(gmt_uniform(r, 0, 1) * (float)v->K) % (int32_t)v->K);
}

static int call_ce(gm_tensor **y, gm_tensor *const *x, const op_case *c, gm_error *err) {
  return gm_cross_entropy(y, x[0], x[1], c->ip[0], err);
}

static int call_ce_each(gm_tensor **y, gm_tensor *const *x, const op_case *c, gm_error *err) {
  return gm_cross_entropy_each(y, x[0], x[1], c->ip[0], err);
}

static int call_softmax(gm_tensor **y, gm_tensor *const *x, const op_case *c, gm_error *err) {
  return gm_softmax(y, x[0], c->ip[0], c->p[0], err);
}

static void check_ce(const ce_case *c, int each, uint64_t seed) {
  ref_ctx v;
  op_case o = {.name = each ? "cross_entropy_each" : "cross_entropy",
               .op = each ? "gm_cross_entropy_each" : "gm_cross_entropy", .n_in = 2,
               .ndim = {c->ndim, c->ndim - 1}, .lo = {-c->range}, .hi = {c->range},
               .fill = fill_targets, .dtype = {GM_F32, GM_I32},
               .call = each ? call_ce_each : call_ce, .ref = each ? ref_ce_each : ref_ce_mean,
               .out_ndim = each ? c->ndim - 1 : 1, .out_shape = {1}, .grad_atol = 1e-7,
               .data = &v, .ip = {c->class_axis}};
  memcpy(o.shape[0], c->shape, (size_t)c->ndim * sizeof *c->shape);
  v = case_view(c, o.shape[1]);
  if (each) memcpy(o.out_shape, o.shape[1], (size_t)(c->ndim - 1) * sizeof *c->shape);
  gmt_run_op_case(&o, seed);
}

START_TEST(cross_entropy_mean_matches_reference_and_finite_differences) {
  check_ce(&ce_cases[_i], 0, 100 + (uint64_t)_i);
}
END_TEST

START_TEST(cross_entropy_each_matches_reference_per_position) {
  check_ce(&ce_cases[_i], 1, 200 + (uint64_t)_i);
}
END_TEST

/* Every row of the engine's softmax sums to 1. */
static void check_rows_sum_to_one(const op_case *c, gm_tensor *const *x, double *const *in,
                                  gm_tensor *const *y) {
  (void)x, (void)in;
  const ref_ctx *v = c->data;
  float *hp = gmt_read(y[0]);
  for (int64_t pos = 0; pos < v->outer * v->inner; pos++) {
    double s = 0;
    for (int64_t k = 0; k < v->K; k++) s += hp[at(v, pos, k)];
    ck_assert_msg(fabs(s - 1) < 1e-5, "softmax row %lld sums to %.9g", (long long)pos, s);
  }
  free(hp);
}

static void check_softmax(const ce_case *c, float temperature, uint64_t seed) {
  int64_t tshape[5];
  ref_ctx v = case_view(c, tshape);
  v.inv_t = 1.0 / temperature;
  op_case o = {.name = "softmax", .op = "gm_softmax", .n_in = 1, .ndim = {c->ndim},
               .lo = {-c->range}, .hi = {c->range}, .call = call_softmax, .ref = ref_softmax,
               .out_ndim = c->ndim, .atol = 1e-6, .grad_atol = 1e-7,
               .check = check_rows_sum_to_one, .data = &v, .p = {temperature},
               .ip = {c->class_axis}};
  memcpy(o.shape[0], c->shape, (size_t)c->ndim * sizeof *c->shape);
  memcpy(o.out_shape, c->shape, (size_t)c->ndim * sizeof *c->shape);
  gmt_run_op_case(&o, seed);
}

START_TEST(softmax_rows_sum_to_one_and_match_reference_at_temperature_1) {
  check_softmax(&ce_cases[_i], 1.0f, 300 + (uint64_t)_i);
}
END_TEST

START_TEST(softmax_rows_sum_to_one_and_match_reference_at_temperature_0_6) {
  check_softmax(&ce_cases[_i], 0.6f, 400 + (uint64_t)_i);
}
END_TEST

START_TEST(cross_entropy_out_of_range_target_gives_nan_and_check_finds_it) {
  gm_error err = {0};
  gm_device *dev = gmt_device();
  float hl[2 * 4 * 3];
  gmt_rng r;
  gmt_rng_seed(&r, 7);
  gmt_fill_uniform(&r, hl, 24, -1, 1);
  gm_tensor *logits = gmt_tensor_from(3, GM_SHAPE(2, 4, 3), hl);
  gm_tensor *good = i32_tensor(2, GM_SHAPE(2, 3), (int32_t[]){0, 1, 2, 3, 0, 1});
  gm_tensor *bad = i32_tensor(2, GM_SHAPE(2, 3), (int32_t[]){0, 1, 2, 3, 4, 1});
  gm_tensor *neg = i32_tensor(2, GM_SHAPE(2, 3), (int32_t[]){0, -1, 2, 3, 0, 1});
  gmt_ok(gm_tensor_set_requires_grad(logits, 1, &err), &err);
  gm_tensor *loss;
  float v, each[6];

  gmt_ok(gm_cross_entropy(&loss, logits, good, 1, &err), &err);
  gmt_ok(gm_tensor_read(loss, &v, sizeof v, &err), &err);
  ck_assert(isfinite(v));
  gmt_ok(gm_cross_entropy_check_targets(logits, good, 1, &err), &err);

  gmt_ok(gm_cross_entropy(&loss, logits, bad, 1, &err), &err);
  gmt_ok(gm_tensor_read(loss, &v, sizeof v, &err), &err);
  ck_assert_msg(isnan(v), "loss with target 4 of K = 4 is %g, not NaN", (double)v);
  gmt_ok(gm_backward(loss, &err), &err);
  float *g = gmt_read(logits->grad);
  ck_assert_msg(isnan(g[(1 * 4 + 0) * 3 + 1]), "the bad position's gradient is not NaN");
  free(g);
  ck_assert_int_eq(gm_cross_entropy_check_targets(logits, bad, 1, &err), GM_ERANGE);
  ck_assert_ptr_nonnull(strstr(err.msg, "target 4 at (1, 1)"));
  ck_assert_ptr_nonnull(strstr(err.msg, "0..3"));

  gm_tensor *nll;
  gmt_ok(gm_cross_entropy_each(&nll, logits, neg, -2, &err), &err);
  gmt_ok(gm_tensor_read(nll, each, sizeof each, &err), &err);
  for (int i = 0; i < 6; i++)
    ck_assert_msg(i == 1 ? isnan(each[i]) : isfinite(each[i]), "nll[%d] = %g", i, (double)each[i]);
  ck_assert_int_eq(gm_cross_entropy_check_targets(logits, neg, 1, &err), GM_ERANGE);
  ck_assert_ptr_nonnull(strstr(err.msg, "target -1 at (0, 1)"));
  gmt_cover("gm_cross_entropy_check_targets");

  gm_tape_reset(dev);
  gm_tensor_destroy(logits);
  gm_tensor_destroy(good);
  gm_tensor_destroy(bad);
  gm_tensor_destroy(neg);
}
END_TEST

START_TEST(cross_entropy_refuses_bad_shapes_dtypes_and_axes) {
  gm_error err = {0};
  gm_tensor *logits = gmt_tensor_from(4, GM_SHAPE(2, 3, 16, 5), NULL);
  gm_tensor *t_ok = i32_tensor(3, GM_SHAPE(2, 3, 5), (int32_t[30]){0});
  gm_tensor *t_bad = i32_tensor(3, GM_SHAPE(2, 3, 4), (int32_t[24]){0});
  gm_tensor *t_float = gmt_tensor_from(3, GM_SHAPE(2, 3, 5), NULL);
  gm_tensor *y = NULL;
  ck_assert_int_eq(gm_cross_entropy(&y, logits, t_bad, 2, &err), GM_ESHAPE);
  ck_assert_ptr_nonnull(strstr(err.msg, "(2, 3, 4)"));
  ck_assert_ptr_nonnull(strstr(err.msg, "(2, 3, 16, 5)"));
  ck_assert_int_eq(gm_cross_entropy(&y, logits, t_ok, 1, &err), GM_ESHAPE); /* wrong axis */
  ck_assert_int_eq(gm_cross_entropy_each(&y, logits, t_float, 2, &err), GM_EDTYPE);
  ck_assert_ptr_nonnull(strstr(err.msg, "int32"));
  ck_assert_int_eq(gm_cross_entropy(&y, logits, t_ok, 4, &err), GM_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "class_axis 4"));
  ck_assert_int_eq(gm_cross_entropy(&y, logits, t_ok, -5, &err), GM_EINVAL);
  ck_assert_int_eq(gm_softmax(&y, logits, 2, 0.0f, &err), GM_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "temperature"));
  ck_assert_int_eq(gm_softmax(&y, logits, 7, 1.0f, &err), GM_EINVAL);
  gmt_ok(gm_cross_entropy(&y, logits, t_ok, -2, &err), &err);
  gm_tape_reset(gmt_device());
  gm_tensor_destroy(logits);
  gm_tensor_destroy(t_ok);
  gm_tensor_destroy(t_bad);
  gm_tensor_destroy(t_float);
}
END_TEST

/* ---- sum, mean, mse ---- */

static const int64_t red_shapes[][4] = {{1, 1, 1, 1}, {2, 3, 5, 7}, {3, 1, 17, 19}, {4, 8, 9, 11}};

static int call_sum(gm_tensor **y, gm_tensor *const *x, const op_case *c, gm_error *err) {
  (void)c;
  return gm_sum(y, x[0], err);
}

static int call_mean(gm_tensor **y, gm_tensor *const *x, const op_case *c, gm_error *err) {
  (void)c;
  return gm_mean(y, x[0], err);
}

static int call_mse(gm_tensor **y, gm_tensor *const *x, const op_case *c, gm_error *err) {
  (void)c;
  return gm_mse(y, x[0], x[1], err);
}

/* One or two (mse) inputs of shape, uniform in +-2, to a (1) value. */
static void check_reduce(const char *what, const char *op, int n_in,
                         int (*call)(gm_tensor **, gm_tensor *const *, const op_case *,
                                     gm_error *),
                         gmt_ref_fn ref, const int64_t *shape, uint64_t seed) {
  op_case c = {.name = what, .op = op, .n_in = n_in, .ndim = {4, 4}, .lo = {-2, -2},
               .hi = {2, 2}, .call = call, .ref = ref, .out_ndim = 1, .out_shape = {1},
               .grad_atol = 1e-7};
  memcpy(c.shape[0], shape, 4 * sizeof *shape);
  memcpy(c.shape[1], shape, 4 * sizeof *shape);
  gmt_run_op_case(&c, seed);
}

START_TEST(sum_matches_reference_and_finite_differences) {
  check_reduce("sum", "gm_sum", 1, call_sum, ref_sum, red_shapes[_i], 500 + (uint64_t)_i);
}
END_TEST

START_TEST(mean_matches_reference_and_finite_differences) {
  check_reduce("mean", "gm_mean", 1, call_mean, ref_mean, red_shapes[_i], 600 + (uint64_t)_i);
}
END_TEST

START_TEST(mse_matches_reference_and_finite_differences) {
  check_reduce("mse", "gm_mse", 2, call_mse, ref_mse, red_shapes[_i], 700 + (uint64_t)_i);
}
END_TEST

/* Reads the one value of a (1) tensor as its bits, for exact comparisons. */
static float read_scalar(const gm_tensor *t) {
  gm_error err = {0};
  float v;
  gmt_ok(gm_tensor_read(t, &v, sizeof v, &err), &err);
  return v;
}

START_TEST(reductions_of_a_million_elements_are_accurate_and_bitwise_repeatable) {
  gm_error err = {0};
  gm_device *dev = gmt_device();
  const size_t n = 1000000;
  gmt_rng r;
  gmt_rng_seed(&r, 800);
  float *ha = malloc(n * sizeof *ha), *hb = malloc(n * sizeof *hb);
  gmt_fill_uniform(&r, ha, n, -1, 2);
  gmt_fill_uniform(&r, hb, n, -1, 1);
  double sum = 0, sq = 0;
  for (size_t i = 0; i < n; i++) {
    sum += ha[i];
    sq += ((double)ha[i] - hb[i]) * ((double)ha[i] - hb[i]);
  }
  gm_tensor *a = gmt_tensor_from(1, GM_SHAPE((int64_t)n), ha);
  gm_tensor *b = gmt_tensor_from(1, GM_SHAPE((int64_t)n), hb);
  float got[3][3];
  size_t wg_keep = dev->wg1d;
  /* Twice with the device's work-group size, once with another: the same bits. */
  size_t wgs[3] = {wg_keep, wg_keep, wg_keep == 8 ? 16 : 8};
  for (int run = 0; run < 3; run++) {
    dev->wg1d = wgs[run];
    gm_tensor *ys, *ym, *ye;
    gmt_ok(gm_sum(&ys, a, &err), &err);
    gmt_ok(gm_mean(&ym, a, &err), &err);
    gmt_ok(gm_mse(&ye, a, b, &err), &err);
    got[run][0] = read_scalar(ys);
    got[run][1] = read_scalar(ym);
    got[run][2] = read_scalar(ye);
    gm_tape_reset(dev);
  }
  dev->wg1d = wg_keep;
  double want[3] = {sum, sum / (double)n, sq / (double)n};
  const char *names[3] = {"sum", "mean", "mse"};
  for (int k = 0; k < 3; k++) {
    double rel = fabs(got[0][k] - want[k]) / fabs(want[k]);
    ck_assert_msg(rel < 1e-5, "%s of 10^6: got %.9g, want %.9g (relative error %.3g)", names[k],
                  (double)got[0][k], want[k], rel);
    for (int run = 1; run < 3; run++)
      ck_assert_msg(memcmp(&got[run][k], &got[0][k], sizeof(float)) == 0,
                    "%s differs on run %d (work-group %zu): %.9g vs %.9g", names[k], run,
                    wgs[run], (double)got[run][k], (double)got[0][k]);
  }
  gm_tensor_destroy(a);
  gm_tensor_destroy(b);
  free(ha);
  free(hb);
}
END_TEST

START_TEST(mse_refuses_different_shapes_and_mean_refuses_empty) {
  gm_error err = {0};
  gm_tensor *a = gmt_tensor_from(2, GM_SHAPE(2, 3), NULL);
  gm_tensor *b = gmt_tensor_from(2, GM_SHAPE(3, 2), NULL);
  gm_tensor *e = gmt_tensor_from(2, GM_SHAPE(0, 3), NULL);
  gm_tensor *y = NULL;
  ck_assert_int_eq(gm_mse(&y, a, b, &err), GM_ESHAPE);
  ck_assert_ptr_nonnull(strstr(err.msg, "(2, 3)"));
  ck_assert_ptr_nonnull(strstr(err.msg, "(3, 2)"));
  ck_assert_int_eq(gm_mean(&y, e, &err), GM_ESHAPE);
  ck_assert_ptr_nonnull(strstr(err.msg, "empty"));
  gmt_ok(gm_sum(&y, e, &err), &err);
  ck_assert(read_scalar(y) == 0.0f);
  gm_tape_reset(gmt_device());
  gm_tensor_destroy(a);
  gm_tensor_destroy(b);
  gm_tensor_destroy(e);
}
END_TEST

int main(void) {
  Suite *s = suite_create("ops_loss");
  TCase *tc = tcase_create("loss");
  int n_ce = (int)(sizeof ce_cases / sizeof ce_cases[0]);
  tcase_add_loop_test(tc, cross_entropy_mean_matches_reference_and_finite_differences, 0, n_ce);
  tcase_add_loop_test(tc, cross_entropy_each_matches_reference_per_position, 0, n_ce);
  tcase_add_loop_test(tc, softmax_rows_sum_to_one_and_match_reference_at_temperature_1, 0, n_ce);
  tcase_add_loop_test(tc, softmax_rows_sum_to_one_and_match_reference_at_temperature_0_6, 0, n_ce);
  tcase_add_test(tc, cross_entropy_out_of_range_target_gives_nan_and_check_finds_it);
  tcase_add_test(tc, cross_entropy_refuses_bad_shapes_dtypes_and_axes);
  tcase_add_loop_test(tc, sum_matches_reference_and_finite_differences, 0, 4);
  tcase_add_loop_test(tc, mean_matches_reference_and_finite_differences, 0, 4);
  tcase_add_loop_test(tc, mse_matches_reference_and_finite_differences, 0, 4);
  tcase_add_test(tc, reductions_of_a_million_elements_are_accurate_and_bitwise_repeatable);
  tcase_add_test(tc, mse_refuses_different_shapes_and_mean_refuses_empty);
  suite_add_tcase(s, tc);
  return gmt_run(s);
}
