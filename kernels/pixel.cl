/* Kernels of the pixel-model ops (engine/src/ops_pixel.c): quantisation, windows of
 * feature maps, the gated activation, a convolution on a window of its output, and
 * putting sampled classes into a pixel. One work-item per output element throughout. */

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
  if (iy >= 0 && iy < hd && ix >= 0 && ix < wd) GM_AT(dst)[(bc * hd + iy) * wd + ix] = GM_AT(src)[o];
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

/* y (B, Cout, rows, cols) = the window at (row0, col0) of conv(x, w * mask) + bias, one
 * work-item per output element. Neighbouring work-items differ in the column, then the
 * output channel, so for a one-position window a work-group shares every x load. */
__kernel void pixel_conv_window(GM_T(float, y), GM_T(float, x), GM_T(float, w),
                                GM_T(float, bias), GM_T(float, mask), const int has_bias,
                                const int has_mask, const int cin, const int hx, const int wx,
                                const int cout, const int kh, const int kw, const int stride,
                                const int ph, const int pw, const int row0, const int col0,
                                const int rows, const int cols, const int n) {
  int o = get_global_id(0);
  if (o >= n) return;
  int c = o % cols, r = (o / cols) % rows;
  int co = (o / (cols * rows)) % cout, b = o / (cols * rows * cout);
  int y0 = (row0 + r) * stride - ph, x0 = (col0 + c) * stride - pw;
  __global const float *xb = GM_AT(x) + b * cin * hx * wx;
  __global const float *wc = GM_AT(w) + co * cin * kh * kw;
  __global const float *mc = GM_AT(mask) + co * cin * kh * kw;
  float acc = 0.0f;
  for (int ci = 0; ci < cin; ci++)
    for (int ky = 0; ky < kh; ky++) {
      int iy = y0 + ky;
      if (iy < 0 || iy >= hx) continue;
      for (int kx = 0; kx < kw; kx++) {
        int ix = x0 + kx;
        if (ix < 0 || ix >= wx) continue;
        int k = (ci * kh + ky) * kw + kx;
        float wv = has_mask ? wc[k] * mc[k] : wc[k];
        acc = fma(xb[(ci * hx + iy) * wx + ix], wv, acc);
      }
    }
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
  GM_AT(img)[((b * channels + c0 + c) * hx + row) * wx + col] = scale * (float)GM_AT(cls)[o] + offset;
}
