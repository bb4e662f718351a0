/* The pixel-model ops as op cases against double references: quantisation of 0..255
 * values, windows (crop and zero pad) with their gradient, window writes, the gated
 * activation with its gradient by finite differences, convolution on a window of its
 * output and at one position (against the double conv and gm_conv2d, direct and GEMM
 * paths), and pixel puts; bad arguments. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convref.h"
#include "internal.h"
#include "ops_pixel_internal.h"
#include "testlib.h"

/* ---- quantize ---- */

/* ip = {levels, dtype} */
static void ref_quantize(void *ctx, double *const *in, double *out) {
  const op_case *c = ctx;
  for (size_t i = 0; i < gmt_numel(c->ndim[0], c->shape[0]); i++) {
    double q = floor(in[0][i] * c->ip[0] / 256);
    out[i] = isnan(q) || q < 0 ? 0 : q > c->ip[0] - 1 ? c->ip[0] - 1 : q;
  }
}

static int call_quantize(gm_tensor **y, gm_tensor *const *x, const op_case *c, gm_error *err) {
  return gm_quantize(y, x[0], c->ip[0], (gm_dtype)c->ip[1], err);
}

/* Class edges, values outside 0..255 and NaN, then draws over -8..264. */
static void fill_pixel_values(gmt_rng *r, float *x, size_t n, int k, const op_case *c) {
  (void)k, (void)c;
  static const float v[] = {0, 15.9f, 16, 17, 127.5f, 240, 255, 255.9f, -3, 300, NAN};
  for (size_t i = 0; i < n; i++)
    x[i] = i < GM__COUNT(v) ? v[i] : gmt_uniform(r, -8, 264);
}

START_TEST(quantize_maps_pixel_values_to_classes) {
  const int levels[] = {16, 256, 16, 7};
  const gm_dtype types[] = {GM_I32, GM_I32, GM_F32, GM_I32};
  for (int t = 0; t < 4; t++) {
    op_case c = {.name = "quantize", .op = "gm_quantize", .n_in = 1, .ndim = {1},
                 .shape = {{300}}, .fill = fill_pixel_values, .call = call_quantize,
                 .ref = ref_quantize, .out_ndim = 1, .out_shape = {300}, .forward_only = 1,
                 .out_dtype = {types[t]}, .exact = 1, .ip = {levels[t], (int)types[t]}};
    gmt_run_op_case(&c, 20 + (uint64_t)t);
  }
  gm_error err = {0};
  gm_tensor *x = gmt_tensor_from(1, GM_SHAPE(4), NULL), *q;
  ck_assert_int_eq(gm_quantize(&q, x, 0, GM_I32, &err), GM_EINVAL);
  ck_assert_int_eq(gm_quantize(&q, x, 16, (gm_dtype)5, &err), GM_EDTYPE);
  gm_tensor_destroy(x);
  gm_tape_reset(gmt_device());
}
END_TEST

/* ---- windows ---- */

/* ip = {top, left, h, w}: zero outside x */
static void ref_window(void *ctx, double *const *in, double *out) {
  const op_case *c = ctx;
  int64_t bc = c->shape[0][0] * c->shape[0][1], hx = c->shape[0][2], wx = c->shape[0][3];
  size_t o = 0;
  for (int64_t p = 0; p < bc; p++)
    for (int r = 0; r < c->ip[2]; r++)
      for (int q = 0; q < c->ip[3]; q++, o++) {
        int64_t iy = c->ip[0] + r, ix = c->ip[1] + q;
        out[o] = iy < 0 || iy >= hx || ix < 0 || ix >= wx ? 0 : in[0][(p * hx + iy) * wx + ix];
      }
}

static int call_window(gm_tensor **y, gm_tensor *const *x, const op_case *c, gm_error *err) {
  return gm_window(y, x[0], c->ip[0], c->ip[1], c->ip[2], c->ip[3], err);
}

/* x (b, ch, hx, wx) to the window {top, left, h, w}: copies, so the forward is exact and
 * the gradient (dy summed where it overlaps) within rounding of the differences. */
static op_case window_case(int b, int ch, int hx, int wx, const int *win) {
  op_case c = {.name = "window", .op = "gm_window", .n_in = 1, .ndim = {4},
               .shape = {{b, ch, hx, wx}}, .lo = {-1}, .hi = {1}, .call = call_window,
               .ref = ref_window, .out_ndim = 4, .out_shape = {b, ch, win[2], win[3]},
               .exact = 1, .grad_rtol = 1e-9, .grad_atol = 1e-12,
               .ip = {win[0], win[1], win[2], win[3]}};
  return c;
}

