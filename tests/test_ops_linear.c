/* gm_linear against a double-precision reference: forward on several shapes (with and
 * without bias, batch 1 and more), backward against central finite differences, and
 * refusal of mismatched shapes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "testlib.h"

typedef struct lin_case { int b, in, out, bias; } lin_case;

/* in: x (B, in), w (out, in), b (out). */
static void ref_linear(void *ctx, double *const *in, double *out) {
  const lin_case *c = ctx;
  for (int i = 0; i < c->b; i++)
    for (int o = 0; o < c->out; o++) {
      double acc = in[2][o];
      for (int k = 0; k < c->in; k++)
        acc += in[0][(size_t)i * c->in + k] * in[1][(size_t)o * c->in + k];
      out[(size_t)i * c->out + o] = acc;
    }
}

static void check_linear(const lin_case *c, uint64_t seed, int grads) {
  gm_error err = {0};
  gmt_rng rng;
  gmt_rng_seed(&rng, seed);
  size_t n[3] = {(size_t)c->b * c->in, (size_t)c->out * c->in, (size_t)c->out};
  size_t ny = (size_t)c->b * c->out;
  float *h[3];
  double *in[3];
  for (int k = 0; k < 3; k++) {
    h[k] = malloc(n[k] * 4);
    gmt_fill_uniform(&rng, h[k], n[k], -1, 1);
    in[k] = malloc(n[k] * sizeof(double));
    for (size_t i = 0; i < n[k]; i++) in[k][i] = k == 2 && !c->bias ? 0 : h[k][i];
  }
  gm_tensor *x = gmt_tensor_from(2, GM_SHAPE(c->b, c->in), h[0]);
  gm_tensor *w = gmt_tensor_from(2, GM_SHAPE(c->out, c->in), h[1]);
  gm_tensor *b = c->bias ? gmt_tensor_from(1, GM_SHAPE(c->out), h[2]) : NULL;
  gm_tensor *t[3] = {x, w, b}, *y;
  for (int k = 0; k < 3; k++)
    if (t[k] && (grads >> k & 1)) gm_tensor_set_requires_grad(t[k], 1, &err);
  gmt_ok(gm_linear(&y, x, w, b, &err), &err);
  ck_assert_int_eq(y->ndim, 2);
  ck_assert_int_eq(y->shape[0], c->b);
  ck_assert_int_eq(y->shape[1], c->out);
  double *want = malloc(ny * sizeof(double));
  float *wantf = malloc(ny * 4), *got = gmt_read(y);
  ref_linear((void *)c, in, want);
  for (size_t i = 0; i < ny; i++) wantf[i] = (float)want[i];
  char what[100];
  snprintf(what, sizeof what, "linear B %d in %d out %d bias %d", c->b, c->in, c->out, c->bias);
  gmt_assert_close(got, wantf, ny, 1e-4, 1e-5, what);
  if (grads) {
    float *up = malloc(ny * 4);
    double *upd = malloc(ny * sizeof(double));
    gmt_fill_uniform(&rng, up, ny, -1, 1);
    for (size_t i = 0; i < ny; i++) upd[i] = up[i];
    gmt_backward_from(y, up);
    for (int k = 0; k < 3; k++) {
      if (!t[k]) continue;
      if (!(grads >> k & 1)) {
        ck_assert_ptr_null(t[k]->grad);
        continue;
      }
      double *fd = malloc(n[k] * sizeof(double));
      gmt_fd_grad(ref_linear, (void *)c, in, k, n[k], ny, upd, 1e-3, fd);
      float *g = gmt_read(t[k]->grad);
      gmt_assert_grad(g, fd, n[k], 1e-3, 1e-6, what);
      free(g);
      free(fd);
    }
    free(up);
    free(upd);
  }
  gm_tape_reset(gmt_device());
  for (int k = 0; k < 3; k++) {
    gm_tensor_destroy(t[k]);
    free(h[k]);
    free(in[k]);
  }
  free(want);
  free(wantf);
  free(got);
}

static const lin_case cases[] = {
    {1, 1, 1, 1}, {3, 7, 5, 1}, {4, 1, 128, 1}, /* time_mlp.0 of the U-Net */
    {2, 33, 17, 0}, {5, 16, 9, 1},
};

START_TEST(linear_forward_and_backward_match_reference) {
  check_linear(&cases[_i], 10 + (uint64_t)_i, 1 | 2 | 4);
}
END_TEST

START_TEST(linear_gradient_only_for_inputs_that_require_it) {
  const lin_case c = {3, 6, 4, 1};
  check_linear(&c, 30, 1);
  check_linear(&c, 31, 2 | 4);
}
END_TEST

START_TEST(linear_forward_at_time_mlp_shape) {
  /* time_mlp.2 of the U-Net: 128 -> 256, batch 8 */
  const lin_case c = {8, 128, 256, 1};
  check_linear(&c, 40, 0);
}
END_TEST

START_TEST(linear_refuses_bad_shapes) {
  gm_error err = {0};
  gm_tensor *x = gmt_tensor_from(2, GM_SHAPE(2, 3), NULL);
  gm_tensor *w = gmt_tensor_from(2, GM_SHAPE(4, 5), NULL);
  gm_tensor *wok = gmt_tensor_from(2, GM_SHAPE(4, 3), NULL);
  gm_tensor *b = gmt_tensor_from(1, GM_SHAPE(3), NULL);
  gm_tensor *x3 = gmt_tensor_from(3, GM_SHAPE(2, 3, 1), NULL);
  gm_tensor *y = NULL;
  ck_assert_int_eq(gm_linear(&y, x, w, NULL, &err), GM_ESHAPE);
  ck_assert_ptr_nonnull(strstr(err.msg, "(2, 3)"));
  ck_assert_ptr_nonnull(strstr(err.msg, "(4, 5)"));
  ck_assert_int_eq(gm_linear(&y, x, wok, b, &err), GM_ESHAPE);
  ck_assert_ptr_nonnull(strstr(err.msg, "(3)"));
  ck_assert_int_eq(gm_linear(&y, x3, wok, NULL, &err), GM_ESHAPE);
  gm_tensor *all[] = {x, w, wok, b, x3};
  for (size_t i = 0; i < GM__COUNT(all); i++) gm_tensor_destroy(all[i]);
  gm_tape_reset(gmt_device());
}
END_TEST

int main(void) {
  Suite *s = suite_create("ops_linear");
  TCase *tc = tcase_create("linear");
  tcase_add_loop_test(tc, linear_forward_and_backward_match_reference, 0, (int)GM__COUNT(cases));
  tcase_add_test(tc, linear_gradient_only_for_inputs_that_require_it);
  tcase_add_test(tc, linear_forward_at_time_mlp_shape);
  tcase_add_test(tc, linear_refuses_bad_shapes);
  suite_add_tcase(s, tc);
  return gmt_run(s);
}
