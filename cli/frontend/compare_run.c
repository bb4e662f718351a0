/* The phases of `genmoji compare` that use the device: training through the engine's
 * trainer, sampling with the default sampler, the held-out likelihood, and the costs of
 * each model's two samplers on a small batch (the expensive reference sampler run when
 * its estimate, from runs stopped part way as `bench models` does, fits the time limit;
 * extrapolated and labelled as such otherwise). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compare.h"

const gm_cli_cmp_spec gm_cli_cmp_specs[GM_CLI_CMP_MODELS] = {
    {"pixelcnn", "PixelCNN", "exact", "cached", "naive", 0, "cross-entropy, nats per subpixel"},
    {"ddpm", "DDPM", "bound", "ddim", "ddpm", 50, "mean squared error of the predicted noise"},
};

/* About how long the partial runs that estimate a reference sampler's cost take. */
#define PROBE_SECONDS 2.0
/* What a cached PixelCNN sample costs in full-pass equivalents of time on a 2-core CPU
 * (measured 8 to 13: per-position launches dominate); only for the job's ETA before it
 * samples. */
#define CACHED_PASSES_GUESS 10.0

static void fail_phase(gm_cli_cmp_phase *p, const gm_error *err, const char *what) {
  p->status = GM_CLI_CMP_FAILED;
  snprintf(p->note, sizeof p->note, "%s: %s", what,
           err->msg[0] ? err->msg : gm_strerror(err->code));
}

static void skip_phase(gm_cli_cmp_phase *p, const char *why) {
  p->status = GM_CLI_CMP_SKIPPED;
  snprintf(p->note, sizeof p->note, "%s", why);
}

static const char *opt(const gm_cli_cmp_model *m, const char *key) {
  const char *v = gm_kv_get(m->opts.model, m->opts.n_model, key);
  return v ? v : "";
}

/* The DDPM's noise levels, as its schedule documents them: N = T, or T - 1 for the
 * study's schedule (which runs t = T - 1 .. 1). */
static int ddpm_levels(const gm_cli_cmp_model *m) {
  int t = atoi(opt(m, "timesteps"));
  return strcmp(opt(m, "schedule"), "study") == 0 ? t - 1 : t;
}

/* Network passes per image of the expensive reference sampler, as the plugins document
 * them: the naive PixelCNN runs the whole network once per draw (one draw per channel
 * for the channel-wise gated net, one per pixel for the study's net); the ancestral DDPM
 * visits every level. test_cmd_compare checks these against measured runs. */
static double slow_passes(const gm_cli_cmp_model *m, int size) {
  if (strcmp(m->spec->name, "pixelcnn") == 0)
    return (double)size * size * (strcmp(opt(m, "arch"), "seed") == 0 ? 1 : 3);
  return ddpm_levels(m);
}

static int fast_steps(const gm_cli_cmp_model *m) {
  if (m->spec->fast_steps <= 0) return 0;
  int levels = ddpm_levels(m);
  return levels < m->spec->fast_steps ? levels : m->spec->fast_steps;
}

double gm_cli_cmp_guess_passes(const gm_cli_cmp_model *m, int sample_phase) {
  if (strcmp(m->spec->name, "pixelcnn") == 0) return CACHED_PASSES_GUESS;
  if (sample_phase && strcmp(opt(m, "sampler"), "ddpm") == 0) return ddpm_levels(m);
  return fast_steps(m); /* DDIM's default steps too */
}

double gm_cli_cmp_guess_slow_passes(const gm_cli_cmp_model *m, int size) {
  return slow_passes(m, size);
}

const char *gm_cli_cmp_loss_unit(const gm_cli_cmp_model *m) {
  if (strcmp(m->spec->name, "ddpm") == 0 && strcmp(opt(m, "pred"), "v") == 0)
    return "mean squared error of the predicted v";
  return m->spec->loss_unit;
}

/* ---- training ---- */

