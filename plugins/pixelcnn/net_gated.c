/* The gated PixelCNN without a blind spot, autoregressive over channels too (R, then G
 * given R, then B given R and G): its parameters, full pass and cached steps.
 *
 * Width F (divisible by 3: the R, G and B thirds of every feature map of the horizontal
 * stack), kernel k, kc = k / 2. Layer l:
 *   v = gate(conv_v(v))          (kc + 1) x k taps over rows above: rows i-kc-1 .. i-1
 *                                in layer 0 (the input shifted down a row), i-kc .. i after;
 *                                so v at row i never sees row i of the image
 *   h' = gate(conv_h(h) + conv_vh(v))   1 x (kc + 1) taps: columns j-kc .. j of row i; at
 *                                the current pixel a channel-aware mask (type A in layer 0:
 *                                group g sees input groups < g; type B after: <= g)
 *   h = h'                       (layer 0)   h = h + conv_res(h')   (after; 1x1 type B)
 * With a text condition, the text encoder's condition vector c (text.h) adds a learned
 * bias W c + b to the pre-activations of both gates of every layer (the conditional
 * PixelCNN of van den Oord et al. 2016), the same at every position.
 * then logits = conv_out1(relu(conv_out0(relu(h)))) with 1x1 type B masks, 48 outputs in
 * groups R 0..15, G 16..31, B 32..47. Gate: tanh(first half) * sigmoid(second half);
 * a pre-activation channel c belongs to group (c mod F) * 3 / F so both halves agree.
 * The shifted kernels hold only taps that may be non-zero, run on zero-padded windows of
 * their inputs (gm_window), so no work goes into masked-out taps. */
#include <stdio.h>
#include <stdlib.h>

#include "pixelcnn.h"

static int declare(gm_params *p, const char *key, int ndim, const int64_t *shape, int kind,
                   gm_error *err) {
  return gm_params_declare(p, key, GM_F32, ndim, shape, kind, err);
}

/* name.weight (cout, cin, kh, kw), name.bias, and name.mask when masked. */
static int declare_conv(gm_params *p, const char *name, int64_t cout, int64_t cin, int kh,
                        int kw, int masked, gm_error *err) {
  char key[64];
  snprintf(key, sizeof key, "%s.weight", name);
  int rc = declare(p, key, 4, GM_SHAPE(cout, cin, kh, kw), GM_PARAM_TRAINABLE, err);
  snprintf(key, sizeof key, "%s.bias", name);
  if (rc == 0) rc = declare(p, key, 1, GM_SHAPE(cout), GM_PARAM_TRAINABLE, err);
  snprintf(key, sizeof key, "%s.mask", name);
  if (rc == 0 && masked) rc = declare(p, key, 4, GM_SHAPE(cout, cin, kh, kw), GM_PARAM_BUFFER, err);
  return rc;
}

int pcnn__gated_declare(gm_model *m, gm_error *err) {
  int64_t f = m->width;
  int kc = m->kernel / 2, rc = 0;
  char name[48];
  for (int l = 0; l < m->layers && rc == 0; l++) {
    int64_t cin = l ? f : 3;
    snprintf(name, sizeof name, "layers.%d.v", l);
    rc = declare_conv(m->params, name, 2 * f, cin, kc + 1, m->kernel, 0, err);
    snprintf(name, sizeof name, "layers.%d.h", l);
    if (rc == 0) rc = declare_conv(m->params, name, 2 * f, cin, 1, kc + 1, 1, err);
    snprintf(name, sizeof name, "layers.%d.vh", l);
    if (rc == 0) rc = declare_conv(m->params, name, 2 * f, f, 1, 1, 0, err);
    snprintf(name, sizeof name, "layers.%d.res", l);
    if (rc == 0 && l) rc = declare_conv(m->params, name, f, f, 1, 1, 1, err);
  }
  if (rc == 0) rc = declare_conv(m->params, "out.0", f, f, 1, 1, 1, err);
  if (rc == 0) rc = declare_conv(m->params, "out.1", PCNN_LOGITS, f, 1, 1, 1, err);
  for (int l = 0; l < m->layers && rc == 0 && m->vocab; l++) {
    const char *gate[2] = {"cv", "ch"};
    for (int k = 0; k < 2 && rc == 0; k++) {
      char key[64];
      snprintf(key, sizeof key, "layers.%d.%s.weight", l, gate[k]);
      rc = declare(m->params, key, 2, GM_SHAPE(2 * f, m->text_dim), GM_PARAM_TRAINABLE, err);
      snprintf(key, sizeof key, "layers.%d.%s.bias", l, gate[k]);
      if (rc == 0) rc = declare(m->params, key, 1, GM_SHAPE(2 * f), GM_PARAM_TRAINABLE, err);
    }
  }
  if (rc == 0 && m->vocab) {
    gm_text_encoder_config tc = {m->vocab, m->text_dim, m->text_dim};
    rc = gm_text_encoder_declare(m->params, "text.", &tc, err);
  }
  return rc;
}