static const int win_cases[][4] = {
    /* top, left, h, w over a 5 x 6 map */
    {1, 2, 3, 3}, {-2, -1, 4, 4}, {-1, -2, 7, 10}, {4, 5, 3, 3}, {0, 0, 5, 6}, {-3, 0, 8, 6},
};

START_TEST(window_crops_and_zero_pads) {
  op_case c = window_case(2, 3, 5, 6, win_cases[_i]);
  gmt_run_op_case(&c, 700 + (uint64_t)_i);
}
END_TEST

/* i * 1000 + 7: int32 values a float would round */
static void fill_counts(gmt_rng *r, float *x, size_t n, int k, const op_case *c) {
  (void)r, (void)k, (void)c;
  for (size_t i = 0; i < n; i++) x[i] = (float)i * 1000 + 7;
}

START_TEST(window_copies_int32_maps) {
  op_case c = window_case(2, 1, 3, 3, (const int[]){1, -1, 2, 2});
  c.dtype[0] = c.out_dtype[0] = GM_I32;
  c.fill = fill_counts;
  c.forward_only = 1;   /* {0, 3007, 0, 6007, 0, 12007, 0, 15007} */
  gmt_run_op_case(&c, 710);
}
END_TEST

/* in: dst, src; ip = {top, left}: dst with src written over it where they overlap */
static void ref_window_write(void *ctx, double *const *in, double *out) {
  const op_case *c = ctx;
  int64_t bc = c->shape[0][0] * c->shape[0][1], hd = c->shape[0][2], wd = c->shape[0][3];
  int64_t hs = c->shape[1][2], ws = c->shape[1][3];
  for (size_t i = 0; i < gmt_numel(4, c->shape[0]); i++) out[i] = in[0][i];
  for (int64_t p = 0; p < bc; p++)
    for (int64_t r = 0; r < hs; r++)
      for (int64_t q = 0; q < ws; q++) {
        int64_t iy = c->ip[0] + r, ix = c->ip[1] + q;
        if (iy >= 0 && iy < hd && ix >= 0 && ix < wd)
          out[(p * hd + iy) * wd + ix] = in[1][(p * hs + r) * ws + q];
      }
}

/* In place: the output is dst. */
static int call_window_write(gm_tensor **y, gm_tensor *const *x, const op_case *c,
                             gm_error *err) {
  y[0] = x[0];
  return gm_window_write(x[0], x[1], c->ip[0], c->ip[1], err);
}

START_TEST(window_write_puts_a_block_back_clipped) {
  const int tops[] = {1, -1, 2}, lefts[] = {1, -2, 3};
  for (int k = 0; k < 3; k++) {
    op_case c = {.name = "window_write", .op = "gm_window_write", .n_in = 2, .ndim = {4, 4},
                 .shape = {{2, 2, 4, 5}, {2, 2, 3, 3}}, .lo = {0, -37}, .hi = {40, -1},
                 .call = call_window_write, .ref = ref_window_write, .out_ndim = 4,
                 .out_shape = {2, 2, 4, 5}, .forward_only = 1, .exact = 1,
                 .ip = {tops[k], lefts[k]}};
    gmt_run_op_case(&c, 720 + (uint64_t)k);
  }
  gm_error err = {0};
  gm_tensor *dst = gmt_tensor_from(4, GM_SHAPE(2, 2, 4, 5), NULL);
  gm_tensor *wrong = gmt_tensor_from(4, GM_SHAPE(2, 3, 1, 1), NULL);
  ck_assert_int_eq(gm_window_write(dst, wrong, 0, 0, &err), GM_ESHAPE);
  gm_tensor_destroy(dst);
  gm_tensor_destroy(wrong);
}
END_TEST

/* ---- gate ---- */

/* x (B, C, inner) to (B, C/2, inner) */
static void ref_gate(void *ctx, double *const *in, double *out) {
  const op_case *g = ctx;
  int64_t b = g->shape[0][0], ch = g->shape[0][1], inner = g->shape[0][2], half = ch / 2;
  for (int64_t n = 0; n < b; n++)
    for (int64_t c = 0; c < half; c++)
      for (int64_t i = 0; i < inner; i++) {
        double a = in[0][(n * ch + c) * inner + i];
        double s = in[0][(n * ch + c + half) * inner + i];
        out[(n * half + c) * inner + i] = tanh(a) / (1 + exp(-s));
      }
}

static int call_gate(gm_tensor **y, gm_tensor *const *x, const op_case *c, gm_error *err) {
  (void)c;
  return gm_gate(y, x[0], err);
}

/* Saturated tanh and sigmoid stay finite. */
static void fill_saturated(gmt_rng *r, float *const *x, const size_t *n, const op_case *c) {
  (void)r, (void)n;
  x[0][0] = 30;
  x[0][c->shape[0][2] * 3] = -40;
}

