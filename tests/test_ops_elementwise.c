/* Elementwise ops against plain C references: forward on random data, backward against
 * central finite differences in double. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "optest.h"
#include "testlib.h"

/* ---- references, in double ---- */

#define UNARY_REF(fn, expr)                                                           \
  static void ref_##fn(void *ctx, double *const *in, double *out) {                   \
    const op_case *c = ctx;                                                           \
    size_t n = gmt_numel(c->ndim[0], c->shape[0]);                                     \
    for (size_t i = 0; i < n; i++) {                                                  \
      double x = in[0][i];                                                            \
      out[i] = (expr);                                                                \
    }                                                                                 \
  }

#define BINARY_REF(fn, expr)                                                          \
  static void ref_##fn(void *ctx, double *const *in, double *out) {                   \
    const op_case *c = ctx;                                                           \
    size_t n = gmt_numel(c->ndim[0], c->shape[0]);                                     \
    for (size_t i = 0; i < n; i++) {                                                  \
      double a = in[0][i], b = in[1][i];                                              \
      out[i] = (expr);                                                                \
    }                                                                                 \
  }

BINARY_REF(add, a + b)
BINARY_REF(sub, a - b)
BINARY_REF(mul, a * b)
UNARY_REF(scale, c->p[0] * x)
UNARY_REF(add_scalar, x + c->p[0])
UNARY_REF(relu, x > 0 ? x : 0)
UNARY_REF(silu, x / (1 + exp(-x)))
UNARY_REF(gelu, 0.5 * x * (1 + erf(x / sqrt(2.0))))
UNARY_REF(tanh, tanh(x))
UNARY_REF(sigmoid, 1 / (1 + exp(-x)))
UNARY_REF(clamp, x < c->p[0] ? c->p[0] : x > c->p[1] ? c->p[1] : x)

/* x (B, C, inner) + v (B, C) */
static void ref_add_channel(void *ctx, double *const *in, double *out) {
  const op_case *c = ctx;
  size_t n = gmt_numel(c->ndim[0], c->shape[0]), rows = gmt_numel(2, c->shape[0]);
  size_t inner = n / rows;
  for (size_t i = 0; i < n; i++) out[i] = in[0][i] + in[1][i / inner];
}

/* x (B, C, inner) + b (C) */
static void ref_add_bias(void *ctx, double *const *in, double *out) {
  const op_case *c = ctx;
  size_t n = gmt_numel(c->ndim[0], c->shape[0]), rows = gmt_numel(2, c->shape[0]);
  size_t inner = n / rows, ch = (size_t)c->shape[0][1];
  for (size_t i = 0; i < n; i++) out[i] = in[0][i] + in[1][(i / inner) % ch];
}

/* ---- calls ---- */

#define CALL2(fn)                                                                     \
  static int call_##fn(gm_tensor **y, gm_tensor *const *x, const op_case *c, gm_error *err) { \
    (void)c;                                                                          \
    return gm_##fn(y, x[0], x[1], err);                                               \
  }
#define CALL1(fn)                                                                     \
  static int call_##fn(gm_tensor **y, gm_tensor *const *x, const op_case *c, gm_error *err) { \
    (void)c;                                                                          \
    return gm_##fn(y, x[0], err);                                                     \
  }

CALL2(add)
CALL2(sub)
CALL2(mul)
CALL2(add_channel)
CALL2(add_bias)
CALL1(relu)
CALL1(silu)
CALL1(gelu)
CALL1(tanh)
CALL1(sigmoid)

static int call_scale(gm_tensor **y, gm_tensor *const *x, const op_case *c, gm_error *err) {
  return gm_scale(y, x[0], c->p[0], err);
}
static int call_add_scalar(gm_tensor **y, gm_tensor *const *x, const op_case *c, gm_error *err) {
  return gm_add_scalar(y, x[0], c->p[0], err);
}
static int call_clamp(gm_tensor **y, gm_tensor *const *x, const op_case *c, gm_error *err) {
  return gm_clamp(y, x[0], c->p[0], c->p[1], err);
}

