/* The model's likelihood bound: 0..255 images quantised to 16 levels (q = v >> 4, bin
 * centres q / 7.5 - 1), then bound.c with the network (evaluation mode) as predictor. */
#include <math.h>
#include <stdlib.h>

#include "bound.h"
#include "ddpm.h"

typedef struct net_ctx {
  gm_model *m;
  gm_tensor *tin;  /* (B) */
  const gm_text_cond *cond; /* each image's text; NULL: the empty one */
} net_ctx;

static int predict(void *ctx, gm_tensor *x_t, int level, gm_tensor **eps_hat, gm_error *err) {
  net_ctx *c = ctx;
  int rc = gm_tensor_fill(c->tin, level * c->m->sched.t_scale, err);
  if (rc == 0) rc = ddpm__eps(c->m, x_t, c->tin, level, c->cond, eps_hat, err);
  return rc;
}

int ddpm__nll(gm_model *m, gm_tensor *images, const gm_nll_options *o, gm_rng *rng,
              double *bits_per_dim, gm_error *err) {
  char sh[96];
  if (images->dtype != GM_F32 || images->ndim != 4 || images->shape[1] != 3 || images->shape[0] < 1)
    return gm_error_set(err, GM_ESHAPE, "ddpm nll: images must be float32 (B, 3, S, S), got %s",
                        gm_shape_str(images, sh, sizeof sh));
  int64_t batch = images->shape[0], n = images->numel;
  gm_rng fallback;
  gm_rng_init(&fallback, 0, 0);
  net_ctx c = {.m = m, .cond = o ? o->cond : NULL};
  gm_tensor *x0 = NULL;
  float *h = malloc((size_t)n * sizeof *h);
  double *bits = malloc((size_t)batch * sizeof *bits);
  int rc = h && bits ? 0 : gm_error_set(err, GM_ENOMEM, "ddpm nll: out of memory");
  if (rc == 0) rc = gm_tensor_read(images, h, (size_t)n * sizeof *h, err);
  for (int64_t i = 0; i < n && rc == 0; i++) {
    int v = (int)floorf(h[i]);
    int q = (v < 0 ? 0 : v > 255 ? 255 : v) >> 4;
    h[i] = (float)(q / 7.5 - 1);
  }
  if (rc == 0) rc = gm_tensor_create(&x0, m->dev, GM_F32, 4, images->shape, err);
  if (rc == 0) rc = gm_tensor_write(x0, h, (size_t)n * sizeof *h, err);
  if (rc == 0) rc = gm_tensor_create(&c.tin, m->dev, GM_F32, 1, GM_SHAPE(batch), err);
  if (rc == 0) {
    int was_training = m->training, was_recording = gm_grad_enable(m->dev, 0);
    m->training = 0;
    rc = ddpm__bound(&m->sched, x0, o ? o->t_samples : 0, rng ? rng : &fallback, predict, &c,
                     bits, err);
    m->training = was_training;
    gm_grad_enable(m->dev, was_recording);
  }
  if (rc == 0) {
    double sum = 0;
    for (int64_t b = 0; b < batch; b++) sum += bits[b];
    *bits_per_dim = sum / (double)batch;
  }
  gm_tensor_destroy(x0);
  gm_tensor_destroy(c.tin);
  free(h);
  free(bits);
  if (rc) gm_error_prefix(err, "ddpm nll");
  return rc;
}
