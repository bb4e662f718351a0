/* The job of `genmoji compare`: the phase table (train every model, then sample, evaluate
 * and time each), the progress label and the whole job's ETA on stderr, the report
 * rewritten after every phase, and SIGINT, SIGTERM and SIGHUP turned into a clean stop
 * that leaves a report of what finished. This is the only file that knows about
 * progress: the phases get hooks (gm_cmp_hooks) that land here. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compare.h"

/* Phases run kind by kind: every model trains, then every model samples, and so on, so
 * that each model's numbers are made on a device in the same state. */
gm_cmp_kind gm_cmp_phase_kind(const gm_cmp_job *j, int k) {
  return (gm_cmp_kind)(k / j->n_models);
}

gm_cmp_model *gm_cmp_phase_model(const gm_cmp_job *j, int k) {
  return &j->model[k % j->n_models];
}

static const char *const KIND_NAMES[] = {"training", "sampling", "evaluating",
                                         "timing samplers of"};

int gm_cmp_job_failed(const gm_cmp_job *j) {
  for (int i = 0; i < j->n_models; i++) {
    const gm_cmp_model *m = &j->model[i];
    if (m->train.status == GM_CMP_FAILED || m->sample.status == GM_CMP_FAILED ||
        m->eval.status == GM_CMP_FAILED || m->costs.status == GM_CMP_FAILED)
      return 1;
  }
  return 0;
}

/* ---- the job's ETA ---- */

/* Training images per second of model m: measured, or live while it trains; 0 unknown. */
static double model_ips(const gm_cmp_model *m) {
  return m->tr.images_per_s > 0 ? m->tr.images_per_s : m->ips_live;
}

/* Seconds per image of sampler `name` of m: measured by an earlier phase when it ran
 * there, else its declared passes at `pass` seconds each; -1 when nothing tells. */
static double sampler_seconds(const gm_cmp_model *m, const char *name, double pass) {
  if (m->sample.status == GM_CMP_DONE && strcmp(m->sampler, name) == 0 && m->n > 0)
    return m->sample_seconds / m->n;
  const gm_sampler_info *s = gm_model_info_sampler(&m->info, name, GM_SAMPLER_OTHER);
  return s && s->passes > 0 ? s->passes * pass : -1;
}

/* A phase's expected seconds, or -1 when nothing tells yet. Work after training is counted
 * in full-image network passes at a third of a training image's time (forward only). */
static double estimate(const gm_cmp_job *j, int k) {
  const gm_cmp_options *o = j->o;
  const gm_cmp_model *m = gm_cmp_phase_model(j, k);
  double ips = model_ips(m);
  gm_cmp_kind kind = gm_cmp_phase_kind(j, k);
  if (kind == GM_CMP_TRAIN) return o->steps > 0 ? -1 : o->time_s;
  if (!(ips > 0)) return -1;
  double pass = 1 / (3 * ips), b = o->timing_n;
  const gm_sampler_info *fast = gm_cmp_fast(m), *ref = gm_cmp_reference(m);
  switch (kind) {
  case GM_CMP_SAMPLE: {
    double s = m->info.default_sampler ? sampler_seconds(m, m->info.default_sampler, pass) : -1;
    return s < 0 ? -1 : o->n * s;
  }
  case GM_CMP_EVAL:
    if (!m->vt->nll || j->d->n_held == 0) return 0;
    if (m->info.likelihood != GM_LIKELIHOOD_BOUND) return j->d->n_held * pass;
    /* a bound: one pass per level drawn, or per level of the reference sampler's run */
    if (o->t_samples) return j->d->n_held * (o->t_samples + 2) * pass;
    return ref && ref->passes > 0 ? j->d->n_held * (ref->passes + 1) * pass : -1;
  default: {
    double f = fast ? sampler_seconds(m, fast->name, pass) : -1;
    if (f < 0) return -1;
    if (!ref) return b * f;
    double r = ref->passes > 0 ? b * ref->passes * pass : o->timing_limit_s;
    return b * f + 4 * b * pass + (r < o->timing_limit_s ? r : o->timing_limit_s);
  }
  }
}

/* "[3/8 sampling pixelcnn | job ~12m left]": the phase's own remaining time comes from
 * its progress where it has one (phase_left >= 0), else from its estimate. */
static void update_label(gm_cmp_job *j, double phase_left) {
  gm_cmp_progress *p = &j->progress;
  int k = p->phase, unknown = 0;
  double left = 0;
  if (phase_left < 0) {
    double e = estimate(j, k), spent = gm_cli_now() - p->phase_start;
    if (e < 0) unknown = 1;
    else left += e > spent ? e - spent : 0;
  } else {
    left += phase_left;
  }
  for (int i = k + 1; i < j->n_phases; i++) {
    double e = estimate(j, i);
    if (e < 0) unknown = 1;
    else left += e;
  }
  char eta[32];
  snprintf(p->label, sizeof p->label, "[%d/%d %s %s | job ~%s%s left]", k + 1, j->n_phases,
           KIND_NAMES[gm_cmp_phase_kind(j, k)], gm_cmp_phase_model(j, k)->name,
           gm_cli_duration(left, eta, sizeof eta), unknown ? "+" : "");
}

