/* `genmoji compare`, the study end to end, for any list of model plugins. The files of
 * this folder and the way their calls point (each only to those below it):
 *
 *   cmd.c          the command: options, set-up, the job, the summary, clean-up
 *   options.c      argv -> gm_cmp_options (nothing is opened or created)
 *   job.c          the phase table, progress, the job's ETA and signals: the only file
 *                  that knows about progress; it runs the phases and rewrites the report
 *   phases.c       train, sample, evaluate and time one model, given callbacks
 *                  (gm_cmp_hooks); they never call back into the job or the command
 *   metrics.c      the numbers: baselines, the training set's and each model's samples',
 *                  the sample quality on the emoji feature network (sample_quality.h)
 *   image_metrics  the image statistics those are made of (colour, distances)
 *   metrics_json.c metrics.json's object
 *   report.c       index.html and report.md from one description (report_doc.h)
 *   command.c      the command as typed and with every default spelled out
 *   figures.c      the grids and loss.svg
 *
 * What a model is (its title, likelihood kind, loss unit, samplers and their costs) comes
 * from its plugin's metadata (gm_model_describe), never from its name. */
#ifndef GM_CLI_COMPARE_H
#define GM_CLI_COMPARE_H

#include <signal.h>
#include <stdint.h>

#include "../cli.h"
#include "../dataopts.h"
#include "../progress.h"
#include "../sample_quality.h"

/* At most this many models in one comparison (--models A,B,...). */
#define GM_CMP_MAX_MODELS 8
/* The models compared without --models. */
#define GM_CMP_DEFAULT_MODELS "pixelcnn,ddpm"
/* Pixels within this many 16-level steps of the background colour in every channel are
 * background for the colour statistics (black background: every channel below 32). */
#define GM_CMP_BG_LEVELS 1
/* A sample whose nearest training image is closer than this (RMS per subpixel, 0..255
 * scale, both at 16 levels) counts as a near copy. */
#define GM_CMP_NEAR_COPY_RMS 12.0
/* The final smoothed loss is the mean of the last tenth of the steps, at most this many. */
#define GM_CMP_RECENT 10
/* train.png and heldout.png show the data at 2x, each model's samples.png at 4x (square
 * grids of ceil(sqrt(n)) columns, 1-pixel gaps); metrics.json's "figures" says so too. */
#define GM_CMP_DATA_UPSCALE 2
#define GM_CMP_SAMPLE_UPSCALE 4
/* How many closest sample/training pairs the report shows per model. */
#define GM_CMP_PAIRS 8

/* ---- options (options.c) ---- */

typedef struct gm_cmp_model_options {
  char name[64];      /* the model plugin */
  const char *preset; /* --preset NAME=P; NULL = the model's first */
  const char **sets;  /* --set NAME=KEY=VALUE values, KEY=VALUE (malloc'd array into argv) */
  int n_sets;
} gm_cmp_model_options;

typedef struct gm_cmp_options {
  gm_cli_dataopts data;
  int default_data; /* no --data: noto --subset faces --yellow */
  double time_s;    /* per model; 0 when steps */
  long long steps;  /* per model; 0 when time */
  int n;            /* samples per model */
  unsigned long long seed;
  const char *out;
  const char *device;
  const char *features; /* --features FILE; NULL = gm_sq_default_features */
  int t_samples;         /* likelihood bounds: levels drawn per image, 0 = every one */
  int timing_n;          /* images in the sampler-cost batches */
  double timing_limit_s; /* a reference sampler runs when its estimate fits */
  int json, quiet, help;
  gm_cmp_model_options model[GM_CMP_MAX_MODELS];
  int n_models;
  int argc;
  char **argv;  /* as typed */
  char **owned_; /* private: the strings the per-model spellings were rewritten to */
  int n_owned_;
} gm_cmp_options;

/* Parses argv into *o (defaults first). Returns -1 when all is well, else the exit code
 * after a message (0 after --help). */
