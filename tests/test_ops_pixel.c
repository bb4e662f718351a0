/* The pixel-model ops against host references: quantisation of 0..255 values, windows
 * (crop and zero pad) with their gradient, window writes, the gated activation with its
 * gradient by finite differences, convolution on a window of its output against the
 * same window of gm_conv2d (direct and GEMM paths), and pixel puts; bad arguments. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops_pixel_internal.h"
#include "testlib.h"

START_TEST(quantize_maps_pixel_values_to_classes) {
  gm_error err = {0};
  float v[] = {0, 15.9f, 16, 17, 127.5f, 240, 255, 255.9f, -3, 300, NAN};
  int want16[] = {0, 0, 1, 1, 7, 15, 15, 15, 0, 15, 0};
  int want256[] = {0, 15, 16, 17, 127, 240, 255, 255, 0, 255, 0};
  int n = (int)GM__COUNT(v);
  gm_tensor *x = gmt_tensor_from(1, GM_SHAPE(n), v), *q;
  int got[16];
  gmt_ok(gm_quantize(&q, x, 16, GM_I32, &err), &err);
  ck_assert_int_eq(q->dtype, GM_I32);
  gmt_ok(gm_tensor_read(q, got, (size_t)n * 4, &err), &err);
  for (int i = 0; i < n; i++)
    ck_assert_msg(got[i] == want16[i], "v=%g: %d, want %d", v[i], got[i], want16[i]);
  gmt_ok(gm_quantize(&q, x, 256, GM_I32, &err), &err);
  gmt_ok(gm_tensor_read(q, got, (size_t)n * 4, &err), &err);
  for (int i = 0; i < n; i++)
    ck_assert_msg(got[i] == want256[i], "v=%g: %d, want %d", v[i], got[i], want256[i]);
  gmt_ok(gm_quantize(&q, x, 16, GM_F32, &err), &err);
  float *f = gmt_read(q);
  for (int i = 0; i < n; i++) ck_assert_msg(f[i] == (float)want16[i], "v=%g: %g", v[i], f[i]);
  free(f);
  ck_assert_int_eq(gm_quantize(&q, x, 0, GM_I32, &err), GM_EINVAL);
  ck_assert_int_eq(gm_quantize(&q, x, 16, (gm_dtype)5, &err), GM_EDTYPE);
  gm_tensor_destroy(x);
  gm_tape_reset(gmt_device());
}
END_TEST

/* ---- windows ---- */

static float at_or_zero(const float *x, int bc, int hx, int wx, int iy, int ix) {
  if (iy < 0 || iy >= hx || ix < 0 || ix >= wx) return 0;
  return x[((size_t)bc * hx + iy) * wx + ix];
}

static const int win_cases[][4] = {
    /* top, left, h, w over a 5 x 6 map */
    {1, 2, 3, 3}, {-2, -1, 4, 4}, {-1, -2, 7, 10}, {4, 5, 3, 3}, {0, 0, 5, 6}, {-3, 0, 8, 6},
};

START_TEST(window_crops_and_zero_pads) {
  gm_error err = {0};
  const int *c = win_cases[_i];
  int b = 2, ch = 3, hx = 5, wx = 6, n = b * ch * hx * wx;
  gmt_rng rng;
  gmt_rng_seed(&rng, 700 + (uint64_t)_i);
  float *hxv = malloc((size_t)n * 4);
  gmt_fill_uniform(&rng, hxv, (size_t)n, -1, 1);
  gm_tensor *x = gmt_tensor_from(4, GM_SHAPE(b, ch, hx, wx), hxv), *y;
  gmt_ok(gm_tensor_set_requires_grad(x, 1, &err), &err);
  gmt_ok(gm_window(&y, x, c[0], c[1], c[2], c[3], &err), &err);
  ck_assert_int_eq(y->shape[2], c[2]);
  ck_assert_int_eq(y->shape[3], c[3]);
  size_t ny = (size_t)y->numel;
  float *want = malloc(ny * 4), *up = malloc(ny * 4), *dwant = calloc((size_t)n, 4);
  gmt_fill_uniform(&rng, up, ny, -1, 1);
  size_t o = 0;
  for (int bc = 0; bc < b * ch; bc++)
    for (int r = 0; r < c[2]; r++)
      for (int q = 0; q < c[3]; q++, o++) {
        int iy = c[0] + r, ix = c[1] + q;
        want[o] = at_or_zero(hxv, bc, hx, wx, iy, ix);
        if (iy >= 0 && iy < hx && ix >= 0 && ix < wx)
          dwant[((size_t)bc * hx + iy) * wx + ix] += up[o];
      }
  float *got = gmt_read(y);
  gmt_assert_close(got, want, ny, 0, 0, "window");
  gmt_backward_from(y, up);
  float *dx = gmt_read(x->grad);
  gmt_assert_close(dx, dwant, (size_t)n, 0, 0, "window gradient");
  free(hxv);
  free(want);
  free(up);
  free(dwant);
  free(got);
  free(dx);
  gm_tape_reset(gmt_device());
  gm_tensor_destroy(x);
}
END_TEST

