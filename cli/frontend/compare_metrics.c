/* The host side of `genmoji compare`'s numbers: baselines and the training set's own
 * statistics, each model's sample metrics (colour, novelty, diversity) through the
 * engine's metrics.h, and metrics.json, which holds every number the report shows. All
 * image metrics compare images at the models' 16 levels (v >> 4, shown as q * 17). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compare.h"

static double median(const double *v, int n) {
  if (n <= 0) return NAN;
  int *order = malloc(sizeof *order * (size_t)n);
  if (!order) return NAN;
  gm_metrics_argsort(v, n, order);
  double m = n % 2 ? v[order[n / 2]] : 0.5 * (v[order[n / 2 - 1]] + v[order[n / 2]]);
  free(order);
  return m;
}

void gm_cli_cmp_metrics_data(gm_cli_cmp_job *j) {
  const uint8_t **held = malloc(sizeof *held * (size_t)(j->n_held + 1));
  double *loo = malloc(sizeof *loo * (size_t)(j->n_train + 1));
  int *loo_idx = malloc(sizeof *loo_idx * (size_t)(j->n_train + 1));
  j->uniform_bpd = 4.0; /* log2 of 16 levels */
  j->histogram_bpd = j->train_diversity = j->train_loo_min = j->train_loo_median = NAN;
  for (int c = 0; c < 3; c++) j->train_mean[c] = j->train_std[c] = NAN;
  if (!held || !loo || !loo_idx) goto done;
  for (int i = 0; i < j->n_held; i++) held[i] = gm_dataset_get(j->ds, j->held_idx[i])->rgb;
  j->histogram_bpd = gm_metrics_histogram_bpd(j->train_rgb, j->n_train, held, j->n_held, j->len);
  gm_colour_stats *cs = malloc(sizeof *cs);
  if (cs) {
    gm_colour_stats_compute(cs, j->train_qp, j->n_train, j->len, j->data.ds.background,
                            GM_CLI_CMP_BG_LEVELS);
    memcpy(j->colour_hist_train, cs->hist, sizeof j->colour_hist_train);
    memcpy(j->train_mean, cs->mean, sizeof j->train_mean);
    memcpy(j->train_std, cs->std, sizeof j->train_std);
    j->train_foreground = cs->total ? (double)cs->pixels / (double)cs->total : NAN;
    free(cs);
  }
  j->train_diversity = gm_metrics_mean_pairwise(j->train_qp, j->n_train, j->len);
  gm_metrics_nearest(j->train_qp, j->n_train, j->train_qp, j->n_train, j->len, 1, loo, loo_idx);
  j->train_loo_median = median(loo, j->n_train);
  j->train_loo_min = NAN;
  for (int i = 0; i < j->n_train; i++)
    if (isfinite(loo[i]) && !(loo[i] >= j->train_loo_min)) j->train_loo_min = loo[i];
done:
  free(held);
  free(loo);
  free(loo_idx);
}

void gm_cli_cmp_metrics_free(gm_cli_cmp_sample_metrics *s) {
  free(s->nearest);
  free(s->nearest_idx);
  s->nearest = NULL;
  s->nearest_idx = NULL;
  s->valid = 0;
}

