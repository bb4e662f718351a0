/* conv2d, its causal masks and conv-transpose 2x2 against direct double-precision loops:
 * forward on random data over kernel sizes, strides, paddings, masks and batch sizes;
 * backward against central finite differences; causality of masked convs pixel by pixel
 * and channel by channel; the batch split into chunks; refusal of bad shapes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm_backend.h"
#include "convref.h"
#include "ops_conv_internal.h"
#include "optest.h"
#include "testlib.h"

/* ---- gm_conv2d as op cases against the direct loops in double (convref.h) ---- */

typedef gmt_conv_case conv_case;

static int out_h(const conv_case *c) { return gmt_conv_out_h(c); }
static int out_w(const conv_case *c) { return gmt_conv_out_w(c); }
static size_t n_x(const conv_case *c) { return (size_t)c->b * c->cin * c->h * c->w; }
static size_t n_w(const conv_case *c) { return (size_t)c->cout * c->cin * c->kh * c->kw; }
static size_t n_y(const conv_case *c) { return (size_t)c->b * c->cout * out_h(c) * out_w(c); }

/* in: x (B, Cin, H, W), w (Cout, Cin, kh, kw), bias (Cout), mask (like w). */
static void ref_conv(void *ctx, double *const *in, double *out) {
  gmt_conv_ref(((const op_case *)ctx)->data, in[0], in[1], in[2], in[3], out);
}

/* The engine fills the mask (the reference has its own, independently written). */
static int call_conv(gm_tensor **y, gm_tensor *const *x, const op_case *o, gm_error *err) {
  const conv_case *c = o->data;
  if (x[3]) {
    int rc = gm_conv_mask_fill(x[3], c->mask, c->channel_aware, err);
    if (rc) return rc;
  }
  gm_conv2d_opts opts = {.stride = c->stride, .pad_h = c->ph, .pad_w = c->pw, .taps = c->taps};
  return gm_conv2d(y, x[0], x[1], x[2], x[3], &opts, err);
}

/* Masked-out weights, and weights past the taps, get exactly zero gradient (so do the
 * mask's entries past the taps). */
static void check_skipped_weights(const op_case *o, gm_tensor *const *x, double *const *in,
                                  gm_tensor *const *y) {
  (void)y;
  const conv_case *c = o->data;
  for (int k = 1; k <= 3; k += 2) {
    if (!x[k] || !x[k]->grad) continue;
    float *g = gmt_read(x[k]->grad);
    for (size_t i = 0; i < n_w(c); i++) {
      int tap = (int)(i % (size_t)(c->kh * c->kw));
      if ((k == 1 && in[3][i] == 0 && c->mask != GM_MASK_NONE) || (c->taps && tap >= c->taps))
        ck_assert_msg(g[i] == 0.0f, "%s: skipped %s %zu has gradient %g", o->name,
                      k == 1 ? "weight" : "mask entry", i, g[i]);
    }
    free(g);
  }
}

/* grads: which of x, w, bias, mask require grad (bits 0 to 3); 0 runs the forward only. */
static void check_conv(const conv_case *c, uint64_t seed, int grads) {
  char name[200];
  op_case o = gmt_conv_inputs(c, name, sizeof name);
  o.op = "gm_conv2d";
  o.call = call_conv;
  o.ref = ref_conv;
  o.check = check_skipped_weights;
  o.out_ndim = 4;
  o.out_shape[0] = c->b;
  o.out_shape[1] = c->cout;
  o.out_shape[2] = out_h(c);
  o.out_shape[3] = out_w(c);
  o.forward_only = grads == 0;
  for (int k = 0; k < 4; k++) o.skip_grad[k] = !(grads >> k & 1);
  gmt_run_op_case(&o, seed);
}

/* A small-shapes run (gmt_small_shapes) shrinks the big cases: at most 8 channels (9
 * where the case has an odd count, for the tails), 8 rows, 16 columns (whole vectors for
 * the implicit path) and 2 images. Kernel, stride, padding, mask, taps and bias stay, so
 * every kernel and path still runs; 8 channels of a 9x9 type-B kernel keep K = 328 above
 * the own GEMM's 256-deep chunks. */
static conv_case small(const conv_case *c) {
  conv_case s = *c;
  if (!gmt_small_shapes() || n_x(c) * (size_t)c->cout * (size_t)(c->kh * c->kw) < 200000)
    return s;
  if (s.cin > 8) s.cin = 8 + (c->cin & 1);
  if (s.cout > 8) s.cout = 8 + (c->cout & 1);
  if (s.h > 8) s.h = 8;
  if (s.w > 16) s.w = 16;
  if (s.b > 2) s.b = 2;
  return s;
}

/* For the cross-path comparisons: random inputs on the device, then gm_conv2d. */
typedef struct conv_run {
  gm_tensor *x, *w, *bias, *mask, *y;
} conv_run;

