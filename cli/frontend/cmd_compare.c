/* `genmoji compare`, the main job: both models on the same data and device for the same
 * budget, then samples, likelihoods, sampler costs and a report (compare.h has the map).
 * This file parses the options, sets the job up, runs the phases in order with the job's
 * progress and ETA on stderr, rewrites the report after every phase, and turns Ctrl-C or
 * SIGTERM into a clean stop that leaves a report of what finished. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "compare.h"
#include "modelopts.h"

enum {
  OPT_TIME = 0x3000,
  OPT_STEPS,
  OPT_PRESET_PIXELCNN,
  OPT_PRESET_DDPM,
  OPT_SET_PIXELCNN,
  OPT_SET_DDPM,
  OPT_N,
  OPT_SEED,
  OPT_OUT,
  OPT_T_SAMPLES,
  OPT_TIMING_N,
  OPT_TIMING_LIMIT,
  OPT_JSON,
  OPT_QUIET
};

static const char usage[] =
    "Usage: genmoji compare [--data SRC] [FILTERS] [--time 5m | --steps N] [--n 64] [--seed S]\n"
    "                       [--out DIR] [--preset-pixelcnn P] [--preset-ddpm P]\n"
    "                       [--set-pixelcnn KEY=VALUE]... [--set-ddpm KEY=VALUE]... [--json]\n"
    "\n"
    "The study in one command: trains a PixelCNN, then a DDPM, on the same data and device\n"
    "for the same budget each; samples both with their default samplers from a fixed seed;\n"
    "scores both on the held-out split in bits/dim; times each model's two samplers; and\n"
    "writes a report to DIR: index.html and report.md, metrics.json (every number), the\n"
    "image grids and loss.svg beside them, and each model's checkpoints and metrics.jsonl\n"
    "in DIR/pixelcnn and DIR/ddpm. The report is rewritten after every phase. Ctrl-C or\n"
    "SIGTERM ends the phase in progress cleanly (training saves its checkpoint; a sampler\n"
    "call runs to its end) and leaves a report of what finished; a second one quits at once.\n"
    "\n" GM_CLI_DATAOPTS_HELP
    "                           without --data: noto --subset faces --yellow, the\n"
    "                           system's yellow emoji faces\n"
    "\n"
    "Models:\n"
    "      --preset-pixelcnn P  the PixelCNN's preset (default: its first, gated; seed is\n"
    "                           the study's network)\n"
    "      --preset-ddpm P      the DDPM's preset (default: its first, unet; seed is the\n"
    "                           study's U-Net)\n"
    "      --set-pixelcnn KEY=VALUE  a PixelCNN option or training key (repeatable; see\n"
    "                           'genmoji train --model pixelcnn --help')\n"
    "      --set-ddpm KEY=VALUE a DDPM option or training key (repeatable)\n" GM_CLI_DEVICE_HELP
    "\n"
    "Budget and samples:\n"
    "      --time T             training time per model: 90s, 5m, 1h30m (default 5m)\n"
    "      --steps N            train each model for N optimiser steps instead, 1..2^40\n"
    "      --n N                samples per model, 1..4096 and at most 2^31-1 values\n"
    "                           (n x 3 x size x size) (default 64)\n"
    "      --seed S             initialisation, data order, noise and the samplers' draws,\n"
    "                           0..2^63-1 (default 0)\n"
    "      --out DIR            the report folder, new or empty (default\n"
    "                           runs/compare-YYYYmmdd-HHMMSS)\n"
    "\n"
    "Measurement:\n"
    "      --t-samples K        the DDPM's likelihood bound: 0 sums every noise level (the\n"
    "                           default; about a minute on a 2-core CPU), K > 0 estimates\n"
    "                           the sum from K levels drawn per image (faster, noisy);\n"
    "                           0..1048576\n"
    "      --timing-n N         images per batch when timing the samplers, 1..256\n"
    "                           (default 2)\n"
    "      --timing-limit T     run a reference sampler (PixelCNN naive, DDPM ancestral)\n"
    "                           only when its estimated time fits T, else extrapolate it\n"
    "                           and say so (default 60s)\n"
    "\n"
    "Output:\n"
    "      --json               print metrics.json on stdout at the end\n"
    "      --quiet              no progress on stderr\n"
    "  -h, --help               show this help\n";

/* ---- options ---- */

