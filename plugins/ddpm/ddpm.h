/* The DDPM plugin's shared state: the model struct, its configuration, and what its
 * files (ddpm.c, unet_seed.c, unet.c, sample.c, nll.c) give each other. */
#ifndef GM_DDPM_H
#define GM_DDPM_H

#include <genmoji/gm.h>

#include "schedule.h"

enum { DDPM_ARCH_UNET = 0, DDPM_ARCH_SEED = 1 };
enum { DDPM_SAMPLER_DDPM = 0, DDPM_SAMPLER_DDIM = 1 };
enum { DDPM_PRED_EPS = 0, DDPM_PRED_V = 1 };
#define DDPM_MAX_LEVELS 6
#define DDPM_DDIM_DEFAULT_STEPS 50

typedef struct ddpm_config {
  int arch;          /* DDPM_ARCH_* */
  int size;          /* image side */
  int timesteps;     /* T */
  ddpm_schedule_kind schedule;
  int clamp_xt;      /* the study's clamp of x_t in training and after every sampling step */
  int sampler;       /* default sampler, DDPM_SAMPLER_* */
  int pred;          /* what the network predicts: eps, or v = sqrt(ab) eps - sqrt(1 - ab) x0 */
  /* unet only */
  int ch;                        /* base channels */
  int mult[DDPM_MAX_LEVELS];     /* channel multiplier per level */
  int n_levels;
  int blocks;                    /* residual blocks per level */
  int attn8, attn16;             /* self-attention at 8x8 / 16x16 maps (and in the middle) */
  float dropout;
  /* unet, text condition (vocab > 0) */
  int vocab;                     /* token ids the embedding holds; 0 = no text */
  int text_dim;                  /* token vectors' width */
  int xattn;                     /* the 8x8 maps cross-attend to the token vectors */
  double cond_drop, guidance;    /* metadata: condition dropout, default guidance */
} ddpm_config;

typedef struct ddpm_seed_net ddpm_seed_net;
typedef struct ddpm_unet ddpm_unet;

struct gm_model {
  gm_device *dev;
  ddpm_config cfg;
  ddpm_schedule sched;
  gm_params *params;
  int training;               /* batch norm statistics and dropout */
  ddpm_seed_net *seed;        /* arch seed */
  ddpm_unet *unet;            /* arch unet */
  gm_tensor *sqrt_ab, *sqrt_1mab;  /* (N + 1) device copies of the schedule, for training */
  gm_tensor *neg_sqrt_1mab;        /* (N + 1) -sqrt(1 - ab), for the v target */
  gm_tensor *eps, *u;         /* the loss's noise (B, 3, S, S) and uniforms (B), kept alive
                                 until the next loss call because its backward reads eps */
  gm_text_cond none;          /* text models: the empty condition for a batch (B rows,
                                 remade when B changes) */
};

/* The study's U-Net (unet_seed.c): declare its parameters in state_dict order, then
 * (after gm_params_finalize) find and initialise them; forward on x (B, 3, H, W) in
 * [-1, 1] and t (B) = t / T. Batch norm uses batch statistics when m->training. */
int ddpm__seed_declare(gm_model *m, gm_error *err);
int ddpm__seed_init(gm_model *m, gm_rng *rng, gm_error *err);
int ddpm__seed_forward(gm_model *m, gm_tensor *x, gm_tensor *t, gm_tensor **eps, gm_error *err);
void ddpm__seed_free(gm_model *m);

/* The time-conditioned U-Net (unet.c), same protocol; dropout (NULL = none) draws the
 * dropout masks and is used only when m->training. */
int ddpm__unet_declare(gm_model *m, gm_error *err);
int ddpm__unet_init(gm_model *m, gm_rng *rng, gm_error *err);
/* With a text condition (cfg.vocab > 0), cond (B rows, never NULL here) adds the text
 * encoder's condition vector to the time embedding and, with xattn, feeds its token
 * vectors to the 8x8 maps' cross-attention. */
int ddpm__unet_forward(gm_model *m, gm_tensor *x, gm_tensor *t, const gm_text_cond *cond,
                       gm_rng *dropout, gm_tensor **eps, gm_error *err);
void ddpm__unet_free(gm_model *m);
/* The number of GroupNorm groups for c channels: the largest divisor of c that is at most
 * 32 and leaves at least 4 channels per group (1 for c < 8). */
int ddpm__groups(int c);

/* Either network (ddpm.c): its raw output (eps or v, as cfg.pred says) for x (B, 3, H, W)
 * and t (B) = level / T; cond: one text per image, or NULL for the empty condition (a
 * model without text refuses a cond). */
int ddpm__net(gm_model *m, gm_tensor *x, gm_tensor *t, const gm_text_cond *cond,
              gm_rng *dropout, gm_tensor **out, gm_error *err);
/* eps_hat for x (B, 3, H, W), every image at `level` (t holds level / T): the network's
 * output, converted from v when it predicts v (eps = sqrt(ab) v + sqrt(1 - ab) x). Eval
 * only: no dropout. */
int ddpm__eps(gm_model *m, gm_tensor *x, gm_tensor *t, int level, const gm_text_cond *cond,
              gm_tensor **eps, gm_error *err);
/* The guided eps_hat: u + w (c - u) from the unconditional (u) and conditional (c)
 * predictions; one pass when w is 1 (c) or 0 (u), or when cond is NULL (u). */
int ddpm__eps_guided(gm_model *m, gm_tensor *x, gm_tensor *t, int level,
                     const gm_text_cond *cond, float w, gm_tensor **eps, gm_error *err);

/* The samplers (sample.c). */
int ddpm__sample(gm_model *m, gm_sample_options *o, gm_rng *rng, gm_tensor **images,
                 gm_error *err);

/* The likelihood bound on a batch of 0..255 images (nll.c, on top of bound.c). */
int ddpm__nll(gm_model *m, gm_tensor *images, const gm_nll_options *o, gm_rng *rng,
              double *bits_per_dim, gm_error *err);

#endif
