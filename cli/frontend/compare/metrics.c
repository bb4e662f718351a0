/* The numbers of `genmoji compare`: baselines and the training set's own statistics,
 * each model's sample metrics (colour, novelty, diversity) through image_metrics.h, their
 * sample quality on the emoji feature network (sample_quality.h: KID, FD, precision,
 * recall against the training split, beside the held-out images' as the floor), and the
 * smoothed final loss. All image metrics compare images at the models' 16 levels
 * (v >> 4, shown as q * 17); metrics_json.c writes them out. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "compare.h"
#include "image_metrics.h"

static double median(const double *v, int n) {
  if (n <= 0) return NAN;
  int *order = malloc(sizeof *order * (size_t)n);
  if (!order) return NAN;
  gm_metrics_argsort(v, n, order);
  double m = n % 2 ? v[order[n / 2]] : 0.5 * (v[order[n / 2 - 1]] + v[order[n / 2]]);
  free(order);
  return m;
}

void gm_cmp_metrics_data(gm_cmp_data *d, const gm_cmp_options *o) {
  const uint8_t **held = malloc(sizeof *held * (size_t)(d->n_held + 1));
  double *loo = malloc(sizeof *loo * (size_t)(d->n_train + 1));
  int *loo_idx = malloc(sizeof *loo_idx * (size_t)(d->n_train + 1));
  d->uniform_bpd = 4.0; /* log2 of 16 levels */
  d->histogram_bpd = d->train_diversity = d->train_loo_min = d->train_loo_median = NAN;
  for (int c = 0; c < 3; c++) d->train_mean[c] = d->train_std[c] = NAN;
  if (!held || !loo || !loo_idx) goto done;
  for (int i = 0; i < d->n_held; i++) held[i] = gm_dataset_get(d->ds, d->held_idx[i])->rgb;
  d->histogram_bpd = gm_metrics_histogram_bpd(d->train_rgb, d->n_train, held, d->n_held, d->len);
  gm_colour_stats *cs = malloc(sizeof *cs);
  if (cs) {
    gm_colour_stats_compute(cs, d->train_qp, d->n_train, d->len, o->data.ds.background,
                            GM_CMP_BG_LEVELS);
    memcpy(d->colour_hist_train, cs->hist, sizeof d->colour_hist_train);
    memcpy(d->train_mean, cs->mean, sizeof d->train_mean);
    memcpy(d->train_std, cs->std, sizeof d->train_std);
    d->train_foreground = cs->total ? (double)cs->pixels / (double)cs->total : NAN;
    free(cs);
  }
  d->train_diversity = gm_metrics_mean_pairwise(d->train_qp, d->n_train, d->len);
  gm_metrics_nearest(d->train_qp, d->n_train, d->train_qp, d->n_train, d->len, 1, loo, loo_idx);
  d->train_loo_median = median(loo, d->n_train);
  d->train_loo_min = NAN;
  for (int i = 0; i < d->n_train; i++)
    if (isfinite(loo[i]) && !(loo[i] >= d->train_loo_min)) d->train_loo_min = loo[i];
done:
  free(held);
  free(loo);
  free(loo_idx);
}