int gm_cli_cmp_metrics_samples(gm_cli_cmp_job *j, gm_cli_cmp_model *m) {
  gm_cli_cmp_sample_metrics *s = &m->metrics;
  gm_cli_cmp_metrics_free(s);
  int n = m->n;
  if (n <= 0 || !m->samples) return 0;
  uint8_t *q = malloc(j->len * (size_t)n);
  const uint8_t **qp = malloc(sizeof *qp * (size_t)n);
  gm_colour_stats *cs = malloc(sizeof *cs);
  int *order = malloc(sizeof *order * (size_t)n);
  s->nearest = malloc(sizeof *s->nearest * (size_t)n);
  s->nearest_idx = malloc(sizeof *s->nearest_idx * (size_t)n);
  int rc = 0;
  if (!q || !qp || !cs || !order || !s->nearest || !s->nearest_idx) {
    rc = GM_ENOMEM;
    gm_cli_cmp_metrics_free(s);
    goto done;
  }
  gm_metrics_quantize16(q, m->samples, j->len * (size_t)n);
  for (int i = 0; i < n; i++) qp[i] = q + j->len * (size_t)i;
  gm_colour_stats_compute(cs, qp, n, j->len, j->data.ds.background, GM_CLI_CMP_BG_LEVELS);
  s->js_bits = gm_metrics_js_bits(cs->hist, j->colour_hist_train, GM_COLOUR_BINS);
  s->tv = gm_metrics_tv(cs->hist, j->colour_hist_train, GM_COLOUR_BINS);
  memcpy(s->mean, cs->mean, sizeof s->mean);
  memcpy(s->std, cs->std, sizeof s->std);
  s->foreground = cs->total ? (double)cs->pixels / (double)cs->total : NAN;
  gm_metrics_nearest(qp, n, j->train_qp, j->n_train, j->len, 0, s->nearest, s->nearest_idx);
  double sum = 0;
  s->nearest_min = NAN;
  for (int i = 0; i < n; i++) {
    sum += s->nearest[i];
    if (!(s->nearest[i] >= s->nearest_min)) s->nearest_min = s->nearest[i];
  }
  s->nearest_mean = sum / n;
  s->nearest_median = median(s->nearest, n);
  s->near_copy_share = gm_metrics_share_below(s->nearest, n, GM_CLI_CMP_NEAR_COPY_RMS);
  s->diversity = gm_metrics_mean_pairwise(qp, n, j->len);
  gm_metrics_argsort(s->nearest, n, order);
  s->n_pairs = n < GM_CLI_CMP_PAIRS ? n : GM_CLI_CMP_PAIRS;
  if (j->n_train == 0) s->n_pairs = 0;
  for (int i = 0; i < s->n_pairs; i++) s->pairs[i] = order[i];
  s->valid = 1;
done:
  free(q);
  free(qp);
  free(cs);
  free(order);
  return rc;
}

double gm_cli_cmp_final_loss(const gm_cli_cmp_model *m, int *k) {
  int64_t n = (m->losses + 9) / 10;
  if (n > GM_CLI_CMP_RECENT) n = GM_CLI_CMP_RECENT;
  if (n > m->losses) n = m->losses;
  if (k) *k = (int)n;
  if (n == 0) return NAN;
  double s = 0;
  for (int64_t i = m->losses - n; i < m->losses; i++) s += m->recent[i % GM_CLI_CMP_RECENT];
  return s / (double)n;
}

/* ---- metrics.json ---- */

const char *gm_cli_cmp_status_name(gm_cli_cmp_status s) {
  switch (s) {
  case GM_CLI_CMP_DONE: return "done";
  case GM_CLI_CMP_STOPPED: return "stopped";
  case GM_CLI_CMP_FAILED: return "failed";
  case GM_CLI_CMP_SKIPPED: return "skipped";
  default: return "not run";
  }
}

/* A number, or null when it is not finite (JSON has no NaN). */
static void num(cJSON *o, const char *key, double v) {
  if (isfinite(v)) cJSON_AddNumberToObject(o, key, v);
  else cJSON_AddNullToObject(o, key);
}

static cJSON *triple(const double *v) {
  cJSON *a = cJSON_CreateArray();
  for (int c = 0; c < 3; c++)
    cJSON_AddItemToArray(a, isfinite(v[c]) ? cJSON_CreateNumber(v[c]) : cJSON_CreateNull());
  return a;
}

static cJSON *phase(cJSON *parent, const char *key, const gm_cli_cmp_phase *p) {
  cJSON *o = cJSON_AddObjectToObject(parent, key);
  cJSON_AddStringToObject(o, "status", gm_cli_cmp_status_name(p->status));
  if (p->note[0]) cJSON_AddStringToObject(o, "note", p->note);
  num(o, "seconds", p->seconds);
  return o;
}

static cJSON *kv_object(const gm_kv *kv, int n) {
  cJSON *o = cJSON_CreateObject();
  for (int i = 0; i < n; i++) cJSON_AddStringToObject(o, kv[i].key, kv[i].value);
  return o;
}

