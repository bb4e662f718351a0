/* Losses and reductions: softmax cross-entropy over a class axis, softmax, MSE, sum and
 * mean (engine/src/ops_loss.c, kernels/loss.cl). Every reduction is deterministic: the
 * same input gives the same bits on every run and for every work-group size.
 *
 * Class axis: logits are viewed as (outer, K, inner), K = logits->shape[class_axis],
 * outer = the product of the dimensions before it, inner = of those after it. A negative
 * class_axis counts from the end (-1 is the last). Targets are int32 with the logits'
 * shape minus the class axis. The PixelCNN's seed logits (B, 3, 16, H, W) take
 * class_axis 2 and targets (B, 3, H, W); logits (B, 3, H, W, 16) take class_axis 4. */
#ifndef GENMOJI_OPS_LOSS_H
#define GENMOJI_OPS_LOSS_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* loss (1) = mean over every position of -log softmax(logits)[target], in nats,
 * computed with a max-subtracted log-sum-exp. Backward into logits:
 * (softmax - onehot(target)) * dloss / positions.
 * Targets are not read back to the host (that would cost a sync per step): a target
 * outside 0..K-1 makes that position's loss, hence the mean and the gradient, NaN, which
 * the trainer's non-finite check catches. gm_cross_entropy_check_targets finds it. */
GM_API int gm_cross_entropy(gm_tensor **loss, gm_tensor *logits /* (.., K, ..) */,
                            gm_tensor *targets /* logits' shape without K, int32 */,
                            int class_axis, gm_error *err);
/* nll (targets' shape) = -log softmax(logits)[target] per position, in nats, without
 * reduction (for bits/dim evaluation). Out-of-range targets give NaN there. Records a
 * backward like every op, though evaluation usually runs with grad off. */
GM_API int gm_cross_entropy_each(gm_tensor **nll, gm_tensor *logits /* (.., K, ..) */,
                                 gm_tensor *targets /* logits' shape without K, int32 */,
                                 int class_axis, gm_error *err);
/* A debugging aid, not for the training loop: reads targets to the host and returns
 * GM_ERANGE naming the first position whose value is outside 0..K-1 (shapes are checked
 * as by gm_cross_entropy). */
GM_API int gm_cross_entropy_check_targets(gm_tensor *logits /* (.., K, ..) */,
                                          gm_tensor *targets /* int32 */, int class_axis,
                                          gm_error *err);
/* p (logits' shape) = softmax(logits / temperature) along class_axis; temperature > 0.
 * Samplers use it with grad off; a backward is recorded all the same. */
GM_API int gm_softmax(gm_tensor **p, gm_tensor *logits /* (.., K, ..) */, int class_axis,
                      float temperature, gm_error *err);
/* loss (1) = mean((a - b)^2) over every element; gradient into both. */
GM_API int gm_mse(gm_tensor **loss, gm_tensor *a /* any shape */, gm_tensor *b /* a's shape */,
                  gm_error *err);
/* y (1) = the sum of every element of x (0 for an empty x). */
GM_API int gm_sum(gm_tensor **y, gm_tensor *x /* any shape */, gm_error *err);
/* y (1) = the mean of every element of x (x must not be empty). */
GM_API int gm_mean(gm_tensor **y, gm_tensor *x /* any shape */, gm_error *err);

#ifdef __cplusplus
}
#endif
#endif
