/* An out-of-tree model plugin: a pixel prior that gives every subpixel of an S x S image
 * its own categorical distribution over 16 levels (preset `palette`: one distribution per
 * colour channel, shared by all positions). Built against an installed genmoji only;
 * docs/plugins.md ("A complete model plugin, out of tree") walks through it.
 *
 * Building with -DPALETTE_NO_NLL leaves the optional nll slot NULL and names the plugin
 * palette_nonll: tests/install_test.sh builds that variant to check that `genmoji eval`
 * refuses a model without a likelihood. */
#include <genmoji/gm.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef PALETTE_NO_NLL
#define PALETTE_NAME "palette_nonll"
#else
#define PALETTE_NAME "palette"
#endif

#define LEVELS 16                        /* q = v >> 4, as the PixelCNN */
#define LN2 0.69314718055994530942       /* nats to bits, without linking libm */

struct gm_model {
  gm_device *dev;
  int size;             /* S: the side of the images the table covers */
  int shared;           /* 1: one distribution per channel for every position */
  gm_params *params;    /* one tensor, "logits" */
  gm_tensor *logits;    /* (3, 16, S, S), or (3, 16, 1, 1) when shared */
  gm_tensor *zeros;     /* (B, 48, S, S) zeros the table is broadcast onto; ours */
};

/* ---- options and presets: what `genmoji train --model palette --help` shows ---- */

