/* Embeddings (engine/src/ops_embed.c, kernels/embed.cl): the sinusoidal timestep embedding
 * of a diffusion model's U-Net. */
#ifndef GENMOJI_OPS_EMBED_H
#define GENMOJI_OPS_EMBED_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* y (B, dim) = the sinusoidal embedding of t (B, float32), in the convention of Ho et al.'s
 * DDPM code (sines first, then cosines, max period 10000, denominator half - 1):
 *     half = dim / 2,  f_i = exp(-ln(10000) i / (half - 1))   for i = 0 .. half - 1
 *     y[b, i] = sin(t[b] f_i),  y[b, half + i] = cos(t[b] f_i)
 * so f_0 = 1 and f_(half-1) = 1 / 10000. dim must be even and at least 4. Computed in
 * float32: for t in the hundreds the argument t f_i carries an absolute rounding error of
 * about |t f_i| 2^-24, as in a float32 PyTorch model. The gradient flows into t when t
 * requires grad. */
GM_API int gm_sinusoidal_embedding(gm_tensor **y, gm_tensor *t, int dim, gm_error *err);

#ifdef __cplusplus
}
#endif
#endif
