/* Convolution, conv-transpose and linear helpers (engine/src/ops_conv.c, ops_linear.c):
 * im2col / col2im, layout changes between (B, C, P) and (C, B*P), bias and masks.
 * Every kernel writes each output element from one work-item (no atomics). */

/* y (R, ld) from w (R, khkw) [* mask (R, khkw)]: the first nt taps of every row
 * (raster order), zero in columns nt..ld-1. ld = nt packs the weights that take part for
 * the GEMM; ld = khkw keeps w's layout with the skipped taps zeroed. */
__kernel void conv_weights_taps(GM_T(float, y), GM_T(float, w), GM_T(float, mask),
                                const int has_mask, const int rows, const int khkw,
                                const int nt, const int ld) {
  int i = get_global_id(0);
  if (i >= rows * ld) return;
  int r = i / ld, t = i - r * ld;
  float v = 0.0f;
  if (t < nt) {
    v = GM_AT(w)[r * khkw + t];
    if (has_mask) v *= GM_AT(mask)[r * khkw + t];
  }
  GM_AT(y)[i] = v;
}

/* The reverse of conv_weights_taps with ld = nt: g (R, khkw) += dwt (R, nt) [* other
 * (R, khkw)] on the first nt taps of every row (masked weight and mask gradients). */
__kernel void conv_weights_taps_grad(GM_T(float, g), GM_T(float, dwt), GM_T(float, other),
                                     const int has_other, const int rows, const int khkw,
                                     const int nt) {
  int i = get_global_id(0);
  if (i >= rows * nt) return;
  int r = i / nt, t = i - r * nt;
  float v = GM_AT(dwt)[i];
  if (has_other) v *= GM_AT(other)[r * khkw + t];
  GM_AT(g)[r * khkw + t] += v;
}

/* col (Cin*nt, nb*Ho*Wo) from images b0..b0+nb of x (B, Cin, H, W), zero outside the
 * image, for the first nt kernel taps in raster order (nt = kh*kw: all of them). Column
 * n = b*Ho*Wo + oy*Wo + ox, row k = ci*nt + t with tap t = ky*kw + kx. One work-item per
 * output row segment: id 0 runs over (b, oy), id 1 over k, and each loops over ox (on
 * PoCL a work-item per element spends more on scheduling than on copying). */
__kernel void conv_im2col(GM_T(float, col), GM_T(float, x), const int b0, const int nb,
                          const int cin, const int h, const int w, const int kh,
                          const int kw, const int stride, const int ph, const int pw,
                          const int ho, const int wo, const int nt) {
  int r = get_global_id(0), k = get_global_id(1);
  if (r >= nb * ho || k >= cin * nt) return;
  int b = r / ho, oy = r - b * ho;
  int ci = k / nt, t = k - ci * nt;
  int ky = t / kw, kx = t - ky * kw;
  int iy = oy * stride - ph + ky;
  __global float *dst = GM_AT(col) + k * (nb * ho * wo) + r * wo;
  if (iy < 0 || iy >= h) {
    for (int ox = 0; ox < wo; ox++) dst[ox] = 0.0f;
    return;
  }
  __global const float *src = GM_AT(x) + (((b0 + b) * cin + ci) * h + iy) * w;
  for (int ox = 0; ox < wo; ox++) {
    int ix = ox * stride - pw + kx;
    dst[ox] = ix >= 0 && ix < w ? src[ix] : 0.0f;
  }
}

/* dx (B, Cin, H, W) += col2im(dcol (Cin*nt, nb*Ho*Wo)) for images b0..b0+nb: each input
 * element gathers every column entry that im2col copied it to, taps in raster order. Any
 * stride; one work-item per input element. */
__kernel void conv_col2im_acc(GM_T(float, dx), GM_T(float, dcol), const int b0, const int nb,
                              const int cin, const int h, const int w, const int kh,
                              const int kw, const int stride, const int ph, const int pw,
                              const int ho, const int wo, const int nt) {
  int i = get_global_id(0);
  if (i >= nb * cin * h * w) return;
  int ix = i % w, r = i / w;
  int iy = r % h;
  r /= h;
  int ci = r % cin, b = r / cin;
  int p_img = ho * wo, ncols = nb * p_img;
  float acc = 0.0f;
  for (int t = 0; t < nt; t++) {
    int ky = t / kw, kx = t - ky * kw;
    int ty = iy + ph - ky, tx = ix + pw - kx; /* = oy * stride, ox * stride */
    int oy = ty / stride, ox = tx / stride;
    if (ty >= 0 && oy * stride == ty && oy < ho && tx >= 0 && ox * stride == tx && ox < wo)
      acc += GM_AT(dcol)[(ci * nt + t) * ncols + b * p_img + oy * wo + ox];
  }
  GM_AT(dx)[(b0 * cin * h * w) + i] += acc;
}

