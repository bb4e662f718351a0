/* Ops for autoregressive pixel models (header: genmoji/ops_pixel.h; kernels:
 * kernels/pixel.cl): quantisation, windows of feature maps and their backward, the gated
 * activation and its backward, convolution on a window of its output, and pixel puts. */
#include <inttypes.h>

#include "ops_conv_internal.h"
#include "ops_pixel_internal.h"

static int want_map(const char *op, const char *what, const gm_tensor *t, gm_error *err) {
  return gm__want_ndim(op, what, t, 4, err);
}

/* GM_ERANGE unless every size fits the kernels' int arithmetic. */
static int want_int_sized(const char *op, const gm_tensor *t, gm_error *err) {
  if (t->numel <= INT32_MAX) return 0;
  char s[96];
  return gm_error_set(err, GM_ERANGE, "%s: %s has more than 2^31 elements", op,
                      gm_shape_str(t, s, sizeof s));
}

/* ---- quantize ---- */

int gm_quantize(gm_tensor **y, gm_tensor *x, int levels, gm_dtype dtype, gm_error *err) {
  const char *op = "quantize";
  int rc = gm__want_f32(op, x, err);
  if (rc == 0) rc = want_int_sized(op, x, err);
  if (rc) return rc;
  if (levels < 1 || levels > 256)
    return gm_error_set(err, GM_EINVAL, "%s: %d levels (1 to 256 allowed)", op, levels);
  if (dtype != GM_I32 && dtype != GM_F32)
    return gm_error_set(err, GM_EDTYPE, "%s: output dtype %d is neither float32 nor int32", op,
                        (int)dtype);
  rc = gm__tensor_temp(y, x->dev, dtype, x->ndim, x->shape, err);
  if (rc) return rc;
  return GM__LAUNCH1D(x->dev, dtype == GM_I32 ? "pixel_quantize_i32" : "pixel_quantize_f32",
                      (size_t)x->numel, err, GMK_T(*y), GMK_T(x), GMK_I(levels),
                      GMK_I(x->numel));
}

/* ---- window (crop / pad) ---- */

enum { WIN_TOP, WIN_LEFT };

static int window_backward(gm__node *n, gm_error *err) {
  gm_tensor *x = n->in[0], *dy = n->out->grad, *dx;
  if (!x->requires_grad) return 0;
  int rc = gm__grad(x, &dx, err);
  if (rc) return rc;
  return GM__LAUNCH1D(x->dev, "pixel_window_backward", (size_t)dy->numel, err, GMK_T(dx),
                      GMK_T(dy), GMK_I(x->shape[2]), GMK_I(x->shape[3]), GMK_I(n->iarg[WIN_TOP]),
                      GMK_I(n->iarg[WIN_LEFT]), GMK_I(dy->shape[2]), GMK_I(dy->shape[3]),
                      GMK_I(dy->numel));
}

int gm_window(gm_tensor **y, gm_tensor *x, int top, int left, int h, int w, gm_error *err) {
  const char *op = "window";
  int rc = want_map(op, "x (B, C, H, W)", x, err);
  if (rc) return rc;
  if (h < 1 || w < 1)
    return gm_error_set(err, GM_ESHAPE, "%s: window %d x %d is empty", op, h, w);
  rc = gm__tensor_temp(y, x->dev, x->dtype, 4, GM_SHAPE(x->shape[0], x->shape[1], h, w), err);
  if (rc == 0) rc = want_int_sized(op, *y, err);
  if (rc == 0)
    rc = GM__LAUNCH1D(x->dev, "pixel_window_read", (size_t)(*y)->numel, err, GMK_T(*y),
                      GMK_T(x), GMK_I(x->shape[2]), GMK_I(x->shape[3]), GMK_I(top), GMK_I(left),
                      GMK_I(h), GMK_I(w), GMK_I((*y)->numel));
  if (rc || x->dtype != GM_F32) return rc;
  gm__node *n = gm__tape_record(x->dev, op, window_backward, *y, (gm_tensor *[]){x}, 1, &rc, err);
  if (n) {
    n->iarg[WIN_TOP] = top;
    n->iarg[WIN_LEFT] = left;
  }
  return rc;
}

