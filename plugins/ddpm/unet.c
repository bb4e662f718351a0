/* The time-conditioned U-Net in the manner of Ho et al. 2020: a sinusoidal embedding of t
 * through an MLP (Linear, SiLU, Linear) added into every residual block; residual blocks
 * GroupNorm -> SiLU -> conv -> + time projection -> GroupNorm -> SiLU -> dropout -> conv
 * (zero-initialised) with a 1x1 skip when the width changes; self-attention blocks
 * (GroupNorm, q/k/v 1x1 convs, attention over H*W, zero-initialised 1x1 output, residual);
 * strided-conv downsampling and nearest-upsample + conv upsampling; skip connections from
 * every encoder stage; GroupNorm -> SiLU -> zero-initialised conv out.
 *
 * With a text condition (vocab > 0): the text encoder (genmoji/text.h, parameters
 * "text.*") gives a condition vector, added to the time MLP's output before its last
 * SiLU, so every residual block's time projection carries it; with xattn, every attention
 * block at 8x8 is followed by a cross-attention block (GroupNorm, a 1x1 query conv, key
 * and value projections of the token vectors, masked cross-attention, a zero-initialised
 * 1x1 output, residual), parameters "<block>.xattn.*".
 *
 * The network is a list of layers in forward order, built from the options at declare
 * time; forward walks it with a stack of skip tensors. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ddpm.h"

#define GN_EPS 1e-5f
#define MAX_LAYERS 256
#define TIME_SCALE 1000.0f /* the embedding sees 1000 t / T: Ho's range whatever T is */

typedef enum { L_RES, L_ATTN, L_DOWN, L_UP } layer_kind;

typedef struct layer {
  layer_kind kind;
  char name[40];
  int cin, cout;
  int pop;   /* concat the top of the skip stack onto the input first (decoder) */
  int push;  /* push the output onto the skip stack (encoder) */
  /* L_RES: norm1, conv1, temb, norm2, conv2, skip (NULL when cin == cout)
   * L_ATTN: norm1 (norm), q, k, v, proj (in conv2)
   * L_DOWN / L_UP: conv1 */
  gm_tensor *n1w, *n1b, *c1w, *c1b, *tw, *tb, *n2w, *n2b, *c2w, *c2b, *sw, *sb;
  gm_tensor *qw, *qb, *kw, *kb, *vw, *vb;
  /* L_ATTN with cross-attention to the text's tokens (xattn and an 8x8 map) */
  int xattn;
  gm_tensor *xnw, *xnb, *xqw, *xqb, *xkw, *xkb, *xvw, *xvb, *xpw, *xpb;
} layer;

struct ddpm_unet {
  int emb;                       /* time embedding width, 4 ch */
  gm_text_encoder_config text;   /* vocab_size 0: no text */
  gm_tensor *e0w, *e0b, *e2w, *e2b, *inw, *inb, *onw, *onb, *ocw, *ocb;
  layer layers[MAX_LAYERS];
  int n_layers;
};

int ddpm__groups(int c) {
  if (c < 8) return 1;
  for (int g = 32; g > 1; g--)
    if (c % g == 0 && c / g >= 4) return g;
  return 1;
}

/* ---- declaring ---- */

static int decl(gm_params *p, const char *prefix, const char *leaf, int ndim,
                const int64_t *shape, gm_error *err) {
  char name[96];
  snprintf(name, sizeof name, "%s%s%s", prefix, *leaf ? "." : "", leaf);
  return gm_params_declare(p, name, GM_F32, ndim, shape, GM_PARAM_TRAINABLE, err);
}

static int decl_conv(gm_params *p, const char *prefix, const char *leaf, int cout, int cin, int k,
                     gm_error *err) {
  char pre[80];
  snprintf(pre, sizeof pre, "%s%s%s", prefix, *leaf ? "." : "", leaf);
  int rc = decl(p, pre, "weight", 4, GM_SHAPE(cout, cin, k, k), err);
  if (rc == 0) rc = decl(p, pre, "bias", 1, GM_SHAPE(cout), err);
  return rc;
}

