/* The report of `genmoji compare`: index.html and report.md, written from one description
 * of their content (report_doc.h) so the two always say the same, with a column per
 * model, and metrics.json beside them. The report is rewritten after every phase; a part
 * that has not run says so. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compare.h"
#include "../report_doc.h"
#include "../svg.h"

/* ---- formatting numbers ---- */

static const char *fmt(char *buf, size_t n, const char *f, double v) {
  if (!isfinite(v)) snprintf(buf, n, "n/a");
  else snprintf(buf, n, f, v);
  return buf;
}

/* The cell of a value the phase may not have produced. */
static const char *cell(char *buf, size_t n, const gm_cmp_phase *p, const char *f, double v) {
  if (p->status == GM_CMP_DONE || p->status == GM_CMP_STOPPED) return fmt(buf, n, f, v);
  snprintf(buf, n, "(%s)", gm_cmp_status_name(p->status));
  return buf;
}

static const char *data_title(const gm_cmp_options *o, char *buf, size_t n) {
  const gm_dataset_options *ds = &o->data.ds;
  int noto = strcmp(o->data.data, "noto") == 0;
  snprintf(buf, n, "%s%s%s%s", ds->yellow ? "yellow " : "", ds->subset ? "emoji faces" : "images",
           noto ? " from Noto Color Emoji" : " from ", noto ? "" : o->data.data);
  return buf;
}

/* ---- rows of the metrics table: a label, a cell per model, a reference note ---- */

typedef char cellbuf[160];

static void row(gm_cli_doc *d, const gm_cmp_job *j, const char *label, cellbuf *cells,
                const char *note) {
  char line[GM_CMP_MAX_MODELS * 170 + 1024];
  size_t used = (size_t)snprintf(line, sizeof line, "%s", label);
  for (int i = 0; i < j->n_models && used < sizeof line; i++)
    used += (size_t)snprintf(line + used, sizeof line - used, "\t%s", cells[i]);
  if (used < sizeof line) snprintf(line + used, sizeof line - used, "\t%s", note ? note : "");
  gm_cli_doc_row(d, 0, line);
}

/* ---- the sections ---- */

static void status_section(gm_cli_doc *d, const gm_cmp_job *j) {
  char wall[32];
  gm_cli_duration(gm_cli_now() - j->t0, wall, sizeof wall);
  if (j->stopped_in[0])
    gm_cli_doc_para(d, "note",
                    "Stopped by %s during %s, after %s. The sections below show what finished; "
                    "each unfinished part says so.",
                    j->stop_signal == SIGTERM  ? "SIGTERM"
                    : j->stop_signal == SIGHUP ? "SIGHUP"
                                               : "Ctrl-C",
                    j->stopped_in, wall);
  else if (j->phase < j->n_phases)
    gm_cli_doc_para(d, "note",
                    "In progress (%s so far): this report is rewritten after every phase; parts "
                    "not yet run say so.",
                    wall);
  else
    gm_cli_doc_para(d, "ok", "Complete: every model trained, sampled, evaluated and timed in %s.",
                    wall);
  for (int i = 0; i < j->n_models; i++) {
    const gm_cmp_model *m = &j->model[i];
    const gm_cmp_phase *ps[] = {&m->train, &m->sample, &m->eval, &m->costs};
    const char *names[] = {"training", "sampling", "evaluation", "sampler costs"};
    for (int k = 0; k < 4; k++)
      if (ps[k]->status == GM_CMP_FAILED || ps[k]->status == GM_CMP_STOPPED ||
          ps[k]->status == GM_CMP_SKIPPED)
        gm_cli_doc_para(d, "note", "%s %s %s: %s", m->title, names[k],
                        gm_cmp_status_name(ps[k]->status), ps[k]->note);
  }
}

static void question_section(gm_cli_doc *d) {
  gm_cli_doc_heading(d, 2, "The question");
  gm_cli_doc_para(
      d, NULL,
      "Which family of generative model does better on a tiny set of 32x32 emoji faces when "
      "both get the same data, the same device and the same training time: an autoregressive "
      "PixelCNN, which predicts each subpixel from the ones before it, or a denoising "
      "diffusion model (DDPM), which learns to undo added noise? The study this reproduces "
      "(Dario Vajda, \"Comparing Autoregressive and Diffusion Models on Emoji Generation\", "
      "University of Ljubljana) trained both for the same time on 95 Apple face emojis and "
      "reported that the diffusion model needed under a tenth of the PixelCNN's time per "
      "sample, that the PixelCNN kept colours more consistent, and that the diffusion model "
      "drew better face shapes with colours a little off. This report measures each claim "
      "on this machine: sample quality on an emoji feature network (KID, Frechet distance, "
      "precision and recall), likelihood of held-out images in one unit (bits per "
      "dimension), sampling cost, colour fidelity, novelty and diversity.");
}