int gm_window_write(gm_tensor *dst, gm_tensor *src, int top, int left, gm_error *err) {
  const char *op = "window_write";
  int rc = want_map(op, "dst (B, C, H, W)", dst, err);
  if (rc == 0) rc = want_map(op, "src (B, C, h, w)", src, err);
  if (rc == 0) rc = want_int_sized(op, src, err);
  if (rc) return rc;
  if (dst->dtype != src->dtype)
    return gm_error_set(err, GM_EDTYPE, "%s: dst is %s, src is %s", op, gm_dtype_name(dst->dtype),
                        gm_dtype_name(src->dtype));
  if (dst->shape[0] != src->shape[0] || dst->shape[1] != src->shape[1]) {
    char sd[96], ss[96];
    return gm_error_set(err, GM_ESHAPE, "%s: src %s and dst %s differ in batch or channels", op,
                        gm_shape_str(src, ss, sizeof ss), gm_shape_str(dst, sd, sizeof sd));
  }
  return GM__LAUNCH1D(dst->dev, "pixel_window_write", (size_t)src->numel, err, GMK_T(dst),
                      GMK_T(src), GMK_I(dst->shape[2]), GMK_I(dst->shape[3]), GMK_I(top),
                      GMK_I(left), GMK_I(src->shape[2]), GMK_I(src->shape[3]),
                      GMK_I(src->numel));
}

/* ---- gate ---- */

static int64_t inner_size(const gm_tensor *x) {
  int64_t n = 1;
  for (int i = 2; i < x->ndim; i++) n *= x->shape[i];
  return n;
}

static int gate_backward(gm__node *n, gm_error *err) {
  gm_tensor *x = n->in[0], *dy = n->out->grad, *dx;
  if (!x->requires_grad) return 0;
  int rc = gm__grad(x, &dx, err);
  if (rc) return rc;
  return GM__LAUNCH1D(x->dev, "pixel_gate_backward", (size_t)dy->numel, err, GMK_T(dx),
                      GMK_T(dy), GMK_T(x), GMK_I(x->shape[1] / 2), GMK_I(inner_size(x)),
                      GMK_I(dy->numel));
}

int gm_gate(gm_tensor **y, gm_tensor *x, gm_error *err) {
  const char *op = "gate";
  int rc = gm__want_f32(op, x, err);
  if (rc == 0) rc = want_int_sized(op, x, err);
  if (rc) return rc;
  char s[96];
  if (x->ndim < 2 || x->shape[1] % 2 || x->shape[1] == 0)
    return gm_error_set(err, GM_ESHAPE,
                        "%s: x must be (B, C, ...) with C even and non-zero, got %s", op,
                        gm_shape_str(x, s, sizeof s));
  int64_t shape[GM_MAX_DIMS];
  for (int d = 0; d < x->ndim; d++) shape[d] = x->shape[d];
  shape[1] /= 2;
  rc = gm__tensor_temp(y, x->dev, GM_F32, x->ndim, shape, err);
  if (rc == 0)
    rc = GM__LAUNCH1D(x->dev, "pixel_gate_forward", (size_t)(*y)->numel, err, GMK_T(*y),
                      GMK_T(x), GMK_I(shape[1]), GMK_I(inner_size(x)), GMK_I((*y)->numel));
  if (rc) return rc;
  gm__tape_record(x->dev, op, gate_backward, *y, (gm_tensor *[]){x}, 1, &rc, err);
  return rc;
}

/* ---- conv2d on a window of its output ---- */

/* Windows whose taps (positions x Cin kh kw) fit a scratch of this many floats run as a
 * gather plus one vectorised dot product per output; larger ones through gm_conv2d's
 * GEMM on the gathered input. The limit is where the dot products stopped matching the
 * GEMM on PoCL's CPU device (docs/performance.md, "Measurements behind the code's
 * constants"). */