START_TEST(gate_is_tanh_times_sigmoid_with_its_gradient) {
  op_case c = {.name = "gate", .op = "gm_gate", .n_in = 1, .ndim = {3}, .shape = {{2, 6, 12}},
               .lo = {-4}, .hi = {4}, .fill_all = fill_saturated, .call = call_gate,
               .ref = ref_gate, .out_ndim = 3, .out_shape = {2, 3, 12}, .rtol = 1e-5,
               .atol = 1e-6, .grad_rtol = 1e-4, .grad_atol = 1e-6, .fd_eps = 1e-4};
  gmt_run_op_case(&c, 31);
  gm_error err = {0};
  gm_tensor *odd = gmt_tensor_from(2, GM_SHAPE(2, 3), NULL), *y;
  ck_assert_int_eq(gm_gate(&y, odd, &err), GM_ESHAPE);
  gm_tensor_destroy(odd);
}
END_TEST

/* ---- conv2d on a window ---- */

typedef struct wconv_case {
  int b, cin, h, w, cout, kh, kw, stride, ph, pw, bias, mask;
  int row0, col0, rows, cols;
  int gemm;  /* 1: through gm_conv2d's GEMM rather than dot products */
  int taps;  /* gm_conv2d_opts.taps */
} wconv_case;

static const wconv_case wconv_cases[] = {
    /* one position: a PixelCNN 7x7 type-B layer at an inner and an edge pixel */
    {4, 8, 9, 9, 6, 7, 7, 1, 3, 3, 1, GM_MASK_B, 4, 5, 1, 1, 0, 0},
    {4, 8, 9, 9, 6, 7, 7, 1, 3, 3, 1, GM_MASK_B, 0, 8, 1, 1, 0, 0},
    {4, 8, 9, 9, 6, 7, 7, 1, 3, 3, 1, GM_MASK_B, 4, 5, 1, 1, 1, 0},
    /* rows above only: a (2, 3) kernel padded (2, 1), window on the top row */
    {3, 5, 6, 7, 10, 2, 3, 1, 2, 1, 1, 0, 0, 0, 1, 7, 0, 0},
    /* a full row, 1 x 2 kernel left-padded, both ways */
    {16, 6, 8, 8, 12, 1, 2, 1, 0, 1, 1, 0, 3, 0, 1, 8, 0, 0},
    {16, 6, 8, 8, 12, 1, 2, 1, 0, 1, 1, 0, 3, 0, 1, 8, 1, 0},
    /* stride 2 with a mask, both ways; K = 27 exercises the 16-wide loop and its tail */
    {2, 3, 9, 10, 4, 3, 3, 2, 1, 1, 0, GM_MASK_A, 1, 2, 2, 3, 0, 0},
    {8, 3, 9, 10, 4, 3, 3, 2, 1, 1, 0, GM_MASK_A, 1, 0, 3, 5, 1, 0},
    /* 1x1 on a 1x1 map (the gated PixelCNN's head during sampling), K = 9 < 16 */
    {5, 9, 1, 1, 48, 1, 1, 1, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0},
    /* 9x9 at the bottom-right corner, K = 324 */
    {2, 4, 11, 11, 3, 9, 9, 1, 4, 4, 1, GM_MASK_B, 10, 10, 1, 1, 0, 0},
    /* taps: the 7x7 type-B mask's 25 positions and an unmasked prefix, both ways */
    {4, 8, 9, 9, 6, 7, 7, 1, 3, 3, 1, GM_MASK_B, 4, 5, 1, 1, 0, 25},
    {4, 8, 9, 9, 6, 7, 7, 1, 3, 3, 1, GM_MASK_B, 4, 5, 1, 1, 1, 25},
    {3, 5, 6, 7, 10, 3, 3, 1, 1, 1, 1, 0, 2, 1, 2, 3, 0, 5},
    {3, 5, 6, 7, 10, 3, 3, 1, 1, 1, 1, 0, 2, 1, 2, 3, 1, 5},
};

/* A window case as the double reference sees it (conv first: fill reads it as the data). */
typedef struct wconv_run {
  gmt_conv_case conv;
  const wconv_case *win;
} wconv_run;

static void ref_conv2d_window(void *ctx, double *const *in, double *out) {
  const wconv_run *r = ((const op_case *)ctx)->data;
  const wconv_case *c = r->win;
  int ho = gmt_conv_out_h(&r->conv), wo = gmt_conv_out_w(&r->conv);
  double *full = malloc((size_t)c->b * c->cout * ho * wo * sizeof *full);
  gmt_conv_ref(&r->conv, in[0], in[1], in[2], in[3], full);
  size_t o = 0;
  for (int bc = 0; bc < c->b * c->cout; bc++)
    for (int y = 0; y < c->rows; y++)
      for (int x = 0; x < c->cols; x++)
        out[o++] = full[((size_t)bc * ho + c->row0 + y) * wo + c->col0 + x];
  free(full);
}