static void setup_section(gm_cli_doc *d, const gm_cmp_job *j) {
  const gm_cmp_options *o = j->o;
  const gm_cmp_data *dd = j->d;
  char buf[8192], a[64];
  gm_cli_doc_heading(d, 2, "Setup");
  gm_cli_doc_table_begin(d, "kv");
  gm_cli_doc_row(d, 1, "setting\tvalue");
  gm_cli_doc_rowf(d, 0,
                  "data\t%s: %d images, %d for training, %d held out (by name hash), %dx%d over "
                  "#%02x%02x%02x",
                  data_title(o, buf, sizeof buf), dd->ds ? gm_dataset_count(dd->ds) : 0,
                  dd->n_train, dd->n_held, dd->size, dd->size, o->data.ds.background[0],
                  o->data.ds.background[1], o->data.ds.background[2]);
  gm_cli_doc_rowf(d, 0, "device\t%s", dd->device_desc);
  if (o->steps > 0) gm_cli_doc_rowf(d, 0, "budget\t%lld optimiser steps per model", o->steps);
  else
    gm_cli_doc_rowf(d, 0, "budget\t%s of training per model, one after the other",
                    gm_cli_duration(o->time_s, a, sizeof a));
  for (int i = 0; i < j->n_models; i++) {
    const gm_cmp_model *m = &j->model[i];
    char params[48] = "";
    if (m->parameters)
      snprintf(params, sizeof params, ", %lld parameters", (long long)m->parameters);
    gm_cli_doc_rowf(d, 0, "%s\tmodel `%s`, preset `%s`%s%s: %s", m->title, m->name,
                    m->opts.preset ? m->opts.preset->name : "?", params,
                    m->has_ema ? ", EMA weights" : "",
                    m->opts.preset && m->opts.preset->summary ? m->opts.preset->summary : "");
  }
  gm_cli_doc_rowf(d, 0, "seed\t%llu (initialisation, data order, noise, samplers)", o->seed);
  gm_cli_doc_rowf(d, 0, "started\t%s", j->started);
  gm_cli_doc_rowf(d, 0, "genmoji\t%s (libgenmoji %s)", GM_CLI_VERSION, gm_version());
  gm_cli_doc_table_end(d);
}

static void samples_section(gm_cli_doc *d, const gm_cmp_job *j) {
  char cap[1024], src[256], alt[128];
  gm_cli_doc_heading(d, 2, "Training images");
  if (j->d->n_train)
    gm_cli_doc_figure(d, "train.png", "training images",
                      "The training split as the models see it (composited, resized), at 2x.", 1);
  if (j->d->n_held)
    gm_cli_doc_figure(d, "heldout.png", "held-out images",
                      "The held-out split (the likelihood and the sample-quality floor are "
                      "measured on it), at 2x.", 1);
  gm_cli_doc_heading(d, 2, "Samples");
  gm_cli_doc_columns_begin(d);
  for (int i = 0; i < j->n_models; i++) {
    const gm_cmp_model *m = &j->model[i];
    gm_cli_doc_column_begin(d);
    gm_cli_doc_heading(d, 3, m->title);
    if (m->sample.status == GM_CMP_DONE) {
      snprintf(src, sizeof src, "%s/samples.png", m->name);
      snprintf(alt, sizeof alt, "%s samples", m->title);
      snprintf(cap, sizeof cap,
               "%d samples at 4x, sampler `%s`, seed %llu%s; %.3g s per image, "
               "%.4g network evaluations per image.",
               m->n, m->sampler, j->o->seed, m->ema_in ? ", EMA weights" : "",
               m->sample_seconds / m->n, m->evaluations_per_image);
      gm_cli_doc_figure(d, src, alt, cap, 1);
    } else {
      gm_cli_doc_para(d, "note", "Not sampled (%s)%s%s", gm_cmp_status_name(m->sample.status),
                      m->sample.note[0] ? ": " : ".", m->sample.note);
    }
    gm_cli_doc_column_end(d);
  }
  gm_cli_doc_columns_end(d);
}

static void loss_section(gm_cli_doc *d) {
  gm_cli_doc_heading(d, 2, "Training loss");
  gm_cli_doc_figure(
      d, "loss.svg", "training loss of every model",
      "Loss per optimiser step against training time, each in its own unit (the losses "
      "of different models are not comparable with each other; the held-out bits/dim below "
      "are). Thin: every step; thick: an exponential average, once a run has enough steps "
      "for one.",
      0);
}