typedef struct cmd_state {
  gm_cli_cmp_job j;
  const char **sets[GM_CLI_CMP_MODELS];
  int n_sets[GM_CLI_CMP_MODELS];
  int budgets, help;
  char size_set[GM_CLI_CMP_MODELS][64];
} cmd_state;

static int add_set(cmd_state *s, int model, const char *arg, const char *cmd) {
  if (!strchr(arg, '=') || arg[0] == '=')
    return gm_cli_usage(cmd, "--set-%s: \"%s\" is not KEY=VALUE", gm_cli_cmp_specs[model].name,
                        arg);
  const char **grown = realloc(s->sets[model], sizeof *grown * (size_t)(s->n_sets[model] + 2));
  if (!grown) return gm_cli_fail("out of memory");
  s->sets[model] = grown;
  grown[s->n_sets[model]++] = arg;
  return 0;
}

/* Returns 1 handled, 0 not ours, or 10 + an exit code after a message. */
static int handle(cmd_state *s, int c, const char *arg, const char *cmd) {
  gm_cli_cmp_job *j = &s->j;
  long long v;
  switch (c) {
  case OPT_TIME:
    if (gm_cli_parse_duration(arg, 0, &j->time_s))
      return 10 + gm_cli_usage(cmd, "--time: \"%s\" is not a duration (90s, 5m, 1h30m)", arg);
    s->budgets++;
    return 1;
  case OPT_STEPS:
    if (gm_cli_parse_long(arg, 1, 1LL << 40, &j->steps))
      return 10 + gm_cli_usage(cmd, "--steps: \"%s\" is not an integer in 1..2^40", arg);
    s->budgets++;
    return 1;
  case OPT_PRESET_PIXELCNN: j->model[0].preset = arg; return 1;
  case OPT_PRESET_DDPM: j->model[1].preset = arg; return 1;
  case OPT_SET_PIXELCNN:
  case OPT_SET_DDPM: {
    int r = add_set(s, c == OPT_SET_DDPM, arg, cmd);
    return r ? 10 + r : 1;
  }
  case OPT_N:
    if (gm_cli_parse_long(arg, 1, 4096, &v))
      return 10 + gm_cli_usage(cmd, "--n: \"%s\" is not an integer in 1..4096", arg);
    j->n = (int)v;
    return 1;
  case OPT_SEED:
    if (gm_cli_parse_long(arg, 0, INT64_MAX, &v))
      return 10 + gm_cli_usage(cmd, "--seed: \"%s\" is not an integer in 0..2^63-1", arg);
    j->seed = (unsigned long long)v;
    return 1;
  case OPT_OUT: j->out = arg; return 1;
  case OPT_T_SAMPLES:
    if (gm_cli_parse_long(arg, 0, 1 << 20, &v))
      return 10 + gm_cli_usage(cmd, "--t-samples: \"%s\" is not an integer in 0..1048576", arg);
    j->t_samples = (int)v;
    return 1;
  case OPT_TIMING_N:
    if (gm_cli_parse_long(arg, 1, 256, &v))
      return 10 + gm_cli_usage(cmd, "--timing-n: \"%s\" is not an integer in 1..256", arg);
    j->timing_n = (int)v;
    return 1;
  case OPT_TIMING_LIMIT:
    if (gm_cli_parse_duration(arg, 1, &j->timing_limit_s))
      return 10 + gm_cli_usage(cmd, "--timing-limit: \"%s\" is not a duration (0, 30s, 2m)", arg);
    return 1;
  case OPT_JSON: j->json = 1; return 1;
  case OPT_QUIET: j->quiet = 1; return 1;
  case 'h': s->help = 1; return 1;
  default: return 0;
  }
}

/* ---- progress and the job's ETA ---- */

