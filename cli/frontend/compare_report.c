/* The report of `genmoji compare`: index.html and report.md, written from one description
 * of their content (report_doc.h) so the two always say the same, and metrics.json. The
 * report is rewritten after every phase; a part that has not run says so. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compare.h"
#include "report_doc.h"
#include "svg.h"

/* ---- formatting numbers ---- */

static const char *fmt(char *buf, size_t n, const char *f, double v) {
  if (!isfinite(v)) snprintf(buf, n, "n/a");
  else snprintf(buf, n, f, v);
  return buf;
}

/* The cell of a value the phase may not have produced. */
static const char *cell(char *buf, size_t n, const gm_cli_cmp_phase *p, const char *f, double v) {
  if (p->status == GM_CLI_CMP_DONE || p->status == GM_CLI_CMP_STOPPED) return fmt(buf, n, f, v);
  snprintf(buf, n, "(%s)", gm_cli_cmp_status_name(p->status));
  return buf;
}

static const char *data_title(const gm_cli_cmp_job *j, char *buf, size_t n) {
  const gm_dataset_options *o = &j->data.ds;
  snprintf(buf, n, "%s%s%s%s", o->yellow ? "yellow " : "", o->subset ? "emoji faces" : "images",
           strcmp(j->data.data, "noto") == 0 ? " from Noto Color Emoji" : " from ",
           strcmp(j->data.data, "noto") == 0 ? "" : j->data.data);
  return buf;
}

/* ---- the sections ---- */

static void status_section(gm_cli_doc *d, const gm_cli_cmp_job *j) {
  char wall[32];
  gm_cli_duration(gm_cli_cmp_now() - j->t0, wall, sizeof wall);
  if (j->stopped_in[0])
    gm_cli_doc_para(d, "note",
                    "Stopped by %s during %s, after %s. The sections below show what finished; "
                    "each unfinished part says so.",
                    j->stop_signal == SIGTERM ? "SIGTERM" : "Ctrl-C", j->stopped_in, wall);
  else if (j->phase < j->n_phases)
    gm_cli_doc_para(d, "note",
                    "In progress (%s so far): this report is rewritten after every phase; parts "
                    "not yet run say so.",
                    wall);
  else
    gm_cli_doc_para(d, "ok", "Complete: both models trained, sampled, evaluated and timed in %s.",
                    wall);
  for (int i = 0; i < GM_CLI_CMP_MODELS; i++) {
    const gm_cli_cmp_model *m = &j->model[i];
    const gm_cli_cmp_phase *ps[] = {&m->train, &m->sample, &m->eval, &m->costs};
    const char *names[] = {"training", "sampling", "evaluation", "sampler costs"};
    for (int k = 0; k < 4; k++)
      if (ps[k]->status == GM_CLI_CMP_FAILED || ps[k]->status == GM_CLI_CMP_STOPPED ||
          ps[k]->status == GM_CLI_CMP_SKIPPED)
        gm_cli_doc_para(d, "note", "%s %s %s: %s", m->spec->title, names[k],
                        gm_cli_cmp_status_name(ps[k]->status), ps[k]->note);
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
      "on this machine: likelihood of held-out images in one unit (bits per dimension), "
      "sampling cost, colour fidelity, novelty and diversity.");
}

