/* Declarations shared by the conv family's sources (ops_conv.c, ops_conv_mask.c,
 * ops_linear.c) and its tests. */
#ifndef GM_OPS_CONV_INTERNAL_H
#define GM_OPS_CONV_INTERNAL_H

#include "ops_internal.h"

/* The most bytes conv2d's per-chunk scratch (im2col columns plus the GEMM output) may
 * take; the batch is processed in chunks of images that fit. 0 restores the default,
 * min(128 MiB, the device's max_alloc / 4). Returns the previous setting. Process-wide:
 * tests lower it to force chunking on small shapes. */
size_t gm__conv_set_scratch_limit(size_t bytes);

/* 1: conv2d always builds im2col columns, even where the own GEMM kernels could read its
 * input in place (the implicit-GEMM path); tests compare the two. Returns the previous
 * setting. Process-wide. */
int gm__conv_set_im2col_only(int on);
/* How many forward or input-gradient products have run on the implicit-GEMM path. */
long gm__conv_implicit_runs(void);

/* db (C) += the sum of dy (B, C, P) over B and P, one work-item per channel. */
int gm__channel_bias_grad(gm_tensor *db, const gm_tensor *dy, int64_t nbatch, int64_t c,
                          int64_t p, gm_error *err);
/* y (B, C, P) += bias (C), broadcast over B and P. */
int gm__channel_bias_add(gm_tensor *y, const gm_tensor *bias, int64_t nbatch, int64_t c,
                         int64_t p, gm_error *err);

#endif
