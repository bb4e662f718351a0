/* conv2d (implicit GEMM on the own kernels at stride 1; otherwise im2col + GEMM, the
 * batch processed in bounded chunks) and conv-transpose 2x2 stride 2 (GEMM + scatter),
 * each forward followed by its backward. Kernels:
 * kernels/conv.cl. Scratch buffers come from the device pool and go back to it before an
 * op returns (the queue is in order), so only outputs and grads stay in the step arena. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm_backend.h"
#include "ops_conv_internal.h"

#define DEFAULT_SCRATCH_BYTES ((size_t)128 << 20)

static size_t scratch_limit;  /* 0: the default */
/* 1: always im2col columns, never the implicit-GEMM path; -1: not yet read from env
 * GM_CONV ("im2col" sets it; for measuring one path against the other). */
static int im2col_only = -1;
static long implicit_runs;    /* products computed on the implicit-GEMM path, for tests */

static int im2col_forced(void) {
  if (im2col_only < 0) {
    const char *env = getenv("GM_CONV");
    im2col_only = env && strcmp(env, "im2col") == 0;
  }
  return im2col_only;
}

int gm__conv_set_im2col_only(int on) {
  int prev = im2col_forced();
  im2col_only = on;
  return prev;
}

long gm__conv_implicit_runs(void) { return implicit_runs; }

size_t gm__conv_set_scratch_limit(size_t bytes) {
  size_t prev = scratch_limit;
  scratch_limit = bytes;
  return prev;
}

/* A pool-backed tensor the op frees before it returns. */
static int scratch(gm_tensor **t, gm_device *dev, int64_t rows, int64_t cols, gm_error *err) {
  return gm_tensor_create(t, dev, GM_F32, 2, GM_SHAPE(rows, cols), err);
}

int gm__channel_bias_grad(gm_tensor *db, const gm_tensor *dy, int64_t nbatch, int64_t c,
                          int64_t p, gm_error *err) {
  return GM__LAUNCH1D(db->dev, "conv_bias_grad", (size_t)c, err, GMK_T(db), GMK_T(dy),
                      GMK_I(nbatch), GMK_I(c), GMK_I(p));
}

int gm__channel_bias_add(gm_tensor *y, const gm_tensor *bias, int64_t nbatch, int64_t c,
                         int64_t p, gm_error *err) {
  return GM__LAUNCH1D(y->dev, "conv_bias_add", (size_t)(nbatch * c * p), err, GMK_T(y),
                      GMK_T(bias), GMK_I(nbatch), GMK_I(c), GMK_I(p));
}

/* bias->grad += per-channel sums of dy (B, C, P), when bias requires grad. */
static int bias_backward(gm_tensor *bias, const gm_tensor *dy, int64_t nbatch, int64_t c,
                         int64_t p, gm_error *err) {
  if (!bias || !bias->requires_grad) return 0;
  gm_tensor *db;
  int rc = gm__grad(bias, &db, err);
  return rc ? rc : gm__channel_bias_grad(db, dy, nbatch, c, p, err);
}

static int check_bias(const char *op, const gm_tensor *bias, int64_t cout, gm_error *err) {
  if (!bias) return 0;
  int rc = gm__want_f32(op, bias, err);
  if (rc) return rc;
  if (bias->ndim == 1 && bias->shape[0] == cout) return 0;
  char s[96];
  return gm_error_set(err, GM_ESHAPE, "%s: bias must have shape (%" PRId64 "), got %s", op,
                      cout, gm_shape_str(bias, s, sizeof s));
}

static int check_positive(const char *op, const char *what, const gm_tensor *t,
                          gm_error *err) {
  for (int i = 0; i < t->ndim; i++)
    if (t->shape[i] < 1) {
      char s[96];
      return gm_error_set(err, GM_ESHAPE, "%s: %s has an empty dimension: %s", op, what,
                          gm_shape_str(t, s, sizeof s));
    }
  return 0;
}

/* ---- conv2d ---- */

typedef gm__conv_geom conv_geom;

static void geom_init(conv_geom *g, const gm_tensor *x, const gm_tensor *w, int64_t stride,
                      int64_t ph, int64_t pw, int64_t taps) {
  g->b = x->shape[0];
  g->cin = x->shape[1];
  g->h = x->shape[2];
  g->w = x->shape[3];
  g->cout = w->shape[0];
  g->kh = w->shape[2];
  g->kw = w->shape[3];
  g->stride = stride;
  g->ph = ph;
  g->pw = pw;
  g->ho = (g->h + 2 * ph - g->kh) / stride + 1;
  g->wo = (g->w + 2 * pw - g->kw) / stride + 1;
  g->nt = taps ? taps : g->kh * g->kw;
  g->k = g->cin * g->nt;
  g->p = g->ho * g->wo;
}