static int call_conv2d_window(gm_tensor **y, gm_tensor *const *x, const op_case *o,
                              gm_error *err) {
  const wconv_case *c = ((const wconv_run *)o->data)->win;
  if (x[3]) gmt_ok(gm_conv_mask_fill(x[3], (gm_conv_mask)c->mask, 0, err), err);
  gmt_ok(gm_tensor_set_requires_grad(x[1], 1, err), err);  /* still nothing recorded */
  gm_conv2d_opts opts = {.stride = c->stride, .pad_h = c->ph, .pad_w = c->pw, .taps = c->taps};
  size_t nodes = gm_tape_node_count(gmt_device());
  int64_t prev = gm__conv_window_set_direct_limit(c->gemm ? 0 : -1);
  int rc = gm_conv2d_window(y, x[0], x[1], x[2], x[3], &opts, c->row0, c->col0, c->rows,
                            c->cols, err);
  gm__conv_window_set_direct_limit(prev);
  ck_assert_uint_eq(gm_tape_node_count(gmt_device()), nodes); /* inference only */
  return rc;
}

/* The same window of gm_conv2d's output, to float rounding. */
static void check_window_of_conv2d(const op_case *o, gm_tensor *const *x, double *const *in,
                                   gm_tensor *const *y) {
  (void)in;
  gm_error err = {0};
  const wconv_case *c = ((const wconv_run *)o->data)->win;
  gm_conv2d_opts opts = {.stride = c->stride, .pad_h = c->ph, .pad_w = c->pw, .taps = c->taps};
  gm_tensor *full, *want;
  gmt_ok(gm_conv2d(&full, x[0], x[1], x[2], x[3], &opts, &err), &err);
  gmt_ok(gm_window(&want, full, c->row0, c->col0, c->rows, c->cols, &err), &err);
  float *got = gmt_read(y[0]), *ref = gmt_read(want);
  gmt_assert_close(got, ref, (size_t)y[0]->numel, 1e-5, 1e-5, o->name);
  free(got);
  free(ref);
}

/* A small-shapes run (gmt_small_shapes) keeps at most 2 images of a case over 200k
 * multiply-adds: the same kernels, channels, taps and positions, for Oclgrind. */
static int small_batch(int b, size_t macs) {
  return gmt_small_shapes() && macs > 200000 && b > 2 ? 2 : b;
}

START_TEST(conv2d_window_matches_the_window_of_conv2d) {
  wconv_case shrunk = wconv_cases[_i];
  shrunk.b = small_batch(shrunk.b, (size_t)shrunk.b * shrunk.cin * shrunk.h * shrunk.w *
                                       shrunk.cout * shrunk.kh * shrunk.kw);
  const wconv_case *c = &shrunk;
  wconv_run r = {.conv = {c->b, c->cin, c->h, c->w, c->cout, c->kh, c->kw, c->stride, c->ph,
                          c->pw, c->bias, (gm_conv_mask)c->mask, 0, c->taps},
                 .win = c};
  char name[200], what[240];
  op_case o = gmt_conv_inputs(&r.conv, name, sizeof name);
  snprintf(what, sizeof what, "conv2d_window case %d (%s, %s)", _i, c->gemm ? "GEMM" : "direct",
           name);
  o.name = what;
  o.op = "gm_conv2d_window";
  o.data = &r;
  o.call = call_conv2d_window;
  o.ref = ref_conv2d_window;
  o.check = check_window_of_conv2d;
  o.out_ndim = 4;
  o.out_shape[0] = c->b;
  o.out_shape[1] = c->cout;
  o.out_shape[2] = c->rows;
  o.out_shape[3] = c->cols;
  o.forward_only = 1;
  o.rtol = o.atol = 1e-5;
  gmt_run_op_case(&o, 900 + (uint64_t)_i);
}
END_TEST