static void training_json(cJSON *mo, const gm_cli_cmp_model *m) {
  cJSON *t = phase(mo, "training", &m->train);
  if (m->train.status != GM_CLI_CMP_DONE && m->train.status != GM_CLI_CMP_STOPPED) return;
  cJSON_AddNumberToObject(t, "steps", (double)m->tr.step);
  cJSON_AddNumberToObject(t, "epochs", (double)m->tr.epoch);
  cJSON_AddNumberToObject(t, "images_seen", (double)m->tr.images_seen);
  num(t, "images_per_s", m->tr.images_per_s);
  num(t, "loss", m->tr.loss);
  int k = 0;
  num(t, "loss_smoothed", gm_cli_cmp_final_loss(m, &k));
  cJSON_AddNumberToObject(t, "loss_smoothed_steps", k);
  cJSON_AddStringToObject(t, "loss_unit", gm_cli_cmp_loss_unit(m));
  num(t, "wall_s", m->tr.wall_s);
  char path[4400];
  snprintf(path, sizeof path, "%s/last.safetensors", m->spec->name);
  cJSON_AddStringToObject(t, "checkpoint", path);
  snprintf(path, sizeof path, "%s/metrics.jsonl", m->spec->name);
  cJSON_AddStringToObject(t, "metrics", path);
}

static void sampling_json(cJSON *mo, const gm_cli_cmp_job *j, const gm_cli_cmp_model *m) {
  cJSON *s = phase(mo, "sampling", &m->sample);
  if (m->sample.status != GM_CLI_CMP_DONE) return;
  cJSON_AddStringToObject(s, "sampler", m->sampler);
  cJSON_AddNumberToObject(s, "n", m->n);
  cJSON_AddNumberToObject(s, "seed", (double)j->seed);
  cJSON_AddBoolToObject(s, "ema_weights", m->ema_in);
  num(s, "seconds_per_image", m->sample_seconds / m->n);
  num(s, "evaluations_per_image", m->evaluations_per_image);
  char path[4400];
  snprintf(path, sizeof path, "%s/samples.png", m->spec->name);
  cJSON_AddStringToObject(s, "grid", path);
}

static void likelihood_json(cJSON *mo, const gm_cli_cmp_model *m) {
  cJSON *l = phase(mo, "likelihood", &m->eval);
  cJSON_AddStringToObject(l, "kind", m->spec->likelihood);
  cJSON_AddStringToObject(l, "split", "heldout");
  if (m->eval.status != GM_CLI_CMP_DONE && m->eval.status != GM_CLI_CMP_STOPPED) return;
  num(l, "bits_per_dim", m->bits_per_dim);
  cJSON_AddNumberToObject(l, "images", m->eval_images);
  cJSON_AddNumberToObject(l, "t_samples", m->t_samples);
}

static void costs_json(cJSON *mo, const gm_cli_cmp_job *j, const gm_cli_cmp_model *m) {
  cJSON *c = phase(mo, "sampler_costs", &m->costs);
  cJSON_AddNumberToObject(c, "batch", j->timing_n);
  cJSON *list = cJSON_AddArrayToObject(c, "samplers");
  for (int i = 0; i < m->n_costs; i++) {
    const gm_cli_cmp_cost *k = &m->cost[i];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "sampler", k->sampler);
    cJSON_AddNumberToObject(o, "n", k->n);
    if (k->steps) cJSON_AddNumberToObject(o, "steps", k->steps);
    num(o, "seconds_per_image", k->seconds_per_image);
    num(o, "evaluations_per_image", k->evaluations_per_image);
    cJSON_AddBoolToObject(o, "measured", k->measured);
    num(o, "estimate_seconds_per_image", k->estimate_seconds_per_image);
    num(o, "estimate_evaluations_per_image", k->estimate_evaluations_per_image);
    if (k->identical >= 0) cJSON_AddBoolToObject(o, "identical_to_first", k->identical);
    cJSON_AddStringToObject(o, "method", k->method);
    cJSON_AddItemToArray(list, o);
  }
  if (m->n_costs == 2 && m->cost[0].seconds_per_image > 0)
    num(c, "slow_over_fast", m->cost[1].seconds_per_image / m->cost[0].seconds_per_image);
}

