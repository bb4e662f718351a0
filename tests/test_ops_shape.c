/* Shape ops against plain C references: forward on random data, backward against
 * central finite differences in double; refusals of bad shapes; int32 copies. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "optest.h"
#include "testlib.h"

/* ---- references, in double ---- */

static void ref_maxpool(void *ctx, double *const *in, double *out) {
  const op_case *c = ctx;
  const int64_t *s = c->shape[0];
  int64_t h = s[2], w = s[3], ho = h / 2, wo = w / 2;
  for (int64_t bc = 0; bc < s[0] * s[1]; bc++)
    for (int64_t i = 0; i < ho; i++)
      for (int64_t j = 0; j < wo; j++) {
        const double *p = in[0] + (bc * h + 2 * i) * w + 2 * j;
        double m = p[0];
        if (p[1] > m) m = p[1];
        if (p[w] > m) m = p[w];
        if (p[w + 1] > m) m = p[w + 1];
        out[(bc * ho + i) * wo + j] = m;
      }
}

static void ref_upsample(void *ctx, double *const *in, double *out) {
  const op_case *c = ctx;
  const int64_t *s = c->shape[0];
  int64_t h = s[2], w = s[3];
  for (int64_t bc = 0; bc < s[0] * s[1]; bc++)
    for (int64_t i = 0; i < 2 * h; i++)
      for (int64_t j = 0; j < 2 * w; j++)
        out[(bc * 2 * h + i) * 2 * w + j] = in[0][(bc * h + i / 2) * w + j / 2];
}

static int64_t inner_of(int ndim, const int64_t *shape) {
  int64_t n = 1;
  for (int d = 2; d < ndim; d++) n *= shape[d];
  return n;
}

static void ref_concat(void *ctx, double *const *in, double *out) {
  const op_case *c = ctx;
  int64_t batch = c->shape[0][0], inner = inner_of(c->ndim[0], c->shape[0]), total = 0;
  for (int k = 0; k < c->n_in; k++) total += c->shape[k][1];
  int64_t off = 0;
  for (int k = 0; k < c->n_in; k++) {
    int64_t ck = c->shape[k][1];
    for (int64_t b = 0; b < batch; b++)
      for (int64_t ch = 0; ch < ck; ch++)
        for (int64_t i = 0; i < inner; i++)
          out[(b * total + off + ch) * inner + i] = in[k][(b * ck + ch) * inner + i];
    off += ck;
  }
}

/* p[0] = start, out_shape[1] = count */
static void ref_slice(void *ctx, double *const *in, double *out) {
  const op_case *c = ctx;
  int64_t batch = c->shape[0][0], ch = c->shape[0][1], inner = inner_of(c->ndim[0], c->shape[0]);
  int64_t start = c->ip[0], count = c->ip[1];
  for (int64_t b = 0; b < batch; b++)
    for (int64_t k = 0; k < count; k++)
      for (int64_t i = 0; i < inner; i++)
        out[(b * count + k) * inner + i] = in[0][(b * ch + start + k) * inner + i];
}

/* ip[0..ndim) = perm */
static void ref_permute(void *ctx, double *const *in, double *out) {
  const op_case *c = ctx;
  int nd = c->ndim[0];
  const int64_t *xs = c->shape[0];
  int64_t xstride[GM_MAX_DIMS], acc = 1;
  for (int d = nd - 1; d >= 0; d--) {
    xstride[d] = acc;
    acc *= xs[d];
  }
  size_t n = gmt_numel(nd, xs);
  for (size_t o = 0; o < n; o++) {
    size_t rem = o;
    int64_t off = 0;
    for (int d = nd - 1; d >= 0; d--) {
      int64_t yd = xs[c->ip[d]];
      off += (int64_t)(rem % (size_t)yd) * xstride[c->ip[d]];
      rem /= (size_t)yd;
    }
    out[o] = in[0][off];
  }
}

