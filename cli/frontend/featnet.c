/* The emoji feature network (see featnet.h): parameters, forward, training with
 * augmentation, features, and its file. */
#include "featnet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "genmoji/checkpoint.h"

enum { P_C1W, P_C1B, P_C2W, P_C2B, P_C3W, P_C3B, P_F1W, P_F1B, P_F2W, P_F2B, P_COUNT };
static const char *const k_names[P_COUNT] = {
    "conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "conv3.weight",
    "conv3.bias",   "fc1.weight", "fc1.bias",     "fc2.weight", "fc2.bias"};

struct featnet {
  gm_device *dev;
  gm_params *params;
  gm_tensor *p[P_COUNT];
  int n_classes;
  char **classes;
};

void featnet_destroy(featnet *f) {
  if (!f) return;
  gm_params_destroy(f->params);
  for (int i = 0; f->classes && i < f->n_classes; i++) free(f->classes[i]);
  free(f->classes);
  free(f);
}

int featnet_classes(const featnet *f) { return f->n_classes; }
const char *featnet_class(const featnet *f, int i) {
  return i >= 0 && i < f->n_classes ? f->classes[i] : NULL;
}

/* The network for n_classes, parameters zero (declared and finalized). */
static int make(featnet **out, gm_device *dev, int n_classes, const char *const *classes,
                gm_error *err) {
  *out = NULL;
  if (n_classes < 2 || n_classes > FEATNET_MAX_CLASSES)
    return gm_error_set(err, GM_EINVAL, "feature network: %d classes (2..%d)", n_classes,
                        FEATNET_MAX_CLASSES);
  featnet *f = calloc(1, sizeof *f);
  if (!f) return gm_error_set(err, GM_ENOMEM, "feature network: out of memory");
  f->dev = dev;
  f->n_classes = n_classes;
  f->classes = calloc((size_t)n_classes, sizeof *f->classes);
  int rc = f->classes ? 0 : gm_error_set(err, GM_ENOMEM, "feature network: out of memory");
  for (int i = 0; i < n_classes && !rc; i++)
    if (!(f->classes[i] = strdup(classes[i])))
      rc = gm_error_set(err, GM_ENOMEM, "feature network: out of memory");
  const int64_t K = n_classes, F = FEATNET_DIM;
  const int64_t shapes[P_COUNT][4] = {{32, 3, 3, 3},  {32}, {64, 32, 3, 3}, {64},
                                      {128, 64, 3, 3}, {128}, {F, 128 * 4 * 4}, {F},
                                      {K, F},          {K}};
  const int ndim[P_COUNT] = {4, 1, 4, 1, 4, 1, 2, 1, 2, 1};
  if (!rc) rc = gm_params_create(&f->params, dev, err);
  for (int i = 0; i < P_COUNT && !rc; i++)
    rc = gm_params_declare(f->params, k_names[i], GM_F32, ndim[i], shapes[i],
                           GM_PARAM_TRAINABLE, err);
  if (!rc) rc = gm_params_finalize(f->params, err);
  for (int i = 0; i < P_COUNT && !rc; i++) f->p[i] = gm_params_find(f->params, k_names[i]);
  if (rc) {
    featnet_destroy(f);
    return rc;
  }
  *out = f;
  return 0;
}

int featnet_create(featnet **out, gm_device *dev, int n_classes, const char *const *classes,
                   uint64_t seed, gm_error *err) {
  int rc = make(out, dev, n_classes, classes, err);
  if (rc) return rc;
  gm_rng r;
  gm_rng_init(&r, seed, 0);
  for (int i = 0; i < P_COUNT && !rc; i += 2)
    rc = gm_init_default((*out)->p[i], (*out)->p[i + 1], &r, err);
  if (rc) {
    featnet_destroy(*out);
    *out = NULL;
  }
  return rc;
}