static void conv_setup(conv_run *r, const conv_case *c, uint64_t seed, int grads) {
  gm_error err = {0};
  gmt_rng rng;
  gmt_rng_seed(&rng, seed);
  memset(r, 0, sizeof *r);
  size_t nx = n_x(c), nw = n_w(c);
  float *hx = malloc(nx * 4), *hw = malloc(nw * 4), *hb = malloc((size_t)c->cout * 4);
  gmt_fill_uniform(&rng, hx, nx, -1, 1);
  gmt_fill_uniform(&rng, hw, nw, -0.5f, 0.5f);
  gmt_fill_uniform(&rng, hb, (size_t)c->cout, -0.5f, 0.5f);
  r->x = gmt_tensor_from(4, GM_SHAPE(c->b, c->cin, c->h, c->w), hx);
  r->w = gmt_tensor_from(4, GM_SHAPE(c->cout, c->cin, c->kh, c->kw), hw);
  if (c->bias) r->bias = gmt_tensor_from(1, GM_SHAPE(c->cout), hb);
  if (c->mask != GM_MASK_NONE) {
    r->mask = gmt_tensor_from(4, GM_SHAPE(c->cout, c->cin, c->kh, c->kw), NULL);
    gmt_ok(gm_conv_mask_fill(r->mask, c->mask, c->channel_aware, &err), &err);
  }
  gm_tensor *t[4] = {r->x, r->w, r->bias, r->mask};
  for (int k = 0; k < 4; k++)
    if (t[k] && (grads >> k & 1)) gm_tensor_set_requires_grad(t[k], 1, &err);
  gm_conv2d_opts o = {.stride = c->stride, .pad_h = c->ph, .pad_w = c->pw, .taps = c->taps};
  gmt_ok(gm_conv2d(&r->y, r->x, r->w, r->bias, r->mask, &o, &err), &err);
  free(hx);
  free(hw);
  free(hb);
}

static void conv_teardown(conv_run *r) {
  gm_tape_reset(gmt_device());
  gm_tensor_destroy(r->x);
  gm_tensor_destroy(r->w);
  gm_tensor_destroy(r->bias);
  gm_tensor_destroy(r->mask);
}

static const conv_case fwd_cases[] = {
    {3, 5, 6, 7, 4, 1, 1, 1, 0, 0, 1, GM_MASK_NONE, 0, 0},   /* 1x1 */
    {1, 3, 8, 8, 5, 3, 3, 1, 1, 1, 1, GM_MASK_A, 0, 0},      /* PixelCNN conv1 shape, small */
    {3, 4, 9, 11, 6, 5, 5, 2, 2, 2, 0, GM_MASK_NONE, 0, 0},  /* 5x5 stride 2 */
    {2, 7, 10, 10, 8, 7, 7, 1, 3, 3, 1, GM_MASK_B, 0, 0},    /* 7x7 type B */
    {1, 5, 12, 12, 6, 9, 9, 1, 4, 4, 1, GM_MASK_B, 0, 0},    /* 9x9 type B */
    {3, 3, 6, 7, 5, 2, 3, 1, 0, 1, 1, GM_MASK_NONE, 0, 0},   /* 2x3, even and odd */
    {2, 3, 7, 9, 4, 1, 4, 2, 1, 2, 0, GM_MASK_NONE, 0, 0},   /* 1x4 stride 2 */
    {2, 3, 5, 5, 3, 3, 3, 1, 3, 3, 1, GM_MASK_NONE, 0, 0},   /* padding = k */
    {2, 3, 6, 6, 6, 3, 3, 1, 1, 1, 1, GM_MASK_A, 1, 0},      /* channel-aware A */
    {1, 6, 6, 7, 9, 5, 5, 1, 2, 2, 0, GM_MASK_B, 1, 0},      /* channel-aware B */
    {3, 5, 9, 8, 7, 3, 3, 2, 0, 0, 1, GM_MASK_NONE, 0, 0},   /* stride 2, no padding */
    {1, 3, 13, 11, 5, 9, 9, 2, 1, 1, 0, GM_MASK_A, 0, 0},    /* 9x9 stride 2 */
    {3, 64, 8, 8, 48, 1, 1, 1, 0, 0, 1, GM_MASK_NONE, 0, 0}, /* PixelCNN conv_out, small image */
    {2, 3, 8, 8, 64, 3, 3, 1, 1, 1, 1, GM_MASK_A, 0, 0},     /* PixelCNN conv1, small image */
    {1, 64, 32, 32, 64, 7, 7, 1, 3, 3, 1, GM_MASK_B, 0, 0}, /* PixelCNN conv2, full size */
    /* with taps: the causal masks' own counts (gm_conv_mask_taps), and prefixes that cut
     * a kernel row in the middle, without a mask */
    {2, 7, 10, 10, 8, 7, 7, 1, 3, 3, 1, GM_MASK_B, 0, 25},    /* 7x7 type B */
    {1, 5, 12, 12, 6, 9, 9, 1, 4, 4, 1, GM_MASK_B, 0, 41},    /* 9x9 type B */
    {2, 3, 8, 8, 5, 3, 3, 1, 1, 1, 1, GM_MASK_A, 0, 4},       /* 3x3 type A */
    {2, 3, 6, 6, 6, 3, 3, 1, 1, 1, 1, GM_MASK_A, 1, 5},       /* channel-aware A: centre open */
    {1, 3, 13, 11, 5, 9, 9, 2, 1, 1, 0, GM_MASK_A, 0, 40},    /* 9x9 stride 2 */
    {3, 4, 9, 11, 6, 5, 5, 2, 2, 2, 0, GM_MASK_NONE, 0, 13},  /* no mask, stride 2 */
    {2, 3, 7, 9, 4, 3, 3, 1, 1, 1, 1, GM_MASK_NONE, 0, 5},    /* no mask, half a row */
    {3, 5, 6, 7, 4, 1, 1, 1, 0, 0, 1, GM_MASK_NONE, 0, 1},    /* 1x1, the one tap */
    {1, 64, 32, 32, 64, 7, 7, 1, 3, 3, 1, GM_MASK_B, 0, 25},  /* PixelCNN conv2, full size */
};

