/* `genmoji compare`, the study end to end: the state of one comparison job, shared by its
 * files. cmd_compare.c parses the options and runs the phases in order with progress and
 * a clean stop; compare_run.c holds the phases that use the device (train, sample, eval,
 * sampler costs); compare_metrics.c the host metrics and metrics.json; compare_report.c
 * index.html and report.md; svg.c the loss charts. */
#ifndef GM_CLI_COMPARE_H
#define GM_CLI_COMPARE_H

#include <signal.h>
#include <stdint.h>

#include "cli.h"
#include "dataopts.h"
#include "progress.h"

/* The two models compared. */
#define GM_CLI_CMP_MODELS 2
/* Pixels within this many 16-level steps of the background colour in every channel are
 * background for the colour statistics (black background: every channel below 32). */
#define GM_CLI_CMP_BG_LEVELS 1
/* A sample whose nearest training image is closer than this (RMS per subpixel, 0..255
 * scale, both at 16 levels) counts as a near copy. */
#define GM_CLI_CMP_NEAR_COPY_RMS 12.0
/* The final smoothed loss is the mean of the last tenth of the steps, at most this many. */
#define GM_CLI_CMP_RECENT 10
/* How many closest sample/training pairs the report shows per model. */
#define GM_CLI_CMP_PAIRS 8

typedef enum gm_cli_cmp_status {
  GM_CLI_CMP_NOT_RUN = 0, /* never started (an earlier stop or failure) */
  GM_CLI_CMP_DONE,
  GM_CLI_CMP_STOPPED, /* Ctrl-C/SIGTERM ended it early; what it made so far is kept */
  GM_CLI_CMP_FAILED,  /* an error; note holds the message */
  GM_CLI_CMP_SKIPPED  /* nothing to do (no held-out images, no likelihood, no samples) */
} gm_cli_cmp_status;

typedef struct gm_cli_cmp_phase {
  gm_cli_cmp_status status;
  double seconds; /* wall time the phase took */
  char note[600]; /* why it was stopped, failed or skipped */
} gm_cli_cmp_phase;

/* One sampler timed on a small batch. */
typedef struct gm_cli_cmp_cost {
  char sampler[32];
  int n;     /* images in the batch */
  int steps; /* the steps asked for (DDIM), 0 = the sampler's own */
  double seconds_per_image;
  double evaluations_per_image;      /* network evaluations (full-image passes) per image */
  int measured;                      /* 1: the sampler ran; 0: extrapolated (method says how) */
  double estimate_seconds_per_image; /* the extrapolation, also when it then ran */
  double estimate_evaluations_per_image;
  int identical; /* 1/0: the same images as the first sampler's; -1: n/a */
  char method[600];
} gm_cli_cmp_cost;

/* What the report says about one model's samples (compare_metrics.c). */
typedef struct gm_cli_cmp_sample_metrics {
  int valid;
  double js_bits, tv;     /* colour distance to the training images */
  double mean[3], std[3]; /* foreground colour per channel */
  double foreground;      /* share of pixels that are not background */
  double *nearest;        /* (n) RMS to the nearest training image */
  int *nearest_idx;       /* (n) which one (index into the training split) */
  double nearest_mean, nearest_median, nearest_min;
  double near_copy_share;
  double diversity;            /* mean pairwise RMS among the samples */
  int pairs[GM_CLI_CMP_PAIRS]; /* samples with the closest training images, closest first */
  int n_pairs;
} gm_cli_cmp_sample_metrics;

/* What the compare command knows about each model it compares. */
typedef struct gm_cli_cmp_spec {
  const char *name;        /* the model plugin */
  const char *title;       /* "PixelCNN" */
  const char *likelihood;  /* "exact" or "bound" */
  const char *fast, *slow; /* the samplers whose costs are compared */
  int fast_steps;          /* steps asked of the fast sampler (0: its own) */
  const char *loss_unit;   /* what its training loss measures (see gm_cli_cmp_loss_unit) */
} gm_cli_cmp_spec;