/* KID, FD, precision and recall of every model, the floor (held-out images) beside them. */
static void quality_rows(gm_cli_doc *d, const gm_cmp_job *j) {
  static const char *const label[4] = {"KID x1000 (± standard error)", "Frechet distance",
                                       "precision (k = 3)", "recall (k = 3)"};
  const gm_cmp_data *dd = j->d;
  cellbuf a[GM_CMP_MAX_MODELS];
  char note[700], f[64];
  gm_cli_doc_section_row(d, "Sample quality on the emoji feature network (KID, FD: lower is "
                            "better; precision, recall: higher)");
  for (int k = 0; k < 4; k++) {
    for (int i = 0; i < j->n_models; i++) {
      const gm_cmp_model *m = &j->model[i];
      const gm_cmp_sample_metrics *s = &m->metrics;
      if (s->valid && s->have_quality) gm_cmp_quality_cell(a[i], sizeof a[i], &s->quality, k);
      else if (!s->valid)
        snprintf(a[i], sizeof a[i], "(%s)",
                 gm_cmp_status_name(m->sample.status == GM_CMP_DONE ? GM_CMP_NOT_RUN
                                                                     : m->sample.status));
      else snprintf(a[i], sizeof a[i], "n/a");
    }
    if (dd->have_floor)
      snprintf(note, sizeof note, "held-out images (the floor): %s",
               gm_cmp_quality_cell(f, sizeof f, &dd->floor, k));
    else if (!dd->featnet) snprintf(note, sizeof note, "%s", k == 0 ? dd->quality_note : "");
    else
      snprintf(note, sizeof note, "%s",
               k == 0 ? "no floor: fewer than 4 held-out images" : "");
    row(d, j, label[k], a, note);
  }
}

static void likelihood_rows(gm_cli_doc *d, const gm_cmp_job *j) {
  cellbuf a[GM_CMP_MAX_MODELS];
  char label[96], note[160], b[64], c[64];
  gm_cli_doc_section_row(d, "Held-out likelihood (bits/dim, 16 levels; lower is better)");
  for (int i = 0; i < j->n_models; i++) {
    const gm_cmp_model *m = &j->model[i];
    if (!m->vt->nll) {
      snprintf(a[i], sizeof a[i], "not available (no likelihood)");
      continue;
    }
    cell(a[i], sizeof a[i], &m->eval, "%.4f", m->bits_per_dim);
    if (m->eval.status == GM_CMP_DONE || m->eval.status == GM_CMP_STOPPED) {
      size_t l = strlen(a[i]);
      if (m->t_samples)
        snprintf(a[i] + l, sizeof a[i] - l, " (bound, estimated from %d levels)", m->t_samples);
      else if (m->info.likelihood == GM_LIKELIHOOD_BOUND)
        snprintf(a[i] + l, sizeof a[i] - l, " (bound, every level)");
      else if (m->info.likelihood == GM_LIKELIHOOD_EXACT)
        snprintf(a[i] + l, sizeof a[i] - l, " (exact)");
    }
  }
  snprintf(label, sizeof label, "bits/dim on %d held-out images", j->d->n_held);
  snprintf(note, sizeof note, "uniform %s; per-channel histogram %s",
           fmt(b, sizeof b, "%.2f", j->d->uniform_bpd), fmt(c, sizeof c, "%.4f", j->d->histogram_bpd));
  row(d, j, label, a, note);
}

static void training_rows(gm_cli_doc *d, const gm_cmp_job *j) {
  cellbuf a[GM_CMP_MAX_MODELS];
  gm_cli_doc_section_row(d, "Training (the same budget each)");
#define TRAIN_ROW(label, f, expr)                                                   \
  do {                                                                              \
    for (int i = 0; i < j->n_models; i++)                                           \
      cell(a[i], sizeof a[i], &j->model[i].train, f, (double)(j->model[i].expr));   \
    row(d, j, label, a, NULL);                                                      \
  } while (0)
  TRAIN_ROW("optimiser steps", "%.0f", tr.step);
  TRAIN_ROW("epochs", "%.0f", tr.epoch);
  TRAIN_ROW("images seen", "%.0f", tr.images_seen);
  TRAIN_ROW("images/s", "%.2f", tr.images_per_s);
  TRAIN_ROW("training time (s)", "%.1f", tr.wall_s);
#undef TRAIN_ROW
  char note[1024] = "mean of the last tenth of the steps (at most 10); units differ:";
  for (int i = 0; i < j->n_models; i++) {
    const gm_cmp_model *m = &j->model[i];
    cell(a[i], sizeof a[i], &m->train, "%.4f", gm_cmp_final_loss(m, NULL));
    snprintf(note + strlen(note), sizeof note - strlen(note), "%s %s", i ? " /" : "",
             m->loss_unit);
  }
  row(d, j, "final loss", a, note);
  for (int i = 0; i < j->n_models; i++)
    fmt(a[i], sizeof a[i], "%.0f", j->model[i].parameters ? (double)j->model[i].parameters : NAN);
  row(d, j, "trainable parameters", a, NULL);
}

static void cost_cell(char *buf, size_t n, const gm_cmp_model *m, int k) {
  if (k < m->n_costs) {
    const gm_cmp_cost *c = &m->cost[k];
    char steps[32] = "";
    if (c->steps) snprintf(steps, sizeof steps, " %d steps", c->steps);
    snprintf(buf, n, "%s%s: %.4g s; %.4g evals%s", c->sampler, steps, c->seconds_per_image,
             c->evaluations_per_image, c->measured ? "" : " (extrapolated)");
  } else if (k == 1 && !gm_cmp_reference(m)) {
    snprintf(buf, n, "(none declared)");
  } else {
    snprintf(buf, n, "(%s)",
             gm_cmp_status_name(m->costs.status == GM_CMP_DONE ? GM_CMP_NOT_RUN : m->costs.status));
  }
}