static gm_tensor *find(gm_model *m, const char *name, const char *what) {
  char key[64];
  snprintf(key, sizeof key, "%s.%s", name, what);
  return gm_params_find(m->params, key);
}

/* The horizontal stack's mask (2F, Cin, 1, kc + 1): every column left of the pixel is
 * open; at the pixel itself (the last column) output group go sees input group gi when
 * gi < go (first layer, whose input is the image) or gi <= go (later layers). */
static int fill_h_mask(gm_tensor *mask, int f, int first, gm_error *err) {
  int64_t cout = mask->shape[0], cin = mask->shape[1], kw = mask->shape[3];
  float *host = malloc((size_t)mask->numel * sizeof *host);
  if (!host) return gm_error_set(err, GM_ENOMEM, "pixelcnn: no memory for a mask");
  float *p = host;
  for (int64_t co = 0; co < cout; co++)
    for (int64_t ci = 0; ci < cin; ci++)
      for (int64_t kx = 0; kx < kw; kx++) {
        int64_t go = (co % f) * 3 / f, gi = ci * 3 / cin;
        *p++ = kx < kw - 1 || (first ? gi < go : gi <= go) ? 1.0f : 0.0f;
      }
  int rc = gm_tensor_write(mask, host, gm_tensor_bytes(mask), err);
  free(host);
  return rc;
}

int pcnn__gated_init(gm_model *m, gm_rng *rng, gm_error *err) {
  m->gl = calloc((size_t)m->layers, sizeof *m->gl);
  if (!m->gl) return gm_error_set(err, GM_ENOMEM, "pixelcnn: no memory for %d layers", m->layers);
  char name[48];
  int rc = 0;
  for (int l = 0; l < m->layers && rc == 0; l++) {
    pcnn_gated_layer *L = &m->gl[l];
    snprintf(name, sizeof name, "layers.%d.v", l);
    L->v_w = find(m, name, "weight");
    L->v_b = find(m, name, "bias");
    snprintf(name, sizeof name, "layers.%d.h", l);
    L->h_w = find(m, name, "weight");
    L->h_b = find(m, name, "bias");
    L->h_m = find(m, name, "mask");
    snprintf(name, sizeof name, "layers.%d.vh", l);
    L->vh_w = find(m, name, "weight");
    L->vh_b = find(m, name, "bias");
    snprintf(name, sizeof name, "layers.%d.res", l);
    L->res_w = find(m, name, "weight");
    L->res_b = find(m, name, "bias");
    L->res_m = find(m, name, "mask");
    rc = gm_init_default(L->v_w, L->v_b, rng, err);
    if (rc == 0) rc = gm_init_default(L->h_w, L->h_b, rng, err);
    if (rc == 0) rc = gm_init_default(L->vh_w, L->vh_b, rng, err);
    if (rc == 0 && l) rc = gm_init_default(L->res_w, L->res_b, rng, err);
    if (rc == 0) rc = fill_h_mask(L->h_m, m->width, l == 0, err);
    if (rc == 0 && l) rc = gm_conv_mask_fill(L->res_m, GM_MASK_B, 1, err);
  }
  for (int k = 0; k < 2 && rc == 0; k++) {
    snprintf(name, sizeof name, "out.%d", k);
    m->out_w[k] = find(m, name, "weight");
    m->out_b[k] = find(m, name, "bias");
    m->out_m[k] = find(m, name, "mask");
    rc = gm_init_default(m->out_w[k], m->out_b[k], rng, err);
    if (rc == 0) rc = gm_conv_mask_fill(m->out_m[k], GM_MASK_B, 1, err);
  }
  for (int l = 0; l < m->layers && rc == 0 && m->vocab; l++) {
    pcnn_gated_layer *L = &m->gl[l];
    snprintf(name, sizeof name, "layers.%d.cv", l);
    L->cv_w = find(m, name, "weight");
    L->cv_b = find(m, name, "bias");
    snprintf(name, sizeof name, "layers.%d.ch", l);
    L->ch_w = find(m, name, "weight");
    L->ch_b = find(m, name, "bias");
    rc = gm_init_default(L->cv_w, L->cv_b, rng, err);
    if (rc == 0) rc = gm_init_default(L->ch_w, L->ch_b, rng, err);
  }
  if (rc == 0 && m->vocab) {
    gm_text_encoder_config tc = {m->vocab, m->text_dim, m->text_dim};
    rc = gm_text_encoder_init(m->params, "text.", &tc, rng, err);
  }
  return rc;
}

