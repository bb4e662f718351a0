/* Losses and reductions against plain C references in double: cross-entropy (mean and per
 * position) and softmax over a middle or last class axis, MSE, sum and mean; backward
 * passes against central finite differences; reductions bit-for-bit repeatable. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "testlib.h"

/* ---- references, in double ---- */

typedef struct ref_ctx {
  int64_t outer, K, inner;   /* the class view */
  const int32_t *targets;    /* outer * inner */
  double inv_t;              /* softmax: 1 / temperature */
  size_t n;                  /* mse / sum / mean: element count */
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

static void ref_ce_each(void *ctx, double *const *in, double *out) {
  ref_ctx *c = ctx;
  for (int64_t p = 0; p < c->outer * c->inner; p++)
    out[p] = ref_lse(c, in[0], p) - in[0][at(c, p, c->targets[p])];
}

static void ref_ce_mean(void *ctx, double *const *in, double *out) {
  ref_ctx *c = ctx;
  int64_t positions = c->outer * c->inner;
  double *each = malloc((size_t)positions * sizeof *each), s = 0;
  ref_ce_each(ctx, in, each);
  for (int64_t p = 0; p < positions; p++) s += each[p];
  out[0] = s / (double)positions;
  free(each);
}

static void ref_softmax(void *ctx, double *const *in, double *out) {
  ref_ctx *c = ctx;
  for (int64_t p = 0; p < c->outer * c->inner; p++) {
    double m = -INFINITY, s = 0;
    for (int64_t k = 0; k < c->K; k++) m = fmax(m, in[0][at(c, p, k)]);
    for (int64_t k = 0; k < c->K; k++) s += exp((in[0][at(c, p, k)] - m) * c->inv_t);
    for (int64_t k = 0; k < c->K; k++)
      out[at(c, p, k)] = exp((in[0][at(c, p, k)] - m) * c->inv_t) / s;
  }
}

static void ref_sum(void *ctx, double *const *in, double *out) {
  ref_ctx *c = ctx;
  double s = 0;
  for (size_t i = 0; i < c->n; i++) s += in[0][i];
  out[0] = s;
}

static void ref_mean(void *ctx, double *const *in, double *out) {
  ref_sum(ctx, in, out);
  out[0] /= (double)((ref_ctx *)ctx)->n;
}

static void ref_mse(void *ctx, double *const *in, double *out) {
  ref_ctx *c = ctx;
  double s = 0;
  for (size_t i = 0; i < c->n; i++) s += (in[0][i] - in[1][i]) * (in[0][i] - in[1][i]);
  out[0] = s / (double)c->n;
}

/* ---- helpers ---- */

static size_t numel_of(int ndim, const int64_t *shape) {
  size_t n = 1;
  for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
  return n;
}

static gm_tensor *i32_tensor(int ndim, const int64_t *shape, const int32_t *data) {
  gm_error err = {0};
  gm_tensor *t;
  gmt_ok(gm_tensor_create(&t, gmt_device(), GM_I32, ndim, shape, &err), &err);
  gmt_ok(gm_tensor_write(t, data, gm_tensor_bytes(t), &err), &err);
  return t;
}

static double *to_double(const float *x, size_t n) {
  double *d = malloc(n * sizeof *d);
  for (size_t i = 0; i < n; i++) d[i] = x[i];
  return d;
}

static float *to_float(const double *x, size_t n) {
  float *f = malloc(n * sizeof *f);
  for (size_t i = 0; i < n; i++) f[i] = (float)x[i];
  return f;
}

/* Compares y with the reference on inputs, then seeds a random upstream gradient and
 * compares every float input's grad with finite differences of the reference. */
static void check_forward_backward(const char *what, gm_tensor *y, gmt_ref_fn ref, ref_ctx *ctx,
                                   gm_tensor *const *tin, double *const *din, int n_in,
                                   gmt_rng *r, double atol) {
  size_t n_out = (size_t)y->numel, n = (size_t)tin[0]->numel;
  double *want = malloc(n_out * sizeof *want);
  ref(ctx, din, want);
  float *got = gmt_read(y), *wantf = to_float(want, n_out);
  gmt_assert_close(got, wantf, n_out, 1e-4, atol, what);

  float *up = malloc(n_out * sizeof *up);
  gmt_fill_uniform(r, up, n_out, -1, 1);
  double *upd = to_double(up, n_out), *fd = malloc(n * sizeof *fd);
  gmt_backward_from(y, up);
  for (int k = 0; k < n_in; k++) {
    ck_assert_ptr_nonnull(tin[k]->grad);
    gmt_fd_grad(ref, ctx, din, k, n, n_out, upd, 1e-3, fd);
    float *g = gmt_read(tin[k]->grad);
    gmt_assert_grad(g, fd, n, 1e-3, 1e-7, what);
    free(g);
  }
  free(want);
  free(got);
  free(wantf);
  free(up);
  free(upd);
  free(fd);
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
static ref_ctx case_view(const ce_case *c, int *axis, int64_t *tshape) {
  *axis = c->class_axis < 0 ? c->class_axis + c->ndim : c->class_axis;
  ref_ctx v = {.outer = 1, .K = c->shape[*axis], .inner = 1, .inv_t = 1};
  for (int d = 0, e = 0; d < c->ndim; d++) {
    if (d < *axis) v.outer *= c->shape[d];
    if (d > *axis) v.inner *= c->shape[d];
    if (d != *axis) tshape[e++] = c->shape[d];
  }
  return v;
}

static void check_ce(const ce_case *c, int each, uint64_t seed) {
  gm_error err = {0};
  gm_device *dev = gmt_device();
  gmt_rng r;
  gmt_rng_seed(&r, seed);
  int axis;
  int64_t tshape[5];
  ref_ctx ctx = case_view(c, &axis, tshape);
  size_t n = numel_of(c->ndim, c->shape), positions = (size_t)(ctx.outer * ctx.inner);
  float *hl = malloc(n * sizeof *hl);
  gmt_fill_uniform(&r, hl, n, -c->range, c->range);
  int32_t *ht = malloc(positions * sizeof *ht);
  for (size_t p = 0; p < positions; p++)  /* every class, including 0 and K - 1 */
    ht[p] = (int32_t)(gmt_uniform(&r, 0, 1) * (float)ctx.K) % (int32_t)ctx.K;
  ctx.targets = ht;
  double *dl = to_double(hl, n);
  gm_tensor *logits = gmt_tensor_from(c->ndim, c->shape, hl);
  gm_tensor *targets = i32_tensor(c->ndim - 1, tshape, ht);
  gmt_ok(gm_tensor_set_requires_grad(logits, 1, &err), &err);
  gm_tensor *y;
  if (each) {
    gmt_ok(gm_cross_entropy_each(&y, logits, targets, c->class_axis, &err), &err);
    ck_assert_int_eq(y->ndim, c->ndim - 1);
    for (int d = 0; d < y->ndim; d++) ck_assert_int_eq(y->shape[d], tshape[d]);
  } else {
    gmt_ok(gm_cross_entropy(&y, logits, targets, c->class_axis, &err), &err);
    ck_assert_int_eq(y->ndim, 1);
    ck_assert_int_eq(y->shape[0], 1);
  }
  check_forward_backward(each ? "cross_entropy_each" : "cross_entropy", y,
                         each ? ref_ce_each : ref_ce_mean, &ctx, &logits, &dl, 1, &r, 1e-5);
  gm_tape_reset(dev);
  gm_tensor_destroy(logits);
  gm_tensor_destroy(targets);
  free(hl);
  free(ht);
  free(dl);
}

START_TEST(cross_entropy_mean_matches_reference_and_finite_differences) {
  check_ce(&ce_cases[_i], 0, 100 + (uint64_t)_i);
}
END_TEST

START_TEST(cross_entropy_each_matches_reference_per_position) {
  check_ce(&ce_cases[_i], 1, 200 + (uint64_t)_i);
}
END_TEST

static void check_softmax(const ce_case *c, float temperature, uint64_t seed) {
  gm_error err = {0};
  gm_device *dev = gmt_device();
  gmt_rng r;
  gmt_rng_seed(&r, seed);
  int axis;
  int64_t tshape[5];
  ref_ctx ctx = case_view(c, &axis, tshape);
  ctx.inv_t = 1.0 / temperature;
  size_t n = numel_of(c->ndim, c->shape);
  float *hl = malloc(n * sizeof *hl);
  gmt_fill_uniform(&r, hl, n, -c->range, c->range);
  double *dl = to_double(hl, n);
  gm_tensor *logits = gmt_tensor_from(c->ndim, c->shape, hl), *p;
  gmt_ok(gm_tensor_set_requires_grad(logits, 1, &err), &err);
  gmt_ok(gm_softmax(&p, logits, c->class_axis, temperature, &err), &err);
  float *hp = gmt_read(p);
  for (int64_t pos = 0; pos < ctx.outer * ctx.inner; pos++) {
    double s = 0;
    for (int64_t k = 0; k < ctx.K; k++) s += hp[at(&ctx, pos, k)];
    ck_assert_msg(fabs(s - 1) < 1e-5, "softmax row %lld sums to %.9g", (long long)pos, s);
  }
  free(hp);
  check_forward_backward("softmax", p, ref_softmax, &ctx, &logits, &dl, 1, &r, 1e-6);
  gm_tape_reset(dev);
  gm_tensor_destroy(logits);
  free(hl);
  free(dl);
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

typedef int (*reduce1_fn)(gm_tensor **, gm_tensor *, gm_error *);

static const int64_t red_shapes[][4] = {{1, 1, 1, 1}, {2, 3, 5, 7}, {3, 1, 17, 19}, {4, 8, 9, 11}};

static void check_reduce(const char *what, reduce1_fn f1, int mse, gmt_ref_fn ref,
                         const int64_t *shape, uint64_t seed) {
  gm_error err = {0};
  gm_device *dev = gmt_device();
  gmt_rng r;
  gmt_rng_seed(&r, seed);
  size_t n = numel_of(4, shape);
  int n_in = mse ? 2 : 1;
  float *h[2];
  double *d[2];
  gm_tensor *t[2];
  for (int k = 0; k < n_in; k++) {
    h[k] = malloc(n * sizeof *h[k]);
    gmt_fill_uniform(&r, h[k], n, -2, 2);
    d[k] = to_double(h[k], n);
    t[k] = gmt_tensor_from(4, shape, h[k]);
    gmt_ok(gm_tensor_set_requires_grad(t[k], 1, &err), &err);
  }
  gm_tensor *y;
  if (mse) gmt_ok(gm_mse(&y, t[0], t[1], &err), &err);
  else gmt_ok(f1(&y, t[0], &err), &err);
  ck_assert_int_eq(y->ndim, 1);
  ck_assert_int_eq(y->shape[0], 1);
  ref_ctx ctx = {.n = n};
  check_forward_backward(what, y, ref, &ctx, t, d, n_in, &r, 1e-5);
  gm_tape_reset(dev);
  for (int k = 0; k < n_in; k++) {
    gm_tensor_destroy(t[k]);
    free(h[k]);
    free(d[k]);
  }
}

START_TEST(sum_matches_reference_and_finite_differences) {
  check_reduce("sum", gm_sum, 0, ref_sum, red_shapes[_i], 500 + (uint64_t)_i);
}
END_TEST

START_TEST(mean_matches_reference_and_finite_differences) {
  check_reduce("mean", gm_mean, 0, ref_mean, red_shapes[_i], 600 + (uint64_t)_i);
}
END_TEST

START_TEST(mse_matches_reference_and_finite_differences) {
  check_reduce("mse", NULL, 1, ref_mse, red_shapes[_i], 700 + (uint64_t)_i);
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
