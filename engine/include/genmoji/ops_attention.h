/* Single-head scaled dot-product self-attention (engine/src/ops_attention.c,
 * kernels/attention.cl). */
#ifndef GENMOJI_OPS_ATTENTION_H
#define GENMOJI_OPS_ATTENTION_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* y[b, :, i] = sum_j softmax_j(q[b, :, i] . k[b, :, j] / sqrt(C)) v[b, :, j] over N
 * positions. For a (B, C, H, W) map, N = H * W of the map reshaped to (B, C, N); the
 * U-Net projects q, k and v with 1x1 convs first and adds the result back. Backward into
 * q, k and v. Keeps the (B, N, N) attention weights in the step arena for the backward. */
GM_API int gm_attention(gm_tensor **y /* (B, C, N) */, gm_tensor *q /* (B, C, N) */,
                        gm_tensor *k /* (B, C, N) */, gm_tensor *v /* (B, C, N) */,
                        gm_error *err);

/* Cross-attention of a map's N positions to M tokens (a text's, for a text-conditioned
 * U-Net), with a mask over the tokens:
 *     s[b, i, j] = q[b, :, i] . k[b, :, j] / sqrt(C)   for the j with mask[b, j] != 0,
 *     y[b, :, i] = sum_j softmax_j(s[b, i, :]) v[b, :, j];
 * q (B, C, N), k and v (B, C, M), mask (B, M) float32 0/1 (no gradient). A text with no
 * token (its mask all 0) gives y[b] = 0 and no gradient through it. Backward into q, k and
 * v; keeps the (B, N, M) weights in the step arena. */
GM_API int gm_cross_attention(gm_tensor **y /* (B, C, N) */, gm_tensor *q /* (B, C, N) */,
                              gm_tensor *k /* (B, C, M) */, gm_tensor *v /* (B, C, M) */,
                              gm_tensor *mask /* (B, M) */, gm_error *err);

#ifdef __cplusplus
}
#endif
#endif
