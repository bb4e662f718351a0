/* Single-head self-attention and masked cross-attention against a plain C reference in
 * double: forward on random data, backward into q, k and v against central finite
 * differences; a text with no token, and masked tokens, get no weight. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "optest.h"
#include "testlib.h"

typedef struct att_ctx { int B, C, N; } att_ctx;

/* y[b, :, i] = sum_j softmax_j(q[b, :, i] . k[b, :, j] / sqrt(C)) v[b, :, j] */
static void ref_attention(void *ctx, double *const *in, double *out) {
  const att_ctx *a = ((const op_case *)ctx)->data;
  int B = a->B, C = a->C, N = a->N;
  double *p = malloc((size_t)N * sizeof *p);
  for (int b = 0; b < B; b++) {
    const double *q = in[0] + (size_t)b * C * N, *k = in[1] + (size_t)b * C * N;
    const double *v = in[2] + (size_t)b * C * N;
    double *y = out + (size_t)b * C * N;
    for (int i = 0; i < N; i++) {
      double m = -INFINITY, s = 0;
      for (int j = 0; j < N; j++) {
        double d = 0;
        for (int c = 0; c < C; c++) d += q[c * N + i] * k[c * N + j];
        p[j] = d / sqrt((double)C);
        m = fmax(m, p[j]);
      }
      for (int j = 0; j < N; j++) s += (p[j] = exp(p[j] - m));
      for (int c = 0; c < C; c++) {
        double acc = 0;
        for (int j = 0; j < N; j++) acc += p[j] / s * v[c * N + j];
        y[c * N + i] = acc;
      }
    }
  }
  free(p);
}

/* The same with one tensor as q, k and v. */
static void ref_self_attention(void *ctx, double *const *in, double *out) {
  ref_attention(ctx, (double *[]){in[0], in[0], in[0]}, out);
}

static const att_ctx cases[] = {{2, 8, 16}, {2, 8, 64}, {2, 5, 16}, {3, 3, 7}};

static int call_attention(gm_tensor **y, gm_tensor *const *x, const op_case *c,
                          gm_error *err) {
  (void)c;
  return gm_attention(y, x[0], x[1], x[2], err);
}

static int call_self_attention(gm_tensor **y, gm_tensor *const *x, const op_case *c,
                               gm_error *err) {
  (void)c;
  return gm_attention(y, x[0], x[0], x[0], err);
}

/* q, k and v (or one tensor as all three, when self) of a's shape, uniform in +-1.5. */
static op_case attention_case(const att_ctx *a, int self) {
  op_case c = {.name = self ? "attention of one tensor" : "attention", .op = "gm_attention",
               .n_in = self ? 1 : 3, .ndim = {3, 3, 3}, .lo = {-1.5f, -1.5f, -1.5f},
               .hi = {1.5f, 1.5f, 1.5f}, .call = self ? call_self_attention : call_attention,
               .ref = self ? ref_self_attention : ref_attention, .out_ndim = 3,
               .out_shape = {a->B, a->C, a->N}, .grad_atol = 1e-7, .data = a};
  for (int k = 0; k < 3; k++) {
    c.shape[k][0] = a->B;
    c.shape[k][1] = a->C;
    c.shape[k][2] = a->N;
  }
  return c;
}

/* ---- cross-attention: N map positions to M tokens, some masked ---- */

typedef struct xatt_ctx { int B, C, N, M; } xatt_ctx;

static void ref_cross_attention(void *ctx, double *const *in, double *out) {
  const xatt_ctx *a = ((const op_case *)ctx)->data;
  int B = a->B, C = a->C, N = a->N, M = a->M;
  double *p = malloc((size_t)M * sizeof *p);
  for (int b = 0; b < B; b++) {
    const double *q = in[0] + (size_t)b * C * N, *k = in[1] + (size_t)b * C * M;
    const double *v = in[2] + (size_t)b * C * M, *mask = in[3] + (size_t)b * M;
    double *y = out + (size_t)b * C * N;
    for (int i = 0; i < N; i++) {
      double m = -INFINITY, s = 0;
      for (int j = 0; j < M; j++) {
        double d = 0;
        for (int c = 0; c < C; c++) d += q[c * N + i] * k[c * M + j];
        p[j] = d / sqrt((double)C);
        if (mask[j] != 0) m = fmax(m, p[j]);
      }
      for (int j = 0; j < M; j++) s += (p[j] = mask[j] != 0 ? exp(p[j] - m) : 0);
      for (int c = 0; c < C; c++) {
        double acc = 0;
        for (int j = 0; j < M; j++) acc += s > 0 ? p[j] / s * v[c * M + j] : 0;
        y[c * N + i] = acc;
      }
    }
  }
  free(p);
}