static void sample_metrics_json(cJSON *mo, const gm_cli_cmp_job *j, const gm_cli_cmp_model *m) {
  const gm_cli_cmp_sample_metrics *s = &m->metrics;
  if (!s->valid) return;
  cJSON *c = cJSON_AddObjectToObject(mo, "colour");
  num(c, "js_bits", s->js_bits);
  num(c, "tv", s->tv);
  cJSON_AddItemToObject(c, "mean", triple(s->mean));
  cJSON_AddItemToObject(c, "std", triple(s->std));
  num(c, "foreground", s->foreground);
  cJSON *nv = cJSON_AddObjectToObject(mo, "novelty");
  num(nv, "nearest_mean", s->nearest_mean);
  num(nv, "nearest_median", s->nearest_median);
  num(nv, "nearest_min", s->nearest_min);
  num(nv, "near_copy_share", s->near_copy_share);
  cJSON_AddNumberToObject(nv, "near_copy_rms", GM_CLI_CMP_NEAR_COPY_RMS);
  cJSON *near = cJSON_AddArrayToObject(nv, "nearest");
  cJSON *names = cJSON_AddArrayToObject(nv, "nearest_name");
  for (int i = 0; i < m->n; i++) {
    cJSON_AddItemToArray(
        near, isfinite(s->nearest[i]) ? cJSON_CreateNumber(s->nearest[i]) : cJSON_CreateNull());
    int t = s->nearest_idx[i];
    cJSON_AddItemToArray(
        names, cJSON_CreateString(t >= 0 ? gm_dataset_get(j->ds, j->train_idx[t])->name : ""));
  }
  cJSON *pairs = cJSON_AddArrayToObject(nv, "pairs");
  for (int i = 0; i < s->n_pairs; i++) {
    int k = s->pairs[i], t = s->nearest_idx[k];
    cJSON *p = cJSON_CreateObject();
    cJSON_AddNumberToObject(p, "sample", k);
    cJSON_AddStringToObject(p, "train", t >= 0 ? gm_dataset_get(j->ds, j->train_idx[t])->name : "");
    num(p, "distance", s->nearest[k]);
    cJSON_AddItemToArray(pairs, p);
  }
  char path[4400];
  snprintf(path, sizeof path, "%s/nearest.png", m->spec->name);
  cJSON_AddStringToObject(nv, "grid", path);
  cJSON *d = cJSON_AddObjectToObject(mo, "diversity");
  num(d, "mean_pairwise", s->diversity);
  num(d, "training_set", j->train_diversity);
}

static cJSON *model_json(const gm_cli_cmp_job *j, const gm_cli_cmp_model *m) {
  cJSON *mo = cJSON_CreateObject();
  cJSON_AddStringToObject(mo, "title", m->spec->title);
  if (m->opts.preset) cJSON_AddStringToObject(mo, "preset", m->opts.preset->name);
  cJSON_AddItemToObject(mo, "options", kv_object(m->opts.model, m->opts.n_model));
  cJSON_AddItemToObject(mo, "train_keys", kv_object(m->opts.train, m->opts.n_train));
  if (m->parameters) cJSON_AddNumberToObject(mo, "parameters", (double)m->parameters);
  cJSON_AddBoolToObject(mo, "ema", m->has_ema);
  training_json(mo, m);
  sampling_json(mo, j, m);
  likelihood_json(mo, m);
  costs_json(mo, j, m);
  sample_metrics_json(mo, j, m);
  return mo;
}

static void device_json(cJSON *root, const gm_cli_cmp_job *j) {
  if (!j->dev) return;
  const gm_device_info *d = gm_device_get_info(j->dev);
  cJSON *o = cJSON_AddObjectToObject(root, "device");
  gm_cli_device_fields(o, d);
  cJSON_AddStringToObject(o, "driver", d->driver_version);  /* metrics.json's first name */
}

static void data_json(cJSON *root, const gm_cli_cmp_job *j) {
  cJSON *d = j->data_desc ? cJSON_Parse(j->data_desc) : NULL;
  if (!d) d = cJSON_CreateObject();
  cJSON_AddNumberToObject(d, "images", j->ds ? gm_dataset_count(j->ds) : 0);
  cJSON_AddNumberToObject(d, "train_images", j->n_train);
  cJSON_AddNumberToObject(d, "heldout_images", j->n_held);
  cJSON *names = cJSON_AddArrayToObject(d, "heldout_names");
  for (int i = 0; i < j->n_held; i++)
    cJSON_AddItemToArray(names, cJSON_CreateString(gm_dataset_get(j->ds, j->held_idx[i])->name));
  cJSON_AddItemToObject(root, "data", d);
}