int gm_cli_cmp_train(gm_cli_cmp_job *j, gm_cli_cmp_model *m) {
  gm_error err = {0};
  gm_train_config *c = &m->tc;
  gm_train_config_init(c);
  c->model = m->vt;
  c->model_name = m->spec->name;
  c->options = &m->opts;
  c->data = j->ds;
  c->data_desc = j->data_desc;
  c->dev = j->dev;
  c->seed = j->seed;
  c->out_dir = m->dir;
  c->budget_s = j->steps > 0 ? 0 : j->time_s;
  c->budget_steps = j->steps;
  c->stop = j->stop;
  c->saving = j->saving;
  c->progress = gm_cli_cmp_progress_train;
  c->progress_ctx = j;
  double t0 = gm_cli_cmp_now();
  m->tr.loss = NAN;
  if (gm_trainer_create(&m->trainer, c, &err)) {
    fail_phase(&m->train, &err, "creating the trainer");
    return 0;
  }
  gm_params *p = gm_trainer_params(m->trainer);
  m->parameters = gm_params_numel(p, GM_PARAM_TRAINABLE);
  m->has_ema = gm_trainer_ema(m->trainer) != NULL;
  int rc = gm_trainer_run(m->trainer, &m->tr, &err);
  gm_cli_progress_end(&j->bar);
  m->train.seconds = gm_cli_cmp_now() - t0;
  if (rc) {
    fail_phase(&m->train, &err, "training");
    return 0;
  }
  if (m->tr.stopped) {
    m->train.status = GM_CLI_CMP_STOPPED;
    snprintf(m->train.note, sizeof m->train.note,
             "stopped by %s after step %lld (%.0f of %.0f s); its checkpoint was saved",
             j->stop_signal == SIGTERM ? "SIGTERM" : "SIGINT", (long long)m->tr.step, m->tr.wall_s,
             j->time_s);
  } else {
    m->train.status = GM_CLI_CMP_DONE;
  }
  return 0;
}

/* The trained model in evaluation mode with its EMA weights, if it keeps them (what
 * `genmoji sample` and `eval` use by default from its checkpoint). */
static gm_model *ready_model(gm_cli_cmp_model *m, gm_error *err) {
  gm_model *model = gm_trainer_model(m->trainer);
  const gm_model_vtable *vt = m->vt;
  if (vt->train_mode) vt->train_mode(model, 0);
  if (m->has_ema && !m->ema_in) {
    if (gm_ema_swap(gm_trainer_ema(m->trainer), err)) return NULL;
    m->ema_in = 1;
  }
  return model;
}

static int trained(gm_cli_cmp_model *m, gm_cli_cmp_phase *p) {
  if (m->trainer && (m->train.status == GM_CLI_CMP_DONE || m->train.status == GM_CLI_CMP_STOPPED))
    return 1;
  skip_phase(p, "no trained model (its training did not finish)");
  return 0;
}

/* ---- sampling ---- */

/* (n, 3, S, S) floats 0..255 -> n interleaved RGB8 images, rounded and clamped. */
static int to_rgb8(gm_tensor *img, int n, int s, uint8_t **out, gm_error *err) {
  size_t plane = (size_t)s * (size_t)s;
  float *v = malloc(gm_tensor_bytes(img));
  uint8_t *rgb = malloc(3 * plane * (size_t)n);
  int rc = !v || !rgb ? gm_error_set(err, GM_ENOMEM, "samples: out of memory") : 0;
  if (!rc) rc = gm_tensor_read(img, v, gm_tensor_bytes(img), err);
  for (int b = 0; !rc && b < n; b++)
    for (size_t i = 0; i < plane; i++)
      for (int ch = 0; ch < 3; ch++) {
        float x = v[((size_t)b * 3 + (size_t)ch) * plane + i];
        x = isfinite(x) ? roundf(x) : 0;
        rgb[((size_t)b * plane + i) * 3 + (size_t)ch] = (uint8_t)(x < 0 ? 0 : x > 255 ? 255 : x);
      }
  free(v);
  if (rc) {
    free(rgb);
    return rc;
  }
  *out = rgb;
  return 0;
}

/* One sampler call: n images of side s into *rgb, with the wall time (the call and the
 * read back) and the evaluations per image. */
static int draw(gm_cli_cmp_job *j, gm_cli_cmp_model *m, gm_model *model, const char *sampler,
                int steps, int n, uint8_t **rgb, double *seconds, double *evals, gm_error *err) {
  gm_cli_cmp_bar_reset(j);
  j->unit_start = gm_cli_cmp_now();
  gm_sample_options so = {.n = n,
                          .sampler = sampler,
                          .steps = steps,
                          .progress = gm_cli_cmp_progress_units,
                          .progress_ctx = j};
  gm_rng rng;
  gm_rng_init(&rng, j->seed, 0);
  int was = gm_grad_enable(j->dev, 0);
  gm_tensor *img = NULL;
  double t0 = gm_cli_cmp_now();
  int rc = m->vt->sample(model, &so, &rng, &img, err);
  if (rc) {
    gm_error_prefix(err, "model '%s' sample", m->spec->name);
  } else if (!img || img->ndim != 4 || img->shape[0] != n || img->shape[1] != 3 ||
             img->shape[2] != j->size || img->shape[3] != j->size || img->dtype != GM_F32) {
    char shape[96];
    rc = gm_error_set(err, GM_ESHAPE,
                      "model '%s' sample: returned %s, want (%d, 3, %d, %d) "
                      "floats",
                      m->spec->name, img ? gm_shape_str(img, shape, sizeof shape) : "nothing", n,
                      j->size, j->size);
  }
  if (!rc) rc = to_rgb8(img, n, j->size, rgb, err);
  *seconds = gm_cli_cmp_now() - t0;
  *evals = so.evaluations_per_image;
  gm_cli_progress_end(&j->bar);
  gm_tape_reset(j->dev);
  gm_grad_enable(j->dev, was);
  return rc;
}

