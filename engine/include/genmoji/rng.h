/* Random numbers on the device (engine/src/rng.c, kernels/rng.cl): Philox4x32-10,
 * counter-based, plus PyTorch's default parameter initialisation (dropout, which draws
 * from it, is an op family of its own: ops_dropout.h).
 *
 * A stream is (seed, stream id); `offset` counts the 128-bit Philox blocks already used.
 * Block b of a stream is Philox4x32-10 with key = (seed low word, seed high word) and
 * counter = (b low, b high, stream low, stream high). Element i of a draw of n values uses
 * block offset + i / 4, lane i % 4, and the call then advances offset by ceil(n / 4). So a
 * draw never depends on the device, the work-group size or how a job was split: two draws
 * of n1 and n2 values give the same numbers as one draw of n1 + n2 when n1 is a multiple
 * of 4 (otherwise the unused lanes of the first draw's last block are skipped).
 *
 * Uniform values are exact functions of the bits (host and device agree bit for bit);
 * normal and categorical draws go through the device's log/cos/sin/exp, so two devices
 * agree to within those functions' rounding. The state is three integers: save and
 * restore it to resume a run exactly. */
#ifndef GENMOJI_RNG_H
#define GENMOJI_RNG_H

#include <stdint.h>
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gm_rng {
  uint64_t seed;
  uint64_t stream;
  uint64_t offset;   /* Philox blocks already used */
} gm_rng;

/* offset starts at 0. */
GM_API void gm_rng_init(gm_rng *r, uint64_t seed, uint64_t stream);

/* The host reference of one Philox4x32-10 block: counter (4 words), key (2 words) -> out. */
GM_API void gm_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* Fills out (any shape, F32) with values uniform in [lo, hi), lo <= hi: from the top 24
 * bits x of each word, u = x 2^-24 and value = fma(hi - lo, u, lo), with a result that
 * rounds up to hi replaced by the float just below it. */
GM_API int gm_rng_uniform(gm_tensor *out, gm_rng *r, float lo, float hi, gm_error *err);

/* Fills out (any shape, F32) with N(mean, std^2) values by Box-Muller: the words (x, y)
 * of a block give elements 0 and 1 (cosine, sine), (z, w) elements 2 and 3, with
 * u1 = (top24(first) + 1) 2^-24 in (0, 1] and u2 = top24(second) 2^-24. */
GM_API int gm_rng_normal(gm_tensor *out, gm_rng *r, float mean, float std, gm_error *err);

/* out (N) int32 = one draw per row from softmax(logits (N, K) / temperature), with row n's
 * uniform from element n of the draw (block offset + n / 4, lane n % 4); temperature > 0.
 * Advances offset by ceil(N / 4). */
GM_API int gm_rng_categorical(gm_tensor *out, gm_tensor *logits, float temperature, gm_rng *r,
                              gm_error *err);

/* PyTorch's default initialisation: every element uniform in [-bound, bound). For conv /
 * linear weights with kaiming_uniform(a = sqrt(5)) and for their biases,
 * bound = 1 / sqrt(fan_in). */
GM_API int gm_init_uniform(gm_tensor *t, float bound, gm_rng *r, gm_error *err);

/* fan_in = weight.shape[1] * prod(shape[2:]) as PyTorch computes it: in_features for a
 * linear (out, in) weight, in * kh * kw for a conv (out, in, kh, kw) weight, and
 * out * kh * kw for a ConvTranspose (in, out, kh, kw) weight. GM_EINVAL (negative) for a
 * tensor of fewer than 2 dimensions. */
GM_API int64_t gm_fan_in(const gm_tensor *weight);

/* PyTorch's reset_parameters() for Conv2d, ConvTranspose2d and Linear: the weight and
 * then the bias (NULL for none) uniform in +-1/sqrt(gm_fan_in(weight)), drawn from r in
 * that order. */
GM_API int gm_init_default(gm_tensor *weight, gm_tensor *bias, gm_rng *r, gm_error *err);

#ifdef __cplusplus
}
#endif
#endif