#define DIRECT_MAX_TAPS ((int64_t)8 << 20)

static int64_t direct_limit = DIRECT_MAX_TAPS;

int64_t gm__conv_window_set_direct_limit(int64_t taps) {
  int64_t prev = direct_limit;
  direct_limit = taps < 0 ? DIRECT_MAX_TAPS : taps;
  return prev;
}

typedef gm__conv_geom window_geom;

/* The convolution's shape check shared with gm_conv2d, then the window's own. */
static int window_conv_check(window_geom *g, const gm_tensor *x, const gm_tensor *w,
                             const gm_tensor *bias, const gm_tensor *mask,
                             const gm_conv2d_opts *o, int row0, int col0, int rows, int cols,
                             gm_error *err) {
  const char *op = "conv2d_window";
  int rc = gm__conv_check(op, g, x, w, bias, mask, o, err);
  if (rc == 0) rc = want_int_sized(op, x, err);
  if (rc) return rc;
  char sx[96], sw[96];
  gm_shape_str(x, sx, sizeof sx);
  gm_shape_str(w, sw, sizeof sw);
  if (rows < 1 || cols < 1 || row0 < 0 || col0 < 0 || row0 + (int64_t)rows > g->ho ||
      col0 + (int64_t)cols > g->wo)
    return gm_error_set(err, GM_ERANGE, "%s: window rows %d..%d, columns %d..%d is not within the "
                        "%" PRId64 " x %" PRId64 " output of x %s and w %s", op, row0,
                        row0 + rows - 1, col0, col0 + cols - 1, g->ho, g->wo, sx, sw);
  return 0;
}

/* The window's taps gathered into a pooled scratch (P, K), then one dot product per
 * output; with o->taps, over weights whose skipped positions are zeroed first. */
static int window_conv_direct(gm_tensor *y, const window_geom *g, gm_tensor *x, gm_tensor *w,
                              gm_tensor *bias, gm_tensor *mask, int row0, int col0, int rows,
                              int cols, gm_error *err) {
  int64_t khkw = g->kh * g->kw, k = g->cin * khkw, p = g->b * rows * cols;
  gm_tensor *patch, *wt = NULL;
  int rc = 0;
  if (g->nt < khkw) {
    rc = gm_tensor_create(&wt, x->dev, GM_F32, 4, GM_SHAPE(g->cout, g->cin, g->kh, g->kw), err);
    if (rc == 0)
      rc = GM__LAUNCH1D(x->dev, "conv_weights_taps", (size_t)wt->numel, err, GMK_T(wt),
                        GMK_T(w), GMK_T(mask ? mask : w), GMK_I(mask != NULL),
                        GMK_I(g->cout * g->cin), GMK_I(khkw), GMK_I(g->nt), GMK_I(khkw));
    if (rc) {
      gm_tensor_destroy(wt);
      return rc;
    }
    w = wt;
    mask = NULL;
  }
  rc = gm_tensor_create(&patch, x->dev, GM_F32, 2, GM_SHAPE(p, k), err);
  if (rc) {
    gm_tensor_destroy(wt);
    return rc;
  }
  rc = want_int_sized("conv2d_window", patch, err);
  if (rc == 0)
    rc = GM__LAUNCH1D(x->dev, "pixel_conv_patch", (size_t)patch->numel, err, GMK_T(patch),
                      GMK_T(x), GMK_I(g->cin), GMK_I(g->h), GMK_I(g->w), GMK_I(g->kh),
                      GMK_I(g->kw), GMK_I(g->stride), GMK_I(g->ph), GMK_I(g->pw), GMK_I(row0),
                      GMK_I(col0), GMK_I(rows), GMK_I(cols), GMK_I(patch->numel));
  if (rc == 0)
    rc = GM__LAUNCH1D(x->dev, "pixel_conv_dot", (size_t)y->numel, err, GMK_T(y), GMK_T(patch),
                      GMK_T(w), GMK_T(bias ? bias : w), GMK_T(mask ? mask : w),
                      GMK_I(bias != NULL), GMK_I(mask != NULL), GMK_I(k), GMK_I(g->cout),
                      GMK_I(rows), GMK_I(cols), GMK_I(y->numel));
  gm_tensor_destroy(patch);  /* back to the pool; the in-order queue runs the dot first */
  gm_tensor_destroy(wt);
  return rc;
}