/* The sampler a NULL name picks: the model's `sampler` option where it has one (DDPM),
 * else its first. */
static const char *default_sampler(const gm_cli_cmp_model *m) {
  const char *v = gm_kv_get(m->opts.model, m->opts.n_model, "sampler");
  const char *const *list = m->vt->samplers;
  return v ? v : list && list[0] ? list[0] : "default";
}

int gm_cli_cmp_sample(gm_cli_cmp_job *j, gm_cli_cmp_model *m) {
  if (!trained(m, &m->sample)) return 0;
  gm_error err = {0};
  double t0 = gm_cli_cmp_now();
  gm_model *model = ready_model(m, &err);
  snprintf(m->sampler, sizeof m->sampler, "%s", default_sampler(m));
  if (!model || draw(j, m, model, NULL, 0, j->n, &m->samples, &m->sample_seconds,
                     &m->evaluations_per_image, &err)) {
    fail_phase(&m->sample, &err, "sampling");
    return 0;
  }
  m->n = j->n;
  m->sample.seconds = gm_cli_cmp_now() - t0;
  m->sample.status = GM_CLI_CMP_DONE;
  return 0;
}

/* ---- held-out likelihood ---- */

int gm_cli_cmp_eval(gm_cli_cmp_job *j, gm_cli_cmp_model *m) {
  const gm_model_vtable *vt = m->vt;
  if (!vt->nll) {
    skip_phase(&m->eval, "the model has no likelihood (nll)");
    return 0;
  }
  if (j->n_held == 0) {
    skip_phase(&m->eval, "the held-out split is empty");
    return 0;
  }
  if (!trained(m, &m->eval)) return 0;
  gm_error err = {0};
  double t0 = gm_cli_cmp_now();
  gm_model *model = ready_model(m, &err);
  if (!model) {
    fail_phase(&m->eval, &err, "evaluation");
    return 0;
  }
  m->t_samples = strcmp(m->spec->likelihood, "bound") == 0 ? j->t_samples : 0;
  gm_nll_options no = {.t_samples = m->t_samples};
  gm_rng rng;
  gm_rng_init(&rng, j->seed, 3); /* as `genmoji eval --seed S` draws */
  int was = gm_grad_enable(j->dev, 0), rc = 0, batch = 32, done = 0;
  double sum = 0;
  for (int i = 0; !rc && i < j->n_held; i += batch) {
    if (*j->stop) break;
    int k = j->n_held - i < batch ? j->n_held - i : batch;
    gm_tensor *x = NULL;
    double v = 0;
    gm_tape_reset(j->dev);
    rc = gm_tensor_create(&x, j->dev, GM_F32, 4, GM_SHAPE(k, 3, j->size, j->size), &err);
    if (!rc) rc = gm_dataset_batch(j->ds, j->held_idx + i, k, NULL, GM_PIXELS_RAW, x, &err);
    if (!rc && (rc = vt->nll(model, x, &no, &rng, &v, &err)))
      gm_error_prefix(&err, "model '%s' nll", m->spec->name);
    if (!rc && !isfinite(v))
      rc = gm_error_set(&err, GM_ENUMERIC,
                        "model '%s' nll: %g bits/dim on held-out images "
                        "%d..%d",
                        m->spec->name, v, i, i + k - 1);
    gm_tensor_destroy(x);
    if (!rc) {
      sum += v * k;
      done += k;
    }
    gm_cli_cmp_progress_units(j, done, j->n_held);
  }
  gm_cli_progress_end(&j->bar);
  gm_tape_reset(j->dev);
  gm_grad_enable(j->dev, was);
  m->eval.seconds = gm_cli_cmp_now() - t0;
  m->eval_images = done;
  if (rc) {
    fail_phase(&m->eval, &err, "evaluation");
    return 0;
  }
  m->bits_per_dim = done ? sum / done : NAN;
  if (done < j->n_held) {
    m->eval.status = GM_CLI_CMP_STOPPED;
    snprintf(m->eval.note, sizeof m->eval.note, "stopped after %d of %d held-out images", done,
             j->n_held);
  } else {
    m->eval.status = GM_CLI_CMP_DONE;
  }
  return 0;
}

/* ---- sampler costs ---- */

/* The reference sampler's cost on a batch of n, the way `genmoji bench models` times it
 * (gm_bench_sample): runs stopped after a few of its units (pixels or levels), a line
 * through their times, evaluated at the whole run. */
