/* The study's U-Net (its "UNetModel", described in docs/ddpm.md), with its state_dict key
 * names, layouts and order, and its time MLP computed but never added, as the notebook
 * had it. Blocks are conv 3x3 (padding 1) -> BatchNorm2d -> ReLU. */
#include <stdio.h>
#include <stdlib.h>

#include "ddpm.h"

#define BN_MOMENTUM 0.1f
#define BN_EPS 1e-5f

typedef struct seed_block {
  const char *name;
  int cin, cout;
  gm_tensor *w, *b, *gamma, *beta, *mean, *var, *count;
} seed_block;

struct ddpm_seed_net {
  gm_tensor *t0w, *t0b, *t2w, *t2b;           /* time_mlp.0, time_mlp.2 */
  seed_block enc1, enc2, bottleneck, dec1, dec2;
  gm_tensor *up1w, *up1b, *up2w, *up2b;       /* ConvTranspose2d (in, out, 2, 2) */
  gm_tensor *outw, *outb;                     /* conv 1x1 (3, 67, 1, 1) */
};

static int declare(gm_params *p, const char *prefix, const char *leaf, gm_dtype dt, int ndim,
                   const int64_t *shape, int kind, gm_error *err) {
  char name[96];
  snprintf(name, sizeof name, "%s.%s", prefix, leaf);
  return gm_params_declare(p, name, dt, ndim, shape, kind, err);
}

static int declare_block(gm_params *p, const seed_block *b, gm_error *err) {
  const int T = GM_PARAM_TRAINABLE, B = GM_PARAM_BUFFER;
  int rc = declare(p, b->name, "0.weight", GM_F32, 4, GM_SHAPE(b->cout, b->cin, 3, 3), T, err);
  if (rc == 0) rc = declare(p, b->name, "0.bias", GM_F32, 1, GM_SHAPE(b->cout), T, err);
  if (rc == 0) rc = declare(p, b->name, "1.weight", GM_F32, 1, GM_SHAPE(b->cout), T, err);
  if (rc == 0) rc = declare(p, b->name, "1.bias", GM_F32, 1, GM_SHAPE(b->cout), T, err);
  if (rc == 0) rc = declare(p, b->name, "1.running_mean", GM_F32, 1, GM_SHAPE(b->cout), B, err);
  if (rc == 0) rc = declare(p, b->name, "1.running_var", GM_F32, 1, GM_SHAPE(b->cout), B, err);
  if (rc == 0) rc = declare(p, b->name, "1.num_batches_tracked", GM_I32, 0, NULL, B, err);
  return rc;
}

static void set_block(seed_block *b, const char *name, int cin, int cout) {
  b->name = name;
  b->cin = cin;
  b->cout = cout;
}

