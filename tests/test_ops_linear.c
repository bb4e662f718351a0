/* gm_linear against a double-precision reference: forward on several shapes (with and
 * without bias, batch 1 and more), backward against central finite differences, and
 * refusal of mismatched shapes. */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "optest.h"
#include "testlib.h"

typedef struct lin_case { int b, in, out, bias; } lin_case;

/* in: x (B, in), w (out, in), b (out; absent without a bias). */
static void ref_linear(void *ctx, double *const *in, double *out) {
  const lin_case *c = ((const op_case *)ctx)->data;
  for (int i = 0; i < c->b; i++)
    for (int o = 0; o < c->out; o++) {
      double acc = c->bias ? in[2][o] : 0;
      for (int k = 0; k < c->in; k++)
        acc += in[0][(size_t)i * c->in + k] * in[1][(size_t)o * c->in + k];
      out[(size_t)i * c->out + o] = acc;
    }
}

static int call_linear(gm_tensor **y, gm_tensor *const *x, const op_case *c, gm_error *err) {
  (void)c;
  return gm_linear(y, x[0], x[1], x[2], err);
}

/* grads: which of x, w, b require grad (bits 0, 1, 2); 0 runs the forward only. */
static op_case linear_case(const lin_case *l, int grads, char *name, size_t name_size) {
  snprintf(name, name_size, "linear B %d in %d out %d bias %d", l->b, l->in, l->out, l->bias);
  op_case c = {.name = name, .op = "gm_linear", .n_in = 3, .ndim = {2, 2, 1},
               .shape = {{l->b, l->in}, {l->out, l->in}, {l->out}}, .lo = {-1, -1, -1},
               .hi = {1, 1, 1}, .absent = {0, 0, !l->bias}, .call = call_linear,
               .ref = ref_linear, .out_ndim = 2, .out_shape = {l->b, l->out},
               .forward_only = grads == 0, .data = l};
  for (int k = 0; k < 3; k++) c.skip_grad[k] = !(grads >> k & 1);
  return c;
}

static void check_linear(const lin_case *l, uint64_t seed, int grads) {
  char name[100];
  op_case c = linear_case(l, grads, name, sizeof name);
  gmt_run_op_case(&c, seed);
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