START_TEST(conv2d_window_refuses_windows_outside_the_output) {
  gm_error err = {0};
  gm_tensor *x = gmt_tensor_from(4, GM_SHAPE(1, 2, 5, 5), NULL);
  gm_tensor *w = gmt_tensor_from(4, GM_SHAPE(3, 2, 3, 3), NULL);
  gm_tensor *w4 = gmt_tensor_from(4, GM_SHAPE(3, 4, 3, 3), NULL), *y;
  gm_conv2d_opts o = {.pad_h = 1, .pad_w = 1};
  ck_assert_int_eq(gm_conv2d_window(&y, x, w, NULL, NULL, &o, 4, 0, 2, 1, &err), GM_ERANGE);
  ck_assert_ptr_nonnull(strstr(err.msg, "5 x 5"));
  ck_assert_int_eq(gm_conv2d_window(&y, x, w, NULL, NULL, &o, -1, 0, 1, 1, &err), GM_ERANGE);
  ck_assert_int_eq(gm_conv2d_window(&y, x, w, NULL, NULL, NULL, 3, 0, 1, 1, &err), GM_ERANGE);
  gmt_ok(gm_conv2d_window(&y, x, w, NULL, NULL, NULL, 2, 2, 1, 1, &err), &err);
  ck_assert_int_eq(gm_conv2d_window(&y, x, w4, NULL, NULL, &o, 0, 0, 1, 1, &err), GM_ESHAPE);
  ck_assert_int_eq(gm_conv2d_window(&y, x, w, NULL, w4, &o, 0, 0, 1, 1, &err), GM_ESHAPE);
  gm_tensor_destroy(x);
  gm_tensor_destroy(w);
  gm_tensor_destroy(w4);
  gm_tape_reset(gmt_device());
}
END_TEST

/* ---- conv2d at one position from packed weights ---- */

typedef struct point_case {
  int b, cin, h, w, cout, k, pad;
  gm_conv_mask mask;
  int taps, bias;
  unsigned flags;
} point_case;

static const point_case point_cases[] = {
    {3, 8, 9, 9, 6, 7, 3, GM_MASK_B, 25, 1, GM_POINT_RELU},
    {9, 8, 9, 9, 20, 7, 3, GM_MASK_B, 25, 1, GM_POINT_RELU | GM_POINT_X_NHWC},  /* 2 groups */
    {1, 5, 11, 11, 16, 9, 4, GM_MASK_B, 41, 0, GM_POINT_MAP_NHWC},
    {2, 3, 8, 8, 64, 3, 1, GM_MASK_A, 4, 1, GM_POINT_RELU | GM_POINT_MAP_NHWC},
    {4, 6, 5, 7, 5, 3, 1, GM_MASK_NONE, 0, 1, GM_POINT_X_NHWC | GM_POINT_MAP_NHWC},
    {17, 64, 1, 1, 48, 1, 0, GM_MASK_NONE, 0, 1, 0},  /* the 1x1 head, 3 groups */
    {2, 4, 6, 6, 3, 5, 2, GM_MASK_NONE, 7, 0, 0},     /* a prefix cutting a kernel row */
};

/* A point case as the double reference sees it (conv first: fill reads it as the data). */
typedef struct point_run {
  gmt_conv_case conv;
  const point_case *pt;
} point_run;

/* The positions a run visits: every one, or in a small-shapes run the first two, the
 * middle and the last row and column of the output (every edge of the padding). */
static int visits(int pos, int n) {
  return !gmt_small_shapes() || pos < 2 || pos == n / 2 || pos == n - 1;
}

/* Outputs: the map (-7 where no position was visited) in its layout, then each position's
 * y gathered as (B, Cout, Ho, Wo) (-7 likewise). */
static void ref_conv2d_point(void *ctx, double *const *in, double *out) {
  const point_run *r = ((const op_case *)ctx)->data;
  const point_case *c = r->pt;
  int ho = gmt_conv_out_h(&r->conv), wo = gmt_conv_out_w(&r->conv);
  size_t n = (size_t)c->b * c->cout * ho * wo;
  double *full = malloc(n * sizeof *full);
  gmt_conv_ref(&r->conv, in[0], in[1], in[2], in[3], full);
  int map_nhwc = (c->flags & GM_POINT_MAP_NHWC) != 0;
  for (int b = 0; b < c->b; b++)
    for (int co = 0; co < c->cout; co++)
      for (int row = 0; row < ho; row++)
        for (int col = 0; col < wo; col++) {
          size_t nchw = (((size_t)b * c->cout + co) * ho + row) * wo + col;
          size_t nhwc = (((size_t)b * ho + row) * wo + col) * c->cout + co;
          double v = full[nchw];
          if (c->flags & GM_POINT_RELU) v = fmax(v, 0);
          if (!visits(row, ho) || !visits(col, wo)) v = -7;
          out[map_nhwc ? nhwc : nchw] = v;
          out[n + nchw] = v;
        }
  free(full);
}

/* (B, C, H, W) floats to (B, H, W, C). */
static float *to_nhwc(const float *x, int b, int c, int h, int w) {
  float *y = malloc((size_t)b * c * h * w * 4);
  for (int n = 0; n < b; n++)
    for (int ch = 0; ch < c; ch++)
      for (int i = 0; i < h * w; i++)
        y[((size_t)n * h * w + i) * c + ch] = x[((size_t)n * c + ch) * h * w + i];
  return y;
}

