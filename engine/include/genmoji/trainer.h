/* The training loop as a library (engine/src/trainer.c, trainer_state.c): one model
 * plugin on the training split of one dataset for a budget, with checkpoints,
 * metrics.jsonl and a resume that continues bit for bit. `genmoji train` and `genmoji
 * compare` both drive it.
 *
 *     gm_train_config c;
 *     gm_train_config_init(&c);
 *     c.model = vt; c.model_name = "pixelcnn"; c.options = &resolved;  // gm_model_options_resolve
 *     c.data = ds; c.dev = dev; c.out_dir = "runs/a"; c.budget_steps = 1000;
 *     gm_trainer *t;
 *     gm_trainer_create(&t, &c, &err);  // fresh from the seed, or out_dir/last.safetensors (resume)
 *     gm_train_result r;
 *     gm_trainer_run(t, &r, &err);      // to the budget, the stop flag or a non-finite loss
 *     gm_trainer_destroy(t);
 *
 * One step: the next batch of an epoch permutation (a host PRNG seeded from (seed, epoch),
 * which also draws the horizontal flips when hflip is on) as 0..255 floats; the model's
 * loss with the device RNG (seed, stream 1); zero grads, backward, optimiser step, EMA
 * update; the loss read back for the log and the finiteness check.
 *
 * The out folder holds last.safetensors (at the end, on stop, and every save_every steps
 * or save_every_s seconds), step-N.safetensors every keep_every steps (the `keep` newest
 * kept) and metrics.jsonl. gm_trainer_create removes the temporary files an interrupted
 * write of those leaves (NAME.safetensors.tmp.PID.N of a process no longer running,
 * metrics.jsonl.tmp), telling c->notice. Every metrics write, flush and sync is checked:
 * an error stops the run before the next checkpoint (GM_EIO naming the file). A checkpoint holds every parameter and buffer under its own
 * name, the optimiser moments as optim.exp_avg.<name> / optim.exp_avg_sq.<name>, the EMA
 * as ema.<name>, and the metadata keys listed at GM_TRAIN_META_KEYS. */
#ifndef GENMOJI_TRAINER_H
#define GENMOJI_TRAINER_H

#include <signal.h>
#include <stdint.h>

#include "dataset.h"
#include "model.h"
#include "optim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The `format` metadata value of a training checkpoint. */
#define GM_CHECKPOINT_FORMAT "genmoji-checkpoint-1"
/* Every metadata key a training checkpoint carries (all values are strings; options,
 * train and data hold JSON objects). */
#define GM_TRAIN_META_KEYS                                                              \
  "format model preset options train step epoch epoch_pos images_seen seed rng_offset " \
  "optim_steps data genmoji_version wall_s"

/* The training keys (GM_TRAIN_KEYS) with their values for one run. */
typedef struct gm_train_settings {
  double lr;              /* default 1e-3 */
  int batch;              /* default 8 */
  gm_optim_kind optimizer;/* default adam */
  double weight_decay;    /* default 0 (adam), 0.01 (adamw), as PyTorch */
  double clip;            /* global gradient-norm clip; 0 = off (default) */
  double ema;             /* EMA decay; 0 = off (default) */
  int hflip;              /* random horizontal flips; default 0 */
} gm_train_settings;

/* The defaults, then o->train (may be NULL), then batch and lr when > 0. Bad values (a
 * batch below 1, an ema outside [0, 1)) are GM_EINVAL naming the key. */
GM_API int gm_train_settings_resolve(const gm_resolved_options *o, int batch, double lr,
                                     gm_train_settings *out, gm_error *err);

/* What the progress callback sees after every step. */
typedef struct gm_train_progress {
  int64_t step;            /* optimiser steps done, counting those before a resume */
  int64_t total_steps;     /* the budget in steps (known for steps and epochs), else 0 */
  double fraction;         /* share of the budget done, 0..1 */
  double session_fraction; /* `fraction` when this session started (for an ETA) */
  int64_t epoch;           /* epochs completed */
  double loss;             /* this step's loss */
  double images_per_s;     /* this session's average */
  double wall_s;           /* training time, counting sessions before a resume */
  double session_s;        /* this session's time */
  double lr;
  int batch;
  const char *checkpoint;  /* set for the call right after a checkpoint was written */
} gm_train_progress;

