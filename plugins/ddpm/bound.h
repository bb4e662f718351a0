/* The variational bound of a diffusion model on 16-level data, in bits per dimension
 * (bound.c), for any eps predictor: the plugin passes its network, tests an oracle.
 *
 * For an image x (values at the bin centres q / 7.5 - 1, q = 0 .. 15):
 *   L_T     = KL(q(x_N | x) || N(0, I))
 *   L_{k-1} = KL(q(x_{k-1} | x_k, x) || p(x_{k-1} | x_k)),  k = 2 .. N, at x_k ~ q(x_k | x)
 *   L_0     = -log of the mass that N(mu_1(x_1), sigma_1^2) puts on x's bin (half-width 1/15,
 *             the end bins reaching to -inf and +inf), at x_1 ~ q(x_1 | x)
 * where p's mean is the posterior mean at the clipped x0_hat = clip((x_k - sqrt(1 - ab_k)
 * eps_hat) / sqrt(ab_k), -1, 1) (the sampler's) and its variance the posterior variance
 * beta_tilde (ddpm__reverse_var). Total nats / (D ln 2), D = C H W. The sum over k is
 * exact (one network pass per level) or, with t_samples = K > 0, estimated without bias
 * as (N - 1) / K times the sum over K levels drawn uniformly from 2 .. N; L_T and L_0 are
 * always exact in k. */
#ifndef GM_DDPM_BOUND_H
#define GM_DDPM_BOUND_H

#include "schedule.h"

/* eps_hat for x_t (B, C, H, W) at `level`: an arena tensor of x_t's shape. */
typedef int (*ddpm_eps_fn)(void *ctx, gm_tensor *x_t, int level, gm_tensor **eps_hat,
                           gm_error *err);

/* bits (B) per image. x0 (B, C, H, W), caller-owned, holds bin centres. Draws the noise
 * of every x_k (and the K levels) from rng. Resets the device's step arena
 * (gm_tape_reset) after every level: run it with no arena tensors of the caller alive. */
int ddpm__bound(const ddpm_schedule *s, gm_tensor *x0, int t_samples, gm_rng *rng,
                ddpm_eps_fn f, void *ctx, double *bits, gm_error *err);

/* -log of the mass N(mu, sigma^2) puts on the bin of centre x (half-width h; x <= -1 or
 * x >= 1 reaches to infinity), in nats, in double precision without cancellation. */
double ddpm__bin_nll(double x, double mu, double sigma, double h);

#endif