static void setup_section(gm_cli_doc *d, const gm_cli_cmp_job *j) {
  char buf[8192], a[64];
  gm_cli_doc_heading(d, 2, "Setup");
  gm_cli_doc_table_begin(d, "kv");
  gm_cli_doc_row(d, 1, "setting\tvalue");
  gm_cli_doc_rowf(d, 0,
                  "data\t%s: %d images, %d for training, %d held out (by name hash), %dx%d over "
                  "#%02x%02x%02x",
                  data_title(j, buf, sizeof buf), j->ds ? gm_dataset_count(j->ds) : 0, j->n_train,
                  j->n_held, j->size, j->size, j->data.ds.background[0], j->data.ds.background[1],
                  j->data.ds.background[2]);
  gm_cli_doc_rowf(d, 0, "device\t%s", j->device_desc);
  if (j->steps > 0) gm_cli_doc_rowf(d, 0, "budget\t%lld optimiser steps per model", j->steps);
  else
    gm_cli_doc_rowf(d, 0, "budget\t%s of training per model, one after the other",
                    gm_cli_duration(j->time_s, a, sizeof a));
  for (int i = 0; i < GM_CLI_CMP_MODELS; i++) {
    const gm_cli_cmp_model *m = &j->model[i];
    char params[48] = "";
    if (m->parameters)
      snprintf(params, sizeof params, ", %lld parameters", (long long)m->parameters);
    gm_cli_doc_rowf(d, 0, "%s\tpreset `%s`%s%s: %s", m->spec->title,
                    m->opts.preset ? m->opts.preset->name : "?", params,
                    m->has_ema ? ", EMA weights" : "",
                    m->opts.preset && m->opts.preset->summary ? m->opts.preset->summary : "");
  }
  gm_cli_doc_rowf(d, 0, "seed\t%llu (initialisation, data order, noise, samplers)", j->seed);
  gm_cli_doc_rowf(d, 0, "started\t%s", j->started);
  gm_cli_doc_rowf(d, 0, "genmoji\t%s (libgenmoji %s)", GM_CLI_VERSION, gm_version());
  gm_cli_doc_table_end(d);
}

static void samples_section(gm_cli_doc *d, const gm_cli_cmp_job *j) {
  char cap[1024], src[256], alt[128];
  gm_cli_doc_heading(d, 2, "Training images");
  if (j->n_train)
    gm_cli_doc_figure(d, "train.png", "training images",
                      "The training split as the models see it (composited, resized), at 2x.", 1);
  gm_cli_doc_heading(d, 2, "Samples");
  gm_cli_doc_columns_begin(d);
  for (int i = 0; i < GM_CLI_CMP_MODELS; i++) {
    const gm_cli_cmp_model *m = &j->model[i];
    gm_cli_doc_column_begin(d);
    gm_cli_doc_heading(d, 3, m->spec->title);
    if (m->sample.status == GM_CLI_CMP_DONE) {
      snprintf(src, sizeof src, "%s/samples.png", m->spec->name);
      snprintf(alt, sizeof alt, "%s samples", m->spec->title);
      snprintf(cap, sizeof cap,
               "%d samples at 4x, sampler `%s`, seed %llu%s; %.3g s per image, "
               "%.4g network evaluations per image.",
               m->n, m->sampler, j->seed, m->ema_in ? ", EMA weights" : "",
               m->sample_seconds / m->n, m->evaluations_per_image);
      gm_cli_doc_figure(d, src, alt, cap, 1);
    } else {
      gm_cli_doc_para(d, "note", "Not sampled (%s)%s%s", gm_cli_cmp_status_name(m->sample.status),
                      m->sample.note[0] ? ": " : ".", m->sample.note);
    }
    gm_cli_doc_column_end(d);
  }
  gm_cli_doc_columns_end(d);
}

static void loss_section(gm_cli_doc *d, const gm_cli_cmp_job *j) {
  gm_cli_doc_heading(d, 2, "Training loss");
  gm_cli_doc_figure(
      d, "loss.svg", "training loss of both models",
      "Loss per optimiser step against training time, each in its own unit (the two losses "
      "are not comparable with each other; the held-out bits/dim below are). Thin: every "
      "step; thick: an exponential average, once a run has enough steps for one.",
      0);
  (void)j;
}

static void likelihood_rows(gm_cli_doc *d, const gm_cli_cmp_job *j) {
  char a[2][96], b[64], c[64];
  gm_cli_doc_section_row(d, "Held-out likelihood (bits/dim, 16 levels; lower is better)");
  for (int i = 0; i < GM_CLI_CMP_MODELS; i++) {
    const gm_cli_cmp_model *m = &j->model[i];
    cell(a[i], sizeof a[i], &m->eval, "%.4f", m->bits_per_dim);
    if (m->eval.status == GM_CLI_CMP_DONE || m->eval.status == GM_CLI_CMP_STOPPED) {
      size_t l = strlen(a[i]);
      if (m->t_samples)
        snprintf(a[i] + l, sizeof a[i] - l, " (bound, estimated from %d levels)", m->t_samples);
      else if (strcmp(m->spec->likelihood, "bound") == 0)
        snprintf(a[i] + l, sizeof a[i] - l, " (bound, every level)");
      else snprintf(a[i] + l, sizeof a[i] - l, " (%s)", m->spec->likelihood);
    }
  }
  gm_cli_doc_rowf(d, 0,
                  "bits/dim on %d held-out images\t%s\t%s\tuniform %s; per-channel histogram %s",
                  j->n_held, a[0], a[1], fmt(b, sizeof b, "%.2f", j->uniform_bpd),
                  fmt(c, sizeof c, "%.4f", j->histogram_bpd));
}