static void sampling_rows(gm_cli_doc *d, const gm_cmp_job *j) {
  cellbuf a[GM_CMP_MAX_MODELS];
  char label[160];
  const gm_cmp_model *first = &j->model[0];
  gm_cli_doc_section_row(d, "Sampling with the default sampler");
  for (int i = 0; i < j->n_models; i++)
    snprintf(a[i], sizeof a[i], "%s",
             j->model[i].sample.status == GM_CMP_DONE ? j->model[i].sampler : "(not run)");
  row(d, j, "default sampler", a, NULL);
  for (int i = 0; i < j->n_models; i++) {
    const gm_cmp_model *m = &j->model[i];
    cell(a[i], sizeof a[i], &m->sample, "%.4g", m->sample_seconds / (m->n ? m->n : 1));
  }
  snprintf(label, sizeof label, "seconds per image (%d in one call)", j->o->n);
  row(d, j, label, a, NULL);
  for (int i = 0; i < j->n_models; i++)
    cell(a[i], sizeof a[i], &j->model[i].sample, "%.4g", j->model[i].evaluations_per_image);
  row(d, j, "network evaluations per image", a, "one evaluation = one full-image pass");
  if (j->n_models > 1 && first->sample.status == GM_CMP_DONE && first->sample_seconds > 0) {
    for (int i = 0; i < j->n_models; i++) {
      const gm_cmp_model *m = &j->model[i];
      if (m->sample.status == GM_CMP_DONE)
        snprintf(a[i], sizeof a[i], "%.3g",
                 (m->sample_seconds / m->n) / (first->sample_seconds / first->n));
      else snprintf(a[i], sizeof a[i], "n/a");
    }
    snprintf(label, sizeof label, "time per image over %s's", first->title);
    row(d, j, label, a,
        "the study: the DDPM under 0.1 of the PixelCNN's (ancestral against naive)");
  }
  gm_cli_doc_section_row(
      d, "Sampler costs on a small batch (seconds per image; evaluations per image)");
  for (int k = 0; k < 2; k++) {
    char note[600] = "";
    for (int i = 0; i < j->n_models; i++) {
      const gm_cmp_model *m = &j->model[i];
      const gm_sampler_info *s = k == 0 ? gm_cmp_fast(m) : gm_cmp_reference(m);
      cost_cell(a[i], sizeof a[i], m, k);
      if (s)
        snprintf(note + strlen(note), sizeof note - strlen(note), "%s%s %s", note[0] ? ", " : "",
                 m->title, s->name);
    }
    snprintf(label, sizeof label, "%s sampler, batch of %d", k == 0 ? "fast" : "reference",
             j->o->timing_n);
    row(d, j, label, a, note);
  }
  for (int i = 0; i < j->n_models; i++) {
    const gm_cmp_model *m = &j->model[i];
    if (m->n_costs == 2 && m->cost[0].seconds_per_image > 0)
      snprintf(a[i], sizeof a[i], "%.3gx%s",
               m->cost[1].seconds_per_image / m->cost[0].seconds_per_image,
               m->cost[1].identical == 1   ? " (identical images)"
               : m->cost[1].identical == 0 ? " (images differ)"
                                           : "");
    else snprintf(a[i], sizeof a[i], "n/a");
  }
  row(d, j, "reference / fast time", a, NULL);
  if (j->n_models > 1 && first->n_costs == 2 && first->cost[1].seconds_per_image > 0) {
    for (int i = 0; i < j->n_models; i++) {
      const gm_cmp_model *m = &j->model[i];
      if (m->n_costs == 2)
        snprintf(a[i], sizeof a[i], "%.3g",
                 m->cost[1].seconds_per_image / first->cost[1].seconds_per_image);
      else snprintf(a[i], sizeof a[i], "n/a");
    }
    snprintf(label, sizeof label, "reference sampler per image over %s's", first->title);
    row(d, j, label, a, "the study's two samplers; the study: under 0.1");
  }
}