/* ---- the hooks the phases call ---- */

static void on_call_begin(void *ctx) {
  gm_cmp_job *j = ctx;
  gm_cmp_progress *p = &j->progress;
  gm_cli_progress_init(&p->bar, p->label, j->o->quiet);
  p->sync_every = 1;
  p->sync_done = 0;
  p->sync_time = p->unit_start = gm_cli_now();
  update_label(j, -1);
}

static void on_call_end(void *ctx) {
  gm_cmp_job *j = ctx;
  gm_cli_progress_end(&j->progress.bar);
}

static void on_train_progress(void *ctx, const gm_train_progress *tp) {
  gm_cmp_job *j = ctx;
  gm_cmp_model *m = gm_cmp_phase_model(j, j->progress.phase);
  m->recent[m->losses++ % GM_CMP_RECENT] = tp->loss;
  m->ips_live = tp->images_per_s;
  double done = tp->fraction - tp->session_fraction;
  update_label(j, done > 0 ? tp->session_s * (1 - tp->fraction) / done : -1);
  gm_cli_progress_train(&j->progress.bar, tp);
}

static void on_units_progress(void *ctx, int64_t done, int64_t total) {
  gm_cmp_job *j = ctx;
  gm_cmp_progress *p = &j->progress;
  /* Samplers report a unit once its work is queued, so the host runs ahead of the device.
   * Waiting for the device every few units keeps the bar and the ETA on what has been
   * computed; the stride is set so that the waits come about four times a second, few
   * enough not to starve the queue and disturb the timing. A failure shows in the
   * sampler's own next call. */
  if (done > p->sync_done && (done - p->sync_done >= p->sync_every || done >= total)) {
    gm_error err = {0};
    gm_device_finish(j->d->dev, &err);
    double now = gm_cli_now(), per_unit = (now - p->sync_time) / (double)(done - p->sync_done);
    p->sync_every = per_unit > 0 ? (int64_t)ceil(0.25 / per_unit) : 1;
    if (p->sync_every < 1) p->sync_every = 1;
    p->sync_done = done;
    p->sync_time = now;
  }
  double f = total > 0 ? (double)done / (double)total : 0, spent = gm_cli_now() - p->unit_start;
  int own = gm_cmp_phase_kind(j, p->phase) != GM_CMP_COSTS && f > 0;
  if (done <= 1) p->unit_start = gm_cli_now();
  update_label(j, own ? spent * (1 - f) / f : -1);
  gm_cli_progress_units(&p->bar, done, total);
}

/* ---- signals ---- */

static volatile sig_atomic_t stop_flag;
static volatile sig_atomic_t saving_flag; /* a trainer is writing a checkpoint */

/* The first signal stops after the current unit of work; SIGHUP counts as SIGTERM. A
 * second one ends the process at once, unless a checkpoint is being written: then it
 * is let be, and the save finishes. */
static void on_signal(int sig) {
  static const char msg[] =
      "\ngenmoji: compare: stopping after the current training step, batch or sampler call; "
      "the report keeps what finished (signal again to quit at once)\n";
  if (stop_flag) {
    if (saving_flag) return;
    signal(sig, SIG_DFL);
    raise(sig);
    return;
  }
  stop_flag = sig == SIGHUP ? SIGTERM : sig;
  if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0) stop_flag = sig == SIGHUP ? SIGTERM : sig;
}

static const int SIGNALS[] = {SIGINT, SIGTERM, SIGHUP};
#define N_SIGNALS ((int)(sizeof SIGNALS / sizeof SIGNALS[0]))

static void catch_signals(struct sigaction *old) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESTART; /* a signal during a save does not fail its writes */
  sigemptyset(&sa.sa_mask);
  stop_flag = saving_flag = 0;
  for (int i = 0; i < N_SIGNALS; i++) sigaction(SIGNALS[i], &sa, &old[i]);
}

static void restore_signals(const struct sigaction *old) {
  for (int i = 0; i < N_SIGNALS; i++) sigaction(SIGNALS[i], &old[i], NULL);
}

/* ---- the phases in order ---- */