static void ref_identity(void *ctx, double *const *in, double *out) {
  const op_case *c = ctx;
  size_t n = gmt_numel(c->ndim[0], c->shape[0]);
  memcpy(out, in[0], n * sizeof(double));
}

/* ---- calls ---- */

static int call_maxpool(gm_tensor **y, gm_tensor *const *x, const op_case *c, gm_error *err) {
  (void)c;
  return gm_maxpool2x2(y, x[0], err);
}
static int call_upsample(gm_tensor **y, gm_tensor *const *x, const op_case *c, gm_error *err) {
  (void)c;
  return gm_upsample2x(y, x[0], err);
}
static int call_concat(gm_tensor **y, gm_tensor *const *x, const op_case *c, gm_error *err) {
  return gm_concat_channels(y, x, c->n_in, err);
}
static int call_slice(gm_tensor **y, gm_tensor *const *x, const op_case *c, gm_error *err) {
  return gm_slice_channels(y, x[0], c->ip[0], c->ip[1], err);
}
static int call_permute(gm_tensor **y, gm_tensor *const *x, const op_case *c, gm_error *err) {
  return gm_permute(y, x[0], c->ip, err);
}
static int call_reshape(gm_tensor **y, gm_tensor *const *x, const op_case *c, gm_error *err) {
  return gm_reshape(y, x[0], c->out_ndim, c->out_shape, err);
}

/* Distinct values 0.01 apart in random order: no ties in any window, and every window's
 * maximum leads by more than the finite-difference step. */
static void fill_distinct(gmt_rng *r, float *x, size_t n, int k, const op_case *c) {
  (void)k;
  (void)c;
  for (size_t i = 0; i < n; i++) x[i] = 0.01f * (float)i - 0.005f * (float)n;
  for (size_t i = n; i > 1; i--) {
    size_t j = (size_t)gmt_uniform(r, 0, (float)i);
    if (j >= i) j = i - 1;
    float t = x[i - 1];
    x[i - 1] = x[j];
    x[j] = t;
  }
}

/* ---- cases ---- */

static const int64_t pool_shapes[][4] = {{1, 1, 2, 2}, {2, 3, 6, 8}, {3, 2, 10, 4}, {2, 5, 4, 14}};

START_TEST(maxpool2x2_matches_reference) {
  const int64_t *s = pool_shapes[_i];
  op_case c = {.name = "maxpool2x2", .op = "gm_maxpool2x2",
               .n_in = 1, .ndim = {4}, .fill = fill_distinct,
               .call = call_maxpool, .ref = ref_maxpool, .out_ndim = 4,
               .out_shape = {s[0], s[1], s[2] / 2, s[3] / 2}};
  memcpy(c.shape[0], s, 4 * sizeof *s);
  gmt_run_op_case(&c, 200 + _i);
}
END_TEST

START_TEST(maxpool2x2_ties_send_the_gradient_to_the_first_maximum) {
  gm_error err = {0};
  /* window 0: all 5 -> top-left; window 1: {1, 7 / 7, 7} -> top-right */
  gm_tensor *x = gmt_tensor_from(4, GM_SHAPE(1, 1, 2, 4), (float[]){5, 5, 1, 7, 5, 5, 7, 7}), *y;
  gmt_ok(gm_tensor_set_requires_grad(x, 1, &err), &err);
  gmt_ok(gm_maxpool2x2(&y, x, &err), &err);
  float *got = gmt_read(y);
  gmt_assert_close(got, ((float[]){5, 7}), 2, 0, 0, "maxpool with ties");
  gmt_backward_from(y, (float[]){2, 3});
  float *g = gmt_read(x->grad);
  gmt_assert_close(g, ((float[]){2, 0, 0, 3, 0, 0, 0, 0}), 8, 0, 0, "tie gradient");
  free(got);
  free(g);
  gm_tape_reset(gmt_device());
  gm_tensor_destroy(x);
}
END_TEST