static void colour_rows(gm_cli_doc *d, const gm_cmp_job *j) {
  cellbuf a[GM_CMP_MAX_MODELS];
  char t[96];
  gm_cli_doc_section_row(d, "Colour of the foreground pixels against the training images");
  for (int i = 0; i < j->n_models; i++) {
    const gm_cmp_sample_metrics *s = &j->model[i].metrics;
    fmt(a[i], sizeof a[i], "%.4f", s->valid ? s->js_bits : NAN);
  }
  row(d, j, "Jensen-Shannon divergence (bits, 0..1)", a, "0 = the training colours");
  for (int i = 0; i < j->n_models; i++) {
    const gm_cmp_sample_metrics *s = &j->model[i].metrics;
    fmt(a[i], sizeof a[i], "%.4f", s->valid ? s->tv : NAN);
  }
  row(d, j, "total variation (0..1)", a, NULL);
  const char *what[2] = {"mean R, G, B", "std R, G, B"};
  for (int k = 0; k < 2; k++) {
    for (int i = 0; i < j->n_models; i++) {
      const gm_cmp_sample_metrics *s = &j->model[i].metrics;
      const double *v = k == 0 ? s->mean : s->std;
      if (s->valid) snprintf(a[i], sizeof a[i], "%.0f, %.0f, %.0f", v[0], v[1], v[2]);
      else snprintf(a[i], sizeof a[i], "n/a");
    }
    const double *v = k == 0 ? j->d->train_mean : j->d->train_std;
    snprintf(t, sizeof t, "training: %.0f, %.0f, %.0f", v[0], v[1], v[2]);
    row(d, j, what[k], a, t);
  }
  for (int i = 0; i < j->n_models; i++) {
    const gm_cmp_sample_metrics *s = &j->model[i].metrics;
    fmt(a[i], sizeof a[i], "%.3f", s->valid ? s->foreground : NAN);
  }
  char f[32];
  snprintf(t, sizeof t, "training: %s", fmt(f, sizeof f, "%.3f", j->d->train_foreground));
  row(d, j, "foreground share of pixels", a, t);
}

static void novelty_rows(gm_cli_doc *d, const gm_cmp_job *j) {
  cellbuf a[GM_CMP_MAX_MODELS];
  char t[160], u[32], v[32], label[96];
  gm_cli_doc_section_row(d, "Novelty: RMS distance to the nearest training image (0..255 scale)");
  for (int i = 0; i < j->n_models; i++) {
    const gm_cmp_sample_metrics *s = &j->model[i].metrics;
    if (s->valid)
      snprintf(a[i], sizeof a[i], "%.1f / %.1f / %.1f", s->nearest_mean, s->nearest_median,
               s->nearest_min);
    else snprintf(a[i], sizeof a[i], "n/a");
  }
  snprintf(t, sizeof t, "training image to its nearest other: median %s, min %s",
           fmt(u, sizeof u, "%.1f", j->d->train_loo_median),
           fmt(v, sizeof v, "%.1f", j->d->train_loo_min));
  row(d, j, "mean / median / min", a, t);
  for (int i = 0; i < j->n_models; i++) {
    const gm_cmp_sample_metrics *s = &j->model[i].metrics;
    if (s->valid)
      snprintf(a[i], sizeof a[i], "%.1f%% (%.0f of %d)", 100 * s->near_copy_share,
               s->near_copy_share * j->model[i].n, j->model[i].n);
    else snprintf(a[i], sizeof a[i], "n/a");
  }
  snprintf(label, sizeof label, "near copies (nearest below %g)", GM_CMP_NEAR_COPY_RMS);
  row(d, j, label, a, NULL);
  gm_cli_doc_section_row(d, "Diversity: mean RMS distance between two samples");
  for (int i = 0; i < j->n_models; i++) {
    const gm_cmp_sample_metrics *s = &j->model[i].metrics;
    fmt(a[i], sizeof a[i], "%.1f", s->valid ? s->diversity : NAN);
  }
  snprintf(t, sizeof t, "training set: %s", fmt(u, sizeof u, "%.1f", j->d->train_diversity));
  row(d, j, "mean pairwise distance", a, t);
}

/* The metrics table's header row: a column per model and the reference column. */
static void table_head(gm_cli_doc *d, const gm_cmp_job *j) {
  char head[GM_CMP_MAX_MODELS * 80 + 32] = "";
  for (int i = 0; i < j->n_models; i++)
    snprintf(head + strlen(head), sizeof head - strlen(head), "\t%s", j->model[i].title);
  snprintf(head + strlen(head), sizeof head - strlen(head), "\treference");
  gm_cli_doc_row(d, 1, head);
}

static void metrics_section(gm_cli_doc *d, const gm_cmp_job *j) {
  gm_cli_doc_heading(d, 2, "Metrics");
  gm_cli_doc_table_begin(d, "metrics");
  table_head(d, j);
  quality_rows(d, j);
  likelihood_rows(d, j);
  training_rows(d, j);
  sampling_rows(d, j);
  colour_rows(d, j);
  novelty_rows(d, j);
  gm_cli_doc_table_end(d);
  for (int i = 0; i < j->n_models; i++) {
    const gm_cmp_model *m = &j->model[i];
    for (int k = 1; k < m->n_costs; k++)
      if (!m->cost[k].measured)
        gm_cli_doc_para(d, "small", "%s %s sampler: %s.", m->title, m->cost[k].sampler,
                        m->cost[k].method);
  }
}

/* The headline numbers: sample quality first, then likelihood and sampling cost. */
static void summary_section(gm_cli_doc *d, const gm_cmp_job *j) {
  gm_cli_doc_heading(d, 2, "Summary");
  gm_cli_doc_table_begin(d, "metrics");
  table_head(d, j);
  quality_rows(d, j);
  likelihood_rows(d, j);
  cellbuf a[GM_CMP_MAX_MODELS];
  gm_cli_doc_section_row(d, "Sampling");
  for (int i = 0; i < j->n_models; i++) {
    const gm_cmp_model *m = &j->model[i];
    cell(a[i], sizeof a[i], &m->sample, "%.4g", m->sample_seconds / (m->n ? m->n : 1));
  }
  row(d, j, "seconds per image, default sampler", a, NULL);
  gm_cli_doc_table_end(d);
  gm_cli_doc_para(d, "small", "Every number, and how each is made, is in Metrics below.");
}