int gm__conv_check(const char *op, conv_geom *g, const gm_tensor *x, const gm_tensor *w,
                   const gm_tensor *bias, const gm_tensor *mask, const gm_conv2d_opts *o,
                   gm_error *err) {
  *g = (conv_geom){0}; /* defined on every path: gcc cannot see that errors return non-zero */
  int rc = gm__want_ndim(op, "x (B, Cin, H, W)", x, 4, err);
  if (rc == 0) rc = gm__want_ndim(op, "w (Cout, Cin, kh, kw)", w, 4, err);
  if (rc == 0) rc = gm__want_f32(op, x, err);
  if (rc == 0) rc = gm__want_f32(op, w, err);
  if (rc == 0) rc = check_positive(op, "x", x, err);
  if (rc == 0) rc = check_positive(op, "w", w, err);
  if (rc) return rc;
  char sx[96], sw[96];
  gm_shape_str(x, sx, sizeof sx);
  gm_shape_str(w, sw, sizeof sw);
  if (w->shape[1] != x->shape[1])
    return gm_error_set(err, GM_ESHAPE, "%s: x %s has %" PRId64 " channels, w %s expects %" PRId64,
                        op, sx, x->shape[1], sw, w->shape[1]);
  if (w->shape[2] > 9 || w->shape[3] > 9)
    return gm_error_set(err, GM_EUNSUPPORTED, "%s: kernel %" PRId64 "x%" PRId64
                        " of w %s is larger than 9x9", op, w->shape[2], w->shape[3], sw);
  int stride = o && o->stride ? o->stride : 1, ph = o ? o->pad_h : 0, pw = o ? o->pad_w : 0;
  if (stride != 1 && stride != 2)
    return gm_error_set(err, GM_EUNSUPPORTED, "%s: stride %d (1 or 2 supported)", op, stride);
  if (ph < 0 || pw < 0)
    return gm_error_set(err, GM_EINVAL, "%s: negative padding (%d, %d)", op, ph, pw);
  int taps = o ? o->taps : 0;
  if (taps < 0 || taps > w->shape[2] * w->shape[3])
    return gm_error_set(err, GM_EINVAL, "%s: taps %d is not within 0..%" PRId64
                        " (the kernel positions of w %s)", op, taps, w->shape[2] * w->shape[3], sw);
  if (x->shape[2] + 2 * ph < w->shape[2] || x->shape[3] + 2 * pw < w->shape[3])
    return gm_error_set(err, GM_ESHAPE, "%s: x %s padded by (%d, %d) is smaller than the "
                        "kernel of w %s", op, sx, ph, pw, sw);
  rc = check_bias(op, bias, w->shape[0], err);
  if (rc == 0 && mask) {
    rc = gm__want_f32(op, mask, err);
    if (rc == 0) {
      char what[64];
      snprintf(what, sizeof what, "%s: mask vs w", op);
      rc = gm__same_shape(what, mask, w, err);
    }
  }
  if (rc) return rc;
  geom_init(g, x, w, stride, ph, pw, taps);
  return 0;
}

/* Images per chunk: as many as keep the chunk's scratch (columns and one more
 * (Cout, n*P) matrix) under the limit, then evened out so the chunks are of equal size. */
static int chunk_images(gm_device *dev, const conv_geom *g, int64_t *nb, gm_error *err) {
  size_t limit = scratch_limit;
  if (!limit) {
    limit = DEFAULT_SCRATCH_BYTES;
    size_t quarter = (size_t)(gm_device_get_info(dev)->max_alloc_bytes / 4);
    if (quarter && quarter < limit) limit = quarter;
  }
  int64_t per_image = (g->k + g->cout) * g->p * 4;
  int64_t most = (int64_t)(limit / (size_t)per_image);
  if (most < 1) most = 1;
  if (most > g->b) most = g->b;
  int64_t chunks = (g->b + most - 1) / most;
  *nb = (g->b + chunks - 1) / chunks;
  if (g->k * *nb * g->p > INT32_MAX)
    return gm_error_set(err, GM_ERANGE, "conv2d: one image's im2col columns (%" PRId64 " x %" PRId64
                        ") exceed 2^31 elements", g->k, g->p);
  return 0;
}

static int launch_im2col(const conv_geom *g, gm_tensor *col, const gm_tensor *x, int64_t b0,
                         int64_t n, gm_error *err) {
  return GM__LAUNCH2D(x->dev, "conv_im2col", (size_t)(n * g->ho), (size_t)g->k, err,
                      GMK_T(col), GMK_T(x), GMK_I(b0), GMK_I(n), GMK_I(g->cin), GMK_I(g->h),
                      GMK_I(g->w), GMK_I(g->kh), GMK_I(g->kw), GMK_I(g->stride), GMK_I(g->ph),
                      GMK_I(g->pw), GMK_I(g->ho), GMK_I(g->wo), GMK_I(g->nt));
}

/* dx += col2im(dcol) for images b0..b0+n: a row per work-item at stride 1, an element
 * per work-item otherwise. Both add the taps in the same order. */