/* The input rows and columns the window reads, zero-padded where they leave x, then an
 * unpadded gm_conv2d over them. */
static int window_conv_gemm(gm_tensor **y, const window_geom *g, gm_tensor *x, gm_tensor *w,
                            gm_tensor *bias, gm_tensor *mask, int row0, int col0, int rows,
                            int cols, gm_error *err) {
  int top = row0 * (int)g->stride - (int)g->ph, left = col0 * (int)g->stride - (int)g->pw;
  int h = (rows - 1) * (int)g->stride + (int)g->kh, wd = (cols - 1) * (int)g->stride + (int)g->kw;
  gm_tensor *xw;
  int rc = gm_window(&xw, x, top, left, h, wd, err);
  gm_conv2d_opts o = {.stride = (int)g->stride, .taps = (int)g->nt};
  if (rc == 0) rc = gm_conv2d(y, xw, w, bias, mask, &o, err);
  return rc;
}

int gm_conv2d_window(gm_tensor **y, gm_tensor *x, gm_tensor *w, gm_tensor *bias,
                     gm_tensor *mask, const gm_conv2d_opts *o, int row0, int col0, int rows,
                     int cols, gm_error *err) {
  window_geom g = {0};
  int rc = window_conv_check(&g, x, w, bias, mask, o, row0, col0, rows, cols, err);
  if (rc) return rc;
  int recording = gm_grad_enable(x->dev, 0);
  if (g.b * rows * cols * g.cin * g.kh * g.kw <= direct_limit) {
    rc = gm__tensor_temp(y, x->dev, GM_F32, 4, GM_SHAPE(g.b, g.cout, rows, cols), err);
    if (rc == 0) rc = want_int_sized("conv2d_window", *y, err);
    if (rc == 0) rc = window_conv_direct(*y, &g, x, w, bias, mask, row0, col0, rows, cols, err);
  } else {
    rc = window_conv_gemm(y, &g, x, w, bias, mask, row0, col0, rows, cols, err);
  }
  gm_grad_enable(x->dev, recording);
  return rc;
}

/* ---- pixel put ---- */

/* ---- conv at one position from packed weights ---- */

#define POINT_LANES 16 /* output channels per work-item: packed columns are padded to it */
#define POINT_IMAGES 8 /* images per work-item (kernels/pixel.cl) */

static int64_t point_cpad(int64_t cout) { return (cout + POINT_LANES - 1) / POINT_LANES * POINT_LANES; }

/* taps in 0..kh*kw, resolved (0: all). */
static int point_taps(const char *op, const gm_tensor *w, int taps, int64_t *nt, gm_error *err) {
  int64_t khkw = w->shape[2] * w->shape[3];
  if (taps < 0 || taps > khkw)
    return gm_error_set(err, GM_EINVAL, "%s: taps %d is not within 0..%" PRId64, op, taps, khkw);
  *nt = taps ? taps : khkw;
  return 0;
}

