/* Timing helpers behind `genmoji bench` (engine/src/bench.c): a GEMM through the engine's
 * one GEMM entry point, and a conv layer forward and backward, each timed as the median
 * of warm repetitions with gm_device_finish on both sides of every one; plus which GEMM
 * backend the engine picks for a shape. Whole models (engine/src/bench_models.c): the
 * training step `genmoji train` runs, and a sampler's seconds per image extrapolated from
 * runs stopped part way. Benchmarks, not tests: nothing here asserts a speed. */
#ifndef GENMOJI_BENCH_H
#define GENMOJI_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "device.h"
#include "model.h"
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

/* ---- whole models (engine/src/bench_models.c) ---- */

/* Made-up texts for timing a text model (gm_model_info.text_condition): n rows of 4
 * token ids drawn from 1..vocab_size-1 by seed, the rest padding. Free with
 * gm_text_cond_free. */
GM_API int gm_bench_text_cond(gm_device *dev, int vocab_size, int n, uint64_t seed,
                              gm_text_cond *out, gm_error *err);

typedef struct gm_bench_train_opts {
  int batch;          /* images per step */
  int size;           /* image side (the model's size option) */
  int warmup;         /* untimed steps first; 0 = 2 */
  double seconds;     /* time steps for at least this long ... */
  int min_steps;      /* ... and at least this many; 0 = 3 */
  uint64_t seed;      /* parameters, images and the loss RNG */
} gm_bench_train_opts;

typedef struct gm_bench_train_result {
  int64_t steps;        /* timed steps */
  double seconds;       /* their wall time, the device finished before and after */
  double step_seconds;  /* the median step's wall time */
  double images_per_s;  /* batch / step_seconds: the typical step, robust to other load */
  double mean_images_per_s;  /* steps * batch / seconds */
  uint64_t peak_bytes;  /* the device pool's peak over the call: parameters, grads,
                           optimiser and EMA state, the steps' activations */
  double loss;          /* the last step's loss */
  int64_t params;       /* trainable parameters */
} gm_bench_train_result;

/* Times the step that `genmoji train` runs (the trainer's own: loss, zero grads, backward,
 * clipping and Adam/AdamW, EMA, the loss read back, which also waits for the device) of
 * a fresh model made from opts (its training keys as the trainer reads them, o->batch in
 * place of `batch`) on one batch of uniform random 0..255 images made on the device (no
 * dataset: content does not change the speed). o->warmup untimed steps, then steps until
 * both o->seconds and o->min_steps are reached, each step timed. Trims the pool and
 * restarts its peak first, so peak_bytes is this call's. */
GM_API int gm_bench_train(gm_device *dev, const gm_model_vtable *vt, const char *name,
                          const gm_resolved_options *opts, const gm_bench_train_opts *o,
                          gm_bench_train_result *out, gm_error *err);

typedef struct gm_bench_sample_result {
  int64_t total_units;       /* progress units of a whole run (pixels, steps) */
  int64_t units_a, units_b;  /* the runs the line goes through: stopped after a and b units */
  double seconds_a, seconds_b;
  double seconds_per_unit;   /* (seconds_b - seconds_a) / (units_b - units_a) */
  double fixed_seconds;      /* seconds_a - units_a * seconds_per_unit */
  double seconds;            /* a whole run: seconds_b when units_b == total_units (measured),
                                else fixed + total_units * per unit (extrapolated) */
  double seconds_per_image;  /* seconds / n */
  double evaluations_per_image;  /* of a whole run, extrapolated the same way */
} gm_bench_sample_result;

/* Times model m's sampler as *so asks (sampler, n, steps, ...; stop_after and progress
 * are the benchmark's own) with a fixed seed, in evaluation mode: one untimed warm-up run
 * stopped after one unit (kernel builds), runs stopped after a = 1 unit, then after b = 2
 * and more (aimed at `seconds` along the line so far, 2 to 8 times the last b), until one
 * takes half of `seconds` or b reaches the whole run. Each point is the faster of two
 * runs, the device finished before and after each. A whole run's time is the line
 * through (a, T_a) and (b, T_b), evaluated at total_units. */
GM_API int gm_bench_sample(gm_device *dev, const gm_model_vtable *vt, gm_model *m,
                           const gm_sample_options *so, double seconds,
                           gm_bench_sample_result *out, gm_error *err);

#ifdef __cplusplus
}
#endif

#endif
