/* Row softmax of single-head self-attention (engine/src/ops_attention.c): the scores of
 * one query are one contiguous row of N, and one work-item owns one row. The GEMMs on
 * either side go through gm__gemm. */

/* s = softmax(s) along each of `rows` rows of n, in place (the 1/sqrt(C) scale is
 * already in s: the score GEMM's alpha). */
__kernel void attention_softmax_rows(GM_T(float, s), const int rows, const int n) {
  int r = get_global_id(0);
  if (r >= rows) return;
  __global float *x = GM_AT(s) + (size_t)r * n;
  float m = -INFINITY;
  for (int j = 0; j < n; j++) m = fmax(m, x[j]);
  float sum = 0.0f;
  for (int j = 0; j < n; j++) {
    float e = exp(x[j] - m);
    x[j] = e;
    sum += e;
  }
  float inv = 1.0f / sum;
  for (int j = 0; j < n; j++) x[j] *= inv;
}

/* d = scale * p * (d - sum_j d_j p_j) along each row, in place: dP becomes dS. */
__kernel void attention_softmax_rows_backward(GM_T(float, d), GM_T(float, p), const int rows,
                                              const int n, const float scale) {
  int r = get_global_id(0);
  if (r >= rows) return;
  __global float *g = GM_AT(d) + (size_t)r * n;
  __global const float *pp = GM_AT(p) + (size_t)r * n;
  float dot = 0.0f;
  for (int j = 0; j < n; j++) dot += g[j] * pp[j];
  for (int j = 0; j < n; j++) g[j] = scale * pp[j] * (g[j] - dot);
}

/* The softmax of each row of s (rows of m scores; row r belongs to batch item r / n) over
 * the columns j whose mask[item, j] != 0, in place; masked columns, and every column of a
 * row with none unmasked, become 0. */
__kernel void attention_softmax_rows_masked(GM_T(float, s), GM_T(float, mask), const int rows,
                                            const int n, const int m) {
  int r = get_global_id(0);
  if (r >= rows) return;
  __global float *x = GM_AT(s) + (size_t)r * m;
  __global const float *k = GM_AT(mask) + (size_t)(r / n) * m;
  float mx = -INFINITY;
  for (int j = 0; j < m; j++)
    if (k[j] != 0.0f) mx = fmax(mx, x[j]);
  if (mx == -INFINITY) {
    for (int j = 0; j < m; j++) x[j] = 0.0f;
    return;
  }
  float sum = 0.0f;
  for (int j = 0; j < m; j++) {
    float e = k[j] != 0.0f ? exp(x[j] - mx) : 0.0f;
    x[j] = e;
    sum += e;
  }
  float inv = 1.0f / sum;
  for (int j = 0; j < m; j++) x[j] *= inv;
}