static int decl_vec(gm_params *p, const char *prefix, const char *leaf, const char *a,
                    const char *b, int c, gm_error *err) {
  char pre[80];
  snprintf(pre, sizeof pre, "%s.%s", prefix, leaf);
  int rc = decl(p, pre, a, 1, GM_SHAPE(c), err);
  if (rc == 0) rc = decl(p, pre, b, 1, GM_SHAPE(c), err);
  return rc;
}

static int decl_linear(gm_params *p, const char *prefix, const char *leaf, int out, int in,
                       gm_error *err) {
  char pre[96];
  snprintf(pre, sizeof pre, "%s.%s", prefix, leaf);
  int rc = decl(p, pre, "weight", 2, GM_SHAPE(out, in), err);
  if (rc == 0) rc = decl(p, pre, "bias", 1, GM_SHAPE(out), err);
  return rc;
}

static int decl_xattn(gm_params *p, const layer *l, int dim, gm_error *err) {
  char pre[80];
  snprintf(pre, sizeof pre, "%s.xattn", l->name);
  int rc = decl_vec(p, pre, "norm", "weight", "bias", l->cin, err);
  if (rc == 0) rc = decl_conv(p, pre, "q", l->cin, l->cin, 1, err);
  if (rc == 0) rc = decl_linear(p, pre, "k", l->cin, dim, err);
  if (rc == 0) rc = decl_linear(p, pre, "v", l->cin, dim, err);
  if (rc == 0) rc = decl_conv(p, pre, "proj", l->cin, l->cin, 1, err);
  return rc;
}

static int decl_layer(gm_params *p, const layer *l, int emb, gm_error *err) {
  int rc = 0;
  switch (l->kind) {
  case L_RES:
    rc = decl_vec(p, l->name, "norm1", "weight", "bias", l->cin, err);
    if (rc == 0) rc = decl_conv(p, l->name, "conv1", l->cout, l->cin, 3, err);
    if (rc == 0) {
      char pre[80];
      snprintf(pre, sizeof pre, "%s.temb", l->name);
      rc = decl(p, pre, "weight", 2, GM_SHAPE(l->cout, emb), err);
      if (rc == 0) rc = decl(p, pre, "bias", 1, GM_SHAPE(l->cout), err);
    }
    if (rc == 0) rc = decl_vec(p, l->name, "norm2", "weight", "bias", l->cout, err);
    if (rc == 0) rc = decl_conv(p, l->name, "conv2", l->cout, l->cout, 3, err);
    if (rc == 0 && l->cin != l->cout) rc = decl_conv(p, l->name, "skip", l->cout, l->cin, 1, err);
    break;
  case L_ATTN:
    rc = decl_vec(p, l->name, "norm", "weight", "bias", l->cin, err);
    if (rc == 0) rc = decl_conv(p, l->name, "q", l->cin, l->cin, 1, err);
    if (rc == 0) rc = decl_conv(p, l->name, "k", l->cin, l->cin, 1, err);
    if (rc == 0) rc = decl_conv(p, l->name, "v", l->cin, l->cin, 1, err);
    if (rc == 0) rc = decl_conv(p, l->name, "proj", l->cin, l->cin, 1, err);
    break;
  case L_DOWN:
  case L_UP:
    rc = decl_conv(p, l->name, "", l->cout, l->cin, 3, err);
    break;
  }
  return rc;
}

/* Appends a layer named by fmt (printf with up to two ints); NULL when the list is full. */
static layer *add_layer(ddpm_unet *u, layer_kind kind, int cin, int cout, const char *fmt, int a,
                        int b) {
  if (u->n_layers == MAX_LAYERS) return NULL;
  layer *l = &u->layers[u->n_layers++];
  memset(l, 0, sizeof *l);
  l->kind = kind;
  l->cin = cin;
  l->cout = cout;
  snprintf(l->name, sizeof l->name, fmt, a, b);
  return l;
}