START_TEST(conv2d_forward_matches_direct_loops) {
  conv_case c = small(&fwd_cases[_i]);
  check_conv(&c, 100 + (uint64_t)_i, 0);
}
END_TEST

static const conv_case bwd_cases[] = {
    {3, 5, 4, 5, 4, 1, 1, 1, 0, 0, 1, GM_MASK_NONE, 0, 0},
    {2, 3, 5, 6, 4, 3, 3, 1, 1, 1, 1, GM_MASK_A, 0, 0},
    {2, 4, 7, 6, 3, 5, 5, 2, 2, 2, 1, GM_MASK_NONE, 0, 0},
    {3, 3, 5, 6, 5, 2, 3, 1, 0, 1, 1, GM_MASK_NONE, 0, 0},
    {2, 3, 5, 9, 4, 1, 4, 2, 1, 2, 0, GM_MASK_NONE, 0, 0},
    {2, 3, 4, 4, 6, 3, 3, 1, 1, 1, 1, GM_MASK_A, 1, 0},
    {1, 6, 4, 5, 6, 3, 3, 1, 1, 1, 0, GM_MASK_B, 1, 0},
    {1, 2, 8, 8, 3, 7, 7, 1, 3, 3, 1, GM_MASK_B, 0, 0},
    {2, 3, 5, 4, 2, 3, 3, 2, 3, 3, 1, GM_MASK_NONE, 0, 0},
    {1, 2, 4, 21, 3, 3, 5, 1, 1, 2, 1, GM_MASK_NONE, 0, 0},  /* rows wider than 16 */
    /* rows of whole 16-float vectors: the implicit-GEMM path where the device has it */
    {2, 3, 4, 16, 4, 3, 3, 1, 1, 1, 1, GM_MASK_NONE, 0, 0},
    {1, 2, 3, 32, 3, 5, 5, 1, 2, 2, 1, GM_MASK_B, 0, 13},
    {2, 3, 4, 16, 2, 3, 3, 1, 0, 1, 0, GM_MASK_NONE, 0, 0},   /* no padding in y */
    {2, 4, 3, 16, 3, 1, 1, 1, 0, 0, 1, GM_MASK_NONE, 0, 0},   /* 1x1 */
    {1, 6, 3, 16, 6, 3, 3, 1, 1, 1, 1, GM_MASK_A, 1, 5},      /* channel-aware, taps */
    /* with taps */
    {2, 3, 5, 6, 4, 3, 3, 1, 1, 1, 1, GM_MASK_A, 0, 4},
    {1, 2, 8, 8, 3, 7, 7, 1, 3, 3, 1, GM_MASK_B, 0, 25},
    {2, 4, 7, 6, 3, 5, 5, 2, 2, 2, 1, GM_MASK_NONE, 0, 12},
    {2, 3, 5, 6, 4, 3, 3, 1, 1, 1, 0, GM_MASK_NONE, 0, 5},
};

static float *read_mask(int cout, int cin, int k0, int k1, gm_conv_mask type, int ca);

START_TEST(conv2d_with_taps_gives_the_mask_its_gradient) {
  /* channel-aware A keeps the centre tap, so the mask's gradient there is not zero */
  const conv_case c = {2, 6, 5, 5, 6, 3, 3, 1, 1, 1, 1, GM_MASK_A, 1, 5};
  check_conv(&c, 320, 2 | 8);
}
END_TEST

START_TEST(conv_mask_taps_counts_up_to_the_last_open_position) {
  ck_assert_int_eq(gm_conv_mask_taps(GM_MASK_A, 0, 3, 3), 4);
  ck_assert_int_eq(gm_conv_mask_taps(GM_MASK_A, 1, 3, 3), 5);
  ck_assert_int_eq(gm_conv_mask_taps(GM_MASK_B, 0, 7, 7), 25);
  ck_assert_int_eq(gm_conv_mask_taps(GM_MASK_B, 1, 9, 9), 41);
  ck_assert_int_eq(gm_conv_mask_taps(GM_MASK_NONE, 0, 5, 4), 20);
  /* every mask is zero from its count on, for every channel pair */
  const gm_conv_mask types[2] = {GM_MASK_A, GM_MASK_B};
  for (int t = 0; t < 2; t++)
    for (int ca = 0; ca < 2; ca++)
      for (int k = 3; k <= 9; k += 2) {
        float *m = read_mask(6, 6, k, k, types[t], ca);
        int taps = gm_conv_mask_taps(types[t], ca, k, k), last_open = -1;
        for (int i = 0; i < 36 * k * k; i++)
          if (m[i] != 0.0f && i % (k * k) > last_open) last_open = i % (k * k);
        ck_assert_int_eq(last_open + 1, taps);
        free(m);
      }
  gmt_cover("gm_conv_mask_taps");
}
END_TEST

START_TEST(conv2d_backward_matches_finite_differences) {
  check_conv(&bwd_cases[_i], 200 + (uint64_t)_i, 1 | 2 | 4);
}
END_TEST