static const int64_t up_shapes[][4] = {{1, 1, 1, 1}, {2, 3, 5, 7}, {1, 4, 3, 8}};

START_TEST(upsample2x_matches_reference) {
  const int64_t *s = up_shapes[_i];
  op_case c = {.name = "upsample2x", .op = "gm_upsample2x",
               .n_in = 1, .ndim = {4}, .lo = {-2}, .hi = {2},
               .call = call_upsample, .ref = ref_upsample, .out_ndim = 4,
               .out_shape = {s[0], s[1], s[2] * 2, s[3] * 2}};
  memcpy(c.shape[0], s, 4 * sizeof *s);
  gmt_run_op_case(&c, 210 + _i);
}
END_TEST

static const op_case concat_cases[] = {
    {.name = "concat 2 maps", .op = "gm_concat_channels",
     .n_in = 2, .ndim = {4, 4}, .shape = {{2, 3, 5, 7}, {2, 4, 5, 7}},
     .out_ndim = 4, .out_shape = {2, 7, 5, 7}},
    {.name = "concat 3 maps", .op = "gm_concat_channels", .n_in = 3, .ndim = {4, 4, 4},
     .shape = {{1, 1, 4, 4}, {1, 2, 4, 4}, {1, 5, 4, 4}}, .out_ndim = 4, .out_shape = {1, 8, 4, 4}},
    {.name = "concat rows", .op = "gm_concat_channels",
     .n_in = 2, .ndim = {2, 2}, .shape = {{3, 2}, {3, 5}}, .out_ndim = 2,
     .out_shape = {3, 7}},
    {.name = "concat, second without grad", .op = "gm_concat_channels", .n_in = 2, .ndim = {4, 4},
     .shape = {{3, 2, 3, 3}, {3, 1, 3, 3}}, .out_ndim = 4, .out_shape = {3, 3, 3, 3},
     .skip_grad = {0, 1}},
    {.name = "concat 5-d", .op = "gm_concat_channels",
     .n_in = 2, .ndim = {5, 5}, .shape = {{2, 1, 2, 3, 2}, {2, 2, 2, 3, 2}},
     .out_ndim = 5, .out_shape = {2, 3, 2, 3, 2}},
};

START_TEST(concat_channels_matches_reference) {
  op_case c = concat_cases[_i];
  for (int k = 0; k < c.n_in; k++) {
    c.lo[k] = -2;
    c.hi[k] = 2;
  }
  c.call = call_concat;
  c.ref = ref_concat;
  gmt_run_op_case(&c, 220 + _i);
}
END_TEST

START_TEST(concat_channels_backward_serves_more_inputs_than_a_node_holds) {
  enum { N = 9 };
  gm_error err = {0};
  gm_tensor *xs[N], *y;
  for (int k = 0; k < N; k++) {
    xs[k] = gmt_tensor_from(4, GM_SHAPE(2, 1, 2, 2), NULL);
    gmt_ok(gm_tensor_fill(xs[k], k, &err), &err);
    gmt_ok(gm_tensor_set_requires_grad(xs[k], 1, &err), &err);
  }
  gmt_ok(gm_concat_channels(&y, xs, N, &err), &err);
  ck_assert_int_eq(y->shape[1], N);
  float up[2 * N * 4];
  for (int i = 0; i < 2 * N * 4; i++) up[i] = (float)i;
  gmt_backward_from(y, up);
  for (int k = 0; k < N; k++) {
    float *g = gmt_read(xs[k]->grad), want[8];
    for (int b = 0; b < 2; b++)
      for (int i = 0; i < 4; i++) want[b * 4 + i] = up[(b * N + k) * 4 + i];
    gmt_assert_close(g, want, 8, 0, 0, "gradient of one of nine concatenated inputs");
    free(g);
  }
  gm_tape_reset(gmt_device());
  for (int k = 0; k < N; k++) gm_tensor_destroy(xs[k]);
}
END_TEST

