/* Elementwise ops against plain C references: forward on random data, backward against
 * central finite differences in double. This file is the pattern for every op test. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "testlib.h"

/* ---- references, in double ---- */

typedef struct { size_t n; } ew_ctx;

static void ref_add(void *ctx, double *const *in, double *out) {
  size_t n = ((ew_ctx *)ctx)->n;
  for (size_t i = 0; i < n; i++) out[i] = in[0][i] + in[1][i];
}

static void ref_relu(void *ctx, double *const *in, double *out) {
  size_t n = ((ew_ctx *)ctx)->n;
  for (size_t i = 0; i < n; i++) out[i] = in[0][i] > 0 ? in[0][i] : 0;
}

/* Random inputs kept away from relu's kink so finite differences are exact. */
static void fill_away_from_zero(gmt_rng *r, float *x, size_t n) {
  for (size_t i = 0; i < n; i++) {
    float v = gmt_uniform(r, 0.05f, 2.0f);
    x[i] = gmt_uniform(r, 0, 1) < 0.5f ? -v : v;
  }
}

/* Forward and backward of a unary or binary op on one shape. */
typedef int (*op2_fn)(gm_tensor **, gm_tensor *, gm_tensor *, gm_error *);
typedef int (*op1_fn)(gm_tensor **, gm_tensor *, gm_error *);

static void check_op(const char *name, op1_fn f1, op2_fn f2, gmt_ref_fn ref, int ndim,
                     const int64_t *shape, uint64_t seed) {
  gm_error err = {0};
  gm_device *dev = gmt_device();
  int n_in = f2 ? 2 : 1;
  size_t n = 1;
  for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
  gmt_rng r;
  gmt_rng_seed(&r, seed);
  float *hx[2];
  double *dx[2];
  gm_tensor *tx[2];
  for (int k = 0; k < n_in; k++) {
    hx[k] = malloc(n * 4);
    fill_away_from_zero(&r, hx[k], n);
    dx[k] = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++) dx[k][i] = hx[k][i];
    tx[k] = gmt_tensor_from(ndim, shape, hx[k]);
    gm_tensor_set_requires_grad(tx[k], 1, &err);
  }
  gm_tensor *y;
  if (f2) gmt_ok(f2(&y, tx[0], tx[1], &err), &err);
  else gmt_ok(f1(&y, tx[0], &err), &err);
  ew_ctx ctx = {n};
  double *want = malloc(n * sizeof(double));
  ref(&ctx, dx, want);
  float *got = gmt_read(y), *wantf = malloc(n * 4);
  for (size_t i = 0; i < n; i++) wantf[i] = (float)want[i];
  gmt_assert_close(got, wantf, n, 1e-4, 1e-6, name);

  float *up = malloc(n * 4);
  double *upd = malloc(n * sizeof(double)), *fd = malloc(n * sizeof(double));
  gmt_fill_uniform(&r, up, n, -1, 1);
  for (size_t i = 0; i < n; i++) upd[i] = up[i];
  gmt_backward_from(y, up);
  for (int k = 0; k < n_in; k++) {
    gmt_fd_grad(ref, &ctx, dx, k, n, n, upd, 1e-3, fd);
    float *g = gmt_read(tx[k]->grad);
    gmt_assert_grad(g, fd, n, 1e-3, 1e-6, name);
    free(g);
  }
  gm_tape_reset(dev);
  for (int k = 0; k < n_in; k++) {
    gm_tensor_destroy(tx[k]);
    free(hx[k]);
    free(dx[k]);
  }
  free(want);
  free(wantf);
  free(got);
  free(up);
  free(upd);
  free(fd);
}

static const int64_t shapes[][4] = {{1, 1, 1, 1}, {2, 3, 5, 7}, {4, 64, 8, 8}, {1, 3, 32, 33}};

START_TEST(add_matches_reference) { check_op("add", NULL, gm_add, ref_add, 4, shapes[_i], 10 + _i); }
END_TEST

START_TEST(relu_matches_reference) { check_op("relu", gm_relu, NULL, ref_relu, 4, shapes[_i], 20 + _i); }
END_TEST

START_TEST(add_refuses_different_shapes) {
  gm_error err = {0};
  gm_tensor *a = gmt_tensor_from(2, GM_SHAPE(2, 3), NULL), *b = gmt_tensor_from(2, GM_SHAPE(3, 2), NULL);
  gm_tensor *y = NULL;
  ck_assert_int_eq(gm_add(&y, a, b, &err), GM_ESHAPE);
  ck_assert_ptr_nonnull(strstr(err.msg, "(2, 3)"));
  ck_assert_ptr_nonnull(strstr(err.msg, "(3, 2)"));
  gm_tensor_destroy(a);
  gm_tensor_destroy(b);
}
END_TEST

START_TEST(no_node_is_recorded_without_grad_or_when_disabled) {
  gm_error err = {0};
  gm_device *dev = gmt_device();
  gm_tape_reset(dev);
  gm_tensor *a = gmt_tensor_from(1, GM_SHAPE(4), (float[]){1, 2, 3, 4}), *y;
  gmt_ok(gm_relu(&y, a, &err), &err);
  ck_assert_uint_eq(gm_tape_node_count(dev), 0);
  gm_tensor_set_requires_grad(a, 1, &err);
  int prev = gm_grad_enable(dev, 0);
  gmt_ok(gm_relu(&y, a, &err), &err);
  ck_assert_uint_eq(gm_tape_node_count(dev), 0);
  gm_grad_enable(dev, prev);
  gmt_ok(gm_relu(&y, a, &err), &err);
  ck_assert_uint_eq(gm_tape_node_count(dev), 1);
  ck_assert_int_eq(y->requires_grad, 1);
  gm_tape_reset(dev);
  ck_assert_uint_eq(gm_tape_node_count(dev), 0);
  gm_tensor_destroy(a);
}
END_TEST

START_TEST(gradients_accumulate_across_uses) {
  /* y = relu(a) + a: da = (a > 0) + 1, summed into one grad. */
  gm_error err = {0};
  gm_device *dev = gmt_device();
  gm_tensor *a = gmt_tensor_from(1, GM_SHAPE(4), (float[]){-1, 2, -3, 4}), *r, *y;
  gm_tensor_set_requires_grad(a, 1, &err);
  gmt_ok(gm_relu(&r, a, &err), &err);
  gmt_ok(gm_add(&y, r, a, &err), &err);
  gmt_backward_from(y, (float[]){1, 1, 1, 1});
  float *g = gmt_read(a->grad);
  gmt_assert_close(g, ((float[]){1, 2, 1, 2}), 4, 0, 0, "accumulated grad");
  free(g);
  gm_tape_reset(dev);
  gm_tensor_destroy(a);
}
END_TEST

int main(void) {
  Suite *s = suite_create("ops_elementwise");
  TCase *tc = tcase_create("elementwise");
  tcase_add_loop_test(tc, add_matches_reference, 0, 4);
  tcase_add_loop_test(tc, relu_matches_reference, 0, 4);
  tcase_add_test(tc, add_refuses_different_shapes);
  tcase_add_test(tc, no_node_is_recorded_without_grad_or_when_disabled);
  tcase_add_test(tc, gradients_accumulate_across_uses);
  suite_add_tcase(s, tc);
  return gmt_run(s);
}
