/* Batch norm and group norm against plain C references: forward on random data, backward
 * through the statistics against central finite differences in double; PyTorch's
 * running-statistics update on a worked example; refusals; the num_batches_tracked
 * counter. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "optest.h"
#include "testlib.h"

/* Case parameters: ip[0] training, ip[1] has gamma, ip[2] has beta, ip[3] groups (group
 * norm); p[0] momentum, p[1] eps. Inputs: x, gamma, beta (always passed to the harness;
 * the op gets NULL for an absent one), and for batch norm running_mean, running_var. */

/* y = g (x - mean_s) / sqrt(var_s + eps) + b for the statistic s of each element, where
 * stat_of(b, c) names it and the statistics are computed here (training) or taken from
 * in[3], in[4] (batch norm eval). */
static void ref_norm(const op_case *c, double *const *in, double *out, int groups) {
  int64_t batch = c->shape[0][0], ch = c->shape[0][1], inner = 1;
  for (int d = 2; d < c->ndim[0]; d++) inner *= c->shape[0][d];
  int64_t cpg = groups ? ch / groups : 1, nstat = groups ? batch * groups : ch;
  double eps = c->p[1];
  double *mean = calloc((size_t)nstat, sizeof(double)), *var = calloc((size_t)nstat, sizeof(double));
  double *cnt = calloc((size_t)nstat, sizeof(double));
  int from_running = !groups && !c->ip[0];
#define STAT(b, k) (groups ? (b) * groups + (k) / cpg : (k))
  if (from_running) {
    for (int64_t s = 0; s < nstat; s++) {
      mean[s] = in[3][s];
      var[s] = in[4][s];
    }
  } else {
    for (int64_t b = 0; b < batch; b++)
      for (int64_t k = 0; k < ch; k++)
        for (int64_t i = 0; i < inner; i++) {
          mean[STAT(b, k)] += in[0][(b * ch + k) * inner + i];
          cnt[STAT(b, k)] += 1;
        }
    for (int64_t s = 0; s < nstat; s++) mean[s] /= cnt[s];
    for (int64_t b = 0; b < batch; b++)
      for (int64_t k = 0; k < ch; k++)
        for (int64_t i = 0; i < inner; i++) {
          double d = in[0][(b * ch + k) * inner + i] - mean[STAT(b, k)];
          var[STAT(b, k)] += d * d;
        }
    for (int64_t s = 0; s < nstat; s++) var[s] /= cnt[s];
  }
  for (int64_t b = 0; b < batch; b++)
    for (int64_t k = 0; k < ch; k++)
      for (int64_t i = 0; i < inner; i++) {
        int64_t s = STAT(b, k), e = (b * ch + k) * inner + i;
        double v = (in[0][e] - mean[s]) / sqrt(var[s] + eps);
        if (c->ip[1]) v *= in[1][k];
        if (c->ip[2]) v += in[2][k];
        out[e] = v;
      }
#undef STAT
  free(mean);
  free(var);
  free(cnt);
}

static void ref_batchnorm(void *ctx, double *const *in, double *out) {
  ref_norm(ctx, in, out, 0);
}

static void ref_groupnorm(void *ctx, double *const *in, double *out) {
  const op_case *c = ctx;
  ref_norm(c, in, out, c->ip[3]);
}

static int call_batchnorm(gm_tensor **y, gm_tensor *const *x, const op_case *c, gm_error *err) {
  return gm_batchnorm(y, x[0], c->ip[1] ? x[1] : NULL, c->ip[2] ? x[2] : NULL, x[3], x[4],
                      c->ip[0], c->p[0], c->p[1], err);
}

static int call_groupnorm(gm_tensor **y, gm_tensor *const *x, const op_case *c, gm_error *err) {
  return gm_groupnorm(y, x[0], c->ip[1] ? x[1] : NULL, c->ip[2] ? x[2] : NULL, c->ip[3],
                      c->p[1], err);
}

/* A batch-norm case on x of the given shape: gamma around 1, beta around 0, running_var
 * positive. Absent gamma/beta and the running stats get no gradient. */
