/* Declarations of the pixel-model ops (ops_pixel.c) shared with their tests. */
#ifndef GM_OPS_PIXEL_INTERNAL_H
#define GM_OPS_PIXEL_INTERNAL_H

#include "ops_internal.h"

/* The most taps (positions x Cin kh kw) gm_conv2d_window gathers for dot products;
 * larger windows go through gm_conv2d's GEMM. 0 sends every window to the GEMM, a
 * negative value restores the default. Process-wide; returns the previous setting. Tests
 * use it to cover both paths on small shapes. */
int64_t gm__conv_window_set_direct_limit(int64_t taps);

#endif