/* ---- fills ---- */

/* Values at least 0.05 away from relu's kink, so finite differences are exact. */
static void fill_away_from_zero(gmt_rng *r, float *x, size_t n, int k, const op_case *c) {
  (void)k;
  (void)c;
  for (size_t i = 0; i < n; i++) {
    float v = gmt_uniform(r, 0.05f, 2.0f);
    x[i] = gmt_uniform(r, 0, 1) < 0.5f ? -v : v;
  }
}

/* Values in [-1.5, 1.5) at least 0.01 away from clamp's bounds p[0] and p[1]. */
static void fill_away_from_bounds(gmt_rng *r, float *x, size_t n, int k, const op_case *c) {
  (void)k;
  for (size_t i = 0; i < n; i++) {
    float v;
    do v = gmt_uniform(r, -1.5f, 1.5f);
    while (fabsf(v - c->p[0]) < 0.01f || fabsf(v - c->p[1]) < 0.01f);
    x[i] = v;
  }
}

/* ---- cases ---- */

static const int64_t shapes[][4] = {{1, 1, 1, 1}, {2, 3, 5, 7}, {2, 16, 8, 8}, {1, 3, 17, 33}};

/* An elementwise case: every input and the output share shapes[s]. */
static op_case same_shape_case(const char *name, int n_in, int s, gmt_ref_fn ref,
                               int (*call)(gm_tensor **, gm_tensor *const *, const op_case *,
                                           gm_error *)) {
  op_case c = {.name = name, .n_in = n_in, .ref = ref, .call = call, .out_ndim = 4};
  for (int k = 0; k < n_in; k++) {
    c.ndim[k] = 4;
    memcpy(c.shape[k], shapes[s], sizeof shapes[s]);
    c.lo[k] = -4;
    c.hi[k] = 4;
  }
  memcpy(c.out_shape, shapes[s], sizeof shapes[s]);
  return c;
}

START_TEST(add_matches_reference) {
  op_case c = same_shape_case("add", 2, _i, ref_add, call_add);
  c.op = "gm_add";
  gmt_run_op_case(&c, 10 + _i);
}
END_TEST

START_TEST(sub_matches_reference) {
  op_case c = same_shape_case("sub", 2, _i, ref_sub, call_sub);
  c.op = "gm_sub";
  gmt_run_op_case(&c, 30 + _i);
}
END_TEST

START_TEST(mul_matches_reference) {
  op_case c = same_shape_case("mul", 2, _i, ref_mul, call_mul);
  c.op = "gm_mul";
  gmt_run_op_case(&c, 40 + _i);
}
END_TEST

START_TEST(scale_matches_reference) {
  op_case c = same_shape_case("scale", 1, _i, ref_scale, call_scale);
  c.op = "gm_scale";
  c.p[0] = -1.7f;
  gmt_run_op_case(&c, 50 + _i);
}
END_TEST

START_TEST(add_scalar_matches_reference) {
  op_case c = same_shape_case("add_scalar", 1, _i, ref_add_scalar, call_add_scalar);
  c.op = "gm_add_scalar";
  c.p[0] = 0.3f;
  gmt_run_op_case(&c, 60 + _i);
}
END_TEST

START_TEST(relu_matches_reference) {
  op_case c = same_shape_case("relu", 1, _i, ref_relu, call_relu);
  c.op = "gm_relu";
  c.fill = fill_away_from_zero;
  gmt_run_op_case(&c, 20 + _i);
}
END_TEST

START_TEST(silu_matches_reference) {
  op_case c = same_shape_case("silu", 1, _i, ref_silu, call_silu);
  c.op = "gm_silu";
  gmt_run_op_case(&c, 70 + _i);
}
END_TEST

START_TEST(gelu_matches_erf_formula) {
  op_case c = same_shape_case("gelu", 1, _i, ref_gelu, call_gelu);
  c.op = "gm_gelu";
  c.lo[0] = -6;
  c.hi[0] = 6;
  gmt_run_op_case(&c, 80 + _i);
}
END_TEST

