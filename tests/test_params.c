/* The parameter store: declaration order and lookup, views into one flat value buffer and
 * one flat grad buffer, buffers of either dtype, refusals, zero_grad. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "optest.h"
#include "testlib.h"

/* A small model: two conv-like weights, a bias, batch-norm buffers. */
static gm_params *small_model(void) {
  gm_error err = {0};
  gm_params *p;
  gmt_ok(gm_params_create(&p, gmt_device(), &err), &err);
  gmt_ok(gm_params_declare(p, "conv.weight", GM_F32, 4, GM_SHAPE(4, 3, 3, 3), GM_PARAM_TRAINABLE, &err), &err);
  gmt_ok(gm_params_declare(p, "bn.running_mean", GM_F32, 1, GM_SHAPE(4), GM_PARAM_BUFFER, &err), &err);
  gmt_ok(gm_params_declare(p, "conv.bias", GM_F32, 1, GM_SHAPE(4), GM_PARAM_TRAINABLE, &err), &err);
  gmt_ok(gm_params_declare(p, "bn.num_batches_tracked", GM_I32, 0, NULL, GM_PARAM_BUFFER, &err), &err);
  gmt_ok(gm_params_declare(p, "fc.weight", GM_F32, 2, GM_SHAPE(5, 7), GM_PARAM_TRAINABLE, &err), &err);
  return p;
}

START_TEST(declare_finalize_and_find_keep_declaration_order) {
  gm_error err = {0};
  gm_params *p = small_model();
  ck_assert_int_eq(gm_params_count(p), 5);
  const char *name;
  int kind;
  ck_assert_ptr_null(gm_params_at(p, 0, &name, &kind));  /* no tensors before finalize */
  ck_assert_str_eq(name, "conv.weight");
  ck_assert_ptr_null(gm_params_flat(p));
  ck_assert_ptr_null(gm_params_find(p, "conv.weight"));
  gmt_ok(gm_params_finalize(p, &err), &err);

  static const char *names[] = {"conv.weight", "bn.running_mean", "conv.bias",
                                "bn.num_batches_tracked", "fc.weight"};
  static const int kinds[] = {GM_PARAM_TRAINABLE, GM_PARAM_BUFFER, GM_PARAM_TRAINABLE,
                              GM_PARAM_BUFFER, GM_PARAM_TRAINABLE};
  static const int64_t offsets[] = {0, 0, 108, 4, 112};
  static const int64_t numels[] = {108, 4, 4, 1, 35};
  for (int i = 0; i < 5; i++) {
    gm_tensor *t = gm_params_at(p, i, &name, &kind);
    ck_assert_ptr_nonnull(t);
    ck_assert_str_eq(name, names[i]);
    ck_assert_str_eq(t->name, names[i]);
    ck_assert_int_eq(kind, kinds[i]);
    ck_assert_int_eq(gm_params_offset(p, i), offsets[i]);
    ck_assert_int_eq(t->numel, numels[i]);
    ck_assert_ptr_eq(gm_params_find(p, names[i]), t);
    ck_assert_int_eq(t->requires_grad, kind == GM_PARAM_TRAINABLE);
    ck_assert(kind == GM_PARAM_TRAINABLE ? t->grad != NULL : t->grad == NULL);
  }
  ck_assert_int_eq(gm_params_find(p, "bn.num_batches_tracked")->dtype, GM_I32);
  ck_assert_int_eq(gm_params_find(p, "bn.num_batches_tracked")->ndim, 0);
  ck_assert_ptr_null(gm_params_find(p, "conv.weights"));
  ck_assert_ptr_null(gm_params_at(p, 5, NULL, NULL));
  ck_assert_int_eq(gm_params_offset(p, -1), -1);
  ck_assert_int_eq(gm_params_numel(p, GM_PARAM_TRAINABLE), 147);
  ck_assert_int_eq(gm_params_numel(p, GM_PARAM_BUFFER), 5);
  ck_assert_int_eq(gm_params_numel(p, GM_PARAM_TRAINABLE | GM_PARAM_BUFFER), 152);
  ck_assert_int_eq(gm_params_flat(p)->numel, 147);
  ck_assert_int_eq(gm_params_flat_grad(p)->numel, 147);
  ck_assert_ptr_eq(gm_params_flat(p)->grad, gm_params_flat_grad(p));
  ck_assert_int_eq(gm_params_flat_buffers(p)->numel, 5);
  gm_params_destroy(p);
}
END_TEST