static void pairs_section(gm_cli_doc *d, const gm_cmp_job *j) {
  gm_cli_doc_heading(d, 2, "Closest to the training set");
  gm_cli_doc_para(
      d, NULL,
      "For each model, the %d samples nearest to a training image (top row) above "
      "that training image (bottom row), both at the 16 levels the distance is measured on. "
      "A distance below %g counts as a near copy.",
      GM_CMP_PAIRS, GM_CMP_NEAR_COPY_RMS);
  gm_cli_doc_columns_begin(d);
  for (int i = 0; i < j->n_models; i++) {
    const gm_cmp_model *m = &j->model[i];
    const gm_cmp_sample_metrics *s = &m->metrics;
    gm_cli_doc_column_begin(d);
    gm_cli_doc_heading(d, 3, m->title);
    if (s->valid && s->n_pairs > 0) {
      char src[256], alt[128], cap[2048];
      size_t used = 0;
      snprintf(src, sizeof src, "%s/nearest.png", m->name);
      snprintf(alt, sizeof alt, "%s samples beside their nearest training images", m->title);
      used += (size_t)snprintf(cap, sizeof cap, "Distances, left to right:");
      for (int k = 0; k < s->n_pairs && used < sizeof cap; k++) {
        int t = s->nearest_idx[s->pairs[k]];
        used += (size_t)snprintf(cap + used, sizeof cap - used, "%s %.1f (%s)", k ? "," : "",
                                 s->nearest[s->pairs[k]],
                                 gm_dataset_get(j->d->ds, j->d->train_idx[t])->name);
      }
      gm_cli_doc_figure(d, src, alt, cap, 1);
    } else {
      gm_cli_doc_para(d, "note", "No samples to compare.");
    }
    gm_cli_doc_column_end(d);
  }
  gm_cli_doc_columns_end(d);
}

/* "PixelCNN's is exact. DDPM's is a bound (...)." for every model. */
static void likelihood_kinds(gm_cli_doc *d, const gm_cmp_job *j) {
  for (int i = 0; i < j->n_models; i++) {
    const gm_cmp_model *m = &j->model[i];
    char what[160];
    switch (m->vt->nll ? m->info.likelihood : GM_LIKELIHOOD_NONE) {
    case GM_LIKELIHOOD_EXACT: snprintf(what, sizeof what, "is exact"); break;
    case GM_LIKELIHOOD_BOUND:
      snprintf(what, sizeof what, "is a bound (an upper bound on its negative log-likelihood)");
      break;
    case GM_LIKELIHOOD_NONE:
      snprintf(what, sizeof what, "is not available: the model has no likelihood");
      break;
    default: snprintf(what, sizeof what, "is what its plugin reports (of no declared kind)");
    }
    fprintf(d->f, " ");
    char text[300];
    snprintf(text, sizeof text, "%s's %s.", m->title, what);
    gm_cli_doc_text(d, text, 0);
  }
}