static int attn_at(const ddpm_config *c, int res) {
  return (res == 8 && c->attn8) || (res == 16 && c->attn16);
}

/* The layer list from the options: encoder levels (blocks residual blocks each, attention
 * where the map is 8x8 or 16x16 as chosen, a strided conv between levels), the middle
 * (residual, attention, residual), decoder levels (blocks + 1 residual blocks each, every
 * one fed the matching encoder output), nearest-upsample + conv between levels. The skip
 * stack holds channel counts here and tensors in forward. */
static int build_layers(ddpm_unet *u, const ddpm_config *c, gm_error *err) {
  int stack[MAX_LAYERS], top = 0, cur = c->ch, res = c->size, L = c->n_levels;
  layer *l;
#define ADD(kind, cin, cout, fmt, a, b)                                                  \
  do {                                                                                   \
    if (!(l = add_layer(u, kind, cin, cout, fmt, a, b)))                                 \
      return gm_error_set(err, GM_ERANGE, "ddpm unet: more than %d layers", MAX_LAYERS); \
  } while (0)
  stack[top++] = cur; /* the input conv's output */
  for (int i = 0; i < L; i++) {
    int out = c->ch * c->mult[i];
    for (int j = 0; j < c->blocks; j++) {
      ADD(L_RES, cur, out, "down.%d.res.%d", i, j);
      cur = out;
      if (attn_at(c, res)) {
        ADD(L_ATTN, cur, cur, "down.%d.attn.%d", i, j);
        l->xattn = c->vocab && c->xattn && res == 8;
      }
      l->push = 1;
      stack[top++] = cur;
    }
    if (i != L - 1) {
      ADD(L_DOWN, cur, cur, "down.%d.downsample", i, 0);
      l->push = 1;
      stack[top++] = cur;
      res /= 2;
    }
  }
  ADD(L_RES, cur, cur, "mid.res.%d", 0, 0);
  if (c->attn8 || c->attn16) {
    ADD(L_ATTN, cur, cur, "mid.attn", 0, 0);
    l->xattn = c->vocab && c->xattn && res == 8;
  }
  ADD(L_RES, cur, cur, "mid.res.%d", 1, 0);
  for (int i = L - 1; i >= 0; i--) {
    int out = c->ch * c->mult[i];
    for (int j = 0; j <= c->blocks; j++) {
      ADD(L_RES, cur + stack[--top], out, "up.%d.res.%d", i, j);
      l->pop = 1;
      cur = out;
      if (attn_at(c, res)) {
        ADD(L_ATTN, cur, cur, "up.%d.attn.%d", i, j);
        l->xattn = c->vocab && c->xattn && res == 8;
      }
    }
    if (i != 0) {
      ADD(L_UP, cur, cur, "up.%d.upsample", i, 0);
      res *= 2;
    }
  }
#undef ADD
  (void)top; /* balanced by construction: L * (blocks + 1) pushes after the input's, as many pops */
  return 0;
}

