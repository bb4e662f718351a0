/* Noise schedules (see schedule.h): the host tables every other part of the plugin reads,
 * and the coefficients of one reverse step for the ancestral and DDIM samplers. */
#include "schedule.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BETA_MAX 0.999
#define PI 3.14159265358979323846

static double cosine_f(double t, int T) {
  const double s = 0.008;
  double c = cos((t / T + s) / (1 + s) * PI / 2);
  return c * c;
}

/* ab[1..N] from betas already in beta[1..N] (ab[0] set by the caller). */
static void cumulate(ddpm_schedule *s) {
  for (int k = 1; k <= s->levels; k++) s->ab[k] = s->ab[k - 1] * (1 - s->beta[k]);
}

int ddpm__schedule_init(ddpm_schedule *s, ddpm_schedule_kind kind, int T, gm_error *err) {
  memset(s, 0, sizeof *s);
  if (T < 2) return gm_error_set(err, GM_ERANGE, "ddpm schedule: timesteps must be at least 2, got %d", T);
  s->kind = kind;
  s->T = T;
  s->levels = kind == DDPM_SCHEDULE_STUDY ? T - 1 : T;
  s->t_scale = 1.0 / T;
  size_t n = (size_t)s->levels + 1;
  double *all = calloc(5 * n, sizeof *all);
  if (!all) return gm_error_set(err, GM_ENOMEM, "ddpm schedule: out of memory for T = %d", T);
  s->ab = all;
  s->beta = all + n;
  s->post_var = all + 2 * n;
  s->post_c0 = all + 3 * n;
  s->post_ct = all + 4 * n;
  switch (kind) {
  case DDPM_SCHEDULE_LINEAR: {
    double scale = 1000.0 / T, lo = 1e-4 * scale, hi = 0.02 * scale;
    for (int k = 1; k <= T; k++) s->beta[k] = fmin(lo + (hi - lo) * (k - 1) / (T - 1), BETA_MAX);
    s->ab[0] = 1;
    cumulate(s);
    break;
  }
  case DDPM_SCHEDULE_COSINE:
    for (int k = 1; k <= T; k++)
      s->beta[k] = fmin(1 - cosine_f(k, T) / cosine_f(k - 1, T), BETA_MAX);
    s->ab[0] = 1;
    cumulate(s);
    break;
  case DDPM_SCHEDULE_STUDY:
    /* b_j = linspace(1e-4, 0.02, T); level k carries ab = prod_{j <= k} (1 - b_j) */
    for (int k = 0; k <= s->levels; k++) s->beta[k] = 1e-4 + (0.02 - 1e-4) * k / (T - 1);
    s->ab[0] = 1 - s->beta[0];
    cumulate(s);
    break;
  }
  ddpm__schedule_derive(s);
  return 0;
}

void ddpm__schedule_derive(ddpm_schedule *s) {
  s->beta[0] = 1 - s->ab[0];
  s->post_var[0] = s->post_c0[0] = s->post_ct[0] = 0;
  for (int k = 1; k <= s->levels; k++) {
    double ab = s->ab[k], abp = s->ab[k - 1], b = 1 - ab / abp;
    s->beta[k] = b;
    s->post_var[k] = (1 - abp) / (1 - ab) * b;
    s->post_c0[k] = sqrt(abp) * b / (1 - ab);
    s->post_ct[k] = sqrt(1 - b) * (1 - abp) / (1 - ab);
  }
}

void ddpm__schedule_close(ddpm_schedule *s) {
  free(s->ab);
  memset(s, 0, sizeof *s);
}

double ddpm__reverse_var(const ddpm_schedule *s, int k) {
  if (k == 1 && s->post_var[1] <= 0 && s->levels >= 2) return s->post_var[2];
  return s->post_var[k];
}

void ddpm__step_ancestral(const ddpm_schedule *s, int k, ddpm_step *o) {
  o->from = k;
  o->to = k - 1;
  o->inv_sqrt_ab = 1 / sqrt(s->ab[k]);
  o->sqrt_1mab = sqrt(1 - s->ab[k]);
  o->c0 = s->post_c0[k];
  o->c1 = s->post_ct[k];
  o->sigma = k > 1 ? sqrt(s->post_var[k]) : 0;
}

void ddpm__step_ddim(const ddpm_schedule *s, int k, int j, double eta, ddpm_step *o) {
  double ab = s->ab[k], abp = s->ab[j];
  double sigma = eta * sqrt((1 - abp) / (1 - ab)) * sqrt(1 - ab / abp);
  /* mean = sqrt(abp) x0 + sqrt(1 - abp - sigma^2) eps', eps' = (x_k - sqrt(ab) x0) / sqrt(1 - ab);
   * the last step keeps sigma in its mean but adds no noise, as the ancestral one (the
   * study's level 0 is not clean: ab[0] < 1, so sigma is not 0 there) */
  double dir = sqrt(fmax(1 - abp - sigma * sigma, 0));
  o->from = k;
  o->to = j;
  o->inv_sqrt_ab = 1 / sqrt(ab);
  o->sqrt_1mab = sqrt(1 - ab);
  o->c1 = dir / sqrt(1 - ab);
  o->c0 = sqrt(abp) - dir * sqrt(ab) / sqrt(1 - ab);
  o->sigma = j > 0 ? sigma : 0;
}

void ddpm__ddim_levels(int levels, int steps, int *out) {
  for (int i = 1; i <= steps; i++) out[i - 1] = (int)((int64_t)i * levels / steps);
}
