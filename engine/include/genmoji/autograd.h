/* The autograd tape. Every op called while recording is enabled, with an input that
 * requires grad, appends a node (inputs, output, saved state, backward function) to the
 * device's tape. gm_backward(loss) walks the tape in reverse and adds (+=) into each
 * input's grad. Op outputs live in the device's step arena: gm_tape_reset frees them
 * and the nodes, and returns their buffers to the pool. Parameters live outside it. */
#ifndef GENMOJI_AUTOGRAD_H
#define GENMOJI_AUTOGRAD_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Seeds d(loss)/d(loss) = 1 and runs the tape backwards. loss must have one element. */
GM_API int gm_backward(gm_tensor *loss, gm_error *err);

/* Frees every arena tensor and node of the current step. Caller-owned tensors (and
 * their grads) survive. */
GM_API void gm_tape_reset(gm_device *dev);

/* Turns recording on (1) or off (0) for dev; returns the previous setting. Sampling
 * and evaluation run with recording off. */
GM_API int gm_grad_enable(gm_device *dev, int on);

/* Counters for tests and benchmarks. */
GM_API size_t gm_tape_node_count(const gm_device *dev);
GM_API size_t gm_tape_arena_count(const gm_device *dev);

#ifdef __cplusplus
}
#endif
#endif
