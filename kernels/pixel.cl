/* Kernels of the pixel-model ops (engine/src/ops_pixel.c): quantisation, windows of
 * feature maps, the gated activation, a convolution on a window of its output (gather
 * the taps, then vectorised dot products), and putting sampled classes into a pixel.
 * One work-item per output element throughout. */

/* classes of 0..255 values: clamp(floor(x * levels / 256), 0, levels - 1) */
float pixel_class_of(float v, int levels) {
  float q = floor(v * (float)levels / 256.0f);
  return fmin(fmax(q, 0.0f), (float)(levels - 1)); /* NaN becomes 0 */
}

__kernel void pixel_quantize_i32(GM_T(int, y), GM_T(float, x), const int levels, const int n) {
  int i = get_global_id(0);
  if (i < n) GM_AT(y)[i] = (int)pixel_class_of(GM_AT(x)[i], levels);
}

__kernel void pixel_quantize_f32(GM_T(float, y), GM_T(float, x), const int levels, const int n) {
  int i = get_global_id(0);
  if (i < n) GM_AT(y)[i] = pixel_class_of(GM_AT(x)[i], levels);
}

/* y (B, C, h, w) from x (B, C, H, W) at (top, left), zero outside x; 32-bit words */
__kernel void pixel_window_read(GM_T(uint, y), GM_T(uint, x), const int hx, const int wx,
                                const int top, const int left, const int h, const int w,
                                const int n) {
  int o = get_global_id(0);
  if (o >= n) return;
  int c = o % w, r = (o / w) % h, bc = o / (w * h);
  int iy = top + r, ix = left + c;
  uint v = 0;
  if (iy >= 0 && iy < hx && ix >= 0 && ix < wx) v = GM_AT(x)[(bc * hx + iy) * wx + ix];
  GM_AT(y)[o] = v;
}

/* dx (B, C, H, W) += dy (B, C, h, w) where the window overlaps x (an injection: no two
 * work-items share an element) */
__kernel void pixel_window_backward(GM_T(float, dx), GM_T(float, dy), const int hx,
                                    const int wx, const int top, const int left, const int h,
                                    const int w, const int n) {
  int o = get_global_id(0);
  if (o >= n) return;
  int c = o % w, r = (o / w) % h, bc = o / (w * h);
  int iy = top + r, ix = left + c;
  if (iy >= 0 && iy < hx && ix >= 0 && ix < wx) GM_AT(dx)[(bc * hx + iy) * wx + ix] += GM_AT(dy)[o];
}

/* dst (B, C, H, W) at (top, left) = src (B, C, h, w), clipped; 32-bit words */
__kernel void pixel_window_write(GM_T(uint, dst), GM_T(uint, src), const int hd, const int wd,
                                 const int top, const int left, const int h, const int w,
                                 const int n) {
  int o = get_global_id(0);
  if (o >= n) return;
  int c = o % w, r = (o / w) % h, bc = o / (w * h);
  int iy = top + r, ix = left + c;
  if (iy >= 0 && iy < hd && ix >= 0 && ix < wd)
    GM_AT(dst)[(bc * hd + iy) * wd + ix] = GM_AT(src)[o];
}

float pixel_sigmoid(float x) {
  if (x >= 0.0f) return 1.0f / (1.0f + exp(-x));
  float e = exp(x);
  return e / (1.0f + e);
}

/* y (B, nhalf, inner) = tanh(x[:, c]) * sigmoid(x[:, nhalf + c]) for x (B, 2 nhalf, inner);
 * (`half` is an OpenCL type name) */
__kernel void pixel_gate_forward(GM_T(float, y), GM_T(float, x), const int nhalf,
                                 const int inner, const int n) {
  int o = get_global_id(0);
  if (o >= n) return;
  int i = o % inner, c = (o / inner) % nhalf, b = o / (inner * nhalf);
  int a = (b * 2 * nhalf + c) * inner + i;
  GM_AT(y)[o] = tanh(GM_AT(x)[a]) * pixel_sigmoid(GM_AT(x)[a + nhalf * inner]);
}

