/* Convolution, conv-transpose and linear helpers (engine/src/ops_conv.c, ops_linear.c):
 * im2col / col2im, layout changes between (B, C, P) and (C, B*P), bias and masks.
 * Every kernel writes each output element from one work-item (no atomics). */

/* y = a * b over n elements (masked weights). */
__kernel void conv_mul(GM_T(float, y), GM_T(float, a), GM_T(float, b), const int n) {
  int i = get_global_id(0);
  if (i < n) GM_AT(y)[i] = GM_AT(a)[i] * GM_AT(b)[i];
}

/* y += a * b over n elements (masked weight gradients). */
__kernel void conv_mul_acc(GM_T(float, y), GM_T(float, a), GM_T(float, b), const int n) {
  int i = get_global_id(0);
  if (i < n) GM_AT(y)[i] += GM_AT(a)[i] * GM_AT(b)[i];
}

/* col (Cin*kh*kw, nb*Ho*Wo) from images b0..b0+nb of x (B, Cin, H, W), zero outside the
 * image. Column n = b*Ho*Wo + oy*Wo + ox, row k = (ci*kh + ky)*kw + kx. One work-item per
 * output row segment: id 0 runs over (b, oy), id 1 over k, and each loops over ox (on
 * PoCL a work-item per element spends more on scheduling than on copying). */
__kernel void conv_im2col(GM_T(float, col), GM_T(float, x), const int b0, const int nb,
                          const int cin, const int h, const int w, const int kh,
                          const int kw, const int stride, const int ph, const int pw,
                          const int ho, const int wo) {
  int r = get_global_id(0), k = get_global_id(1);
  if (r >= nb * ho || k >= cin * kh * kw) return;
  int b = r / ho, oy = r - b * ho;
  int kx = k % kw, t = k / kw;
  int ky = t % kh, ci = t / kh;
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

/* dx (B, Cin, H, W) += col2im(dcol) for images b0..b0+nb: each input element gathers
 * every column entry that im2col copied it to. One work-item per input element. */
__kernel void conv_col2im_acc(GM_T(float, dx), GM_T(float, dcol), const int b0, const int nb,
                              const int cin, const int h, const int w, const int kh,
                              const int kw, const int stride, const int ph, const int pw,
                              const int ho, const int wo) {
  int i = get_global_id(0);
  if (i >= nb * cin * h * w) return;
  int ix = i % w, t = i / w;
  int iy = t % h;
  t /= h;
  int ci = t % cin, b = t / cin;
  int p_img = ho * wo, ncols = nb * p_img;
  float acc = 0.0f;
  for (int ky = 0; ky < kh; ky++) {
    int ty = iy + ph - ky; /* = oy * stride */
    int oy = ty / stride;
    int oky = ty >= 0 && oy * stride == ty && oy < ho;
    for (int kx = 0; kx < kw; kx++) {
      int tx = ix + pw - kx;
      int ox = tx / stride;
      if (oky && tx >= 0 && ox * stride == tx && ox < wo)
        acc += GM_AT(dcol)[((ci * kh + ky) * kw + kx) * ncols + b * p_img + oy * wo + ox];
    }
  }
  GM_AT(dx)[(b0 * cin * h * w) + i] += acc;
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
 * pixel comes from exactly one input pixel and one tap. */
__kernel void conv_t2x2_scatter(GM_T(float, y), GM_T(float, t), GM_T(float, bias),
                                const int has_bias, const int nbatch, const int c,
                                const int h, const int w) {
  int i = get_global_id(0);
  int wo = 2 * w, ho = 2 * h;
  if (i >= nbatch * c * ho * wo) return;
  int ox = i % wo, r = i / wo;
  int oy = r % ho;
  r /= ho;
  int co = r % c, b = r / c;
  int tap = (oy & 1) * 2 + (ox & 1);
  float v = GM_AT(t)[(co * 4 + tap) * (nbatch * h * w) + (b * h + (oy >> 1)) * w + (ox >> 1)];
  if (has_bias) v += GM_AT(bias)[co];
  GM_AT(y)[i] = v;
}

/* The inverse layout change: dt (C*4, B*H*W) from dy (B, C, 2H, 2W). */
__kernel void conv_t2x2_gather(GM_T(float, dt), GM_T(float, dy), const int nbatch,
                               const int c, const int h, const int w) {
  int i = get_global_id(0);
  int ncols = nbatch * h * w;
  if (i >= c * 4 * ncols) return;
  int n = i % ncols, row = i / ncols;
  int co = row / 4, tap = row % 4;
  int ix = n % w, r = n / w;
  int iy = r % h, b = r / h;
  int oy = 2 * iy + (tap >> 1), ox = 2 * ix + (tap & 1);
  GM_AT(dt)[i] = GM_AT(dy)[((b * c + co) * 2 * h + oy) * 2 * w + ox];
}