int gm_cmp_options_parse(gm_cmp_options *o, int argc, char **argv);
void gm_cmp_options_free(gm_cmp_options *o);

/* ---- the data and the job-wide numbers (cmd.c sets up, metrics.c fills) ---- */

typedef struct gm_cmp_data {
  gm_device *dev;
  char device_desc[600];
  gm_dataset *ds;
  const gm_plugin_record *loader;
  char *data_desc; /* JSON of the data options (trainer metadata, report) */
  int size;        /* image side */
  size_t len;      /* bytes per RGB8 image: 3 S S */
  int *train_idx, n_train, *held_idx, n_held;
  const uint8_t **train_rgb; /* (n_train) the dataset's images */
  uint8_t *train_q;          /* (n_train) at 16 levels, for the metrics */
  const uint8_t **train_qp;
  /* baselines and the training set's own numbers */
  double uniform_bpd, histogram_bpd;
  double train_mean[3], train_std[3], train_foreground, train_diversity;
  double train_loo_min, train_loo_median; /* nearest other training image */
  double colour_hist_train[4096];
  /* sample quality: the feature network, the training split's features, the floor (the
   * held-out images scored like samples); quality_note says why there is none */
  featnet *featnet;
  char features_path[4096];
  float *feat_train; /* (n_train x FEATNET_DIM) */
  int have_floor;
  gm_sq_row floor;
  char quality_note[600];
} gm_cmp_data;

/* ---- one model ---- */

typedef enum gm_cmp_status {
  GM_CMP_NOT_RUN = 0, /* never started (an earlier stop or failure) */
  GM_CMP_DONE,
  GM_CMP_STOPPED, /* Ctrl-C/SIGTERM ended it early; what it made so far is kept */
  GM_CMP_FAILED,  /* an error; note holds the message */
  GM_CMP_SKIPPED  /* nothing to do (no held-out images, no likelihood, no samples) */
} gm_cmp_status;

typedef struct gm_cmp_phase {
  gm_cmp_status status;
  double seconds; /* wall time the phase took */
  char note[600]; /* why it was stopped, failed or skipped */
} gm_cmp_phase;

/* One sampler timed on a small batch. */
typedef struct gm_cmp_cost {
  char sampler[64];
  int n;     /* images in the batch */
  int steps; /* the steps it ran (the sampler's default), 0 = not declared */
  double seconds_per_image;
  double evaluations_per_image;      /* network evaluations (full-image passes) per image */
  int measured;                      /* 1: the sampler ran; 0: extrapolated (method says how) */
  double estimate_seconds_per_image; /* the extrapolation, also when it then ran */
  double estimate_evaluations_per_image;
  int identical; /* 1/0: the same images as the first sampler's; -1: n/a */
  char method[600];
} gm_cmp_cost;

/* What the report says about one model's samples (metrics.c). */
typedef struct gm_cmp_sample_metrics {
  int valid;
  double js_bits, tv;     /* colour distance to the training images */
  double mean[3], std[3]; /* foreground colour per channel */
  double foreground;      /* share of pixels that are not background */
  double *nearest;        /* (n) RMS to the nearest training image */
  int *nearest_idx;       /* (n) which one (index into the training split) */
  double nearest_mean, nearest_median, nearest_min;
  double near_copy_share;
  double diversity;          /* mean pairwise RMS among the samples */
  int pairs[GM_CMP_PAIRS];   /* samples with the closest training images, closest first */
  int n_pairs;
  int have_quality; /* quality holds KID, FD, precision and recall */
  gm_sq_row quality;
  char quality_note[600]; /* why not, when not */
} gm_cmp_sample_metrics;