/* d/da = dy (1 - t^2) s, d/dg = dy t s (1 - s); each work-item owns its two elements of dx */
__kernel void pixel_gate_backward(GM_T(float, dx), GM_T(float, dy), GM_T(float, x),
                                  const int nhalf, const int inner, const int n) {
  int o = get_global_id(0);
  if (o >= n) return;
  int i = o % inner, c = (o / inner) % nhalf, b = o / (inner * nhalf);
  int a = (b * 2 * nhalf + c) * inner + i, g = a + nhalf * inner;
  float t = tanh(GM_AT(x)[a]), s = pixel_sigmoid(GM_AT(x)[g]), d = GM_AT(dy)[o];
  GM_AT(dx)[a] += d * (1.0f - t * t) * s;
  GM_AT(dx)[g] += d * t * s * (1.0f - s);
}

/* patch (P, K) = the input taps of each output position of a window, P = B * rows * cols
 * positions in (b, r, c) order, K = cin * kh * kw taps in the weights' (ci, ky, kx) order,
 * zero where a tap falls in the padding. One work-item per element. */
__kernel void pixel_conv_patch(GM_T(float, patch), GM_T(float, x), const int cin, const int hx,
                               const int wx, const int kh, const int kw, const int stride,
                               const int ph, const int pw, const int row0, const int col0,
                               const int rows, const int cols, const int n) {
  int o = get_global_id(0);
  if (o >= n) return;
  int k_all = cin * kh * kw, k = o % k_all, p = o / k_all;
  int kx = k % kw, ky = (k / kw) % kh, ci = k / (kw * kh);
  int c = p % cols, r = (p / cols) % rows, b = p / (cols * rows);
  int iy = (row0 + r) * stride - ph + ky, ix = (col0 + c) * stride - pw + kx;
  float v = 0.0f;
  if (iy >= 0 && iy < hx && ix >= 0 && ix < wx) v = GM_AT(x)[((b * cin + ci) * hx + iy) * wx + ix];
  GM_AT(patch)[o] = v;
}

/* y (B, Cout, rows, cols) = patch (P, K) . (w * mask) (Cout, K)^T + bias, one work-item per
 * output: a dot product over K in 16-wide vectors (the loop is explicit, so it vectorises
 * whatever the driver does with work-items), then the tail. */
__kernel void pixel_conv_dot(GM_T(float, y), GM_T(float, patch), GM_T(float, w),
                             GM_T(float, bias), GM_T(float, mask), const int has_bias,
                             const int has_mask, const int k_all, const int cout,
                             const int rows, const int cols, const int n) {
  int o = get_global_id(0);
  if (o >= n) return;
  int c = o % cols, r = (o / cols) % rows;
  int co = (o / (cols * rows)) % cout, b = o / (cols * rows * cout);
  __global const float *pr = GM_AT(patch) + ((b * rows + r) * cols + c) * k_all;
  __global const float *wr = GM_AT(w) + co * k_all;
  __global const float *mr = GM_AT(mask) + co * k_all;
  float16 acc16 = (float16)(0.0f);
  int k = 0;
  if (has_mask)
    for (; k + 16 <= k_all; k += 16)
      acc16 = fma(vload16(0, pr + k), vload16(0, wr + k) * vload16(0, mr + k), acc16);
  else
    for (; k + 16 <= k_all; k += 16) acc16 = fma(vload16(0, pr + k), vload16(0, wr + k), acc16);
  float8 acc8 = acc16.lo + acc16.hi;
  float4 acc4 = acc8.lo + acc8.hi;
  float acc = (acc4.x + acc4.y) + (acc4.z + acc4.w);
  for (; k < k_all; k++) acc = fma(pr[k], has_mask ? wr[k] * mr[k] : wr[k], acc);
  if (has_bias) acc += GM_AT(bias)[co];
  GM_AT(y)[o] = acc;
}

/* img (B, C, H, W)[b, c0 + c, row, col] = scale * cls (B, n)[b, c] + offset */
__kernel void pixel_put(GM_T(float, img), GM_T(int, cls), const int channels, const int hx,
                        const int wx, const int row, const int col, const int c0,
                        const int nc, const float scale, const float offset, const int n) {
  int o = get_global_id(0);
  if (o >= n) return;
  int c = o % nc, b = o / nc;
  GM_AT(img)[((b * channels + c0 + c) * hx + row) * wx + col] =
      scale * (float)GM_AT(cls)[o] + offset;
}

