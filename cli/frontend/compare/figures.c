/* The pictures of `genmoji compare`'s report: the training-set grid, each model's sample
 * grid and nearest-pair grid, and loss.svg (a panel per model, its loss curve from its
 * metrics.jsonl). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "compare.h"
#include "image_metrics.h"
#include "../report_doc.h"
#include "../svg.h"

/* a colour per model, in --models order (Tableau 10, first eight) */
static const char *const COLOURS[GM_CMP_MAX_MODELS] = {"#1f77b4", "#d95f02", "#2ca02c", "#9467bd",
                                                       "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22"};

/* ---- grids ---- */

int gm_cmp_write_train_grid(const gm_cmp_options *o, const gm_cmp_data *d, gm_error *err) {
  char path[4400];
  snprintf(path, sizeof path, "%s/train.png", o->out);
  if (d->n_train == 0) return 0;
  int cols = (int)ceil(sqrt((double)d->n_train));
  int rc = gm_png_write_grid(path, d->train_rgb, d->n_train, d->size, d->size, 3, cols,
                             GM_CMP_DATA_UPSCALE, err);
  if (rc || d->n_held == 0) return rc;
  /* the held-out images too (the survey shows them as real emojis no model saw) */
  const uint8_t **held = malloc(sizeof *held * (size_t)d->n_held);
  if (!held) return gm_error_set(err, GM_ENOMEM, "grids: out of memory");
  for (int i = 0; i < d->n_held; i++) held[i] = gm_dataset_get(d->ds, d->held_idx[i])->rgb;
  snprintf(path, sizeof path, "%s/heldout.png", o->out);
  rc = gm_png_write_grid(path, held, d->n_held, d->size, d->size, 3,
                         (int)ceil(sqrt((double)d->n_held)), GM_CMP_DATA_UPSCALE, err);
  free(held);
  return rc;
}

int gm_cmp_write_model_grids(const gm_cmp_data *d, const gm_cmp_model *m, gm_error *err) {
  if (m->n <= 0 || !m->samples) return 0;
  const uint8_t **imgs =
      malloc(sizeof *imgs * (size_t)(m->n > 2 * GM_CMP_PAIRS ? m->n : 2 * GM_CMP_PAIRS));
  uint8_t *q = malloc(d->len * GM_CMP_PAIRS);
  if (!imgs || !q) {
    free(imgs);
    free(q);
    return gm_error_set(err, GM_ENOMEM, "grids: out of memory");
  }
  char path[4400];
  for (int i = 0; i < m->n; i++) imgs[i] = m->samples + d->len * (size_t)i;
  snprintf(path, sizeof path, "%s/samples.png", m->dir);
  int rc = gm_png_write_grid(path, imgs, m->n, d->size, d->size, 3, (int)ceil(sqrt((double)m->n)),
                             GM_CMP_SAMPLE_UPSCALE, err);
  /* nearest pairs: samples on the top row, their nearest training images below, both at
   * the 16 levels the distance is measured on */
  const gm_cmp_sample_metrics *s = &m->metrics;
  int k = s->valid ? s->n_pairs : 0;
  for (int i = 0; !rc && i < k; i++) {
    gm_metrics_quantize16(q + d->len * (size_t)i, m->samples + d->len * (size_t)s->pairs[i],
                          d->len);
    imgs[i] = q + d->len * (size_t)i;
    imgs[k + i] = d->train_qp[s->nearest_idx[s->pairs[i]]];
  }
  snprintf(path, sizeof path, "%s/nearest.png", m->dir);
  if (!rc && k > 0) rc = gm_png_write_grid(path, imgs, 2 * k, d->size, d->size, 3, k, 4, err);
  free(imgs);
  free(q);
  return rc;
}

/* ---- loss curves ---- */

typedef struct curve {
  double *x, *y, *smooth;
  int n, cap;
  int window; /* steps the smoothed line averages over; < 2: none drawn */
} curve;

static void curve_free(curve *c) {
  free(c->x);
  free(c->y);
  free(c->smooth);
  memset(c, 0, sizeof *c);
}