int gm_cmp_quality_data(gm_cmp_data *d, const gm_cmp_options *o) {
  gm_error err = {0};
  struct stat st;
  d->have_floor = 0;
  if (o->features) snprintf(d->features_path, sizeof d->features_path, "%s", o->features);
  else if (gm_sq_default_features(d->features_path, sizeof d->features_path)) {
    snprintf(d->quality_note, sizeof d->quality_note,
             "no feature network: neither GM_FEATURES, XDG_CACHE_HOME nor HOME is set and "
             "none is installed");
    return 0;
  }
  if (stat(d->features_path, &st) != 0) {
    if (o->features) return gm_cli_fail("compare: --features %s: %s", o->features, strerror(errno));
    snprintf(d->quality_note, sizeof d->quality_note,
             "no feature network at %s ('genmoji features train --out %s' makes one)",
             d->features_path, d->features_path);
    return 0;
  }
  if (!gm_sq_side_ok(d->size)) {
    snprintf(d->quality_note, sizeof d->quality_note,
             "the feature network takes 32x32 images; %dx%d is neither a divisor nor a "
             "multiple of 32",
             d->size, d->size);
    return 0;
  }
  if (d->n_train < GM_SQ_MIN_IMAGES) {
    snprintf(d->quality_note, sizeof d->quality_note,
             "%d training images; the sample-quality metrics need at least %d", d->n_train,
             GM_SQ_MIN_IMAGES);
    return 0;
  }
  if (featnet_load(&d->featnet, d->dev, d->features_path, &err)) return gm_cli_fail_err(&err);
  const uint8_t **held = malloc(sizeof *held * (size_t)(d->n_held + 1));
  float *fh = malloc(sizeof *fh * FEATNET_DIM * (size_t)(d->n_held + 1));
  d->feat_train = malloc(sizeof *d->feat_train * FEATNET_DIM * (size_t)d->n_train);
  int code = 0;
  if (!held || !fh || !d->feat_train) code = gm_cli_fail("out of memory");
  for (int i = 0; !code && i < d->n_held; i++)
    held[i] = gm_dataset_get(d->ds, d->held_idx[i])->rgb;
  if (!code && (gm_sq_features(d->featnet, d->train_rgb, d->n_train, d->size, 1, d->feat_train,
                               &err) ||
                gm_sq_features(d->featnet, held, d->n_held, d->size, 1, fh, &err)))
    code = gm_cli_fail_err(&err);
  if (!code && d->n_held >= GM_SQ_MIN_IMAGES) {
    if (gm_sq_score(d->feat_train, d->n_train, fh, d->n_held, o->seed, &d->floor, &err))
      code = gm_cli_fail_err(&err);
    else d->have_floor = 1;
  }
  free(held);
  free(fh);
  return code;
}

static void quality_samples(const gm_cmp_data *d, const gm_cmp_options *o, gm_cmp_model *m) {
  gm_cmp_sample_metrics *s = &m->metrics;
  gm_error err = {0};
  s->have_quality = 0;
  if (!d->featnet) {
    snprintf(s->quality_note, sizeof s->quality_note, "%s", d->quality_note);
    return;
  }
  if (m->n < GM_SQ_MIN_IMAGES) {
    snprintf(s->quality_note, sizeof s->quality_note,
             "%d samples; the sample-quality metrics need at least %d", m->n, GM_SQ_MIN_IMAGES);
    return;
  }
  const uint8_t **rows = malloc(sizeof *rows * (size_t)m->n);
  float *f = malloc(sizeof *f * FEATNET_DIM * (size_t)m->n);
  int rc = rows && f ? 0 : gm_error_set(&err, GM_ENOMEM, "out of memory");
  for (int i = 0; !rc && i < m->n; i++) rows[i] = m->samples + d->len * (size_t)i;
  if (!rc) rc = gm_sq_features(d->featnet, rows, m->n, d->size, 1, f, &err);
  if (!rc) rc = gm_sq_score(d->feat_train, d->n_train, f, m->n, o->seed, &s->quality, &err);
  if (rc) snprintf(s->quality_note, sizeof s->quality_note, "%s", err.msg);
  else s->have_quality = 1;
  free(rows);
  free(f);
}

void gm_cmp_metrics_free(gm_cmp_sample_metrics *s) {
  free(s->nearest);
  free(s->nearest_idx);
  s->nearest = NULL;
  s->nearest_idx = NULL;
  s->valid = 0;
}