typedef struct gm_cmp_model {
  const char *name;  /* the plugin's */
  const char *title; /* its metadata's title, else its name */
  const char *loss_unit;
  const gm_plugin_record *rec;
  const gm_model_vtable *vt;
  gm_model_info info;
  const char *preset; /* --preset NAME=P; NULL = the model's first */
  gm_resolved_options opts;
  const char **sets; /* the image size first (when it has a size option), then --set */
  int n_sets;
  char size_set[96];
  char dir[4200]; /* <out>/<name> */
  gm_train_config tc; /* the trainer borrows it */
  gm_trainer *trainer;
  int64_t parameters;  /* trainable values */
  int has_ema, ema_in; /* keeps an EMA; the EMA weights are swapped in */
  /* training */
  gm_cmp_phase train;
  gm_train_result tr;
  double recent[GM_CMP_RECENT]; /* the last losses, a ring */
  int64_t losses;               /* steps whose loss it has seen */
  double ips_live;              /* images/s while it trains (for the ETA) */
  /* sampling with the default sampler */
  gm_cmp_phase sample;
  char sampler[64];
  int n;            /* images drawn */
  uint8_t *samples; /* n (S, S, 3) RGB8 images as drawn */
  double sample_seconds, evaluations_per_image;
  /* held-out likelihood */
  gm_cmp_phase eval;
  double bits_per_dim;
  int eval_images, t_samples;
  /* sampler costs on a small batch: the fast sampler, then the reference one */
  gm_cmp_phase costs;
  gm_cmp_cost cost[2];
  int n_costs;
  gm_cmp_sample_metrics metrics;
} gm_cmp_model;

/* "exact", "bound" or "" for the model's likelihood. */
const char *gm_cmp_likelihood(const gm_cmp_model *m);
/* The fast and the reference sampler of the model's metadata (NULL when none). */
const gm_sampler_info *gm_cmp_fast(const gm_cmp_model *m);
const gm_sampler_info *gm_cmp_reference(const gm_cmp_model *m);

/* ---- phases (phases.c) ---- */

/* What a phase may call while it runs; it never reaches the job otherwise. */
typedef struct gm_cmp_hooks {
  void *ctx;
  /* before each trainer or sampler call (a fresh progress bar) and after it */
  void (*call_begin)(void *ctx);
  void (*call_end)(void *ctx);
  void (*train_progress)(void *ctx, const gm_train_progress *p);
  void (*units_progress)(void *ctx, int64_t done, int64_t total);
  volatile sig_atomic_t *stop;   /* set by SIGINT/SIGTERM/SIGHUP (SIGHUP as SIGTERM) */
  volatile sig_atomic_t *saving; /* the trainer's saving flag (gm_train_config.saving) */
} gm_cmp_hooks;

/* One phase each; they fill the model's phase record and return 0, or an exit code of 1
 * after a failure that ends the job (the device is unusable). */
int gm_cmp_train(const gm_cmp_options *o, const gm_cmp_data *d, gm_cmp_model *m,
                 const gm_cmp_hooks *h);
int gm_cmp_sample(const gm_cmp_options *o, const gm_cmp_data *d, gm_cmp_model *m,
                  const gm_cmp_hooks *h);
int gm_cmp_eval(const gm_cmp_options *o, const gm_cmp_data *d, gm_cmp_model *m,
                const gm_cmp_hooks *h);
int gm_cmp_costs(const gm_cmp_options *o, const gm_cmp_data *d, gm_cmp_model *m,
                 const gm_cmp_hooks *h);

/* ---- the job (job.c) ---- */

typedef enum gm_cmp_kind { GM_CMP_TRAIN, GM_CMP_SAMPLE, GM_CMP_EVAL, GM_CMP_COSTS } gm_cmp_kind;

typedef struct gm_cmp_progress {
  gm_cli_progress bar;
  char label[200];
  int phase;                      /* the phase in progress */
  double phase_start, unit_start; /* when the phase and its current sampler call began */
  int64_t sync_every, sync_done;  /* progress waits for the device every sync_every units */
  double sync_time;               /* when it last did (after sync_done units) */
} gm_cmp_progress;

