/* Single-head self-attention against a plain C reference in double: forward on random
 * data, backward into q, k and v against central finite differences. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "testlib.h"

typedef struct att_ctx { int B, C, N; } att_ctx;

/* y[b, :, i] = sum_j softmax_j(q[b, :, i] . k[b, :, j] / sqrt(C)) v[b, :, j] */
static void ref_attention(void *ctx, double *const *in, double *out) {
  const att_ctx *a = ctx;
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

/* Random q, k, v on the host (float and double) and on the device. */
typedef struct qkv {
  float *h[3];
  double *d[3];
  gm_tensor *t[3];
  size_t n;
} qkv;

static void qkv_make(qkv *x, const att_ctx *a, gmt_rng *r, const int *requires) {
  gm_error err = {0};
  x->n = (size_t)a->B * a->C * a->N;
  for (int k = 0; k < 3; k++) {
    x->h[k] = malloc(x->n * sizeof(float));
    x->d[k] = malloc(x->n * sizeof(double));
    gmt_fill_uniform(r, x->h[k], x->n, -1.5f, 1.5f);
    for (size_t i = 0; i < x->n; i++) x->d[k][i] = x->h[k][i];
    x->t[k] = gmt_tensor_from(3, GM_SHAPE(a->B, a->C, a->N), x->h[k]);
    gmt_ok(gm_tensor_set_requires_grad(x->t[k], requires[k], &err), &err);
  }
}

static void qkv_free(qkv *x) {
  for (int k = 0; k < 3; k++) {
    gm_tensor_destroy(x->t[k]);
    free(x->h[k]);
    free(x->d[k]);
  }
}

static void assert_forward(gm_tensor *y, gmt_ref_fn ref, const att_ctx *a, double *const *in,
                           size_t n) {
  double *want = malloc(n * sizeof *want);
  float *wantf = malloc(n * sizeof *wantf), *got = gmt_read(y);
  ref((void *)a, in, want);
  for (size_t i = 0; i < n; i++) wantf[i] = (float)want[i];
  gmt_assert_close(got, wantf, n, 1e-4, 1e-5, "attention forward");
  free(want);
  free(wantf);
  free(got);
}

/* Seeds dy = r, runs backward, and checks the grads of the inputs flagged in check[]. */
static void assert_backward(gm_tensor *y, gmt_ref_fn ref, const att_ctx *a, double *const *in,
                            gm_tensor *const *t, const int *check, int n_in, size_t n,
                            gmt_rng *r) {
  float *up = malloc(n * sizeof *up);
  double *upd = malloc(n * sizeof *upd), *fd = malloc(n * sizeof *fd);
  gmt_fill_uniform(r, up, n, -1, 1);
  for (size_t i = 0; i < n; i++) upd[i] = up[i];
  gmt_backward_from(y, up);
  static const char *names[3] = {"attention dq", "attention dk", "attention dv"};
  for (int k = 0; k < n_in; k++) {
    if (!check[k]) continue;
    ck_assert_ptr_nonnull(t[k]->grad);
    gmt_fd_grad(ref, (void *)a, in, k, n, n, upd, 1e-3, fd);
    float *g = gmt_read(t[k]->grad);
    gmt_assert_grad(g, fd, n, 1e-3, 1e-7, names[k]);
    free(g);
  }
  free(up);
  free(upd);
  free(fd);
}

START_TEST(attention_matches_reference_and_finite_differences) {
  gm_error err = {0};
  const att_ctx *a = &cases[_i];
  gmt_rng r;
  gmt_rng_seed(&r, 900 + (uint64_t)_i);
  qkv x;
  const int all[3] = {1, 1, 1};
  qkv_make(&x, a, &r, all);
  gm_tensor *y;
  gmt_ok(gm_attention(&y, x.t[0], x.t[1], x.t[2], &err), &err);
  ck_assert_int_eq(y->ndim, 3);
  for (int d = 0; d < 3; d++) ck_assert_int_eq(y->shape[d], x.t[0]->shape[d]);
  assert_forward(y, ref_attention, a, x.d, x.n);
  assert_backward(y, ref_attention, a, x.d, x.t, all, 3, x.n, &r);
  gm_tape_reset(gmt_device());
  qkv_free(&x);
}
END_TEST

START_TEST(attention_grads_only_reach_inputs_that_require_them) {
  gm_error err = {0};
  const att_ctx *a = &cases[0];
  gmt_rng r;
  gmt_rng_seed(&r, 950);
  for (int only = 0; only < 3; only++) {
    qkv x;
    int req[3] = {only == 0, only == 1, only == 2};
    qkv_make(&x, a, &r, req);
    gm_tensor *y;
    gmt_ok(gm_attention(&y, x.t[0], x.t[1], x.t[2], &err), &err);
    assert_backward(y, ref_attention, a, x.d, x.t, req, 3, x.n, &r);
    for (int k = 0; k < 3; k++)
      if (!req[k]) ck_assert_ptr_null(x.t[k]->grad);
    gm_tape_reset(gmt_device());
    qkv_free(&x);
  }
}
END_TEST

START_TEST(attention_of_one_tensor_sums_the_three_gradients) {
  gm_error err = {0};
  const att_ctx *a = &cases[3];
  gmt_rng r;
  gmt_rng_seed(&r, 960);
  qkv x;
  qkv_make(&x, a, &r, (const int[]){1, 0, 0});
  gm_tensor *y;
  gmt_ok(gm_attention(&y, x.t[0], x.t[0], x.t[0], &err), &err);
  assert_forward(y, ref_self_attention, a, x.d, x.n);
  assert_backward(y, ref_self_attention, a, x.d, x.t, (const int[]){1}, 1, x.n, &r);
  gm_tape_reset(gmt_device());
  qkv_free(&x);
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
  gmt_rng r;
  gmt_rng_seed(&r, 970);
  qkv x;
  const int all[3] = {1, 1, 1};
  qkv_make(&x, a, &r, all);
  gm_tensor *y;
  gmt_ok(gm_attention(&y, x.t[0], x.t[1], x.t[2], &err), &err);
  assert_forward(y, ref_attention, a, x.d, x.n);
  assert_backward(y, ref_attention, a, x.d, x.t, all, 3, x.n, &r);
  gm_tape_reset(dev);
  qkv_free(&x);
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
  tcase_add_test(tc, attention_of_one_tensor_sums_the_three_gradients);
  tcase_add_test(tc, attention_ignores_stale_contents_of_recycled_buffers);
  tcase_add_test(tc, attention_refuses_mismatched_or_non_3d_inputs);
  suite_add_tcase(s, tc);
  return gmt_run(s);
}