/* conv_col2im_acc for stride 1, a row at a time: one work-item per row (b, ci, iy) of dx
 * adds, tap by tap in the same order, the shifted row segment of dcol that holds it, 16
 * columns at a time (contiguous reads instead of one gather per element and tap). */
__kernel void conv_col2im_s1_acc(GM_T(float, dx), GM_T(float, dcol), const int b0,
                                 const int nb, const int cin, const int h, const int w,
                                 const int kw, const int ph, const int pw, const int ho,
                                 const int wo, const int nt) {
  int r = get_global_id(0);
  if (r >= nb * cin * h) return;
  int iy = r % h, bc = r / h;
  int ci = bc % cin, b = bc / cin;
  int p_img = ho * wo, ncols = nb * p_img;
  __global float *dst = GM_AT(dx) + (b0 * cin * h + r) * w;
  for (int x0 = 0; x0 < w; x0 += 16) {
    float acc[16];
#pragma unroll
    for (int j = 0; j < 16; j++) acc[j] = 0.0f;
    for (int t = 0; t < nt; t++) {
      int ky = t / kw, kx = t - ky * kw;
      int oy = iy + ph - ky;
      if (oy < 0 || oy >= ho) continue;
      __global const float *src = GM_AT(dcol) + (ci * nt + t) * ncols + b * p_img + oy * wo;
      int shift = pw - kx; /* ox = ix + shift */
#pragma unroll
      for (int j = 0; j < 16; j++) {
        int ox = x0 + j + shift;
        if (x0 + j < w && ox >= 0 && ox < wo) acc[j] += src[ox];
      }
    }
    for (int j = 0; j < 16 && x0 + j < w; j++) dst[x0 + j] += acc[j];
  }
}

/* dst (C, nb*P) from images b0..b0+nb of src (B, C, P). One work-item per dst element. */
__kernel void conv_to_cn(GM_T(float, dst), GM_T(float, src), const int b0, const int nb,
                         const int c, const int p) {
  int i = get_global_id(0);
  int ncols = nb * p;
  if (i >= c * ncols) return;
  int ch = i / ncols, n = i - ch * ncols;
  int b = n / p, q = n - b * p;
  GM_AT(dst)[i] = GM_AT(src)[((b0 + b) * c + ch) * p + q];
}

/* Images b0..b0+nb of dst (B, C, P) from src (C, nb*P), plus bias[c] when has_bias;
 * accumulate != 0 adds into dst instead of overwriting it. One work-item per dst element. */
__kernel void conv_from_cn(GM_T(float, dst), GM_T(float, src), GM_T(float, bias),
                           const int has_bias, const int accumulate, const int b0,
                           const int nb, const int c, const int p) {
  int i = get_global_id(0);
  if (i >= nb * c * p) return;
  int q = i % p, t = i / p;
  int ch = t % c, b = t / c;
  float v = GM_AT(src)[ch * nb * p + b * p + q];
  if (has_bias) v += GM_AT(bias)[ch];
  __global float *d = GM_AT(dst) + b0 * c * p + i;
  *d = accumulate ? *d + v : v;
}

/* y (B, C, P) += bias (C) broadcast over B and P. */
__kernel void conv_bias_add(GM_T(float, y), GM_T(float, bias), const int nbatch, const int c,
                            const int p) {
  int i = get_global_id(0);
  if (i >= nbatch * c * p) return;
  GM_AT(y)[i] += GM_AT(bias)[(i / p) % c];
}

/* db (C) += sum over B and P of dy (B, C, P). One work-item per channel, a fixed order. */
__kernel void conv_bias_grad(GM_T(float, db), GM_T(float, dy), const int nbatch, const int c,
                             const int p) {
  int ch = get_global_id(0);
  if (ch >= c) return;
  float acc = 0.0f;
  for (int b = 0; b < nbatch; b++) {
    __global const float *row = GM_AT(dy) + (b * c + ch) * p;
    for (int q = 0; q < p; q++) acc += row[q];
  }
  GM_AT(db)[ch] += acc;
}

/* Conv-transpose 2x2 stride 2: y (B, C, 2H, 2W) from t (C*4, B*H*W), whose row
 * co*4 + dy*2 + dx holds tap (dy, dx) of output channel co; plus bias[co]. Every output
 * pixel comes from exactly one input pixel and one tap. Two dimensions: ox along an
 * output row, and the row (b, co, oy), whose index arithmetic the row shares. */
