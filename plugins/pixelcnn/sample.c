/* The PixelCNN's samplers. `naive` runs the whole network once per draw (the study's
 * method: 1024 passes per 32x32 image for the seed network, 3072 for the gated one, which
 * draws R, G and B of a pixel in turn); `cached` keeps every layer's activation maps and
 * computes only the new position per layer per draw. Both make the same categorical
 * draws in the same order (pixels in raster order; per pixel one draw of n x 3 rows for
 * the seed network, three draws of n rows, R then G then B, for the gated one), so one
 * seed gives the same images from both. Each draw's temporaries are freed with
 * gm_tape_reset, so arena tensors a caller holds do not survive sample().
 *
 * A text model draws from each image's text (o->cond) with classifier-free guidance W:
 * W = 0 runs the unconditional network (the empty text), W = 1 the conditional one, and
 * any other W both in one batch of 2n (the images with their texts, then the same images
 * with the empty text: every layer's launch covers both), drawing each subpixel from
 * u + W (c - u) of the two halves' logits and writing the draw into both. */
#include <stdlib.h>
#include <string.h>

#include "pixelcnn.h"

int pcnn__cache_open(pcnn_cache *c, gm_model *m, int n, gm_error *err) {
  memset(c, 0, sizeof *c);
  c->m = m;
  int64_t f = m->width, channels[3 * 64];
  int k = 0, L = m->layers;
  if (m->arch == PCNN_SEED) {
    for (int l = 0; l < 3; l++) channels[k++] = f;
  } else {
    for (int l = 0; l < L - 1; l++) channels[k++] = f;      /* v */
    for (int l = 0; l < L; l++) channels[k++] = 2 * f;      /* conv_vh(v) */
    for (int l = 0; l < L - 1; l++) channels[k++] = f;      /* h */
  }
  c->maps = calloc((size_t)(k ? k : 1), sizeof *c->maps);
  if (!c->maps) return gm_error_set(err, GM_ENOMEM, "pixelcnn: no memory for the sampler's cache");
  int rc = 0;
  for (c->n_maps = 0; c->n_maps < k && rc == 0; c->n_maps++) {
    int64_t ch = channels[c->n_maps], side = m->size;
    /* the seed network reads its maps with gm_conv2d_point: channels last */
    rc = gm_tensor_create(&c->maps[c->n_maps], m->dev, GM_F32, 4,
                          m->arch == PCNN_SEED ? GM_SHAPE(n, side, side, ch)
                                               : GM_SHAPE(n, ch, side, side), err);
    if (rc) break;
    rc = gm_tensor_fill(c->maps[c->n_maps], 0.0, err);
  }
  if (rc == 0 && m->arch == PCNN_SEED) rc = pcnn__seed_cache_pack(c, err);
  if (rc) {
    gm_error_prefix(err, "pixelcnn: sampler cache");
    pcnn__cache_close(c);
  }
  return rc;
}

void pcnn__cache_close(pcnn_cache *c) {
  for (int i = 0; c->maps && i < c->n_maps; i++) gm_tensor_destroy(c->maps[i]);
  for (int i = 0; i < 5; i++) {
    gm_tensor_destroy(c->packed[i]);
    c->packed[i] = NULL;
  }
  free(c->maps);
  c->maps = NULL;
  c->n_maps = 0;
}

/* What one sampling run holds: the network's input image and the drawn classes as
 * floats (both (n, 3, S, S)), and the draw's classes (n * per_draw, then viewed as
 * (n, per_draw) for the pixel puts). */
typedef struct run {
  gm_model *m;
  int n, per_draw, draws_per_pixel, cached;
  int b;          /* the network's batch: n, or 2 n when guided */
  int guided;     /* both halves, combined with weight w */
  float w;
  float temperature;
  gm_rng *rng;
  gm_tensor *x, *q, *cls, *cls_view;
  gm_tensor *xh[2];                    /* guided: x's halves, conditional then empty */
  gm_tensor *bias[PCNN_MAX_BIASES];    /* a text model's gate biases for the b images */
  int n_bias;
  gm_text_cond both;                   /* guided: the texts, then as many empty ones */
  pcnn_cache cache;
} run;