static op_case bn_case(const char *name, int ndim, const int64_t *shape, int training,
                       int has_gamma, int has_beta) {
  op_case c = {.name = name, .op = "gm_batchnorm", .n_in = 5, .ndim = {ndim, 1, 1, 1, 1},
               .lo = {-2, 0.5f, -1, -1, 0.5f}, .hi = {3, 1.5f, 1, 1, 2},
               .call = call_batchnorm, .ref = ref_batchnorm, .out_ndim = ndim,
               .skip_grad = {0, !has_gamma, !has_beta, 1, 1},
               .ip = {training, has_gamma, has_beta}, .p = {0.1f, 1e-5f}};
  memcpy(c.shape[0], shape, (size_t)ndim * sizeof *shape);
  memcpy(c.out_shape, shape, (size_t)ndim * sizeof *shape);
  for (int k = 1; k < 5; k++) c.shape[k][0] = shape[1];
  return c;
}

static op_case gn_case(const char *name, int ndim, const int64_t *shape, int groups,
                       int has_gamma, int has_beta) {
  op_case c = {.name = name, .op = "gm_groupnorm", .n_in = 3, .ndim = {ndim, 1, 1},
               .lo = {-2, 0.5f, -1}, .hi = {3, 1.5f, 1}, .call = call_groupnorm,
               .ref = ref_groupnorm,
               .out_ndim = ndim, .skip_grad = {0, !has_gamma, !has_beta},
               .ip = {1, has_gamma, has_beta, groups}, .p = {0, 1e-5f}};
  memcpy(c.shape[0], shape, (size_t)ndim * sizeof *shape);
  memcpy(c.out_shape, shape, (size_t)ndim * sizeof *shape);
  c.shape[1][0] = c.shape[2][0] = shape[1];
  return c;
}

static const int bn_ndim[] = {4, 2, 4, 4, 3};
static const int64_t bn_shapes[][4] = {{2, 3, 5, 7}, {4, 6}, {3, 2, 4, 4}, {1, 3, 3, 3}, {2, 3, 6}};

START_TEST(batchnorm_training_matches_reference_through_the_batch_statistics) {
  op_case c = bn_case("batchnorm train", bn_ndim[_i], bn_shapes[_i], 1, 1, 1);
  gmt_run_op_case(&c, 300 + _i);
}
END_TEST

START_TEST(batchnorm_eval_matches_reference_with_fixed_statistics) {
  op_case c = bn_case("batchnorm eval", bn_ndim[_i], bn_shapes[_i], 0, 1, 1);
  gmt_run_op_case(&c, 310 + _i);
}
END_TEST

START_TEST(batchnorm_without_affine_parameters) {
  /* _i: 0 neither, 1 gamma only, 2 beta only; training and eval */
  int g = _i == 1, b = _i == 2;
  op_case c = bn_case("batchnorm train, partial affine", 4, bn_shapes[0], 1, g, b);
  gmt_run_op_case(&c, 320 + _i);
  c = bn_case("batchnorm eval, partial affine", 4, bn_shapes[2], 0, g, b);
  gmt_run_op_case(&c, 325 + _i);
}
END_TEST

START_TEST(batchnorm_training_without_running_statistics) {
  op_case c = bn_case("batchnorm train, no running stats", 4, bn_shapes[0], 1, 1, 1);
  c.n_in = 3; /* x[3], x[4] are then NULL in call_batchnorm */
  gmt_run_op_case(&c, 330);
}
END_TEST

static const int gn_ndim[] = {4, 4, 4, 2, 4, 3};
static const int64_t gn_shapes[][4] = {{2, 6, 3, 5}, {1, 4, 4, 4}, {3, 8, 2, 3}, {2, 6}, {2, 32, 4, 4}, {2, 4, 5}};
static const int gn_groups[] = {3, 4, 1, 2, 8, 2};

START_TEST(groupnorm_matches_reference_through_the_group_statistics) {
  op_case c = gn_case("groupnorm", gn_ndim[_i], gn_shapes[_i], gn_groups[_i], 1, 1);
  gmt_run_op_case(&c, 340 + _i);
}
END_TEST