static void announce(gm_cmp_job *j, int k) {
  const gm_cmp_options *o = j->o;
  if (o->quiet) return;
  char what[400] = "", eta[32];
  const gm_cmp_model *m = gm_cmp_phase_model(j, k);
  const gm_sampler_info *fast = gm_cmp_fast(m), *ref = gm_cmp_reference(m);
  switch (gm_cmp_phase_kind(j, k)) {
  case GM_CMP_TRAIN:
    if (o->steps > 0) snprintf(what, sizeof what, "%lld steps", o->steps);
    else snprintf(what, sizeof what, "%s", gm_cli_duration(o->time_s, eta, sizeof eta));
    snprintf(what + strlen(what), sizeof what - strlen(what), ", preset %s, into %s",
             m->opts.preset->name, m->dir);
    break;
  case GM_CMP_SAMPLE:
    snprintf(what, sizeof what, "%d images, default sampler %s, seed %llu", o->n,
             m->info.default_sampler ? m->info.default_sampler : "", o->seed);
    break;
  case GM_CMP_EVAL:
    snprintf(what, sizeof what, "%d held-out images%s", j->d->n_held,
             m->info.likelihood == GM_LIKELIHOOD_BOUND ? ", bound" : "");
    break;
  default:
    snprintf(what, sizeof what, "%s%s%s on %d images",
             fast ? fast->name : m->info.default_sampler ? m->info.default_sampler : "",
             ref ? " and " : "", ref ? ref->name : "", o->timing_n);
  }
  update_label(j, -1);
  fprintf(stderr, "compare: %s: %s\n", j->progress.label, what);
  fflush(stderr);
}

/* Runs phase k; returns non-zero only for a failure that ends the job. */
static int run_phase(gm_cmp_job *j, int k) {
  gm_cmp_model *m = gm_cmp_phase_model(j, k);
  gm_cmp_kind kind = gm_cmp_phase_kind(j, k);
  gm_cmp_progress *p = &j->progress;
  p->phase = k;
  p->phase_start = p->unit_start = gm_cli_now();
  announce(j, k);
  on_call_begin(j);
  gm_cmp_hooks h = {.ctx = j,
                    .call_begin = on_call_begin,
                    .call_end = on_call_end,
                    .train_progress = on_train_progress,
                    .units_progress = on_units_progress,
                    .stop = &stop_flag,
                    .saving = &saving_flag};
  gm_error err = {0};
  int rc;
  switch (kind) {
  case GM_CMP_TRAIN: rc = gm_cmp_train(j->o, j->d, m, &h); break;
  case GM_CMP_SAMPLE:
    rc = gm_cmp_sample(j->o, j->d, m, &h);
    if (!rc && m->sample.status == GM_CMP_DONE) {
      if (gm_cmp_metrics_samples(j->d, j->o, m)) return gm_cli_fail("out of memory");
      if (gm_cmp_write_model_grids(j->d, m, &err)) return gm_cli_fail_err(&err);
    }
    break;
  case GM_CMP_EVAL: rc = gm_cmp_eval(j->o, j->d, m, &h); break;
  default: rc = gm_cmp_costs(j->o, j->d, m, &h);
  }
  if (kind == GM_CMP_TRAIN && m->train.status == GM_CMP_DONE && !j->o->quiet)
    fprintf(stderr, "compare: %s trained: %lld steps, %.1f images/s, loss %.4f\n", m->name,
            (long long)m->tr.step, m->tr.images_per_s, gm_cmp_final_loss(m, NULL));
  const gm_cmp_phase *ps[] = {&m->train, &m->sample, &m->eval, &m->costs};
  if (ps[kind]->status == GM_CMP_FAILED)
    gm_cli_fail("compare: %s %s failed: %s", KIND_NAMES[kind], m->name, ps[kind]->note);
  return rc;
}

int gm_cmp_job_run(gm_cmp_job *j) {
  gm_error err = {0};
  j->n_phases = 4 * j->n_models;
  j->phase = 0;
  if (gm_cmp_write_train_grid(j->o, j->d, &err) || gm_cmp_write_report(j, &err))
    return gm_cli_fail_err(&err);
  if (!j->o->quiet)
    fprintf(stderr, "compare: %d training and %d held-out images on %s; report in %s\n",
            j->d->n_train, j->d->n_held, j->d->device_desc, j->o->out);
  struct sigaction old[N_SIGNALS];
  catch_signals(old);
  int code = 0, k = 0;
  for (; k < j->n_phases && !code; k++) {
    if (stop_flag) break;
    j->phase = k;
    code = run_phase(j, k);
    if (stop_flag) {
      j->stop_signal = stop_flag;
      snprintf(j->stopped_in, sizeof j->stopped_in, "%s %s", KIND_NAMES[gm_cmp_phase_kind(j, k)],
               gm_cmp_phase_model(j, k)->title);
    }
    if (gm_cmp_write_report(j, &err) && !code) code = gm_cli_fail_err(&err);
  }
  j->phase = k;
  if (!code && gm_cmp_write_report(j, &err)) code = gm_cli_fail_err(&err);
  restore_signals(old);
  return code;
}
