/* Noise schedules of the DDPM plugin, as host tables in double precision.
 *
 * Levels: k = 0 .. N. Level 0 is where sampling ends; levels 1 .. N are the noised
 * states the network is trained on. q(x_k | x) = N(sqrt(ab[k]) x, (1 - ab[k]) I) for
 * k >= 1, and each step k-1 -> k has beta[k] = 1 - ab[k] / ab[k-1].
 *   linear: Ho et al.'s betas, 1e-4 .. 0.02 at T = 1000, rescaled by 1000 / T for other T
 *           (so that level N keeps almost no signal), capped at 0.999; N = T, ab[0] = 1.
 *   cosine: Nichol & Dhariwal, ab(t) = f(t) / f(0), f(t) = cos^2((t / T + s) / (1 + s) pi / 2),
 *           s = 0.008, betas capped at 0.999; N = T, ab[0] = 1.
 *   study:  the study's notebook: betas b_j = linspace(1e-4, 0.02, T), j = 0 .. T - 1,
 *           ab[k] = prod_{j <= k} (1 - b_j); training draws k from 1 .. T - 1 and sampling
 *           runs k = T - 1 .. 1, so N = T - 1 and ab[0] = 1 - 1e-4 (not 1).
 * The network's time input at level k is k / T in every case. */
#ifndef GM_DDPM_SCHEDULE_H
#define GM_DDPM_SCHEDULE_H

#include <genmoji/gm.h>

typedef enum ddpm_schedule_kind {
  DDPM_SCHEDULE_LINEAR = 0,
  DDPM_SCHEDULE_COSINE = 1,
  DDPM_SCHEDULE_STUDY = 2
} ddpm_schedule_kind;

typedef struct ddpm_schedule {
  ddpm_schedule_kind kind;
  int T;              /* the option */
  int levels;         /* N */
  double t_scale;     /* network time input = k * t_scale (1 / T) */
  /* (N + 1) entries each, indexed by level */
  double *ab;         /* alpha_bar */
  double *beta;       /* beta[k] = 1 - ab[k] / ab[k-1]; beta[0] = 1 - ab[0] */
  double *post_var;   /* beta_tilde[k] = (1 - ab[k-1]) / (1 - ab[k]) beta[k]; [0] = 0 */
  double *post_c0;    /* posterior mean = post_c0[k] x0 + post_ct[k] x_k:              */
  double *post_ct;    /*   sqrt(ab[k-1]) beta[k] / (1 - ab[k]), sqrt(1 - beta[k]) (1 - ab[k-1]) / (1 - ab[k]) */
} ddpm_schedule;

/* T >= 2 (the study's needs N >= 1). */
int ddpm__schedule_init(ddpm_schedule *s, ddpm_schedule_kind kind, int T, gm_error *err);
void ddpm__schedule_close(ddpm_schedule *s);
/* beta, post_var, post_c0 and post_ct from ab[0 .. levels] (init calls it; tests fill ab by
 * hand and call it). */
void ddpm__schedule_derive(ddpm_schedule *s);
/* The decoder's variance at level 1 and the reverse variance at level k >= 1: beta_tilde,
 * with level 1's zero (ab[0] = 1) replaced by level 2's, as improved-diffusion clips it. */
double ddpm__reverse_var(const ddpm_schedule *s, int k);

/* One reverse step k -> j (j < k) as x_j = c0 clip(x0_hat) + c1 x_k + sigma z with
 * x0_hat = (x_k - sqrt(1 - ab[k]) eps) / sqrt(ab[k]). */
typedef struct ddpm_step {
  int from, to;
  double inv_sqrt_ab, sqrt_1mab, c0, c1, sigma;
} ddpm_step;

/* Ancestral (DDPM): k -> k - 1 with the posterior mean and sigma^2 = beta_tilde[k]; no
 * noise at the last step (k = 1), as the study. */
void ddpm__step_ancestral(const ddpm_schedule *s, int k, ddpm_step *o);
/* DDIM k -> j with eta: sigma = eta sqrt((1 - ab[j]) / (1 - ab[k])) sqrt(1 - ab[k] / ab[j]),
 * and eps recomputed from the clipped x0_hat, so that eta = 1 over every level gives the
 * ancestral step exactly; no noise added when j = 0 (sigma still shapes the mean). */
void ddpm__step_ddim(const ddpm_schedule *s, int k, int j, double eta, ddpm_step *o);
/* DDIM's levels: tau_i = floor(i N / steps), i = 1 .. steps (1 <= steps <= N), so that
 * steps = N visits every level. out has steps entries, increasing. */
void ddpm__ddim_levels(int levels, int steps, int *out);

#endif