/* packed (taps*Cin, cpad) = w (Cout, Cin, khkw) [* mask] on the first nt taps, row
 * t * Cin + ci, zero in columns Cout..cpad-1. One work-item per packed element. */
__kernel void pixel_point_pack(GM_T(float, packed), GM_T(float, w), GM_T(float, mask),
                               const int has_mask, const int cout, const int cin,
                               const int khkw, const int nt, const int cpad) {
  int i = get_global_id(0);
  if (i >= nt * cin * cpad) return;
  int co = i % cpad, row = i / cpad;
  int t = row / cin, ci = row - t * cin;
  float v = 0.0f;
  if (co < cout) {
    int src = (co * cin + ci) * khkw + t;
    v = GM_AT(w)[src];
    if (has_mask) v *= GM_AT(mask)[src];
  }
  GM_AT(packed)[i] = v;
}

/* Images per work-item of pixel_point_conv: each row of weights loaded is used this
 * many times. */
#define POINT_IMAGES 8

/* y (B, Cout) = the convolution at output position (row, col) of x (B, Cin, H, W), or
 * (B, H, W, Cin) when x_nhwc, with packed weights, + bias, relu when asked, also into map
 * at (row, col) when has_map: (B, Cout, Ho, Wo), or (B, Ho, Wo, Cout) when map_nhwc.
 * One work-item per 16 output channels and POINT_IMAGES images: every tap
 * of every input channel is a 16-float row of the weights, loaded once and multiplied by
 * one scalar of x per image. */
__kernel void pixel_point_conv(GM_T(float, y), GM_T(float, x), GM_T(float, packed),
                               GM_T(float, bias), GM_T(float, map), const int has_bias,
                               const int relu, const int has_map, const int x_nhwc,
                               const int map_nhwc, const int nb, const int cin, const int h,
                               const int w, const int cout, const int cpad, const int kw,
                               const int nt, const int ph, const int pw, const int row,
                               const int col, const int ho, const int wo) {
  int id = get_global_id(0), nv = cpad / 16;
  int groups = (nb + POINT_IMAGES - 1) / POINT_IMAGES;
  if (id >= groups * nv) return;
  int b0 = id / nv * POINT_IMAGES, co0 = (id % nv) * 16;
  size_t image = (size_t)cin * h * w;
  size_t ci_step = x_nhwc ? 1 : (size_t)h * w, pos_step = x_nhwc ? (size_t)cin : 1;
  __global const float *xb[POINT_IMAGES];
#pragma unroll
  for (int u = 0; u < POINT_IMAGES; u++) xb[u] = GM_AT(x) + min(b0 + u, nb - 1) * image;
  __global const float *wp = GM_AT(packed) + co0;
  float16 acc[POINT_IMAGES];
#pragma unroll
  for (int u = 0; u < POINT_IMAGES; u++) acc[u] = (float16)(0.0f);
  for (int t = 0; t < nt; t++) {
    int ky = t / kw, kx = t - ky * kw;
    int iy = row - ph + ky, ix = col - pw + kx;
    if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
    size_t at = (size_t)(iy * w + ix) * pos_step;
    __global const float *wr = wp + (size_t)t * cin * cpad;
    for (int ci = 0; ci < cin; ci++) {
      float16 wv = vload16(0, wr + (size_t)ci * cpad);
      size_t xo = ci * ci_step + at;
#pragma unroll
      for (int u = 0; u < POINT_IMAGES; u++) acc[u] = fma((float16)(xb[u][xo]), wv, acc[u]);
    }
  }
  for (int u = 0; u < POINT_IMAGES && b0 + u < nb; u++) {
    float out[16];
    vstore16(acc[u], 0, out);
    int b = b0 + u;
    for (int l = 0; l < 16 && co0 + l < cout; l++) {
      int co = co0 + l;
      float v = out[l] + (has_bias ? GM_AT(bias)[co] : 0.0f);
      if (relu) v = fmax(v, 0.0f);
      GM_AT(y)[b * cout + co] = v;
      if (has_map)
        GM_AT(map)[map_nhwc ? (((size_t)b * ho + row) * wo + col) * cout + co
                            : (((size_t)b * cout + co) * ho + row) * wo + col] = v;
    }
  }
}