START_TEST(groupnorm_without_affine_parameters) {
  int g = _i == 1, b = _i == 2;
  op_case c = gn_case("groupnorm, partial affine", 4, gn_shapes[0], 3, g, b);
  gmt_run_op_case(&c, 350 + _i);
}
END_TEST

/* ---- the running statistics, worked by hand ---- */

START_TEST(batchnorm_running_statistics_follow_pytorch) {
  gm_error err = {0};
  gm_device *dev = gmt_device();
  /* x (2, 2, 1, 2): channel 0 holds {1, 2, 3, 4}, channel 1 holds {2, 4, 6, 8} */
  gm_tensor *x = gmt_tensor_from(4, GM_SHAPE(2, 2, 1, 2), (float[]){1, 2, 2, 4, 3, 4, 6, 8});
  gm_tensor *rm = gmt_tensor_from(1, GM_SHAPE(2), (float[]){0, 0});
  gm_tensor *rv = gmt_tensor_from(1, GM_SHAPE(2), (float[]){1, 1});
  gm_tensor *gamma = gmt_tensor_from(1, GM_SHAPE(2), (float[]){2, 2});
  gm_tensor *beta = gmt_tensor_from(1, GM_SHAPE(2), (float[]){0.5f, 0.5f}), *y;
  const float eps = 1e-5f;

  /* channel 0: mean 2.5, biased var 1.25, unbiased 5/3; channel 1: mean 5, var 5, 20/3 */
  gmt_ok(gm_batchnorm(&y, x, gamma, beta, rm, rv, 1, 0.1f, eps, &err), &err);
  float *m = gmt_read(rm), *v = gmt_read(rv), *out = gmt_read(y);
  gmt_assert_close(m, ((float[]){0.25f, 0.5f}), 2, 1e-6, 0, "running_mean after one step");
  gmt_assert_close(v, ((float[]){1.0666667f, 1.5666667f}), 2, 1e-6, 0,
                   "running_var after one step (0.9 + 0.1 * unbiased var)");
  float want[8];
  const float xs[8] = {1, 2, 2, 4, 3, 4, 6, 8};
  for (int i = 0; i < 8; i++) {
    int ch = (i / 2) % 2;
    double mu = ch ? 5 : 2.5, var = ch ? 5 : 1.25;
    want[i] = (float)(2 * (xs[i] - mu) / sqrt(var + eps) + 0.5);
  }
  gmt_assert_close(out, want, 8, 1e-5, 1e-6, "training output uses the biased batch variance");
  free(m);
  free(v);
  free(out);

  /* second step on x' = 2x: channel 0 mean 5, unbiased 20/3; channel 1 mean 10, 80/3 */
  gm_tensor *x2 = gmt_tensor_from(4, GM_SHAPE(2, 2, 1, 2), (float[]){2, 4, 4, 8, 6, 8, 12, 16});
  gmt_ok(gm_batchnorm(&y, x2, gamma, beta, rm, rv, 1, 0.1f, eps, &err), &err);
  m = gmt_read(rm);
  v = gmt_read(rv);
  /* 0.9 * 0.25 + 0.1 * 5 = 0.725; 0.9 * 0.5 + 0.1 * 10 = 1.45;
   * 0.9 * 1.0666667 + 0.1 * 6.6666667 = 1.6266667; 0.9 * 1.5666667 + 0.1 * 26.666667 = 4.0766667 */
  gmt_assert_close(m, ((float[]){0.725f, 1.45f}), 2, 1e-6, 0, "running_mean after two steps");
  gmt_assert_close(v, ((float[]){1.6266667f, 4.0766667f}), 2, 1e-6, 0,
                   "running_var after two steps");
  free(m);
  free(v);

  /* eval: normalises with the running statistics and leaves them alone */
  gmt_ok(gm_batchnorm(&y, x, gamma, beta, rm, rv, 0, 0.1f, eps, &err), &err);
  out = gmt_read(y);
  for (int i = 0; i < 8; i++) {
    int ch = (i / 2) % 2;
    double mu = ch ? 1.45 : 0.725, var = ch ? 4.0766667 : 1.6266667;
    want[i] = (float)(2 * (xs[i] - mu) / sqrt(var + eps) + 0.5);
  }
  gmt_assert_close(out, want, 8, 1e-5, 1e-6, "eval output uses the running statistics");
  m = gmt_read(rm);
  gmt_assert_close(m, ((float[]){0.725f, 1.45f}), 2, 0, 0, "eval leaves running_mean alone");
  free(m);
  free(out);

  gm_tape_reset(dev);
  gm_tensor *all[] = {x, x2, rm, rv, gamma, beta};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) gm_tensor_destroy(all[i]);
}
END_TEST