static void settings_json(cJSON *root, const gm_cli_cmp_job *j) {
  cJSON *s = cJSON_AddObjectToObject(root, "settings");
  cJSON_AddNumberToObject(s, "seed", (double)j->seed);
  num(s, "time_s_per_model", j->steps > 0 ? NAN : j->time_s);
  if (j->steps > 0) cJSON_AddNumberToObject(s, "steps_per_model", (double)j->steps);
  else cJSON_AddNullToObject(s, "steps_per_model");
  cJSON_AddNumberToObject(s, "n_samples", j->n);
  cJSON_AddNumberToObject(s, "t_samples", j->t_samples);
  cJSON_AddNumberToObject(s, "timing_n", j->timing_n);
  cJSON_AddNumberToObject(s, "timing_limit_s", j->timing_limit_s);
  cJSON_AddStringToObject(s, "levels", "16 per channel: q = v >> 4, shown as q * 17");
  cJSON_AddNumberToObject(s, "background_levels", GM_CLI_CMP_BG_LEVELS);
  cJSON_AddNumberToObject(s, "near_copy_rms", GM_CLI_CMP_NEAR_COPY_RMS);
  cJSON_AddStringToObject(s, "colour_distance",
                          "Jensen-Shannon divergence in bits (js_bits) "
                          "and total variation (tv) of the joint 16x16x16 RGB histograms");
  cJSON_AddStringToObject(s, "distance", "RMS per subpixel on the 0..255 scale, at 16 levels");
}

cJSON *gm_cli_cmp_metrics_json(const gm_cli_cmp_job *j) {
  cJSON *root = cJSON_CreateObject();
  if (!root) return NULL;
  int failed = 0;
  for (int i = 0; i < GM_CLI_CMP_MODELS; i++) {
    const gm_cli_cmp_model *m = &j->model[i];
    const gm_cli_cmp_phase *ps[] = {&m->train, &m->sample, &m->eval, &m->costs};
    for (int k = 0; k < 4; k++) failed |= ps[k]->status == GM_CLI_CMP_FAILED;
  }
  cJSON_AddStringToObject(root, "format", "genmoji-compare-1");
  cJSON_AddStringToObject(root, "status",
                          j->stopped_in[0]          ? "stopped"
                          : failed                  ? "failed"
                          : j->phase >= j->n_phases ? "complete"
                                                    : "running");
  if (j->stopped_in[0]) cJSON_AddStringToObject(root, "stopped_in", j->stopped_in);
  cJSON_AddStringToObject(root, "genmoji_version", GM_CLI_VERSION);
  cJSON_AddStringToObject(root, "libgenmoji_version", gm_version());
  char buf[8192];
  cJSON_AddStringToObject(root, "command", gm_cli_cmp_command(j, buf, sizeof buf));
  cJSON_AddStringToObject(root, "full_command", gm_cli_cmp_full_command(j, buf, sizeof buf));
  cJSON_AddStringToObject(root, "started", j->started);
  num(root, "wall_s", gm_cli_cmp_now() - j->t0);
  device_json(root, j);
  data_json(root, j);
  settings_json(root, j);
  cJSON *b = cJSON_AddObjectToObject(root, "baselines");
  num(b, "uniform_bits_per_dim", j->uniform_bpd);
  num(b, "histogram_bits_per_dim", j->histogram_bpd);
  cJSON *t = cJSON_AddObjectToObject(root, "training_set");
  cJSON_AddNumberToObject(t, "images", j->n_train);
  cJSON *c = cJSON_AddObjectToObject(t, "colour");
  cJSON_AddItemToObject(c, "mean", triple(j->train_mean));
  cJSON_AddItemToObject(c, "std", triple(j->train_std));
  num(c, "foreground", j->train_foreground);
  num(t, "diversity", j->train_diversity);
  num(t, "nearest_other_min", j->train_loo_min);
  num(t, "nearest_other_median", j->train_loo_median);
  cJSON *models = cJSON_AddObjectToObject(root, "models");
  for (int i = 0; i < GM_CLI_CMP_MODELS; i++)
    cJSON_AddItemToObject(models, j->model[i].spec->name, model_json(j, &j->model[i]));
  return root;
}