static int probe_slow(gm_cli_cmp_job *j, gm_cli_cmp_model *m, gm_model *model, int n,
                      gm_bench_sample_result *r, gm_error *err) {
  gm_sample_options so = {.n = n, .sampler = m->spec->slow};
  int was = gm_grad_enable(j->dev, 0);
  int rc = gm_bench_sample(j->dev, m->vt, model, &so, PROBE_SECONDS, r, err);
  gm_tape_reset(j->dev);
  gm_grad_enable(j->dev, was);
  if (rc) gm_error_prefix(err, "model '%s' sampler '%s'", m->spec->name, m->spec->slow);
  return rc;
}

static void describe_slow(gm_cli_cmp_job *j, gm_cli_cmp_cost *c,
                          const gm_bench_sample_result *r, int fit) {
  char limit[32], total[32];
  gm_cli_duration(j->timing_limit_s, limit, sizeof limit);
  gm_cli_duration(c->estimate_seconds_per_image * c->n, total, sizeof total);
  if (fit) {
    snprintf(c->method, sizeof c->method,
             "ran: %d images in one call (estimated at %s, within --timing-limit %s)", c->n, total,
             limit);
    return;
  }
  snprintf(c->method, sizeof c->method,
           "extrapolated, not run: runs on a batch of %d stopped after %lld and %lld of its %lld "
           "steps (pixels or levels) took %.4g and %.4g s; the line through them, %.4g s per "
           "step, gives about %s for the whole run, over --timing-limit %s",
           c->n, (long long)r->units_a, (long long)r->units_b, (long long)r->total_units,
           r->seconds_a, r->seconds_b, r->seconds_per_unit, total, limit);
}

int gm_cli_cmp_costs(gm_cli_cmp_job *j, gm_cli_cmp_model *m) {
  if (!trained(m, &m->costs)) return 0;
  gm_error err = {0};
  double t0 = gm_cli_cmp_now();
  gm_model *model = ready_model(m, &err);
  int b = j->timing_n, rc = model ? 0 : -1;
  uint8_t *fast_img = NULL, *slow_img = NULL;
  gm_cli_cmp_cost *f = &m->cost[0], *s = &m->cost[1];
  memset(m->cost, 0, sizeof m->cost);
  m->n_costs = 0;
  double seconds = 0, evals = 0;
  /* the fast sampler, always run */
  snprintf(f->sampler, sizeof f->sampler, "%s", m->spec->fast);
  f->n = b;
  f->steps = fast_steps(m);
  f->identical = -1;
  if (!rc) rc = draw(j, m, model, f->sampler, f->steps, b, &fast_img, &seconds, &evals, &err);
  if (!rc) {
    f->seconds_per_image = f->estimate_seconds_per_image = seconds / b;
    f->evaluations_per_image = f->estimate_evaluations_per_image = evals;
    f->measured = 1;
    snprintf(f->method, sizeof f->method, "ran: %d images in one call", b);
    m->n_costs = 1;
  }
  /* the reference sampler: estimated, then run when the estimate fits the limit */
  gm_bench_sample_result probe;
  snprintf(s->sampler, sizeof s->sampler, "%s", m->spec->slow);
  s->n = b;
  s->identical = -1;
  s->estimate_evaluations_per_image = slow_passes(m, j->size);
  if (!rc && !*j->stop) rc = probe_slow(j, m, model, b, &probe, &err);
  if (!rc && !*j->stop) {
    s->estimate_seconds_per_image = probe.seconds_per_image;
    int fit = s->estimate_seconds_per_image * b <= j->timing_limit_s;
    if (fit) {
      rc = draw(j, m, model, s->sampler, 0, b, &slow_img, &seconds, &evals, &err);
      if (!rc) {
        s->seconds_per_image = seconds / b;
        s->evaluations_per_image = evals;
        s->measured = 1;
        if (strcmp(m->spec->name, "pixelcnn") == 0)
          s->identical = memcmp(fast_img, slow_img, j->len * (size_t)b) == 0;
      }
    } else {
      s->seconds_per_image = s->estimate_seconds_per_image;
      s->evaluations_per_image = s->estimate_evaluations_per_image;
    }
    describe_slow(j, s, &probe, fit);
    if (!rc) m->n_costs = 2;
  }
  free(fast_img);
  free(slow_img);
  m->costs.seconds = gm_cli_cmp_now() - t0;
  if (rc) {
    fail_phase(&m->costs, &err, "sampler costs");
    return 0;
  }
  if (m->n_costs < 2) {
    m->costs.status = GM_CLI_CMP_STOPPED;
    snprintf(m->costs.note, sizeof m->costs.note, "stopped before the %s sampler", s->sampler);
  } else {
    m->costs.status = GM_CLI_CMP_DONE;
  }
  return 0;
}