START_TEST(batchnorm_eval_backward_uses_the_statistics_of_the_forward_pass) {
  /* a training step between an eval forward and its backward changes the running stats;
   * the eval node must keep the values it normalised with */
  gm_error err = {0};
  gm_device *dev = gmt_device();
  gm_tensor *x = gmt_tensor_from(2, GM_SHAPE(2, 1), (float[]){1, 3});
  gm_tensor *rm = gmt_tensor_from(1, GM_SHAPE(1), (float[]){0});
  gm_tensor *rv = gmt_tensor_from(1, GM_SHAPE(1), (float[]){4});
  gm_tensor *gamma = gmt_tensor_from(1, GM_SHAPE(1), (float[]){1}), *y, *y2;
  gmt_ok(gm_tensor_set_requires_grad(gamma, 1, &err), &err);
  gmt_ok(gm_batchnorm(&y, x, gamma, NULL, rm, rv, 0, 0.5f, 0, &err), &err);
  gmt_ok(gm_batchnorm(&y2, x, NULL, NULL, rm, rv, 1, 0.5f, 0, &err), &err);
  gmt_backward_from(y, (float[]){1, 1});
  float *g = gmt_read(gamma->grad);
  /* dgamma = sum dy (x - 0) / 2 = (1 + 3) / 2 */
  gmt_assert_close(g, ((float[]){2}), 1, 1e-6, 0, "dgamma with the forward's statistics");
  free(g);
  gm_tape_reset(dev);
  gm_tensor *all[] = {x, rm, rv, gamma};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) gm_tensor_destroy(all[i]);
}
END_TEST

START_TEST(groupnorm_with_one_channel_per_group_is_instance_norm) {
  /* each (b, c) plane normalised on its own: {0, 2} -> {-1, 1} whatever the other planes */
  gm_error err = {0};
  gm_tensor *x = gmt_tensor_from(4, GM_SHAPE(1, 2, 1, 2), (float[]){0, 2, 10, 30}), *y;
  gmt_ok(gm_groupnorm(&y, x, NULL, NULL, 2, 0, &err), &err);
  float *got = gmt_read(y);
  gmt_assert_close(got, ((float[]){-1, 1, -1, 1}), 4, 1e-6, 0, "instance norm");
  free(got);
  gm_tape_reset(gmt_device());
  gm_tensor_destroy(x);
}
END_TEST

/* ---- refusals ---- */

