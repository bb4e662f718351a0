/* The model plugin kind. A model plugin is one shared module whose gm_plugin has kind
 * "model" and a gm_model_vtable. The engine and the CLI drive every model the same way:
 * create it from resolved options, list its named parameters (the checkpoint keys), run
 * its network (forward), its training loss, its sampler and optionally its likelihood.
 *
 * Pixel convention at this boundary: images are float tensors (B, 3, S, S) holding
 * 0..255 RGB values (composited, resized); each model maps them to its own data scaling
 * (PixelCNN: q = v >> 4; DDPM: v / 127.5 - 1). Samples come back the same way. */
#ifndef GENMOJI_MODEL_H
#define GENMOJI_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "device.h"
#include "error.h"
#include "loader.h"
#include "params.h"
#include "rng.h"
#include "tensor.h"
#include "text.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum gm_option_type {
  GM_OPTION_INT = 0,
  GM_OPTION_FLOAT = 1,
  GM_OPTION_BOOL = 2,    /* "0"/"1"/"true"/"false" */
  GM_OPTION_CHOICE = 3,  /* one of `choices`, '|'-separated */
  GM_OPTION_STRING = 4
} gm_option_type;

/* One model option, as `genmoji train --model NAME --help` shows it. */
typedef struct gm_model_option {
  const char *name;           /* "width"; [a-z0-9_]+ */
  gm_option_type type;
  const char *default_value;  /* "64" */
  double min, max;            /* inclusive range for INT/FLOAT; min > max means unbounded */
  const char *choices;        /* CHOICE: "linear|cosine" */
  const char *help;           /* one line */
} gm_model_option;

/* A named set of option values: "key=value" pairs separated by spaces. Presets may also
 * set the training keys every model shares (see GM_TRAIN_KEYS below). */
typedef struct gm_model_preset {
  const char *name;           /* "seed" */
  const char *summary;        /* one line */
  const char *settings;       /* "layers=4 mask=plain lr=1e-3 batch=8" */
} gm_model_preset;

/* Training keys the host understands in presets and --set, for every model:
 *   lr (float), batch (int), optimizer (adam|adamw), weight_decay (float),
 *   clip (float, 0 = off), ema (float decay, 0 = off), hflip (bool: random horizontal
 *   flips of training images). */
#define GM_TRAIN_KEYS "lr batch optimizer weight_decay clip ema hflip"

typedef struct gm_model gm_model;  /* the plugin's own state */

/* Named tensors for forward(): inputs and outputs by name ("x", "t", "logits", "eps"). */
typedef struct gm_named_tensor {
  const char *name;
  gm_tensor *tensor;
} gm_named_tensor;

typedef struct gm_sample_options {
  int n;                      /* images to draw */
  const char *sampler;        /* NULL = the model's default (its first in `samplers`) */
  float temperature;          /* 0 = the model's default */
  int steps;                  /* 0 = the sampler's default (DDIM: number of steps) */
  float eta;                  /* DDIM eta */
  int stretch;                /* DDPM: min-max stretch each sample as the study did */
  gm_tensor *noise;           /* optional starting noise (DDPM x_T, (n, 3, S, S)) */
  gm_tensor *noise_out;       /* optional caller tensor (n, 3, S, S) that receives the noise drawn */
  /* optional progress callback: done of total units (pixels, steps) */
  void (*progress)(void *ctx, int64_t done, int64_t total);
  void *progress_ctx;
  /* out: network evaluations per image that the sampler ran (a full-image pass counts 1;
   * a cached PixelCNN step counts the fraction of positions it recomputed) */
  double evaluations_per_image;
  /* stop once this much progress (the units of `progress`: pixels, steps) is done; 0 = run
   * to the end. The images are then unfinished: what the sampler holds at that point,
   * mapped to 0..255 as at the end, and evaluations_per_image counts the part that ran.
   * It lets a benchmark time part of a long run (`genmoji bench models`). */
  int64_t stop_after;
  /* since ABI 2, for models with a text condition (gm_model_info.text_condition): one
   * text per image (n rows), or NULL for every image unconditional (the empty condition);
   * with a condition, classifier-free guidance W: the model's prediction is
   * u + W (c - u) from its unconditional (u) and conditional (c) predictions, so W = 1 is
   * plain conditional sampling and W = 0 unconditional, each bit for bit. A model without
   * a text condition refuses a non-NULL cond. */
  const gm_text_cond *cond;
  float guidance;
} gm_sample_options;