typedef enum { PH_TRAIN, PH_SAMPLE, PH_EVAL, PH_COSTS } phase_kind;
static const struct {
  phase_kind kind;
  int model;
} PHASES[] = {{PH_TRAIN, 0}, {PH_TRAIN, 1}, {PH_SAMPLE, 0}, {PH_SAMPLE, 1},
              {PH_EVAL, 0},  {PH_EVAL, 1},  {PH_COSTS, 0},  {PH_COSTS, 1}};
#define N_PHASES ((int)(sizeof PHASES / sizeof PHASES[0]))
static const char *const KIND_NAMES[] = {"training", "sampling", "evaluating",
                                         "timing samplers of"};

double gm_cli_cmp_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Training images per second of model i: measured, or live while it trains; 0 unknown. */
static double model_ips(const gm_cli_cmp_job *j, int i) {
  const gm_cli_cmp_model *m = &j->model[i];
  return m->tr.images_per_s > 0 ? m->tr.images_per_s : m->ips_live;
}

/* A phase's expected seconds, or -1 when nothing tells yet. Work after training is counted
 * in full-image network passes at a third of a training image's time (forward only). */
static double estimate(const gm_cli_cmp_job *j, int k) {
  const gm_cli_cmp_model *m = &j->model[PHASES[k].model];
  double ips = model_ips(j, PHASES[k].model);
  if (PHASES[k].kind == PH_TRAIN) return j->steps > 0 ? -1 : j->time_s;
  if (!(ips > 0)) return -1;
  double pass = 1 / (3 * ips), b = j->timing_n;
  switch (PHASES[k].kind) {
  case PH_SAMPLE: return j->n * gm_cli_cmp_guess_passes(m, 1) * pass;
  case PH_EVAL:
    if (!m->vt->nll) return 0;
    if (strcmp(m->spec->likelihood, "bound") != 0) return j->n_held * pass;
    return j->n_held *
           (j->t_samples ? j->t_samples + 2 : gm_cli_cmp_guess_slow_passes(m, j->size) + 1) * pass;
  default: {
    double slow = b * gm_cli_cmp_guess_slow_passes(m, j->size) * pass;
    return b * gm_cli_cmp_guess_passes(m, 0) * pass + 4 * b * pass +
           (slow < j->timing_limit_s ? slow : j->timing_limit_s);
  }
  }
}

/* "[3/8 sampling pixelcnn | job ~12m left]": the phase's own remaining time comes from
 * its progress where it has one (phase_left >= 0), else from its estimate. */
static void update_label(gm_cli_cmp_job *j, double phase_left) {
  int k = j->phase, unknown = 0;
  double left = 0;
  if (phase_left < 0) {
    double e = estimate(j, k), spent = gm_cli_cmp_now() - j->phase_start;
    if (e < 0) unknown = 1;
    else left += e > spent ? e - spent : 0;
  } else {
    left += phase_left;
  }
  for (int i = k + 1; i < N_PHASES; i++) {
    double e = estimate(j, i);
    if (e < 0) unknown = 1;
    else left += e;
  }
  char eta[32];
  snprintf(j->label, sizeof j->label, "[%d/%d %s %s | job ~%s%s left]", k + 1, N_PHASES,
           KIND_NAMES[PHASES[k].kind], j->model[PHASES[k].model].spec->name,
           gm_cli_duration(left, eta, sizeof eta), unknown ? "+" : "");
}

void gm_cli_cmp_bar_reset(gm_cli_cmp_job *j) {
  gm_cli_progress_init(&j->bar, j->label, j->quiet);
  j->sync_every = 1;
  j->sync_done = 0;
  j->sync_time = gm_cli_cmp_now();
  update_label(j, -1);
}

void gm_cli_cmp_progress_train(void *ctx, const gm_train_progress *p) {
  gm_cli_cmp_job *j = ctx;
  gm_cli_cmp_model *m = j->current;
  m->recent[m->losses++ % GM_CLI_CMP_RECENT] = p->loss;
  m->ips_live = p->images_per_s;
  double done = p->fraction - p->session_fraction;
  update_label(j, done > 0 ? p->session_s * (1 - p->fraction) / done : -1);
  gm_cli_progress_train(&j->bar, p);
}

