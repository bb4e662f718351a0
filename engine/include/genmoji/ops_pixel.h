/* Ops for autoregressive pixel models (engine/src/ops_pixel.c, kernels/pixel.cl): pixel
 * values to classes, rectangular windows of feature maps (crop, pad, write back), the
 * gated activation tanh * sigmoid, a convolution evaluated on a window of its output
 * only or at one position from pre-packed weights, and putting sampled classes into one
 * pixel. The window ops are what an
 * incremental sampler needs to keep per-layer activation caches: recompute the few
 * positions a new pixel changes and write them back in place. */
#ifndef GENMOJI_OPS_PIXEL_H
#define GENMOJI_OPS_PIXEL_H

#include "ops_conv.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* y (x's shape, dtype GM_I32 or GM_F32) = clamp(floor(x * levels / 256), 0, levels - 1):
 * 0..255 pixel values to `levels` classes (16 levels: v >> 4), as int32 targets or as
 * float class values. levels in 1..256. Not differentiable: nothing is recorded. */
GM_API int gm_quantize(gm_tensor **y, gm_tensor *x /* any shape, F32 */, int levels,
                       gm_dtype dtype, gm_error *err);

/* y (B, C, h, w) = x (B, C, H, W)[:, :, top : top + h, left : left + w], zero where the
 * window leaves x (top and left may be negative, the window may be larger than x): a
 * crop, a zero pad, or both. float32 or int32. Gradient: dx += dy where they overlap. */
GM_API int gm_window(gm_tensor **y, gm_tensor *x, int top, int left, int h, int w,
                     gm_error *err);

/* dst (B, C, H, W)[:, :, top : top + h, left : left + w] = src (B, C, h, w), in place,
 * the part outside dst dropped. Same dtype. Not recorded: it is for inference caches
 * (an op never modifies a tensor the tape may still read). */
GM_API int gm_window_write(gm_tensor *dst, gm_tensor *src, int top, int left, gm_error *err);

/* y (B, C/2, ...) = tanh(x[:, :C/2]) * sigmoid(x[:, C/2:]) for x (B, C, ...), C even, 2 to
 * 5 dimensions: the gated activation of gated PixelCNNs and WaveNet. Gradient into x. */
GM_API int gm_gate(gm_tensor **y, gm_tensor *x, gm_error *err);

/* y (B, Cout, rows, cols) = gm_conv2d(x, w, bias, mask, o)[:, :, row0 : row0 + rows,
 * col0 : col0 + cols], computing those output positions only. The window must lie in
 * the full output (Ho, Wo). Same arguments, shapes and limits as gm_conv2d. Windows
 * whose taps (positions x Cin kh kw) fit 8M floats gather them and take one vectorised
 * dot product per output; larger ones run gm_conv2d on the gathered input window.
 * Results agree with gm_conv2d's to float rounding (the summation order differs).
 * Inference only: nothing is recorded. */
GM_API int gm_conv2d_window(gm_tensor **y, gm_tensor *x /* (B, Cin, H, W) */,
                            gm_tensor *w /* (Cout, Cin, kh, kw) */,
                            gm_tensor *bias /* (Cout) or NULL */,
                            gm_tensor *mask /* like w, or NULL */, const gm_conv2d_opts *o,
                            int row0, int col0, int rows, int cols, gm_error *err);

/* Weights prepared for gm_conv2d_point: w (Cout, Cin, kh, kw) times mask (like w, or
 * NULL) on the first `taps` kernel positions in raster order (0: all kh*kw), laid out as
 * packed (taps * Cin, Cout rounded up to a multiple of 16), tap-major, zeros in the extra
 * columns. Prepare them once per set of weights; every position then reads them once. */
GM_API int gm_conv2d_point_weights(gm_tensor **packed, gm_tensor *w, gm_tensor *mask, int taps,
                                   gm_error *err);

/* gm_conv2d_point flags. */
enum {
  GM_POINT_RELU = 1,       /* max(0, .) on the result */
  GM_POINT_X_NHWC = 2,     /* x is (B, H, W, Cin), channels last */
  GM_POINT_MAP_NHWC = 4,   /* map is (B, Ho, Wo, Cout), channels last */
};

/* y (B, Cout, 1, 1) = gm_conv2d(x, w, bias, mask, o) at the one output position (row,
 * col), then max(0, .) with GM_POINT_RELU; also stored into map (B, Cout, Ho, Wo) at
 * (row, col) when map is not NULL: one launch per layer and position, for an
 * incremental sampler. With GM_POINT_X_NHWC / GM_POINT_MAP_NHWC, x / map are channels
 * last, which suits a cache read at one position at a time (a position's channels are
 * contiguous). packed comes from gm_conv2d_point_weights(w, mask, o->taps); w gives the
 * shapes (kh, kw, Cout) and is not read. Stride 1 only. Same result as gm_conv2d to
 * float rounding. Inference only: nothing is recorded. */
GM_API int gm_conv2d_point(gm_tensor **y, gm_tensor *x /* (B, Cin, H, W) or NHWC */,
                           gm_tensor *w /* (Cout, Cin, kh, kw) */, gm_tensor *packed,
                           gm_tensor *bias /* (Cout) or NULL */, const gm_conv2d_opts *o,
                           int row, int col, unsigned flags, gm_tensor *map, gm_error *err);

/* img[b, c0 + c, row, col] = scale * classes[b, c] + offset for every b and c < n, in
 * place: writes the classes an autoregressive sampler drew for one pixel (all its
 * channels, or one) into a float image. img (B, C, H, W) F32, classes (B, n) I32,
 * c0 + n <= C. Not recorded. */
GM_API int gm_pixel_put(gm_tensor *img, gm_tensor *classes, int row, int col, int c0,
                        float scale, float offset, gm_error *err);

#ifdef __cplusplus
}
#endif
#endif
