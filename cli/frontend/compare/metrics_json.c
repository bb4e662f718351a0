/* metrics.json of `genmoji compare`: every number the report shows, one object per model
 * under models.<name> (docs/results.md lists the fields). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "compare.h"

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

static cJSON *phase(cJSON *parent, const char *key, const gm_cmp_phase *p) {
  cJSON *o = cJSON_AddObjectToObject(parent, key);
  cJSON_AddStringToObject(o, "status", gm_cmp_status_name(p->status));
  if (p->note[0]) cJSON_AddStringToObject(o, "note", p->note);
  num(o, "seconds", p->seconds);
  return o;
}

static cJSON *kv_object(const gm_kv *kv, int n) {
  cJSON *o = cJSON_CreateObject();
  for (int i = 0; i < n; i++) cJSON_AddStringToObject(o, kv[i].key, kv[i].value);
  return o;
}

static void training_json(cJSON *mo, const gm_cmp_model *m) {
  cJSON *t = phase(mo, "training", &m->train);
  if (m->train.status != GM_CMP_DONE && m->train.status != GM_CMP_STOPPED) return;
  cJSON_AddNumberToObject(t, "steps", (double)m->tr.step);
  cJSON_AddNumberToObject(t, "epochs", (double)m->tr.epoch);
  cJSON_AddNumberToObject(t, "images_seen", (double)m->tr.images_seen);
  num(t, "images_per_s", m->tr.images_per_s);
  num(t, "loss", m->tr.loss);
  int k = 0;
  num(t, "loss_smoothed", gm_cmp_final_loss(m, &k));
  cJSON_AddNumberToObject(t, "loss_smoothed_steps", k);
  cJSON_AddStringToObject(t, "loss_unit", m->loss_unit);
  num(t, "wall_s", m->tr.wall_s);
  char path[4400];
  snprintf(path, sizeof path, "%s/last.safetensors", m->name);
  cJSON_AddStringToObject(t, "checkpoint", path);
  snprintf(path, sizeof path, "%s/metrics.jsonl", m->name);
  cJSON_AddStringToObject(t, "metrics", path);
}

static void sampling_json(cJSON *mo, const gm_cmp_options *o, const gm_cmp_model *m) {
  cJSON *s = phase(mo, "sampling", &m->sample);
  if (m->sample.status != GM_CMP_DONE) return;
  cJSON_AddStringToObject(s, "sampler", m->sampler);
  cJSON_AddNumberToObject(s, "n", m->n);
  cJSON_AddNumberToObject(s, "seed", (double)o->seed);
  cJSON_AddBoolToObject(s, "ema_weights", m->ema_in);
  num(s, "seconds_per_image", m->sample_seconds / m->n);
  num(s, "evaluations_per_image", m->evaluations_per_image);
  char path[4400];
  snprintf(path, sizeof path, "%s/samples.png", m->name);
  cJSON_AddStringToObject(s, "grid", path);
  cJSON_AddNumberToObject(s, "grid_upscale", GM_CMP_SAMPLE_UPSCALE);
}

static void likelihood_json(cJSON *mo, const gm_cmp_model *m) {
  cJSON *l = phase(mo, "likelihood", &m->eval);
  cJSON_AddStringToObject(l, "kind", gm_cmp_likelihood(m));
  cJSON_AddStringToObject(l, "split", "heldout");
  if (m->eval.status != GM_CMP_DONE && m->eval.status != GM_CMP_STOPPED) return;
  num(l, "bits_per_dim", m->bits_per_dim);
  cJSON_AddNumberToObject(l, "images", m->eval_images);
  cJSON_AddNumberToObject(l, "t_samples", m->t_samples);
}

static void costs_json(cJSON *mo, const gm_cmp_options *o, const gm_cmp_model *m) {
  cJSON *c = phase(mo, "sampler_costs", &m->costs);
  cJSON_AddNumberToObject(c, "batch", o->timing_n);
  if (m->costs.note[0] && m->costs.status == GM_CMP_DONE) cJSON_AddStringToObject(c, "note", m->costs.note);
  cJSON *list = cJSON_AddArrayToObject(c, "samplers");
  for (int i = 0; i < m->n_costs; i++) {
    const gm_cmp_cost *k = &m->cost[i];
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

static void sample_metrics_json(cJSON *mo, const gm_cmp_data *d, const gm_cmp_model *m) {
  const gm_cmp_sample_metrics *s = &m->metrics;
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
  cJSON_AddNumberToObject(nv, "near_copy_rms", GM_CMP_NEAR_COPY_RMS);
  cJSON *near = cJSON_AddArrayToObject(nv, "nearest");
  cJSON *names = cJSON_AddArrayToObject(nv, "nearest_name");
  for (int i = 0; i < m->n; i++) {
    cJSON_AddItemToArray(
        near, isfinite(s->nearest[i]) ? cJSON_CreateNumber(s->nearest[i]) : cJSON_CreateNull());
    int t = s->nearest_idx[i];
    cJSON_AddItemToArray(
        names, cJSON_CreateString(t >= 0 ? gm_dataset_get(d->ds, d->train_idx[t])->name : ""));
  }
  cJSON *pairs = cJSON_AddArrayToObject(nv, "pairs");
  for (int i = 0; i < s->n_pairs; i++) {
    int k = s->pairs[i], t = s->nearest_idx[k];
    cJSON *p = cJSON_CreateObject();
    cJSON_AddNumberToObject(p, "sample", k);
    cJSON_AddStringToObject(p, "train", t >= 0 ? gm_dataset_get(d->ds, d->train_idx[t])->name : "");
    num(p, "distance", s->nearest[k]);
    cJSON_AddItemToArray(pairs, p);
  }
  char path[4400];
  snprintf(path, sizeof path, "%s/nearest.png", m->name);
  cJSON_AddStringToObject(nv, "grid", path);
  cJSON *dv = cJSON_AddObjectToObject(mo, "diversity");
  num(dv, "mean_pairwise", s->diversity);
  num(dv, "training_set", d->train_diversity);
  if (s->have_quality) {
    cJSON_AddItemToObject(mo, "quality", gm_sq_row_json(&s->quality));
  } else {
    cJSON_AddNullToObject(mo, "quality");
    cJSON_AddStringToObject(mo, "quality_note", s->quality_note);
  }
}

/* What the models' quality rows are measured with and against, and the floor. */
static void quality_json(cJSON *root, const gm_cmp_data *d) {
  cJSON *q = cJSON_AddObjectToObject(root, "quality");
  if (d->features_path[0]) cJSON_AddStringToObject(q, "features", d->features_path);
  else cJSON_AddNullToObject(q, "features");
  if (!d->featnet) cJSON_AddStringToObject(q, "note", d->quality_note);
  cJSON_AddStringToObject(q, "reference", "the training split, at 16 levels");
  cJSON_AddNumberToObject(q, "train_images", d->n_train);
  cJSON_AddNumberToObject(q, "heldout_images", d->n_held);
  cJSON_AddNumberToObject(q, "kid_scale", 1000);
  cJSON_AddNumberToObject(q, "kid_subsets", GM_SQ_KID_SUBSETS);
  cJSON_AddNumberToObject(q, "kid_subset_size", GM_SQ_KID_SUBSET_SIZE);
  cJSON_AddNumberToObject(q, "k", GM_SQ_K);
  if (d->have_floor) cJSON_AddItemToObject(q, "floor", gm_sq_row_json(&d->floor));
  else cJSON_AddNullToObject(q, "floor");
}