__kernel void conv_t2x2_scatter(GM_T(float, y), GM_T(float, t), GM_T(float, bias),
                                const int has_bias, const int nbatch, const int c,
                                const int h, const int w) {
  int ox = get_global_id(0), row = get_global_id(1);
  int wo = 2 * w, ho = 2 * h;
  if (ox >= wo || row >= nbatch * c * ho) return;
  int oy = row % ho, bc = row / ho;
  int co = bc % c, b = bc / c;
  int tap = (oy & 1) * 2 + (ox & 1);
  float v = GM_AT(t)[(co * 4 + tap) * (nbatch * h * w) + (b * h + (oy >> 1)) * w + (ox >> 1)];
  if (has_bias) v += GM_AT(bias)[co];
  GM_AT(y)[row * wo + ox] = v;
}

/* The inverse layout change: dt (C*4, B*H*W) from dy (B, C, 2H, 2W). Two dimensions: ix
 * along a row of dt, and the row r = ((co*4 + tap) * B + b) * H + iy. */
__kernel void conv_t2x2_gather(GM_T(float, dt), GM_T(float, dy), const int nbatch,
                               const int c, const int h, const int w) {
  int ix = get_global_id(0), r = get_global_id(1);
  if (ix >= w || r >= c * 4 * nbatch * h) return;
  int iy = r % h, t = r / h;
  int b = t % nbatch, row = t / nbatch;
  int co = row / 4, tap = row % 4;
  int oy = 2 * iy + (tap >> 1), ox = 2 * ix + (tap & 1);
  GM_AT(dt)[r * w + ix] = GM_AT(dy)[((b * c + co) * 2 * h + oy) * 2 * w + ox];
}

/* dst (R, hp, wp) = src (R, h, w) placed at row top, column left, zeros around it: the
 * padded copy an implicit-GEMM convolution reads. One work-item per dst row. */
__kernel void conv_pad(GM_T(float, dst), GM_T(float, src), const int nrows, const int h,
                       const int w, const int hp, const int wp, const int top,
                       const int left) {
  int r = get_global_id(0);
  if (r >= nrows * hp) return;
  int plane = r / hp, y = r - plane * hp - top;
  __global float *d = GM_AT(dst) + (size_t)r * wp;
  if (y < 0 || y >= h) {
    for (int x = 0; x < wp; x++) d[x] = 0.0f;
    return;
  }
  __global const float *s = GM_AT(src) + ((size_t)plane * h + y) * w;
  for (int x = 0; x < wp; x++) {
    int sx = x - left;
    d[x] = sx >= 0 && sx < w ? s[sx] : 0.0f;
  }
}

/* wt (Cin, Cout*nt) = the first nt taps of w (Cout, Cin, khkw) [* mask], regrouped by
 * input channel: the A operand of the input gradient as an implicit-GEMM convolution. */
__kernel void conv_weights_dx(GM_T(float, wt), GM_T(float, w), GM_T(float, mask),
                              const int has_mask, const int cout, const int cin,
                              const int khkw, const int nt) {
  int i = get_global_id(0);
  if (i >= cin * cout * nt) return;
  int ci = i / (cout * nt), r = i - ci * cout * nt;
  int co = r / nt, t = r - co * nt;
  int src = (co * cin + ci) * khkw + t;
  float v = GM_AT(w)[src];
  if (has_mask) v *= GM_AT(mask)[src];
  GM_AT(wt)[i] = v;
}

/* dst (B*P, C) = src (B, C, P) transposed per image: dy as the B operand of the weight
 * gradient's GEMM. One work-item per dst element. */
__kernel void conv_to_pc(GM_T(float, dst), GM_T(float, src), const int nb, const int c,
                         const int p) {
  int i = get_global_id(0);
  if (i >= nb * p * c) return;
  int ch = i % c, bq = i / c;
  int b = bq / p, q = bq - b * p;
  GM_AT(dst)[i] = GM_AT(src)[(b * c + ch) * p + q];
}

/* g (Cout, Cin, khkw) += dwt (Cin*nt, Cout) [* other (Cout, Cin, khkw)] on the first nt
 * taps: a weight gradient computed transposed, back into w's layout (masked weights and
 * mask gradients as conv_weights_taps_grad). One work-item per (co, ci, t). */
__kernel void conv_weights_grad_t(GM_T(float, g), GM_T(float, dwt), GM_T(float, other),
                                  const int has_other, const int cout, const int cin,
                                  const int khkw, const int nt) {
  int i = get_global_id(0);
  if (i >= cout * cin * nt) return;
  int t = i % nt, r = i / nt;
  int ci = r % cin, co = r / cin;
  float v = GM_AT(dwt)[(ci * nt + t) * cout + co];
  int at = r * khkw + t;
  if (has_other) v *= GM_AT(other)[at];
  GM_AT(g)[at] += v;
}