START_TEST(views_share_the_flat_buffers) {
  gm_error err = {0};
  gm_params *p = small_model();
  gmt_ok(gm_params_finalize(p, &err), &err);
  /* Everything starts at zero. */
  float *z = gmt_read(gm_params_flat(p));
  for (int i = 0; i < 147; i++) ck_assert(z[i] == 0.0f);
  free(z);
  float flat[147];
  for (int i = 0; i < 147; i++) flat[i] = (float)i;
  gmt_ok(gm_tensor_write(gm_params_flat(p), flat, sizeof flat, &err), &err);
  for (int i = 0; i < gm_params_count(p); i++) {
    int kind;
    gm_tensor *t = gm_params_at(p, i, NULL, &kind);
    if (kind != GM_PARAM_TRAINABLE) continue;
    float *v = gmt_read(t);
    ck_assert_mem_eq(v, flat + gm_params_offset(p, i), gm_tensor_bytes(t));
    free(v);
  }
  /* Writing a view writes the flat buffer. */
  float bias[4] = {-1, -2, -3, -4};
  gmt_ok(gm_tensor_write(gm_params_find(p, "conv.bias"), bias, sizeof bias, &err), &err);
  float *f = gmt_read(gm_params_flat(p));
  ck_assert_mem_eq(f + 108, bias, sizeof bias);
  ck_assert(f[107] == 107.0f && f[112] == 112.0f);
  free(f);
  /* Buffers of both dtypes share the second storage. */
  float mean[4] = {0.5f, 1.5f, 2.5f, 3.5f};
  int32_t tracked = 12345;
  gmt_ok(gm_tensor_write(gm_params_find(p, "bn.running_mean"), mean, sizeof mean, &err), &err);
  gmt_ok(gm_tensor_write(gm_params_find(p, "bn.num_batches_tracked"), &tracked, 4, &err), &err);
  uint32_t words[5];
  gmt_ok(gm_tensor_read(gm_params_flat_buffers(p), words, sizeof words, &err), &err);
  ck_assert_mem_eq(words, mean, sizeof mean);
  ck_assert_mem_eq(&words[4], &tracked, 4);
  gm_params_destroy(p);
}
END_TEST

START_TEST(grads_are_views_into_the_flat_grad_and_backward_fills_them) {
  gm_error err = {0};
  gm_device *dev = gmt_device();
  gm_params *p = small_model();
  gmt_ok(gm_params_finalize(p, &err), &err);
  gm_tensor *w = gm_params_find(p, "fc.weight"), *b = gm_params_find(p, "conv.bias");
  float hw[35];
  for (int i = 0; i < 35; i++) hw[i] = (float)(i % 3) - 1.0f;  /* -1, 0, 1, ... */
  gmt_ok(gm_tensor_write(w, hw, sizeof hw, &err), &err);
  /* y = relu(w) + w: dw = (w > 0) + 1, straight into the flat grad. */
  gm_tensor *r, *y;
  gmt_ok(gm_relu(&r, w, &err), &err);
  gmt_ok(gm_add(&y, r, w, &err), &err);
  float up[35];
  for (int i = 0; i < 35; i++) up[i] = 1.0f;
  gmt_backward_from(y, up);
  ck_assert_ptr_eq(w->grad->buf, gm_params_flat_grad(p)->buf);
  float *g = gmt_read(gm_params_flat_grad(p));
  for (int i = 0; i < 147; i++) {
    float want = i >= 112 ? (hw[i - 112] > 0 ? 2.0f : 1.0f) : 0.0f;
    ck_assert_msg(g[i] == want, "flat grad %d: %g, want %g", i, (double)g[i], (double)want);
  }
  free(g);
  /* A write through one grad view lands in its slice. */
  float gb[4] = {9, 8, 7, 6};
  gmt_ok(gm_tensor_write(b->grad, gb, sizeof gb, &err), &err);
  g = gmt_read(gm_params_flat_grad(p));
  ck_assert_mem_eq(g + 108, gb, sizeof gb);
  free(g);
  /* zero_grad: one fill over everything. */
  gmt_ok(gm_params_zero_grad(p, &err), &err);
  g = gmt_read(gm_params_flat_grad(p));
  for (int i = 0; i < 147; i++) ck_assert(g[i] == 0.0f);
  free(g);
  gm_tape_reset(dev);
  gm_params_destroy(p);
}
END_TEST