static void run_close(run *r) {
  if (r->cached) pcnn__cache_close(&r->cache);
  for (int i = 0; i < r->n_bias; i++) gm_tensor_destroy(r->bias[i]);
  r->n_bias = 0;
  gm_text_cond_free(&r->both);
  gm_tensor_destroy(r->xh[0]);
  gm_tensor_destroy(r->xh[1]);
  gm_tensor_destroy(r->cls_view);
  gm_tensor_destroy(r->cls);
  gm_tensor_destroy(r->q);
  gm_tensor_destroy(r->x);
}

/* The texts of cond (n rows) followed by n empty texts, on the host and back. */
static int double_cond(gm_model *m, const gm_text_cond *c, int n, gm_text_cond *out,
                       gm_error *err) {
  const int L = GM_TEXT_MAX_TOKENS;
  int32_t *ids = calloc((size_t)(2 * n * L), sizeof *ids);
  float *mask = calloc((size_t)(2 * n * L), sizeof *mask);
  float *empty = calloc((size_t)(2 * n), sizeof *empty);
  int rc = ids && mask && empty ? 0 : gm_error_set(err, GM_ENOMEM, "pixelcnn: out of memory");
  if (rc == 0) rc = gm_tensor_read(c->ids, ids, (size_t)(n * L) * sizeof *ids, err);
  if (rc == 0) rc = gm_tensor_read(c->mask, mask, (size_t)(n * L) * sizeof *mask, err);
  if (rc == 0) rc = gm_tensor_read(c->empty, empty, (size_t)n * sizeof *empty, err);
  for (int i = n; i < 2 * n && rc == 0; i++) empty[i] = 1.0f;
  if (rc == 0) rc = gm_text_cond_create(m->dev, 2 * n, out, err);
  if (rc == 0) rc = gm_tensor_write(out->ids, ids, (size_t)(2 * n * L) * sizeof *ids, err);
  if (rc == 0) rc = gm_tensor_write(out->mask, mask, (size_t)(2 * n * L) * sizeof *mask, err);
  if (rc == 0) rc = gm_tensor_write(out->empty, empty, (size_t)(2 * n) * sizeof *empty, err);
  free(ids);
  free(mask);
  free(empty);
  return rc;
}

/* A text model's gate biases for the run's b images, kept in tensors of the run's own
 * (the sampler resets the arena after every draw). */
static int run_biases(run *r, const gm_text_cond *cond, gm_error *err) {
  gm_model *m = r->m;
  gm_tensor *arena[PCNN_MAX_BIASES];
  int rc = pcnn__gated_cond_bias(m, cond, r->b, arena, err);
  for (int i = 0; i < 2 * m->layers && rc == 0; i++) {
    rc = gm_tensor_create(&r->bias[i], m->dev, GM_F32, 2, arena[i]->shape, err);
    if (rc == 0) r->n_bias = i + 1;
    if (rc == 0) rc = gm_tensor_copy(r->bias[i], arena[i], err);
  }
  gm_tape_reset(m->dev);
  return rc;
}