/* The empty condition for b images, kept for the next call. */
static int empty_cond(gm_model *m, int64_t b, const gm_text_cond **out, gm_error *err) {
  if (!m->none.ids || m->none.ids->shape[0] != b) {
    gm_text_cond_free(&m->none);
    int rc = gm_text_cond_empty(m->dev, b, &m->none, err);
    if (rc) return rc;
  }
  *out = &m->none;
  return 0;
}

int pcnn__gated_cond_bias(gm_model *m, const gm_text_cond *cond, int64_t b, gm_tensor **bias,
                          gm_error *err) {
  int rc = cond ? 0 : empty_cond(m, b, &cond, err);
  if (rc == 0 && (!cond->ids || cond->ids->ndim != 2 || cond->ids->shape[0] != b))
    rc = gm_error_set(err, GM_ESHAPE, "pixelcnn: the text condition must have one row of "
                      "token ids per image (%lld)", (long long)b);
  gm_tensor *c = NULL;
  if (rc == 0)
    rc = gm_text_encoder_forward(m->params, "text.", cond->ids, cond->mask, cond->empty, &c,
                                 NULL, err);
  for (int l = 0; l < m->layers && rc == 0; l++) {
    rc = gm_linear(&bias[2 * l], c, m->gl[l].cv_w, m->gl[l].cv_b, err);
    if (rc == 0) rc = gm_linear(&bias[2 * l + 1], c, m->gl[l].ch_w, m->gl[l].ch_b, err);
  }
  return rc;
}

/* A 1x1 conv over a whole map, or (one_position) over the 1x1 map of a cached step,
 * where the direct window op saves the GEMM's launches. */
static int conv1x1(gm_tensor **y, gm_tensor *x, gm_tensor *w, gm_tensor *b, gm_tensor *mask,
                   int one_position, gm_error *err) {
  if (one_position) return gm_conv2d_window(y, x, w, b, mask, NULL, 0, 0, 1, 1, err);
  return gm_conv2d(y, x, w, b, mask, NULL, err);
}

/* logits (B, 48, H, W) from h (B, F, H, W): relu, 1x1, relu, 1x1. */
static int head(gm_model *m, gm_tensor *h, gm_tensor **logits, int one_position,
                gm_error *err) {
  gm_tensor *a;
  int rc = gm_relu(&a, h, err);
  if (rc == 0) rc = conv1x1(&a, a, m->out_w[0], m->out_b[0], m->out_m[0], one_position, err);
  if (rc == 0) rc = gm_relu(&a, a, err);
  if (rc == 0) rc = conv1x1(logits, a, m->out_w[1], m->out_b[1], m->out_m[1], one_position, err);
  return rc;
}

/* The rows each layer's vertical kernel starts above the output row. */
static int v_top(const gm_model *m, int l) { return m->kernel / 2 + (l == 0); }

int pcnn__gated_logits(gm_model *m, gm_tensor *x, gm_tensor *const *bias, gm_tensor **logits,
                       gm_error *err) {
  int h_ = (int)x->shape[2], w_ = (int)x->shape[3], kc = m->kernel / 2;
  gm_tensor *v = x, *h = x;
  int rc = 0;
  for (int l = 0; l < m->layers && rc == 0; l++) {
    pcnn_gated_layer *L = &m->gl[l];
    gm_tensor *t, *link, *g;
    gm_conv2d_opts vo = {.stride = 1, .pad_h = 0, .pad_w = kc};
    rc = gm_window(&t, v, -v_top(m, l), 0, h_ + kc, w_, err);
    if (rc == 0) rc = gm_conv2d(&t, t, L->v_w, L->v_b, NULL, &vo, err);
    if (rc == 0 && bias) rc = gm_add_channel(&t, t, bias[2 * l], err);
    if (rc == 0) rc = gm_gate(&v, t, err);
    if (rc == 0) rc = gm_window(&t, h, 0, -kc, h_, w_ + kc, err);
    if (rc == 0) rc = gm_conv2d(&t, t, L->h_w, L->h_b, L->h_m, NULL, err);
    if (rc == 0) rc = gm_conv2d(&link, v, L->vh_w, L->vh_b, NULL, NULL, err);
    if (rc == 0) rc = gm_add(&t, t, link, err);
    if (rc == 0 && bias) rc = gm_add_channel(&t, t, bias[2 * l + 1], err);
    if (rc == 0) rc = gm_gate(&g, t, err);
    if (rc == 0 && l == 0) h = g;
    if (rc == 0 && l) rc = gm_conv2d(&t, g, L->res_w, L->res_b, L->res_m, NULL, err);
    if (rc == 0 && l) rc = gm_add(&h, h, t, err);
  }
  if (rc == 0) rc = head(m, h, logits, 0, err);
  return rc;
}

