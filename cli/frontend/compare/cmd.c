/* `genmoji compare`, the main job: every listed model on the same data and device for the
 * same budget, then samples, likelihoods, sampler costs and a report (compare.h has the
 * map of this folder). This file is the command: it parses the options (options.c),
 * finds the model plugins and their metadata, makes the report folder, opens the device
 * and the data, runs the job (job.c), prints the summary and cleans up. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../commands.h"
#include "../modelopts.h"
#include "compare.h"
#include "image_metrics.h"

const char *gm_cmp_likelihood(const gm_cmp_model *m) {
  return gm_likelihood_name(m->info.likelihood);
}

const gm_sampler_info *gm_cmp_fast(const gm_cmp_model *m) {
  return gm_model_info_sampler(&m->info, NULL, GM_SAMPLER_FAST);
}

const gm_sampler_info *gm_cmp_reference(const gm_cmp_model *m) {
  return gm_model_info_sampler(&m->info, NULL, GM_SAMPLER_REFERENCE);
}

/* ---- set-up ---- */

static int resolve(gm_cmp_model *m, const char *cmd) {
  gm_error err = {0};
  gm_model_options_free(&m->opts);
  if (gm_model_options_resolve(m->vt, m->preset, m->sets, m->n_sets, &m->opts, &err))
    return gm_cli_usage(cmd, "%s: %s", m->name, err.msg);
  if (gm_model_describe(m->vt, &m->opts, &m->info, &err))
    return gm_cli_fail("compare: model '%s': %s", m->name, err.msg);
  return 0;
}

/* Each model's plugin, options and metadata. When the model has a size option (its
 * metadata says which) and the data's side differs from the size it makes, the size is
 * set first, then the user's --set values. Returns an exit code, 0 when all is well. */