static const op_case slice_cases[] = {
    {.name = "slice middle", .op = "gm_slice_channels",
     .ndim = {4}, .shape = {{2, 7, 5, 3}}, .ip = {2, 4}, .out_ndim = 4,
     .out_shape = {2, 4, 5, 3}},
    {.name = "slice all rows", .op = "gm_slice_channels",
     .ndim = {2}, .shape = {{3, 5}}, .ip = {0, 5}, .out_ndim = 2,
     .out_shape = {3, 5}},
    {.name = "slice last channel", .op = "gm_slice_channels",
     .ndim = {4}, .shape = {{1, 4, 2, 2}}, .ip = {3, 1},
     .out_ndim = 4, .out_shape = {1, 1, 2, 2}},
};

START_TEST(slice_channels_matches_reference) {
  op_case c = slice_cases[_i];
  c.n_in = 1;
  c.lo[0] = -2;
  c.hi[0] = 2;
  c.call = call_slice;
  c.ref = ref_slice;
  gmt_run_op_case(&c, 230 + _i);
}
END_TEST

static const op_case permute_cases[] = {
    {.name = "permute NCHW -> NHWC", .op = "gm_permute",
     .ndim = {4}, .shape = {{2, 3, 4, 5}}, .ip = {0, 2, 3, 1},
     .out_ndim = 4, .out_shape = {2, 4, 5, 3}},
    {.name = "permute transpose", .op = "gm_permute",
     .ndim = {2}, .shape = {{3, 4}}, .ip = {1, 0}, .out_ndim = 2,
     .out_shape = {4, 3}},
    {.name = "permute 5-d", .op = "gm_permute",
     .ndim = {5}, .shape = {{2, 3, 1, 4, 5}}, .ip = {4, 2, 0, 3, 1},
     .out_ndim = 5, .out_shape = {5, 1, 2, 4, 3}},
    {.name = "permute 1-d", .op = "gm_permute",
     .ndim = {1}, .shape = {{7}}, .ip = {0}, .out_ndim = 1,
     .out_shape = {7}},
    {.name = "permute 3-d", .op = "gm_permute",
     .ndim = {3}, .shape = {{3, 5, 2}}, .ip = {2, 0, 1}, .out_ndim = 3,
     .out_shape = {2, 3, 5}},
};

START_TEST(permute_matches_reference) {
  op_case c = permute_cases[_i];
  c.n_in = 1;
  c.lo[0] = -2;
  c.hi[0] = 2;
  c.call = call_permute;
  c.ref = ref_permute;
  gmt_run_op_case(&c, 240 + _i);
}
END_TEST

START_TEST(reshape_is_a_view_and_passes_the_gradient) {
  op_case c = {.name = "reshape", .op = "gm_reshape",
               .n_in = 1, .ndim = {4}, .shape = {{2, 3, 4, 5}}, .lo = {-2},
               .hi = {2}, .call = call_reshape, .ref = ref_identity, .out_ndim = 2,
               .out_shape = {6, 20}};
  gmt_run_op_case(&c, 250);
  gm_error err = {0};
  gm_tensor *x = gmt_tensor_from(3, GM_SHAPE(2, 3, 4), NULL), *y;
  gmt_ok(gm_reshape(&y, x, 2, GM_SHAPE(4, 6), &err), &err);
  ck_assert_ptr_eq(y->buf, x->buf);
  ck_assert_uint_eq(y->offset, x->offset);
  ck_assert_int_eq(y->ndim, 2);
  ck_assert_int_eq(y->shape[0], 4);
  ck_assert_int_eq(y->shape[1], 6);
  gm_tape_reset(gmt_device());
  gm_tensor_destroy(x);
}
END_TEST

