/* The PixelCNN plugin's private declarations: the model, its two networks (the study's
 * `seed` network and the gated channel-wise one) behind the same few functions, and the
 * incremental samplers' per-network steps. */
#ifndef GM_PIXELCNN_H
#define GM_PIXELCNN_H

#include <genmoji/gm.h>

#define PCNN_LEVELS 16                  /* classes per channel: q = v >> 4 */
#define PCNN_LOGITS (3 * PCNN_LEVELS)   /* [R 0..15, G 16..31, B 32..47] per pixel */

typedef enum pcnn_arch { PCNN_GATED = 0, PCNN_SEED = 1 } pcnn_arch;

/* One gated layer: vertical stack (rows above), horizontal stack (left of the pixel, and
 * its earlier channels), the link from the vertical into the horizontal stack, and the
 * horizontal stack's residual 1x1 (layers after the first). */
typedef struct pcnn_gated_layer {
  gm_tensor *v_w, *v_b;              /* (2F, Cin, kc + 1, k) */
  gm_tensor *h_w, *h_b, *h_m;        /* (2F, Cin, 1, kc + 1), mask like h_w */
  gm_tensor *vh_w, *vh_b;            /* (2F, F, 1, 1) */
  gm_tensor *res_w, *res_b, *res_m;  /* (F, F, 1, 1); NULL in layer 0 */
  gm_tensor *cv_w, *cv_b, *ch_w, *ch_b; /* text models: the condition (C) projected to a bias
                                           (2F) of the vertical and the horizontal gates */
} pcnn_gated_layer;

struct gm_model {
  gm_device *dev;
  pcnn_arch arch;
  int width, layers, kernel, size;
  float in_scale, in_offset;         /* network input = class * in_scale + in_offset */
  gm_params *params;
  /* seed: conv1..conv4 (masked, ReLU after each), conv_out */
  gm_tensor *conv_w[5], *conv_b[5], *conv_m[4];
  /* gated */
  pcnn_gated_layer *gl;              /* layers entries */
  gm_tensor *out_w[2], *out_b[2], *out_m[2];
  /* a text condition (gated only; vocab 0 = none): the text encoder's parameters are
   * "text.*", its condition vector has text_dim values */
  int vocab, text_dim;
  double cond_drop, guidance;
  gm_text_cond none;                 /* the empty condition for a batch (remade when B changes) */
};

/* The gate biases of a text model: 2 per layer, bias[2 l] for the vertical gate and
 * bias[2 l + 1] for the horizontal one, each (B, 2F). */
#define PCNN_MAX_BIASES 64

/* Multiply-adds per output position of a conv with weight w: the unit in which the
 * samplers count their work. */
double pcnn__macs(const gm_tensor *w);

/* ---- the networks ---- */

/* Declares every parameter and buffer (checkpoint keys, in module order). */
int pcnn__seed_declare(gm_model *m, gm_error *err);
int pcnn__gated_declare(gm_model *m, gm_error *err);
/* After finalize: binds the tensors, draws PyTorch's default init in module order, fills
 * the masks. */
int pcnn__seed_init(gm_model *m, gm_rng *rng, gm_error *err);
int pcnn__gated_init(gm_model *m, gm_rng *rng, gm_error *err);
/* logits (B, 48, H, W) of the network input x (B, 3, H, W), recorded on the tape; bias:
 * a text model's gate biases (pcnn__gated_cond_bias), NULL otherwise. */
int pcnn__seed_logits(gm_model *m, gm_tensor *x, gm_tensor **logits, gm_error *err);
int pcnn__gated_logits(gm_model *m, gm_tensor *x, gm_tensor *const *bias, gm_tensor **logits,
                       gm_error *err);
/* A text model's gate biases for a condition of B rows (NULL: the empty condition for b
 * images), as arena tensors recorded on the tape. */
int pcnn__gated_cond_bias(gm_model *m, const gm_text_cond *cond, int64_t b, gm_tensor **bias,
                          gm_error *err);
/* Multiply-adds of one full pass per image position. */
double pcnn__seed_macs(const gm_model *m);
double pcnn__gated_macs(const gm_model *m);

/* ---- incremental (cached) sampling ----
 *
 * A cache holds every layer's activation map for the batch being drawn. Each activation
 * at position p depends only on pixels before p (and, for the gated network, on the
 * earlier channels of p itself), so it is final once those are drawn and never changes
 * after: each step computes one new position per layer, reading the cached positions
 * before it. */
typedef struct pcnn_cache {
  gm_model *m;
  gm_tensor **maps;      /* caller-owned activation maps, zero-filled */
  int n_maps;
  gm_tensor *const *bias; /* a text model's gate biases for the batch (the caller's), or NULL */
  gm_tensor *packed[5];  /* seed: each layer's weights for gm_conv2d_point */
  double macs;           /* multiply-adds done so far, for evaluations_per_image */
} pcnn_cache;

int pcnn__cache_open(pcnn_cache *c, gm_model *m, int n, gm_error *err);
void pcnn__cache_close(pcnn_cache *c);
/* Before the first pixel of row i (x holds rows < i): the gated vertical stack's row. */
int pcnn__gated_cache_row(pcnn_cache *c, gm_tensor *x, int i, gm_error *err);
/* logits (B, 48, 1, 1) of pixel (i, j) with x holding every draw before it; the gated
 * network recomputes its horizontal stack at (i, j) for each channel's draw. */
/* The seed network's packed weights in c->packed (once per sampling run). */
int pcnn__seed_cache_pack(pcnn_cache *c, gm_error *err);
int pcnn__seed_cache_step(pcnn_cache *c, gm_tensor *x, int i, int j, gm_tensor **logits,
                         gm_error *err);
int pcnn__gated_cache_step(pcnn_cache *c, gm_tensor *x, int i, int j, gm_tensor **logits,
                          gm_error *err);

/* ---- samplers (sample.c) ---- */
int pcnn__sample(gm_model *m, gm_sample_options *o, gm_rng *rng, gm_tensor **images,
                gm_error *err);

#endif