static int launch_col2im(const conv_geom *g, gm_tensor *dx, const gm_tensor *dcol, int64_t b0,
                         int64_t n, gm_error *err) {
  if (g->stride == 1)
    return GM__LAUNCH1D(dx->dev, "conv_col2im_s1_acc", (size_t)(n * g->cin * g->h), err,
                        GMK_T(dx), GMK_T(dcol), GMK_I(b0), GMK_I(n), GMK_I(g->cin),
                        GMK_I(g->h), GMK_I(g->w), GMK_I(g->kw), GMK_I(g->ph), GMK_I(g->pw),
                        GMK_I(g->ho), GMK_I(g->wo), GMK_I(g->nt));
  return GM__LAUNCH1D(dx->dev, "conv_col2im_acc", (size_t)(n * g->cin * g->h * g->w), err,
                      GMK_T(dx), GMK_T(dcol), GMK_I(b0), GMK_I(n), GMK_I(g->cin), GMK_I(g->h),
                      GMK_I(g->w), GMK_I(g->kh), GMK_I(g->kw), GMK_I(g->stride), GMK_I(g->ph),
                      GMK_I(g->pw), GMK_I(g->ho), GMK_I(g->wo), GMK_I(g->nt));
}

/* The GEMM of a chunk of n images: C (m x n*P) and friends, all row-major and packed. */
static int gemm(gm_device *dev, int ta, int tb, int64_t m, int64_t n, int64_t k,
                const gm_tensor *a, const gm_tensor *b, gm_tensor *c, float beta,
                gm_error *err) {
  gm__gemm_desc d = {.trans_a = ta, .trans_b = tb, .m = (size_t)m, .n = (size_t)n,
                     .k = (size_t)k, .alpha = 1.0f, .beta = beta, .a = gm__mem(a),
                     .b = gm__mem(b), .c = gm__mem(c), .a_off = a->offset,
                     .b_off = b->offset, .c_off = c->offset,
                     .lda = (size_t)(ta ? m : k), .ldb = (size_t)(tb ? k : n),
                     .ldc = (size_t)n, .batch = 1};
  return gm__gemm(dev, &d, err);
}

/* y = conv(x, weff) + bias, chunk by chunk: columns, GEMM into (Cout, n*P), then the
 * layout change to (n, Cout, P) with the bias added on the way. */
static int conv_forward_chunks(const conv_geom *g, gm_tensor *y, const gm_tensor *x,
                               const gm_tensor *weff, const gm_tensor *bias, int64_t nb,
                               gm_tensor *col, gm_tensor *out, gm_error *err) {
  gm_device *dev = x->dev;
  int rc = 0;
  for (int64_t b0 = 0; rc == 0 && b0 < g->b; b0 += nb) {
    int64_t n = g->b - b0 < nb ? g->b - b0 : nb;
    rc = launch_im2col(g, col, x, b0, n, err);
    if (rc == 0) rc = gemm(dev, 0, 0, g->cout, n * g->p, g->k, weff, col, out, 0.0f, err);
    if (rc == 0)
      rc = GM__LAUNCH1D(dev, "conv_from_cn", (size_t)(n * g->cout * g->p), err, GMK_T(y),
                        GMK_T(out), GMK_T(bias ? bias : out), GMK_I(bias != NULL), GMK_I(0),
                        GMK_I(b0), GMK_I(n), GMK_I(g->cout), GMK_I(g->p));
  }
  return rc;
}

/* Whether the GEMM needs weights other than w itself: masked, or only some taps. */
static int packs_weights(const conv_geom *g, const gm_tensor *mask) {
  return mask != NULL || g->nt < g->kh * g->kw;
}

/* weff (Cout, Cin*nt) = the taps of w * mask that take part, packed, in a scratch tensor;
 * or w itself when there is no mask and every tap takes part. */
static int packed_weights(gm_tensor **weff, const conv_geom *g, gm_tensor *w,
                          const gm_tensor *mask, gm_error *err) {
  *weff = w;
  if (!packs_weights(g, mask)) return 0;
  int rc = gm_tensor_create(weff, w->dev, GM_F32, 2, GM_SHAPE(g->cout, g->k), err);
  if (rc) return rc;
  rc = GM__LAUNCH1D(w->dev, "conv_weights_taps", (size_t)(*weff)->numel, err, GMK_T(*weff),
                    GMK_T(w), GMK_T(mask ? mask : w), GMK_I(mask != NULL),
                    GMK_I(g->cout * g->cin), GMK_I(g->kh * g->kw), GMK_I(g->nt), GMK_I(g->nt));
  if (rc) {
    gm_tensor_destroy(*weff);
    *weff = w;
  }
  return rc;
}

static void release_weights(gm_tensor *weff, const gm_tensor *w) {
  if (weff != w) gm_tensor_destroy(weff);
}

/* ---- implicit GEMM: the own kernels read the padded input in place, no columns ---- */

/* The own GEMM kernels when they can compute this convolution's weight gradient without
 * im2col columns (gemm_conv_wgrad: stride 1, padding at most the kernel's reach, padded
 * copies that int offsets address); NULL: the im2col path. */