typedef struct gm_train_config {
  const gm_model_vtable *model;        /* required */
  const char *model_name;              /* required: stored in checkpoints */
  const gm_resolved_options *options;  /* required: model options and training keys */
  gm_dataset *data;                    /* required: trains on its training split */
  const char *data_desc;               /* optional: a JSON object (source, filters) for the
                                          `data` metadata; the trainer adds the counts */
  gm_device *dev;                      /* required */
  uint64_t seed;                       /* initialisation, epochs, flips, the loss RNG */
  const char *out_dir;                 /* required; created when missing */
  /* The budget: exactly one > 0. Totals of the run: a resumed run counts the steps,
   * epochs and training seconds before it. */
  double budget_s;
  int64_t budget_steps;
  int64_t budget_epochs;
  int batch;                           /* > 0 overrides the `batch` key */
  double lr;                           /* > 0 overrides the `lr` key */
  int64_t save_every;                  /* last.safetensors every N steps ... */
  double save_every_s;                 /* ... or seconds; both 0: 200 steps or 60 s */
  int64_t keep_every;                  /* step-N.safetensors every N steps; 0 = none */
  int keep;                            /* the newest K step-N files stay; 0 = all */
  int log_every;                       /* a metrics.jsonl line every N steps; 0 = 1 */
  int resume;                          /* continue from out_dir/last.safetensors */
  volatile sig_atomic_t *stop;         /* optional: non-zero ends the run after a step */
  void (*progress)(void *ctx, const gm_train_progress *p);  /* optional, every step */
  void *progress_ctx;
  /* optional: what the caller may tell the user, e.g. "removed the stale temporary file
   * P (left by an interrupted write)"; called from gm_trainer_create */
  void (*notice)(void *ctx, const char *message);
  void *notice_ctx;
  /* optional: 1 while a checkpoint is written, and from the end of the loop until
   * gm_trainer_run returns (0 again then), so a signal handler can tell that a save is
   * under way and let it finish */
  volatile sig_atomic_t *saving;
} gm_train_config;

/* Zeros, and a budget of 0 (the caller sets one). */
GM_API void gm_train_config_init(gm_train_config *c);

typedef struct gm_train_result {
  int64_t step;            /* steps done in all (== start_step when none ran) */
  int64_t start_step;      /* where this session began (> 0 after a resume) */
  int64_t epoch;           /* epochs completed */
  int64_t images_seen;
  double loss;             /* the last step's loss (NAN when no step ran) */
  double images_per_s;     /* this session */
  double session_s;        /* this session's training time */
  double wall_s;           /* the run's training time, resumed sessions included */
  int stopped;             /* 1 when the stop flag ended the run */
  char checkpoint[4200];   /* the last.safetensors written */
} gm_train_result;

typedef struct gm_trainer gm_trainer;

/* Checks the config, creates the model (parameters from the seed), the optimiser and
 * the EMA; with c->resume, restores everything from out_dir/last.safetensors (the seed
 * and the lr included: a c->lr is refused) and refuses, with GM_EMISMATCH listing every
 * difference, one of another model, preset, options, training keys, data description
 * (each key of c->data_desc) or training set size; non-finite values are GM_ENUMERIC.
 * Without resume, an out_dir that already holds last.safetensors is GM_EEXISTS. The
 * config's pointers are borrowed and must outlive the trainer. */
GM_API int gm_trainer_create(gm_trainer **out, const gm_train_config *c, gm_error *err);
GM_API void gm_trainer_destroy(gm_trainer *t);

/* Trains until the budget is spent or *stop is set (the current step finishes and
 * last.safetensors is written, r->stopped = 1, returns 0). A non-finite loss, or
 * non-finite weights about to be saved, is GM_ENUMERIC naming the step; nothing is
 * written then, so the last checkpoint on disk is the last good one. */
GM_API int gm_trainer_run(gm_trainer *t, gm_train_result *r, gm_error *err);

/* Writes the current state to path (as last.safetensors holds it). */
GM_API int gm_trainer_save(gm_trainer *t, const char *path, gm_error *err);

/* The model being trained (for sampling after training), its parameters, its EMA (NULL
 * when ema = 0) and the settings in use. */
GM_API gm_model *gm_trainer_model(gm_trainer *t);
GM_API gm_params *gm_trainer_params(gm_trainer *t);
GM_API gm_ema *gm_trainer_ema(gm_trainer *t);

#ifdef __cplusplus
}
#endif
#endif