/* A text's mask: its first tokens are words, the rest padding; the last item of the
 * batch has no token at all. */
static void fill_token_mask(gmt_rng *r, float *x, size_t n, int k, const op_case *c) {
  const xatt_ctx *a = c->data;
  (void)n, (void)k;
  for (int b = 0; b < a->B; b++) {
    int words = b == a->B - 1 ? 0 : 1 + (int)gmt_uniform(r, 0, (float)a->M - 0.01f);
    for (int j = 0; j < a->M; j++) x[b * a->M + j] = j < words ? 1.0f : 0.0f;
  }
}

static int call_cross_attention(gm_tensor **y, gm_tensor *const *x, const op_case *c,
                                gm_error *err) {
  (void)c;
  return gm_cross_attention(y, x[0], x[1], x[2], x[3], err);
}

static op_case cross_case(const xatt_ctx *a) {
  op_case c = {.name = "cross-attention", .op = "gm_cross_attention", .n_in = 4,
               .ndim = {3, 3, 3, 2}, .lo = {-1.5f, -1.5f, -1.5f, 0}, .hi = {1.5f, 1.5f, 1.5f, 1},
               .fill = NULL, .call = call_cross_attention, .ref = ref_cross_attention,
               .out_ndim = 3, .out_shape = {a->B, a->C, a->N}, .skip_grad = {0, 0, 0, 1},
               .grad_atol = 1e-7, .data = a};
  int64_t side[3] = {a->N, a->M, a->M};
  for (int k = 0; k < 3; k++) {
    c.shape[k][0] = a->B;
    c.shape[k][1] = a->C;
    c.shape[k][2] = side[k];
  }
  c.shape[3][0] = a->B;
  c.shape[3][1] = a->M;
  return c;
}

/* every input but the mask is uniform; the mask comes from fill_token_mask */
static void fill_cross(gmt_rng *r, float *x, size_t n, int k, const op_case *c) {
  if (k == 3) fill_token_mask(r, x, n, k, c);
  else gmt_fill_uniform(r, x, n, c->lo[k], c->hi[k]);
}

static const xatt_ctx xcases[] = {{3, 8, 64, 16}, {3, 5, 16, 7}, {2, 4, 1, 3}};

START_TEST(cross_attention_matches_reference_and_finite_differences) {
  op_case c = cross_case(&xcases[_i]);
  c.fill = fill_cross;
  gmt_run_op_case(&c, 1900 + (uint64_t)_i);
}
END_TEST

START_TEST(cross_attention_of_an_empty_text_is_zero) {
  gm_error err = {0};
  float q[2 * 3] = {1, 2, 3, 4, 5, 6}, kv[2 * 2] = {1, -1, 2, 0}, mask[2] = {0, 0};
  gm_tensor *tq = gmt_tensor_from(3, GM_SHAPE(1, 2, 3), q);
  gm_tensor *tk = gmt_tensor_from(3, GM_SHAPE(1, 2, 2), kv);
  gm_tensor *tm = gmt_tensor_from(2, GM_SHAPE(1, 2), mask);
  gm_tensor *y = NULL;
  gmt_ok(gm_cross_attention(&y, tq, tk, tk, tm, &err), &err);
  float out[6];
  gmt_ok(gm_tensor_read(y, out, sizeof out, &err), &err);
  for (int i = 0; i < 6; i++) ck_assert_float_eq(out[i], 0.0f);
  /* mismatched shapes name every shape */
  gm_tensor *bad = gmt_tensor_from(2, GM_SHAPE(1, 3), NULL);
  ck_assert_int_eq(gm_cross_attention(&y, tq, tk, tk, bad, &err), GM_ESHAPE);
  ck_assert_ptr_nonnull(strstr(err.msg, "(1, 3)"));
  ck_assert_ptr_nonnull(strstr(err.msg, "(1, 2, 2)"));
  gm_tape_reset(gmt_device());
  gm_tensor_destroy(tq);
  gm_tensor_destroy(tk);
  gm_tensor_destroy(tm);
  gm_tensor_destroy(bad);
}
END_TEST