static void method_section(gm_cli_doc *d, const gm_cmp_job *j) {
  const gm_cmp_options *o = j->o;
  int bound = 0;
  for (int i = 0; i < j->n_models; i++) bound |= j->model[i].info.likelihood == GM_LIKELIHOOD_BOUND;
  gm_cli_doc_heading(d, 2, "How the numbers are made");
  gm_cli_doc_para(
      d, NULL,
      "Every model trains one after the other on the same device, on the training "
      "split, for the same budget; each samples with its default sampler from a fixed seed, "
      "in one call of %d images, timed from the call to the images read back. Image metrics "
      "compare images at the models' 16 levels per channel (q = v >> 4, shown as q x 17).",
      o->n);
  gm_cli_doc_para_begin(d, NULL);
  gm_cli_doc_text(d,
                  "Bits/dim: the negative log-likelihood of the held-out images in bits per "
                  "subpixel of 16 levels.",
                  0);
  likelihood_kinds(d, j);
  if (bound)
    gm_cli_doc_text(
        d,
        o->t_samples == 0
            ? " A bound is summed over every noise level (`--t-samples K` estimates the sum "
              "from K levels instead: faster, but on a handful of images the estimate swings "
              "by a bit or more between seeds)."
            : " A bound's sum over noise levels is estimated from K levels drawn per image "
              "(`--t-samples`); on a handful of images this estimate swings by a bit or more "
              "between seeds, so `--t-samples 0`, the full sum, is the figure to quote.",
        0);
  gm_cli_doc_text(d,
                  " Baselines on the same images: uniform (exactly 4) and an independent "
                  "per-channel histogram fitted on the training images with add-one smoothing.",
                  0);
  gm_cli_doc_para_end(d);
  char refs[800] = "";
  for (int i = 0; i < j->n_models; i++) {
    const gm_sampler_info *r = gm_cmp_reference(&j->model[i]);
    if (r)
      snprintf(refs + strlen(refs), sizeof refs - strlen(refs), "%s%s %s", refs[0] ? ", " : "",
               j->model[i].title, r->name);
  }
  gm_cli_doc_para(
      d, NULL,
      "Network evaluations: full-image network passes per image, as each sampler counts "
      "them (a cached sampler counts the share of positions it recomputes). Sampler costs "
      "are measured on a batch of %d; a reference sampler (%s) runs only when its estimate "
      "fits `--timing-limit`, and is extrapolated otherwise, as the table marks.",
      o->timing_n, refs[0] ? refs : "none declared");
  gm_cli_doc_para(
      d, NULL,
      "Colour: the joint 16x16x16 RGB histogram of the pixels that are not "
      "background (a pixel is background when every channel lies within %d level of the "
      "background colour's, i.e. below 32 for black), normalised; Jensen-Shannon divergence "
      "(base 2, 0 to 1) and total variation between the samples' and the training images'; "
      "per-channel mean and standard deviation of the same pixels.",
      GM_CMP_BG_LEVELS);
  if (j->d->featnet)
    gm_cli_doc_para(
        d, NULL,
        "Sample quality: every image (samples, training and held-out images alike, all at "
        "16 levels) goes through an emoji feature network (`%s`; the one genmoji ships is "
        "a small CNN trained by `genmoji features train` to name the Unicode subgroup of "
        "every emoji of the font, data/featnet-v1.log), whose %d penultimate features, scaled to unit length, stand in for FID's "
        "Inception features. Against the training split's features: KID, the unbiased MMD^2 "
        "with the cubic polynomial kernel, mean and standard error over %d subsets of up "
        "to %d images (x 1000; 0 means the same distribution and it can fall below 0); "
        "the Frechet distance between Gaussians fitted to both; precision (the share of "
        "samples inside the k = %d nearest-neighbour ball of some training image) and "
        "recall (the share of training images inside a sample's ball). The held-out "
        "images, real faces the models never saw, scored the same way give the floor: a "
        "model at the floor draws faces as real as unseen emojis. With few images these "
        "numbers are noisy; the standard error says how much for KID.",
        j->d->features_path, FEATNET_DIM, GM_SQ_KID_SUBSETS, GM_SQ_KID_SUBSET_SIZE, GM_SQ_K);
  else gm_cli_doc_para(d, NULL, "Sample quality: not measured (%s).", j->d->quality_note);
  gm_cli_doc_para(
      d, NULL,
      "Novelty and diversity: the RMS difference per subpixel on the 0..255 scale. "
      "Each sample's nearest training image; a sample nearer than %g is a near copy (two "
      "distinct training emojis are at least %.1f apart here). Diversity is the mean over "
      "all pairs of samples, beside the same figure for the training images.",
      GM_CMP_NEAR_COPY_RMS, j->d->train_loo_min);
}

static void repeat_section(gm_cli_doc *d, const gm_cmp_job *j) {
  const gm_cmp_options *o = j->o;
  char buf[8192];
  gm_cli_doc_heading(d, 2, "Repeat this run");
  gm_cli_doc_para(d, NULL, "The command as run, then the same with every default spelled out:");
  gm_cli_doc_pre(d, gm_cmp_command(o, buf, sizeof buf));
  gm_cli_doc_pre(d, gm_cmp_full_command(j, buf, sizeof buf));
  const char *first = j->model[0].name;
  gm_cli_doc_para(
      d, NULL,
      "The sample grids come back from the checkpoints alone with `genmoji sample "
      "--checkpoint %s/last.safetensors --n %d --seed %llu --out grid.png` (and the "
      "same for every model), and the held-out figures with `genmoji eval --checkpoint "
      "%s/last.safetensors --t-samples %d --seed %llu` plus this run's data options. "
      "Training times differ between runs, so a time budget gives a different step count "
      "on a busier machine; `--steps` fixes it.",
      first, o->n, o->seed, first, o->t_samples, o->seed);
  /* links only to what exists: a stopped run may not have reached a model */
  gm_cli_doc_para_begin(d, NULL);
  gm_cli_doc_text(d, "Files: ", 0);
  int k = 0;
  const char *own[] = {"metrics.json", "report.md", "index.html"};
  for (int i = 0; i < 3; i++) {
    if (strcmp(own[i], d->html ? "index.html" : "report.md") == 0) continue;
    if (k++) gm_cli_doc_text(d, ", ", 0);
    if (d->html) fprintf(d->f, "<a href=\"%s\">%s</a>", own[i], own[i]);
    else fprintf(d->f, "`%s`", own[i]);
  }
  const char *per_model[] = {"metrics.jsonl", "last.safetensors"};
  for (int f = 0; f < 2; f++)
    for (int i = 0; i < j->n_models; i++) {
      char rel[200], path[4400];
      snprintf(rel, sizeof rel, "%s/%s", j->model[i].name, per_model[f]);
      snprintf(path, sizeof path, "%s/%s", o->out, rel);
      if (access(path, F_OK) != 0) continue;
      gm_cli_doc_text(d, ", ", 0);
      if (d->html) fprintf(d->f, "<a href=\"%s\">%s</a>", rel, rel);
      else fprintf(d->f, "`%s`", rel);
    }
  gm_cli_doc_text(d, " (metrics.json holds every number).", 0);
  gm_cli_doc_para_end(d);
}

