/* The fully connected layer (engine/src/ops_linear.c). */
#ifndef GENMOJI_OPS_LINEAR_H
#define GENMOJI_OPS_LINEAR_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* y (B, out) = x (B, in) w^T + b, w (out, in) as PyTorch's nn.Linear, b (out) or NULL. */
GM_API int gm_linear(gm_tensor **y, gm_tensor *x, gm_tensor *w, gm_tensor *b, gm_error *err);

#ifdef __cplusplus
}
#endif
#endif