static int run_open(run *r, gm_model *m, int n, int cached, float temperature, gm_rng *rng,
                    const gm_text_cond *cond, float w, gm_error *err) {
  memset(r, 0, sizeof *r);
  r->m = m;
  r->n = n;
  r->temperature = temperature;
  r->rng = rng;
  r->per_draw = m->arch == PCNN_SEED ? 3 : 1;
  r->draws_per_pixel = 3 / r->per_draw;
  if (cond && w == 0.0f) cond = NULL; /* W = 0: the unconditional model alone */
  r->guided = cond && w != 1.0f;
  r->w = w;
  r->b = r->guided ? 2 * n : n;
  int64_t s = m->size, b = r->b;
  int rc = 0;
  if (m->vocab) {
    if (r->guided) rc = double_cond(m, cond, n, &r->both, err);
    if (rc == 0) rc = run_biases(r, r->guided ? &r->both : cond, err);
  }
  if (rc == 0) rc = gm_tensor_create(&r->x, m->dev, GM_F32, 4, GM_SHAPE(b, 3, s, s), err);
  size_t half = (size_t)n * 3 * (size_t)s * (size_t)s;
  for (int k = 0; k < 2 && rc == 0 && r->guided; k++)
    rc = gm_tensor_view(&r->xh[k], r->x, k * half, 4, GM_SHAPE(n, 3, s, s), err);
  if (rc == 0) rc = gm_tensor_fill(r->x, m->in_offset, err);  /* every pixel class 0 */
  if (rc == 0) rc = gm_tensor_create(&r->q, m->dev, GM_F32, 4, GM_SHAPE(n, 3, s, s), err);
  if (rc == 0) rc = gm_tensor_fill(r->q, 0.0, err);
  if (rc == 0) rc = gm_tensor_create(&r->cls, m->dev, GM_I32, 1, GM_SHAPE(n * r->per_draw), err);
  if (rc == 0) rc = gm_tensor_view(&r->cls_view, r->cls, 0, 2, GM_SHAPE(n, r->per_draw), err);
  if (rc == 0 && cached) {
    rc = pcnn__cache_open(&r->cache, m, (int)b, err);  /* closes itself on failure */
    r->cached = rc == 0;
    r->cache.bias = r->n_bias ? r->bias : NULL;
  }
  if (rc) run_close(r);
  return rc;
}

/* guided: u + w (c - u) of the two halves of logits (2 n, 48, 1, 1), as (n, 48, 1, 1) */
static int guide(run *r, gm_tensor *lg, gm_tensor **out, gm_error *err) {
  int64_t half = (int64_t)r->n * PCNN_LOGITS;
  gm_tensor *flat, *c, *u, *d;
  int rc = gm_reshape(&flat, lg, 2, GM_SHAPE(1, 2 * half), err);
  if (rc == 0) rc = gm_slice_channels(&c, flat, 0, (int)half, err);
  if (rc == 0) rc = gm_slice_channels(&u, flat, (int)half, (int)half, err);
  if (rc == 0) rc = gm_scale(&d, u, -1.0f, err);
  if (rc == 0) rc = gm_add(&d, c, d, err);
  if (rc == 0) rc = gm_scale(&d, d, r->w, err);
  if (rc == 0) rc = gm_add(&d, u, d, err);
  if (rc == 0) rc = gm_reshape(out, d, 4, GM_SHAPE(r->n, PCNN_LOGITS, 1, 1), err);
  return rc;
}

/* logits (n, 48, 1, 1) of pixel (i, j) given every draw before draw c of it. */
static int pixel_logits(run *r, int i, int j, gm_tensor **logits, gm_error *err) {
  gm_model *m = r->m;
  gm_tensor *lg;
  int rc;
  if (r->cached) {
    rc = m->arch == PCNN_SEED ? pcnn__seed_cache_step(&r->cache, r->x, i, j, &lg, err)
                              : pcnn__gated_cache_step(&r->cache, r->x, i, j, &lg, err);
  } else {
    gm_tensor *all;
    rc = m->arch == PCNN_SEED ? pcnn__seed_logits(m, r->x, &all, err)
                              : pcnn__gated_logits(m, r->x, r->n_bias ? r->bias : NULL, &all, err);
    if (rc == 0) rc = gm_window(&lg, all, i, j, 1, 1, err);
  }
  if (rc == 0 && r->guided) return guide(r, lg, logits, err);
  if (rc == 0) *logits = lg;
  return rc;
}

/* Draw c of pixel (i, j): the rows of this draw's channels, one categorical draw, the
 * classes written into both images. */
static int draw(run *r, gm_tensor *logits, int i, int j, int c, gm_error *err) {
  gm_model *m = r->m;
  gm_tensor *rows = logits;
  int rc = 0, c0 = c * r->per_draw;
  if (r->per_draw == 1) rc = gm_slice_channels(&rows, logits, c * PCNN_LEVELS, PCNN_LEVELS, err);
  if (rc == 0)
    rc = gm_reshape(&rows, rows, 2, GM_SHAPE(r->n * r->per_draw, PCNN_LEVELS), err);
  if (rc == 0) rc = gm_rng_categorical(r->cls, rows, r->temperature, r->rng, err);
  if (rc == 0) rc = gm_pixel_put(r->q, r->cls_view, i, j, c0, 1.0f, 0.0f, err);
  for (int k = 0; k < (r->guided ? 2 : 1) && rc == 0; k++)
    rc = gm_pixel_put(r->guided ? r->xh[k] : r->x, r->cls_view, i, j, c0, m->in_scale,
                      m->in_offset, err);
  return rc;
}

