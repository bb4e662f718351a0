/* The trainer's state, shared by the loop (trainer.c) and the checkpoint side
 * (trainer_state.c: metadata, save, restore). Engine-private. */
#ifndef GM_TRAINER_INTERNAL_H
#define GM_TRAINER_INTERNAL_H

#include <stdio.h>

#include "genmoji/gm.h"

/* What a training step works on, made as `genmoji train` makes it. The trainer and
 * `genmoji bench models` (bench_models.c) share it, so that both run the same step. */
typedef struct gm__train_parts {
  const gm_model_vtable *vt;
  const char *name;            /* the model's name, for messages */
  gm_model *model;
  gm_params *params;
  gm_optim *optim;
  gm_ema *ema;                 /* NULL when the settings' ema is 0 */
} gm__train_parts;

/* The model from opts with its parameters drawn from (seed, stream 0), the optimiser and
 * the EMA per s. On failure p holds what was made: gm__train_parts_close frees it. */
int gm__train_parts_open(gm__train_parts *p, const gm_model_vtable *vt, const char *name,
                         gm_device *dev, const gm_resolved_options *opts,
                         const gm_train_settings *s, uint64_t seed, gm_error *err);
void gm__train_parts_close(gm__train_parts *p);
/* Step number `step` on the batch x (B, 3, S, S) of 0..255 images, recording on: the
 * model's loss (rng draws what it needs; with cond, one text per image, its loss_text),
 * zero grads, backward, the optimiser step (clipping inside), the EMA update, and the
 * loss read back into *loss (the step's one host round trip). The step's temporaries
 * stay on the arena for the caller to reset. */
int gm__train_parts_step(gm__train_parts *p, gm_tensor *x, const gm_text_cond *cond,
                         gm_rng *rng, int64_t step, float *loss, gm_error *err);

/* Whether image i of the batch of step `step` trains on the empty text (condition
 * dropout at rate p): a host Philox draw keyed by the seed, so a resumed run drops the
 * same texts. */
int gm__cond_dropped(uint64_t seed, int64_t step, int i, double p);

struct gm_trainer {
  gm_train_config c;
  gm_train_settings s;
  uint64_t seed;               /* c.seed, or the checkpoint's on resume */
  gm__train_parts p;           /* the model, its params, the optimiser, the EMA */
  gm_rng rng;                  /* the loss RNG: (seed, stream 1) */

  /* data: the training split and the current epoch's order */
  int *train_idx;              /* dataset indices of the training split */
  int n_train;
  int size;                    /* image side */
  int *perm;                   /* (n_train) dataset indices in this epoch's order */
  uint8_t *flip;               /* (n_train) flips for those positions; NULL without hflip */
  int64_t perm_epoch;          /* the epoch perm holds; -1 none */
  gm_tensor *x;                /* (x_n, 3, S, S) the full-size batch */
  int x_n;
  /* a text model's vocabulary (built from the training split's texts, stored in every
   * checkpoint) and its batch of conditions; NULL / zero for other models */
  gm_vocab *vocab;
  char *vocab_str;             /* gm_vocab_serialize(vocab) */
  double cond_drop;
  gm_text_cond cond;           /* the full batch's texts */

  /* progress, all saved in checkpoints */
  int64_t step;                /* optimiser steps done */
  int64_t epoch;               /* epochs completed */
  int64_t epoch_pos;           /* images of the current epoch already used */
  int64_t images_seen;
  double wall_before;          /* training seconds of earlier sessions */
  double session_s;            /* this session so far (updated by the loop) */

  /* checkpoint contents beyond the params: moment and EMA views of each trainable */
  gm_named_tensor *extra;
  int n_extra;
  char *extra_names;
  char *options_json, *train_json, *data_json;

  /* files */
  char *last_path;             /* out_dir/last.safetensors */
  char *metrics_path;
  FILE *metrics;
  int64_t saved_step;          /* step of the last checkpoint on disk; -1 none */
  char *saved_path;            /* that file */
};

/* Builds the moment/EMA views and the options, train and data JSON. */
int gm__trainer_state_init(gm_trainer *t, gm_error *err);
void gm__trainer_state_close(gm_trainer *t);
/* Restores everything from path after checking that it belongs to this run. */
int gm__trainer_restore(gm_trainer *t, const char *path, gm_error *err);
/* "the last good checkpoint is P (step N)" or "no checkpoint was written" into buf. */
const char *gm__trainer_last_good(const gm_trainer *t, char *buf, size_t n);

#endif