static int resolve_models(const gm_cmp_options *o, gm_cmp_model *models, gm_host *host,
                          const char *cmd) {
  gm_error err = {0};
  for (int i = 0; i < o->n_models; i++) {
    gm_cmp_model *m = &models[i];
    const gm_cmp_model_options *mo = &o->model[i];
    m->name = mo->name;
    if (gm_cli_find_model(host, m->name, &m->rec, &err))
      return gm_cli_usage(cmd, "--models: %s", err.msg);
    m->vt = m->rec->vtable;
    m->preset = mo->preset;
    m->sets = malloc(sizeof *m->sets * (size_t)(mo->n_sets + 1));
    if (!m->sets) return gm_cli_fail("out of memory");
    for (int k = 0; k < mo->n_sets; k++) m->sets[k] = mo->sets[k];
    m->n_sets = mo->n_sets;
    int code = resolve(m, cmd);
    if (code) return code;
    if (m->info.size_option && m->info.image_size != o->data.ds.size) {
      snprintf(m->size_set, sizeof m->size_set, "%s=%d", m->info.size_option, o->data.ds.size);
      memmove(m->sets + 1, m->sets, sizeof *m->sets * (size_t)m->n_sets);
      m->sets[0] = m->size_set;
      m->n_sets++;
      if ((code = resolve(m, cmd))) return code;
    }
    m->title = m->info.title ? m->info.title : m->name;
    m->loss_unit = m->info.loss_unit ? m->info.loss_unit : "the model's training loss";
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

static int make_out(gm_cmp_job *j, gm_cmp_options *o, char *buf, size_t n) {
  gm_error err = {0};
  time_t now = time(NULL);
  struct tm tm;
  localtime_r(&now, &tm);
  strftime(j->started, sizeof j->started, "%Y-%m-%d %H:%M:%S %z", &tm);
  if (!o->out) {
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    snprintf(buf, n, "runs/compare-%s", stamp);
    o->out = buf;
  }
  if (!dir_is_empty(o->out))
    return gm_cli_fail("compare: %s already exists and is not empty; give a new --out", o->out);
  if (gm_cli_make_dirs(o->out, &err)) return gm_cli_fail_err(&err);
  for (int i = 0; i < j->n_models; i++) {
    gm_cmp_model *m = &j->model[i];
    snprintf(m->dir, sizeof m->dir, "%s/%s", o->out, m->name);
    if (gm_cli_make_dirs(m->dir, &err)) return gm_cli_fail_err(&err);
  }
  return 0;
}

static int load_data(gm_cmp_data *d, const gm_cmp_options *o, gm_host *host) {
  gm_error err = {0};
  if (gm_cli_dataopts_load(&o->data, host, &d->ds, &d->loader, &err)) return gm_cli_fail_err(&err);
  d->data_desc = gm_cli_dataopts_describe(&o->data, d->loader->name);
  d->size = gm_dataset_size(d->ds);
  d->len = 3 * (size_t)d->size * (size_t)d->size;
  int total = gm_dataset_count(d->ds);
  d->train_idx = malloc(sizeof *d->train_idx * (size_t)(total + 1));
  d->held_idx = malloc(sizeof *d->held_idx * (size_t)(total + 1));
  d->train_rgb = malloc(sizeof *d->train_rgb * (size_t)(total + 1));
  d->train_qp = malloc(sizeof *d->train_qp * (size_t)(total + 1));
  d->train_q = malloc(d->len * (size_t)(total + 1));
  if (!d->train_idx || !d->held_idx || !d->train_rgb || !d->train_qp || !d->train_q ||
      !d->data_desc)
    return gm_cli_fail("out of memory");
  d->n_train = gm_dataset_split(d->ds, 0, d->train_idx, total);
  d->n_held = gm_dataset_split(d->ds, 1, d->held_idx, total);
  if (d->n_train == 0)
    return gm_cli_fail("compare: no training images in %s (%d images after the filters, all "
                       "held out)",
                       o->data.data, total);
  for (int i = 0; i < d->n_train; i++) {
    d->train_rgb[i] = gm_dataset_get(d->ds, d->train_idx[i])->rgb;
    gm_metrics_quantize16(d->train_q + d->len * (size_t)i, d->train_rgb[i], d->len);
    d->train_qp[i] = d->train_q + d->len * (size_t)i;
  }
  return 0;
}

static void describe_device(gm_cmp_data *d) {
  const gm_device_info *di = gm_device_get_info(d->dev);
  char mem[32];
  snprintf(d->device_desc, sizeof d->device_desc, "%s (%s, %s; %s, %u compute units, %s)",
           di->name, di->vendor, di->version, gm_device_type_name(di->type), di->compute_units,
           gm_cli_bytes(di->global_mem_bytes, mem, sizeof mem));
}

/* ---- the summary on stdout ---- */

/* One row: a label, a cell per model, and an optional note after them. */
static void summary_row(const gm_cmp_job *j, const char *label, char cells[][64],
                        const char *note) {
  printf("%-34s", label);
  for (int i = 0; i < j->n_models; i++) {
    int width = 0; /* characters, not bytes: cells may hold a UTF-8 "±" */
    for (const char *c = cells[i]; *c; c++) width += (*c & 0xC0) != 0x80;
    printf(" %s%*s", cells[i], width < 22 ? 22 - width : 0, "");
  }
  printf("%s%s\n", note && *note ? " " : "", note ? note : "");
}

static void print_summary(const gm_cmp_job *j) {
  char a[GM_CMP_MAX_MODELS][64], note[128];
  printf("report: %s/index.html (report.md and metrics.json beside it)\n", j->o->out);
  for (int i = 0; i < j->n_models; i++) snprintf(a[i], sizeof a[i], "%s", j->model[i].title);
  summary_row(j, "", a, NULL);
  const gm_cmp_data *d = j->d;
  for (int k = 0; k < 4; k++) {
    static const char *const label[4] = {"KID x1000 (lower is better)", "Frechet distance",
                                         "precision", "recall"};
    for (int i = 0; i < j->n_models; i++) {
      const gm_cmp_sample_metrics *s = &j->model[i].metrics;
      if (!s->valid || !s->have_quality) snprintf(a[i], sizeof a[i], "n/a");
      else gm_cmp_quality_cell(a[i], sizeof a[i], &s->quality, k);
    }
    if (d->have_floor) {
      char f[64];
      gm_cmp_quality_cell(f, sizeof f, &d->floor, k);
      snprintf(note, sizeof note, "held-out %s", f);
    } else snprintf(note, sizeof note, "%s", d->featnet ? "(no floor: too few held-out images)" : "");
    summary_row(j, label[k], a, note);
  }
  if (!d->featnet) printf("(no sample-quality metrics: %s)\n", d->quality_note);
  for (int i = 0; i < j->n_models; i++) {
    const gm_cmp_model *m = &j->model[i];
    if (m->eval.status == GM_CMP_DONE)
      snprintf(a[i], sizeof a[i], "%.4f (%s)", m->bits_per_dim, gm_cmp_likelihood(m));
    else if (!m->vt->nll) snprintf(a[i], sizeof a[i], "not available");
    else snprintf(a[i], sizeof a[i], "(%s)", gm_cmp_status_name(m->eval.status));
  }
  snprintf(note, sizeof note, "uniform %.2f, histogram %.4f", j->d->uniform_bpd,
           j->d->histogram_bpd);
  summary_row(j, "held-out bits/dim", a, note);
  for (int i = 0; i < j->n_models; i++)
    snprintf(a[i], sizeof a[i], "%lld (%.2f img/s)", (long long)j->model[i].tr.step,
             j->model[i].tr.images_per_s);
  summary_row(j, "training steps", a, NULL);
  for (int i = 0; i < j->n_models; i++) {
    const gm_cmp_model *m = &j->model[i];
    if (m->sample.status == GM_CMP_DONE)
      snprintf(a[i], sizeof a[i], "%.3g (%.4g evals)", m->sample_seconds / m->n,
               m->evaluations_per_image);
    else snprintf(a[i], sizeof a[i], "(%s)", gm_cmp_status_name(m->sample.status));
  }
  summary_row(j, "seconds per sample", a, NULL);
  for (int i = 0; i < j->n_models; i++) {
    const gm_cmp_sample_metrics *s = &j->model[i].metrics;
    snprintf(a[i], sizeof a[i], s->valid ? "%.4f" : "n/a", s->js_bits);
  }
  summary_row(j, "colour JS divergence (bits)", a, NULL);
  for (int i = 0; i < j->n_models; i++) {
    const gm_cmp_sample_metrics *s = &j->model[i].metrics;
    snprintf(a[i], sizeof a[i], s->valid ? "%.1f%%" : "n/a", 100 * s->near_copy_share);
  }
  summary_row(j, "near copies", a, NULL);
  for (int i = 0; i < j->n_models; i++) {
    const gm_cmp_sample_metrics *s = &j->model[i].metrics;
    snprintf(a[i], sizeof a[i], s->valid ? "%.1f" : "n/a", s->diversity);
  }
  snprintf(note, sizeof note, "training set %.1f", j->d->train_diversity);
  summary_row(j, "diversity (mean pairwise RMS)", a, note);
}

/* ---- the command ---- */

static void free_all(gm_cmp_options *o, gm_cmp_data *d, gm_cmp_model *models, int n) {
  for (int i = 0; i < n; i++) {
    gm_cmp_model *m = &models[i];
    if (m->trainer) gm_trainer_destroy(m->trainer);
    free(m->samples);
    gm_cmp_metrics_free(&m->metrics);
    gm_model_options_free(&m->opts);
    free(m->sets);
  }
  free(d->train_idx);
  free(d->held_idx);
  free(d->train_rgb);
  free(d->train_qp);
  free(d->train_q);
  cJSON_free(d->data_desc);
  free(d->feat_train);
  featnet_destroy(d->featnet);
  gm_dataset_destroy(d->ds);
  if (d->dev) {
    gm_tape_reset(d->dev);
    gm_device_destroy(d->dev);
  }
  gm_cmp_options_free(o);
}

static int run(gm_cmp_options *o, gm_cmp_data *d, gm_cmp_model *models, gm_host *host) {
  gm_cmp_job j = {.o = o, .d = d, .model = models, .n_models = o->n_models};
  j.t0 = gm_cli_now();
  gm_error err = {0};
  char out[64];
  gm_error derr = {0};
  if (gm_cli_dataopts_check(&o->data, host, &derr)) return gm_cli_usage(o->argv[0], "%s", derr.msg);
  if (gm_cli_check_images(o->argv[0], "--n", o->n, o->data.ds.size)) return GM_CLI_USAGE;
  int code = resolve_models(o, models, host, o->argv[0]);
  if (!code && o->features && access(o->features, R_OK) != 0)
    code = gm_cli_fail("compare: --features %s: %s", o->features, strerror(errno));
  if (!code) code = make_out(&j, o, out, sizeof out);
  if (code) return code;
  if (gm_device_create(&d->dev, o->device, &err)) return gm_cli_fail_err(&err);
  describe_device(d);
  if ((code = load_data(d, o, host))) return code;
  gm_cmp_metrics_data(d, o);
  if ((code = gm_cmp_quality_data(d, o))) return code;
  if ((code = gm_cmp_job_run(&j))) return code;
  if (j.stopped_in[0])
    gm_cli_fail("compare: stopped by %s during %s; the report in %s shows what finished",
                j.stop_signal == SIGTERM  ? "SIGTERM"
                : j.stop_signal == SIGHUP ? "SIGHUP"
                                          : "SIGINT",
                j.stopped_in, o->out);
  if (o->json) code = gm_cli_print_json(gm_cmp_metrics_json(&j));
  else print_summary(&j);
  return gm_cmp_job_failed(&j) ? GM_CLI_FAIL : code;
}

int gm_cli_cmd_compare(int argc, char **argv, gm_host *host) {
  gm_cmp_options *o = calloc(1, sizeof *o);
  gm_cmp_data *d = calloc(1, sizeof *d);
  gm_cmp_model *models = calloc(GM_CMP_MAX_MODELS, sizeof *models);
  int code = !o || !d || !models ? gm_cli_fail("out of memory") : -1;
  if (code < 0) code = gm_cmp_options_parse(o, argc, argv);
  if (code < 0) code = run(o, d, models, host);
  if (o && d && models) free_all(o, d, models, o->n_models);
  free(o);
  free(d);
  free(models);
  return code;
}