/* Forward and every gradient of one case, read back. */
typedef struct conv_result {
  float *y, *dx, *dw, *db;
} conv_result;

static conv_result run_conv(const conv_case *c, uint64_t seed) {
  conv_run r;
  conv_setup(&r, c, seed, 1 | 2 | 4);
  size_t ny = n_y(c);
  gmt_rng rng;
  gmt_rng_seed(&rng, seed ^ 0x5eed);
  float *up = malloc(ny * 4);
  gmt_fill_uniform(&rng, up, ny, -1, 1);
  conv_result out = {.y = gmt_read(r.y)};
  gmt_backward_from(r.y, up);
  out.dx = gmt_read(r.x->grad);
  out.dw = gmt_read(r.w->grad);
  out.db = gmt_read(r.bias->grad);
  free(up);
  conv_teardown(&r);
  return out;
}

static void free_result(conv_result *r) {
  free(r->y);
  free(r->dx);
  free(r->dw);
  free(r->db);
}

/* The study's layer shapes (small batches) both ways: im2col columns, and the
 * implicit-GEMM paths of the own kernels (forced, whatever the device) that read the
 * padded input (and dy) in place. */
static const conv_case study_cases[] = {
    {2, 64, 32, 32, 64, 7, 7, 1, 3, 3, 1, GM_MASK_B, 0, 25},   /* PixelCNN conv2 */
    {1, 64, 32, 32, 64, 9, 9, 1, 4, 4, 1, GM_MASK_B, 0, 41},   /* PixelCNN conv3 */
    {2, 3, 32, 32, 64, 3, 3, 1, 1, 1, 1, GM_MASK_A, 0, 4},     /* PixelCNN conv1 */
    {2, 128, 16, 16, 128, 3, 3, 1, 1, 1, 1, GM_MASK_NONE, 0, 0}, /* U-Net 16x16 3x3 */
    {2, 64, 32, 32, 48, 1, 1, 1, 0, 0, 1, GM_MASK_NONE, 0, 0},  /* PixelCNN conv_out */
    /* U-Net bottleneck: rows of 8, only the weight gradient goes without columns */
    {2, 128, 8, 8, 256, 3, 3, 1, 1, 1, 1, GM_MASK_NONE, 0, 0},
    {3, 67, 32, 32, 3, 1, 1, 1, 0, 0, 1, GM_MASK_NONE, 0, 0},   /* U-Net output, Cout 3 */
};

START_TEST(conv2d_implicit_gemm_matches_im2col_at_study_shapes) {
  const conv_case shrunk = small(&study_cases[_i]), *c = &shrunk;
  /* the own kernels whatever the device, so that the implicit path is what runs */
  int forced = gm__gemm_set_forced(gmt_device(), GM__GEMM_OWN);
  ck_assert_ptr_nonnull(gm__gemm_own_for_conv(gmt_device()));
  long before = gm__conv_implicit_runs();
  conv_result a = run_conv(c, 500 + (uint64_t)_i);
  ck_assert_msg(gm__conv_implicit_runs() > before, "the implicit path did not run");
  int prev = gm__conv_set_im2col_only(1);
  long mid = gm__conv_implicit_runs();
  conv_result b = run_conv(c, 500 + (uint64_t)_i);
  gm__conv_set_im2col_only(prev);
  gm__gemm_set_forced(gmt_device(), forced);
  ck_assert_int_eq(gm__conv_implicit_runs(), mid);
  /* long sums that cancel: a tolerance relative to each array's largest value */
  char desc[200];
  (void)gmt_conv_inputs(c, desc, sizeof desc);
  const float *got[4] = {a.y, a.dx, a.dw, a.db}, *want[4] = {b.y, b.dx, b.dw, b.db};
  size_t n[4] = {n_y(c), n_x(c), n_w(c), (size_t)c->cout};
  const char *names[4] = {"y", "dx", "dw", "dbias"};
  for (int k = 0; k < 4; k++) {
    double big = 0;
    for (size_t i = 0; i < n[k]; i++) big = fmax(big, fabs(want[k][i]));
    char what[240];
    snprintf(what, sizeof what, "%s of %s", names[k], desc);
    gmt_assert_close(got[k], want[k], n[k], 1e-4, 1e-5 * big + 1e-6, what);
  }
  free_result(&a);
  free_result(&b);
}
END_TEST

START_TEST(conv2d_gives_a_mask_that_requires_grad_its_gradient) {
  const conv_case c = {2, 3, 5, 5, 4, 3, 3, 1, 1, 1, 1, GM_MASK_B, 0, 0};
  check_conv(&c, 300, 2 | 8);
}
END_TEST

START_TEST(conv2d_gradient_only_for_inputs_that_require_it) {
  /* x alone, then w alone: the other gets no grad, the computed one is still right. */
  const conv_case c = {2, 3, 5, 5, 4, 3, 3, 1, 1, 1, 1, GM_MASK_A, 0, 0};
  for (int which = 1; which <= 2; which++) check_conv(&c, 310 + (uint64_t)which, which);
}
END_TEST