START_TEST(tanh_matches_reference) {
  op_case c = same_shape_case("tanh", 1, _i, ref_tanh, call_tanh);
  c.op = "gm_tanh";
  gmt_run_op_case(&c, 90 + _i);
}
END_TEST

START_TEST(sigmoid_matches_reference) {
  op_case c = same_shape_case("sigmoid", 1, _i, ref_sigmoid, call_sigmoid);
  c.op = "gm_sigmoid";
  c.lo[0] = -8;
  c.hi[0] = 8;
  gmt_run_op_case(&c, 100 + _i);
}
END_TEST

START_TEST(clamp_matches_reference_and_passes_grad_inside_bounds) {
  op_case c = same_shape_case("clamp", 1, _i, ref_clamp, call_clamp);
  c.op = "gm_clamp";
  c.p[0] = -0.5f;
  c.p[1] = 0.7f;
  c.fill = fill_away_from_bounds;
  gmt_run_op_case(&c, 110 + _i);
}
END_TEST

/* x shapes for the broadcasts: feature maps, a 1x1 map, rows (B, C), and 5 dimensions */
static const int bc_ndim[] = {4, 4, 4, 2, 5};
static const int64_t bc_shapes[][5] = {
    {2, 3, 5, 7}, {1, 1, 1, 1}, {3, 4, 1, 9}, {4, 6}, {2, 3, 2, 3, 5}};

START_TEST(add_channel_matches_reference_with_grad_into_v) {
  op_case c = {.name = "add_channel", .op = "gm_add_channel", .n_in = 2, .ref = ref_add_channel,
               .call = call_add_channel, .ndim = {bc_ndim[_i], 2}, .lo = {-2, -2},
               .hi = {2, 2}, .out_ndim = bc_ndim[_i]};
  memcpy(c.shape[0], bc_shapes[_i], sizeof bc_shapes[_i]);
  memcpy(c.out_shape, bc_shapes[_i], sizeof bc_shapes[_i]);
  c.shape[1][0] = bc_shapes[_i][0];
  c.shape[1][1] = bc_shapes[_i][1];
  gmt_run_op_case(&c, 120 + _i);
}
END_TEST

START_TEST(add_bias_matches_reference_with_grad_into_b) {
  op_case c = {.name = "add_bias", .op = "gm_add_bias",
               .n_in = 2, .ref = ref_add_bias, .call = call_add_bias,
               .ndim = {bc_ndim[_i], 1}, .lo = {-2, -2}, .hi = {2, 2}, .out_ndim = bc_ndim[_i]};
  memcpy(c.shape[0], bc_shapes[_i], sizeof bc_shapes[_i]);
  memcpy(c.out_shape, bc_shapes[_i], sizeof bc_shapes[_i]);
  c.shape[1][0] = bc_shapes[_i][1];
  gmt_run_op_case(&c, 130 + _i);
}
END_TEST

START_TEST(add_bias_without_grad_on_x_still_reaches_b) {
  op_case c = {.name = "add_bias (b only)", .op = "gm_add_bias", .n_in = 2, .ref = ref_add_bias,
               .call = call_add_bias, .ndim = {4, 1}, .shape = {{3, 5, 4, 4}, {5}},
               .lo = {-2, -2}, .hi = {2, 2}, .out_ndim = 4, .out_shape = {3, 5, 4, 4},
               .skip_grad = {1, 0}};
  gmt_run_op_case(&c, 140);
}
END_TEST

START_TEST(mul_of_a_tensor_with_itself_gets_both_gradients) {
  /* y = a * a: da = 2 a dy */
  gm_error err = {0};
  gm_tensor *a = gmt_tensor_from(1, GM_SHAPE(3), (float[]){1.5f, -2, 0.25f}), *y;
  gmt_ok(gm_tensor_set_requires_grad(a, 1, &err), &err);
  gmt_ok(gm_mul(&y, a, a, &err), &err);
  gmt_backward_from(y, (float[]){1, 1, 2});
  float *g = gmt_read(a->grad);
  gmt_assert_close(g, ((float[]){3, -4, 1}), 3, 0, 0, "d(a*a)/da");
  free(g);
  gm_tape_reset(gmt_device());
  gm_tensor_destroy(a);
}
END_TEST