int gm_conv2d_point_weights(gm_tensor **packed, gm_tensor *w, gm_tensor *mask, int taps,
                            gm_error *err) {
  const char *op = "conv2d_point_weights";
  int64_t nt = 0;
  int rc = want_map(op, "w (Cout, Cin, kh, kw)", w, err);
  if (rc == 0) rc = gm__want_f32(op, w, err);
  if (rc == 0 && mask) rc = gm__want_f32(op, mask, err);
  if (rc == 0 && mask) rc = gm__same_shape("conv2d_point_weights: mask vs w", mask, w, err);
  if (rc == 0) rc = point_taps(op, w, taps, &nt, err);
  if (rc) return rc;
  int64_t cout = w->shape[0], cin = w->shape[1], cpad = point_cpad(cout);
  rc = gm_tensor_create(packed, w->dev, GM_F32, 2, GM_SHAPE(nt * cin, cpad), err);
  if (rc == 0) rc = want_int_sized(op, *packed, err);
  if (rc == 0)
    rc = GM__LAUNCH1D(w->dev, "pixel_point_pack", (size_t)(*packed)->numel, err, GMK_T(*packed),
                      GMK_T(w), GMK_T(mask ? mask : w), GMK_I(mask != NULL), GMK_I(cout),
                      GMK_I(cin), GMK_I(w->shape[2] * w->shape[3]), GMK_I(nt), GMK_I(cpad));
  if (rc) {
    gm_tensor_destroy(*packed);
    *packed = NULL;
  }
  return rc;
}

int gm_conv2d_point(gm_tensor **y, gm_tensor *x, gm_tensor *w, gm_tensor *packed,
                    gm_tensor *bias, const gm_conv2d_opts *o, int row, int col, unsigned flags,
                    gm_tensor *map, gm_error *err) {
  const char *op = "conv2d_point";
  int64_t nt = 0;
  int rc = want_map(op, "x (B, Cin, H, W)", x, err);
  if (rc == 0) rc = want_map(op, "w (Cout, Cin, kh, kw)", w, err);
  if (rc == 0) rc = gm__want_f32(op, x, err);
  if (rc == 0) rc = gm__want_f32(op, packed, err);
  if (rc == 0) rc = want_int_sized(op, x, err);
  if (rc == 0) rc = point_taps(op, w, o ? o->taps : 0, &nt, err);
  if (rc) return rc;
  if (flags & ~(unsigned)(GM_POINT_RELU | GM_POINT_X_NHWC | GM_POINT_MAP_NHWC))
    return gm_error_set(err, GM_EINVAL, "%s: unknown flags 0x%x", op, flags);
  char sx[96], sw[96], sp[96];
  gm_shape_str(x, sx, sizeof sx);
  gm_shape_str(w, sw, sizeof sw);
  gm_shape_str(packed, sp, sizeof sp);
  int x_nhwc = (flags & GM_POINT_X_NHWC) != 0, map_nhwc = (flags & GM_POINT_MAP_NHWC) != 0;
  int64_t b = x->shape[0], cin = x->shape[x_nhwc ? 3 : 1], h = x->shape[x_nhwc ? 1 : 2],
          wd = x->shape[x_nhwc ? 2 : 3];
  int64_t cout = w->shape[0], kh = w->shape[2], kw = w->shape[3], cpad = point_cpad(cout);
  int ph = o ? o->pad_h : 0, pw = o ? o->pad_w : 0;
  if (w->shape[1] != cin)
    return gm_error_set(err, GM_ESHAPE, "%s: x %s has %" PRId64 " channels, w %s expects %" PRId64,
                        op, sx, cin, sw, w->shape[1]);
  if (o && o->stride > 1)
    return gm_error_set(err, GM_EUNSUPPORTED, "%s: stride %d (1 supported)", op, o->stride);
  if (ph < 0 || pw < 0)
    return gm_error_set(err, GM_EINVAL, "%s: negative padding (%d, %d)", op, ph, pw);
  if (packed->ndim != 2 || packed->shape[0] != nt * cin || packed->shape[1] != cpad)
    return gm_error_set(err, GM_ESHAPE, "%s: packed weights %s are not those of w %s with %" PRId64
                        " taps ((%" PRId64 ", %" PRId64 ") from gm_conv2d_point_weights)", op, sp,
                        sw, nt, nt * cin, cpad);
  int64_t ho = h + 2 * ph - kh + 1, wo = wd + 2 * pw - kw + 1;
  if (ho < 1 || wo < 1 || row < 0 || col < 0 || row >= ho || col >= wo)
    return gm_error_set(err, GM_ERANGE, "%s: position (%d, %d) is not within the %" PRId64 " x %"
                        PRId64 " output of x %s and w %s", op, row, col, ho, wo, sx, sw);
  if (bias && (bias->dtype != GM_F32 || bias->ndim != 1 || bias->shape[0] != cout))
    return gm_error_set(err, GM_ESHAPE, "%s: bias must be float (%" PRId64 ")", op, cout);
  if (map) {
    char sm[96];
    rc = gm__want_f32(op, map, err);
    if (rc) return rc;
    int64_t want[4] = {b, cout, ho, wo};
    if (map_nhwc) want[1] = ho, want[2] = wo, want[3] = cout;
    if (map->ndim != 4 || map->shape[0] != want[0] || map->shape[1] != want[1] ||
        map->shape[2] != want[2] || map->shape[3] != want[3])
      return gm_error_set(err, GM_ESHAPE, "%s: map %s is not the (%" PRId64 ", %" PRId64 ", %"
                          PRId64 ", %" PRId64 ") output", op, gm_shape_str(map, sm, sizeof sm),
                          want[0], want[1], want[2], want[3]);
  }
  rc = gm__tensor_temp(y, x->dev, GM_F32, 4, GM_SHAPE(b, cout, 1, 1), err);
  if (rc) return rc;
  int64_t groups = (b + POINT_IMAGES - 1) / POINT_IMAGES;
  return GM__LAUNCH1D(x->dev, "pixel_point_conv", (size_t)(groups * cpad / POINT_LANES), err,
                      GMK_T(*y), GMK_T(x), GMK_T(packed), GMK_T(bias ? bias : packed),
                      GMK_T(map ? map : packed), GMK_I(bias != NULL),
                      GMK_I((flags & GM_POINT_RELU) != 0), GMK_I(map != NULL), GMK_I(x_nhwc),
                      GMK_I(map_nhwc), GMK_I(b), GMK_I(cin), GMK_I(h), GMK_I(wd),
                      GMK_I(cout), GMK_I(cpad), GMK_I(kw), GMK_I(nt), GMK_I(ph), GMK_I(pw),
                      GMK_I(row), GMK_I(col), GMK_I(ho), GMK_I(wo));
}