/* ---- command lines ---- */

/* Appends s to buf, single-quoted when it holds anything but [A-Za-z0-9_./=:,+-]. */
static void append_arg(char *buf, size_t n, const char *s) {
  size_t used = strlen(buf);
  int plain = *s != '\0';
  for (const char *p = s; *p; p++)
    if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./=:,+-", *p))
      plain = 0;
  if (used + 1 < n && used > 0) buf[used++] = ' ';
  if (plain) {
    snprintf(buf + used, n - used, "%s", s);
    return;
  }
  if (used + 1 < n) buf[used++] = '\'';
  for (const char *p = s; *p && used + 5 < n; p++) {
    if (*p == '\'') {
      memcpy(buf + used, "'\\''", 4);
      used += 4;
    } else {
      buf[used++] = *p;
    }
  }
  if (used + 1 < n) buf[used++] = '\'';
  buf[used < n ? used : n - 1] = '\0';
}

const char *gm_cli_cmp_command(const gm_cli_cmp_job *j, char *buf, size_t n) {
  snprintf(buf, n, "genmoji");
  for (int i = 0; i < j->argc; i++) append_arg(buf, n, j->argv[i]);
  return buf;
}

static void append_pair(char *buf, size_t n, const char *flag, const char *value) {
  append_arg(buf, n, flag);
  if (value) append_arg(buf, n, value);
}

const char *gm_cli_cmp_full_command(const gm_cli_cmp_job *j, char *buf, size_t n) {
  char v[64];
  const gm_dataset_options *o = &j->data.ds;
  snprintf(buf, n, "genmoji compare");
  append_pair(buf, n, "--data", j->data.data);
  if (j->data.vendor) append_pair(buf, n, "--vendor", j->data.vendor);
  if (j->data.skip_bad) append_pair(buf, n, "--skip-bad", NULL);
  if (o->subset) append_pair(buf, n, "--subset", o->subset);
  if (o->yellow) append_pair(buf, n, "--yellow", NULL);
  if (o->match) append_pair(buf, n, "--match", o->match);
  if (o->limit) {
    snprintf(v, sizeof v, "%d", o->limit);
    append_pair(buf, n, "--limit", v);
  }
  snprintf(v, sizeof v, "%d", o->size);
  append_pair(buf, n, "--size", v);
  snprintf(v, sizeof v, "%02x%02x%02x", o->background[0], o->background[1], o->background[2]);
  append_pair(buf, n, "--background", v);
  snprintf(v, sizeof v, "%g", o->heldout);
  append_pair(buf, n, "--heldout", v);
  if (j->steps > 0) {
    snprintf(v, sizeof v, "%lld", j->steps);
    append_pair(buf, n, "--steps", v);
  } else {
    snprintf(v, sizeof v, "%gs", j->time_s);
    append_pair(buf, n, "--time", v);
  }
  for (int i = 0; i < GM_CLI_CMP_MODELS; i++) {
    const gm_cli_cmp_model *m = &j->model[i];
    char flag[64];
    snprintf(flag, sizeof flag, "--preset-%s", m->spec->name);
    if (m->opts.preset) append_pair(buf, n, flag, m->opts.preset->name);
    snprintf(flag, sizeof flag, "--set-%s", m->spec->name);
    for (int k = 0; k < m->n_sets; k++) append_pair(buf, n, flag, m->sets[k]);
  }
  snprintf(v, sizeof v, "%d", j->n);
  append_pair(buf, n, "--n", v);
  snprintf(v, sizeof v, "%llu", j->seed);
  append_pair(buf, n, "--seed", v);
  snprintf(v, sizeof v, "%d", j->t_samples);
  append_pair(buf, n, "--t-samples", v);
  snprintf(v, sizeof v, "%d", j->timing_n);
  append_pair(buf, n, "--timing-n", v);
  snprintf(v, sizeof v, "%gs", j->timing_limit_s);
  append_pair(buf, n, "--timing-limit", v);
  if (j->device) append_pair(buf, n, "--device", j->device);
  return buf;
}