typedef struct gm_cmp_job {
  const gm_cmp_options *o;
  gm_cmp_data *d;
  gm_cmp_model *model; /* (n_models) */
  int n_models;
  int n_phases; /* 4 per model */
  int phase;    /* phases finished or started: n_phases once the job is over */
  char started[40]; /* local date and time */
  double t0;        /* when the job began (monotonic) */
  int stop_signal;
  char stopped_in[120]; /* the phase a stop ended ("" when none) */
  gm_cmp_progress progress;
} gm_cmp_job;

/* Phase k of the table: its kind and its model. */
gm_cmp_kind gm_cmp_phase_kind(const gm_cmp_job *j, int k);
gm_cmp_model *gm_cmp_phase_model(const gm_cmp_job *j, int k);
/* Writes the first report, runs every phase in order with progress on stderr, rewrites
 * the report after each, and turns SIGINT/SIGTERM/SIGHUP into a clean stop. Returns 0
 * or the exit code after a failure that ended the job. */
int gm_cmp_job_run(gm_cmp_job *j);
/* Any phase failed. */
int gm_cmp_job_failed(const gm_cmp_job *j);

/* ---- numbers (metrics.c) ---- */

/* The mean loss of the last tenth of m's steps (1 to GM_CMP_RECENT of them); *k receives
 * how many (may be NULL). NAN before any step. */
double gm_cmp_final_loss(const gm_cmp_model *m, int *k);
/* Baselines and the training set's own numbers (needs the dataset). */
void gm_cmp_metrics_data(gm_cmp_data *d, const gm_cmp_options *o);
/* Loads the feature network (--features, else the default one) and scores the training
 * split and the floor. A missing default network or images it cannot take leave a
 * quality_note and return 0; an unreadable network, or a missing one that --features
 * named, returns an exit code after the message (before any training). */
int gm_cmp_quality_data(gm_cmp_data *d, const gm_cmp_options *o);
/* The sample metrics of m (needs m->samples), with its sample quality when the data has
 * a feature network (a failure there is a quality_note). Returns 0 or GM_ENOMEM. */
int gm_cmp_metrics_samples(const gm_cmp_data *d, const gm_cmp_options *o, gm_cmp_model *m);
void gm_cmp_metrics_free(gm_cmp_sample_metrics *s);
const char *gm_cmp_status_name(gm_cmp_status s);
/* Metric k of a quality row as the report and the summary show it: 0 KID x 1000 with its
 * standard error, 1 FD, 2 precision, 3 recall. */
const char *gm_cmp_quality_cell(char *buf, size_t n, const gm_sq_row *r, int k);

/* ---- metrics.json (metrics_json.c) ---- */

/* Every number of the job as metrics.json's object (NULL when out of memory). */
cJSON *gm_cmp_metrics_json(const gm_cmp_job *j);

/* ---- command lines (command.c) ---- */

/* The command as typed (argv shell-quoted), into buf. */
const char *gm_cmp_command(const gm_cmp_options *o, char *buf, size_t n);
/* The equivalent command with every default spelled out, into buf. */
const char *gm_cmp_full_command(const gm_cmp_job *j, char *buf, size_t n);

/* ---- the report (report.c, figures.c): every file atomically (temp file, rename) ---- */

/* metrics.json, loss.svg, report.md and index.html. */
int gm_cmp_write_report(const gm_cmp_job *j, gm_error *err);
/* The training-set grid (once, after the data is loaded). */
int gm_cmp_write_train_grid(const gm_cmp_options *o, const gm_cmp_data *d, gm_error *err);
/* A model's sample grid and nearest-pair grid (after its metrics). */
int gm_cmp_write_model_grids(const gm_cmp_data *d, const gm_cmp_model *m, gm_error *err);
/* loss.svg: one panel per model from its metrics.jsonl. */
int gm_cmp_write_loss_svg(const gm_cmp_job *j, gm_error *err);

#endif
