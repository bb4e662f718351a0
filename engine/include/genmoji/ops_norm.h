/* Normalisation ops (engine/src/ops_norm.c, kernels/norm.cl): batch norm with running
 * statistics, and group norm. Both take x as (B, C, ...) with 2 to 5 dimensions: the
 * feature maps (B, C, H, W) of a U-Net and rows (B, C) alike. Statistics are reduced in a
 * fixed order (per row of one (b, c), then across rows), so results are deterministic. */
#ifndef GENMOJI_OPS_NORM_H
#define GENMOJI_OPS_NORM_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* y (B, C, ...) = gamma (C) (x - mean) / sqrt(var + eps) + beta (C), per channel, as
 * PyTorch's BatchNorm1d/2d.
 *
 * training = 1: mean and var are the batch statistics of each channel over B and the
 *   dimensions after C (var biased, divided by N = B * H * W). When running_mean and
 *   running_var (C) are given they are updated in place as PyTorch does:
 *     running_mean = (1 - momentum) running_mean + momentum mean
 *     running_var  = (1 - momentum) running_var  + momentum var * N / (N - 1)  (unbiased)
 *   N must be at least 2. The backward pass goes through the batch statistics.
 * training = 0: mean and var are running_mean and running_var (both required); the
 *   backward pass treats them as constants (the op is affine in x).
 * gamma and beta may each be NULL (no scale, no shift). running_mean/running_var are the
 * caller's tensors, both given or both NULL; they never receive a gradient. The caller
 * keeps the checkpoint's num_batches_tracked itself. */
GM_API int gm_batchnorm(gm_tensor **y, gm_tensor *x, gm_tensor *gamma, gm_tensor *beta,
                        gm_tensor *running_mean, gm_tensor *running_var, int training,
                        float momentum, float eps, gm_error *err);

/* y (B, C, ...) = gamma (C) (x - mean) / sqrt(var + eps) + beta (C) with mean and biased
 * var taken per (sample, group) over the C / groups channels of the group and the
 * dimensions after C, as PyTorch's GroupNorm. groups >= 1 must divide C; gamma and beta
 * may each be NULL. The backward pass goes through the group statistics. */
GM_API int gm_groupnorm(gm_tensor **y, gm_tensor *x, gm_tensor *gamma, gm_tensor *beta,
                        int groups, float eps, gm_error *err);

/* Every element of the int32 tensor t (any shape) += by, in place (e.g. batch norm's
 * num_batches_tracked, kept on the device without a host round trip). */
GM_API int gm_counter_add(gm_tensor *t, int by, gm_error *err);

#ifdef __cplusplus
}
#endif
#endif
