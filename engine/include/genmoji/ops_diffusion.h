/* Diffusion-model helpers (engine/src/ops_diffusion.c, kernels/diffusion.cl): drawing
 * per-image timesteps, the forward process x_t = a x0 + s eps with per-image coefficients
 * gathered from schedule tables, one reverse (sampling) step in place, and the map from
 * [-1, 1] back to 0..255 pixels. Only gm_diffusion_q_sample is differentiable; the others
 * prepare data or run with recording off. */
#ifndef GENMOJI_OPS_DIFFUSION_H
#define GENMOJI_OPS_DIFFUSION_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* idx (B) int32 = lo + min(floor(u count), count - 1) and tin (B) float32 = idx * scale,
 * from u (B) uniform in [0, 1) (gm_rng_uniform): a timestep drawn uniformly from
 * lo .. lo + count - 1 per image and the network's time input for it. count >= 1. Both
 * outputs are arena tensors; nothing is recorded. */
GM_API int gm_diffusion_timesteps(gm_tensor **idx, gm_tensor **tin, gm_tensor *u, int lo,
                                  int count, float scale, gm_error *err);

/* y (B, ...) = a[idx[b]] x0 (B, ...) + s[idx[b]] eps (B, ...) for every element of image b,
 * clamped to [-1, 1] when clamp is set; a (L) and s (L) are float32 tables, idx (B) int32.
 * An index outside 0 .. L - 1 makes that image's values NaN (indices are not read back).
 * Backward into x0 and eps (coefficient times the upstream gradient, zero where the clamp
 * was active); no gradient into the tables or the indices. */
GM_API int gm_diffusion_q_sample(gm_tensor **y, gm_tensor *x0, gm_tensor *eps, gm_tensor *idx,
                                 gm_tensor *a, gm_tensor *s, int clamp, gm_error *err);

/* One reverse step's coefficients (the same for every image of a batch). */
typedef struct gm_diffusion_step_coefs {
  float inv_sqrt_ab;  /* 1 / sqrt(alpha_bar_t) */
  float sqrt_1mab;    /* sqrt(1 - alpha_bar_t) */
  int clip_x0;        /* clamp x0_hat to [-1, 1] */
  float c0, c1;       /* mean = c0 x0_hat + c1 x_t */
  float sigma;        /* noise scale (used when z is given) */
  int clamp_out;      /* clamp the result to [-1, 1] */
} gm_diffusion_step_coefs;

/* In place on x (B, ...): x0_hat = (x - sqrt_1mab eps) inv_sqrt_ab (clipped when clip_x0),
 * x = c0 x0_hat + c1 x + sigma z (z may be NULL: no noise), clamped when clamp_out.
 * eps and z have x's shape. Not recorded (a sampler runs with recording off). */
GM_API int gm_diffusion_step(gm_tensor *x, gm_tensor *eps, gm_tensor *z,
                             const gm_diffusion_step_coefs *c, gm_error *err);

/* y (B, C, H, W) = clamp((v + 1) 127.5, 0, 255) with v = x (B, C, H, W), or, with stretch,
 * v = each image's values min-max stretched to [-1, 1] (a constant image becomes 0), as
 * the study displayed its samples. An arena tensor; not recorded. */
GM_API int gm_diffusion_to_pixels(gm_tensor **y, gm_tensor *x, int stretch, gm_error *err);

#ifdef __cplusplus
}
#endif
#endif
