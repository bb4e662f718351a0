/* See convref.h. */
#include "convref.h"

#include <stdio.h>

int gmt_conv_out_h(const gmt_conv_case *c) { return (c->h + 2 * c->ph - c->kh) / c->stride + 1; }
int gmt_conv_out_w(const gmt_conv_case *c) { return (c->w + 2 * c->pw - c->kw) / c->stride + 1; }

double gmt_conv_ref_mask(const gmt_conv_case *c, int co, int ci, int ky, int kx) {
  if (c->mask == GM_MASK_NONE) return 1;
  int yc = c->kh / 2, xc = c->kw / 2;
  if (ky > yc || (ky == yc && kx > xc)) return 0;
  if (ky < yc || kx < xc) return 1;
  if (!c->channel_aware) return c->mask == GM_MASK_B;
  int go = co * 3 / c->cout, gi = ci * 3 / c->cin;
  return c->mask == GM_MASK_A ? gi < go : gi <= go;
}

void gmt_conv_ref(const gmt_conv_case *c, const double *x, const double *w, const double *bias,
                  const double *mask, double *out) {
  int ho = gmt_conv_out_h(c), wo = gmt_conv_out_w(c);
  for (int b = 0; b < c->b; b++)
    for (int co = 0; co < c->cout; co++)
      for (int oy = 0; oy < ho; oy++)
        for (int ox = 0; ox < wo; ox++) {
          double acc = c->bias ? bias[co] : 0;
          for (int ci = 0; ci < c->cin; ci++)
            for (int ky = 0; ky < c->kh; ky++)
              for (int kx = 0; kx < c->kw; kx++) {
                int iy = oy * c->stride - c->ph + ky, ix = ox * c->stride - c->pw + kx;
                if (c->taps && ky * c->kw + kx >= c->taps) continue;
                if (iy < 0 || iy >= c->h || ix < 0 || ix >= c->w) continue;
                size_t wi = (((size_t)co * c->cin + ci) * c->kh + ky) * c->kw + kx;
                double m = c->mask == GM_MASK_NONE ? 1 : mask[wi];
                acc += x[(((size_t)b * c->cin + ci) * c->h + iy) * c->w + ix] * w[wi] * m;
              }
          out[(((size_t)b * c->cout + co) * ho + oy) * wo + ox] = acc;
        }
}

/* x, w and bias uniform; the mask (input 3) from the reference's own definition. */
static void fill_conv(gmt_rng *r, float *x, size_t n, int k, const op_case *o) {
  const gmt_conv_case *c = o->data;
  if (k < 3) {
    gmt_fill_uniform(r, x, n, o->lo[k], o->hi[k]);
    return;
  }
  size_t i = 0;
  for (int co = 0; co < c->cout; co++)
    for (int ci = 0; ci < c->cin; ci++)
      for (int ky = 0; ky < c->kh; ky++)
        for (int kx = 0; kx < c->kw; kx++) x[i++] = (float)gmt_conv_ref_mask(c, co, ci, ky, kx);
}

op_case gmt_conv_inputs(const gmt_conv_case *c, char *name, size_t name_size) {
  snprintf(name, name_size,
           "conv2d x(%d,%d,%d,%d) w(%d,%d,%d,%d) s%d p(%d,%d) bias=%d mask=%d ca=%d taps=%d",
           c->b, c->cin, c->h, c->w, c->cout, c->cin, c->kh, c->kw, c->stride, c->ph, c->pw,
           c->bias, (int)c->mask, c->channel_aware, c->taps);
  op_case o = {.name = name, .n_in = 4, .ndim = {4, 4, 1, 4},
               .shape = {{c->b, c->cin, c->h, c->w}, {c->cout, c->cin, c->kh, c->kw},
                         {c->cout}, {c->cout, c->cin, c->kh, c->kw}},
               .lo = {-1, -0.5f, -0.5f}, .hi = {1, 0.5f, 0.5f}, .fill = fill_conv,
               .absent = {0, 0, !c->bias, c->mask == GM_MASK_NONE}, .data = c};
  return o;
}