static cJSON *model_json(const gm_cmp_job *j, const gm_cmp_model *m) {
  cJSON *mo = cJSON_CreateObject();
  cJSON_AddStringToObject(mo, "title", m->title);
  if (m->opts.preset) cJSON_AddStringToObject(mo, "preset", m->opts.preset->name);
  cJSON_AddItemToObject(mo, "options", kv_object(m->opts.model, m->opts.n_model));
  cJSON_AddItemToObject(mo, "train_keys", kv_object(m->opts.train, m->opts.n_train));
  if (m->parameters) cJSON_AddNumberToObject(mo, "parameters", (double)m->parameters);
  cJSON_AddBoolToObject(mo, "ema", m->has_ema);
  cJSON_AddStringToObject(mo, "likelihood_kind", gm_cmp_likelihood(m));
  cJSON_AddBoolToObject(mo, "text_condition", m->info.text_condition);
  training_json(mo, m);
  sampling_json(mo, j->o, m);
  likelihood_json(mo, m);
  costs_json(mo, j->o, m);
  sample_metrics_json(mo, j->d, m);
  return mo;
}

static void device_json(cJSON *root, const gm_cmp_job *j) {
  if (!j->d->dev) return;
  const gm_device_info *d = gm_device_get_info(j->d->dev);
  cJSON *o = cJSON_AddObjectToObject(root, "device");
  gm_cli_device_fields(o, d);
  cJSON_AddStringToObject(o, "driver", d->driver_version);  /* metrics.json's first name */
}