/* features (B, F) and logits (B, K) of x (B, 3, 32, 32), as arena tensors. */
static int forward(featnet *f, gm_tensor *x, gm_tensor **features, gm_tensor **logits,
                   gm_error *err) {
  const gm_conv2d_opts pad = {.stride = 1, .pad_h = 1, .pad_w = 1};
  gm_tensor *h = x, *t;
  int rc = 0;
  for (int layer = 0; layer < 3 && !rc; layer++) {
    rc = gm_conv2d(&t, h, f->p[2 * layer], f->p[2 * layer + 1], NULL, &pad, err);
    if (!rc) rc = gm_relu(&h, t, err);
    if (!rc) rc = gm_maxpool2x2(&t, h, err);
    h = t;
  }
  if (!rc) rc = gm_reshape(&t, h, 2, GM_SHAPE(x->shape[0], 128 * 4 * 4), err);
  if (!rc) rc = gm_linear(&h, t, f->p[P_F1W], f->p[P_F1B], err);
  if (!rc) rc = gm_relu(features, h, err);
  if (!rc && logits) rc = gm_linear(logits, *features, f->p[P_F2W], f->p[P_F2B], err);
  return rc;
}

/* ---- augmentation ---- */

static uint64_t mix(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
static double unit(uint64_t *s) { return (double)(mix(s) >> 11) * (1.0 / 9007199254740992.0); }
static double normal(uint64_t *s) {
  double u1 = 1.0 - unit(s), u2 = unit(s);
  return sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
}

/* out (3, 32, 32) floats in 0..1 from rgb (32, 32, 3): scaled by sc about the centre,
 * shifted by (dx, dy), bilinear, black outside; then contrast, brightness and noise. */
static void augment(const uint8_t *rgb, float *out, uint64_t *s) {
  const int S = FEATNET_SIZE;
  double sc = 0.9 + 0.2 * unit(s), dx = floor(unit(s) * 5) - 2, dy = floor(unit(s) * 5) - 2;
  double contrast = 0.9 + 0.2 * unit(s), bright = 0.2 * unit(s) - 0.1, c = (S - 1) / 2.0;
  for (int y = 0; y < S; y++)
    for (int x = 0; x < S; x++) {
      double sx = (x - dx - c) / sc + c, sy = (y - dy - c) / sc + c;
      int x0 = (int)floor(sx), y0 = (int)floor(sy);
      double fx = sx - x0, fy = sy - y0;
      for (int ch = 0; ch < 3; ch++) {
        double v = 0;
        for (int k = 0; k < 4; k++) {
          int xi = x0 + (k & 1), yi = y0 + (k >> 1);
          double w = ((k & 1) ? fx : 1 - fx) * ((k >> 1) ? fy : 1 - fy);
          if (xi >= 0 && xi < S && yi >= 0 && yi < S) v += w * rgb[(yi * S + xi) * 3 + ch] / 255.0;
        }
        v = (v - 0.5) * contrast + 0.5 + bright + 0.02 * normal(s);
        out[(ch * S + y) * S + x] = (float)(v < 0 ? 0 : v > 1 ? 1 : v);
      }
    }
}

int featnet_train(featnet *f, const uint8_t *const *rgb, const int *labels, int n,
                  const featnet_train_config *c, double *final_loss, gm_error *err) {
  const int S = FEATNET_SIZE, B = c->batch;
  if (n < 1 || B < 1 || c->steps < 1 || !(c->lr > 0))
    return gm_error_set(err, GM_EINVAL, "feature network: %d images, batch %d, steps %d, lr %g",
                        n, B, c->steps, (double)c->lr);
  for (int i = 0; i < n; i++)
    if (labels[i] < 0 || labels[i] >= f->n_classes)
      return gm_error_set(err, GM_ERANGE, "feature network: label %d of image %d outside 0..%d",
                          labels[i], i, f->n_classes - 1);
  gm_optim_config oc;
  gm_optim_config_default(&oc, GM_OPTIM_ADAM);
  oc.lr = c->lr;
  gm_optim *opt = NULL;
  gm_tensor *x = NULL, *y = NULL;
  float *hx = malloc((size_t)B * 3 * S * S * sizeof *hx);
  int32_t *hy = malloc((size_t)B * sizeof *hy);
  int rc = hx && hy ? 0 : gm_error_set(err, GM_ENOMEM, "feature network: out of memory");
  if (!rc) rc = gm_optim_create(&opt, f->params, &oc, err);
  if (!rc) rc = gm_tensor_create(&x, f->dev, GM_F32, 4, GM_SHAPE(B, 3, S, S), err);
  if (!rc) rc = gm_tensor_create(&y, f->dev, GM_I32, 1, GM_SHAPE(B), err);
  uint64_t s = c->seed ^ 0xfea7u;
  double tail = 0;
  int tail_n = 0;
  int prev = gm_grad_enable(f->dev, 1);
  for (int step = 1; step <= c->steps && !rc; step++) {
    for (int b = 0; b < B; b++) {
      int i = (int)(mix(&s) % (uint64_t)n);
      augment(rgb[i], hx + (size_t)b * 3 * S * S, &s);
      hy[b] = labels[i];
    }
    gm_tensor *feat, *logits, *loss;
    float lv = 0;
    rc = gm_tensor_write(x, hx, (size_t)B * 3 * S * S * sizeof *hx, err);
    if (!rc) rc = gm_tensor_write(y, hy, (size_t)B * sizeof *hy, err);
    if (!rc) rc = gm_tensor_set_requires_grad(x, 0, err);
    if (!rc) rc = forward(f, x, &feat, &logits, err);
    if (!rc) rc = gm_cross_entropy(&loss, logits, y, 1, err);
    if (!rc) rc = gm_params_zero_grad(f->params, err);
    if (!rc) rc = gm_backward(loss, err);
    if (!rc) rc = gm_optim_step(opt, err);
    if (!rc) rc = gm_tensor_read(loss, &lv, sizeof lv, err);
    gm_tape_reset(f->dev);
    if (rc) break;
    if (!isfinite(lv)) {
      rc = gm_error_set(err, GM_ENUMERIC, "feature network: loss %g at step %d", (double)lv, step);
      break;
    }
    if (step > c->steps - 20) tail += lv, tail_n++;
    if (c->progress) c->progress(c->ctx, step, c->steps, lv);
  }
  gm_grad_enable(f->dev, prev);
  if (!rc && final_loss) *final_loss = tail_n ? tail / tail_n : NAN;
  gm_optim_destroy(opt);
  gm_tensor_destroy(x);
  gm_tensor_destroy(y);
  free(hx);
  free(hy);
  return rc;
}

int featnet_features(featnet *f, const uint8_t *const *rgb, int n, float *features,
                     int *predicted, gm_error *err) {
  enum { CHUNK = 64 };
  const int S = FEATNET_SIZE, K = f->n_classes;
  float *hx = malloc((size_t)CHUNK * 3 * S * S * sizeof *hx);
  float *hl = malloc((size_t)CHUNK * K * sizeof *hl);
  int rc = hx && hl ? 0 : gm_error_set(err, GM_ENOMEM, "feature network: out of memory");
  int prev = gm_grad_enable(f->dev, 0);
  for (int at = 0; at < n && !rc; at += CHUNK) {
    int b = n - at < CHUNK ? n - at : CHUNK;
    for (int i = 0; i < b; i++)
      for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++)
          for (int ch = 0; ch < 3; ch++)
            hx[(((size_t)i * 3 + ch) * S + y) * S + x] = rgb[at + i][(y * S + x) * 3 + ch] / 255.0f;
    gm_tensor *x = NULL, *feat, *logits;
    rc = gm_tensor_create(&x, f->dev, GM_F32, 4, GM_SHAPE(b, 3, S, S), err);
    if (!rc) rc = gm_tensor_write(x, hx, (size_t)b * 3 * S * S * sizeof *hx, err);
    if (!rc) rc = forward(f, x, &feat, predicted ? &logits : NULL, err);
    if (!rc)
      rc = gm_tensor_read(feat, features + (size_t)at * FEATNET_DIM,
                          (size_t)b * FEATNET_DIM * sizeof *features, err);
    /* unit length: the ReLU features' scale grows with training (about 100 after 1,500
     * steps, 88% zeros), while the KID kernel expects features of about unit size, and
     * unnormalised noise fell inside the k-NN balls of real faces (docs/results.md) */
    for (int i = 0; i < b && !rc; i++) {
      float *row = features + (size_t)(at + i) * FEATNET_DIM;
      double sum = 0;
      for (int k = 0; k < FEATNET_DIM; k++) sum += (double)row[k] * row[k];
      if (sum > 0)
        for (int k = 0; k < FEATNET_DIM; k++) row[k] = (float)(row[k] / sqrt(sum));
    }
    if (!rc && predicted) rc = gm_tensor_read(logits, hl, (size_t)b * K * sizeof *hl, err);
    for (int i = 0; i < b && !rc && predicted; i++) {
      int best = 0;
      for (int k = 1; k < K; k++)
        if (hl[(size_t)i * K + k] > hl[(size_t)i * K + best]) best = k;
      predicted[at + i] = best;
    }
    gm_tape_reset(f->dev);
    gm_tensor_destroy(x);
  }
  gm_grad_enable(f->dev, prev);
  free(hx);
  free(hl);
  return rc;
}