typedef struct gm_nll_options {
  int t_samples;              /* DDPM bound: 0 = exact over every t, K > 0 = unbiased estimate from K t's */
  const gm_text_cond *cond;   /* since ABI 2: each image's own text (text models); NULL:
                                 the empty condition */
} gm_nll_options;

/* ---- model metadata (optional; what a comparison needs to know) ----
 *
 * A plugin describes itself for a set of resolved options through the vtable's optional
 * `describe` slot. The struct is append-only and sized: the host zero-fills a
 * gm_model_info of its own size, sets `size`, and calls describe; a plugin writes a
 * field only when GM_MODEL_INFO_HAS(info, field) says the host's struct has it (a plugin
 * built against these headers may meet an older host of the same ABI). Every field is
 * optional: the host copes with any of them left zero, and with no describe at all.
 * Each field says since which plugin ABI it exists (as SQLite's extension table tags its
 * blocks). */

typedef enum gm_likelihood_kind {
  GM_LIKELIHOOD_UNSPECIFIED = 0, /* not said: the host reads "nll" without a kind */
  GM_LIKELIHOOD_NONE = 1,        /* no likelihood (nll is NULL) */
  GM_LIKELIHOOD_EXACT = 2,       /* nll is the exact negative log-likelihood */
  GM_LIKELIHOOD_BOUND = 3        /* nll is an upper bound (a variational bound) */
} gm_likelihood_kind;

typedef enum gm_sampler_role {
  GM_SAMPLER_OTHER = 0,     /* neither of the two below */
  GM_SAMPLER_FAST = 1,      /* the sampler to use by default and to time first */
  GM_SAMPLER_REFERENCE = 2  /* the slow, textbook sampler the fast one is measured against */
} gm_sampler_role;

#define GM_MODEL_INFO_SAMPLERS 8

/* One sampler, for the resolved options. */
typedef struct gm_sampler_info {
  const char *name;        /* since ABI 2: one of the vtable's `samplers` */
  gm_sampler_role role;    /* since ABI 2 */
  const char *unit;        /* since ABI 2: what one unit of its progress callback is
                              ("pixel", "subpixel", "level", "step"); NULL: unknown */
  int64_t units;           /* since ABI 2: progress units of a full run; 0: unknown */
  double passes;           /* since ABI 2: full-image network passes per image that a full
                              run counts in evaluations_per_image; 0: not declared */
  int steps;               /* since ABI 2: the steps it runs when asked for 0 (its default) */
} gm_sampler_info;

typedef struct gm_model_info {
  uint32_t size;                 /* set by the host: sizeof(gm_model_info) as it was built */
  const char *title;             /* since ABI 2: display name, "PixelCNN"; NULL: the plugin name */
  gm_likelihood_kind likelihood; /* since ABI 2 */
  const char *loss_unit;         /* since ABI 2: what the training loss measures for these
                                    options, "cross-entropy, nats per subpixel" */
  const char *default_sampler;   /* since ABI 2: what sample() runs when o->sampler is NULL,
                                    for these options; NULL: the vtable's first sampler */
  int n_samplers;                /* since ABI 2: entries used in `samplers` */
  gm_sampler_info samplers[GM_MODEL_INFO_SAMPLERS]; /* since ABI 2 */
  int text_condition;            /* since ABI 2: 1 when the model accepts a text condition */
  const char *size_option;       /* since ABI 2: the option that sets the side of the images
                                    it makes ("size"), so a host can match its data; NULL:
                                    none (the model takes any size or a fixed one) */
  int image_size;                /* since ABI 2: that side for these options; 0: unknown */
  int vocab_size;                /* since ABI 2, text models: the token ids (padding
                                    included) the embedding holds; a host's vocabulary must
                                    fit (text.h: gm_vocab_size) */
  double cond_drop;              /* since ABI 2, text models: the share of training images
                                    whose text the host replaces by the empty one (condition
                                    dropout, so one network is conditional and unconditional) */
  double guidance;               /* since ABI 2, text models: the default guidance W */
} gm_model_info;