static gm__gemm_own *implicit_wgrad_own(const conv_geom *g, gm_device *dev) {
  if (im2col_forced() || g->stride != 1 || g->ph > g->kh - 1 || g->pw > g->kw - 1) return NULL;
  gm__gemm_own *own = gm__gemm_own_for_conv(dev);
  if (!own) return NULL;
  int64_t cmax = g->cin > g->cout ? g->cin : g->cout;
  int64_t padded = g->b * cmax * (g->h + g->kh - 1 + 2 * g->ph) * (g->w + g->kw - 1 + 2 * g->pw);
  int64_t biggest = g->b * cmax * (g->h > g->ho ? g->h : g->ho) * (g->w > g->wo ? g->w : g->wo);
  if (padded > INT32_MAX || biggest > INT32_MAX || g->cout * g->k > INT32_MAX) return NULL;
  return own;
}

/* The own GEMM kernels when they can also run the forward and the input gradient without
 * columns (gemm_nn_conv): rows of whole vectors, wo and w multiples of the kernels'
 * vector width. NULL: the im2col path. */
static gm__gemm_own *implicit_own(const conv_geom *g, gm_device *dev) {
  gm__gemm_own *own = implicit_wgrad_own(g, dev);
  if (!own) return NULL;
  int64_t vw = gm__gemm_own_vector(own);
  return g->wo % vw || g->w % vw ? NULL : own;
}

/* dst (B, C, h + top + bottom, w + left + right) = src (B, C, h, w) zero-padded, a
 * pooled scratch the caller frees. */
static int pad_copy(gm_tensor **dst, const gm_tensor *src, int64_t top, int64_t bottom,
                    int64_t left, int64_t right, gm_error *err) {
  int64_t b = src->shape[0], c = src->shape[1], h = src->shape[2], w = src->shape[3];
  int64_t hp = h + top + bottom, wp = w + left + right;
  int rc = gm_tensor_create(dst, src->dev, GM_F32, 4, GM_SHAPE(b, c, hp, wp), err);
  if (rc == 0)
    rc = GM__LAUNCH1D(src->dev, "conv_pad", (size_t)(b * c * hp), err, GMK_T(*dst), GMK_T(src),
                      GMK_I(b * c), GMK_I(h), GMK_I(w), GMK_I(hp), GMK_I(wp), GMK_I(top),
                      GMK_I(left));
  if (rc && *dst) {
    gm_tensor_destroy(*dst);
    *dst = NULL;
  }
  return rc;
}

/* The forward taps of x padded by (ph, pw) as the implicit operand: rows ci * nt + t,
 * columns the output positions. */
static gm__conv_operand forward_operand(const conv_geom *g, const gm_tensor *xp) {
  int hp = (int)xp->shape[2], wp = (int)xp->shape[3];
  return (gm__conv_operand){.src = gm__mem(xp), .src_off = xp->offset,
                            .s_bs = (int)g->cin * hp * wp, .s_rs = wp, .c_stride = hp * wp,
                            .base = 0, .ky_step = wp, .kx_step = 1, .nt = (int)g->nt,
                            .kw = (int)g->kw, .wo = (int)g->wo, .pimg = (int)g->p};
}

static int padded_input(gm_tensor **xp, const conv_geom *g, const gm_tensor *x, gm_error *err) {
  int64_t bottom = g->ho + g->kh - 1 - g->h - g->ph, right = g->wo + g->kw - 1 - g->w - g->pw;
  return pad_copy(xp, x, g->ph, bottom, g->pw, right, err);
}

static int implicit_forward(gm__gemm_own *own, const conv_geom *g, gm_tensor *y,
                            const gm_tensor *x, const gm_tensor *weff, const gm_tensor *bias,
                            gm_error *err) {
  gm_tensor *xp = NULL;
  int rc = padded_input(&xp, g, x, err);
  if (rc) return rc;
  gm__conv_operand op = forward_operand(g, xp);
  implicit_runs++;
  rc = gm__gemm_own_conv_nn(own, x->dev, (int)g->cout, (int)(g->b * g->p), (int)g->k, 1.0f,
                            0.0f, gm__mem(weff), weff->offset, (int)g->k, &op,
                            bias ? gm__mem(bias) : NULL, bias ? bias->offset : 0, gm__mem(y),
                            y->offset, (int)g->p, (int)(g->cout * g->p), err);
  gm_tensor_destroy(xp);
  return rc;
}

/* dL/dw (and dL/dmask) from dW^T (Cin*nt, Cout) = the forward operand's rows times dy^T
 * (dy transposed to (B*P, Cout)): one launch over the whole batch, no columns, then
 * scattered into w's layout (times the mask) by conv_weights_grad_t. */