START_TEST(gelu_known_values) {
  /* Phi(1) = 0.841344746, so gelu(1) = 0.841344746 and gelu(-1) = -0.158655254 */
  gm_error err = {0};
  gm_tensor *x = gmt_tensor_from(1, GM_SHAPE(4), (float[]){1, -1, 0, 3}), *y;
  gmt_ok(gm_gelu(&y, x, &err), &err);
  float *got = gmt_read(y);
  gmt_assert_close(got, ((float[]){0.841344746f, -0.158655254f, 0, 2.99595031f}), 4, 1e-6, 1e-7,
                   "gelu");
  free(got);
  gm_tape_reset(gmt_device());
  gm_tensor_destroy(x);
}
END_TEST

START_TEST(saturating_activations_stay_finite_at_large_inputs) {
  gm_error err = {0};
  const float xs[6] = {30, -30, 100, -100, 1e30f, -1e30f};
  gm_tensor *x = gmt_tensor_from(1, GM_SHAPE(6), xs), *ys, *yt, *yl;
  gmt_ok(gm_tensor_set_requires_grad(x, 1, &err), &err);
  gmt_ok(gm_sigmoid(&ys, x, &err), &err);
  gmt_ok(gm_tanh(&yt, x, &err), &err);
  gmt_ok(gm_silu(&yl, x, &err), &err);
  float *s = gmt_read(ys), *t = gmt_read(yt), *l = gmt_read(yl);
  for (int i = 0; i < 6; i++) {
    ck_assert_msg(isfinite(s[i]) && isfinite(t[i]) && isfinite(l[i]),
                  "x = %g: sigmoid %g, tanh %g, silu %g", (double)xs[i], (double)s[i],
                  (double)t[i], (double)l[i]);
    ck_assert_msg(s[i] >= 0 && s[i] <= 1, "sigmoid(%g) = %g", (double)xs[i], (double)s[i]);
  }
  gmt_assert_close(s, ((float[]){1, 9.35762297e-14f, 1, 3.72007598e-44f, 1, 0}), 6, 1e-5, 1e-30,
                   "sigmoid saturation"); /* a device may flush the denormal to 0 */
  gmt_assert_close(t, ((float[]){1, -1, 1, -1, 1, -1}), 6, 1e-6, 0, "tanh saturation");
  /* gradients through all three at the same points: finite, and zero for sigmoid/tanh
   * once saturated (silu's derivative tends to 1 for x -> +inf, 0 for x -> -inf) */
  gm_tensor *sum1, *sum2;
  gmt_ok(gm_add(&sum1, ys, yt, &err), &err);
  gmt_ok(gm_add(&sum2, sum1, yl, &err), &err);
  gmt_backward_from(sum2, (float[]){1, 1, 1, 1, 1, 1});
  float *g = gmt_read(x->grad);
  for (int i = 0; i < 6; i++) ck_assert_msg(isfinite(g[i]), "grad at %g is %g", (double)xs[i], (double)g[i]);
  gmt_assert_close(g, ((float[]){1, 0, 1, 0, 1, 0}), 6, 1e-5, 1e-6, "saturated gradients");
  free(s);
  free(t);
  free(l);
  free(g);
  gm_tape_reset(gmt_device());
  gm_tensor_destroy(x);
}
END_TEST

START_TEST(add_refuses_different_shapes) {
  gm_error err = {0};
  gm_tensor *a = gmt_tensor_from(2, GM_SHAPE(2, 3), NULL), *b = gmt_tensor_from(2, GM_SHAPE(3, 2), NULL);
  gm_tensor *y = NULL;
  ck_assert_int_eq(gm_add(&y, a, b, &err), GM_ESHAPE);
  ck_assert_ptr_nonnull(strstr(err.msg, "(2, 3)"));
  ck_assert_ptr_nonnull(strstr(err.msg, "(3, 2)"));
  ck_assert_int_eq(gm_sub(&y, a, b, &err), GM_ESHAPE);
  ck_assert_ptr_nonnull(strstr(err.msg, "sub"));
  ck_assert_int_eq(gm_mul(&y, a, b, &err), GM_ESHAPE);
  ck_assert_ptr_nonnull(strstr(err.msg, "mul"));
  gm_tensor_destroy(a);
  gm_tensor_destroy(b);
}
END_TEST