int ddpm__seed_declare(gm_model *m, gm_error *err) {
  ddpm_seed_net *n = calloc(1, sizeof *n);
  if (!n) return gm_error_set(err, GM_ENOMEM, "ddpm seed: out of memory");
  m->seed = n;
  set_block(&n->enc1, "encoderConv1", 3, 64);
  set_block(&n->enc2, "encoderConv2", 64, 128);
  set_block(&n->bottleneck, "bottleneck", 128, 256);
  set_block(&n->dec1, "decoderConv1", 256, 128);
  set_block(&n->dec2, "decoderConv2", 128, 64);
  gm_params *p = m->params;
  const int T = GM_PARAM_TRAINABLE;
  int rc = gm_params_declare(p, "time_mlp.0.weight", GM_F32, 2, GM_SHAPE(128, 1), T, err);
  if (rc == 0) rc = gm_params_declare(p, "time_mlp.0.bias", GM_F32, 1, GM_SHAPE(128), T, err);
  if (rc == 0) rc = gm_params_declare(p, "time_mlp.2.weight", GM_F32, 2, GM_SHAPE(256, 128), T, err);
  if (rc == 0) rc = gm_params_declare(p, "time_mlp.2.bias", GM_F32, 1, GM_SHAPE(256), T, err);
  if (rc == 0) rc = declare_block(p, &n->enc1, err);
  if (rc == 0) rc = declare_block(p, &n->enc2, err);
  if (rc == 0) rc = declare_block(p, &n->bottleneck, err);
  if (rc == 0) rc = gm_params_declare(p, "upConv1.weight", GM_F32, 4, GM_SHAPE(256, 128, 2, 2), T, err);
  if (rc == 0) rc = gm_params_declare(p, "upConv1.bias", GM_F32, 1, GM_SHAPE(128), T, err);
  if (rc == 0) rc = declare_block(p, &n->dec1, err);
  if (rc == 0) rc = gm_params_declare(p, "upConv2.weight", GM_F32, 4, GM_SHAPE(128, 64, 2, 2), T, err);
  if (rc == 0) rc = gm_params_declare(p, "upConv2.bias", GM_F32, 1, GM_SHAPE(64), T, err);
  if (rc == 0) rc = declare_block(p, &n->dec2, err);
  if (rc == 0) rc = gm_params_declare(p, "output.weight", GM_F32, 4, GM_SHAPE(3, 67, 1, 1), T, err);
  if (rc == 0) rc = gm_params_declare(p, "output.bias", GM_F32, 1, GM_SHAPE(3), T, err);
  return rc;
}

static gm_tensor *find(gm_params *p, const char *prefix, const char *leaf) {
  char name[96];
  snprintf(name, sizeof name, "%s.%s", prefix, leaf);
  return gm_params_find(p, name);
}

/* Conv2d's and BatchNorm2d's reset_parameters, in module order. */
static int init_block(gm_params *p, seed_block *b, gm_rng *rng, gm_error *err) {
  b->w = find(p, b->name, "0.weight");
  b->b = find(p, b->name, "0.bias");
  b->gamma = find(p, b->name, "1.weight");
  b->beta = find(p, b->name, "1.bias");
  b->mean = find(p, b->name, "1.running_mean");
  b->var = find(p, b->name, "1.running_var");
  b->count = find(p, b->name, "1.num_batches_tracked");
  int rc = gm_init_default(b->w, b->b, rng, err);
  if (rc == 0) rc = gm_tensor_fill(b->gamma, 1, err);
  if (rc == 0) rc = gm_tensor_fill(b->beta, 0, err);
  if (rc == 0) rc = gm_tensor_fill(b->mean, 0, err);
  if (rc == 0) rc = gm_tensor_fill(b->var, 1, err);
  if (rc == 0) rc = gm_tensor_fill(b->count, 0, err);
  return rc;
}

int ddpm__seed_init(gm_model *m, gm_rng *rng, gm_error *err) {
  ddpm_seed_net *n = m->seed;
  gm_params *p = m->params;
  n->t0w = gm_params_find(p, "time_mlp.0.weight");
  n->t0b = gm_params_find(p, "time_mlp.0.bias");
  n->t2w = gm_params_find(p, "time_mlp.2.weight");
  n->t2b = gm_params_find(p, "time_mlp.2.bias");
  n->up1w = gm_params_find(p, "upConv1.weight");
  n->up1b = gm_params_find(p, "upConv1.bias");
  n->up2w = gm_params_find(p, "upConv2.weight");
  n->up2b = gm_params_find(p, "upConv2.bias");
  n->outw = gm_params_find(p, "output.weight");
  n->outb = gm_params_find(p, "output.bias");
  int rc = gm_init_default(n->t0w, n->t0b, rng, err);
  if (rc == 0) rc = gm_init_default(n->t2w, n->t2b, rng, err);
  if (rc == 0) rc = init_block(p, &n->enc1, rng, err);
  if (rc == 0) rc = init_block(p, &n->enc2, rng, err);
  if (rc == 0) rc = init_block(p, &n->bottleneck, rng, err);
  if (rc == 0) rc = gm_init_default(n->up1w, n->up1b, rng, err);
  if (rc == 0) rc = init_block(p, &n->dec1, rng, err);
  if (rc == 0) rc = gm_init_default(n->up2w, n->up2b, rng, err);
  if (rc == 0) rc = init_block(p, &n->dec2, rng, err);
  if (rc == 0) rc = gm_init_default(n->outw, n->outb, rng, err);
  return rc;
}