static int implicit_weight_grad(gm__gemm_own *own, const conv_geom *g, const gm_tensor *dy,
                                const gm_tensor *x, gm_tensor *w, gm_tensor *mask,
                                gm_error *err) {
  gm_tensor *xp = NULL, *dyt = NULL, *dwt = NULL, *grad;
  int rc = padded_input(&xp, g, x, err);
  if (rc == 0) rc = scratch(&dyt, x->dev, g->b * g->p, g->cout, err);
  if (rc == 0) rc = scratch(&dwt, x->dev, g->k, g->cout, err);
  if (rc == 0)
    rc = GM__LAUNCH1D(x->dev, "conv_to_pc", (size_t)dyt->numel, err, GMK_T(dyt), GMK_T(dy),
                      GMK_I(g->b), GMK_I(g->cout), GMK_I(g->p));
  if (rc == 0) {
    gm__conv_operand op = forward_operand(g, xp);
    implicit_runs++;
    rc = gm__gemm_own_conv_wgrad(own, x->dev, (int)g->k, (int)g->cout, (int)g->b, 1.0f, 0.0f,
                                 &op, gm__mem(dyt), dyt->offset, (int)g->cout, gm__mem(dwt),
                                 dwt->offset, (int)g->cout, err);
  }
  size_t n = (size_t)(g->cout * g->k);
  if (rc == 0 && w->requires_grad) {
    rc = gm__grad(w, &grad, err);
    if (rc == 0)
      rc = GM__LAUNCH1D(x->dev, "conv_weights_grad_t", n, err, GMK_T(grad), GMK_T(dwt),
                        GMK_T(mask ? mask : w), GMK_I(mask != NULL), GMK_I(g->cout),
                        GMK_I(g->cin), GMK_I(g->kh * g->kw), GMK_I(g->nt));
  }
  if (rc == 0 && mask && mask->requires_grad) {
    rc = gm__grad(mask, &grad, err);
    if (rc == 0)
      rc = GM__LAUNCH1D(x->dev, "conv_weights_grad_t", n, err, GMK_T(grad), GMK_T(dwt),
                        GMK_T(w), GMK_I(1), GMK_I(g->cout), GMK_I(g->cin),
                        GMK_I(g->kh * g->kw), GMK_I(g->nt));
  }
  gm_tensor_destroy(dwt);
  gm_tensor_destroy(dyt);
  gm_tensor_destroy(xp);
  return rc;
}

/* dx (B, Cin, H, W) += the convolution of dy with the flipped kernel: dy padded by
 * kh-1-ph rows and kw-1-pw columns on each side, read with the taps reversed, against
 * the weights regrouped as (Cin, Cout*nt). */
static int implicit_input_grad(gm__gemm_own *own, const conv_geom *g, const gm_tensor *dy,
                               gm_tensor *dx, const gm_tensor *w, const gm_tensor *mask,
                               gm_error *err) {
  int64_t pt = g->kh - 1 - g->ph, pl = g->kw - 1 - g->pw;
  gm_tensor *dyp = NULL, *wt = NULL;
  int rc = pad_copy(&dyp, dy, pt, g->h + g->kh - 1 - g->ho - pt, pl,
                    g->w + g->kw - 1 - g->wo - pl, err);
  int64_t kd = g->cout * g->nt;
  if (rc == 0) rc = gm_tensor_create(&wt, dy->dev, GM_F32, 2, GM_SHAPE(g->cin, kd), err);
  if (rc == 0)
    rc = GM__LAUNCH1D(dy->dev, "conv_weights_dx", (size_t)wt->numel, err, GMK_T(wt), GMK_T(w),
                      GMK_T(mask ? mask : w), GMK_I(mask != NULL), GMK_I(g->cout),
                      GMK_I(g->cin), GMK_I(g->kh * g->kw), GMK_I(g->nt));
  if (rc == 0) {
    int hq = (int)dyp->shape[2], wq = (int)dyp->shape[3];
    gm__conv_operand op = {.src = gm__mem(dyp), .src_off = dyp->offset,
                           .s_bs = (int)g->cout * hq * wq, .s_rs = wq, .c_stride = hq * wq,
                           .base = (int)(g->kh - 1) * wq + (int)(g->kw - 1), .ky_step = -wq,
                           .kx_step = -1, .nt = (int)g->nt, .kw = (int)g->kw, .wo = (int)g->w,
                           .pimg = (int)(g->h * g->w)};
    implicit_runs++;
    rc = gm__gemm_own_conv_nn(own, dy->dev, (int)g->cin, (int)(g->b * g->h * g->w), (int)kd,
                              1.0f, 1.0f, gm__mem(wt), wt->offset, (int)kd, &op, NULL, 0,
                              gm__mem(dx), dx->offset, (int)(g->h * g->w),
                              (int)(g->cin * g->h * g->w), err);
  }
  gm_tensor_destroy(wt);
  gm_tensor_destroy(dyp);
  return rc;
}

/* node->iarg: 0 stride, 1 pad_h, 2 pad_w, 3 index of bias in in[] or -1, 4 of mask,
 * 5 taps (0: all). */
