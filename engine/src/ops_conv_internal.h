/* Declarations shared by the conv family's sources (ops_conv.c, ops_conv_mask.c,
 * ops_linear.c), the pixel family's convolutions (ops_pixel.c) and their tests. */
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

/* A convolution's sizes, as gm__conv_check finds them. */
typedef struct gm__conv_geom {
  int64_t b, cin, h, w;   /* x */
  int64_t cout, kh, kw;   /* weights */
  int64_t stride, ph, pw;
  int64_t ho, wo;
  int64_t nt;             /* kernel taps that take part: the first nt in raster order */
  int64_t k, p;           /* GEMM depth cin*nt and output positions ho*wo */
} gm__conv_geom;

/* The shape check of every convolution op (conv2d, conv2d_window, conv2d_point_weights):
 * x (B, Cin, H, W) and w (Cout, Cin, kh, kw) float32 with no empty dimension, kernels up
 * to 9x9, stride 1 or 2, padding >= 0, taps within the kernel, x padded at least the
 * kernel's size, bias (Cout) and mask (w's shape) float32. Messages start with op.
 * Fills g on success. */
int gm__conv_check(const char *op, gm__conv_geom *g, const gm_tensor *x, const gm_tensor *w,
                   const gm_tensor *bias, const gm_tensor *mask, const gm_conv2d_opts *o,
                   gm_error *err);

/* db (C) += the sum of dy (B, C, P) over B and P, one work-item per channel. */
int gm__channel_bias_grad(gm_tensor *db, const gm_tensor *dy, int64_t nbatch, int64_t c,
                          int64_t p, gm_error *err);
/* y (B, C, P) += bias (C), broadcast over B and P. */
int gm__channel_bias_add(gm_tensor *y, const gm_tensor *bias, int64_t nbatch, int64_t c,
                         int64_t p, gm_error *err);

#endif