START_TEST(bad_declarations_are_refused) {
  gm_error err = {0};
  gm_params *p;
  gmt_ok(gm_params_create(&p, gmt_device(), &err), &err);
  gmt_ok(gm_params_declare(p, "a", GM_F32, 1, GM_SHAPE(3), GM_PARAM_TRAINABLE, &err), &err);
  ck_assert_int_eq(gm_params_declare(p, "a", GM_F32, 1, GM_SHAPE(3), GM_PARAM_BUFFER, &err),
                   GM_EEXISTS);
  ck_assert_ptr_nonnull(strstr(err.msg, "'a'"));
  ck_assert_int_eq(gm_params_declare(p, "b", GM_I32, 1, GM_SHAPE(3), GM_PARAM_TRAINABLE, &err),
                   GM_EDTYPE);
  ck_assert_int_eq(gm_params_declare(p, "", GM_F32, 1, GM_SHAPE(3), GM_PARAM_TRAINABLE, &err),
                   GM_EINVAL);
  ck_assert_int_eq(gm_params_declare(p, "c", GM_F32, 1, GM_SHAPE(3), 3, &err), GM_EINVAL);
  ck_assert_int_eq(gm_params_declare(p, "d", GM_F32, 2, GM_SHAPE(3, -1), GM_PARAM_TRAINABLE, &err),
                   GM_EINVAL);
  ck_assert_int_eq(gm_params_zero_grad(p, &err), GM_EINVAL);
  ck_assert_int_eq(gm_params_count(p), 1);
  gmt_ok(gm_params_finalize(p, &err), &err);
  ck_assert_int_eq(gm_params_declare(p, "e", GM_F32, 1, GM_SHAPE(3), GM_PARAM_TRAINABLE, &err),
                   GM_EINVAL);
  ck_assert_int_eq(gm_params_finalize(p, &err), GM_EINVAL);
  ck_assert_int_eq(gm_params_count(p), 1);
  gm_params_destroy(p);
}
END_TEST

START_TEST(many_parameters_and_an_empty_store_work) {
  gm_error err = {0};
  gm_params *p;
  gmt_ok(gm_params_create(&p, gmt_device(), &err), &err);
  gmt_ok(gm_params_finalize(p, &err), &err);
  ck_assert_int_eq(gm_params_numel(p, GM_PARAM_TRAINABLE), 0);
  ck_assert_ptr_nonnull(gm_params_flat(p));
  gmt_ok(gm_params_zero_grad(p, &err), &err);
  gm_params_destroy(p);

  gmt_ok(gm_params_create(&p, gmt_device(), &err), &err);
  char name[32];
  for (int i = 0; i < 100; i++) {
    snprintf(name, sizeof name, "layer%d.weight", i);
    gmt_ok(gm_params_declare(p, name, GM_F32, 1, GM_SHAPE(i + 1), GM_PARAM_TRAINABLE, &err), &err);
  }
  gmt_ok(gm_params_finalize(p, &err), &err);
  ck_assert_int_eq(gm_params_numel(p, GM_PARAM_TRAINABLE), 5050);
  ck_assert_int_eq(gm_params_offset(p, 99), 4950);
  ck_assert_int_eq(gm_params_find(p, "layer99.weight")->numel, 100);
  gm_params_destroy(p);
}
END_TEST

int main(void) {
  Suite *s = suite_create("params");
  TCase *tc = tcase_create("params");
  tcase_add_test(tc, declare_finalize_and_find_keep_declaration_order);
  tcase_add_test(tc, views_share_the_flat_buffers);
  tcase_add_test(tc, grads_are_views_into_the_flat_grad_and_backward_fills_them);
  tcase_add_test(tc, bad_declarations_are_refused);
  tcase_add_test(tc, many_parameters_and_an_empty_store_work);
  suite_add_tcase(s, tc);
  return gmt_run(s);
}