int ddpm__unet_declare(gm_model *m, gm_error *err) {
  const ddpm_config *c = &m->cfg;
  ddpm_unet *u = calloc(1, sizeof *u);
  if (!u) return gm_error_set(err, GM_ENOMEM, "ddpm unet: out of memory");
  m->unet = u;
  u->emb = 4 * c->ch;
  int rc = build_layers(u, c, err);
  if (rc) return rc;
  gm_params *p = m->params;
  rc = decl(p, "time_embed.0", "weight", 2, GM_SHAPE(u->emb, c->ch), err);
  if (rc == 0) rc = decl(p, "time_embed.0", "bias", 1, GM_SHAPE(u->emb), err);
  if (rc == 0) rc = decl(p, "time_embed.2", "weight", 2, GM_SHAPE(u->emb, u->emb), err);
  if (rc == 0) rc = decl(p, "time_embed.2", "bias", 1, GM_SHAPE(u->emb), err);
  if (rc == 0) rc = decl_conv(p, "input", "", c->ch, 3, 3, err);
  for (int i = 0; i < u->n_layers && rc == 0; i++) {
    rc = decl_layer(p, &u->layers[i], u->emb, err);
    if (rc == 0 && u->layers[i].xattn) rc = decl_xattn(p, &u->layers[i], c->text_dim, err);
  }
  if (c->vocab) u->text = (gm_text_encoder_config){c->vocab, c->text_dim, u->emb};
  if (rc == 0 && c->vocab) rc = gm_text_encoder_declare(p, "text.", &u->text, err);
  int last = u->n_layers ? u->layers[u->n_layers - 1].cout : c->ch;
  if (rc == 0) rc = decl_vec(p, "out", "norm", "weight", "bias", last, err);
  if (rc == 0) rc = decl_conv(p, "out", "conv", 3, last, 3, err);
  return rc;
}

/* ---- initialising ---- */

static gm_tensor *find(gm_params *p, const char *prefix, const char *leaf) {
  char name[96];
  snprintf(name, sizeof name, "%s%s%s", prefix, *leaf ? "." : "", leaf);
  return gm_params_find(p, name);
}

static int init_conv(gm_params *p, const char *prefix, const char *leaf, gm_tensor **w,
                     gm_tensor **b, int zero, gm_rng *rng, gm_error *err) {
  char pre[80];
  snprintf(pre, sizeof pre, "%s%s%s", prefix, *leaf ? "." : "", leaf);
  *w = find(p, pre, "weight");
  *b = find(p, pre, "bias");
  int rc = gm_init_default(*w, *b, rng, err);  /* drawn even when zeroed: the stream stays put */
  if (rc == 0 && zero) rc = gm_tensor_fill(*w, 0, err);
  if (rc == 0 && zero) rc = gm_tensor_fill(*b, 0, err);
  return rc;
}

static int init_norm(gm_params *p, const char *prefix, const char *leaf, gm_tensor **w,
                     gm_tensor **b, gm_error *err) {
  char pre[80];
  snprintf(pre, sizeof pre, "%s.%s", prefix, leaf);
  *w = find(p, pre, "weight");
  *b = find(p, pre, "bias");
  int rc = gm_tensor_fill(*w, 1, err);
  if (rc == 0) rc = gm_tensor_fill(*b, 0, err);
  return rc;
}

static int init_xattn(gm_params *p, layer *l, gm_rng *rng, gm_error *err) {
  char pre[80];
  snprintf(pre, sizeof pre, "%s.xattn", l->name);
  int rc = init_norm(p, pre, "norm", &l->xnw, &l->xnb, err);
  if (rc == 0) rc = init_conv(p, pre, "q", &l->xqw, &l->xqb, 0, rng, err);
  if (rc == 0) rc = init_conv(p, pre, "k", &l->xkw, &l->xkb, 0, rng, err);
  if (rc == 0) rc = init_conv(p, pre, "v", &l->xvw, &l->xvb, 0, rng, err);
  if (rc == 0) rc = init_conv(p, pre, "proj", &l->xpw, &l->xpb, 1, rng, err);
  return rc;
}