static void training_rows(gm_cli_doc *d, const gm_cli_cmp_job *j) {
  char a[2][64];
  gm_cli_doc_section_row(d, "Training (the same budget each)");
  const gm_cli_cmp_model *p = &j->model[0], *q = &j->model[1];
#define TRAIN_ROW(label, f, expr)                                           \
  gm_cli_doc_rowf(d, 0, "%s\t%s\t%s\t", label,                              \
                  cell(a[0], sizeof a[0], &p->train, f, (double)(p->expr)), \
                  cell(a[1], sizeof a[1], &q->train, f, (double)(q->expr)))
  TRAIN_ROW("optimiser steps", "%.0f", tr.step);
  TRAIN_ROW("epochs", "%.0f", tr.epoch);
  TRAIN_ROW("images seen", "%.0f", tr.images_seen);
  TRAIN_ROW("images/s", "%.2f", tr.images_per_s);
  TRAIN_ROW("training time (s)", "%.1f", tr.wall_s);
#undef TRAIN_ROW
  double s0 = gm_cli_cmp_final_loss(p, NULL), s1 = gm_cli_cmp_final_loss(q, NULL);
  gm_cli_doc_rowf(d, 0,
                  "final loss\t%s\t%s\tmean of the last tenth of the steps (at most "
                  "10); units differ: %s / %s",
                  cell(a[0], sizeof a[0], &p->train, "%.4f", s0),
                  cell(a[1], sizeof a[1], &q->train, "%.4f", s1), gm_cli_cmp_loss_unit(p),
                  gm_cli_cmp_loss_unit(q));
  gm_cli_doc_rowf(d, 0, "trainable parameters\t%s\t%s\t",
                  fmt(a[0], sizeof a[0], "%.0f", p->parameters ? (double)p->parameters : NAN),
                  fmt(a[1], sizeof a[1], "%.0f", q->parameters ? (double)q->parameters : NAN));
}