START_TEST(copies_move_int32_bits_exactly) {
  gm_error err = {0};
  gm_device *dev = gmt_device();
  /* includes the bit patterns of a signalling NaN and of -0.0f as floats */
  const int32_t a[4] = {-1, 2147483647, 0x7f800001, (int32_t)0x80000000};
  const int32_t b[4] = {7, -7, 0x7fc00001, 0};
  gm_tensor *ta, *tb, *y, *p, *s, *u;
  gmt_ok(gm_tensor_create(&ta, dev, GM_I32, 4, GM_SHAPE(1, 1, 2, 2), &err), &err);
  gmt_ok(gm_tensor_create(&tb, dev, GM_I32, 4, GM_SHAPE(1, 1, 2, 2), &err), &err);
  gmt_ok(gm_tensor_write(ta, a, sizeof a, &err), &err);
  gmt_ok(gm_tensor_write(tb, b, sizeof b, &err), &err);
  gmt_ok(gm_concat_channels(&y, (gm_tensor *[]){ta, tb}, 2, &err), &err);
  ck_assert_int_eq(y->dtype, GM_I32);
  gmt_ok(gm_permute(&p, y, (const int[]){0, 2, 3, 1}, &err), &err);
  gmt_ok(gm_slice_channels(&s, y, 1, 1, &err), &err);
  gmt_ok(gm_upsample2x(&u, ta, &err), &err);
  int32_t got_y[8], got_p[8], got_s[4], got_u[16];
  gmt_ok(gm_tensor_read(y, got_y, sizeof got_y, &err), &err);
  gmt_ok(gm_tensor_read(p, got_p, sizeof got_p, &err), &err);
  gmt_ok(gm_tensor_read(s, got_s, sizeof got_s, &err), &err);
  gmt_ok(gm_tensor_read(u, got_u, sizeof got_u, &err), &err);
  for (int i = 0; i < 4; i++) {
    ck_assert_int_eq(got_y[i], a[i]);
    ck_assert_int_eq(got_y[4 + i], b[i]);
    ck_assert_int_eq(got_p[2 * i], a[i]);
    ck_assert_int_eq(got_p[2 * i + 1], b[i]);
    ck_assert_int_eq(got_s[i], b[i]);
  }
  for (int i = 0; i < 16; i++) ck_assert_int_eq(got_u[i], a[(i / 8) * 2 + (i % 4) / 2]);
  gm_tape_reset(dev);
  gm_tensor_destroy(ta);
  gm_tensor_destroy(tb);
}
END_TEST

/* ---- refusals ---- */

