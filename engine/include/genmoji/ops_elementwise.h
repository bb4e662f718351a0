/* Elementwise ops (engine/src/ops_elementwise.c, kernels/elementwise.cl): arithmetic,
 * activations, and the two channel broadcasts a U-Net block needs. Every op returns a
 * new arena tensor; none works in place. */
#ifndef GENMOJI_OPS_ELEMENTWISE_H
#define GENMOJI_OPS_ELEMENTWISE_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* y = a + b, same shape */
GM_API int gm_add(gm_tensor **y, gm_tensor *a, gm_tensor *b, gm_error *err);
/* y = a - b, same shape */
GM_API int gm_sub(gm_tensor **y, gm_tensor *a, gm_tensor *b, gm_error *err);
/* y = a * b (elementwise), same shape */
GM_API int gm_mul(gm_tensor **y, gm_tensor *a, gm_tensor *b, gm_error *err);
/* y = s x */
GM_API int gm_scale(gm_tensor **y, gm_tensor *x, float s, gm_error *err);
/* y = x + s */
GM_API int gm_add_scalar(gm_tensor **y, gm_tensor *x, float s, gm_error *err);

/* y = max(x, 0); the gradient passes where x > 0 */
GM_API int gm_relu(gm_tensor **y, gm_tensor *x, gm_error *err);
/* y = x sigmoid(x) */
GM_API int gm_silu(gm_tensor **y, gm_tensor *x, gm_error *err);
/* y = x / 2 (1 + erf(x / sqrt 2)): the exact (erf) form, PyTorch's default GELU, not the
 * tanh approximation. Computed as x / 2 erfc(-x / sqrt 2), which is the same function
 * without the cancellation of 1 + erf for negative x. */
GM_API int gm_gelu(gm_tensor **y, gm_tensor *x, gm_error *err);
/* y = tanh(x) */
GM_API int gm_tanh(gm_tensor **y, gm_tensor *x, gm_error *err);
/* y = 1 / (1 + exp(-x)), evaluated so that large |x| saturates to 0 or 1 without overflow */
GM_API int gm_sigmoid(gm_tensor **y, gm_tensor *x, gm_error *err);
/* y = min(max(x, lo), hi), lo <= hi; the gradient passes where lo < x < hi (zero at and
 * beyond the bounds) */
GM_API int gm_clamp(gm_tensor **y, gm_tensor *x, float lo, float hi, gm_error *err);

/* y (B, C, ...) = x (B, C, ...) + v (B, C) broadcast over the dimensions after C: a time
 * embedding added into a block's feature map (B, C, H, W). x has 2 to 5 dimensions. */
GM_API int gm_add_channel(gm_tensor **y, gm_tensor *x, gm_tensor *v, gm_error *err);
/* y (B, C, ...) = x (B, C, ...) + b (C) broadcast over the batch and the dimensions after
 * C: a per-channel bias, for (B, C, H, W) feature maps and (B, C) rows alike. */
GM_API int gm_add_bias(gm_tensor **y, gm_tensor *x, gm_tensor *b, gm_error *err);

#ifdef __cplusplus
}
#endif
#endif