START_TEST(broadcasts_refuse_mismatched_operands) {
  gm_error err = {0};
  gm_tensor *x = gmt_tensor_from(4, GM_SHAPE(2, 3, 4, 4), NULL);
  gm_tensor *v_bad = gmt_tensor_from(2, GM_SHAPE(2, 4), NULL);
  gm_tensor *b_bad = gmt_tensor_from(1, GM_SHAPE(4), NULL);
  gm_tensor *flat = gmt_tensor_from(1, GM_SHAPE(6), NULL), *y = NULL;
  ck_assert_int_eq(gm_add_channel(&y, x, v_bad, &err), GM_ESHAPE);
  ck_assert_ptr_nonnull(strstr(err.msg, "add_channel"));
  ck_assert_ptr_nonnull(strstr(err.msg, "(2, 4)"));
  ck_assert_int_eq(gm_add_bias(&y, x, b_bad, &err), GM_ESHAPE);
  ck_assert_ptr_nonnull(strstr(err.msg, "add_bias"));
  ck_assert_ptr_nonnull(strstr(err.msg, "(2, 3, 4, 4)"));
  ck_assert_int_eq(gm_add_bias(&y, flat, b_bad, &err), GM_ESHAPE);
  ck_assert_ptr_nonnull(strstr(err.msg, "(6)"));
  gm_tensor_destroy(x);
  gm_tensor_destroy(v_bad);
  gm_tensor_destroy(b_bad);
  gm_tensor_destroy(flat);
}
END_TEST

START_TEST(clamp_refuses_inverted_bounds) {
  gm_error err = {0};
  gm_tensor *x = gmt_tensor_from(1, GM_SHAPE(3), NULL), *y = NULL;
  ck_assert_int_eq(gm_clamp(&y, x, 1, -1, &err), GM_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "clamp"));
  gm_tensor_destroy(x);
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
  tcase_add_loop_test(tc, sub_matches_reference, 0, 4);
  tcase_add_loop_test(tc, mul_matches_reference, 0, 4);
  tcase_add_loop_test(tc, scale_matches_reference, 0, 4);
  tcase_add_loop_test(tc, add_scalar_matches_reference, 0, 4);
  tcase_add_loop_test(tc, relu_matches_reference, 0, 4);
  tcase_add_loop_test(tc, silu_matches_reference, 0, 4);
  tcase_add_loop_test(tc, gelu_matches_erf_formula, 0, 4);
  tcase_add_loop_test(tc, tanh_matches_reference, 0, 4);
  tcase_add_loop_test(tc, sigmoid_matches_reference, 0, 4);
  tcase_add_loop_test(tc, clamp_matches_reference_and_passes_grad_inside_bounds, 0, 4);
  tcase_add_loop_test(tc, add_channel_matches_reference_with_grad_into_v, 0, 5);
  tcase_add_loop_test(tc, add_bias_matches_reference_with_grad_into_b, 0, 5);
  tcase_add_test(tc, add_bias_without_grad_on_x_still_reaches_b);
  tcase_add_test(tc, mul_of_a_tensor_with_itself_gets_both_gradients);
  tcase_add_test(tc, gelu_known_values);
  tcase_add_test(tc, saturating_activations_stay_finite_at_large_inputs);
  tcase_add_test(tc, add_refuses_different_shapes);
  tcase_add_test(tc, broadcasts_refuse_mismatched_operands);
  tcase_add_test(tc, clamp_refuses_inverted_bounds);
  tcase_add_test(tc, no_node_is_recorded_without_grad_or_when_disabled);
  tcase_add_test(tc, gradients_accumulate_across_uses);
  suite_add_tcase(s, tc);
  return gmt_run(s);
}