enum { CONV_STRIDE, CONV_PH, CONV_PW, CONV_BIAS, CONV_MASK, CONV_TAPS };

/* Per chunk: dY to (Cout, n*P); dW (+)= dY cols^T with the columns rebuilt; dcols =
 * weff^T dY, gathered back into dx. dwt accumulates across chunks (beta 1) except where
 * it is a scratch that the first chunk overwrites. */
static int conv_backward_chunks(const conv_geom *g, const gm_tensor *dy, const gm_tensor *x,
                                gm_tensor *dx, const gm_tensor *weff, gm_tensor *dwt,
                                int dwt_fresh, int64_t nb, gm_tensor *col, gm_tensor *dyp,
                                gm_error *err) {
  gm_device *dev = x->dev;
  int rc = 0;
  for (int64_t b0 = 0; rc == 0 && b0 < g->b; b0 += nb) {
    int64_t n = g->b - b0 < nb ? g->b - b0 : nb, cols = n * g->p;
    rc = GM__LAUNCH1D(dev, "conv_to_cn", (size_t)(g->cout * cols), err, GMK_T(dyp), GMK_T(dy),
                      GMK_I(b0), GMK_I(n), GMK_I(g->cout), GMK_I(g->p));
    if (rc == 0 && dwt) {
      rc = launch_im2col(g, col, x, b0, n, err);
      float beta = dwt_fresh && b0 == 0 ? 0.0f : 1.0f;
      if (rc == 0) rc = gemm(dev, 0, 1, g->cout, g->k, cols, dyp, col, dwt, beta, err);
    }
    if (rc == 0 && dx) {
      rc = gemm(dev, 1, 0, g->k, cols, g->cout, weff, dyp, col, 0.0f, err);
      if (rc == 0) rc = launch_col2im(g, dx, col, b0, n, err);
    }
  }
  return rc;
}

/* From the packed weight gradient dwt (Cout, Cin*nt): dL/dw = dwt * mask and, when the
 * mask itself wants a gradient, dL/dmask = dwt * w, on the taps that take part. */
static int packed_weight_grads(const conv_geom *g, gm_tensor *w, gm_tensor *mask,
                               const gm_tensor *dwt, gm_error *err) {
  gm_tensor *grad;
  int rc = 0;
  int64_t rows = g->cout * g->cin, khkw = g->kh * g->kw;
  if (w->requires_grad) {
    rc = gm__grad(w, &grad, err);
    if (rc == 0)
      rc = GM__LAUNCH1D(w->dev, "conv_weights_taps_grad", (size_t)dwt->numel, err, GMK_T(grad),
                        GMK_T(dwt), GMK_T(mask ? mask : w), GMK_I(mask != NULL), GMK_I(rows),
                        GMK_I(khkw), GMK_I(g->nt));
  }
  if (rc == 0 && mask && mask->requires_grad) {
    rc = gm__grad(mask, &grad, err);
    if (rc == 0)
      rc = GM__LAUNCH1D(w->dev, "conv_weights_taps_grad", (size_t)dwt->numel, err, GMK_T(grad),
                        GMK_T(dwt), GMK_T(w), GMK_I(1), GMK_I(rows), GMK_I(khkw), GMK_I(g->nt));
  }
  return rc;
}

static int conv2d_backward(gm__node *nd, gm_error *err) {
  gm_tensor *x = nd->in[0], *w = nd->in[1], *dy = nd->out->grad;
  gm_tensor *bias = nd->iarg[CONV_BIAS] >= 0 ? nd->in[nd->iarg[CONV_BIAS]] : NULL;
  gm_tensor *mask = nd->iarg[CONV_MASK] >= 0 ? nd->in[nd->iarg[CONV_MASK]] : NULL;
  conv_geom g;
  geom_init(&g, x, w, nd->iarg[CONV_STRIDE], nd->iarg[CONV_PH], nd->iarg[CONV_PW],
            nd->iarg[CONV_TAPS]);
  int rc = bias_backward(bias, dy, g.b, g.cout, g.p, err);
  int need_dw = w->requires_grad || (mask && mask->requires_grad);
  if (rc || (!x->requires_grad && !need_dw)) return rc;

  gm_tensor *dx = NULL, *dwt = NULL, *weff = w, *col = NULL, *dyp = NULL;
  int packed = packs_weights(&g, mask);
  /* without columns where the own kernels can, else from im2col columns in chunks */
  gm__gemm_own *own = implicit_own(&g, x->dev), *wown = implicit_wgrad_own(&g, x->dev);
  int64_t nb = 0;
  rc = chunk_images(x->dev, &g, &nb, err);
  if (rc == 0 && x->requires_grad) rc = gm__grad(x, &dx, err);
  if (rc == 0 && dx && own) {
    rc = implicit_input_grad(own, &g, dy, dx, w, mask, err);
    dx = NULL;
  }
  if (rc == 0 && need_dw && wown) {
    rc = implicit_weight_grad(wown, &g, dy, x, w, mask, err);
    need_dw = 0;
  }
  if (rc || (!need_dw && !dx)) return rc;
  if (rc == 0 && dx) rc = packed_weights(&weff, &g, w, mask, err);
  if (rc == 0 && need_dw)
    rc = packed ? scratch(&dwt, x->dev, g.cout, g.k, err) : gm__grad(w, &dwt, err);
  if (rc == 0) rc = scratch(&col, x->dev, g.k, nb * g.p, err);
  if (rc == 0) rc = scratch(&dyp, x->dev, g.cout, nb * g.p, err);
  if (rc == 0)
    rc = conv_backward_chunks(&g, dy, x, dx, weff, dwt, packed, nb, col, dyp, err);
  if (rc == 0 && packed && dwt) rc = packed_weight_grads(&g, w, mask, dwt, err);
  gm_tensor_destroy(dyp);
  gm_tensor_destroy(col);
  if (packed) gm_tensor_destroy(dwt);
  release_weights(weff, w);
  return rc;
}