static void sampling_rows(gm_cli_doc *d, const gm_cli_cmp_job *j) {
  char a[2][96];
  const gm_cli_cmp_model *p = &j->model[0], *q = &j->model[1];
  gm_cli_doc_section_row(d, "Sampling with the default sampler");
  gm_cli_doc_rowf(d, 0, "sampler\t%s\t%s\t",
                  p->sample.status == GM_CLI_CMP_DONE ? p->sampler : "(not run)",
                  q->sample.status == GM_CLI_CMP_DONE ? q->sampler : "(not run)");
  gm_cli_doc_rowf(
      d, 0, "seconds per image (%d in one call)\t%s\t%s\t", j->n,
      cell(a[0], sizeof a[0], &p->sample, "%.4g", p->sample_seconds / (p->n ? p->n : 1)),
      cell(a[1], sizeof a[1], &q->sample, "%.4g", q->sample_seconds / (q->n ? q->n : 1)));
  gm_cli_doc_rowf(d, 0,
                  "network evaluations per image\t%s\t%s\tone evaluation = one full-image pass",
                  cell(a[0], sizeof a[0], &p->sample, "%.4g", p->evaluations_per_image),
                  cell(a[1], sizeof a[1], &q->sample, "%.4g", q->evaluations_per_image));
  if (p->sample.status == GM_CLI_CMP_DONE && q->sample.status == GM_CLI_CMP_DONE &&
      q->sample_seconds > 0)
    gm_cli_doc_rowf(d, 0,
                    "DDPM's time per image over PixelCNN's\t\t%.3g\tthe study: under 0.1 "
                    "(ancestral DDPM against naive PixelCNN)",
                    (q->sample_seconds / q->n) / (p->sample_seconds / p->n));
  gm_cli_doc_section_row(
      d, "Sampler costs on a small batch (seconds per image; evaluations per image)");
  for (int k = 0; k < 2; k++) {
    char label[96];
    snprintf(label, sizeof label, "%s sampler", k == 0 ? "fast" : "reference");
    for (int i = 0; i < GM_CLI_CMP_MODELS; i++) {
      const gm_cli_cmp_model *m = &j->model[i];
      if (k < m->n_costs) {
        const gm_cli_cmp_cost *c = &m->cost[k];
        char steps[32] = "";
        if (c->steps) snprintf(steps, sizeof steps, " %d steps", c->steps);
        snprintf(a[i], sizeof a[i], "%s%s: %.4g s; %.4g evals%s", c->sampler, steps,
                 c->seconds_per_image, c->evaluations_per_image,
                 c->measured ? "" : " (extrapolated)");
      } else {
        snprintf(a[i], sizeof a[i], "(%s)",
                 gm_cli_cmp_status_name(m->costs.status == GM_CLI_CMP_DONE ? GM_CLI_CMP_NOT_RUN
                                                                           : m->costs.status));
      }
    }
    gm_cli_doc_rowf(
        d, 0, "%s, batch of %d\t%s\t%s\t%s", label, j->timing_n, a[0], a[1],
        k == 0 ? "PixelCNN cached, DDPM DDIM" : "PixelCNN naive, DDPM ancestral (T steps)");
  }
  for (int i = 0; i < GM_CLI_CMP_MODELS; i++) {
    const gm_cli_cmp_model *m = &j->model[i];
    if (m->n_costs == 2 && m->cost[0].seconds_per_image > 0)
      snprintf(a[i], sizeof a[i], "%.3gx%s",
               m->cost[1].seconds_per_image / m->cost[0].seconds_per_image,
               m->cost[1].identical == 1   ? " (identical images)"
               : m->cost[1].identical == 0 ? " (images differ)"
                                           : "");
    else snprintf(a[i], sizeof a[i], "n/a");
  }
  gm_cli_doc_rowf(d, 0, "reference / fast time\t%s\t%s\t", a[0], a[1]);
  if (p->n_costs == 2 && q->n_costs == 2 && p->cost[1].seconds_per_image > 0)
    gm_cli_doc_rowf(d, 0,
                    "DDPM ancestral over PixelCNN naive, per image\t\t%.3g\tthe study's two "
                    "samplers; the study: under 0.1",
                    q->cost[1].seconds_per_image / p->cost[1].seconds_per_image);
}

static void colour_rows(gm_cli_doc *d, const gm_cli_cmp_job *j) {
  char a[2][96], t[96];
  const gm_cli_cmp_sample_metrics *s[2] = {&j->model[0].metrics, &j->model[1].metrics};
  gm_cli_doc_section_row(d, "Colour of the foreground pixels against the training images");
  for (int i = 0; i < 2; i++) fmt(a[i], sizeof a[i], "%.4f", s[i]->valid ? s[i]->js_bits : NAN);
  gm_cli_doc_rowf(d, 0, "Jensen-Shannon divergence (bits, 0..1)\t%s\t%s\t0 = the training colours",
                  a[0], a[1]);
  for (int i = 0; i < 2; i++) fmt(a[i], sizeof a[i], "%.4f", s[i]->valid ? s[i]->tv : NAN);
  gm_cli_doc_rowf(d, 0, "total variation (0..1)\t%s\t%s\t", a[0], a[1]);
  const char *what[2] = {"mean R, G, B", "std R, G, B"};
  for (int k = 0; k < 2; k++) {
    for (int i = 0; i < 2; i++) {
      const double *v = k == 0 ? s[i]->mean : s[i]->std;
      if (s[i]->valid) snprintf(a[i], sizeof a[i], "%.0f, %.0f, %.0f", v[0], v[1], v[2]);
      else snprintf(a[i], sizeof a[i], "n/a");
    }
    const double *v = k == 0 ? j->train_mean : j->train_std;
    snprintf(t, sizeof t, "training: %.0f, %.0f, %.0f", v[0], v[1], v[2]);
    gm_cli_doc_rowf(d, 0, "%s\t%s\t%s\t%s", what[k], a[0], a[1], t);
  }
  for (int i = 0; i < 2; i++) fmt(a[i], sizeof a[i], "%.3f", s[i]->valid ? s[i]->foreground : NAN);
  gm_cli_doc_rowf(d, 0, "foreground share of pixels\t%s\t%s\ttraining: %s", a[0], a[1],
                  fmt(t, sizeof t, "%.3f", j->train_foreground));
}

