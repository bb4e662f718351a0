/* Dropout: an op family of its own (engine/src/ops_dropout.c, kernels/dropout.cl,
 * tests/test_ops_dropout.c). The mask comes from a counter-based stream (rng.h), so the
 * backward regenerates it from the counters saved on the tape instead of storing it. */
#ifndef GENMOJI_OPS_DROPOUT_H
#define GENMOJI_OPS_DROPOUT_H

#include "rng.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* y (same shape as x) = x * mask / (1 - p) with mask_i = (u_i >= p), u_i the uniform of
 * element i; backward uses the same mask (regenerated from the saved counters, not
 * stored). p in [0, 1); p = 0 gives y = x and still advances r. Call it in training only. */
GM_API int gm_dropout(gm_tensor **y, gm_tensor *x, float p, gm_rng *r, gm_error *err);

#ifdef __cplusplus
}
#endif
#endif