typedef struct gm_cli_cmp_model {
  const gm_cli_cmp_spec *spec;
  const char *preset; /* --preset-NAME; NULL = the model's first */
  const char **sets;  /* --set-NAME values (the image size first when --size) */
  int n_sets;
  const gm_plugin_record *rec;
  const gm_model_vtable *vt;
  gm_resolved_options opts;
  char dir[4200];     /* <out>/<name> */
  gm_train_config tc; /* the trainer borrows it */
  gm_trainer *trainer;
  int64_t parameters;  /* trainable values */
  int has_ema, ema_in; /* keeps an EMA; the EMA weights are swapped in */
  /* training */
  gm_cli_cmp_phase train;
  gm_train_result tr;
  double recent[GM_CLI_CMP_RECENT]; /* the last losses, a ring */
  int64_t losses;                    /* steps whose loss it has seen */
  double ips_live;                 /* images/s while it trains (for the ETA) */
  /* sampling with the default sampler */
  gm_cli_cmp_phase sample;
  char sampler[32];
  int n;            /* images drawn */
  uint8_t *samples; /* n (S, S, 3) RGB8 images as drawn */
  double sample_seconds, evaluations_per_image;
  /* held-out likelihood */
  gm_cli_cmp_phase eval;
  double bits_per_dim;
  int eval_images, t_samples;
  /* sampler costs on a small batch */
  gm_cli_cmp_phase costs;
  gm_cli_cmp_cost cost[2];
  int n_costs;
  gm_cli_cmp_sample_metrics metrics;
} gm_cli_cmp_model;

typedef struct gm_cli_cmp_job {
  /* options */
  gm_cli_dataopts data;
  int default_data; /* no --data: noto --subset faces --yellow */
  double time_s;    /* per model; 0 when steps */
  long long steps;  /* per model; 0 when time */
  int n;            /* samples per model */
  unsigned long long seed;
  const char *out;
  const char *device;
  int t_samples;         /* DDPM bound: levels drawn per image */
  int timing_n;          /* images in the sampler-cost batches */
  double timing_limit_s; /* a reference sampler runs when its estimate fits */
  int json, quiet;
  int argc;
  char **argv;
  /* set up */
  gm_device *dev;
  gm_dataset *ds;
  const gm_plugin_record *loader;
  char *data_desc; /* JSON of the data options (trainer metadata, report) */
  int size;        /* image side */
  size_t len;      /* bytes per RGB8 image: 3 S S */
  int *train_idx, n_train, *held_idx, n_held;
  const uint8_t **train_rgb; /* (n_train) the dataset's images */
  uint8_t *train_q;          /* (n_train) at 16 levels, for the metrics */
  const uint8_t **train_qp;
  char started[40]; /* local date and time */
  char device_desc[600];
  volatile sig_atomic_t *stop; /* set by SIGINT/SIGTERM (SIGHUP counts as SIGTERM) */
  volatile sig_atomic_t *saving; /* the trainers' saving flag (gm_train_config.saving) */
  int stop_signal;
  char stopped_in[80]; /* the phase a stop ended ("" when none) */
  double t0;           /* when the job began (monotonic) */
  /* job-wide numbers */
  double uniform_bpd, histogram_bpd;
  double train_mean[3], train_std[3], train_foreground, train_diversity;
  double train_loo_min, train_loo_median; /* nearest other training image */
  double colour_hist_train[4096];
  gm_cli_cmp_model model[GM_CLI_CMP_MODELS];
  /* progress */
  gm_cli_progress bar;
  char label[160];
  gm_cli_cmp_model *current; /* the model of the phase in progress */
  int phase, n_phases;
  double phase_start, unit_start; /* when the phase and its current sampler call began */
  int64_t sync_every, sync_done;  /* progress waits for the device every sync_every units */
  double sync_time;               /* when it last did (after sync_done units) */
  double estimate[16];            /* seconds per phase; < 0 = unknown */
} gm_cli_cmp_job;