static void novelty_rows(gm_cli_doc *d, const gm_cli_cmp_job *j) {
  char a[2][96], t[96], u[64];
  const gm_cli_cmp_sample_metrics *s[2] = {&j->model[0].metrics, &j->model[1].metrics};
  gm_cli_doc_section_row(d, "Novelty: RMS distance to the nearest training image (0..255 scale)");
  for (int i = 0; i < 2; i++)
    if (s[i]->valid)
      snprintf(a[i], sizeof a[i], "%.1f / %.1f / %.1f", s[i]->nearest_mean, s[i]->nearest_median,
               s[i]->nearest_min);
    else snprintf(a[i], sizeof a[i], "n/a");
  gm_cli_doc_rowf(
      d, 0, "mean / median / min\t%s\t%s\ttraining image to its nearest other: median %s, min %s",
      a[0], a[1], fmt(t, sizeof t, "%.1f", j->train_loo_median),
      fmt(u, sizeof u, "%.1f", j->train_loo_min));
  for (int i = 0; i < 2; i++)
    if (s[i]->valid)
      snprintf(a[i], sizeof a[i], "%.1f%% (%.0f of %d)", 100 * s[i]->near_copy_share,
               s[i]->near_copy_share * j->model[i].n, j->model[i].n);
    else snprintf(a[i], sizeof a[i], "n/a");
  gm_cli_doc_rowf(d, 0, "near copies (nearest below %g)\t%s\t%s\t", GM_CLI_CMP_NEAR_COPY_RMS, a[0],
                  a[1]);
  gm_cli_doc_section_row(d, "Diversity: mean RMS distance between two samples");
  for (int i = 0; i < 2; i++) fmt(a[i], sizeof a[i], "%.1f", s[i]->valid ? s[i]->diversity : NAN);
  gm_cli_doc_rowf(d, 0, "mean pairwise distance\t%s\t%s\ttraining set: %s", a[0], a[1],
                  fmt(t, sizeof t, "%.1f", j->train_diversity));
}

static void metrics_section(gm_cli_doc *d, const gm_cli_cmp_job *j) {
  gm_cli_doc_heading(d, 2, "Metrics");
  gm_cli_doc_table_begin(d, "metrics");
  gm_cli_doc_rowf(d, 1, "\t%s\t%s\treference", j->model[0].spec->title, j->model[1].spec->title);
  likelihood_rows(d, j);
  training_rows(d, j);
  sampling_rows(d, j);
  colour_rows(d, j);
  novelty_rows(d, j);
  gm_cli_doc_table_end(d);
  for (int i = 0; i < GM_CLI_CMP_MODELS; i++) {
    const gm_cli_cmp_model *m = &j->model[i];
    for (int k = 1; k < m->n_costs; k++)
      if (!m->cost[k].measured)
        gm_cli_doc_para(d, "small", "%s %s sampler: %s.", m->spec->title, m->cost[k].sampler,
                        m->cost[k].method);
  }
}

static void pairs_section(gm_cli_doc *d, const gm_cli_cmp_job *j) {
  gm_cli_doc_heading(d, 2, "Closest to the training set");
  gm_cli_doc_para(
      d, NULL,
      "For each model, the %d samples nearest to a training image (top row) above "
      "that training image (bottom row), both at the 16 levels the distance is measured on. "
      "A distance below %g counts as a near copy.",
      GM_CLI_CMP_PAIRS, GM_CLI_CMP_NEAR_COPY_RMS);
  gm_cli_doc_columns_begin(d);
  for (int i = 0; i < GM_CLI_CMP_MODELS; i++) {
    const gm_cli_cmp_model *m = &j->model[i];
    const gm_cli_cmp_sample_metrics *s = &m->metrics;
    gm_cli_doc_column_begin(d);
    gm_cli_doc_heading(d, 3, m->spec->title);
    if (s->valid && s->n_pairs > 0) {
      char src[256], alt[128], cap[2048];
      size_t used = 0;
      snprintf(src, sizeof src, "%s/nearest.png", m->spec->name);
      snprintf(alt, sizeof alt, "%s samples beside their nearest training images", m->spec->title);
      used += (size_t)snprintf(cap, sizeof cap, "Distances, left to right:");
      for (int k = 0; k < s->n_pairs && used < sizeof cap; k++) {
        int t = s->nearest_idx[s->pairs[k]];
        used +=
            (size_t)snprintf(cap + used, sizeof cap - used, "%s %.1f (%s)", k ? "," : "",
                             s->nearest[s->pairs[k]], gm_dataset_get(j->ds, j->train_idx[t])->name);
      }
      gm_cli_doc_figure(d, src, alt, cap, 1);
    } else {
      gm_cli_doc_para(d, "note", "No samples to compare.");
    }
    gm_cli_doc_column_end(d);
  }
  gm_cli_doc_columns_end(d);
}