/* Packs the weights, then runs gm_conv2d_point at every visited position into a map
 * filled with -7 (y[0]), gathering what each call returned into y[1]. */
static int call_conv2d_point(gm_tensor **y, gm_tensor *const *x, const op_case *o,
                             gm_error *err) {
  const point_run *r = o->data;
  const point_case *c = r->pt;
  gm_device *dev = gmt_device();
  int ho = gmt_conv_out_h(&r->conv), wo = gmt_conv_out_w(&r->conv);
  if (x[3]) gmt_ok(gm_conv_mask_fill(x[3], c->mask, 0, err), err);
  gm_tensor *src = x[0], *xl = NULL, *packed;
  if (c->flags & GM_POINT_X_NHWC) {
    float *h = gmt_read(x[0]), *hl = to_nhwc(h, c->b, c->cin, c->h, c->w);
    xl = src = gmt_tensor_from(4, GM_SHAPE(c->b, c->h, c->w, c->cin), hl);
    free(h);
    free(hl);
  }
  int map_nhwc = (c->flags & GM_POINT_MAP_NHWC) != 0;
  gmt_ok(gm__tensor_temp(&y[0], dev, GM_F32, 4,
                         map_nhwc ? GM_SHAPE(c->b, ho, wo, c->cout)
                                  : GM_SHAPE(c->b, c->cout, ho, wo), err), err);
  gmt_ok(gm_tensor_fill(y[0], -7.0, err), err);
  gmt_ok(gm__tensor_temp(&y[1], dev, GM_F32, 4, GM_SHAPE(c->b, c->cout, ho, wo), err), err);
  size_t n = (size_t)c->b * c->cout * ho * wo;
  float *each = malloc(n * 4);
  for (size_t i = 0; i < n; i++) each[i] = -7;
  gm_conv2d_opts opts = {.stride = 1, .pad_h = c->pad, .pad_w = c->pad, .taps = c->taps};
  gmt_ok(gm_conv2d_point_weights(&packed, x[1], x[3], c->taps, err), err);
  size_t nodes = gm_tape_node_count(dev);
  for (int row = 0; row < ho; row++)
    for (int col = 0; col < wo; col++) {
      if (!visits(row, ho) || !visits(col, wo)) continue;
      gm_tensor *p;
      gmt_ok(gm_conv2d_point(&p, src, x[1], packed, x[2], &opts, row, col, c->flags, y[0], err),
             err);
      ck_assert_int_eq(p->shape[1], c->cout);
      float *got = gmt_read(p);
      for (int b = 0; b < c->b; b++)
        for (int co = 0; co < c->cout; co++)
          each[(((size_t)b * c->cout + co) * ho + row) * wo + col] = got[b * c->cout + co];
      free(got);
    }
  ck_assert_uint_eq(gm_tape_node_count(dev), nodes); /* inference only */
  gmt_ok(gm_tensor_write(y[1], each, n * 4, err), err);
  free(each);
  gm_tensor_destroy(packed);
  gm_tensor_destroy(xl);
  return 0;
}

/* The map agrees with gm_conv2d (then relu) at every visited position, to float rounding. */
static void check_point_map_against_conv2d(const op_case *o, gm_tensor *const *x,
                                           double *const *in, gm_tensor *const *y) {
  (void)in;
  gm_error err = {0};
  const point_run *r = o->data;
  const point_case *c = r->pt;
  int ho = gmt_conv_out_h(&r->conv), wo = gmt_conv_out_w(&r->conv);
  gm_conv2d_opts opts = {.stride = 1, .pad_h = c->pad, .pad_w = c->pad, .taps = c->taps};
  gm_tensor *full;
  gmt_ok(gm_conv2d(&full, x[0], x[1], x[2], x[3], &opts, &err), &err);
  if (c->flags & GM_POINT_RELU) gmt_ok(gm_relu(&full, full, &err), &err);
  float *want = gmt_read(full), *got = gmt_read(y[1]);
  for (int b = 0; b < c->b; b++)
    for (int co = 0; co < c->cout; co++)
      for (int row = 0; row < ho; row++)
        for (int col = 0; col < wo; col++)
          if (!visits(row, ho) || !visits(col, wo))
            want[(((size_t)b * c->cout + co) * ho + row) * wo + col] = -7;
  gmt_assert_close(got, want, (size_t)full->numel, 1e-5, 1e-5, o->name);
  free(want);
  free(got);
  gmt_cover("gm_conv2d_point_weights");  /* what the points read was right */
}

