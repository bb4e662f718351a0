/* The phases of `genmoji compare` that use the device, for one model each: training
 * through the engine's trainer, sampling with the default sampler, the held-out
 * likelihood, and the costs of the model's fast and reference samplers on a small batch
 * (the reference one run when its estimate, from runs stopped part way as `bench models`
 * does, fits the time limit; extrapolated and labelled as such otherwise). What a model
 * is comes from its metadata (m->info); progress goes only through the hooks. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compare.h"

/* About how long the partial runs that estimate a reference sampler's cost take. */
#define PROBE_SECONDS 2.0

static void fail_phase(gm_cmp_phase *p, const gm_error *err, const char *what) {
  p->status = GM_CMP_FAILED;
  snprintf(p->note, sizeof p->note, "%s: %s", what,
           err->msg[0] ? err->msg : gm_strerror(err->code));
}

static void skip_phase(gm_cmp_phase *p, const char *why) {
  p->status = GM_CMP_SKIPPED;
  snprintf(p->note, sizeof p->note, "%s", why);
}

static void call_begin(const gm_cmp_hooks *h) {
  if (h->call_begin) h->call_begin(h->ctx);
}

static void call_end(const gm_cmp_hooks *h) {
  if (h->call_end) h->call_end(h->ctx);
}

static const char *signal_name(int sig) {
  return sig == SIGTERM ? "SIGTERM" : sig == SIGHUP ? "SIGHUP" : "SIGINT";
}

/* ---- training ---- */

int gm_cmp_train(const gm_cmp_options *o, const gm_cmp_data *d, gm_cmp_model *m,
                 const gm_cmp_hooks *h) {
  gm_error err = {0};
  gm_train_config *c = &m->tc;
  gm_train_config_init(c);
  c->model = m->vt;
  c->model_name = m->name;
  c->options = &m->opts;
  c->data = d->ds;
  c->data_desc = d->data_desc;
  c->dev = d->dev;
  c->seed = o->seed;
  c->out_dir = m->dir;
  c->budget_s = o->steps > 0 ? 0 : o->time_s;
  c->budget_steps = o->steps;
  c->stop = h->stop;
  c->saving = h->saving;
  c->progress = h->train_progress;
  c->progress_ctx = h->ctx;
  double t0 = gm_cli_now();
  m->tr.loss = NAN;
  if (gm_trainer_create(&m->trainer, c, &err)) {
    fail_phase(&m->train, &err, "creating the trainer");
    return 0;
  }
  gm_params *p = gm_trainer_params(m->trainer);
  m->parameters = gm_params_numel(p, GM_PARAM_TRAINABLE);
  m->has_ema = gm_trainer_ema(m->trainer) != NULL;
  int rc = gm_trainer_run(m->trainer, &m->tr, &err);
  call_end(h);
  m->train.seconds = gm_cli_now() - t0;
  if (rc) {
    fail_phase(&m->train, &err, "training");
    return 0;
  }
  if (m->tr.stopped) {
    m->train.status = GM_CMP_STOPPED;
    snprintf(m->train.note, sizeof m->train.note,
             "stopped by %s after step %lld (%.0f of %.0f s); its checkpoint was saved",
             signal_name(*h->stop), (long long)m->tr.step, m->tr.wall_s, o->time_s);
  } else {
    m->train.status = GM_CMP_DONE;
  }
  return 0;
}

/* The trained model in evaluation mode with its EMA weights, if it keeps them (what
 * `genmoji sample` and `eval` use by default from its checkpoint). */
static gm_model *ready_model(gm_cmp_model *m, gm_error *err) {
  gm_model *model = gm_trainer_model(m->trainer);
  if (m->vt->train_mode) m->vt->train_mode(model, 0);
  if (m->has_ema && !m->ema_in) {
    if (gm_ema_swap(gm_trainer_ema(m->trainer), err)) return NULL;
    m->ema_in = 1;
  }
  return model;
}

