/* The study's PixelCNN exactly (docs/pixelcnn.md): conv1 mask A 3x3, conv2 B 7x7, conv3 B
 * 9x9, conv4 B 7x7 (ReLU after each), conv_out 1x1 to 48 logits; the PyTorch keys and
 * layouts; its full pass and its one-position cached step. */
#include <stdio.h>

#include "pixelcnn.h"

static const int seed_kernel[4] = {3, 7, 9, 7};

static int declare_conv(gm_params *p, const char *name, int64_t cout, int64_t cin, int k,
                        int masked, gm_error *err) {
  char key[64];
  snprintf(key, sizeof key, "%s.weight", name);
  int rc = gm_params_declare(p, key, GM_F32, 4, GM_SHAPE(cout, cin, k, k), GM_PARAM_TRAINABLE, err);
  snprintf(key, sizeof key, "%s.bias", name);
  if (rc == 0) rc = gm_params_declare(p, key, GM_F32, 1, GM_SHAPE(cout), GM_PARAM_TRAINABLE, err);
  snprintf(key, sizeof key, "%s.mask", name);
  if (rc == 0 && masked)
    rc = gm_params_declare(p, key, GM_F32, 4, GM_SHAPE(cout, cin, k, k), GM_PARAM_BUFFER, err);
  return rc;
}

int pcnn__seed_declare(gm_model *m, gm_error *err) {
  int rc = 0;
  char name[16];
  for (int l = 0; l < 4 && rc == 0; l++) {
    snprintf(name, sizeof name, "conv%d", l + 1);
    rc = declare_conv(m->params, name, m->width, l ? m->width : 3, seed_kernel[l], 1, err);
  }
  if (rc == 0) rc = declare_conv(m->params, "conv_out", PCNN_LOGITS, m->width, 1, 0, err);
  return rc;
}

int pcnn__seed_init(gm_model *m, gm_rng *rng, gm_error *err) {
  char key[64];
  for (int l = 0; l < 5; l++) {
    char name[16];
    if (l < 4) snprintf(name, sizeof name, "conv%d", l + 1);
    else snprintf(name, sizeof name, "conv_out");
    snprintf(key, sizeof key, "%s.weight", name);
    m->conv_w[l] = gm_params_find(m->params, key);
    snprintf(key, sizeof key, "%s.bias", name);
    m->conv_b[l] = gm_params_find(m->params, key);
    if (l < 4) {
      snprintf(key, sizeof key, "%s.mask", name);
      m->conv_m[l] = gm_params_find(m->params, key);
    }
    int rc = gm_init_default(m->conv_w[l], m->conv_b[l], rng, err);
    if (rc == 0 && l < 4) rc = gm_conv_mask_fill(m->conv_m[l], l ? GM_MASK_B : GM_MASK_A, 0, err);
    if (rc) return rc;
  }
  return 0;
}

/* Masked layer l's options: "same" padding, and only the kernel positions up to the
 * mask's last open one (the rest of a causal mask is zero: skipping it halves the work). */
static gm_conv2d_opts seed_conv_opts(int l) {
  int k = seed_kernel[l];
  return (gm_conv2d_opts){.stride = 1, .pad_h = k / 2, .pad_w = k / 2,
                          .taps = gm_conv_mask_taps(l ? GM_MASK_B : GM_MASK_A, 0, k, k)};
}

int pcnn__seed_logits(gm_model *m, gm_tensor *x, gm_tensor **logits, gm_error *err) {
  gm_tensor *a = x;
  int rc = 0;
  for (int l = 0; l < 4 && rc == 0; l++) {
    gm_conv2d_opts o = seed_conv_opts(l);
    rc = gm_conv2d(&a, a, m->conv_w[l], m->conv_b[l], m->conv_m[l], &o, err);
    if (rc == 0) rc = gm_relu(&a, a, err);
  }
  if (rc == 0) rc = gm_conv2d(logits, a, m->conv_w[4], m->conv_b[4], NULL, NULL, err);
  return rc;
}

double pcnn__seed_macs(const gm_model *m) {
  double s = 0;
  for (int l = 0; l < 5; l++) s += pcnn__macs(m->conv_w[l]);
  return s;
}

int pcnn__seed_cache_pack(pcnn_cache *c, gm_error *err) {
  gm_model *m = c->m;
  int rc = 0;
  for (int l = 0; l < 5 && rc == 0; l++)
    rc = gm_conv2d_point_weights(&c->packed[l], m->conv_w[l], l < 4 ? m->conv_m[l] : NULL,
                                 l < 4 ? seed_conv_opts(l).taps : 0, err);
  return rc;
}

/* Layer l's activation at (i, j) from layer l - 1's cached map (the input for conv1):
 * the masks make every tap it reads a position already final, and each layer is one
 * gm_conv2d_point launch (conv, bias, relu and the write into its map; the maps are
 * channels last, so a position's channels are contiguous). conv_out is 1x1,
 * so it runs on the new position alone and conv4's map need not be kept (maps:
 * conv1..conv3). */
int pcnn__seed_cache_step(pcnn_cache *c, gm_tensor *x, int i, int j, gm_tensor **logits,
                         gm_error *err) {
  gm_model *m = c->m;
  gm_tensor *src = x, *a = NULL;
  int rc = 0;
  for (int l = 0; l < 4 && rc == 0; l++) {
    gm_conv2d_opts o = seed_conv_opts(l);
    unsigned flags = GM_POINT_RELU | (l ? GM_POINT_X_NHWC : 0) | (l < 3 ? GM_POINT_MAP_NHWC : 0);
    rc = gm_conv2d_point(&a, src, m->conv_w[l], c->packed[l], m->conv_b[l], &o, i, j, flags,
                         l < 3 ? c->maps[l] : NULL, err);
    c->macs += pcnn__macs(m->conv_w[l]);
    src = l < 3 ? c->maps[l] : NULL;
  }
  if (rc == 0)
    rc = gm_conv2d_point(logits, a, m->conv_w[4], c->packed[4], m->conv_b[4], NULL, 0, 0, 0,
                         NULL, err);
  c->macs += pcnn__macs(m->conv_w[4]);
  return rc;
}