void gm_cli_cmp_progress_units(void *ctx, int64_t done, int64_t total) {
  gm_cli_cmp_job *j = ctx;
  /* Samplers report a unit once its work is queued, so the host runs ahead of the device.
   * Waiting for the device every few units keeps the bar and the ETA on what has been
   * computed; the stride is set so that the waits come about four times a second, few
   * enough not to starve the queue and disturb the timing. A failure shows in the
   * sampler's own next call. */
  if (done > j->sync_done && (done - j->sync_done >= j->sync_every || done >= total)) {
    gm_error err = {0};
    gm_device_finish(j->dev, &err);
    double now = gm_cli_cmp_now(), per_unit = (now - j->sync_time) / (double)(done - j->sync_done);
    j->sync_every = per_unit > 0 ? (int64_t)ceil(0.25 / per_unit) : 1;
    if (j->sync_every < 1) j->sync_every = 1;
    j->sync_done = done;
    j->sync_time = now;
  }
  double f = total > 0 ? (double)done / (double)total : 0, spent = gm_cli_cmp_now() - j->unit_start;
  int own = PHASES[j->phase].kind != PH_COSTS && f > 0;
  if (done <= 1) j->unit_start = gm_cli_cmp_now();
  update_label(j, own ? spent * (1 - f) / f : -1);
  gm_cli_progress_units(&j->bar, done, total);
}

/* ---- signals ---- */

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig) {
  static const char msg[] =
      "\ngenmoji: compare: stopping after the current training step, batch or sampler call; "
      "the report keeps what finished (signal again to quit at once)\n";
  stop_flag = sig;
  if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0) stop_flag = sig;
}

static void catch_signals(struct sigaction *old_int, struct sigaction *old_term) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESETHAND; /* the second one of a kind ends the process */
  sigemptyset(&sa.sa_mask);
  stop_flag = 0;
  sigaction(SIGINT, &sa, old_int);
  sigaction(SIGTERM, &sa, old_term);
}

/* ---- set-up ---- */

/* The models' plugins and options: the image size first (when the model takes one), then
 * the user's --set values. Returns an exit code, 0 when all is well. */
static int resolve_models(cmd_state *s, gm_host *host, const char *cmd) {
  gm_cli_cmp_job *j = &s->j;
  gm_error err = {0};
  for (int i = 0; i < GM_CLI_CMP_MODELS; i++) {
    gm_cli_cmp_model *m = &j->model[i];
    m->spec = &gm_cli_cmp_specs[i];
    if (gm_cli_find_model(host, m->spec->name, &m->rec, &err))
      return gm_cli_fail("compare needs the model plugin '%s': %s", m->spec->name, err.msg);
    m->vt = m->rec->vtable;
    const char **sets = malloc(sizeof *sets * (size_t)(s->n_sets[i] + 2));
    if (!sets) return gm_cli_fail("out of memory");
    int n = 0;
    for (const gm_model_option *o = m->vt->options; o && o->name; o++)
      if (j->data.ds.size != 32 && (!strcmp(o->name, "size") || !strcmp(o->name, "image_size"))) {
        snprintf(s->size_set[i], sizeof s->size_set[i], "%s=%d", o->name, j->data.ds.size);
        sets[n++] = s->size_set[i];
        break;
      }
    for (int k = 0; k < s->n_sets[i]; k++) sets[n++] = s->sets[i][k];
    m->sets = sets;
    m->n_sets = n;
    if (gm_model_options_resolve(m->vt, m->preset, sets, n, &m->opts, &err))
      return gm_cli_usage(cmd, "%s: %s", m->spec->name, err.msg);
  }
  return 0;
}

