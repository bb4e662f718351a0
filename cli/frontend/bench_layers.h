/* The conv layers of the study's two networks (docs/pixelcnn.md and docs/ddpm.md: the PixelCNN and
 * the U-Net of the `seed` presets) and the GEMMs that conv2d / conv-transpose run for
 * them (engine/src/ops_conv.c: M = Cout, N = batch*H*W, K = Cin*kh*kw, and the
 * transposed products of backward). Shared by `genmoji bench ops` (cmd_bench.c) and
 * bench/blas_gemm.c, so both time the same shapes. Plain C, no engine types. */
#ifndef GM_CLI_BENCH_LAYERS_H
#define GM_CLI_BENCH_LAYERS_H

#include <stdint.h>
#include <string.h>

typedef struct gm_cli_layer {
  const char *name;   /* "pixelcnn.conv2" */
  int transpose;      /* 0: conv2d, 1: conv-transpose 2x2 stride 2 */
  int cin, cout, kernel, h, w, pad;
  int mask;           /* 0 none, 1 type A, 2 type B (gm_conv_mask's values) */
  int input_grad;     /* backward computes dL/dx (every layer but a network's first) */
} gm_cli_layer;

static const gm_cli_layer gm_cli_layers[] = {
    {"pixelcnn.conv1", 0, 3, 64, 3, 32, 32, 1, 1, 0},
    {"pixelcnn.conv2", 0, 64, 64, 7, 32, 32, 3, 2, 1},
    {"pixelcnn.conv3", 0, 64, 64, 9, 32, 32, 4, 2, 1},
    {"pixelcnn.conv4", 0, 64, 64, 7, 32, 32, 3, 2, 1},
    {"pixelcnn.conv_out", 0, 64, 48, 1, 32, 32, 0, 0, 1},
    {"unet.encoderConv1", 0, 3, 64, 3, 32, 32, 1, 0, 0},
    {"unet.encoderConv2", 0, 64, 128, 3, 16, 16, 1, 0, 1},
    {"unet.bottleneck", 0, 128, 256, 3, 8, 8, 1, 0, 1},
    {"unet.upConv1", 1, 256, 128, 2, 8, 8, 0, 0, 1},
    {"unet.decoderConv1", 0, 256, 128, 3, 16, 16, 1, 0, 1},
    {"unet.upConv2", 1, 128, 64, 2, 16, 16, 0, 0, 1},
    {"unet.decoderConv2", 0, 128, 64, 3, 32, 32, 1, 0, 1},
    {"unet.output", 0, 67, 3, 1, 32, 32, 0, 0, 1},
};
#define GM_CLI_LAYER_COUNT ((int)(sizeof gm_cli_layers / sizeof gm_cli_layers[0]))

typedef struct gm_cli_gemm {
  const char *layer;  /* the first layer that runs this product */
  const char *pass;   /* "forward", "backward_w", "backward_x" */
  int trans_a, trans_b;
  int64_t m, n, k;
} gm_cli_gemm;

/* The GEMMs of layer l at batch b, in forward, backward_w, backward_x order, into out
 * (room for 3); returns how many (backward_x only with input_grad). */
static inline int gm_cli_layer_gemms(const gm_cli_layer *l, int64_t b, gm_cli_gemm *out) {
  int64_t p = (int64_t)l->h * l->w, n = b * p;
  int count = 0;
  if (!l->transpose) {
    int64_t k = (int64_t)l->cin * l->kernel * l->kernel;
    out[count++] = (gm_cli_gemm){l->name, "forward", 0, 0, l->cout, n, k};
    out[count++] = (gm_cli_gemm){l->name, "backward_w", 0, 1, l->cout, k, n};
    if (l->input_grad) out[count++] = (gm_cli_gemm){l->name, "backward_x", 1, 0, k, n, l->cout};
  } else {
    int64_t taps = (int64_t)l->cout * 4;
    out[count++] = (gm_cli_gemm){l->name, "forward", 1, 0, taps, n, l->cin};
    out[count++] = (gm_cli_gemm){l->name, "backward_w", 0, 1, l->cin, taps, n};
    if (l->input_grad) out[count++] = (gm_cli_gemm){l->name, "backward_x", 0, 0, l->cin, n, taps};
  }
  return count;
}

/* Every distinct GEMM of the layers whose name contains match (NULL: all) at batch b,
 * first use first, into out (room for 3 * GM_CLI_LAYER_COUNT); returns the count. */
static inline int gm_cli_study_gemms(int64_t b, const char *match, gm_cli_gemm *out) {
  int count = 0;
  for (int i = 0; i < GM_CLI_LAYER_COUNT; i++) {
    if (match && !strstr(gm_cli_layers[i].name, match)) continue;
    gm_cli_gemm g[3];
    int n = gm_cli_layer_gemms(&gm_cli_layers[i], b, g);
    for (int j = 0; j < n; j++) {
      int seen = 0;
      for (int s = 0; s < count && !seen; s++)
        seen = out[s].trans_a == g[j].trans_a && out[s].trans_b == g[j].trans_b &&
               out[s].m == g[j].m && out[s].n == g[j].n && out[s].k == g[j].k;
      if (!seen) out[count++] = g[j];
    }
  }
  return count;
}

/* "nn", "nt", "tn", "tt". */
static inline const char *gm_cli_gemm_op(const gm_cli_gemm *g) {
  static const char *const ops[4] = {"nn", "nt", "tn", "tt"};
  return ops[2 * (g->trans_a != 0) + (g->trans_b != 0)];
}

#endif