void ddpm__seed_free(gm_model *m) {
  free(m->seed);
  m->seed = NULL;
}

/* y = relu(batchnorm(conv3x3(x))); in training the batch statistics are used, the running
 * ones updated and num_batches_tracked counted, as nn.BatchNorm2d in train(). */
static int block(gm_model *m, seed_block *b, gm_tensor *x, gm_tensor **y, gm_error *err) {
  gm_conv2d_opts pad1 = {.stride = 1, .pad_h = 1, .pad_w = 1};
  gm_tensor *h, *g;
  int rc = gm_conv2d(&h, x, b->w, b->b, NULL, &pad1, err);
  if (rc == 0)
    rc = gm_batchnorm(&g, h, b->gamma, b->beta, b->mean, b->var, m->training, BN_MOMENTUM,
                      BN_EPS, err);
  if (rc == 0 && m->training) rc = gm_counter_add(b->count, 1, err);
  if (rc == 0) rc = gm_relu(y, g, err);
  if (rc) gm_error_prefix(err, "%s", b->name);
  return rc;
}

static int concat2(gm_tensor **y, gm_tensor *a, gm_tensor *b, gm_error *err) {
  gm_tensor *xs[2] = {a, b};
  return gm_concat_channels(y, xs, 2, err);
}

int ddpm__seed_forward(gm_model *m, gm_tensor *x, gm_tensor *t, gm_tensor **eps, gm_error *err) {
  ddpm_seed_net *n = m->seed;
  int64_t batch = x->shape[0];
  gm_tensor *t1, *a, *tm, *e1, *p1, *e2, *p2, *bn, *u1, *c1, *d1, *u2, *c2, *d2, *c3;
  /* time_mlp(t): computed as the notebook did, and (its flaw) never added to the features */
  int rc = gm_reshape(&t1, t, 2, GM_SHAPE(batch, 1), err);
  if (rc == 0) rc = gm_linear(&a, t1, n->t0w, n->t0b, err);
  if (rc == 0) rc = gm_gelu(&a, a, err);
  if (rc == 0) rc = gm_linear(&a, a, n->t2w, n->t2b, err);
  if (rc == 0) rc = gm_gelu(&tm, a, err);
  if (rc == 0) rc = block(m, &n->enc1, x, &e1, err);
  if (rc == 0) rc = gm_maxpool2x2(&p1, e1, err);
  if (rc == 0) rc = block(m, &n->enc2, p1, &e2, err);
  if (rc == 0) rc = gm_maxpool2x2(&p2, e2, err);
  if (rc == 0) rc = block(m, &n->bottleneck, p2, &bn, err);
  if (rc == 0) rc = gm_conv_transpose2x2(&u1, bn, n->up1w, n->up1b, err);
  if (rc == 0) rc = concat2(&c1, u1, e2, err);
  if (rc == 0) rc = block(m, &n->dec1, c1, &d1, err);
  if (rc == 0) rc = gm_conv_transpose2x2(&u2, d1, n->up2w, n->up2b, err);
  if (rc == 0) rc = concat2(&c2, u2, e1, err);
  if (rc == 0) rc = block(m, &n->dec2, c2, &d2, err);
  if (rc == 0) rc = concat2(&c3, d2, x, err);
  if (rc == 0) rc = gm_conv2d(eps, c3, n->outw, n->outb, NULL, NULL, err);
  (void)tm;
  return rc;
}
