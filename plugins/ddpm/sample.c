/* The samplers: ancestral DDPM (every level, the study's x0 clipping, no noise at the last
 * step) and DDIM (any number of evenly spaced levels, eta), a whole batch per network
 * pass, from drawn or given x_N, mapped back to 0..255 by clamping or the study's stretch;
 * both may stop early after o->stop_after steps (for benchmarks). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ddpm.h"

/* The steps of a sampler, from level N down to 0, into a malloc'd array. */
static int plan(const gm_model *m, int sampler, int steps, float eta, ddpm_step **out, int *n,
                gm_error *err) {
  int N = m->sched.levels;
  if (sampler == DDPM_SAMPLER_DDPM) {
    if (steps != 0 && steps != N)
      return gm_error_set(err, GM_EINVAL, "ddpm sampler: runs all %d levels; --steps %d is for "
                          "ddim", N, steps);
    steps = N;
  } else {
    if (steps == 0) steps = N < DDPM_DDIM_DEFAULT_STEPS ? N : DDPM_DDIM_DEFAULT_STEPS;
    if (steps < 1 || steps > N)
      return gm_error_set(err, GM_ERANGE, "ddim sampler: --steps %d is outside 1..%d", steps, N);
    if (!(eta >= 0 && eta <= 1e3))
      return gm_error_set(err, GM_ERANGE, "ddim sampler: --eta %g must be >= 0", (double)eta);
  }
  ddpm_step *s = malloc((size_t)steps * sizeof *s);
  int *lv = malloc((size_t)steps * sizeof *lv);
  if (!s || !lv) {
    free(s);
    free(lv);
    return gm_error_set(err, GM_ENOMEM, "ddpm sampler: out of memory");
  }
  if (sampler == DDPM_SAMPLER_DDPM) {
    for (int i = 0; i < steps; i++) ddpm__step_ancestral(&m->sched, N - i, &s[i]);
  } else {
    ddpm__ddim_levels(N, steps, lv);
    for (int i = 0; i < steps; i++) {
      int from = lv[steps - 1 - i], to = i == steps - 1 ? 0 : lv[steps - 2 - i];
      ddpm__step_ddim(&m->sched, from, to, eta, &s[i]);
    }
  }
  free(lv);
  *out = s;
  *n = steps;
  return 0;
}

static int want_shape(const char *what, const gm_tensor *t, const int64_t *shape,
                      gm_error *err) {
  char s[96];
  if (t->dtype == GM_F32 && t->ndim == 4 && !memcmp(t->shape, shape, 4 * sizeof *shape)) return 0;
  return gm_error_set(err, GM_ESHAPE, "ddpm sample: %s must be float32 (%lld, %lld, %lld, %lld), "
                      "got %s", what, (long long)shape[0], (long long)shape[1],
                      (long long)shape[2], (long long)shape[3], gm_shape_str(t, s, sizeof s));
}

static int run(gm_model *m, gm_sample_options *o, gm_rng *rng, const ddpm_step *st, int steps,
               gm_tensor *x, gm_tensor *z, gm_tensor *tin, gm_error *err) {
  int rc = 0, stop = o->stop_after > 0 && o->stop_after < steps ? (int)o->stop_after : steps;
  for (int i = 0; i < stop && rc == 0; i++) {
    gm_tensor *eps;
    gm_diffusion_step_coefs c = {
        .inv_sqrt_ab = (float)st[i].inv_sqrt_ab, .sqrt_1mab = (float)st[i].sqrt_1mab,
        .clip_x0 = 1, .c0 = (float)st[i].c0, .c1 = (float)st[i].c1,
        .sigma = (float)st[i].sigma, .clamp_out = m->cfg.clamp_xt};
    rc = gm_tensor_fill(tin, st[i].from * m->sched.t_scale, err);
    if (rc == 0) rc = ddpm__eps_guided(m, x, tin, st[i].from, o->cond, o->guidance, &eps, err);
    if (rc == 0 && st[i].sigma > 0) rc = gm_rng_normal(z, rng, 0.0f, 1.0f, err);
    if (rc == 0) rc = gm_diffusion_step(x, eps, st[i].sigma > 0 ? z : NULL, &c, err);
    gm_tape_reset(m->dev);  /* one step's activations at a time */
    if (rc == 0 && o->progress) o->progress(o->progress_ctx, i + 1, steps);
  }
  return rc;
}

int ddpm__sample(gm_model *m, gm_sample_options *o, gm_rng *rng, gm_tensor **images,
                 gm_error *err) {
  int sampler = m->cfg.sampler;
  if (o->sampler && strcmp(o->sampler, "ddpm") == 0) sampler = DDPM_SAMPLER_DDPM;
  else if (o->sampler && strcmp(o->sampler, "ddim") == 0) sampler = DDPM_SAMPLER_DDIM;
  else if (o->sampler)
    return gm_error_set(err, GM_ENOTFOUND, "ddpm: no sampler '%s' (samplers: ddim, ddpm)",
                        o->sampler);
  if (o->n < 1) return gm_error_set(err, GM_EINVAL, "ddpm sample: n must be at least 1");
  if (o->cond && !m->cfg.vocab)
    return gm_error_set(err, GM_EINVAL, "ddpm sample: this model takes no text (its "
                        "options have vocab=0); sample it without a prompt");
  if (o->cond && (!o->cond->ids || o->cond->ids->ndim != 2 || o->cond->ids->shape[0] != o->n))
    return gm_error_set(err, GM_ESHAPE, "ddpm sample: the condition must have one row per "
                        "image (%d)", o->n);
  if (o->cond && !isfinite(o->guidance))
    return gm_error_set(err, GM_EINVAL, "ddpm sample: guidance %g is not a number", o->guidance);
  int64_t S = m->cfg.size, shape[4] = {o->n, 3, S, S};
  int rc = o->noise ? want_shape("--noise", o->noise, shape, err) : 0;
  if (rc == 0 && o->noise_out) rc = want_shape("the noise output", o->noise_out, shape, err);
  ddpm_step *st = NULL;
  int steps = 0;
  if (rc == 0) rc = plan(m, sampler, o->steps, o->eta, &st, &steps, err);
  if (rc) return rc;
  gm_tensor *x = NULL, *z = NULL, *tin = NULL;
  int was_training = m->training, was_recording = gm_grad_enable(m->dev, 0);
  m->training = 0;
  rc = gm_tensor_create(&x, m->dev, GM_F32, 4, shape, err);
  if (rc == 0) rc = gm_tensor_create(&z, m->dev, GM_F32, 4, shape, err);
  if (rc == 0) rc = gm_tensor_create(&tin, m->dev, GM_F32, 1, GM_SHAPE(o->n), err);
  if (rc == 0)
    rc = o->noise ? gm_tensor_copy(x, o->noise, err) : gm_rng_normal(x, rng, 0.0f, 1.0f, err);
  if (rc == 0 && o->noise_out) rc = gm_tensor_copy(o->noise_out, x, err);
  if (rc == 0) rc = run(m, o, rng, st, steps, x, z, tin, err);
  if (rc == 0) rc = gm_diffusion_to_pixels(images, x, o->stretch, err);
  if (rc == 0) o->evaluations_per_image = o->stop_after > 0 && o->stop_after < steps
                                              ? (double)o->stop_after : steps;
  m->training = was_training;
  gm_grad_enable(m->dev, was_recording);
  gm_tensor_destroy(x);
  gm_tensor_destroy(z);
  gm_tensor_destroy(tin);
  free(st);
  return rc;
}