/* Whether the host's gm_model_info has `field` (a plugin checks before writing one). */
#define GM_MODEL_INFO_HAS(info, field)                                                        \
  ((info)->size >= offsetof(gm_model_info, field) + sizeof((info)->field))

typedef struct gm_model_vtable {
  uint32_t size;  /* required: sizeof(gm_model_vtable) as built */

  /* required: every option, terminated by an entry with name == NULL */
  const gm_model_option *options;
  /* required: presets, terminated by name == NULL; the first is the default */
  const gm_model_preset *presets;
  /* required: a model from a complete, validated option list (every option present, as
   * gm_model_options_resolve produces), with parameters initialised from rng. */
  int (*create)(gm_model **out, gm_device *dev, const gm_kv *opts, int n_opts, gm_rng *rng,
                gm_error *err);
  /* required */
  void (*destroy)(gm_model *m);
  /* required: the parameters and buffers; their names are the checkpoint keys. */
  gm_params *(*params)(gm_model *m);
  /* required: the network alone on named inputs; outputs are arena tensors. */
  int (*forward)(gm_model *m, const gm_named_tensor *in, int n_in, gm_named_tensor *out,
                 int max_out, int *n_out, gm_error *err);
  /* required: the scalar training loss of a batch (B, 3, S, S) of 0..255 images, recorded
   * on the tape; rng draws what the loss needs (DDPM: t and noise). */
  int (*loss)(gm_model *m, gm_tensor *images, gm_rng *rng, gm_tensor **loss, gm_error *err);
  /* required: o->n images (n, 3, S, S), 0..255, as an arena tensor; recording is off.
   * Samplers reset the step arena (gm_tape_reset) between network passes, so arena
   * tensors the caller made before the call do not survive it. */
  int (*sample)(gm_model *m, gm_sample_options *o, gm_rng *rng, gm_tensor **images,
                gm_error *err);
  /* required: sampler names, NULL-terminated; the first is the default. */
  const char *const *samplers;

  /* optional: negative log-likelihood (or its bound) of a batch in bits per dimension
   * (3 * S * S subpixels, 16 levels per subpixel). Like sample, it may reset the arena. */
  int (*nll)(gm_model *m, gm_tensor *images, const gm_nll_options *o, gm_rng *rng,
             double *bits_per_dim, gm_error *err);
  /* optional: training (1) or evaluation (0) behaviour (batch norm, dropout). */
  void (*train_mode)(gm_model *m, int training);
  /* optional: names of forward's inputs and outputs, NULL-terminated, for messages. */
  const char *const *forward_inputs;
  const char *const *forward_outputs;
  /* optional (since ABI 2): the model's metadata for a complete option list (as
   * gm_model_options_resolve produces), without creating the model; see gm_model_info.
   * Called through gm_model_describe, which zero-fills *info and sets its size first. */
  int (*describe)(const gm_kv *opts, int n_opts, gm_model_info *info, gm_error *err);
  /* optional: checks a complete option list for what the table's types, ranges and
   * choices cannot say (a multiple of 3, an even count, a list's syntax, options that must
   * go together), without a device. gm_model_options_resolve calls it, so such a value is
   * refused with the options (a usage error for the CLI) before anything is made; the
   * message names the option and the range the table shows. create() may rely on it but
   * must still refuse a bad list. */
  int (*check_options)(const gm_kv *opts, int n_opts, gm_error *err);
  /* optional (since ABI 2), for models with a text condition: the training loss of a
   * batch with one text per image (cond, B rows), as `loss`. The host does the condition
   * dropout (gm_model_info.cond_drop) by giving the empty text. */
  int (*loss_text)(gm_model *m, gm_tensor *images, const gm_text_cond *cond, gm_rng *rng,
                   gm_tensor **loss, gm_error *err);
} gm_model_vtable;