START_TEST(conv2d_point_matches_conv2d_at_every_position) {
  point_case shrunk = point_cases[_i];
  shrunk.b = small_batch(shrunk.b, (size_t)shrunk.b * shrunk.cin * shrunk.h * shrunk.w *
                                       shrunk.cout * shrunk.k * shrunk.k);
  const point_case *c = &shrunk;
  point_run r = {.conv = {c->b, c->cin, c->h, c->w, c->cout, c->k, c->k, 1, c->pad, c->pad,
                          c->bias, c->mask, 0, c->taps},
                 .pt = c};
  int ho = gmt_conv_out_h(&r.conv), wo = gmt_conv_out_w(&r.conv);
  int map_nhwc = (c->flags & GM_POINT_MAP_NHWC) != 0;
  char name[200], what[240];
  op_case o = gmt_conv_inputs(&r.conv, name, sizeof name);
  snprintf(what, sizeof what, "conv2d_point case %d (%s)", _i, name);
  o.name = what;
  o.op = "gm_conv2d_point";
  o.data = &r;
  o.call = call_conv2d_point;
  o.ref = ref_conv2d_point;
  o.check = check_point_map_against_conv2d;
  o.n_out = 2;
  o.out_ndim = o.out2_ndim = 4;
  const int64_t map_shape[4] = {c->b, map_nhwc ? ho : c->cout, map_nhwc ? wo : ho,
                                map_nhwc ? c->cout : wo};
  memcpy(o.out_shape, map_shape, sizeof map_shape);
  const int64_t each_shape[4] = {c->b, c->cout, ho, wo};
  memcpy(o.out2_shape, each_shape, sizeof each_shape);
  o.forward_only = 1;
  o.rtol = o.atol = 1e-5;
  gmt_run_op_case(&o, 950 + (uint64_t)_i);
}
END_TEST

START_TEST(conv2d_point_refuses_what_it_cannot_do) {
  gm_error err = {0};
  gm_tensor *x = gmt_tensor_from(4, GM_SHAPE(2, 4, 5, 5), NULL);
  gm_tensor *w = gmt_tensor_from(4, GM_SHAPE(3, 4, 3, 3), NULL);
  gm_tensor *w2 = gmt_tensor_from(4, GM_SHAPE(3, 4, 5, 5), NULL);
  gm_tensor *map = gmt_tensor_from(4, GM_SHAPE(2, 3, 4, 5), NULL), *packed, *packed2, *y;
  gmt_ok(gm_conv2d_point_weights(&packed, w, NULL, 0, &err), &err);
  ck_assert_int_eq(packed->shape[0], 36);
  ck_assert_int_eq(packed->shape[1], 16);
  gmt_ok(gm_conv2d_point_weights(&packed2, w, NULL, 4, &err), &err);
  ck_assert_int_eq(packed2->shape[0], 16);
  ck_assert_int_eq(gm_conv2d_point_weights(&y, w, NULL, 10, &err), GM_EINVAL);
  ck_assert_int_eq(gm_conv2d_point_weights(&y, w, w2, 0, &err), GM_ESHAPE);
  gm_conv2d_opts o = {.pad_h = 1, .pad_w = 1};
  ck_assert_int_eq(gm_conv2d_point(&y, x, w, packed, NULL, &o, 5, 0, 0, NULL, &err), GM_ERANGE);
  ck_assert_ptr_nonnull(strstr(err.msg, "5 x 5"));
  ck_assert_int_eq(gm_conv2d_point(&y, x, w, packed, NULL, &o, 0, -1, 0, NULL, &err), GM_ERANGE);
  /* packed for 4 taps, used with all 9 */
  ck_assert_int_eq(gm_conv2d_point(&y, x, w, packed2, NULL, &o, 0, 0, 0, NULL, &err), GM_ESHAPE);
  ck_assert_ptr_nonnull(strstr(err.msg, "gm_conv2d_point_weights"));
  ck_assert_int_eq(gm_conv2d_point(&y, x, w2, packed, NULL, &o, 0, 0, 0, NULL, &err), GM_ESHAPE);
  gm_conv2d_opts s2 = {.stride = 2, .pad_h = 1, .pad_w = 1};
  ck_assert_int_eq(gm_conv2d_point(&y, x, w, packed, NULL, &s2, 0, 0, 0, NULL, &err),
                   GM_EUNSUPPORTED);
  ck_assert_int_eq(gm_conv2d_point(&y, x, w, packed, NULL, &o, 0, 0, 64, NULL, &err), GM_EINVAL);
  /* a map of the wrong shape (the output is 5 x 5) */
  ck_assert_int_eq(gm_conv2d_point(&y, x, w, packed, NULL, &o, 0, 0, 0, map, &err), GM_ESHAPE);
  gmt_ok(gm_conv2d_point(&y, x, w, packed, NULL, &o, 4, 4, 0, NULL, &err), &err);
  gm_tape_reset(gmt_device());
  gm_tensor_destroy(x);
  gm_tensor_destroy(w);
  gm_tensor_destroy(w2);
  gm_tensor_destroy(map);
  gm_tensor_destroy(packed);
  gm_tensor_destroy(packed2);
}
END_TEST