int featnet_save(const featnet *f, const char *path, const gm_kv *meta, int n_meta,
                 gm_error *err) {
  size_t bytes = 1;
  for (int i = 0; i < f->n_classes; i++) bytes += strlen(f->classes[i]) + 1;
  char *names = malloc(bytes);
  gm_kv *all = malloc(((size_t)n_meta + 1) * sizeof *all);
  if (!names || !all) {
    free(names);
    free(all);
    return gm_error_set(err, GM_ENOMEM, "%s: out of memory", path);
  }
  names[0] = '\0';
  for (int i = 0; i < f->n_classes; i++) {
    if (i) strcat(names, "\n");
    strcat(names, f->classes[i]);
  }
  all[0] = (gm_kv){"classes", names};
  for (int i = 0; i < n_meta; i++) all[i + 1] = meta[i];
  int rc = gm_checkpoint_write_params(path, f->params, NULL, 0, all, n_meta + 1, err);
  free(names);
  free(all);
  return rc;
}

int featnet_load(featnet **out, gm_device *dev, const char *path, gm_error *err) {
  *out = NULL;
  gm_checkpoint *c;
  int rc = gm_checkpoint_open(&c, path, err);
  if (rc) return rc;
  const char *names = gm_checkpoint_meta(c, "classes");
  char *copy = names ? strdup(names) : NULL;
  const char *cls[FEATNET_MAX_CLASSES];
  int n = 0;
  if (!names) rc = gm_error_set(err, GM_EFORMAT, "%s: no class names (metadata classes): not a "
                                "feature network file", path);
  else if (!copy) rc = gm_error_set(err, GM_ENOMEM, "%s: out of memory", path);
  for (char *p = copy, *save = NULL, *tok; !rc && (tok = strtok_r(p, "\n", &save)); p = NULL) {
    if (n == FEATNET_MAX_CLASSES) {
      rc = gm_error_set(err, GM_EFORMAT, "%s: more than %d classes", path, FEATNET_MAX_CLASSES);
      break;
    }
    cls[n++] = tok;
  }
  featnet *f = NULL;
  if (!rc) rc = make(&f, dev, n, cls, err);
  if (!rc) rc = gm_checkpoint_load_params(c, f->params, NULL, err);
  free(copy);
  gm_checkpoint_close(c);
  if (rc) {
    featnet_destroy(f);
    return rc;
  }
  *out = f;
  return 0;
}