static const gm_model_option options[] = {
    {"image_size", GM_OPTION_INT, "32", 2, 256, NULL,
     "side of the images the table covers (train with the same --size)"},
    {"shared", GM_OPTION_BOOL, "0", 1, 0, NULL,
     "one distribution per colour channel for every position (a palette)"},
    {"init_scale", GM_OPTION_FLOAT, "0", 0, 10, NULL,
     "logits start uniform in +-init_scale (0: every level equally likely, 4 bits/dim)"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const gm_model_preset presets[] = {
    {"pixel", "a distribution per subpixel; default", "shared=0 lr=0.05 batch=32 optimizer=adam"},
    {"palette", "one distribution per colour channel", "shared=1 lr=0.05 batch=32 optimizer=adam"},
    {NULL, NULL, NULL},
};

static const char *const samplers[] = {"direct", NULL};
static const char *const forward_inputs[] = {"x", NULL};
static const char *const forward_outputs[] = {"logits", NULL};

/* ---- create / destroy / params ---- */

static void model_destroy(gm_model *m) {
  if (!m) return;
  gm_tensor_destroy(m->zeros);
  gm_params_destroy(m->params);  /* frees m->logits, a view into its storage */
  free(m);
}

static int read_options(gm_model *m, const gm_kv *opts, int n, double *init_scale,
                        gm_error *err) {
  int64_t size;
  int rc = gm_kv_int(opts, n, "image_size", &size, err);
  if (rc == 0) rc = gm_kv_bool(opts, n, "shared", &m->shared, err);
  if (rc == 0) rc = gm_kv_float(opts, n, "init_scale", init_scale, err);
  m->size = (int)size;
  return rc;
}

static int model_create(gm_model **out, gm_device *dev, const gm_kv *opts, int n_opts,
                        gm_rng *rng, gm_error *err) {
  *out = NULL;
  gm_model *m = calloc(1, sizeof *m);
  if (!m) return gm_error_set(err, GM_ENOMEM, PALETTE_NAME ": no memory for the model");
  m->dev = dev;
  double init_scale = 0;
  int rc = read_options(m, opts, n_opts, &init_scale, err);
  int64_t side = m->shared ? 1 : m->size;
  if (rc == 0) rc = gm_params_create(&m->params, dev, err);
  if (rc == 0)
    rc = gm_params_declare(m->params, "logits", GM_F32, 4, GM_SHAPE(3, LEVELS, side, side),
                           GM_PARAM_TRAINABLE, err);
  if (rc == 0) rc = gm_params_finalize(m->params, err);  /* zero-filled storage */
  if (rc == 0) m->logits = gm_params_find(m->params, "logits");
  if (rc == 0 && init_scale > 0) rc = gm_init_uniform(m->logits, (float)init_scale, rng, err);
  if (rc) {
    model_destroy(m);
    return rc;
  }
  *out = m;
  return 0;
}

static gm_params *model_params(gm_model *m) { return m->params; }

/* ---- the network: the table, broadcast over a batch ---- */

/* logits (B, 3, 16, S, S) on the tape. gm_add_bias adds a (C) vector to every row of a
 * (B, C, ...) tensor, so adding the table to zeros broadcasts it over the batch, and its
 * backward sums the batch's gradients into the table: as (B, 48 S S) + (48 S S) for one
 * distribution per subpixel, as (B, 48, S, S) + (48) for one per channel. */
static int batch_logits(gm_model *m, int64_t b, gm_tensor **logits, gm_error *err) {
  int64_t s = m->size, per_image = 3 * LEVELS * s * s;
  int rc = 0;
  if (!m->zeros || m->zeros->shape[0] != b) {
    gm_tensor_destroy(m->zeros);
    m->zeros = NULL;
    rc = gm_tensor_create(&m->zeros, m->dev, GM_F32, 4, GM_SHAPE(b, 3 * LEVELS, s, s), err);
    if (rc == 0) rc = gm_tensor_fill(m->zeros, 0.0, err);
    if (rc) return rc;
  }
  /* An arena copy: the tape then never points into m->zeros, which the next batch size
   * replaces. */
  gm_tensor *z, *table, *y;
  rc = gm_scale(&z, m->zeros, 1.0f, err);
  if (rc == 0 && !m->shared) rc = gm_reshape(&z, z, 2, GM_SHAPE(b, per_image), err);
  if (rc == 0) rc = gm_reshape(&table, m->logits, 1, GM_SHAPE(m->logits->numel), err);
  if (rc == 0) rc = gm_add_bias(&y, z, table, err);
  if (rc == 0) rc = gm_reshape(logits, y, 5, GM_SHAPE(b, 3, LEVELS, s, s), err);
  return rc;
}

/* Images at this boundary are floats (B, 3, S, S) holding 0..255, S = image_size. */
static int want_images(gm_model *m, const char *what, const gm_tensor *t, gm_error *err) {
  char shape[96];
  if (t->dtype == GM_F32 && t->ndim == 4 && t->shape[0] > 0 && t->shape[1] == 3 &&
      t->shape[2] == m->size && t->shape[3] == m->size)
    return 0;
  return gm_error_set(err, GM_ESHAPE, PALETTE_NAME ": %s must be float (B, 3, %d, %d) "
                      "(image_size=%d), got %s %s", what, m->size, m->size, m->size,
                      gm_dtype_name(t->dtype), gm_shape_str(t, shape, sizeof shape));
}

/* in: "x" (B, 3, S, S), whose values a prior ignores; out: "logits" (B, 3, S, S, 16). */
static int model_forward(gm_model *m, const gm_named_tensor *in, int n_in, gm_named_tensor *out,
                         int max_out, int *n_out, gm_error *err) {
  *n_out = 0;
  if (n_in != 1 || strcmp(in[0].name, "x") != 0)
    return gm_error_set(err, GM_EINVAL, PALETTE_NAME " forward: takes one input, 'x'");
  if (max_out < 1)
    return gm_error_set(err, GM_EINVAL, PALETTE_NAME " forward: no room for 'logits'");
  gm_tensor *lg;
  int rc = want_images(m, "forward input x", in[0].tensor, err);
  if (rc == 0) rc = batch_logits(m, in[0].tensor->shape[0], &lg, err);
  if (rc == 0) rc = gm_permute(&lg, lg, (const int[]){0, 1, 3, 4, 2}, err);
  if (rc) return rc;
  out[0].name = "logits";
  out[0].tensor = lg;
  *n_out = 1;
  return 0;
}

/* ---- training loss and likelihood ---- */

/* Mean softmax cross-entropy (nats) of the 16-level classes q = v >> 4 of every subpixel. */
static int model_loss(gm_model *m, gm_tensor *images, gm_rng *rng, gm_tensor **loss,
                      gm_error *err) {
  (void)rng;  /* the loss draws nothing */
  gm_tensor *targets, *lg;
  int rc = want_images(m, "images", images, err);
  if (rc == 0) rc = gm_quantize(&targets, images, LEVELS, GM_I32, err);  /* (B, 3, S, S) */
  if (rc == 0) rc = batch_logits(m, images->shape[0], &lg, err);
  if (rc == 0) rc = gm_cross_entropy(loss, lg, targets, 2, err);
  return rc;
}

#ifndef PALETTE_NO_NLL
/* Exact -log2 p per subpixel, averaged: every image has 3 S S subpixels, so the mean over
 * the batch's subpixels is the mean of the images' bits/dim. */
static int model_nll(gm_model *m, gm_tensor *images, const gm_nll_options *o, gm_rng *rng,
                     double *bits_per_dim, gm_error *err) {
  (void)o;    /* the likelihood is exact: no t_samples */
  (void)rng;
  int recording = gm_grad_enable(m->dev, 0);
  gm_tensor *targets, *lg, *each, *mean;
  int rc = want_images(m, "images", images, err);
  if (rc == 0) rc = gm_quantize(&targets, images, LEVELS, GM_I32, err);
  if (rc == 0) rc = batch_logits(m, images->shape[0], &lg, err);
  if (rc == 0) rc = gm_cross_entropy_each(&each, lg, targets, 2, err);  /* (B, 3, S, S) */
  if (rc == 0) rc = gm_mean(&mean, each, err);
  float nats = 0;
  if (rc == 0) rc = gm_tensor_read(mean, &nats, sizeof nats, err);
  gm_grad_enable(m->dev, recording);
  if (rc) return rc;
  *bits_per_dim = nats / LN2;
  if (!isfinite(*bits_per_dim))
    return gm_error_set(err, GM_ENUMERIC, PALETTE_NAME " nll: non-finite likelihood");
  return 0;
}
#endif

/* ---- sampling ---- */

/* Every subpixel is independent, so one categorical draw over all n x 3 x S x S rows of
 * 16 logits gives the images. gm_pixel_put writes the classes drawn for one pixel; an
 * image viewed as (n, 3 S S, 1, 1) is one pixel of 3 S S channels, so one call turns
 * every draw into a float. */
static int draw(gm_model *m, int n, float temperature, gm_rng *rng, gm_tensor *q,
                gm_tensor *cls, gm_tensor *cls_rows, gm_error *err) {
  int64_t s = m->size;
  gm_tensor *lg;
  int rc = batch_logits(m, n, &lg, err);
  if (rc == 0) rc = gm_permute(&lg, lg, (const int[]){0, 1, 3, 4, 2}, err);
  if (rc == 0) rc = gm_reshape(&lg, lg, 2, GM_SHAPE(n * 3 * s * s, LEVELS), err);
  if (rc == 0) rc = gm_rng_categorical(cls, lg, temperature, rng, err);
  if (rc == 0) rc = gm_pixel_put(q, cls_rows, 0, 0, 0, 1.0f, 0.0f, err);
  return rc;
}

static int model_sample(gm_model *m, gm_sample_options *o, gm_rng *rng, gm_tensor **images,
                        gm_error *err) {
  if (o->sampler && strcmp(o->sampler, "direct") != 0)
    return gm_error_set(err, GM_EINVAL, PALETTE_NAME ": no sampler '%s' (direct)", o->sampler);
  if (o->n < 1) return gm_error_set(err, GM_EINVAL, PALETTE_NAME ": %d images asked for", o->n);
  int64_t n = o->n, s = m->size;
  float temperature = o->temperature > 0 ? o->temperature : 1.0f;
  int recording = gm_grad_enable(m->dev, 0);
  /* Ours, not the arena's: cls (n 3 S S) int32 classes, cls_rows the same as (n, 3 S S),
   * q (n, 3 S S, 1, 1) the classes as floats. */
  gm_tensor *cls = NULL, *cls_rows = NULL, *q = NULL;
  int rc = gm_tensor_create(&cls, m->dev, GM_I32, 1, GM_SHAPE(n * 3 * s * s), err);
  if (rc == 0) rc = gm_tensor_view(&cls_rows, cls, 0, 2, GM_SHAPE(n, 3 * s * s), err);
  if (rc == 0) rc = gm_tensor_create(&q, m->dev, GM_F32, 4, GM_SHAPE(n, 3 * s * s, 1, 1), err);
  if (rc == 0) rc = draw(m, o->n, temperature, rng, q, cls, cls_rows, err);
  if (rc == 0) rc = gm_tensor_reshape(q, 4, GM_SHAPE(n, 3, s, s), err);
  if (rc == 0) rc = gm_scale(images, q, 255.0f / (LEVELS - 1), err);  /* q * 17: 0..255 */
  gm_tensor_destroy(q);
  gm_tensor_destroy(cls_rows);
  gm_tensor_destroy(cls);
  gm_grad_enable(m->dev, recording);
  if (rc) return rc;
  o->evaluations_per_image = 1.0;  /* one pass for the whole batch */
  if (o->progress) o->progress(o->progress_ctx, 1, 1);
  return 0;
}

/* ---- metadata: what `genmoji compare` shows and how it times the sampler ---- */

static int model_describe(const gm_kv *opts, int n, gm_model_info *info, gm_error *err) {
  int64_t size;
  int rc = gm_kv_int(opts, n, "image_size", &size, err);
  if (rc) return rc;
  /* written against ABI 2's gm_model_info: an older host's smaller struct gets nothing */
  if (!GM_MODEL_INFO_HAS(info, image_size)) return 0;
  info->title = "Palette";
#ifdef PALETTE_NO_NLL
  info->likelihood = GM_LIKELIHOOD_NONE;
#else
  info->likelihood = GM_LIKELIHOOD_EXACT;
#endif
  info->loss_unit = "cross-entropy, nats per subpixel";
  info->default_sampler = "direct";
  /* one draw of every subpixel at once: one unit of progress, one pass per batch */
  info->samplers[0] = (gm_sampler_info){
      .name = "direct", .role = GM_SAMPLER_FAST, .unit = "image", .units = 1, .passes = 1};
  info->n_samplers = 1;
  info->text_condition = 0;
  info->size_option = "image_size";
  info->image_size = (int)size;
  return 0;
}

/* ---- the vtable and the entry point ---- */

static const gm_model_vtable vtable = {
    .size = sizeof(gm_model_vtable),
    /* required */
    .options = options,
    .presets = presets,
    .create = model_create,
    .destroy = model_destroy,
    .params = model_params,
    .forward = model_forward,
    .loss = model_loss,
    .sample = model_sample,
    .samplers = samplers,
    /* optional; train_mode stays NULL: the model behaves the same in training and eval */
#ifndef PALETTE_NO_NLL
    .nll = model_nll,
#endif
    .forward_inputs = forward_inputs,
    .forward_outputs = forward_outputs,
    .describe = model_describe,
};

static const gm_plugin plugin = {
    .abi = GM_PLUGIN_ABI,
    .size = sizeof(gm_plugin),
    .kind = GM_PLUGIN_KIND_MODEL,
    .name = PALETTE_NAME,
    .version = "1.0.0",
    .summary = "independent 16-level subpixels: the out-of-tree example model",
    .vtable = &vtable,
};

GM_PLUGIN_EXPORT const gm_plugin *gm_plugin_entry(void) { return &plugin; }