double pcnn__gated_macs(const gm_model *m) {
  double s = pcnn__macs(m->out_w[0]) + pcnn__macs(m->out_w[1]);
  for (int l = 0; l < m->layers; l++) {
    const pcnn_gated_layer *L = &m->gl[l];
    s += pcnn__macs(L->v_w) + pcnn__macs(L->h_w) + pcnn__macs(L->vh_w);
    if (l) s += pcnn__macs(L->res_w);
  }
  return s;
}

/* ---- cached sampling ----
 * maps: v of layers 0 .. L-2 (v of the last layer feeds only its own link), the link
 * conv_vh(v) of every layer, and h of layers 0 .. L-2 (the last feeds only the head). */
static gm_tensor *vmap(pcnn_cache *c, int l) { return c->maps[l]; }
static gm_tensor *linkmap(pcnn_cache *c, int l) { return c->maps[c->m->layers - 1 + l]; }
static gm_tensor *hmap(pcnn_cache *c, int l) { return c->maps[2 * c->m->layers - 1 + l]; }

int pcnn__gated_cache_row(pcnn_cache *c, gm_tensor *x, int i, gm_error *err) {
  gm_model *m = c->m;
  int w_ = (int)x->shape[3], kc = m->kernel / 2, rc = 0;
  for (int l = 0; l < m->layers && rc == 0; l++) {
    pcnn_gated_layer *L = &m->gl[l];
    gm_tensor *t, *v, *link;
    gm_conv2d_opts vo = {.stride = 1, .pad_h = v_top(m, l), .pad_w = kc};
    rc = gm_conv2d_window(&t, l ? vmap(c, l - 1) : x, L->v_w, L->v_b, NULL, &vo, i, 0, 1, w_, err);
    if (rc == 0 && c->bias) rc = gm_add_channel(&t, t, c->bias[2 * l], err);
    if (rc == 0) rc = gm_gate(&v, t, err);
    if (rc == 0 && l < m->layers - 1) rc = gm_window_write(vmap(c, l), v, i, 0, err);
    if (rc == 0) rc = gm_conv2d_window(&link, v, L->vh_w, L->vh_b, NULL, NULL, 0, 0, 1, w_, err);
    if (rc == 0) rc = gm_window_write(linkmap(c, l), link, i, 0, err);
    c->macs += (pcnn__macs(L->v_w) + pcnn__macs(L->vh_w)) * w_;
  }
  return rc;
}

/* The horizontal stack at (i, j) from the cached maps, then the head there. Every
 * position it reads left of j is final; at (i, j) itself the masks read only the
 * channels already drawn. */
int pcnn__gated_cache_step(pcnn_cache *c, gm_tensor *x, int i, int j, gm_tensor **logits,
                          gm_error *err) {
  gm_model *m = c->m;
  int kc = m->kernel / 2, rc = 0;
  gm_tensor *src = x, *h = NULL;
  for (int l = 0; l < m->layers && rc == 0; l++) {
    pcnn_gated_layer *L = &m->gl[l];
    gm_tensor *t, *link, *g, *prev;
    gm_conv2d_opts ho = {.stride = 1, .pad_h = 0, .pad_w = kc};
    rc = gm_conv2d_window(&t, src, L->h_w, L->h_b, L->h_m, &ho, i, j, 1, 1, err);
    if (rc == 0) rc = gm_window(&link, linkmap(c, l), i, j, 1, 1, err);
    if (rc == 0) rc = gm_add(&t, t, link, err);
    if (rc == 0 && c->bias) rc = gm_add_channel(&t, t, c->bias[2 * l + 1], err);
    if (rc == 0) rc = gm_gate(&g, t, err);
    if (rc == 0 && l == 0) h = g;
    if (rc == 0 && l) rc = conv1x1(&t, g, L->res_w, L->res_b, L->res_m, 1, err);
    if (rc == 0 && l) rc = gm_window(&prev, hmap(c, l - 1), i, j, 1, 1, err);
    if (rc == 0 && l) rc = gm_add(&h, prev, t, err);
    if (rc == 0 && l < m->layers - 1) rc = gm_window_write(hmap(c, l), h, i, j, err);
    if (l < m->layers - 1) src = hmap(c, l);
    c->macs += pcnn__macs(L->h_w) + (l ? pcnn__macs(L->res_w) : 0);
  }
  if (rc == 0) rc = head(m, h, logits, 1, err);
  c->macs += pcnn__macs(m->out_w[0]) + pcnn__macs(m->out_w[1]);
  return rc;
}