static int init_layer(gm_params *p, layer *l, gm_rng *rng, gm_error *err) {
  int rc = 0;
  switch (l->kind) {
  case L_RES:
    rc = init_norm(p, l->name, "norm1", &l->n1w, &l->n1b, err);
    if (rc == 0) rc = init_conv(p, l->name, "conv1", &l->c1w, &l->c1b, 0, rng, err);
    if (rc == 0) rc = init_conv(p, l->name, "temb", &l->tw, &l->tb, 0, rng, err);
    if (rc == 0) rc = init_norm(p, l->name, "norm2", &l->n2w, &l->n2b, err);
    if (rc == 0) rc = init_conv(p, l->name, "conv2", &l->c2w, &l->c2b, 1, rng, err);
    if (rc == 0 && l->cin != l->cout)
      rc = init_conv(p, l->name, "skip", &l->sw, &l->sb, 0, rng, err);
    break;
  case L_ATTN:
    rc = init_norm(p, l->name, "norm", &l->n1w, &l->n1b, err);
    if (rc == 0) rc = init_conv(p, l->name, "q", &l->qw, &l->qb, 0, rng, err);
    if (rc == 0) rc = init_conv(p, l->name, "k", &l->kw, &l->kb, 0, rng, err);
    if (rc == 0) rc = init_conv(p, l->name, "v", &l->vw, &l->vb, 0, rng, err);
    if (rc == 0) rc = init_conv(p, l->name, "proj", &l->c2w, &l->c2b, 1, rng, err);
    break;
  case L_DOWN:
  case L_UP:
    rc = init_conv(p, l->name, "", &l->c1w, &l->c1b, 0, rng, err);
    break;
  }
  return rc;
}

int ddpm__unet_init(gm_model *m, gm_rng *rng, gm_error *err) {
  ddpm_unet *u = m->unet;
  gm_params *p = m->params;
  int rc = init_conv(p, "time_embed.0", "", &u->e0w, &u->e0b, 0, rng, err);
  if (rc == 0) rc = init_conv(p, "time_embed.2", "", &u->e2w, &u->e2b, 0, rng, err);
  if (rc == 0) rc = init_conv(p, "input", "", &u->inw, &u->inb, 0, rng, err);
  for (int i = 0; i < u->n_layers && rc == 0; i++) {
    rc = init_layer(p, &u->layers[i], rng, err);
    if (rc == 0 && u->layers[i].xattn) rc = init_xattn(p, &u->layers[i], rng, err);
  }
  if (rc == 0) rc = init_norm(p, "out", "norm", &u->onw, &u->onb, err);
  if (rc == 0) rc = init_conv(p, "out", "conv", &u->ocw, &u->ocb, 1, rng, err);
  if (rc == 0 && u->text.vocab_size) rc = gm_text_encoder_init(p, "text.", &u->text, rng, err);
  return rc;
}

void ddpm__unet_free(gm_model *m) {
  free(m->unet);
  m->unet = NULL;
}

/* ---- forward ---- */

static const gm_conv2d_opts PAD1 = {.stride = 1, .pad_h = 1, .pad_w = 1};
static const gm_conv2d_opts STRIDE2 = {.stride = 2, .pad_h = 1, .pad_w = 1};

/* silu(groupnorm(x)) */
static int norm_act(gm_tensor **y, gm_tensor *x, gm_tensor *w, gm_tensor *b, gm_error *err) {
  gm_tensor *h;
  int rc = gm_groupnorm(&h, x, w, b, ddpm__groups((int)x->shape[1]), GN_EPS, err);
  if (rc == 0) rc = gm_silu(y, h, err);
  return rc;
}

static int res_forward(gm_model *m, const layer *l, gm_tensor *x, gm_tensor *semb, gm_rng *rng,
                       gm_tensor **y, gm_error *err) {
  gm_tensor *h, *tp, *skip = x;
  int rc = norm_act(&h, x, l->n1w, l->n1b, err);
  if (rc == 0) rc = gm_conv2d(&h, h, l->c1w, l->c1b, NULL, &PAD1, err);
  if (rc == 0) rc = gm_linear(&tp, semb, l->tw, l->tb, err);
  if (rc == 0) rc = gm_add_channel(&h, h, tp, err);
  if (rc == 0) rc = norm_act(&h, h, l->n2w, l->n2b, err);
  if (rc == 0 && m->training && rng && m->cfg.dropout > 0)
    rc = gm_dropout(&h, h, m->cfg.dropout, rng, err);
  if (rc == 0) rc = gm_conv2d(&h, h, l->c2w, l->c2b, NULL, &PAD1, err);
  if (rc == 0 && l->sw) rc = gm_conv2d(&skip, x, l->sw, l->sb, NULL, NULL, err);
  if (rc == 0) rc = gm_add(y, skip, h, err);
  return rc;
}