START_TEST(attention_matches_reference_and_finite_differences) {
  op_case c = attention_case(&cases[_i], 0);
  gmt_run_op_case(&c, 900 + (uint64_t)_i);
}
END_TEST

START_TEST(attention_grads_only_reach_inputs_that_require_them) {
  for (int only = 0; only < 3; only++) {
    op_case c = attention_case(&cases[0], 0);
    for (int k = 0; k < 3; k++) c.skip_grad[k] = k != only;
    gmt_run_op_case(&c, 950 + (uint64_t)only);
  }
}
END_TEST

START_TEST(attention_of_one_tensor_sums_the_three_gradients) {
  op_case c = attention_case(&cases[3], 1);
  gmt_run_op_case(&c, 960);
}
END_TEST

/* The GEMMs overwrite their outputs (beta 0): NaN left in recycled pool buffers must not
 * leak into the attention weights, the output or dS. */
START_TEST(attention_ignores_stale_contents_of_recycled_buffers) {
  gm_error err = {0};
  gm_device *dev = gmt_device();
  const att_ctx *a = &cases[0];
  for (int i = 0; i < 3; i++) {
    gm_tensor *junk;
    gmt_ok(gm__tensor_temp(&junk, dev, GM_F32, 3, GM_SHAPE(a->B, a->N, a->N), &err), &err);
    gmt_ok(gm_tensor_fill(junk, NAN, &err), &err);
    gmt_ok(gm__tensor_temp(&junk, dev, GM_F32, 3, GM_SHAPE(a->B, a->C, a->N), &err), &err);
    gmt_ok(gm_tensor_fill(junk, NAN, &err), &err);
  }
  gm_tape_reset(dev);
  op_case c = attention_case(a, 0);
  gmt_run_op_case(&c, 970);
}
END_TEST

START_TEST(attention_refuses_mismatched_or_non_3d_inputs) {
  gm_error err = {0};
  gm_tensor *q = gmt_tensor_from(3, GM_SHAPE(2, 8, 16), NULL);
  gm_tensor *k = gmt_tensor_from(3, GM_SHAPE(2, 8, 15), NULL);
  gm_tensor *m4 = gmt_tensor_from(4, GM_SHAPE(2, 8, 4, 4), NULL);
  gm_tensor *y = NULL;
  ck_assert_int_eq(gm_attention(&y, q, k, q, &err), GM_ESHAPE);
  ck_assert_ptr_nonnull(strstr(err.msg, "(2, 8, 16)"));
  ck_assert_ptr_nonnull(strstr(err.msg, "(2, 8, 15)"));
  ck_assert_int_eq(gm_attention(&y, q, q, k, &err), GM_ESHAPE);
  ck_assert_int_eq(gm_attention(&y, m4, m4, m4, &err), GM_ESHAPE);
  ck_assert_ptr_nonnull(strstr(err.msg, "3 dimensions"));
  gm_tensor_destroy(q);
  gm_tensor_destroy(k);
  gm_tensor_destroy(m4);
}
END_TEST

int main(void) {
  Suite *s = suite_create("ops_attention");
  TCase *tc = tcase_create("attention");
  tcase_add_loop_test(tc, attention_matches_reference_and_finite_differences, 0,
                      (int)(sizeof cases / sizeof cases[0]));
  tcase_add_test(tc, attention_grads_only_reach_inputs_that_require_them);
  tcase_add_loop_test(tc, cross_attention_matches_reference_and_finite_differences, 0,
                      (int)(sizeof xcases / sizeof xcases[0]));
  tcase_add_test(tc, cross_attention_of_an_empty_text_is_zero);
  tcase_add_test(tc, attention_of_one_tensor_sums_the_three_gradients);
  tcase_add_test(tc, attention_ignores_stale_contents_of_recycled_buffers);
  tcase_add_test(tc, attention_refuses_mismatched_or_non_3d_inputs);
  suite_add_tcase(s, tc);
  return gmt_run(s);
}
