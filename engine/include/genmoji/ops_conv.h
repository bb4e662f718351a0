/* Convolution ops (engine/src/ops_conv.c, ops_conv_mask.c, kernels/conv.cl): conv2d with
 * optional bias and causal (PixelCNN) masks, the masks themselves, and conv-transpose
 * 2x2 stride 2. Weights use PyTorch's layouts, so checkpoints travel both ways. */
#ifndef GENMOJI_OPS_CONV_H
#define GENMOJI_OPS_CONV_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum gm_conv_mask { GM_MASK_NONE = 0, GM_MASK_A = 1, GM_MASK_B = 2 } gm_conv_mask;

typedef struct gm_conv2d_opts {
  int stride;        /* 1 or 2 (0 means 1) */
  int pad_h, pad_w;  /* zero padding on both sides of each axis */
  /* 0: every kernel position takes part. 1..kh*kw: only the first `taps` positions in
   * raster order (ky * kw + kx < taps) do, as if the others were masked out: they are
   * skipped, not multiplied by zero (less work; zero gradient for the skipped weights).
   * A causal mask is zero after its centre, so its convolution may skip the rest:
   * gm_conv_mask_taps gives the count. */
  int taps;
} gm_conv2d_opts;

/* y (B, Cout, Ho, Wo) = conv(x (B, Cin, H, W), w * mask (Cout, Cin, kh, kw)) + bias (Cout).
 * bias and mask may be NULL; o NULL means stride 1 and no padding. mask (same shape as
 * w, 0/1 floats) is multiplied into w for both forward and backward (masked-out weights
 * get zero gradient); o->taps may skip kernel positions after a causal mask's last open
 * one. kh, kw in 1..9 (odd or even), stride 1 or 2,
 * Ho = (H + 2 pad_h - kh) / stride + 1, Wo likewise. */
GM_API int gm_conv2d(gm_tensor **y, gm_tensor *x, gm_tensor *w, gm_tensor *bias,
                     gm_tensor *mask, const gm_conv2d_opts *o, gm_error *err);

/* Fills mask (Cout, Cin, kh, kw) with the causal raster-order mask of the study's
 * PixelCNN: kernel centre (kh/2, kw/2); type A zeroes the centre row from the centre
 * pixel rightwards and every row below; type B keeps the centre pixel; GM_MASK_NONE is
 * all ones. channel_aware: at the centre pixel only, an output channel of group g
 * (g = c * 3 / C: R, G, B thirds) sees input groups < g (type A) or <= g (type B);
 * positions before the centre see all channels. Written from the host with one
 * gm_tensor_write. */
GM_API int gm_conv_mask_fill(gm_tensor *mask, gm_conv_mask type, int channel_aware,
                             gm_error *err);

/* The kernel positions, in raster order, up to the last one that a causal mask of this
 * type keeps for some channel pair: the centre for type A when channel_aware (its centre
 * is open between channel groups), else the positions before the centre; the centre
 * included for type B; kh*kw for GM_MASK_NONE. Use it as gm_conv2d_opts.taps with the
 * mask from gm_conv_mask_fill: the result is the same, with about half the work. */
GM_API int gm_conv_mask_taps(gm_conv_mask type, int channel_aware, int kh, int kw);

/* y (B, Cout, 2H, 2W) = conv_transpose 2x2 stride 2 of x (B, Cin, H, W), w in PyTorch's
 * layout (Cin, Cout, 2, 2), bias (Cout) or NULL. */
GM_API int gm_conv_transpose2x2(gm_tensor **y, gm_tensor *x, gm_tensor *w, gm_tensor *bias,
                                gm_error *err);

#ifdef __cplusplus
}
#endif
#endif
