/* Elementwise ops (engine/src/ops_elementwise.c, kernels/elementwise.cl). */
#ifndef GENMOJI_OPS_ELEMENTWISE_H
#define GENMOJI_OPS_ELEMENTWISE_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* y = a + b, same shape */
GM_API int gm_add(gm_tensor **y, gm_tensor *a, gm_tensor *b, gm_error *err);
/* y = max(x, 0) */
GM_API int gm_relu(gm_tensor **y, gm_tensor *x, gm_error *err);

#ifdef __cplusplus
}
#endif
#endif