static void method_section(gm_cli_doc *d, const gm_cli_cmp_job *j) {
  gm_cli_doc_heading(d, 2, "How the numbers are made");
  gm_cli_doc_para(
      d, NULL,
      "Both models train one after the other on the same device, on the training "
      "split, for the same budget; each samples with its default sampler from a fixed seed, "
      "in one call of %d images, timed from the call to the images read back. Image metrics "
      "compare images at the models' 16 levels per channel (q = v >> 4, shown as q x 17).",
      j->n);
  gm_cli_doc_para(
      d, NULL,
      "Bits/dim: the negative log-likelihood of the held-out images in bits per "
      "subpixel of 16 levels. PixelCNN's is exact. DDPM's is the variational bound (an upper "
      "bound on its negative log-likelihood), %s. Baselines on the same images: uniform "
      "(exactly 4) and an independent per-channel histogram fitted on the training images "
      "with add-one smoothing.",
      j->t_samples == 0
          ? "summed over every noise level (`--t-samples K` estimates the sum from K levels "
            "instead: faster, but on a handful of images the estimate swings by a bit or more "
            "between seeds)"
          : "with the sum over noise levels estimated from K levels drawn per image "
            "(`--t-samples`); on a handful of images this estimate swings by a bit or more "
            "between seeds, so `--t-samples 0`, the full sum, is the figure to quote");
  gm_cli_doc_para(
      d, NULL,
      "Network evaluations: full-image network passes per image; the cached "
      "PixelCNN sampler counts the share of positions it recomputes. Sampler costs are "
      "measured on a batch of %d; a reference sampler (PixelCNN naive, DDPM ancestral) runs "
      "only when its estimate fits `--timing-limit`, and is extrapolated otherwise, as the "
      "table marks.",
      j->timing_n);
  gm_cli_doc_para(
      d, NULL,
      "Colour: the joint 16x16x16 RGB histogram of the pixels that are not "
      "background (a pixel is background when every channel lies within %d level of the "
      "background colour's, i.e. below 32 for black), normalised; Jensen-Shannon divergence "
      "(base 2, 0 to 1) and total variation between the samples' and the training images'; "
      "per-channel mean and standard deviation of the same pixels.",
      GM_CLI_CMP_BG_LEVELS);
  gm_cli_doc_para(
      d, NULL,
      "Novelty and diversity: the RMS difference per subpixel on the 0..255 scale. "
      "Each sample's nearest training image; a sample nearer than %g is a near copy (two "
      "distinct training emojis are at least %.1f apart here). Diversity is the mean over "
      "all pairs of samples, beside the same figure for the training images.",
      GM_CLI_CMP_NEAR_COPY_RMS, j->train_loo_min);
}