int gm_cmp_metrics_samples(const gm_cmp_data *d, const gm_cmp_options *o, gm_cmp_model *m) {
  gm_cmp_sample_metrics *s = &m->metrics;
  gm_cmp_metrics_free(s);
  int n = m->n;
  if (n <= 0 || !m->samples) return 0;
  uint8_t *q = malloc(d->len * (size_t)n);
  const uint8_t **qp = malloc(sizeof *qp * (size_t)n);
  gm_colour_stats *cs = malloc(sizeof *cs);
  int *order = malloc(sizeof *order * (size_t)n);
  s->nearest = malloc(sizeof *s->nearest * (size_t)n);
  s->nearest_idx = malloc(sizeof *s->nearest_idx * (size_t)n);
  int rc = 0;
  if (!q || !qp || !cs || !order || !s->nearest || !s->nearest_idx) {
    rc = GM_ENOMEM;
    gm_cmp_metrics_free(s);
    goto done;
  }
  gm_metrics_quantize16(q, m->samples, d->len * (size_t)n);
  for (int i = 0; i < n; i++) qp[i] = q + d->len * (size_t)i;
  gm_colour_stats_compute(cs, qp, n, d->len, o->data.ds.background, GM_CMP_BG_LEVELS);
  s->js_bits = gm_metrics_js_bits(cs->hist, d->colour_hist_train, GM_COLOUR_BINS);
  s->tv = gm_metrics_tv(cs->hist, d->colour_hist_train, GM_COLOUR_BINS);
  memcpy(s->mean, cs->mean, sizeof s->mean);
  memcpy(s->std, cs->std, sizeof s->std);
  s->foreground = cs->total ? (double)cs->pixels / (double)cs->total : NAN;
  gm_metrics_nearest(qp, n, d->train_qp, d->n_train, d->len, 0, s->nearest, s->nearest_idx);
  double sum = 0;
  s->nearest_min = NAN;
  for (int i = 0; i < n; i++) {
    sum += s->nearest[i];
    if (!(s->nearest[i] >= s->nearest_min)) s->nearest_min = s->nearest[i];
  }
  s->nearest_mean = sum / n;
  s->nearest_median = median(s->nearest, n);
  s->near_copy_share = gm_metrics_share_below(s->nearest, n, GM_CMP_NEAR_COPY_RMS);
  s->diversity = gm_metrics_mean_pairwise(qp, n, d->len);
  gm_metrics_argsort(s->nearest, n, order);
  s->n_pairs = n < GM_CMP_PAIRS ? n : GM_CMP_PAIRS;
  if (d->n_train == 0) s->n_pairs = 0;
  for (int i = 0; i < s->n_pairs; i++) s->pairs[i] = order[i];
  quality_samples(d, o, m);
  s->valid = 1;
done:
  free(q);
  free(qp);
  free(cs);
  free(order);
  return rc;
}

double gm_cmp_final_loss(const gm_cmp_model *m, int *k) {
  int64_t n = (m->losses + 9) / 10;
  if (n > GM_CMP_RECENT) n = GM_CMP_RECENT;
  if (n > m->losses) n = m->losses;
  if (k) *k = (int)n;
  if (n == 0) return NAN;
  double s = 0;
  for (int64_t i = m->losses - n; i < m->losses; i++) s += m->recent[i % GM_CMP_RECENT];
  return s / (double)n;
}

const char *gm_cmp_quality_cell(char *buf, size_t n, const gm_sq_row *r, int k) {
  switch (k) {
  case 0: snprintf(buf, n, "%.3f ± %.3f", 1000 * r->kid.kid, 1000 * r->kid.stderr_kid); break;
  case 1: snprintf(buf, n, "%.3f", r->fd); break;
  case 2: snprintf(buf, n, "%.3f", r->precision); break;
  default: snprintf(buf, n, "%.3f", r->recall); break;
  }
  return buf;
}

const char *gm_cmp_status_name(gm_cmp_status s) {
  switch (s) {
  case GM_CMP_DONE: return "done";
  case GM_CMP_STOPPED: return "stopped";
  case GM_CMP_FAILED: return "failed";
  case GM_CMP_SKIPPED: return "skipped";
  default: return "not run";
  }
}
