/* Shape ops (engine/src/ops_shape.c, kernels/shape.cl): pooling and upsampling of feature
 * maps, channel concat and slice (the U-Net's skip connections), reshape and permute.
 * Except for gm_reshape, every op writes a new contiguous arena tensor. The pure copies
 * (upsample, concat, slice, reshape, permute) take float32 and int32 alike; gradients flow
 * only through float32. */
#ifndef GENMOJI_OPS_SHAPE_H
#define GENMOJI_OPS_SHAPE_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* y (B, C, H/2, W/2) = the maximum of each 2x2 window of x (B, C, H, W), stride 2; H and W
 * must be even. On ties the first maximum in raster order (top-left, top-right,
 * bottom-left, bottom-right) gets the whole gradient. */
GM_API int gm_maxpool2x2(gm_tensor **y, gm_tensor *x, gm_error *err);
/* y (B, C, 2H, 2W) = nearest-neighbour upsampling of x (B, C, H, W): y[.., i, j] = x[.., i/2, j/2] */
GM_API int gm_upsample2x(gm_tensor **y, gm_tensor *x, gm_error *err);
/* y (B, C0 + ... + C(n-1), ...) = xs[0] (B, C0, ...), ..., xs[n-1] (B, C(n-1), ...) joined
 * along dimension 1. Every input has the same number of dimensions (2 to 5), the same
 * dtype, and the same sizes in every dimension but 1. */
GM_API int gm_concat_channels(gm_tensor **y, gm_tensor *const *xs, int n, gm_error *err);
/* y (B, count, ...) = x (B, C, ...)[:, start : start + count], copied;
 * 0 <= start, 1 <= count, start + count <= C. */
GM_API int gm_slice_channels(gm_tensor **y, gm_tensor *x, int start, int count, gm_error *err);
/* y (shape) = x with the same elements in the same order, as an arena view of x's buffer
 * (no copy); ndim 1 to 5, the element count unchanged. The gradient passes through. */
GM_API int gm_reshape(gm_tensor **y, gm_tensor *x, int ndim, const int64_t *shape,
                      gm_error *err);
/* y = x with its axes reordered: y.shape[i] = x.shape[perm[i]], perm a permutation of
 * 0 .. x->ndim - 1 (up to 5 dimensions); a contiguous copy. */
GM_API int gm_permute(gm_tensor **y, gm_tensor *x, const int *perm, gm_error *err);

#ifdef __cplusplus
}
#endif
#endif