static int attn_forward(const layer *l, gm_tensor *x, gm_tensor **y, gm_error *err) {
  int64_t b = x->shape[0], c = x->shape[1], hh = x->shape[2], ww = x->shape[3];
  gm_tensor *h, *q, *k, *v, *a;
  int rc = gm_groupnorm(&h, x, l->n1w, l->n1b, ddpm__groups((int)c), GN_EPS, err);
  if (rc == 0) rc = gm_conv2d(&q, h, l->qw, l->qb, NULL, NULL, err);
  if (rc == 0) rc = gm_conv2d(&k, h, l->kw, l->kb, NULL, NULL, err);
  if (rc == 0) rc = gm_conv2d(&v, h, l->vw, l->vb, NULL, NULL, err);
  if (rc == 0) rc = gm_reshape(&q, q, 3, GM_SHAPE(b, c, hh * ww), err);
  if (rc == 0) rc = gm_reshape(&k, k, 3, GM_SHAPE(b, c, hh * ww), err);
  if (rc == 0) rc = gm_reshape(&v, v, 3, GM_SHAPE(b, c, hh * ww), err);
  if (rc == 0) rc = gm_attention(&a, q, k, v, err);
  if (rc == 0) rc = gm_reshape(&a, a, 4, GM_SHAPE(b, c, hh, ww), err);
  if (rc == 0) rc = gm_conv2d(&a, a, l->c2w, l->c2b, NULL, NULL, err);
  if (rc == 0) rc = gm_add(y, x, a, err);
  return rc;
}

/* (B, L, D) tokens -> (B, C, L) through a linear layer (C, D). */
static int project_tokens(gm_tensor *tokens, gm_tensor *w, gm_tensor *b, gm_tensor **y,
                          gm_error *err) {
  int64_t B = tokens->shape[0], L = tokens->shape[1], D = tokens->shape[2], C = w->shape[0];
  gm_tensor *a;
  int rc = gm_reshape(&a, tokens, 2, GM_SHAPE(B * L, D), err);
  if (rc == 0) rc = gm_linear(&a, a, w, b, err);
  if (rc == 0) rc = gm_reshape(&a, a, 3, GM_SHAPE(B, L, C), err);
  if (rc == 0) rc = gm_permute(y, a, (const int[]){0, 2, 1}, err);
  return rc;
}

/* x + proj(cross_attention(q(norm(x)), k(tokens), v(tokens), mask)) */
static int xattn_forward(const layer *l, gm_tensor *x, gm_tensor *tokens, gm_tensor *mask,
                         gm_tensor **y, gm_error *err) {
  int64_t b = x->shape[0], c = x->shape[1], hh = x->shape[2], ww = x->shape[3];
  gm_tensor *h, *q, *k, *v, *a;
  int rc = gm_groupnorm(&h, x, l->xnw, l->xnb, ddpm__groups((int)c), GN_EPS, err);
  if (rc == 0) rc = gm_conv2d(&q, h, l->xqw, l->xqb, NULL, NULL, err);
  if (rc == 0) rc = gm_reshape(&q, q, 3, GM_SHAPE(b, c, hh * ww), err);
  if (rc == 0) rc = project_tokens(tokens, l->xkw, l->xkb, &k, err);
  if (rc == 0) rc = project_tokens(tokens, l->xvw, l->xvb, &v, err);
  if (rc == 0) rc = gm_cross_attention(&a, q, k, v, mask, err);
  if (rc == 0) rc = gm_reshape(&a, a, 4, GM_SHAPE(b, c, hh, ww), err);
  if (rc == 0) rc = gm_conv2d(&a, a, l->xpw, l->xpb, NULL, NULL, err);
  if (rc == 0) rc = gm_add(y, x, a, err);
  return rc;
}