static const char STYLE[] =
    "body{font-family:system-ui,sans-serif;max-width:1200px;margin:1.5em auto;padding:0 1em;"
    "color:#222;line-height:1.45}\n"
    "h1{font-size:1.6em}h2{margin-top:1.6em;border-bottom:1px solid #ddd}\n"
    "img{max-width:100%;height:auto}img.px{image-rendering:pixelated}\n"
    "figure{margin:0.5em 0}figcaption{font-size:0.9em;color:#555}\n"
    ".cols{display:grid;grid-template-columns:repeat(auto-fit,minmax(280px,1fr));gap:28px}\n"
    "table{border-collapse:collapse;margin:0.5em 0}th,td{padding:4px 10px;"
    "border-bottom:1px solid #e2e2e2;vertical-align:top}\n"
    "table.metrics{width:100%}table.metrics th[scope=row]{width:24%}"
    "table.metrics td{text-align:right;font-variant-numeric:tabular-nums}"
    "table.metrics td:last-child{text-align:left;color:#555;font-size:0.9em}\n"
    "th{text-align:left;font-weight:normal}tr:first-child th{font-weight:bold}"
    "tr.sec th{font-weight:bold;background:#f3f3f3;padding-top:8px}\n"
    "table.kv th{color:#555;white-space:nowrap}\n"
    "pre{background:#f6f6f6;padding:8px;overflow-x:auto;white-space:pre-wrap}"
    "code{background:#f3f3f3;padding:0 3px}\n"
    "p.note{background:#fff6d8;padding:6px 10px}p.ok{background:#e6f4e6;padding:6px 10px}"
    "p.small{font-size:0.85em;color:#555}\n";

static void write_doc(gm_cli_doc *d, const gm_cmp_job *j) {
  char title[1024] = "", data[256];
  for (int i = 0; i < j->n_models; i++)
    snprintf(title + strlen(title), sizeof title - strlen(title), "%s%s",
             i == 0 ? "" : i + 1 < j->n_models ? ", " : " vs ", j->model[i].title);
  snprintf(title + strlen(title), sizeof title - strlen(title), " on %s",
           data_title(j->o, data, sizeof data));
  if (d->html) {
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>", d->f);
    gm_cli_svg_escape(d->f, title);
    fprintf(d->f, "</title>\n<style>\n%s</style>\n</head>\n<body>\n", STYLE);
    gm_cli_doc_heading(d, 1, title);
  } else {
    fputs("# ", d->f);
    gm_cli_doc_text(d, title, 0);
    fputc('\n', d->f);
  }
  gm_cli_doc_para(d, "small", "genmoji compare, started %s.", j->started);
  status_section(d, j);
  summary_section(d, j);
  question_section(d);
  setup_section(d, j);
  samples_section(d, j);
  loss_section(d);
  metrics_section(d, j);
  pairs_section(d, j);
  method_section(d, j);
  repeat_section(d, j);
  if (d->html) fputs("</body>\n</html>\n", d->f);
}

static int write_text(const gm_cmp_job *j, const char *name, int html, gm_error *err) {
  char path[4400];
  snprintf(path, sizeof path, "%s/%s", j->o->out, name);
  gm_cli_file o;
  int rc = gm_cli_file_open(&o, path, err);
  if (rc) return rc;
  gm_cli_doc d = {.f = o.f, .html = html};
  write_doc(&d, j);
  return gm_cli_file_close(&o, err);
}

static int write_json(const gm_cmp_job *j, gm_error *err) {
  cJSON *root = gm_cmp_metrics_json(j);
  char *s = gm_cli_json_text(root, 1);
  cJSON_Delete(root);
  if (!s) return gm_error_set(err, GM_ENOMEM, "metrics.json: out of memory");
  char path[4400];
  snprintf(path, sizeof path, "%s/metrics.json", j->o->out);
  gm_cli_file o;
  int rc = gm_cli_file_open(&o, path, err);
  if (!rc) {
    fputs(s, o.f);
    fputc('\n', o.f);
    rc = gm_cli_file_close(&o, err);
  }
  free(s);
  return rc;
}

int gm_cmp_write_report(const gm_cmp_job *j, gm_error *err) {
  int rc = write_json(j, err);
  if (!rc) rc = gm_cmp_write_loss_svg(j, err);
  if (!rc) rc = write_text(j, "report.md", 0, err);
  if (!rc) rc = write_text(j, "index.html", 1, err);
  return rc;
}
