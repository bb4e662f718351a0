/* The causal masks of the PixelCNN's masked convolutions (docs/pixelcnn.md), built on the host
 * and written with one transfer; gm_conv2d multiplies them into its weights. */
#include <inttypes.h>
#include <stdlib.h>

#include "ops_conv_internal.h"

/* 1 when output channel co may see input channel ci at kernel tap (ky, kx). */
static float mask_value(gm_conv_mask type, int channel_aware, int64_t co, int64_t cout,
                        int64_t ci, int64_t cin, int64_t ky, int64_t kx, int64_t kh,
                        int64_t kw) {
  if (type == GM_MASK_NONE) return 1.0f;
  int64_t yc = kh / 2, xc = kw / 2;
  if (ky < yc || (ky == yc && kx < xc)) return 1.0f;  /* before the centre, raster order */
  if (ky > yc || kx > xc) return 0.0f;                /* after it */
  if (!channel_aware) return type == GM_MASK_B ? 1.0f : 0.0f;
  int64_t gout = co * 3 / cout, gin = ci * 3 / cin;   /* R, G, B thirds */
  return (type == GM_MASK_A ? gin < gout : gin <= gout) ? 1.0f : 0.0f;
}

int gm_conv_mask_fill(gm_tensor *mask, gm_conv_mask type, int channel_aware, gm_error *err) {
  const char *op = "conv_mask_fill";
  int rc = gm__want_ndim(op, "mask (Cout, Cin, kh, kw)", mask, 4, err);
  if (rc == 0) rc = gm__want_f32(op, mask, err);
  if (rc) return rc;
  if (type != GM_MASK_NONE && type != GM_MASK_A && type != GM_MASK_B)
    return gm_error_set(err, GM_EINVAL, "%s: unknown mask type %d", op, (int)type);
  int64_t cout = mask->shape[0], cin = mask->shape[1], kh = mask->shape[2], kw = mask->shape[3];
  float *host = malloc(mask->numel ? (size_t)mask->numel * sizeof *host : 1);
  if (!host) return gm_error_set(err, GM_ENOMEM, "%s: no host memory for %" PRId64 " values", op,
                                 mask->numel);
  float *m = host;
  for (int64_t co = 0; co < cout; co++)
    for (int64_t ci = 0; ci < cin; ci++)
      for (int64_t ky = 0; ky < kh; ky++)
        for (int64_t kx = 0; kx < kw; kx++)
          *m++ = mask_value(type, channel_aware, co, cout, ci, cin, ky, kx, kh, kw);
  rc = gm_tensor_write(mask, host, gm_tensor_bytes(mask), err);
  free(host);
  return rc;
}

int gm_conv_mask_taps(gm_conv_mask type, int channel_aware, int kh, int kw) {
  int centre = (kh / 2) * kw + kw / 2;
  switch (type) {
  case GM_MASK_A: return channel_aware ? centre + 1 : centre;
  case GM_MASK_B: return centre + 1;
  default: return kh * kw;
  }
}