/* in: img (B, C, H, W), classes (B, n) int32; ip = {row, col, c0}, p = {scale, offset} */
static void ref_pixel_put(void *ctx, double *const *in, double *out) {
  const op_case *c = ctx;
  int64_t b = c->shape[0][0], ch = c->shape[0][1], h = c->shape[0][2], w = c->shape[0][3];
  int64_t n = c->shape[1][1];
  for (size_t i = 0; i < gmt_numel(4, c->shape[0]); i++) out[i] = in[0][i];
  for (int64_t bb = 0; bb < b; bb++)
    for (int64_t k = 0; k < n; k++)
      out[((bb * ch + c->ip[2] + k) * h + c->ip[0]) * w + c->ip[1]] =
          (double)(float)((float)in[1][bb * n + k] * c->p[0] + c->p[1]);
}

/* In place: the output is img. */
static int call_pixel_put(gm_tensor **y, gm_tensor *const *x, const op_case *c, gm_error *err) {
  y[0] = x[0];
  return gm_pixel_put(x[0], x[1], c->ip[0], c->ip[1], c->ip[2], c->p[0], c->p[1], err);
}

/* Images 100 + i, classes 0..15. */
static void fill_image_and_classes(gmt_rng *r, float *x, size_t n, int k, const op_case *c) {
  (void)c;
  for (size_t i = 0; i < n; i++) x[i] = k == 0 ? 100.0f + (float)i : floorf(gmt_uniform(r, 0, 16));
}

START_TEST(pixel_put_writes_scaled_classes_into_one_pixel) {
  /* two channels from channel 1 at (1, 2), then one channel 0 at the corner (0, 0) */
  const int puts[2][4] = {{1, 2, 1, 2}, {0, 0, 0, 1}};
  for (int t = 0; t < 2; t++) {
    op_case c = {.name = "pixel_put", .op = "gm_pixel_put", .n_in = 2, .ndim = {4, 2},
                 .shape = {{3, 4, 2, 3}, {3, puts[t][3]}}, .fill = fill_image_and_classes,
                 .dtype = {GM_F32, GM_I32}, .call = call_pixel_put, .ref = ref_pixel_put,
                 .out_ndim = 4, .out_shape = {3, 4, 2, 3}, .forward_only = 1, .exact = 1,
                 .p = {0.5f, -1.0f}, .ip = {puts[t][0], puts[t][1], puts[t][2]}};
    gmt_run_op_case(&c, 40 + (uint64_t)t);
  }
  gm_error err = {0};
  gm_tensor *img = gmt_tensor_from(4, GM_SHAPE(3, 4, 2, 3), NULL), *cls;
  gmt_ok(gm_tensor_create(&cls, gmt_device(), GM_I32, 2, GM_SHAPE(3, 2), &err), &err);
  gmt_ok(gm_tensor_write(cls, (int[]){0, 15, 3, 7, 9, 1}, 24, &err), &err);
  ck_assert_int_eq(gm_pixel_put(img, cls, 1, 2, 3, 1, 0, &err), GM_ESHAPE);
  ck_assert_int_eq(gm_pixel_put(img, cls, 2, 0, 0, 1, 0, &err), GM_ERANGE);
  ck_assert_int_eq(gm_pixel_put(img, img, 0, 0, 0, 1, 0, &err), GM_ESHAPE);
  gm_tensor_destroy(img);
  gm_tensor_destroy(cls);
}
END_TEST

int main(void) {
  Suite *s = suite_create("ops_pixel");
  TCase *tc = tcase_create("pixel");
  tcase_add_test(tc, quantize_maps_pixel_values_to_classes);
  tcase_add_loop_test(tc, window_crops_and_zero_pads, 0, (int)GM__COUNT(win_cases));
  tcase_add_test(tc, window_copies_int32_maps);
  tcase_add_test(tc, window_write_puts_a_block_back_clipped);
  tcase_add_test(tc, gate_is_tanh_times_sigmoid_with_its_gradient);
  tcase_add_loop_test(tc, conv2d_window_matches_the_window_of_conv2d, 0,
                      (int)GM__COUNT(wconv_cases));
  tcase_add_test(tc, conv2d_window_refuses_windows_outside_the_output);
  tcase_add_loop_test(tc, conv2d_point_matches_conv2d_at_every_position, 0,
                      (int)GM__COUNT(point_cases));
  tcase_add_test(tc, conv2d_point_refuses_what_it_cannot_do);
  tcase_add_test(tc, pixel_put_writes_scaled_classes_into_one_pixel);
  suite_add_tcase(s, tc);
  return gmt_run(s);
}
