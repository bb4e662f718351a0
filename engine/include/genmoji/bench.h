/* Timing helpers behind `genmoji bench` (engine/src/bench.c): a GEMM through the engine's
 * one GEMM entry point, and a conv layer forward and backward, each timed as the median
 * of warm repetitions with gm_device_finish on both sides of every one; plus which GEMM
 * backend the engine picks for a shape. Benchmarks, not tests: nothing here asserts a
 * speed. */
#ifndef GENMOJI_BENCH_H
#define GENMOJI_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "device.h"
#include "ops_conv.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The GEMM backend the engine uses on dev for C (m x n) = op(A) (m x k) op(B) (k x n):
 * "clblast", "own" or "native" (env GM_GEMM overrides the engine's rule). */
GM_API const char *gm_gemm_backend(gm_device *dev, int trans_a, int trans_b, int64_t m,
                                   int64_t n, int64_t k);
/* One line on each backend for dev (the native BLAS found, the own kernels' tiles, or
 * why one is unavailable) into buf; returns what snprintf returns. Builds the own
 * kernels if they are not built yet. */
GM_API int gm_gemm_backends_describe(gm_device *dev, char *buf, size_t size);

typedef struct gm_bench_timing {
  double ms;      /* median of the timed repetitions */
  double ms_min;  /* fastest of them */
} gm_bench_timing;

/* Times C = op(A) op(B) on packed random matrices: one untimed warm-up, then repeat
 * (>= 1) timed runs. backend: "clblast", "own", "native", or NULL for the engine's
 * choice (as gm_gemm_backend names it). */
GM_API int gm_bench_gemm(gm_device *dev, const char *backend, int trans_a, int trans_b,
                         int64_t m, int64_t n, int64_t k, int repeat, gm_bench_timing *out,
                         gm_error *err);

typedef enum gm_bench_conv_kind {
  GM_BENCH_CONV2D = 0,       /* gm_conv2d */
  GM_BENCH_CONV_T2X2 = 1     /* gm_conv_transpose2x2 (kernel and stride 2) */
} gm_bench_conv_kind;

typedef struct gm_bench_conv {
  gm_bench_conv_kind kind;
  int cin, cout;
  int kernel;        /* kh = kw (conv2d) */
  int h, w;          /* input size */
  int pad, stride;   /* conv2d */
  gm_conv_mask mask; /* conv2d: a causal mask multiplied into the weights (and the taps
                      * after its last open one skipped, gm_conv_mask_taps), or none */
  int bias;          /* 1: with a bias */
  int input_grad;    /* 1: backward computes dL/dx too (every layer but a network's first) */
} gm_bench_conv;

/* Times one layer at batch: forward (recording on, as in training) and backward from a
 * seeded upstream gradient (weight, bias and, with input_grad, input gradients), one
 * untimed warm-up and repeat timed runs of each. */
GM_API int gm_bench_conv_layer(gm_device *dev, const gm_bench_conv *layer, int batch,
                               int repeat, gm_bench_timing *forward,
                               gm_bench_timing *backward, gm_error *err);

#ifdef __cplusplus
}
#endif

#endif