static int dir_is_empty(const char *path) {
  DIR *d = opendir(path);
  if (!d) return errno == ENOENT;
  struct dirent *e;
  int empty = 1;
  while (empty && (e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) empty = 0;
  closedir(d);
  return empty;
}

static int make_out(gm_cli_cmp_job *j, char *buf, size_t n) {
  gm_error err = {0};
  time_t now = time(NULL);
  struct tm tm;
  localtime_r(&now, &tm);
  strftime(j->started, sizeof j->started, "%Y-%m-%d %H:%M:%S %z", &tm);
  if (!j->out) {
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    snprintf(buf, n, "runs/compare-%s", stamp);
    j->out = buf;
  }
  if (!dir_is_empty(j->out))
    return gm_cli_fail("compare: %s already exists and is not empty; give a new --out", j->out);
  if (gm_cli_make_dirs(j->out, &err)) return gm_cli_fail_err(&err);
  for (int i = 0; i < GM_CLI_CMP_MODELS; i++) {
    gm_cli_cmp_model *m = &j->model[i];
    snprintf(m->dir, sizeof m->dir, "%s/%s", j->out, m->spec->name);
    if (gm_cli_make_dirs(m->dir, &err)) return gm_cli_fail_err(&err);
  }
  return 0;
}

static int load_data(gm_cli_cmp_job *j, gm_host *host) {
  gm_error err = {0};
  if (gm_cli_dataopts_load(&j->data, host, &j->ds, &j->loader, &err)) return gm_cli_fail_err(&err);
  j->data_desc = gm_cli_dataopts_describe(&j->data, j->loader->name);
  j->size = gm_dataset_size(j->ds);
  j->len = 3 * (size_t)j->size * (size_t)j->size;
  int total = gm_dataset_count(j->ds);
  j->train_idx = malloc(sizeof *j->train_idx * (size_t)(total + 1));
  j->held_idx = malloc(sizeof *j->held_idx * (size_t)(total + 1));
  j->train_rgb = malloc(sizeof *j->train_rgb * (size_t)(total + 1));
  j->train_qp = malloc(sizeof *j->train_qp * (size_t)(total + 1));
  j->train_q = malloc(j->len * (size_t)(total + 1));
  if (!j->train_idx || !j->held_idx || !j->train_rgb || !j->train_qp || !j->train_q ||
      !j->data_desc)
    return gm_cli_fail("out of memory");
  j->n_train = gm_dataset_split(j->ds, 0, j->train_idx, total);
  j->n_held = gm_dataset_split(j->ds, 1, j->held_idx, total);
  if (j->n_train == 0)
    return gm_cli_fail(
        "compare: no training images in %s (%d images after the filters, all "
        "held out)",
        j->data.data, total);
  for (int i = 0; i < j->n_train; i++) {
    j->train_rgb[i] = gm_dataset_get(j->ds, j->train_idx[i])->rgb;
    gm_metrics_quantize16(j->train_q + j->len * (size_t)i, j->train_rgb[i], j->len);
    j->train_qp[i] = j->train_q + j->len * (size_t)i;
  }
  return 0;
}

static void describe_device(gm_cli_cmp_job *j) {
  const gm_device_info *d = gm_device_get_info(j->dev);
  char mem[32];
  snprintf(j->device_desc, sizeof j->device_desc, "%s (%s, %s; %s, %u compute units, %s)", d->name,
           d->vendor, d->version, gm_device_type_name(d->type), d->compute_units,
           gm_cli_bytes(d->global_mem_bytes, mem, sizeof mem));
}

/* ---- the phases ---- */

static void phase_name(const gm_cli_cmp_job *j, int k, char *buf, size_t n) {
  snprintf(buf, n, "%s %s", KIND_NAMES[PHASES[k].kind], j->model[PHASES[k].model].spec->title);
}

static void announce(gm_cli_cmp_job *j, int k) {
  if (j->quiet) return;
  char what[256] = "", eta[32];
  const gm_cli_cmp_model *m = &j->model[PHASES[k].model];
  switch (PHASES[k].kind) {
  case PH_TRAIN:
    if (j->steps > 0) snprintf(what, sizeof what, "%lld steps", j->steps);
    else snprintf(what, sizeof what, "%s", gm_cli_duration(j->time_s, eta, sizeof eta));
    snprintf(what + strlen(what), sizeof what - strlen(what), ", preset %s, into %s",
             m->opts.preset->name, m->dir);
    break;
  case PH_SAMPLE:
    snprintf(what, sizeof what, "%d images, default sampler, seed %llu", j->n, j->seed);
    break;
  case PH_EVAL:
    snprintf(what, sizeof what, "%d held-out images%s", j->n_held,
             strcmp(m->spec->likelihood, "bound") == 0 ? ", bound" : "");
    break;
  default:
    snprintf(what, sizeof what, "%s and %s on %d images", m->spec->fast, m->spec->slow,
             j->timing_n);
  }
  update_label(j, -1);
  fprintf(stderr, "compare: %s: %s\n", j->label, what);
  fflush(stderr);
}

/* Runs phase k; returns non-zero only for a failure that ends the job. */
static int run_phase(gm_cli_cmp_job *j, int k) {
  gm_cli_cmp_model *m = &j->model[PHASES[k].model];
  j->phase = k;
  j->current = m;
  j->phase_start = j->unit_start = gm_cli_cmp_now();
  announce(j, k);
  gm_cli_cmp_bar_reset(j);
  gm_error err = {0};
  int rc;
  switch (PHASES[k].kind) {
  case PH_TRAIN: rc = gm_cli_cmp_train(j, m); break;
  case PH_SAMPLE:
    rc = gm_cli_cmp_sample(j, m);
    if (!rc && m->sample.status == GM_CLI_CMP_DONE) {
      if (gm_cli_cmp_metrics_samples(j, m)) return gm_cli_fail("out of memory");
      if (gm_cli_cmp_write_model_grids(j, m, &err)) return gm_cli_fail_err(&err);
    }
    break;
  case PH_EVAL: rc = gm_cli_cmp_eval(j, m); break;
  default: rc = gm_cli_cmp_costs(j, m);
  }
  if (PHASES[k].kind == PH_TRAIN && m->train.status == GM_CLI_CMP_DONE && !j->quiet)
    fprintf(stderr, "compare: %s trained: %lld steps, %.1f images/s, loss %.4f\n", m->spec->name,
            (long long)m->tr.step, m->tr.images_per_s, gm_cli_cmp_final_loss(m, NULL));
  const gm_cli_cmp_phase *ps[] = {&m->train, &m->sample, &m->eval, &m->costs};
  if (ps[PHASES[k].kind]->status == GM_CLI_CMP_FAILED)
    gm_cli_fail("compare: %s %s failed: %s", KIND_NAMES[PHASES[k].kind], m->spec->name,
                ps[PHASES[k].kind]->note);
  return rc;
}

static void print_summary(const gm_cli_cmp_job *j) {
  char a[2][64];
  printf("report: %s/index.html (report.md and metrics.json beside it)\n", j->out);
  printf("%-34s %-22s %-22s\n", "", j->model[0].spec->title, j->model[1].spec->title);
  for (int i = 0; i < GM_CLI_CMP_MODELS; i++) {
    const gm_cli_cmp_model *m = &j->model[i];
    if (m->eval.status == GM_CLI_CMP_DONE)
      snprintf(a[i], sizeof a[i], "%.4f (%s)", m->bits_per_dim, m->spec->likelihood);
    else snprintf(a[i], sizeof a[i], "(%s)", gm_cli_cmp_status_name(m->eval.status));
  }
  printf("%-34s %-22s %-22s uniform %.2f, histogram %.4f\n", "held-out bits/dim", a[0], a[1],
         j->uniform_bpd, j->histogram_bpd);
  for (int i = 0; i < GM_CLI_CMP_MODELS; i++)
    snprintf(a[i], sizeof a[i], "%lld (%.2f img/s)", (long long)j->model[i].tr.step,
             j->model[i].tr.images_per_s);
  printf("%-34s %-22s %-22s\n", "training steps", a[0], a[1]);
  for (int i = 0; i < GM_CLI_CMP_MODELS; i++) {
    const gm_cli_cmp_model *m = &j->model[i];
    if (m->sample.status == GM_CLI_CMP_DONE)
      snprintf(a[i], sizeof a[i], "%.3g (%.4g evals)", m->sample_seconds / m->n,
               m->evaluations_per_image);
    else snprintf(a[i], sizeof a[i], "(%s)", gm_cli_cmp_status_name(m->sample.status));
  }
  printf("%-34s %-22s %-22s\n", "seconds per sample", a[0], a[1]);
  for (int i = 0; i < GM_CLI_CMP_MODELS; i++) {
    const gm_cli_cmp_sample_metrics *s = &j->model[i].metrics;
    snprintf(a[i], sizeof a[i], s->valid ? "%.4f" : "n/a", s->js_bits);
  }
  printf("%-34s %-22s %-22s\n", "colour JS divergence (bits)", a[0], a[1]);
  for (int i = 0; i < GM_CLI_CMP_MODELS; i++) {
    const gm_cli_cmp_sample_metrics *s = &j->model[i].metrics;
    snprintf(a[i], sizeof a[i], s->valid ? "%.1f%%" : "n/a", 100 * s->near_copy_share);
  }
  printf("%-34s %-22s %-22s\n", "near copies", a[0], a[1]);
  for (int i = 0; i < GM_CLI_CMP_MODELS; i++) {
    const gm_cli_cmp_sample_metrics *s = &j->model[i].metrics;
    snprintf(a[i], sizeof a[i], s->valid ? "%.1f" : "n/a", s->diversity);
  }
  printf("%-34s %-22s %-22s training set %.1f\n", "diversity (mean pairwise RMS)", a[0], a[1],
         j->train_diversity);
}

static int run_job(cmd_state *s, gm_host *host) {
  gm_cli_cmp_job *j = &s->j;
  gm_error err = {0};
  char out[64];
  int code = make_out(j, out, sizeof out);
  if (code) return code;
  if (gm_device_create(&j->dev, j->device, &err)) return gm_cli_fail_err(&err);
  describe_device(j);
  if ((code = load_data(j, host))) return code;
  gm_cli_cmp_metrics_data(j);
  j->n_phases = N_PHASES;
  j->stop = &stop_flag;
  if (gm_cli_cmp_write_train_grid(j, &err) || gm_cli_cmp_write_report(j, &err))
    return gm_cli_fail_err(&err);
  if (!j->quiet)
    fprintf(stderr, "compare: %d training and %d held-out images on %s; report in %s\n", j->n_train,
            j->n_held, j->device_desc, j->out);
  struct sigaction old_int, old_term;
  catch_signals(&old_int, &old_term);
  int k = 0;
  for (; k < N_PHASES && !code; k++) {
    if (stop_flag) break;
    code = run_phase(j, k);
    if (stop_flag) {
      j->stop_signal = stop_flag;
      phase_name(j, k, j->stopped_in, sizeof j->stopped_in);
    }
    if (gm_cli_cmp_write_report(j, &err) && !code) code = gm_cli_fail_err(&err);
  }
  j->phase = k;
  if (!code && gm_cli_cmp_write_report(j, &err)) code = gm_cli_fail_err(&err);
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  if (code) return code;
  int failed = 0;
  for (int i = 0; i < GM_CLI_CMP_MODELS; i++) {
    const gm_cli_cmp_model *m = &j->model[i];
    failed |= m->train.status == GM_CLI_CMP_FAILED || m->sample.status == GM_CLI_CMP_FAILED ||
              m->eval.status == GM_CLI_CMP_FAILED || m->costs.status == GM_CLI_CMP_FAILED;
  }
  if (j->stopped_in[0])
    gm_cli_fail("compare: stopped by %s during %s; the report in %s shows what finished",
                j->stop_signal == SIGTERM ? "SIGTERM" : "SIGINT", j->stopped_in, j->out);
  if (j->json) {
    code = gm_cli_print_json(gm_cli_cmp_metrics_json(j));
  } else {
    print_summary(j);
  }
  return failed ? GM_CLI_FAIL : code;
}

static void free_job(cmd_state *s) {
  gm_cli_cmp_job *j = &s->j;
  for (int i = 0; i < GM_CLI_CMP_MODELS; i++) {
    gm_cli_cmp_model *m = &j->model[i];
    if (m->trainer) gm_trainer_destroy(m->trainer);
    free(m->samples);
    gm_cli_cmp_metrics_free(&m->metrics);
    gm_model_options_free(&m->opts);
    free(m->sets);
    free(s->sets[i]);
  }
  free(j->train_idx);
  free(j->held_idx);
  free(j->train_rgb);
  free(j->train_qp);
  free(j->train_q);
  cJSON_free(j->data_desc);
  gm_dataset_destroy(j->ds);
  if (j->dev) {
    gm_tape_reset(j->dev);
    gm_device_destroy(j->dev);
  }
}

int gm_cli_cmd_compare(int argc, char **argv, gm_host *host) {
  static const struct option longopts[] = {
      GM_CLI_DATAOPTS_LONGOPTS,
      {"device", required_argument, NULL, GM_CLI_OPT_DEVICE},
      {"time", required_argument, NULL, OPT_TIME},
      {"steps", required_argument, NULL, OPT_STEPS},
      {"preset-pixelcnn", required_argument, NULL, OPT_PRESET_PIXELCNN},
      {"preset-ddpm", required_argument, NULL, OPT_PRESET_DDPM},
      {"set-pixelcnn", required_argument, NULL, OPT_SET_PIXELCNN},
      {"set-ddpm", required_argument, NULL, OPT_SET_DDPM},
      {"n", required_argument, NULL, OPT_N},
      {"seed", required_argument, NULL, OPT_SEED},
      {"out", required_argument, NULL, OPT_OUT},
      {"t-samples", required_argument, NULL, OPT_T_SAMPLES},
      {"timing-n", required_argument, NULL, OPT_TIMING_N},
      {"timing-limit", required_argument, NULL, OPT_TIMING_LIMIT},
      {"json", no_argument, NULL, OPT_JSON},
      {"quiet", no_argument, NULL, OPT_QUIET},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  cmd_state *s = calloc(1, sizeof *s);
  if (!s) return gm_cli_fail("out of memory");
  gm_cli_cmp_job *j = &s->j;
  gm_cli_dataopts_init(&j->data);
  j->default_data = 1;
  j->time_s = 300;
  j->n = 64;
  j->t_samples = 0;
  j->timing_n = 2;
  j->timing_limit_s = 60;
  j->argc = argc;
  j->argv = argv;
  j->t0 = gm_cli_cmp_now();
  gm_error err = {0};
  int c, code = -1;
  while (code < 0 && (c = gm_cli_getopt(argc, argv, "h", longopts)) != -1) {
    int r = gm_cli_dataopts_handle(&j->data, c, optarg, &err);
    if (r > 0 && c == GM_CLI_OPT_DATA) j->default_data = 0;
    if (r == 0 && c == GM_CLI_OPT_DEVICE) {
      j->device = optarg;
      r = 1;
    }
    if (r < 0) code = gm_cli_usage(argv[0], "%s", err.msg);
    else if (r == 0 && (r = handle(s, c, optarg, argv[0])) == 0) code = GM_CLI_USAGE;
    else if (r >= 10) code = r - 10;
  }
  if (code < 0 && s->help) code = gm_cli_help(usage);
  if (code < 0 && gm_cli_no_operands(argc, argv)) code = GM_CLI_USAGE;
  if (code < 0 && s->budgets > 1)
    code = gm_cli_usage(argv[0], "give one budget: --time or --steps");
  if (code < 0 && j->default_data) {
    j->data.ds.subset = "faces";
    j->data.ds.yellow = 1;
  }
  if (code < 0 && gm_cli_dataopts_check(&j->data, host, &err))
    code = gm_cli_usage(argv[0], "%s", err.msg);
  if (code < 0 && gm_cli_check_images(argv[0], "--n", j->n, j->data.ds.size)) code = GM_CLI_USAGE;
  if (code < 0 && (code = resolve_models(s, host, argv[0])) == 0) code = run_job(s, host);
  free_job(s);
  free(s);
  return code;
}