/* Whether a plugin's vtable (sized: a plugin may have been built against an older
 * header of the same ABI) has the optional `slot` set. */
#define GM_MODEL_VTABLE_HAS(vt, slot)                                                          \
  ((vt)->size >= offsetof(gm_model_vtable, slot) + sizeof((vt)->slot) && (vt)->slot)

/* ---- helpers the host and plugins share ---- */

/* A complete option list for `preset` (NULL = the first) with `sets` ("key=value" strings
 * from --set) applied on top: every option of the table appears once, values checked
 * against type, range and choices. Training keys from the preset or sets go to *train.
 * The returned arrays and strings are owned by *out; free with gm_model_options_free. */
typedef struct gm_resolved_options {
  gm_kv *model;  int n_model;
  gm_kv *train;  int n_train;
  const gm_model_preset *preset;
  char *storage_;  /* private */
} gm_resolved_options;

GM_API int gm_model_options_resolve(const gm_model_vtable *vt, const char *preset,
                                    const char *const *sets, int n_sets,
                                    gm_resolved_options *out, gm_error *err);
GM_API void gm_model_options_free(gm_resolved_options *o);

/* The metadata of a model for resolved options: *info zero-filled with its size set, the
 * plugin's describe (when it has one) called, then checked and completed from the
 * vtable: a likelihood kind NONE when nll is NULL; without sampler entries, one per
 * vtable sampler with the first FAST; entries naming no vtable sampler are an error
 * (GM_EPLUGIN), as are more than one FAST or REFERENCE sampler and negative counts. */
GM_API int gm_model_describe(const gm_model_vtable *vt, const gm_resolved_options *opts,
                             gm_model_info *info, gm_error *err);
/* The entry of `info` for sampler `name`, or of its FAST (role given) sampler; NULL when
 * there is none. */
GM_API const gm_sampler_info *gm_model_info_sampler(const gm_model_info *info, const char *name,
                                                    gm_sampler_role role);
/* "exact", "bound", "none" or "" (unspecified). */
GM_API const char *gm_likelihood_name(gm_likelihood_kind k);
/* The training keys every model takes (GM_TRAIN_KEYS) as `train --model NAME --help`
 * lists them, with their defaults and ranges; terminated by name == NULL. Resolving checks
 * --set values of these keys against exactly these ranges. */
GM_API const gm_model_option *gm_train_keys(void);

/* An option's range as --help shows it and range errors name it, into buf: "3..1024"
 * (INT, inclusive), "0..0.9" (FLOAT), "> 0" or ">= 0" (no upper bound), "[0, 1)" (a
 * bound left out), the choices "linear|cosine", "0|1" for a bool, "" for none. */
GM_API const char *gm_model_option_range(const gm_model_option *o, char *buf, size_t size);

/* Typed lookups in a key/value list; a missing key or a bad value is an error naming it. */
GM_API const char *gm_kv_get(const gm_kv *kv, int n, const char *key);
GM_API int gm_kv_int(const gm_kv *kv, int n, const char *key, int64_t *out, gm_error *err);
GM_API int gm_kv_float(const gm_kv *kv, int n, const char *key, double *out, gm_error *err);
GM_API int gm_kv_bool(const gm_kv *kv, int n, const char *key, int *out, gm_error *err);

#ifdef __cplusplus
}
#endif
#endif