START_TEST(conv2d_batch_split_into_chunks_matches_reference) {
  /* Room for two images' scratch: 5 images run as chunks of 2, 2 and 1. */
  const conv_case c = {5, 3, 7, 6, 4, 3, 3, 1, 1, 1, 1, GM_MASK_B, 0, 0};
  size_t per_image = (size_t)(c.cin * c.kh * c.kw + c.cout) * (size_t)(out_h(&c) * out_w(&c)) * 4;
  size_t prev = gm__conv_set_scratch_limit(2 * per_image + 16);
  check_conv(&c, 400, 1 | 2 | 4);
  /* one image per chunk, stride 2 */
  const conv_case c2 = {3, 2, 7, 7, 3, 3, 3, 2, 1, 1, 1, GM_MASK_NONE, 0, 0};
  gm__conv_set_scratch_limit(1);
  check_conv(&c2, 401, 1 | 2 | 4);
  gm__conv_set_scratch_limit(prev);
}
END_TEST

/* ---- the masks ---- */

static float *read_mask(int cout, int cin, int k0, int k1, gm_conv_mask type, int ca) {
  gm_error err = {0};
  gm_tensor *m = gmt_tensor_from(4, GM_SHAPE(cout, cin, k0, k1), NULL);
  gmt_ok(gm_conv_mask_fill(m, type, ca, &err), &err);
  float *h = gmt_read(m);
  gm_tensor_destroy(m);
  return h;
}

/* Every (co, ci) slice of the mask equals the spatial pattern want (kh x kw). */
static void assert_every_slice(const float *m, int cout, int cin, int kh, int kw,
                               const float *want, const char *what) {
  for (int s = 0; s < cout * cin; s++) {
    char msg[120];
    snprintf(msg, sizeof msg, "%s, slice (co %d, ci %d)", what, s / cin, s % cin);
    gmt_assert_close(m + (size_t)s * kh * kw, want, (size_t)kh * kw, 0, 0, msg);
  }
}

