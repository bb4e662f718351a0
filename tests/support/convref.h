/* conv2d in double for the op cases of test_ops_conv and test_ops_pixel: the geometry of
 * one case, the causal masks as docs/pixelcnn.md words them (written independently of
 * the engine's code), and the direct convolution loops. */
#ifndef GM_CONVREF_H
#define GM_CONVREF_H

#include "optest.h"

typedef struct gmt_conv_case {
  int b, cin, h, w, cout, kh, kw, stride, ph, pw;
  int bias;               /* 1: with a bias */
  gm_conv_mask mask;      /* GM_MASK_NONE: no mask tensor at all */
  int channel_aware;
  int taps;               /* gm_conv2d_opts.taps: 0 all, else the first `taps` positions */
} gmt_conv_case;

int gmt_conv_out_h(const gmt_conv_case *c);
int gmt_conv_out_w(const gmt_conv_case *c);
/* The mask's value at (co, ci, ky, kx): 1 where the output may see the input. */
double gmt_conv_ref_mask(const gmt_conv_case *c, int co, int ci, int ky, int kx);
/* out (B, Cout, Ho, Wo) from x (B, Cin, H, W), w (Cout, Cin, kh, kw), bias (Cout; unread
 * without one) and mask (like w; unread without one). */
void gmt_conv_ref(const gmt_conv_case *c, const double *x, const double *w, const double *bias,
                  const double *mask, double *out);
/* An op case of gm_conv2d's inputs x, w, bias, mask (absent without bias or mask): x
 * uniform in +-1, w and bias in +-0.5, the mask's double values from gmt_conv_ref_mask
 * (the call fills the device mask with gm_conv_mask_fill). Ref, call and outputs are the
 * caller's. name (name_size bytes) receives a description of the case. */
op_case gmt_conv_inputs(const gmt_conv_case *c, char *name, size_t name_size);

#endif