START_TEST(bad_arguments_are_refused_with_messages) {
  gm_tensor *x = gmt_tensor_from(4, GM_SHAPE(2, 6, 3, 3), NULL);
  gm_tensor *one = gmt_tensor_from(2, GM_SHAPE(1, 3), NULL);
  gm_tensor *flat = gmt_tensor_from(1, GM_SHAPE(6), NULL);
  gm_tensor *c6 = gmt_tensor_from(1, GM_SHAPE(6), NULL);
  gm_tensor *c4 = gmt_tensor_from(1, GM_SHAPE(4), NULL);
  gm_tensor *c3 = gmt_tensor_from(1, GM_SHAPE(3), NULL);

  EXPECT_REFUSAL(gm_groupnorm(&y_, x, NULL, NULL, 4, 1e-5f, &e_), GM_ESHAPE, "4 groups");
  EXPECT_REFUSAL(gm_groupnorm(&y_, x, NULL, NULL, 0, 1e-5f, &e_), GM_ESHAPE, "6 channels");
  EXPECT_REFUSAL(gm_groupnorm(&y_, x, c4, NULL, 2, 1e-5f, &e_), GM_ESHAPE, "gamma");
  EXPECT_REFUSAL(gm_groupnorm(&y_, flat, NULL, NULL, 1, 1e-5f, &e_), GM_ESHAPE, "(6)");
  EXPECT_REFUSAL(gm_groupnorm(&y_, x, NULL, NULL, 2, -1.0f, &e_), GM_EINVAL, "eps");
  EXPECT_REFUSAL(gm_batchnorm(&y_, x, NULL, c4, c6, c6, 1, 0.1f, 1e-5f, &e_), GM_ESHAPE, "beta");
  EXPECT_REFUSAL(gm_batchnorm(&y_, x, NULL, NULL, c6, c4, 1, 0.1f, 1e-5f, &e_), GM_ESHAPE,
                 "running_var");
  EXPECT_REFUSAL(gm_batchnorm(&y_, x, NULL, NULL, NULL, NULL, 0, 0.1f, 1e-5f, &e_), GM_EINVAL,
                 "eval");
  EXPECT_REFUSAL(gm_batchnorm(&y_, x, NULL, NULL, c6, NULL, 1, 0.1f, 1e-5f, &e_), GM_EINVAL,
                 "running_mean and running_var");
  EXPECT_REFUSAL(gm_batchnorm(&y_, one, NULL, NULL, c3, c3, 1, 0.1f, 1e-5f, &e_), GM_ESHAPE,
                 "more than one value per channel");

  gm_tensor *all[] = {x, one, flat, c6, c4, c3};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) gm_tensor_destroy(all[i]);
}
END_TEST

/* batch norm's num_batches_tracked counter, in place on the device */
START_TEST(counter_add_increments_in_place) {
  gm_error err = {0};
  gm_tensor *c;
  gmt_ok(gm_tensor_create(&c, gmt_device(), GM_I32, 1, GM_SHAPE(3), &err), &err);
  gmt_ok(gm_tensor_write(c, (int[]){0, 5, -2}, 12, &err), &err);
  gmt_ok(gm_counter_add(c, 1, &err), &err);
  gmt_ok(gm_counter_add(c, 2, &err), &err);
  int got[3];
  gmt_ok(gm_tensor_read(c, got, sizeof got, &err), &err);
  ck_assert_int_eq(got[0], 3);
  ck_assert_int_eq(got[1], 8);
  ck_assert_int_eq(got[2], 1);
  gm_tensor *f = gmt_tensor_from(1, GM_SHAPE(3), NULL);
  ck_assert_int_eq(gm_counter_add(f, 1, &err), GM_EDTYPE);
  gmt_cover("gm_counter_add");
  gm_tensor_destroy(c);
  gm_tensor_destroy(f);
}
END_TEST

int main(void) {
  Suite *s = suite_create("ops_norm");
  TCase *tc = tcase_create("norm");
  tcase_add_loop_test(tc, batchnorm_training_matches_reference_through_the_batch_statistics, 0, 5);
  tcase_add_loop_test(tc, batchnorm_eval_matches_reference_with_fixed_statistics, 0, 5);
  tcase_add_loop_test(tc, batchnorm_without_affine_parameters, 0, 3);
  tcase_add_test(tc, batchnorm_training_without_running_statistics);
  tcase_add_loop_test(tc, groupnorm_matches_reference_through_the_group_statistics, 0, 6);
  tcase_add_loop_test(tc, groupnorm_without_affine_parameters, 0, 3);
  tcase_add_test(tc, batchnorm_running_statistics_follow_pytorch);
  tcase_add_test(tc, batchnorm_eval_backward_uses_the_statistics_of_the_forward_pass);
  tcase_add_test(tc, groupnorm_with_one_channel_per_group_is_instance_norm);
  tcase_add_test(tc, bad_arguments_are_refused_with_messages);
  tcase_add_test(tc, counter_add_increments_in_place);
  suite_add_tcase(s, tc);
  return gmt_run(s);
}