static int trained(gm_cmp_model *m, gm_cmp_phase *p) {
  if (m->trainer && (m->train.status == GM_CMP_DONE || m->train.status == GM_CMP_STOPPED))
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

/* One sampler call (NULL: the model's default): n images into *rgb, with the wall time
 * (the call and the read back) and the evaluations per image the sampler counted. */
static int draw(const gm_cmp_options *o, const gm_cmp_data *d, gm_cmp_model *m,
                gm_model *model, const char *sampler, int n, uint8_t **rgb, double *seconds,
                double *evals, const gm_cmp_hooks *h, gm_error *err) {
  call_begin(h);
  gm_sample_options so = {
      .n = n, .sampler = sampler, .progress = h->units_progress, .progress_ctx = h->ctx};
  gm_rng rng;
  gm_rng_init(&rng, o->seed, 0);
  int was = gm_grad_enable(d->dev, 0);
  gm_tensor *img = NULL;
  double t0 = gm_cli_now();
  int rc = m->vt->sample(model, &so, &rng, &img, err);
  if (rc) {
    gm_error_prefix(err, "model '%s' sample", m->name);
  } else if (!img || img->ndim != 4 || img->shape[0] != n || img->shape[1] != 3 ||
             img->shape[2] != d->size || img->shape[3] != d->size || img->dtype != GM_F32) {
    char shape[96];
    rc = gm_error_set(err, GM_ESHAPE, "model '%s' sample: returned %s, want (%d, 3, %d, %d) floats",
                      m->name, img ? gm_shape_str(img, shape, sizeof shape) : "nothing", n,
                      d->size, d->size);
  }
  if (!rc) rc = to_rgb8(img, n, d->size, rgb, err);
  *seconds = gm_cli_now() - t0;
  *evals = so.evaluations_per_image;
  call_end(h);
  gm_tape_reset(d->dev);
  gm_grad_enable(d->dev, was);
  return rc;
}

int gm_cmp_sample(const gm_cmp_options *o, const gm_cmp_data *d, gm_cmp_model *m,
                  const gm_cmp_hooks *h) {
  if (!trained(m, &m->sample)) return 0;
  gm_error err = {0};
  double t0 = gm_cli_now();
  gm_model *model = ready_model(m, &err);
  snprintf(m->sampler, sizeof m->sampler, "%s",
           m->info.default_sampler ? m->info.default_sampler : "default");
  if (!model || draw(o, d, m, model, NULL, o->n, &m->samples, &m->sample_seconds,
                     &m->evaluations_per_image, h, &err)) {
    fail_phase(&m->sample, &err, "sampling");
    return 0;
  }
  m->n = o->n;
  m->sample.seconds = gm_cli_now() - t0;
  m->sample.status = GM_CMP_DONE;
  return 0;
}

/* ---- held-out likelihood ---- */

int gm_cmp_eval(const gm_cmp_options *o, const gm_cmp_data *d, gm_cmp_model *m,
                const gm_cmp_hooks *h) {
  const gm_model_vtable *vt = m->vt;
  if (!vt->nll) {
    skip_phase(&m->eval, "not available: the model has no likelihood (nll)");
    return 0;
  }
  if (d->n_held == 0) {
    skip_phase(&m->eval, "the held-out split is empty");
    return 0;
  }
  if (!trained(m, &m->eval)) return 0;
  gm_error err = {0};
  double t0 = gm_cli_now();
  gm_model *model = ready_model(m, &err);
  if (!model) {
    fail_phase(&m->eval, &err, "evaluation");
    return 0;
  }
  m->t_samples = m->info.likelihood == GM_LIKELIHOOD_BOUND ? o->t_samples : 0;
  gm_nll_options no = {.t_samples = m->t_samples};
  gm_rng rng;
  gm_rng_init(&rng, o->seed, 3); /* as `genmoji eval --seed S` draws */
  int was = gm_grad_enable(d->dev, 0), rc = 0, batch = 32, done = 0;
  double sum = 0;
  call_begin(h);
  for (int i = 0; !rc && i < d->n_held; i += batch) {
    if (*h->stop) break;
    int k = d->n_held - i < batch ? d->n_held - i : batch;
    gm_tensor *x = NULL;
    double v = 0;
    gm_tape_reset(d->dev);
    rc = gm_tensor_create(&x, d->dev, GM_F32, 4, GM_SHAPE(k, 3, d->size, d->size), &err);
    if (!rc) rc = gm_dataset_batch(d->ds, d->held_idx + i, k, NULL, GM_PIXELS_RAW, x, &err);
    if (!rc && (rc = vt->nll(model, x, &no, &rng, &v, &err)))
      gm_error_prefix(&err, "model '%s' nll", m->name);
    if (!rc && !isfinite(v))
      rc = gm_error_set(&err, GM_ENUMERIC, "model '%s' nll: %g bits/dim on held-out images %d..%d",
                        m->name, v, i, i + k - 1);
    gm_tensor_destroy(x);
    if (!rc) {
      sum += v * k;
      done += k;
    }
    if (h->units_progress) h->units_progress(h->ctx, done, d->n_held);
  }
  call_end(h);
  gm_tape_reset(d->dev);
  gm_grad_enable(d->dev, was);
  m->eval.seconds = gm_cli_now() - t0;
  m->eval_images = done;
  if (rc) {
    fail_phase(&m->eval, &err, "evaluation");
    return 0;
  }
  m->bits_per_dim = done ? sum / done : NAN;
  if (done < d->n_held) {
    m->eval.status = GM_CMP_STOPPED;
    snprintf(m->eval.note, sizeof m->eval.note, "stopped after %d of %d held-out images", done,
             d->n_held);
  } else {
    m->eval.status = GM_CMP_DONE;
  }
  return 0;
}

/* ---- sampler costs ---- */

/* The reference sampler's cost on a batch of n, the way `genmoji bench models` times it
 * (gm_bench_sample): runs stopped after a few of its units, a line through their times
 * and through the evaluations the sampler counted, evaluated at the whole run. */
static int probe(const gm_cmp_data *d, gm_cmp_model *m, gm_model *model, const char *sampler,
                 int n, gm_bench_sample_result *r, gm_error *err) {
  gm_sample_options so = {.n = n, .sampler = sampler};
  int was = gm_grad_enable(d->dev, 0);
  int rc = gm_bench_sample(d->dev, m->vt, model, &so, PROBE_SECONDS, r, err);
  gm_tape_reset(d->dev);
  gm_grad_enable(d->dev, was);
  if (rc) gm_error_prefix(err, "model '%s' sampler '%s'", m->name, sampler);
  return rc;
}

static void describe_reference(const gm_cmp_options *o, gm_cmp_cost *c,
                               const gm_bench_sample_result *r, const char *unit, int fit) {
  char limit[32], total[32];
  gm_cli_duration(o->timing_limit_s, limit, sizeof limit);
  gm_cli_duration(c->estimate_seconds_per_image * c->n, total, sizeof total);
  if (fit) {
    snprintf(c->method, sizeof c->method,
             "ran: %d images in one call (estimated at %s, within --timing-limit %s)", c->n, total,
             limit);
    return;
  }
  snprintf(c->method, sizeof c->method,
           "extrapolated, not run: runs on a batch of %d stopped after %lld and %lld of its %lld "
           "%ss took %.4g and %.4g s; the line through them, %.4g s per %s, gives about %s for "
           "the whole run, over --timing-limit %s",
           c->n, (long long)r->units_a, (long long)r->units_b, (long long)r->total_units,
           unit, r->seconds_a, r->seconds_b, r->seconds_per_unit, unit, total, limit);
}

int gm_cmp_costs(const gm_cmp_options *o, const gm_cmp_data *d, gm_cmp_model *m,
                 const gm_cmp_hooks *h) {
  if (!trained(m, &m->costs)) return 0;
  const gm_sampler_info *fast = gm_cmp_fast(m), *ref = gm_cmp_reference(m);
  gm_error err = {0};
  double t0 = gm_cli_now();
  gm_model *model = ready_model(m, &err);
  int b = o->timing_n, rc = model ? 0 : -1;
  uint8_t *fast_img = NULL, *ref_img = NULL;
  gm_cmp_cost *f = &m->cost[0], *s = &m->cost[1];
  memset(m->cost, 0, sizeof m->cost);
  m->n_costs = 0;
  double seconds = 0, evals = 0;
  /* the fast sampler (the metadata's, else the default one), always run */
  snprintf(f->sampler, sizeof f->sampler, "%s",
           fast ? fast->name : m->info.default_sampler ? m->info.default_sampler : "default");
  f->n = b;
  f->steps = fast ? fast->steps : 0;
  f->identical = -1;
  if (!rc) rc = draw(o, d, m, model, f->sampler, b, &fast_img, &seconds, &evals, h, &err);
  if (!rc) {
    f->seconds_per_image = f->estimate_seconds_per_image = seconds / b;
    f->evaluations_per_image = f->estimate_evaluations_per_image = evals;
    f->measured = 1;
    snprintf(f->method, sizeof f->method, "ran: %d images in one call", b);
    m->n_costs = 1;
  }
  /* the reference sampler: estimated, then run when the estimate fits the limit */
  if (!rc && ref && !*h->stop) {
    gm_bench_sample_result pr;
    snprintf(s->sampler, sizeof s->sampler, "%s", ref->name);
    s->n = b;
    s->steps = ref->steps;
    s->identical = -1;
    call_begin(h);
    rc = probe(d, m, model, ref->name, b, &pr, &err);
    call_end(h);
    if (!rc && !*h->stop) {
      s->estimate_seconds_per_image = pr.seconds_per_image;
      /* what the plugin declares a full run counts, else the sampler's own count
       * extrapolated along the same line as the time */
      s->estimate_evaluations_per_image = ref->passes > 0 ? ref->passes : pr.evaluations_per_image;
      int fit = s->estimate_seconds_per_image * b <= o->timing_limit_s;
      if (fit) {
        rc = draw(o, d, m, model, s->sampler, b, &ref_img, &seconds, &evals, h, &err);
        if (!rc) {
          s->seconds_per_image = seconds / b;
          s->evaluations_per_image = evals;
          s->measured = 1;
          s->identical = memcmp(fast_img, ref_img, d->len * (size_t)b) == 0;
        }
      } else {
        s->seconds_per_image = s->estimate_seconds_per_image;
        s->evaluations_per_image = pr.evaluations_per_image;
      }
      describe_reference(o, s, &pr, ref->unit ? ref->unit : "unit", fit);
      if (!rc) m->n_costs = 2;
    }
  }
  free(fast_img);
  free(ref_img);
  m->costs.seconds = gm_cli_now() - t0;
  if (rc) {
    fail_phase(&m->costs, &err, "sampler costs");
    return 0;
  }
  if (ref && m->n_costs < 2) {
    m->costs.status = GM_CMP_STOPPED;
    snprintf(m->costs.note, sizeof m->costs.note, "stopped before the %s sampler", ref->name);
  } else {
    m->costs.status = GM_CMP_DONE;
    if (!ref)
      snprintf(m->costs.note, sizeof m->costs.note,
               "the model declares no reference sampler; only its fast one was timed");
  }
  return 0;
}