START_TEST(bad_shapes_are_refused_with_messages) {
  gm_device *dev = gmt_device();
  gm_error err = {0};
  gm_tensor *odd = gmt_tensor_from(4, GM_SHAPE(1, 2, 5, 4), NULL);
  gm_tensor *oddw = gmt_tensor_from(4, GM_SHAPE(1, 2, 4, 3), NULL);
  gm_tensor *flat = gmt_tensor_from(3, GM_SHAPE(1, 2, 4), NULL);
  gm_tensor *a = gmt_tensor_from(4, GM_SHAPE(2, 3, 4, 4), NULL);
  gm_tensor *b_batch = gmt_tensor_from(4, GM_SHAPE(3, 3, 4, 4), NULL);
  gm_tensor *b_h = gmt_tensor_from(4, GM_SHAPE(2, 3, 5, 4), NULL);
  gm_tensor *b_w = gmt_tensor_from(4, GM_SHAPE(2, 1, 4, 2), NULL);
  gm_tensor *b_nd = gmt_tensor_from(3, GM_SHAPE(2, 3, 16), NULL);
  gm_tensor *b_int;
  gmt_ok(gm_tensor_create(&b_int, dev, GM_I32, 4, GM_SHAPE(2, 1, 4, 4), &err), &err);

  EXPECT_REFUSAL(gm_maxpool2x2(&y_, odd, &e_), GM_ESHAPE, "(1, 2, 5, 4)");
  EXPECT_REFUSAL(gm_maxpool2x2(&y_, oddw, &e_), GM_ESHAPE, "even");
  EXPECT_REFUSAL(gm_maxpool2x2(&y_, flat, &e_), GM_ESHAPE, "maxpool2x2");
  EXPECT_REFUSAL(gm_upsample2x(&y_, flat, &e_), GM_ESHAPE, "upsample2x");
  EXPECT_REFUSAL(gm_concat_channels(&y_, (gm_tensor *[]){a, b_batch}, 2, &e_), GM_ESHAPE,
                 "(3, 3, 4, 4)");
  EXPECT_REFUSAL(gm_concat_channels(&y_, (gm_tensor *[]){a, b_h}, 2, &e_), GM_ESHAPE,
                 "(2, 3, 5, 4)");
  EXPECT_REFUSAL(gm_concat_channels(&y_, (gm_tensor *[]){a, a, b_w}, 3, &e_), GM_ESHAPE,
                 "input 2");
  EXPECT_REFUSAL(gm_concat_channels(&y_, (gm_tensor *[]){a, b_nd}, 2, &e_), GM_ESHAPE,
                 "(2, 3, 16)");
  EXPECT_REFUSAL(gm_concat_channels(&y_, (gm_tensor *[]){a, b_int}, 2, &e_), GM_EDTYPE, "int32");
  EXPECT_REFUSAL(gm_concat_channels(&y_, (gm_tensor *[]){a}, 0, &e_), GM_EINVAL, "at least one");
  EXPECT_REFUSAL(gm_slice_channels(&y_, a, 2, 2, &e_), GM_ERANGE, "3 channels");
  EXPECT_REFUSAL(gm_slice_channels(&y_, a, -1, 2, &e_), GM_ERANGE, "start -1");
  EXPECT_REFUSAL(gm_slice_channels(&y_, a, 0, 0, &e_), GM_ERANGE, "count 0");
  EXPECT_REFUSAL(gm_permute(&y_, a, (const int[]){0, 1, 1, 3}, &e_), GM_EINVAL, "twice");
  EXPECT_REFUSAL(gm_permute(&y_, a, (const int[]){0, 1, 2, 4}, &e_), GM_EINVAL, "perm[3] = 4");
  EXPECT_REFUSAL(gm_reshape(&y_, a, 2, GM_SHAPE(5, 20), &e_), GM_ESHAPE, "96 elements");
  EXPECT_REFUSAL(gm_reshape(&y_, a, 6, GM_SHAPE(1, 1, 2, 3, 4, 4), &e_), GM_ESHAPE, "6 dimensions");

  gm_tape_reset(dev);
  gm_tensor *all[] = {odd, oddw, flat, a, b_batch, b_h, b_w, b_nd, b_int};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) gm_tensor_destroy(all[i]);
}
END_TEST

int main(void) {
  Suite *s = suite_create("ops_shape");
  TCase *tc = tcase_create("shape");
  tcase_add_loop_test(tc, maxpool2x2_matches_reference, 0, 4);
  tcase_add_test(tc, maxpool2x2_ties_send_the_gradient_to_the_first_maximum);
  tcase_add_loop_test(tc, upsample2x_matches_reference, 0, 3);
  tcase_add_loop_test(tc, concat_channels_matches_reference, 0, 5);
  tcase_add_test(tc, concat_channels_backward_serves_more_inputs_than_a_node_holds);
  tcase_add_loop_test(tc, slice_channels_matches_reference, 0, 3);
  tcase_add_loop_test(tc, permute_matches_reference, 0, 5);
  tcase_add_test(tc, reshape_is_a_view_and_passes_the_gradient);
  tcase_add_test(tc, copies_move_int32_bits_exactly);
  tcase_add_test(tc, bad_shapes_are_refused_with_messages);
  suite_add_tcase(s, tc);
  return gmt_run(s);
}