int gm_conv2d(gm_tensor **y, gm_tensor *x, gm_tensor *w, gm_tensor *bias, gm_tensor *mask,
              const gm_conv2d_opts *o, gm_error *err) {
  conv_geom g;
  int rc = gm__conv_check("conv2d", &g, x, w, bias, mask, o, err);
  if (rc) return rc;
  gm_device *dev = x->dev;
  gm_tensor *weff = w, *col = NULL, *out = NULL;
  gm__gemm_own *own = implicit_own(&g, dev);
  int64_t nb = 0;
  rc = gm__tensor_temp(y, dev, GM_F32, 4, GM_SHAPE(g.b, g.cout, g.ho, g.wo), err);
  if (rc == 0) rc = packed_weights(&weff, &g, w, mask, err);
  if (rc == 0 && own) {
    rc = implicit_forward(own, &g, *y, x, weff, bias, err);
  } else {
    if (rc == 0) rc = chunk_images(dev, &g, &nb, err);
    if (rc == 0) rc = scratch(&col, dev, g.k, nb * g.p, err);
    if (rc == 0) rc = scratch(&out, dev, g.cout, nb * g.p, err);
    if (rc == 0) rc = conv_forward_chunks(&g, *y, x, weff, bias, nb, col, out, err);
  }
  gm_tensor_destroy(out);
  gm_tensor_destroy(col);
  release_weights(weff, w);
  if (rc) return rc;

  gm_tensor *in[4] = {x, w};
  int n_in = 2, bias_at = -1, mask_at = -1;
  if (bias) in[bias_at = n_in++] = bias;
  if (mask) in[mask_at = n_in++] = mask;
  gm__node *nd = gm__tape_record(dev, "conv2d", conv2d_backward, *y, in, n_in, &rc, err);
  if (nd) {
    nd->iarg[CONV_STRIDE] = g.stride;
    nd->iarg[CONV_PH] = g.ph;
    nd->iarg[CONV_PW] = g.pw;
    nd->iarg[CONV_BIAS] = bias_at;
    nd->iarg[CONV_MASK] = mask_at;
    nd->iarg[CONV_TAPS] = g.nt < g.kh * g.kw ? g.nt : 0;
  }
  return rc;
}

/* ---- conv-transpose 2x2 stride 2 ---- */

/* t (Cout*4, B*H*W) = w^T (Cout*4 x Cin) xp (Cin x B*H*W): row co*4 + tap of t holds one
 * kernel tap of one output channel for every input pixel. */
static int t2x2_forward(gm_tensor *y, const gm_tensor *x, const gm_tensor *w,
                        const gm_tensor *bias, gm_tensor *xp, gm_tensor *t, gm_error *err) {
  gm_device *dev = x->dev;
  int64_t nbatch = x->shape[0], cin = x->shape[1], h = x->shape[2], wd = x->shape[3];
  int64_t cout = w->shape[1], n = nbatch * h * wd;
  int rc = GM__LAUNCH1D(dev, "conv_to_cn", (size_t)(cin * n), err, GMK_T(xp), GMK_T(x),
                        GMK_I(0), GMK_I(nbatch), GMK_I(cin), GMK_I(h * wd));
  if (rc == 0) rc = gemm(dev, 1, 0, cout * 4, n, cin, w, xp, t, 0.0f, err);
  if (rc == 0)
    rc = GM__LAUNCH2D(dev, "conv_t2x2_scatter", (size_t)(2 * wd), (size_t)(nbatch * cout * 2 * h),
                      err, GMK_T(y), GMK_T(t), GMK_T(bias ? bias : t), GMK_I(bias != NULL),
                      GMK_I(nbatch), GMK_I(cout), GMK_I(h), GMK_I(wd));
  return rc;
}