/* (wall_s, loss) of every line of a model's metrics.jsonl. */
static int read_curve(const char *path, curve *c) {
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  char line[1024];
  int rc = 0;
  while (fgets(line, sizeof line, f)) {
    cJSON *o = cJSON_Parse(line);
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(o, "wall_s");
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(o, "loss");
    if (cJSON_IsNumber(w) && cJSON_IsNumber(l)) {
      if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 256;
        double *x = realloc(c->x, sizeof *x * (size_t)cap);
        if (x) c->x = x;
        double *y = realloc(c->y, sizeof *y * (size_t)cap);
        if (y) c->y = y;
        if (!x || !y) rc = GM_ENOMEM;
        else c->cap = cap;
      }
      if (!rc) {
        c->x[c->n] = w->valuedouble;
        c->y[c->n++] = l->valuedouble;
      }
    }
    cJSON_Delete(o);
    if (rc) break;
  }
  fclose(f);
  if (!rc && c->n > 0) {
    /* a bias-corrected exponential average over about a twentieth of the run, so that a
     * short run is not flattened and a long one is readable */
    c->window = c->n / 20 > 50 ? 50 : c->n / 20;
    double decay = c->window >= 2 ? 1 - 1.0 / c->window : 0, s = 0, w = 0;
    if (!(c->smooth = malloc(sizeof *c->smooth * (size_t)c->n))) return GM_ENOMEM;
    for (int i = 0; i < c->n; i++) {
      s = decay * s + (1 - decay) * c->y[i];
      w = decay * w + (1 - decay);
      c->smooth[i] = s / w;
    }
  }
  return rc;
}

int gm_cmp_write_loss_svg(const gm_cmp_job *j, gm_error *err) {
  curve cs[GM_CMP_MAX_MODELS];
  memset(cs, 0, sizeof cs);
  double xmax = 0;
  for (int i = 0; i < j->n_models; i++) {
    char path[4400];
    snprintf(path, sizeof path, "%s/metrics.jsonl", j->model[i].dir);
    if (read_curve(path, &cs[i])) {
      for (int k = 0; k <= i; k++) curve_free(&cs[k]);
      return gm_error_set(err, GM_ENOMEM, "%s: out of memory", path);
    }
    for (int k = 0; k < cs[i].n; k++)
      if (cs[i].x[k] > xmax) xmax = cs[i].x[k];
  }
  int minutes = xmax >= 120;
  double scale = minutes ? 1.0 / 60 : 1;
  for (int i = 0; i < j->n_models; i++)
    for (int k = 0; k < cs[i].n; k++) cs[i].x[k] *= scale;
  gm_cli_file o;
  char path[4400];
  snprintf(path, sizeof path, "%s/loss.svg", j->o->out);
  int rc = gm_cli_file_open(&o, path, err);
  if (!rc) {
    const double w = 520, h = 320;
    gm_cli_svg_begin(o.f, w * j->n_models, h);
    for (int i = 0; i < j->n_models; i++) {
      const gm_cmp_model *m = &j->model[i];
      char title[128], raw_label[64], smooth_label[96];
      snprintf(title, sizeof title, "%s (%s)", m->title,
               m->opts.preset ? m->opts.preset->name : "");
      snprintf(raw_label, sizeof raw_label, "each step");
      snprintf(smooth_label, sizeof smooth_label, "smoothed (~%d steps)", cs[i].window);
      int smooth = cs[i].smooth && cs[i].window >= 2;
      gm_cli_svg_series series[2] = {{cs[i].x, cs[i].y, cs[i].n, COLOURS[i], smooth ? 1.0 : 2.0,
                                      smooth ? 0.3 : 1.0, raw_label},
                                     {cs[i].x, cs[i].smooth, smooth ? cs[i].n : 0, COLOURS[i], 2.2,
                                      1.0, smooth ? smooth_label : NULL}};
      gm_cli_svg_chart c = {
          .left = w * i,
          .top = 0,
          .width = w,
          .height = h,
          .title = title,
          .x_label = minutes ? "training time (minutes)" : "training time (seconds)",
          .y_label = m->loss_unit,
          .log_y = -1,
          .x_min = 0,
          .x_max = xmax > 0 ? xmax * scale : 1,
          .series = series,
          .n_series = 2,
          .empty_text = "not trained"};
      gm_cli_svg_chart_write(o.f, &c);
    }
    gm_cli_svg_end(o.f);
    rc = gm_cli_file_close(&o, err);
  }
  for (int i = 0; i < j->n_models; i++) curve_free(&cs[i]);
  return rc;
}