static void repeat_section(gm_cli_doc *d, const gm_cli_cmp_job *j) {
  char buf[8192];
  gm_cli_doc_heading(d, 2, "Repeat this run");
  gm_cli_doc_para(d, NULL, "The command as run, then the same with every default spelled out:");
  gm_cli_doc_pre(d, gm_cli_cmp_command(j, buf, sizeof buf));
  gm_cli_doc_pre(d, gm_cli_cmp_full_command(j, buf, sizeof buf));
  gm_cli_doc_para(
      d, NULL,
      "The sample grids come back from the checkpoints alone with `genmoji sample "
      "--checkpoint pixelcnn/last.safetensors --n %d --seed %llu --out grid.png` (and the "
      "same for ddpm), and the held-out figures with `genmoji eval --checkpoint "
      "ddpm/last.safetensors --t-samples %d --seed %llu` plus this run's data options. "
      "Training times differ between runs, so a time budget gives a different step count "
      "on a busier machine; `--steps` fixes it.",
      j->n, j->seed, j->t_samples, j->seed);
  /* links only to what exists: a stopped run may not have reached a model */
  static const char *const files[] = {"metrics.json",         "report.md",
                                      "index.html",           "pixelcnn/metrics.jsonl",
                                      "ddpm/metrics.jsonl",   "pixelcnn/last.safetensors",
                                      "ddpm/last.safetensors"};
  gm_cli_doc_para_begin(d, NULL);
  gm_cli_doc_text(d, "Files: ", 0);
  int k = 0;
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", j->out, files[i]);
    if (strcmp(files[i], d->html ? "index.html" : "report.md") == 0 ||
        (i >= 3 && access(path, F_OK) != 0))
      continue;
    if (k++) gm_cli_doc_text(d, ", ", 0);
    if (d->html) fprintf(d->f, "<a href=\"%s\">%s</a>", files[i], files[i]);
    else fprintf(d->f, "`%s`", files[i]);
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
    ".cols{display:grid;grid-template-columns:1fr 1fr;gap:28px}\n"
    "table{border-collapse:collapse;margin:0.5em 0}th,td{padding:4px 10px;"
    "border-bottom:1px solid #e2e2e2;vertical-align:top}\n"
    "table.metrics{width:100%}table.metrics th[scope=row]{width:24%}"
    "table.metrics td{text-align:right;font-variant-numeric:tabular-nums;width:21%}"
    "table.metrics td:last-child{text-align:left;color:#555;font-size:0.9em}\n"
    "th{text-align:left;font-weight:normal}tr:first-child th{font-weight:bold}"
    "tr.sec th{font-weight:bold;background:#f3f3f3;padding-top:8px}\n"
    "table.kv th{color:#555;white-space:nowrap}\n"
    "pre{background:#f6f6f6;padding:8px;overflow-x:auto;white-space:pre-wrap}"
    "code{background:#f3f3f3;padding:0 3px}\n"
    "p.note{background:#fff6d8;padding:6px 10px}p.ok{background:#e6f4e6;padding:6px 10px}"
    "p.small{font-size:0.85em;color:#555}\n";

static void write_doc(gm_cli_doc *d, const gm_cli_cmp_job *j) {
  char title[512], data[256];
  snprintf(title, sizeof title, "%s vs %s on %s", j->model[0].spec->title, j->model[1].spec->title,
           data_title(j, data, sizeof data));
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
  question_section(d);
  setup_section(d, j);
  samples_section(d, j);
  loss_section(d, j);
  metrics_section(d, j);
  pairs_section(d, j);
  method_section(d, j);
  repeat_section(d, j);
  if (d->html) fputs("</body>\n</html>\n", d->f);
}

static int write_text(const gm_cli_cmp_job *j, const char *name, int html, gm_error *err) {
  char path[4400];
  snprintf(path, sizeof path, "%s/%s", j->out, name);
  gm_cli_file o;
  int rc = gm_cli_file_open(&o, path, err);
  if (rc) return rc;
  gm_cli_doc d = {.f = o.f, .html = html};
  write_doc(&d, j);
  return gm_cli_file_close(&o, err);
}

static int write_json(const gm_cli_cmp_job *j, gm_error *err) {
  cJSON *root = gm_cli_cmp_metrics_json(j);
  char *s = gm_cli_json_text(root, 1);
  cJSON_Delete(root);
  if (!s) return gm_error_set(err, GM_ENOMEM, "metrics.json: out of memory");
  char path[4400];
  snprintf(path, sizeof path, "%s/metrics.json", j->out);
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

int gm_cli_cmp_write_report(gm_cli_cmp_job *j, gm_error *err) {
  int rc = write_json(j, err);
  if (!rc) rc = gm_cli_cmp_write_loss_svg(j, err);
  if (!rc) rc = write_text(j, "report.md", 0, err);
  if (!rc) rc = write_text(j, "index.html", 1, err);
  return rc;
}