extern const gm_cli_cmp_spec gm_cli_cmp_specs[GM_CLI_CMP_MODELS];

/* compare_run.c: one phase each; they fill the model's phase record and return 0, or an
 * exit code of 1 after a failure that ends the job (the device is unusable). */
int gm_cli_cmp_train(gm_cli_cmp_job *j, gm_cli_cmp_model *m);
int gm_cli_cmp_sample(gm_cli_cmp_job *j, gm_cli_cmp_model *m);
int gm_cli_cmp_eval(gm_cli_cmp_job *j, gm_cli_cmp_model *m);
int gm_cli_cmp_costs(gm_cli_cmp_job *j, gm_cli_cmp_model *m);
/* Rough network passes per image, for the job's ETA before a phase has run: of the
 * default sampler (sample_phase 1) or the fast cost sampler (0), and of the reference. */
double gm_cli_cmp_guess_passes(const gm_cli_cmp_model *m, int sample_phase);
double gm_cli_cmp_guess_slow_passes(const gm_cli_cmp_model *m, int size);
/* What m's training loss measures: the spec's words, or for a DDPM predicting v
 * (option pred=v) the error of v. */
const char *gm_cli_cmp_loss_unit(const gm_cli_cmp_model *m);
/* The job's progress label and callbacks (cmd_compare.c). */
void gm_cli_cmp_progress_train(void *ctx, const gm_train_progress *p);
void gm_cli_cmp_progress_units(void *ctx, int64_t done, int64_t total);
/* A fresh progress bar under the job's label (before each trainer or sampler call). */
void gm_cli_cmp_bar_reset(gm_cli_cmp_job *j);
double gm_cli_cmp_now(void);

/* compare_metrics.c */
/* The mean loss of the last tenth of m's steps (1 to GM_CLI_CMP_RECENT of them); *k
 * receives how many (may be NULL). NAN before any step. */
double gm_cli_cmp_final_loss(const gm_cli_cmp_model *m, int *k);
/* Baselines and the training set's own numbers (needs the dataset). */
void gm_cli_cmp_metrics_data(gm_cli_cmp_job *j);
/* The sample metrics of m (needs m->samples). Returns 0 or GM_ENOMEM. */
int gm_cli_cmp_metrics_samples(gm_cli_cmp_job *j, gm_cli_cmp_model *m);
void gm_cli_cmp_metrics_free(gm_cli_cmp_sample_metrics *s);
/* Every number of the job as metrics.json's object (NULL when out of memory). */
cJSON *gm_cli_cmp_metrics_json(const gm_cli_cmp_job *j);
/* The equivalent command with every default spelled out, into buf. */
const char *gm_cli_cmp_full_command(const gm_cli_cmp_job *j, char *buf, size_t n);
/* The command as typed (argv shell-quoted), into buf. */
const char *gm_cli_cmp_command(const gm_cli_cmp_job *j, char *buf, size_t n);
const char *gm_cli_cmp_status_name(gm_cli_cmp_status s);

/* compare_report.c and compare_figures.c: metrics.json, index.html, report.md, loss.svg
 * and the grids in the out folder; every file atomically (temp file, rename). */
int gm_cli_cmp_write_report(gm_cli_cmp_job *j, gm_error *err);
/* The training-set grid (once, after the data is loaded). */
int gm_cli_cmp_write_train_grid(gm_cli_cmp_job *j, gm_error *err);
/* A model's sample grid and nearest-pair grid (after its metrics). */
int gm_cli_cmp_write_model_grids(gm_cli_cmp_job *j, gm_cli_cmp_model *m, gm_error *err);
/* loss.svg: one panel per model from its metrics.jsonl (compare_figures.c). */
int gm_cli_cmp_write_loss_svg(const gm_cli_cmp_job *j, gm_error *err);

#endif