static int layer_forward(gm_model *m, const layer *l, gm_tensor *x, gm_tensor *semb,
                         gm_rng *rng, gm_tensor **y, gm_error *err) {
  gm_tensor *h;
  int rc = 0;
  switch (l->kind) {
  case L_RES: rc = res_forward(m, l, x, semb, rng, y, err); break;
  case L_ATTN: rc = attn_forward(l, x, y, err); break;
  case L_DOWN: rc = gm_conv2d(y, x, l->c1w, l->c1b, NULL, &STRIDE2, err); break;
  case L_UP:
    rc = gm_upsample2x(&h, x, err);
    if (rc == 0) rc = gm_conv2d(y, h, l->c1w, l->c1b, NULL, &PAD1, err);
    break;
  }
  if (rc) gm_error_prefix(err, "%s", l->name);
  return rc;
}

/* silu(time MLP(sinusoidal(1000 t)) [+ the text's condition vector]): what every
 * residual block projects and adds */
static int time_embedding(ddpm_unet *u, int ch, gm_tensor *t, gm_tensor *text, gm_tensor **semb,
                          gm_error *err) {
  gm_tensor *a;
  int rc = gm_scale(&a, t, TIME_SCALE, err);
  if (rc == 0) rc = gm_sinusoidal_embedding(&a, a, ch, err);
  if (rc == 0) rc = gm_linear(&a, a, u->e0w, u->e0b, err);
  if (rc == 0) rc = gm_silu(&a, a, err);
  if (rc == 0) rc = gm_linear(&a, a, u->e2w, u->e2b, err);
  if (rc == 0 && text) rc = gm_add(&a, a, text, err);
  if (rc == 0) rc = gm_silu(semb, a, err);
  return rc;
}

int ddpm__unet_forward(gm_model *m, gm_tensor *x, gm_tensor *t, const gm_text_cond *cond,
                       gm_rng *dropout, gm_tensor **eps, gm_error *err) {
  ddpm_unet *u = m->unet;
  int64_t side = x->shape[2], need = (int64_t)1 << (m->cfg.n_levels - 1);
  if (x->shape[2] != x->shape[3] || side % need)
    return gm_error_set(err, GM_ESHAPE, "ddpm unet: the input must be square with a side "
                        "divisible by %lld, got %lld x %lld", (long long)need,
                        (long long)x->shape[2], (long long)x->shape[3]);
  gm_tensor *stack[MAX_LAYERS], *semb, *h, *text = NULL, *tokens = NULL;
  int top = 0, rc = 0;
  if (u->text.vocab_size)
    rc = gm_text_encoder_forward(m->params, "text.", cond->ids, cond->mask, cond->empty, &text,
                                 &tokens, err);
  if (rc == 0) rc = time_embedding(u, m->cfg.ch, t, text, &semb, err);
  if (rc == 0) rc = gm_conv2d(&h, x, u->inw, u->inb, NULL, &PAD1, err);
  if (rc == 0) stack[top++] = h;
  for (int i = 0; i < u->n_layers && rc == 0; i++) {
    const layer *l = &u->layers[i];
    if (l->pop) {
      gm_tensor *xs[2] = {h, stack[--top]};
      rc = gm_concat_channels(&h, xs, 2, err);
    }
    if (rc == 0) rc = layer_forward(m, l, h, semb, dropout, &h, err);
    if (rc == 0 && l->xattn) {
      rc = xattn_forward(l, h, tokens, cond->mask, &h, err);
      if (rc) gm_error_prefix(err, "%s.xattn", l->name);
    }
    if (rc == 0 && l->push) stack[top++] = h;
  }
  if (rc == 0) rc = norm_act(&h, h, u->onw, u->onb, err);
  if (rc == 0) rc = gm_conv2d(eps, h, u->ocw, u->ocb, NULL, &PAD1, err);
  return rc;
}