/* dt = dy in t's layout; dxp = w dt, added into dx; dw += xp dt^T. */
static int t2x2_backward_into(gm_tensor *x, gm_tensor *w, const gm_tensor *dy, gm_tensor *xp,
                              gm_tensor *dt, gm_error *err) {
  gm_device *dev = x->dev;
  int64_t nbatch = x->shape[0], cin = x->shape[1], h = x->shape[2], wd = x->shape[3];
  int64_t cout = w->shape[1], n = nbatch * h * wd;
  gm_tensor *g;
  int rc = GM__LAUNCH2D(dev, "conv_t2x2_gather", (size_t)wd, (size_t)(cout * 4 * nbatch * h), err,
                        GMK_T(dt), GMK_T(dy), GMK_I(nbatch), GMK_I(cout), GMK_I(h), GMK_I(wd));
  if (rc == 0 && x->requires_grad) {
    rc = gm__grad(x, &g, err);
    if (rc == 0) rc = gemm(dev, 0, 0, cin, n, cout * 4, w, dt, xp, 0.0f, err);
    if (rc == 0)
      rc = GM__LAUNCH1D(dev, "conv_from_cn", (size_t)x->numel, err, GMK_T(g), GMK_T(xp),
                        GMK_T(xp), GMK_I(0), GMK_I(1), GMK_I(0), GMK_I(nbatch), GMK_I(cin),
                        GMK_I(h * wd));
  }
  if (rc == 0 && w->requires_grad) {
    rc = gm__grad(w, &g, err);
    if (rc == 0)
      rc = GM__LAUNCH1D(dev, "conv_to_cn", (size_t)(cin * n), err, GMK_T(xp), GMK_T(x),
                        GMK_I(0), GMK_I(nbatch), GMK_I(cin), GMK_I(h * wd));
    if (rc == 0) rc = gemm(dev, 0, 1, cin, cout * 4, n, xp, dt, g, 1.0f, err);
  }
  return rc;
}

static int t2x2_backward(gm__node *nd, gm_error *err) {
  gm_tensor *x = nd->in[0], *w = nd->in[1], *dy = nd->out->grad;
  gm_tensor *bias = nd->n_in > 2 ? nd->in[2] : NULL;
  int64_t nbatch = x->shape[0], cin = x->shape[1], hw = x->shape[2] * x->shape[3];
  int64_t cout = w->shape[1];
  int rc = bias_backward(bias, dy, nbatch, cout, 4 * hw, err);
  if (rc || (!x->requires_grad && !w->requires_grad)) return rc;
  gm_tensor *xp = NULL, *dt = NULL;
  rc = scratch(&xp, x->dev, cin, nbatch * hw, err);
  if (rc == 0) rc = scratch(&dt, x->dev, cout * 4, nbatch * hw, err);
  if (rc == 0) rc = t2x2_backward_into(x, w, dy, xp, dt, err);
  gm_tensor_destroy(dt);
  gm_tensor_destroy(xp);
  return rc;
}

int gm_conv_transpose2x2(gm_tensor **y, gm_tensor *x, gm_tensor *w, gm_tensor *bias,
                         gm_error *err) {
  const char *op = "conv_transpose2x2";
  int rc = gm__want_ndim(op, "x (B, Cin, H, W)", x, 4, err);
  if (rc == 0) rc = gm__want_ndim(op, "w (Cin, Cout, 2, 2)", w, 4, err);
  if (rc == 0) rc = gm__want_f32(op, x, err);
  if (rc == 0) rc = gm__want_f32(op, w, err);
  if (rc == 0) rc = check_positive(op, "x", x, err);
  if (rc == 0) rc = check_positive(op, "w", w, err);
  if (rc) return rc;
  if (w->shape[0] != x->shape[1] || w->shape[2] != 2 || w->shape[3] != 2) {
    char sx[96], sw[96];
    return gm_error_set(err, GM_ESHAPE, "%s: w %s must be (Cin, Cout, 2, 2) with Cin = %" PRId64
                        " from x %s", op, gm_shape_str(w, sw, sizeof sw), x->shape[1],
                        gm_shape_str(x, sx, sizeof sx));
  }
  int64_t nbatch = x->shape[0], cin = x->shape[1], h = x->shape[2], wd = x->shape[3];
  int64_t cout = w->shape[1];
  rc = check_bias(op, bias, cout, err);
  if (rc == 0)
    rc = gm__tensor_temp(y, x->dev, GM_F32, 4, GM_SHAPE(nbatch, cout, 2 * h, 2 * wd), err);
  if (rc) return rc;
  gm_tensor *xp = NULL, *t = NULL;
  rc = scratch(&xp, x->dev, cin, nbatch * h * wd, err);
  if (rc == 0) rc = scratch(&t, x->dev, cout * 4, nbatch * h * wd, err);
  if (rc == 0) rc = t2x2_forward(*y, x, w, bias, xp, t, err);
  gm_tensor_destroy(t);
  gm_tensor_destroy(xp);
  if (rc) return rc;
  gm__tape_record(x->dev, op, t2x2_backward, *y, (gm_tensor *[]){x, w, bias}, bias ? 3 : 2,
                  &rc, err);
  return rc;
}