int gm_pixel_put(gm_tensor *img, gm_tensor *classes, int row, int col, int c0, float scale,
                 float offset, gm_error *err) {
  const char *op = "pixel_put";
  int rc = want_map(op, "img (B, C, H, W)", img, err);
  if (rc == 0) rc = gm__want_f32(op, img, err);
  if (rc == 0) rc = gm__want_ndim(op, "classes (B, n)", classes, 2, err);
  if (rc == 0) rc = gm__want_i32(op, classes, err);
  if (rc == 0) rc = want_int_sized(op, img, err);
  if (rc) return rc;
  char si[96], sc[96];
  gm_shape_str(img, si, sizeof si);
  gm_shape_str(classes, sc, sizeof sc);
  if (classes->shape[0] != img->shape[0] || c0 < 0 || c0 + classes->shape[1] > img->shape[1])
    return gm_error_set(err, GM_ESHAPE, "%s: classes %s do not fit channels %d.. of img %s", op,
                        sc, c0, si);
  if (row < 0 || row >= img->shape[2] || col < 0 || col >= img->shape[3])
    return gm_error_set(err, GM_ERANGE, "%s: pixel (%d, %d) is outside img %s", op, row, col, si);
  return GM__LAUNCH1D(img->dev, "pixel_put", (size_t)classes->numel, err, GMK_T(img),
                      GMK_T(classes), GMK_I(img->shape[1]), GMK_I(img->shape[2]),
                      GMK_I(img->shape[3]), GMK_I(row), GMK_I(col), GMK_I(c0),
                      GMK_I(classes->shape[1]), GMK_F(scale), GMK_F(offset),
                      GMK_I(classes->numel));
}
