/* Optimisers over a gm_params store (engine/src/optim.c, kernels/optim.cl): Adam and
 * AdamW with PyTorch's update rule and defaults, global-norm gradient clipping, and an
 * EMA of the weights. Each is one kernel over the flat parameter buffer, not one per
 * tensor; the clipping norm stays on the device.
 *
 * The rule, at step t (1, 2, ...), for every trainable element with grad g:
 *   g  = g * min(1, clip_norm / (||all grads||_2 + 1e-6))   (when clip_norm > 0)
 *   g += weight_decay * p                                    (Adam)
 *   p *= 1 - lr * weight_decay                               (AdamW)
 *   m  = beta1 m + (1 - beta1) g ;  v = beta2 v + (1 - beta2) g^2
 *   p -= (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 * as torch.optim.Adam / AdamW (amsgrad off) after torch.nn.utils.clip_grad_norm_. The
 * clipped gradient is used, not written back: the flat grad keeps the raw values. */
#ifndef GENMOJI_OPTIM_H
#define GENMOJI_OPTIM_H

#include <stdint.h>
#include "params.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum gm_optim_kind { GM_OPTIM_ADAM = 0, GM_OPTIM_ADAMW = 1 } gm_optim_kind;

typedef struct gm_optim_config {
  gm_optim_kind kind;
  float lr, beta1, beta2, eps, weight_decay;  /* PyTorch defaults: 1e-3, 0.9, 0.999, 1e-8, 0 (Adam) / 1e-2 (AdamW) */
  float clip_norm;                            /* global-norm clipping; 0 = off */
  int track_grad_norm;                        /* compute the norm even when not clipping (2 extra launches) */
} gm_optim_config;

/* PyTorch's defaults for kind; clipping and norm tracking off. */
GM_API void gm_optim_config_default(gm_optim_config *c, gm_optim_kind kind);

typedef struct gm_optim gm_optim;

/* p must be finalized and outlive the optimiser. Moments start at zero, steps at 0. */
GM_API int gm_optim_create(gm_optim **out, gm_params *p, const gm_optim_config *c, gm_error *err);
GM_API void gm_optim_destroy(gm_optim *o);

/* One update of every trainable parameter from the grads in gm_params_flat_grad: the
 * clipping norm when clipping (two reduction launches: fixed partial sums, then their
 * total; never read back here) and ONE launch of the fused update over the flat buffer. */
GM_API int gm_optim_step(gm_optim *o, gm_error *err);
GM_API void gm_optim_set_lr(gm_optim *o, float lr);
GM_API float gm_optim_lr(const gm_optim *o);
GM_API int64_t gm_optim_steps(const gm_optim *o);
/* For resume: the next step is steps + 1 (its bias corrections follow from it). */
GM_API void gm_optim_set_steps(gm_optim *o, int64_t steps);
/* 0 = exp_avg, 1 = exp_avg_sq: flat tensors laid out like gm_params_flat (gm_params_offset
 * gives each parameter's slice), for checkpoints; NULL for another `which`. */
GM_API gm_tensor *gm_optim_moment(gm_optim *o, int which);
/* The global grad norm of the last step, before clipping (reads one float from the
 * device: call it when logging, not every step). GM_EINVAL when no step has computed
 * one (neither clipping nor track_grad_norm, or no step yet). */
GM_API int gm_optim_last_grad_norm(gm_optim *o, float *norm, gm_error *err);
/* How many kernels the last gm_optim_step enqueued: 1, or 3 when it computed the norm
 * (for tests and benchmarks). */
GM_API int gm_optim_last_launches(const gm_optim *o);

/* EMA of the trainable parameters: ema = decay ema + (1 - decay) param, one launch. */
typedef struct gm_ema gm_ema;
/* Starts as a copy of the params; decay in [0, 1]. */
GM_API int gm_ema_create(gm_ema **out, gm_params *p, float decay, gm_error *err);
GM_API void gm_ema_destroy(gm_ema *e);
GM_API int gm_ema_update(gm_ema *e, gm_error *err);
/* Flat, same layout as gm_params_flat. */
GM_API gm_tensor *gm_ema_flat(gm_ema *e);
/* Exchanges live and EMA values (one launch): sample with the EMA weights, then swap back. */
GM_API int gm_ema_swap(gm_ema *e, gm_error *err);

#ifdef __cplusplus
}
#endif
#endif
