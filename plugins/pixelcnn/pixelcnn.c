/* The PixelCNN model plugin: options and presets (`gated`, the default, and `seed`, the
 * study's network), creation, the network's forward pass, the training loss, the exact
 * likelihood in bits per dimension, and the samplers (sample.c). Data: 0..255 values
 * become 16 classes per channel, q = v >> 4; the network's input is q / 15 (seed) or
 * 2 q / 15 - 1 (gated); samples come back as q * 17. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <genmoji/plugin.h>

#include "pixelcnn.h"

/* The gated defaults (width 24, 5 layers, kernel 5; the preset's lr 3e-3, batch 16) are
 * sized for a 2-core CPU through PoCL; the runs that chose them are in docs/pixelcnn.md
 * and docs/performance.md ("Measurements behind the code's constants"). */
static const gm_model_option options[] = {
    {"arch", GM_OPTION_CHOICE, "gated", 1, 0, "gated|seed",
     "network: gated (no blind spot, R then G then B) or seed (the study's, docs/pixelcnn.md)"},
    {"width", GM_OPTION_INT, "24", 3, 1024, NULL,
     "feature channels (gated: a multiple of 3, the R, G and B thirds)"},
    {"layers", GM_OPTION_INT, "5", 1, 32, NULL, "gated layers (seed: fixed at 4)"},
    {"kernel", GM_OPTION_INT, "5", 3, 9, NULL,
     "gated kernel size k, odd: (k/2 + 1) x k vertical, 1 x (k/2 + 1) horizontal taps"},
    {"image_size", GM_OPTION_INT, "32", 2, 256, NULL,
     "side of sampled images (training takes any size: the network is convolutional)"},
    {"vocab", GM_OPTION_INT, "0", 0, 65536, NULL,
     "gated: a text condition whose embedding holds this many token ids (the training "
     "texts' words + 1 must fit); 0 = no text"},
    {"text_dim", GM_OPTION_INT, "64", 8, 512, NULL,
     "gated, text: the width of the token vectors and of the condition"},
    {"cond_drop", GM_OPTION_FLOAT, "0.15", 0, 0.9, NULL,
     "gated, text: share of training images given the empty text (condition dropout)"},
    {"guidance", GM_OPTION_FLOAT, "1", 0, 20, NULL,
     "gated, text: the default classifier-free guidance W of sample --prompt (1 = plain "
     "conditional)"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const gm_model_preset presets[] = {
    {"gated", "gated stacks without a blind spot, channel-wise R, G, B; default",
     "arch=gated lr=3e-3 batch=16 optimizer=adam clip=1"},
    {"gated-text", "the gated network conditioned on each emoji's text: a bias on both gates "
     "of every layer, condition dropout 0.15",
     "arch=gated vocab=1024 text_dim=64 cond_drop=0.15 guidance=1 lr=3e-3 batch=16 "
     "optimizer=adam clip=1"},
    {"seed", "the study's network exactly: masked convs A 3x3, B 7x7, 9x9, 7x7, 64 channels",
     "arch=seed width=64 lr=1e-3 batch=8 optimizer=adam"},
    {NULL, NULL, NULL},
};

static const char *const samplers[] = {"cached", "naive", NULL};
static const char *const forward_inputs[] = {"x", NULL};
static const char *const forward_outputs[] = {"logits", NULL};

double pcnn__macs(const gm_tensor *w) {
  return (double)w->shape[0] * (double)w->shape[1] * (double)w->shape[2] * (double)w->shape[3];
}

static int read_options(gm_model *m, const gm_kv *opts, int n, gm_error *err) {
  const char *arch = gm_kv_get(opts, n, "arch");
  if (!arch) return gm_error_set(err, GM_ENOTFOUND, "pixelcnn: option 'arch' is not set");
  if (strcmp(arch, "seed") == 0) m->arch = PCNN_SEED;
  else if (strcmp(arch, "gated") == 0) m->arch = PCNN_GATED;
  else return gm_error_set(err, GM_EINVAL, "pixelcnn: arch=%s (gated or seed)", arch);
  int64_t width, layers, kernel, size, vocab = 0, text_dim = 0;
  int rc = gm_kv_int(opts, n, "width", &width, err);
  if (rc == 0) rc = gm_kv_int(opts, n, "layers", &layers, err);
  if (rc == 0) rc = gm_kv_int(opts, n, "kernel", &kernel, err);
  if (rc == 0) rc = gm_kv_int(opts, n, "image_size", &size, err);
  if (rc == 0) rc = gm_kv_int(opts, n, "vocab", &vocab, err);
  if (rc == 0) rc = gm_kv_int(opts, n, "text_dim", &text_dim, err);
  if (rc == 0) rc = gm_kv_float(opts, n, "cond_drop", &m->cond_drop, err);
  if (rc == 0) rc = gm_kv_float(opts, n, "guidance", &m->guidance, err);
  if (rc) return rc;
  if (vocab < 0 || vocab == 1 || vocab > 65536 || text_dim < 8 || text_dim > 512 ||
      !(m->cond_drop >= 0 && m->cond_drop < 1) || !(m->guidance >= 0 && m->guidance <= 20))
    return gm_error_set(err, GM_ERANGE, "pixelcnn: a text option is outside its range (vocab "
                        "%lld: 0 or 2..65536, text_dim %lld: 8..512, cond_drop %g: 0..0.9, "
                        "guidance %g: 0..20)", (long long)vocab, (long long)text_dim,
                        m->cond_drop, m->guidance);
  if (vocab && strcmp(arch, "gated"))
    return gm_error_set(err, GM_EINVAL, "pixelcnn: option vocab=%lld: a text condition needs "
                        "arch=gated", (long long)vocab);
  m->vocab = (int)vocab;
  m->text_dim = (int)text_dim;
  if (width < 3 || width > 1024 || layers < 1 || layers > 32 || kernel < 3 || kernel > 9 ||
      size < 2 || size > 256)
    return gm_error_set(err, GM_ERANGE, "pixelcnn: width=%lld layers=%lld kernel=%lld "
                        "image_size=%lld outside the option table's ranges", (long long)width,
                        (long long)layers, (long long)kernel, (long long)size);
  if (m->arch == PCNN_GATED && width % 3)
    return gm_error_set(err, GM_EINVAL, "pixelcnn: option width=%lld: must be a multiple of 3 "
                        "in 3..1024 for arch=gated (the R, G and B thirds)", (long long)width);
  if (m->arch == PCNN_GATED && kernel % 2 == 0)
    return gm_error_set(err, GM_EINVAL, "pixelcnn: option kernel=%lld: must be odd in 3..9 for "
                        "arch=gated", (long long)kernel);
  m->width = (int)width;
  m->layers = m->arch == PCNN_SEED ? 4 : (int)layers;
  m->kernel = (int)kernel;
  m->size = (int)size;
  m->in_scale = m->arch == PCNN_SEED ? 1.0f / 15.0f : 2.0f / 15.0f;
  m->in_offset = m->arch == PCNN_SEED ? 0.0f : -1.0f;
  return 0;
}

/* What the option table cannot say (gm_model_vtable.check_options): read_options on a
 * scratch model, which touches only its option fields. */
static int model_check_options(const gm_kv *opts, int n, gm_error *err) {
  gm_model m;
  memset(&m, 0, sizeof m);
  return read_options(&m, opts, n, err);
}

static void model_destroy(gm_model *m) {
  if (!m) return;
  gm_params_destroy(m->params);
  gm_text_cond_free(&m->none);
  free(m->gl);
  free(m);
}

static int model_create(gm_model **out, gm_device *dev, const gm_kv *opts, int n_opts,
                       gm_rng *rng, gm_error *err) {
  *out = NULL;
  gm_model *m = calloc(1, sizeof *m);
  if (!m) return gm_error_set(err, GM_ENOMEM, "pixelcnn: no memory for the model");
  m->dev = dev;
  int rc = read_options(m, opts, n_opts, err);
  if (rc == 0) rc = gm_params_create(&m->params, dev, err);
  if (rc == 0)
    rc = m->arch == PCNN_SEED ? pcnn__seed_declare(m, err) : pcnn__gated_declare(m, err);
  if (rc == 0) rc = gm_params_finalize(m->params, err);
  if (rc == 0)
    rc = m->arch == PCNN_SEED ? pcnn__seed_init(m, rng, err) : pcnn__gated_init(m, rng, err);
  if (rc) {
    model_destroy(m);
    return rc;
  }
  *out = m;
  return 0;
}

static gm_params *model_params(gm_model *m) { return m->params; }

/* The network's input from float classes q (B, 3, H, W). */
static int network_input(gm_model *m, gm_tensor *q, gm_tensor **x, gm_error *err) {
  int rc = gm_scale(x, q, m->in_scale, err);
  if (rc == 0 && m->in_offset != 0.0f) rc = gm_add_scalar(x, *x, m->in_offset, err);
  return rc;
}

/* logits (B, 3, 16, H, W): the 48 channels of the network's output split [R, G, B]; cond:
 * each image's text (a text model; NULL: the empty one). */
static int class_logits(gm_model *m, gm_tensor *q, const gm_text_cond *cond, gm_tensor **logits,
                        gm_error *err) {
  gm_tensor *x, *y, *bias[PCNN_MAX_BIASES];
  if (cond && !m->vocab)
    return gm_error_set(err, GM_EINVAL, "pixelcnn: this model takes no text (vocab=0)");
  int rc = network_input(m, q, &x, err);
  if (rc == 0 && m->vocab) rc = pcnn__gated_cond_bias(m, cond, q->shape[0], bias, err);
  if (rc == 0 && m->arch == PCNN_SEED) rc = pcnn__seed_logits(m, x, &y, err);
  else if (rc == 0) rc = pcnn__gated_logits(m, x, m->vocab ? bias : NULL, &y, err);
  if (rc == 0)
    rc = gm_reshape(logits, y, 5, GM_SHAPE(y->shape[0], 3, PCNN_LEVELS, y->shape[2], y->shape[3]),
                    err);
  return rc;
}

static int want_images(const char *what, const gm_tensor *t, gm_error *err) {
  char s[96];
  if (t->ndim == 4 && t->shape[1] == 3 && t->dtype == GM_F32 && t->numel > 0) return 0;
  return gm_error_set(err, GM_ESHAPE, "pixelcnn: %s must be float (B, 3, H, W), got %s %s", what,
                      gm_dtype_name(t->dtype), gm_shape_str(t, s, sizeof s));
}

static int model_forward(gm_model *m, const gm_named_tensor *in, int n_in, gm_named_tensor *out,
                        int max_out, int *n_out, gm_error *err) {
  *n_out = 0;
  gm_tensor *q = NULL;
  for (int i = 0; i < n_in; i++)
    if (strcmp(in[i].name, "x") == 0) q = in[i].tensor;
    else
      return gm_error_set(err, GM_EINVAL, "pixelcnn forward: unknown input '%s' (takes x)",
                          in[i].name);
  if (!q)
    return gm_error_set(err, GM_EINVAL, "pixelcnn forward: input 'x' (B, 3, H, W) is missing");
  if (max_out < 1) return gm_error_set(err, GM_EINVAL, "pixelcnn forward: no room for 'logits'");
  int rc = want_images("forward input x (classes 0..15 as floats)", q, err);
  gm_tensor *lg;
  if (rc == 0) rc = class_logits(m, q, NULL, &lg, err);
  if (rc == 0) rc = gm_permute(&lg, lg, (const int[]){0, 1, 3, 4, 2}, err);  /* (B, 3, H, W, 16) */
  if (rc) return rc;
  out[0].name = "logits";
  out[0].tensor = lg;
  *n_out = 1;
  return 0;
}

/* Targets (int32) and float classes of a batch of 0..255 images. */
static int classes_of(gm_tensor *images, gm_tensor **targets, gm_tensor **q, gm_error *err) {
  int rc = want_images("images", images, err);
  if (rc == 0) rc = gm_quantize(targets, images, PCNN_LEVELS, GM_I32, err);
  if (rc == 0) rc = gm_quantize(q, images, PCNN_LEVELS, GM_F32, err);
  return rc;
}

static int loss_cond(gm_model *m, gm_tensor *images, const gm_text_cond *cond, gm_tensor **loss,
                     gm_error *err) {
  gm_tensor *targets, *q, *lg;
  int rc = classes_of(images, &targets, &q, err);
  if (rc == 0) rc = class_logits(m, q, cond, &lg, err);
  if (rc == 0) rc = gm_cross_entropy(loss, lg, targets, 2, err);
  return rc;
}

/* A text model trains unconditionally here, on the empty text. */
static int model_loss(gm_model *m, gm_tensor *images, gm_rng *rng, gm_tensor **loss,
                      gm_error *err) {
  return loss_cond(m, images, NULL, loss, err);
}

static int model_loss_text(gm_model *m, gm_tensor *images, const gm_text_cond *cond, gm_rng *rng,
                           gm_tensor **loss, gm_error *err) {
  if (!cond) return gm_error_set(err, GM_EINVAL, "pixelcnn loss_text: no condition");
  return loss_cond(m, images, cond, loss, err);
}

/* -log2 p of every subpixel under the model, averaged per image, then over the batch. */
static int model_nll(gm_model *m, gm_tensor *images, const gm_nll_options *o, gm_rng *rng,
                    double *bits_per_dim, gm_error *err) {
  int recording = gm_grad_enable(m->dev, 0);
  gm_tensor *targets, *q, *lg, *each;
  int rc = classes_of(images, &targets, &q, err);
  if (rc == 0) rc = class_logits(m, q, o ? o->cond : NULL, &lg, err);
  if (rc == 0) rc = gm_cross_entropy_each(&each, lg, targets, 2, err);
  gm_grad_enable(m->dev, recording);
  if (rc) return rc;
  float *nats = malloc((size_t)each->numel * sizeof *nats);
  if (!nats) return gm_error_set(err, GM_ENOMEM, "pixelcnn nll: no host memory");
  rc = gm_tensor_read(each, nats, gm_tensor_bytes(each), err);
  if (rc == 0) {
    int64_t b = each->shape[0], per = each->numel / b;
    double total = 0;
    for (int64_t i = 0; i < b; i++) {
      double s = 0;
      for (int64_t k = 0; k < per; k++) s += nats[i * per + k];
      total += s / (double)per / log(2.0);
    }
    *bits_per_dim = total / (double)b;
    if (!isfinite(*bits_per_dim))
      rc = gm_error_set(err, GM_ENUMERIC, "pixelcnn nll: non-finite likelihood");
  }
  free(nats);
  return rc;
}

/* ---- metadata ---- */

/* An exact likelihood; the cached sampler is the fast one (its pass count is the share of
 * positions it recomputes, measured as it runs, so it is not declared here), naive the
 * reference: the whole network once per draw, one draw per pixel for the study's network
 * and three (R, G, B) for the gated one. Progress is counted in pixels. */
static int describe(const gm_kv *kv, int n, gm_model_info *info, gm_error *err) {
  gm_model m;
  memset(&m, 0, sizeof m);
  int rc = read_options(&m, kv, n, err);
  if (rc) return rc;
  if (!GM_MODEL_INFO_HAS(info, image_size)) return 0; /* every field below is ABI 2's */
  int64_t pixels = (int64_t)m.size * m.size;
  info->title = "PixelCNN";
  info->likelihood = GM_LIKELIHOOD_EXACT;
  info->loss_unit = "cross-entropy, nats per subpixel";
  info->default_sampler = "cached";
  info->samplers[0] =
      (gm_sampler_info){.name = "cached", .role = GM_SAMPLER_FAST, .unit = "pixel", .units = pixels};
  info->samplers[1] = (gm_sampler_info){.name = "naive",
                                        .role = GM_SAMPLER_REFERENCE,
                                        .unit = "pixel",
                                        .units = pixels,
                                        .passes = (double)pixels * (m.arch == PCNN_SEED ? 1 : 3)};
  info->n_samplers = 2;
  info->size_option = "image_size";
  info->image_size = m.size;
  if (m.vocab && GM_MODEL_INFO_HAS(info, guidance)) {
    info->text_condition = 1;
    info->vocab_size = m.vocab;
    info->cond_drop = m.cond_drop;
    info->guidance = m.guidance;
  }
  return 0;
}

static const gm_model_vtable vtable = {
    .size = sizeof(gm_model_vtable),
    .options = options,
    .presets = presets,
    .create = model_create,
    .destroy = model_destroy,
    .params = model_params,
    .forward = model_forward,
    .loss = model_loss,
    .sample = pcnn__sample,
    .samplers = samplers,
    .nll = model_nll,
    .forward_inputs = forward_inputs,
    .forward_outputs = forward_outputs,
    .describe = describe,
    .check_options = model_check_options,
    .loss_text = model_loss_text,
};

static const gm_plugin plugin = {
    .abi = GM_PLUGIN_ABI,
    .size = sizeof(gm_plugin),
    .kind = GM_PLUGIN_KIND_MODEL,
    .name = "pixelcnn",
    .version = "1.0.0",
    .summary = "PixelCNN on 16-level RGB: the study's network and a gated channel-wise one",
    .vtable = &vtable,
};

GM_PLUGIN_EXPORT const gm_plugin *gm_plugin_entry(void) { return &plugin; }
