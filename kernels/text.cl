/* Text-encoder ops (engine/src/ops_text.c): embedding lookup and poolings over a padded
 * batch of tokens. Each work-item sums in a fixed order, so results repeat bit for bit. */

/* one work-item per (i, d): y[i, d] = table[ids[i], d], 0 for an id outside 0..V-1 */
__kernel void text_embedding_lookup_forward(GM_T(float, y), GM_T(float, table), GM_T(int, ids),
                                            const int V, const int D, const int n) {
  int j = get_global_id(0);
  if (j >= n) return;
  int i = j / D, d = j % D, v = GM_AT(ids)[i];
  GM_AT(y)[j] = v >= 0 && v < V ? GM_AT(table)[(size_t)v * D + d] : 0.0f;
}

/* one work-item per (v, d): dtable[v, d] += sum over i with ids[i] == v of dy[i, d]
 * (a gather over the ids in order: no atomics, the same sum on every device) */
__kernel void text_embedding_lookup_backward(GM_T(float, dtable), GM_T(float, dy),
                                             GM_T(int, ids), const int N, const int D,
                                             const int n) {
  int j = get_global_id(0);
  if (j >= n) return;
  int v = j / D, d = j % D;
  float acc = 0.0f;
  for (int i = 0; i < N; i++)
    if (GM_AT(ids)[i] == v) acc += GM_AT(dy)[(size_t)i * D + d];
  GM_AT(dtable)[j] += acc;
}

/* the count of mask[b, :] that is non-zero, at least 1 */
int text_mask_count(__global const float *m, int L) {
  int c = 0;
  for (int l = 0; l < L; l++) c += m[l] != 0.0f;
  return max(c, 1);
}

/* one work-item per (b, d): y[b, d] = sum_l m[b, l] x[b, l, d] / max(1, count) */
__kernel void text_masked_mean_forward(GM_T(float, y), GM_T(float, x), GM_T(float, mask),
                                       const int L, const int D, const int n) {
  int j = get_global_id(0);
  if (j >= n) return;
  int b = j / D, d = j % D;
  __global const float *m = GM_AT(mask) + (size_t)b * L;
  __global const float *xb = GM_AT(x) + (size_t)b * L * D;
  float acc = 0.0f;
  for (int l = 0; l < L; l++)
    if (m[l] != 0.0f) acc += xb[(size_t)l * D + d];
  GM_AT(y)[j] = acc / (float)text_mask_count(m, L);
}

/* one work-item per (b, l, d): dx[b, l, d] += [m[b, l] != 0] dy[b, d] / count */
__kernel void text_masked_mean_backward(GM_T(float, dx), GM_T(float, dy), GM_T(float, mask),
                                        const int L, const int D, const int n) {
  int j = get_global_id(0);
  if (j >= n) return;
  int d = j % D, bl = j / D, b = bl / L;
  __global const float *m = GM_AT(mask) + (size_t)b * L;
  if (m[bl % L] != 0.0f) GM_AT(dx)[j] += GM_AT(dy)[(size_t)b * D + d] / (float)text_mask_count(m, L);
}

/* one work-item per b: the weights a[b, :] (0 at padding; all 0 when no token) */
__kernel void text_attention_pool_weights(GM_T(float, a), GM_T(float, x), GM_T(float, q),
                                          GM_T(float, mask), const int L, const int D,
                                          const float scale, const int B) {
  int b = get_global_id(0);
  if (b >= B) return;
  __global const float *m = GM_AT(mask) + (size_t)b * L;
  __global const float *xb = GM_AT(x) + (size_t)b * L * D;
  __global float *ab = GM_AT(a) + (size_t)b * L;
  float top = -INFINITY;
  for (int l = 0; l < L; l++) {
    float s = 0.0f;
    for (int d = 0; d < D; d++) s += GM_AT(q)[d] * xb[(size_t)l * D + d];
    s *= scale;
    ab[l] = s;
    if (m[l] != 0.0f) top = fmax(top, s);
  }
  float sum = 0.0f;
  for (int l = 0; l < L; l++) {
    float e = m[l] != 0.0f ? exp(ab[l] - top) : 0.0f;
    ab[l] = e;
    sum += e;
  }
  for (int l = 0; l < L; l++) ab[l] = sum > 0.0f ? ab[l] / sum : 0.0f;
}

/* one work-item per (b, d): y[b, d] = sum_l a[b, l] x[b, l, d] */
__kernel void text_attention_pool_forward(GM_T(float, y), GM_T(float, x), GM_T(float, a),
                                          const int L, const int D, const int n) {
  int j = get_global_id(0);
  if (j >= n) return;
  int b = j / D, d = j % D;
  float acc = 0.0f;
  for (int l = 0; l < L; l++)
    acc += GM_AT(a)[(size_t)b * L + l] * GM_AT(x)[((size_t)b * L + l) * D + d];
  GM_AT(y)[j] = acc;
}

/* one work-item per b: ds[b, l] = a[b, l] (g[b, l] - sum_k a[b, k] g[b, k]) scale, with
 * g[b, l] = dy[b] . x[b, l]: the gradient of the scaled scores' dot product q . x */
__kernel void text_attention_pool_dscores(GM_T(float, ds), GM_T(float, dy), GM_T(float, x),
                                          GM_T(float, a), const int L, const int D,
                                          const float scale, const int B) {
  int b = get_global_id(0);
  if (b >= B) return;
  __global const float *xb = GM_AT(x) + (size_t)b * L * D;
  __global const float *g = GM_AT(dy) + (size_t)b * D;
  __global const float *ab = GM_AT(a) + (size_t)b * L;
  __global float *out = GM_AT(ds) + (size_t)b * L;
  float mean = 0.0f;
  for (int l = 0; l < L; l++) {
    float gl = 0.0f;
    for (int d = 0; d < D; d++) gl += g[d] * xb[(size_t)l * D + d];
    out[l] = gl;
    mean += ab[l] * gl;
  }
  for (int l = 0; l < L; l++) out[l] = ab[l] * (out[l] - mean) * scale;
}

/* one work-item per (b, l, d): dx[b, l, d] += a[b, l] dy[b, d] + ds[b, l] q[d] */
__kernel void text_attention_pool_dx(GM_T(float, dx), GM_T(float, dy), GM_T(float, a),
                                     GM_T(float, ds), GM_T(float, q), const int L,
                                     const int D, const int n) {
  int j = get_global_id(0);
  if (j >= n) return;
  int d = j % D, bl = j / D, b = bl / L;
  GM_AT(dx)[j] += GM_AT(a)[bl] * GM_AT(dy)[(size_t)b * D + d] + GM_AT(ds)[bl] * GM_AT(q)[d];
}

/* one work-item per d: dq[d] += sum over (b, l) of ds[b, l] x[b, l, d] */
__kernel void text_attention_pool_dq(GM_T(float, dq), GM_T(float, ds), GM_T(float, x),
                                     const int BL, const int D) {
  int d = get_global_id(0);
  if (d >= D) return;
  float acc = 0.0f;
  for (int i = 0; i < BL; i++) acc += GM_AT(ds)[i] * GM_AT(x)[(size_t)i * D + d];
  GM_AT(dq)[d] += acc;
}
