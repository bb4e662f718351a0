/* Dropout, an op family of its own (ops_dropout.h, kernels/dropout.cl): the forward
 * against a host reference of its documented mask (the device RNG's words, rng.h), the
 * backward against finite differences through the same mask, p = 0 as the identity, and
 * refusals. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "optest.h"
#include "testlib.h"

/* n uniforms drawn from r and dropped: the draw the backward must not be moved by. */
static void draw_something_else(gm_rng *r, int64_t n) {
  gm_error err = {0};
  gm_tensor *t = gmt_new_f32(n);
  gmt_ok(gm_rng_uniform(t, r, 0, 1, &err), &err);
  gm_tensor_destroy(t);
}

typedef struct { size_t n; const float *mask; double scale; } drop_ctx;

static void ref_dropout(void *ctx, double *const *in, double *out) {
  drop_ctx *c = ctx;
  for (size_t i = 0; i < c->n; i++) out[i] = in[0][i] * c->mask[i] * c->scale;
}

START_TEST(dropout_mask_statistics_and_scale) {
  gm_error err = {0};
  gm_device *dev = gmt_device();
  const int64_t n = 200000;
  const float p = 0.3f;
  gm_tensor *x = gmt_new_f32(n), *y;
  gmt_ok(gm_tensor_fill(x, 1.0, &err), &err);
  gm_rng r;
  gm_rng_init(&r, 5, 9);
  gm_rng at = r;
  gmt_ok(gm_dropout(&y, x, p, &r, &err), &err);
  ck_assert_uint_eq(r.offset, at.offset + 50000);
  float *h = gmt_read(y);
  float scale = 1.0f / (1.0f - p);
  int64_t dropped = 0;
  for (int64_t i = 0; i < n; i++) {
    int keep = gmt_rng_unit(gmt_rng_word(&at, (size_t)i)) >= p;
    ck_assert_msg(h[i] == (keep ? scale : 0.0f), "element %lld: %g", (long long)i, (double)h[i]);
    dropped += !keep;
  }
  ck_assert_msg(fabs((double)dropped / n - p) < 0.01, "dropped fraction %g", (double)dropped / n);
  gmt_cover("gm_dropout");  /* random: no op case, the mask checked word by word instead */
  free(h);
  gm_tape_reset(dev);
  gm_tensor_destroy(x);
}
END_TEST

static const int64_t drop_shapes[][4] = {{1, 1, 1, 1}, {2, 3, 5, 7}, {4, 16, 9, 9}};

START_TEST(dropout_backward_uses_the_forward_mask) {
  gm_error err = {0};
  gm_device *dev = gmt_device();
  const int64_t *shape = drop_shapes[_i];
  size_t n = (size_t)(shape[0] * shape[1] * shape[2] * shape[3]);
  gmt_rng hr;
  gmt_rng_seed(&hr, 300 + (uint64_t)_i);
  float *hx = malloc(n * 4), *up = malloc(n * 4), *mask = malloc(n * 4);
  gmt_fill_uniform(&hr, hx, n, -2, 2);
  gmt_fill_uniform(&hr, up, n, -1, 1);
  gm_tensor *x = gmt_tensor_from(4, shape, hx), *y;
  gm_tensor_set_requires_grad(x, 1, &err);
  const float p = 0.5f;
  gm_rng r;
  gm_rng_init(&r, 8, (uint64_t)_i);
  gm_rng at = r;
  gmt_ok(gm_dropout(&y, x, p, &r, &err), &err);
  ck_assert_uint_eq(gm_tape_node_count(dev), 1);
  for (size_t i = 0; i < n; i++) mask[i] = gmt_rng_unit(gmt_rng_word(&at, i)) >= p ? 1.0f : 0.0f;
  drop_ctx ctx = {n, mask, 1.0 / (1.0 - p)};
  double *dx = malloc(n * sizeof(double)), *want = malloc(n * sizeof(double));
  double *upd = malloc(n * sizeof(double)), *fd = malloc(n * sizeof(double));
  for (size_t i = 0; i < n; i++) {
    dx[i] = hx[i];
    upd[i] = up[i];
  }
  ref_dropout(&ctx, (double *[]){dx}, want);
  float *got = gmt_read(y), *wantf = malloc(n * 4);
  for (size_t i = 0; i < n; i++) wantf[i] = (float)want[i];
  gmt_assert_close(got, wantf, n, 1e-6, 0, "dropout forward");
  /* Draw something else from the same rng before backward: the mask must not move. */
  draw_something_else(&r, 64);
  gmt_backward_from(y, up);
  gmt_fd_grad(ref_dropout, &ctx, (double *[]){dx}, 0, n, n, upd, 1e-3, fd);
  float *g = gmt_read(x->grad);
  gmt_assert_grad(g, fd, n, 1e-3, 1e-6, "dropout backward");
  free(g);
  free(got);
  free(wantf);
  free(hx);
  free(up);
  free(mask);
  free(dx);
  free(want);
  free(upd);
  free(fd);
  gm_tape_reset(dev);
  gm_tensor_destroy(x);
}
END_TEST

START_TEST(dropout_with_p_zero_is_the_identity) {
  gm_error err = {0};
  gm_device *dev = gmt_device();
  gmt_rng hr;
  gmt_rng_seed(&hr, 17);
  float hx[37];
  gmt_fill_uniform(&hr, hx, 37, -5, 5);
  gm_tensor *x = gmt_tensor_from(2, GM_SHAPE(1, 37), hx), *y;
  gm_tensor_set_requires_grad(x, 1, &err);
  gm_rng r;
  gm_rng_init(&r, 1, 2);
  gmt_ok(gm_dropout(&y, x, 0.0f, &r, &err), &err);
  ck_assert_uint_eq(r.offset, 10);
  float *h = gmt_read(y);
  ck_assert_mem_eq(h, hx, sizeof hx);
  float ones[37];
  for (int i = 0; i < 37; i++) ones[i] = 1.0f;
  gmt_backward_from(y, ones);
  float *g = gmt_read(x->grad);
  ck_assert_mem_eq(g, ones, sizeof ones);
  free(h);
  free(g);
  gm_tape_reset(dev);
  gm_tensor_destroy(x);
}
END_TEST

START_TEST(dropout_refuses_p_outside_zero_to_one) {
  gm_error err = {0};
  gm_tensor *x = gmt_new_f32(4), *y = NULL;
  gm_rng r;
  gm_rng_init(&r, 1, 2);
  ck_assert_int_eq(gm_dropout(&y, x, 1.0f, &r, &err), GM_ERANGE);
  ck_assert_int_eq(gm_dropout(&y, x, -0.1f, &r, &err), GM_ERANGE);
  ck_assert_uint_eq(r.offset, 0);
  gm_tensor_destroy(x);
}
END_TEST

static Suite *make_suite(void) {
  Suite *s = suite_create("ops_dropout");
  TCase *tc = tcase_create("dropout");
  tcase_add_test(tc, dropout_mask_statistics_and_scale);
  tcase_add_loop_test(tc, dropout_backward_uses_the_forward_mask, 0, 3);
  tcase_add_test(tc, dropout_with_p_zero_is_the_identity);
  tcase_add_test(tc, dropout_refuses_p_outside_zero_to_one);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return gmt_run(make_suite()); }