static void data_json(cJSON *root, const gm_cmp_data *dd) {
  cJSON *d = dd->data_desc ? cJSON_Parse(dd->data_desc) : NULL;
  if (!d) d = cJSON_CreateObject();
  cJSON_AddNumberToObject(d, "images", dd->ds ? gm_dataset_count(dd->ds) : 0);
  cJSON_AddNumberToObject(d, "train_images", dd->n_train);
  cJSON_AddNumberToObject(d, "heldout_images", dd->n_held);
  cJSON *names = cJSON_AddArrayToObject(d, "heldout_names");
  for (int i = 0; i < dd->n_held; i++)
    cJSON_AddItemToArray(names, cJSON_CreateString(gm_dataset_get(dd->ds, dd->held_idx[i])->name));
  cJSON_AddItemToObject(root, "data", d);
}

static void settings_json(cJSON *root, const gm_cmp_job *j) {
  const gm_cmp_options *o = j->o;
  cJSON *s = cJSON_AddObjectToObject(root, "settings");
  cJSON_AddNumberToObject(s, "seed", (double)o->seed);
  num(s, "time_s_per_model", o->steps > 0 ? NAN : o->time_s);
  if (o->steps > 0) cJSON_AddNumberToObject(s, "steps_per_model", (double)o->steps);
  else cJSON_AddNullToObject(s, "steps_per_model");
  cJSON_AddNumberToObject(s, "n_samples", o->n);
  cJSON *ml = cJSON_AddArrayToObject(s, "models");
  for (int i = 0; i < j->n_models; i++) cJSON_AddItemToArray(ml, cJSON_CreateString(j->model[i].name));
  cJSON_AddNumberToObject(s, "t_samples", o->t_samples);
  cJSON_AddNumberToObject(s, "timing_n", o->timing_n);
  cJSON_AddNumberToObject(s, "timing_limit_s", o->timing_limit_s);
  cJSON_AddStringToObject(s, "levels", "16 per channel: q = v >> 4, shown as q * 17");
  cJSON_AddNumberToObject(s, "background_levels", GM_CMP_BG_LEVELS);
  cJSON_AddNumberToObject(s, "near_copy_rms", GM_CMP_NEAR_COPY_RMS);
  cJSON_AddStringToObject(s, "colour_distance",
                          "Jensen-Shannon divergence in bits (js_bits) "
                          "and total variation (tv) of the joint 16x16x16 RGB histograms");
  cJSON_AddStringToObject(s, "distance", "RMS per subpixel on the 0..255 scale, at 16 levels");
}

cJSON *gm_cmp_metrics_json(const gm_cmp_job *j) {
  cJSON *root = cJSON_CreateObject();
  if (!root) return NULL;
  int failed = gm_cmp_job_failed(j);
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
  cJSON_AddStringToObject(root, "command", gm_cmp_command(j->o, buf, sizeof buf));
  cJSON_AddStringToObject(root, "full_command", gm_cmp_full_command(j, buf, sizeof buf));
  cJSON_AddStringToObject(root, "started", j->started);
  num(root, "wall_s", gm_cli_now() - j->t0);
  device_json(root, j);
  data_json(root, j->d);
  settings_json(root, j);
  cJSON *b = cJSON_AddObjectToObject(root, "baselines");
  const gm_cmp_data *d = j->d;
  num(b, "uniform_bits_per_dim", d->uniform_bpd);
  num(b, "histogram_bits_per_dim", d->histogram_bpd);
  cJSON *t = cJSON_AddObjectToObject(root, "training_set");
  cJSON_AddNumberToObject(t, "images", d->n_train);
  cJSON *c = cJSON_AddObjectToObject(t, "colour");
  cJSON_AddItemToObject(c, "mean", triple(d->train_mean));
  cJSON_AddItemToObject(c, "std", triple(d->train_std));
  num(c, "foreground", d->train_foreground);
  num(t, "diversity", d->train_diversity);
  num(t, "nearest_other_min", d->train_loo_min);
  num(t, "nearest_other_median", d->train_loo_median);
  quality_json(root, d);
  /* the data grids (square, 1-pixel gaps), for tools that read the images back */
  cJSON *fig = cJSON_AddObjectToObject(root, "figures");
  const char *fname[2] = {"train", "heldout"};
  int fcount[2] = {d->n_train, d->n_held};
  for (int k = 0; k < 2; k++) {
    if (fcount[k] == 0) continue;
    cJSON *g = cJSON_AddObjectToObject(fig, fname[k]);
    char file[32];
    snprintf(file, sizeof file, "%s.png", fname[k]);
    cJSON_AddStringToObject(g, "grid", file);
    cJSON_AddNumberToObject(g, "images", fcount[k]);
    cJSON_AddNumberToObject(g, "grid_upscale", GM_CMP_DATA_UPSCALE);
    cJSON_AddNumberToObject(g, "size", d->size);
  }
  cJSON *models = cJSON_AddObjectToObject(root, "models");
  for (int i = 0; i < j->n_models; i++)
    cJSON_AddItemToObject(models, j->model[i].name, model_json(j, &j->model[i]));
  return root;
}