START_TEST(conv_mask_matches_models_md_for_3x3_and_7x7) {
  static const float a3[9] = {1, 1, 1,
                              1, 0, 0,
                              0, 0, 0};
  static const float b3[9] = {1, 1, 1,
                              1, 1, 0,
                              0, 0, 0};
  static const float a7[49] = {1, 1, 1, 1, 1, 1, 1,
                               1, 1, 1, 1, 1, 1, 1,
                               1, 1, 1, 1, 1, 1, 1,
                               1, 1, 1, 0, 0, 0, 0,
                               0, 0, 0, 0, 0, 0, 0,
                               0, 0, 0, 0, 0, 0, 0,
                               0, 0, 0, 0, 0, 0, 0};
  float b7[49];
  memcpy(b7, a7, sizeof b7);
  b7[3 * 7 + 3] = 1;
  static const float a2[4] = {1, 1,
                              1, 0};  /* even kernel: centre (1, 1) */
  float *m = read_mask(4, 3, 3, 3, GM_MASK_A, 0);
  assert_every_slice(m, 4, 3, 3, 3, a3, "3x3 type A");
  free(m);
  m = read_mask(4, 3, 3, 3, GM_MASK_B, 0);
  assert_every_slice(m, 4, 3, 3, 3, b3, "3x3 type B");
  free(m);
  m = read_mask(5, 2, 7, 7, GM_MASK_A, 0);
  assert_every_slice(m, 5, 2, 7, 7, a7, "7x7 type A");
  free(m);
  m = read_mask(5, 2, 7, 7, GM_MASK_B, 0);
  assert_every_slice(m, 5, 2, 7, 7, b7, "7x7 type B");
  free(m);
  m = read_mask(2, 2, 2, 2, GM_MASK_A, 0);
  assert_every_slice(m, 2, 2, 2, 2, a2, "2x2 type A");
  free(m);
  static const float ones[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
  m = read_mask(2, 2, 3, 3, GM_MASK_NONE, 1);
  assert_every_slice(m, 2, 2, 3, 3, ones, "no mask");
  free(m);
  gmt_cover("gm_conv_mask_fill");
  gm_tape_reset(gmt_device());
}
END_TEST

START_TEST(conv_mask_channel_aware_centre_follows_rgb_groups) {
  /* Cout 6 (groups 0 0 1 1 2 2), Cin 3 (groups 0 1 2): at the centre, A lets output
   * group g see input groups < g and B <= g; before the centre, everything is seen. */
  static const int centre_a[6][3] = {{0, 0, 0}, {0, 0, 0}, {1, 0, 0},
                                     {1, 0, 0}, {1, 1, 0}, {1, 1, 0}};
  static const int centre_b[6][3] = {{1, 0, 0}, {1, 0, 0}, {1, 1, 0},
                                     {1, 1, 0}, {1, 1, 1}, {1, 1, 1}};
  for (int t = 0; t < 2; t++) {
    float *m = read_mask(6, 3, 3, 3, t ? GM_MASK_B : GM_MASK_A, 1);
    for (int co = 0; co < 6; co++)
      for (int ci = 0; ci < 3; ci++) {
        const float *s = m + (co * 3 + ci) * 9;
        float want[9] = {1, 1, 1, 1, (float)(t ? centre_b : centre_a)[co][ci], 0, 0, 0, 0};
        char msg[80];
        snprintf(msg, sizeof msg, "channel-aware %c, co %d ci %d", t ? 'B' : 'A', co, ci);
        gmt_assert_close(s, want, 9, 0, 0, msg);
      }
    free(m);
  }
  gm_tape_reset(gmt_device());
}
END_TEST

/* Runs y = conv_B(conv_A(x)) (or just conv_A when two == 0) with recording off. */
static float *causal_net(gm_tensor *x, gm_tensor *w1, gm_tensor *m1, gm_tensor *w2,
                         gm_tensor *m2, int pad1, int pad2) {
  gm_error err = {0};
  gm_tensor *y;
  gm_conv2d_opts o1 = {.stride = 1, .pad_h = pad1, .pad_w = pad1},
                 o2 = {.stride = 1, .pad_h = pad2, .pad_w = pad2};
  gmt_ok(gm_conv2d(&y, x, w1, NULL, m1, &o1, &err), &err);
  if (w2) gmt_ok(gm_conv2d(&y, y, w2, NULL, m2, &o2, &err), &err);
  float *h = gmt_read(y);
  gm_tape_reset(gmt_device());
  return h;
}

static gm_tensor *random_tensor(gmt_rng *r, int ndim, const int64_t *shape) {
  size_t n = 1;
  for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
  float *h = malloc(n * 4);
  gmt_fill_uniform(r, h, n, -1, 1);
  gm_tensor *t = gmt_tensor_from(ndim, shape, h);
  free(h);
  return t;
}

static gm_tensor *mask_tensor(int cout, int cin, int k, gm_conv_mask type, int ca) {
  gm_error err = {0};
  gm_tensor *m = gmt_tensor_from(4, GM_SHAPE(cout, cin, k, k), NULL);
  gmt_ok(gm_conv_mask_fill(m, type, ca, &err), &err);
  return m;
}

/* Perturbs every pixel q of x in turn. Outputs at pixels p that may not see q (p < q,
 * and p == q unless see_self) must stay bit-identical; every pixel p > 0 must change for
 * some q < p (the mask is not simply zero). */
static void check_raster_causality(int k1, gm_conv_mask t1, int k2, gm_conv_mask t2,
                                   int see_self, const char *what) {
  gmt_rng rng;
  gmt_rng_seed(&rng, 500 + (uint64_t)k1 * 10 + (uint64_t)k2);
  /* a small-shapes run: 4 x 5, each pixel still seeing rows above, left and both edges */
  const int C = 3, F = 5, H = gmt_small_shapes() ? 4 : 6, W = gmt_small_shapes() ? 5 : 7;
  const int P = H * W;
  gm_tensor *x = random_tensor(&rng, 4, GM_SHAPE(1, C, H, W));
  gm_tensor *w1 = random_tensor(&rng, 4, GM_SHAPE(F, C, k1, k1));
  gm_tensor *m1 = mask_tensor(F, C, k1, t1, 0), *w2 = NULL, *m2 = NULL;
  if (k2) {
    w2 = random_tensor(&rng, 4, GM_SHAPE(F, F, k2, k2));
    m2 = mask_tensor(F, F, k2, t2, 0);
  }
  float *hx = gmt_read(x);
  float *y0 = causal_net(x, w1, m1, w2, m2, k1 / 2, k2 / 2);
  int *changed = calloc((size_t)P, sizeof(int));
  gm_error err = {0};
  for (int q = 0; q < P; q++) {
    float keep[3];
    for (int c = 0; c < C; c++) {
      keep[c] = hx[c * P + q];
      hx[c * P + q] += 0.75f;
    }
    gmt_ok(gm_tensor_write(x, hx, gm_tensor_bytes(x), &err), &err);
    float *y = causal_net(x, w1, m1, w2, m2, k1 / 2, k2 / 2);
    for (int p = 0; p < P; p++)
      for (int f = 0; f < F; f++) {
        int differs = y[f * P + p] != y0[f * P + p];
        if (p < q || (p == q && !see_self))
          ck_assert_msg(!differs, "%s: output pixel %d channel %d changed when input pixel %d "
                        "changed (%.9g vs %.9g)", what, p, f, q, y[f * P + p], y0[f * P + p]);
        else if (differs && q < p)
          changed[p] = 1;
      }
    for (int c = 0; c < C; c++) hx[c * P + q] = keep[c];
    free(y);
  }
  for (int p = 1; p < P; p++)
    ck_assert_msg(changed[p], "%s: output pixel %d never depends on an earlier pixel", what, p);
  free(changed);
  free(y0);
  free(hx);
  gm_tensor *all[] = {x, w1, m1, w2, m2};
  for (size_t i = 0; i < 5; i++) gm_tensor_destroy(all[i]);
}

START_TEST(conv2d_masked_a_ignores_current_and_later_pixels) {
  check_raster_causality(3, GM_MASK_A, 0, GM_MASK_NONE, 0, "3x3 type A");
  check_raster_causality(5, GM_MASK_A, 0, GM_MASK_NONE, 0, "5x5 type A");
}
END_TEST

START_TEST(conv2d_masked_b_ignores_later_pixels) {
  check_raster_causality(3, GM_MASK_B, 0, GM_MASK_NONE, 1, "3x3 type B");
}
END_TEST

START_TEST(conv2d_stack_a_then_b_stays_causal) {
  check_raster_causality(3, GM_MASK_A, 7, GM_MASK_B, 0, "3x3 A then 7x7 B");
}
END_TEST

/* Channel-aware: changing input group gi at pixel q may change output group go at q
 * only when gi < go (A) or gi <= go (B), and then it must; nothing before q changes. */
static void check_channel_causality(gm_conv_mask type) {
  gmt_rng rng;
  gmt_rng_seed(&rng, 600 + (uint64_t)type);
  const int C = 3, F = 6, H = gmt_small_shapes() ? 3 : 4, W = gmt_small_shapes() ? 4 : 5;
  const int P = H * W;
  gm_tensor *x = random_tensor(&rng, 4, GM_SHAPE(1, C, H, W));
  gm_tensor *w = random_tensor(&rng, 4, GM_SHAPE(F, C, 3, 3));
  gm_tensor *m = mask_tensor(F, C, 3, type, 1);
  float *hx = gmt_read(x);
  float *y0 = causal_net(x, w, m, NULL, NULL, 1, 0);
  gm_error err = {0};
  for (int q = 0; q < P; q++)
    for (int gi = 0; gi < C; gi++) {
      float keep = hx[gi * P + q];
      hx[gi * P + q] += 0.75f;
      gmt_ok(gm_tensor_write(x, hx, gm_tensor_bytes(x), &err), &err);
      float *y = causal_net(x, w, m, NULL, NULL, 1, 0);
      for (int p = 0; p <= q; p++)
        for (int f = 0; f < F; f++) {
          int go = f * 3 / F, differs = y[f * P + p] != y0[f * P + p];
          int may = p == q && (type == GM_MASK_A ? gi < go : gi <= go);
          ck_assert_msg(differs == may, "type %d: input group %d at pixel %d %s output channel "
                        "%d (group %d) at pixel %d", (int)type, gi, q,
                        differs ? "changed" : "did not change", f, go, p);
        }
      hx[gi * P + q] = keep;
      free(y);
    }
  free(y0);
  free(hx);
  gm_tensor_destroy(x);
  gm_tensor_destroy(w);
  gm_tensor_destroy(m);
}

START_TEST(conv2d_channel_aware_a_hides_same_and_later_groups) {
  check_channel_causality(GM_MASK_A);
}
END_TEST

START_TEST(conv2d_channel_aware_b_shows_same_group) { check_channel_causality(GM_MASK_B); }
END_TEST

/* ---- conv-transpose 2x2 stride 2 ---- */

typedef struct t2_case { int b, cin, h, w, cout, bias; } t2_case;

/* in: x (B, Cin, H, W), w (Cin, Cout, 2, 2), bias (Cout; absent without one). */
static void ref_t2x2(void *ctx, double *const *in, double *out) {
  const t2_case *c = ((const op_case *)ctx)->data;
  int ho = 2 * c->h, wo = 2 * c->w;
  for (int b = 0; b < c->b; b++)
    for (int co = 0; co < c->cout; co++)
      for (int oy = 0; oy < ho; oy++)
        for (int ox = 0; ox < wo; ox++) {
          double acc = c->bias ? in[2][co] : 0;
          for (int ci = 0; ci < c->cin; ci++)
            acc += in[0][(((size_t)b * c->cin + ci) * c->h + oy / 2) * c->w + ox / 2] *
                   in[1][(((size_t)ci * c->cout + co) * 2 + oy % 2) * 2 + ox % 2];
          out[(((size_t)b * c->cout + co) * ho + oy) * wo + ox] = acc;
        }
}

static int call_t2x2(gm_tensor **y, gm_tensor *const *x, const op_case *c, gm_error *err) {
  (void)c;
  return gm_conv_transpose2x2(y, x[0], x[1], x[2], err);
}

static void check_t2x2(const t2_case *c, uint64_t seed, int backward) {
  char name[120];
  snprintf(name, sizeof name, "conv_transpose2x2 x(%d,%d,%d,%d) cout %d bias %d", c->b, c->cin,
           c->h, c->w, c->cout, c->bias);
  op_case o = {.name = name, .op = "gm_conv_transpose2x2", .n_in = 3, .ndim = {4, 4, 1},
               .shape = {{c->b, c->cin, c->h, c->w}, {c->cin, c->cout, 2, 2}, {c->cout}},
               .lo = {-1, -1, -1}, .hi = {1, 1, 1}, .absent = {0, 0, !c->bias},
               .call = call_t2x2, .ref = ref_t2x2, .out_ndim = 4,
               .out_shape = {c->b, c->cout, 2 * c->h, 2 * c->w}, .forward_only = !backward,
               .data = c};
  gmt_run_op_case(&o, seed);
}

START_TEST(conv_transpose2x2_matches_reference) {
  static const t2_case cases[] = {{1, 1, 1, 1, 1, 1}, {2, 5, 3, 4, 3, 1}, {3, 4, 5, 3, 7, 0}};
  check_t2x2(&cases[_i], 700 + (uint64_t)_i, 1);
}
END_TEST

START_TEST(conv_transpose2x2_forward_at_unet_shape) {
  /* upConv1 of the study's U-Net: 256 -> 128 channels, 8x8 -> 16x16, batch 2 (16 -> 8
   * channels, 4x4 in a small-shapes run). */
  const t2_case c = gmt_small_shapes() ? (t2_case){2, 16, 4, 4, 8, 1}
                                        : (t2_case){2, 256, 8, 8, 128, 1};
  check_t2x2(&c, 710, 0);
}
END_TEST

/* ---- refusals ---- */

START_TEST(conv_ops_refuse_bad_shapes) {
  gm_error err = {0};
  gm_tensor *x = gmt_tensor_from(4, GM_SHAPE(2, 3, 8, 8), NULL);
  gm_tensor *w = gmt_tensor_from(4, GM_SHAPE(4, 5, 3, 3), NULL);
  gm_tensor *w11 = gmt_tensor_from(4, GM_SHAPE(4, 3, 11, 11), NULL);
  gm_tensor *wok = gmt_tensor_from(4, GM_SHAPE(4, 3, 3, 3), NULL);
  gm_tensor *b5 = gmt_tensor_from(1, GM_SHAPE(5), NULL);
  gm_tensor *m = gmt_tensor_from(4, GM_SHAPE(4, 3, 5, 5), NULL);
  gm_tensor *x3 = gmt_tensor_from(3, GM_SHAPE(3, 8, 8), NULL);
  gm_tensor *y = NULL;
  ck_assert_int_eq(gm_conv2d(&y, x, w, NULL, NULL, NULL, &err), GM_ESHAPE);
  ck_assert_ptr_nonnull(strstr(err.msg, "(2, 3, 8, 8)"));
  ck_assert_ptr_nonnull(strstr(err.msg, "(4, 5, 3, 3)"));
  ck_assert_int_eq(gm_conv2d(&y, x, w11, NULL, NULL, NULL, &err), GM_EUNSUPPORTED);
  ck_assert_int_eq(gm_conv2d(&y, x, wok, NULL, NULL, &(gm_conv2d_opts){.stride = 3, .pad_h = 1, .pad_w = 1}, &err),
                   GM_EUNSUPPORTED);
  ck_assert_int_eq(gm_conv2d(&y, x, wok, NULL, NULL, &(gm_conv2d_opts){.stride = 1, .pad_h = -1}, &err),
                   GM_EINVAL);
  ck_assert_int_eq(gm_conv2d(&y, x, wok, b5, NULL, NULL, &err), GM_ESHAPE);
  ck_assert_ptr_nonnull(strstr(err.msg, "(5)"));
  ck_assert_int_eq(gm_conv2d(&y, x, wok, NULL, m, NULL, &err), GM_ESHAPE);
  ck_assert_ptr_nonnull(strstr(err.msg, "(4, 3, 5, 5)"));
  ck_assert_int_eq(gm_conv2d(&y, x3, wok, NULL, NULL, NULL, &err), GM_ESHAPE);
  gm_tensor *small = gmt_tensor_from(4, GM_SHAPE(1, 3, 2, 2), NULL);
  ck_assert_int_eq(gm_conv2d(&y, small, wok, NULL, NULL, NULL, &err), GM_ESHAPE);
  ck_assert_int_eq(gm_conv_transpose2x2(&y, x, wok, NULL, &err), GM_ESHAPE);
  ck_assert_ptr_nonnull(strstr(err.msg, "(4, 3, 3, 3)"));
  ck_assert_int_eq(gm_conv_mask_fill(x3, GM_MASK_A, 0, &err), GM_ESHAPE);
  ck_assert_int_eq(gm_conv_mask_fill(m, (gm_conv_mask)7, 0, &err), GM_EINVAL);
  gm_tensor *all[] = {x, w, w11, wok, b5, m, x3, small};
  for (size_t i = 0; i < GM__COUNT(all); i++) gm_tensor_destroy(all[i]);
  gm_tape_reset(gmt_device());
}
END_TEST

int main(void) {
  Suite *s = suite_create("ops_conv");
  TCase *tc = tcase_create("conv");
  tcase_add_loop_test(tc, conv2d_forward_matches_direct_loops, 0, (int)GM__COUNT(fwd_cases));
  tcase_add_loop_test(tc, conv2d_backward_matches_finite_differences, 0, (int)GM__COUNT(bwd_cases));
  tcase_add_test(tc, conv2d_gives_a_mask_that_requires_grad_its_gradient);
  tcase_add_test(tc, conv2d_with_taps_gives_the_mask_its_gradient);
  tcase_add_test(tc, conv_mask_taps_counts_up_to_the_last_open_position);
  tcase_add_loop_test(tc, conv2d_implicit_gemm_matches_im2col_at_study_shapes, 0,
                      (int)GM__COUNT(study_cases));
  tcase_add_test(tc, conv2d_gradient_only_for_inputs_that_require_it);
  tcase_add_test(tc, conv2d_batch_split_into_chunks_matches_reference);
  tcase_add_test(tc, conv_mask_matches_models_md_for_3x3_and_7x7);
  tcase_add_test(tc, conv_mask_channel_aware_centre_follows_rgb_groups);
  tcase_add_test(tc, conv2d_masked_a_ignores_current_and_later_pixels);
  tcase_add_test(tc, conv2d_masked_b_ignores_later_pixels);
  tcase_add_test(tc, conv2d_stack_a_then_b_stays_causal);
  tcase_add_test(tc, conv2d_channel_aware_a_hides_same_and_later_groups);
  tcase_add_test(tc, conv2d_channel_aware_b_shows_same_group);
  tcase_add_loop_test(tc, conv_transpose2x2_matches_reference, 0, 3);
  tcase_add_test(tc, conv_transpose2x2_forward_at_unet_shape);
  tcase_add_test(tc, conv_ops_refuse_bad_shapes);
  suite_add_tcase(s, tc);
  return gmt_run(s);
}