START_TEST(window_copies_int32_maps) {
  gm_error err = {0};
  int v[2 * 3 * 3];
  for (int i = 0; i < 18; i++) v[i] = i * 1000 + 7;
  gm_tensor *x, *y;
  gmt_ok(gm_tensor_create(&x, gmt_device(), GM_I32, 4, GM_SHAPE(2, 1, 3, 3), &err), &err);
  gmt_ok(gm_tensor_write(x, v, sizeof v, &err), &err);
  gmt_ok(gm_window(&y, x, 1, -1, 2, 2, &err), &err);
  int got[8], want[8] = {0, 3007, 0, 6007, 0, 12007, 0, 15007};
  gmt_ok(gm_tensor_read(y, got, sizeof got, &err), &err);
  for (int i = 0; i < 8; i++) ck_assert_int_eq(got[i], want[i]);
  gm_tensor_destroy(x);
  gm_tape_reset(gmt_device());
}
END_TEST

START_TEST(window_write_puts_a_block_back_clipped) {
  gm_error err = {0};
  int b = 2, ch = 2, hd = 4, wd = 5, n = b * ch * hd * wd;
  float *dst0 = malloc((size_t)n * 4), src0[2 * 2 * 3 * 3];
  for (int i = 0; i < n; i++) dst0[i] = (float)i;
  for (int i = 0; i < 36; i++) src0[i] = -1.0f - (float)i;
  const int tops[] = {1, -1, 2}, lefts[] = {1, -2, 3};
  for (int k = 0; k < 3; k++) {
    gm_tensor *dst = gmt_tensor_from(4, GM_SHAPE(b, ch, hd, wd), dst0);
    gm_tensor *src = gmt_tensor_from(4, GM_SHAPE(b, ch, 3, 3), src0);
    gmt_ok(gm_window_write(dst, src, tops[k], lefts[k], &err), &err);
    float *got = gmt_read(dst), *want = malloc((size_t)n * 4);
    memcpy(want, dst0, (size_t)n * 4);
    for (int bc = 0; bc < b * ch; bc++)
      for (int r = 0; r < 3; r++)
        for (int q = 0; q < 3; q++) {
          int iy = tops[k] + r, ix = lefts[k] + q;
          if (iy >= 0 && iy < hd && ix >= 0 && ix < wd)
            want[((size_t)bc * hd + iy) * wd + ix] = src0[(bc * 3 + r) * 3 + q];
        }
    gmt_assert_close(got, want, (size_t)n, 0, 0, "window_write");
    free(got);
    free(want);
    gm_tensor_destroy(dst);
    gm_tensor_destroy(src);
  }
  gm_tensor *dst = gmt_tensor_from(4, GM_SHAPE(b, ch, hd, wd), dst0);
  gm_tensor *wrong = gmt_tensor_from(4, GM_SHAPE(b, 3, 1, 1), NULL);
  ck_assert_int_eq(gm_window_write(dst, wrong, 0, 0, &err), GM_ESHAPE);
  gm_tensor_destroy(dst);
  gm_tensor_destroy(wrong);
  free(dst0);
}
END_TEST

/* ---- gate ---- */

typedef struct gate_case { int b, c, inner; } gate_case;