/* Draws the pixels in raster order up to o->stop_after of them (0: all); *done gets the
 * number drawn. */
static int run_pixels(run *r, gm_sample_options *o, int64_t *done, gm_error *err) {
  gm_model *m = r->m;
  int s = m->size, rc = 0;
  int64_t total = (int64_t)s * s;
  int64_t stop = o->stop_after > 0 && o->stop_after < total ? o->stop_after : total;
  int64_t p = 0;
  for (; p < stop && rc == 0; p++) {
    int i = (int)(p / s), j = (int)(p % s);
    if (j == 0 && r->cached && m->arch == PCNN_GATED)
      rc = pcnn__gated_cache_row(&r->cache, r->x, i, err);
    for (int c = 0; c < r->draws_per_pixel && rc == 0; c++) {
      gm_tensor *logits;
      rc = pixel_logits(r, i, j, &logits, err);
      if (rc == 0) rc = draw(r, logits, i, j, c, err);
      gm_tape_reset(m->dev);  /* the step's temporaries; the run's tensors are its own */
    }
    /* The host enqueues without waiting; finishing each row keeps it at most a row ahead
     * of the device, so progress reports work done, not work queued. */
    if (rc == 0 && (j == s - 1 || p + 1 == stop)) {
      rc = gm_device_finish(m->dev, err);
      if (rc == 0 && o->progress) o->progress(o->progress_ctx, p + 1, total);
    }
  }
  *done = p;
  return rc;
}

int pcnn__sample(gm_model *m, gm_sample_options *o, gm_rng *rng, gm_tensor **images,
                gm_error *err) {
  const char *name = o->sampler ? o->sampler : "cached";
  int cached = strcmp(name, "cached") == 0;
  if (!cached && strcmp(name, "naive") != 0)
    return gm_error_set(err, GM_EINVAL, "pixelcnn: no sampler '%s' (cached, naive)", name);
  if (o->n < 1) return gm_error_set(err, GM_EINVAL, "pixelcnn: %d images asked for", o->n);
  if (o->cond && !m->vocab)
    return gm_error_set(err, GM_EINVAL, "pixelcnn: this model takes no text (its options have "
                        "vocab=0); sample it without a prompt");
  if (o->cond && (!o->cond->ids || o->cond->ids->ndim != 2 || o->cond->ids->shape[0] != o->n))
    return gm_error_set(err, GM_ESHAPE, "pixelcnn: the condition must have one row per image "
                        "(%d)", o->n);
  if (o->cond && !(o->guidance >= 0 && o->guidance <= 1e6))
    return gm_error_set(err, GM_EINVAL, "pixelcnn: guidance %g is not a weight >= 0", o->guidance);
  float t = o->temperature > 0 ? o->temperature : 1.0f;
  int recording = gm_grad_enable(m->dev, 0);
  run r;
  int rc = run_open(&r, m, o->n, cached, t, rng, o->cond, o->guidance, err);
  if (rc == 0) {
    int64_t done = 0;
    rc = run_pixels(&r, o, &done, err);
    double full = (m->arch == PCNN_SEED ? pcnn__seed_macs(m) : pcnn__gated_macs(m)) *
                  (double)m->size * m->size;
    /* guided: every image is two network images */
    o->evaluations_per_image = (cached ? r.cache.macs / full : (double)done * r.draws_per_pixel) *
                               (r.guided ? 2 : 1);
    if (rc == 0) rc = gm_scale(images, r.q, 255.0f / (PCNN_LEVELS - 1), err);  /* q * 17 */
    run_close(&r);
  }
  gm_grad_enable(m->dev, recording);
  if (rc) gm_error_prefix(err, "pixelcnn: %s sampler", name);
  return rc;
}
