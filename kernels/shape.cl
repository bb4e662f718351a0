/* Shape ops and their backward passes (engine/src/ops_shape.c). Forward copies move
 * 32-bit words (uint), so float32 and int32 tensors share them. */

/* The offset within a 2x2 window at x + base (row length w) of its first maximum in raster
 * order: later entries win only when strictly greater. */
int shape_maxpool2x2_argmax(__global const float *x, int base, int w) {
  const int offs[4] = {0, 1, w, w + 1};
  int best = 0;
  float v = x[base];
  for (int k = 1; k < 4; k++) {
    float u = x[base + offs[k]];
    if (u > v) {
      v = u;
      best = offs[k];
    }
  }
  return best;
}

/* The start of output element o's window in x (B, C, h, w). */
int shape_maxpool2x2_base(int o, int h, int w) {
  int wo = w / 2, ho = h / 2;
  int ox = o % wo, oy = (o / wo) % ho, bc = o / (wo * ho);
  return (bc * h + 2 * oy) * w + 2 * ox;
}

__kernel void shape_maxpool2x2_forward(GM_T(float, y), GM_T(float, x), const int h, const int w,
                                       const int n) {
  int o = get_global_id(0);
  if (o >= n) return;
  int base = shape_maxpool2x2_base(o, h, w);
  GM_AT(y)[o] = GM_AT(x)[base + shape_maxpool2x2_argmax(GM_AT(x), base, w)];
}

/* one work-item per output: its window's first maximum gets dy */
__kernel void shape_maxpool2x2_backward(GM_T(float, dx), GM_T(float, dy), GM_T(float, x),
                                        const int h, const int w, const int n) {
  int o = get_global_id(0);
  if (o >= n) return;
  int base = shape_maxpool2x2_base(o, h, w);
  GM_AT(dx)[base + shape_maxpool2x2_argmax(GM_AT(x), base, w)] += GM_AT(dy)[o];
}

/* y (B, C, 2h, 2w) from x (B, C, h, w), one work-item per output */
__kernel void shape_upsample2x_forward(GM_T(uint, y), GM_T(uint, x), const int h, const int w,
                                       const int n) {
  int o = get_global_id(0);
  if (o >= n) return;
  int w2 = 2 * w, h2 = 2 * h;
  int ox = o % w2, oy = (o / w2) % h2, bc = o / (w2 * h2);
  GM_AT(y)[o] = GM_AT(x)[(bc * h + oy / 2) * w + ox / 2];
}

/* dx (B, C, h, w) += the 2x2 block sums of dy (B, C, 2h, 2w), one work-item per input */
__kernel void shape_upsample2x_backward(GM_T(float, dx), GM_T(float, dy), const int h,
                                        const int w, const int n) {
  int i = get_global_id(0);
  if (i >= n) return;
  int ix = i % w, iy = (i / w) % h, bc = i / (w * h);
  int w2 = 2 * w;
  __global const float *g = GM_AT(dy) + (size_t)(bc * 2 * h + 2 * iy) * w2 + 2 * ix;
  GM_AT(dx)[i] += (g[0] + g[1]) + (g[w2] + g[w2 + 1]);
}

/* The (dst, src) element pair of work-item (k, row) for channel copies between
 * (B, *, inner) layouts: `count` channels from src channel src_off on to dst channel
 * dst_off on; row = b * count + c, k the position within it. Two dimensions, so a row's
 * index arithmetic is shared by the work-items along it (PoCL vectorises over k). */
int2 shape_channel_pair(int k, int row, int inner, int dst_c, int dst_off, int src_c,
                        int src_off, int count) {
  int b = row / count, c = row - b * count;
  return (int2)((b * dst_c + dst_off + c) * inner + k, (b * src_c + src_off + c) * inner + k);
}

__kernel void shape_channels_copy(GM_T(uint, dst), GM_T(uint, src), const int inner,
                                  const int dst_c, const int dst_off, const int src_c,
                                  const int src_off, const int count, const int rows) {
  int k = get_global_id(0), row = get_global_id(1);
  if (k >= inner || row >= rows) return;
  int2 p = shape_channel_pair(k, row, inner, dst_c, dst_off, src_c, src_off, count);
  GM_AT(dst)[p.x] = GM_AT(src)[p.y];
}

/* the backward of a copy: dst += src over the same pairs (each dst element once) */
__kernel void shape_channels_add(GM_T(float, dst), GM_T(float, src), const int inner,
                                 const int dst_c, const int dst_off, const int src_c,
                                 const int src_off, const int count, const int rows) {
  int k = get_global_id(0), row = get_global_id(1);
  if (k >= inner || row >= rows) return;
  int2 p = shape_channel_pair(k, row, inner, dst_c, dst_off, src_c, src_off, count);
  GM_AT(dst)[p.x] += GM_AT(src)[p.y];
}

/* The x offset that y element i (row-major over dims d0..d4) reads, given the stride in x
 * of the axis each y axis came from. */
int shape_permuted_offset(int i, int d0, int d1, int d2, int d3, int d4, int s0, int s1, int s2,
                          int s3, int s4) {
  int off = (i % d4) * s4;
  i /= d4;
  off += (i % d3) * s3;
  i /= d3;
  off += (i % d2) * s2;
  i /= d2;
  off += (i % d1) * s1;
  i /= d1;
  return off + (i % d0) * s0;
}

__kernel void shape_permute_forward(GM_T(uint, y), GM_T(uint, x), const int d0, const int d1,
                                    const int d2, const int d3, const int d4, const int s0,
                                    const int s1, const int s2, const int s3, const int s4,
                                    const int n) {
  int i = get_global_id(0);
  if (i >= n) return;
  GM_AT(y)[i] = GM_AT(x)[shape_permuted_offset(i, d0, d1, d2, d3, d4, s0, s1, s2, s3, s4)];
}

/* dx[offset of y element i] += dy[i]; dims and strides describe y as in the forward */
__kernel void shape_permute_backward(GM_T(float, dx), GM_T(float, dy), const int d0,
                                     const int d1, const int d2, const int d3, const int d4,
                                     const int s0, const int s1, const int s2, const int s3,
                                     const int s4, const int n) {
  int i = get_global_id(0);
  if (i >= n) return;
  GM_AT(dx)[shape_permuted_offset(i, d0, d1, d2, d3, d4, s0, s1, s2, s3, s4)] += GM_AT(dy)[i];
}