static void ref_gate(void *ctx, double *const *in, double *out) {
  const gate_case *g = ctx;
  int half = g->c / 2;
  for (int b = 0; b < g->b; b++)
    for (int c = 0; c < half; c++)
      for (int i = 0; i < g->inner; i++) {
        double a = in[0][((size_t)b * g->c + c) * g->inner + i];
        double s = in[0][((size_t)b * g->c + c + half) * g->inner + i];
        out[((size_t)b * half + c) * g->inner + i] = tanh(a) / (1 + exp(-s));
      }
}

START_TEST(gate_is_tanh_times_sigmoid_with_its_gradient) {
  gm_error err = {0};
  gate_case g = {2, 6, 12};
  size_t nx = (size_t)g.b * g.c * g.inner, ny = nx / 2;
  gmt_rng rng;
  gmt_rng_seed(&rng, 31);
  float *hx = malloc(nx * 4), *up = malloc(ny * 4);
  gmt_fill_uniform(&rng, hx, nx, -4, 4);
  hx[0] = 30;   /* saturated tanh and sigmoid stay finite */
  hx[g.inner * 3] = -40;
  gmt_fill_uniform(&rng, up, ny, -1, 1);
  double *in = malloc(nx * sizeof(double)), *want = malloc(ny * sizeof(double));
  double *upd = malloc(ny * sizeof(double)), *fd = malloc(nx * sizeof(double));
  for (size_t i = 0; i < nx; i++) in[i] = hx[i];
  for (size_t i = 0; i < ny; i++) upd[i] = up[i];
  ref_gate(&g, (double *[]){in}, want);
  float *wantf = malloc(ny * 4);
  for (size_t i = 0; i < ny; i++) wantf[i] = (float)want[i];
  gm_tensor *x = gmt_tensor_from(3, GM_SHAPE(g.b, g.c, g.inner), hx), *y;
  gmt_ok(gm_tensor_set_requires_grad(x, 1, &err), &err);
  gmt_ok(gm_gate(&y, x, &err), &err);
  ck_assert_int_eq(y->shape[1], g.c / 2);
  float *got = gmt_read(y);
  gmt_assert_close(got, wantf, ny, 1e-5, 1e-6, "gate forward");
  gmt_backward_from(y, up);
  gmt_fd_grad(ref_gate, &g, (double *[]){in}, 0, nx, ny, upd, 1e-4, fd);
  float *dx = gmt_read(x->grad);
  gmt_assert_grad(dx, fd, nx, 1e-4, 1e-6, "gate gradient");
  gm_tensor *odd = gmt_tensor_from(2, GM_SHAPE(2, 3), NULL);
  ck_assert_int_eq(gm_gate(&y, odd, &err), GM_ESHAPE);
  gm_tensor_destroy(odd);
  free(hx);
  free(up);
  free(in);
  free(want);
  free(upd);
  free(fd);
  free(wantf);
  free(got);
  free(dx);
  gm_tape_reset(gmt_device());
  gm_tensor_destroy(x);
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

START_TEST(conv2d_window_matches_the_window_of_conv2d) {
  gm_error err = {0};
  const wconv_case *c = &wconv_cases[_i];
  gmt_rng rng;
  gmt_rng_seed(&rng, 900 + (uint64_t)_i);
  size_t nx = (size_t)c->b * c->cin * c->h * c->w, nw = (size_t)c->cout * c->cin * c->kh * c->kw;
  float *hx = malloc(nx * 4), *hw = malloc(nw * 4), hb[64];
  gmt_fill_uniform(&rng, hx, nx, -1, 1);
  gmt_fill_uniform(&rng, hw, nw, -0.5f, 0.5f);
  gmt_fill_uniform(&rng, hb, (size_t)c->cout, -0.5f, 0.5f);
  gm_tensor *x = gmt_tensor_from(4, GM_SHAPE(c->b, c->cin, c->h, c->w), hx);
  gm_tensor *w = gmt_tensor_from(4, GM_SHAPE(c->cout, c->cin, c->kh, c->kw), hw);
  gm_tensor *bias = c->bias ? gmt_tensor_from(1, GM_SHAPE(c->cout), hb) : NULL, *mask = NULL;
  if (c->mask) {
    mask = gmt_tensor_from(4, GM_SHAPE(c->cout, c->cin, c->kh, c->kw), NULL);
    gmt_ok(gm_conv_mask_fill(mask, (gm_conv_mask)c->mask, 0, &err), &err);
  }
  gmt_ok(gm_tensor_set_requires_grad(w, 1, &err), &err);
  gm_conv2d_opts o = {.stride = c->stride, .pad_h = c->ph, .pad_w = c->pw, .taps = c->taps};
  gm_tensor *full, *win, *want;
  gmt_ok(gm_conv2d(&full, x, w, bias, mask, &o, &err), &err);
  size_t nodes = gm_tape_node_count(gmt_device());
  int64_t prev = gm__conv_window_set_direct_limit(c->gemm ? 0 : -1);
  int rc = gm_conv2d_window(&win, x, w, bias, mask, &o, c->row0, c->col0, c->rows, c->cols, &err);
  gm__conv_window_set_direct_limit(prev);
  gmt_ok(rc, &err);
  ck_assert_uint_eq(gm_tape_node_count(gmt_device()), nodes); /* inference only */
  gmt_ok(gm_window(&want, full, c->row0, c->col0, c->rows, c->cols, &err), &err);
  ck_assert_int_eq(win->shape[1], c->cout);
  ck_assert_int_eq(win->shape[2], c->rows);
  ck_assert_int_eq(win->shape[3], c->cols);
  float *got = gmt_read(win), *ref = gmt_read(want);
  char what[96];
  snprintf(what, sizeof what, "conv2d_window case %d", _i);
  gmt_assert_close(got, ref, (size_t)win->numel, 1e-5, 1e-5, what);
  free(got);
  free(ref);
  free(hx);
  free(hw);
  gm_tape_reset(gmt_device());
  gm_tensor_destroy(x);
  gm_tensor_destroy(w);
  gm_tensor_destroy(bias);
  gm_tensor_destroy(mask);
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

/* (B, C, H, W) floats to (B, H, W, C). */
static float *to_nhwc(const float *x, int b, int c, int h, int w) {
  float *y = malloc((size_t)b * c * h * w * 4);
  for (int n = 0; n < b; n++)
    for (int ch = 0; ch < c; ch++)
      for (int i = 0; i < h * w; i++)
        y[((size_t)n * h * w + i) * c + ch] = x[((size_t)n * c + ch) * h * w + i];
  return y;
}

START_TEST(conv2d_point_matches_conv2d_at_every_position) {
  gm_error err = {0};
  const point_case *c = &point_cases[_i];
  gmt_rng rng;
  gmt_rng_seed(&rng, 950 + (uint64_t)_i);
  size_t nx = (size_t)c->b * c->cin * c->h * c->w, nw = (size_t)c->cout * c->cin * c->k * c->k;
  float *hx = malloc(nx * 4), *hw = malloc(nw * 4), hb[64];
  gmt_fill_uniform(&rng, hx, nx, -1, 1);
  gmt_fill_uniform(&rng, hw, nw, -0.5f, 0.5f);
  gmt_fill_uniform(&rng, hb, (size_t)c->cout, -0.5f, 0.5f);
  float *hx_nhwc = to_nhwc(hx, c->b, c->cin, c->h, c->w);
  gm_tensor *x = gmt_tensor_from(4, GM_SHAPE(c->b, c->cin, c->h, c->w), hx);
  gm_tensor *xl = gmt_tensor_from(4, GM_SHAPE(c->b, c->h, c->w, c->cin), hx_nhwc);
  gm_tensor *w = gmt_tensor_from(4, GM_SHAPE(c->cout, c->cin, c->k, c->k), hw);
  gm_tensor *bias = c->bias ? gmt_tensor_from(1, GM_SHAPE(c->cout), hb) : NULL, *mask = NULL;
  if (c->mask != GM_MASK_NONE) {
    mask = gmt_tensor_from(4, GM_SHAPE(c->cout, c->cin, c->k, c->k), NULL);
    gmt_ok(gm_conv_mask_fill(mask, c->mask, 0, &err), &err);
  }
  int ho = c->h + 2 * c->pad - c->k + 1, wo = c->w + 2 * c->pad - c->k + 1;
  int map_nhwc = (c->flags & GM_POINT_MAP_NHWC) != 0;
  gm_tensor *map = gmt_tensor_from(4, map_nhwc ? GM_SHAPE(c->b, ho, wo, c->cout)
                                              : GM_SHAPE(c->b, c->cout, ho, wo), NULL);
  gmt_ok(gm_tensor_fill(map, -7.0, &err), &err);
  /* the reference: the full convolution of the same taps, then relu */
  gm_conv2d_opts o = {.stride = 1, .pad_h = c->pad, .pad_w = c->pad, .taps = c->taps};
  gm_tensor *full, *packed;
  gmt_ok(gm_conv2d(&full, x, w, bias, mask, &o, &err), &err);
  if (c->flags & GM_POINT_RELU) gmt_ok(gm_relu(&full, full, &err), &err);
  float *want = gmt_read(full);
  gmt_ok(gm_conv2d_point_weights(&packed, w, mask, c->taps, &err), &err);
  size_t nodes = gm_tape_node_count(gmt_device());
  char what[96];
  for (int row = 0; row < ho; row++)
    for (int col = 0; col < wo; col++) {
      gm_tensor *y;
      gm_tensor *src = (c->flags & GM_POINT_X_NHWC) ? xl : x;
      gmt_ok(gm_conv2d_point(&y, src, w, packed, bias, &o, row, col, c->flags, map, &err), &err);
      ck_assert_int_eq(y->shape[1], c->cout);
      float *got = gmt_read(y), *ref = malloc((size_t)c->b * c->cout * 4);
      for (int n = 0; n < c->b; n++)
        for (int co = 0; co < c->cout; co++)
          ref[n * c->cout + co] = want[(((size_t)n * c->cout + co) * ho + row) * wo + col];
      snprintf(what, sizeof what, "conv2d_point case %d at (%d, %d)", _i, row, col);
      gmt_assert_close(got, ref, (size_t)c->b * c->cout, 1e-5, 1e-5, what);
      free(got);
      free(ref);
    }
  ck_assert_uint_eq(gm_tape_node_count(gmt_device()), nodes); /* inference only */
  /* every position was written into the map, in its layout */
  float *got = gmt_read(map), *ref = map_nhwc ? to_nhwc(want, c->b, c->cout, ho, wo) : want;
  snprintf(what, sizeof what, "conv2d_point case %d: the map", _i);
  gmt_assert_close(got, ref, (size_t)map->numel, 1e-5, 1e-5, what);
  if (ref != want) free(ref);
  free(got);
  free(want);
  free(hx);
  free(hx_nhwc);
  free(hw);
  gm_tape_reset(gmt_device());
  gm_tensor_destroy(x);
  gm_tensor_destroy(xl);
  gm_tensor_destroy(w);
  gm_tensor_destroy(bias);
  gm_tensor_destroy(mask);
  gm_tensor_destroy(map);
  gm_tensor_destroy(packed);
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

START_TEST(pixel_put_writes_scaled_classes_into_one_pixel) {
  gm_error err = {0};
  int b = 3, ch = 4, h = 2, w = 3, n = b * ch * h * w;
  float *img0 = malloc((size_t)n * 4);
  for (int i = 0; i < n; i++) img0[i] = 100.0f + (float)i;
  gm_tensor *img = gmt_tensor_from(4, GM_SHAPE(b, ch, h, w), img0), *cls;
  int hc[6] = {0, 15, 3, 7, 9, 1};
  gmt_ok(gm_tensor_create(&cls, gmt_device(), GM_I32, 2, GM_SHAPE(3, 2), &err), &err);
  gmt_ok(gm_tensor_write(cls, hc, sizeof hc, &err), &err);
  gmt_ok(gm_pixel_put(img, cls, 1, 2, 1, 0.5f, -1.0f, &err), &err);
  float *got = gmt_read(img);
  for (int bb = 0; bb < b; bb++)
    for (int c = 0; c < 2; c++)
      img0[((bb * ch + 1 + c) * h + 1) * w + 2] = 0.5f * (float)hc[bb * 2 + c] - 1.0f;
  gmt_assert_close(got, img0, (size_t)n, 0, 0, "pixel_put");
  ck_assert_int_eq(gm_pixel_put(img, cls, 1, 2, 3, 1, 0, &err), GM_ESHAPE);
  ck_assert_int_eq(gm_pixel_put(img, cls, 2, 0, 0, 1, 0, &err), GM_ERANGE);
  ck_assert_int_eq(gm_pixel_put(img, img, 0, 0, 0, 1, 0, &err), GM_ESHAPE);
  free(got);
  free(img0);
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
