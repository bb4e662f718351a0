/* Batch norm and group norm (engine/src/ops_norm.c). x is (B, C, inner); a row is the
 * inner elements of one (b, c). Statistic s covers rows s * base_mul + k * step (k < count),
 * and row (b, c) reads statistic b * stat_b_stride + c / cpg. Every reduction is one
 * work-item looping in a fixed order: no atomics, results independent of work-group size. */

/* mean and M2 (sum of squared deviations) of each row, in two passes for accuracy */
__kernel void norm_row_moments(GM_T(float, mean), GM_T(float, m2), GM_T(float, x),
                               const int inner, const int rows) {
  int r = get_global_id(0);
  if (r >= rows) return;
  __global const float *p = GM_AT(x) + (size_t)r * inner;
  float s = 0.0f;
  for (int k = 0; k < inner; k++) s += p[k];
  float mu = s / (float)inner, q = 0.0f;
  for (int k = 0; k < inner; k++) {
    float d = p[k] - mu;
    q += d * d;
  }
  GM_AT(mean)[r] = mu;
  GM_AT(m2)[r] = q;
}

/* Chan et al.'s pairwise combination of the rows' moments into each statistic's mean,
 * biased variance (when want_var) and 1 / sqrt(var + eps). */
__kernel void norm_combine_moments(GM_T(float, mean), GM_T(float, var), const int want_var,
                                   GM_T(float, invstd), GM_T(float, row_mean),
                                   GM_T(float, row_m2), const int inner, const int base_mul,
                                   const int step, const int count, const float eps,
                                   const int stats) {
  int s = get_global_id(0);
  if (s >= stats) return;
  float n = 0.0f, mu = 0.0f, m2 = 0.0f, nb = (float)inner;
  for (int k = 0; k < count; k++) {
    int r = s * base_mul + k * step;
    float nt = n + nb, d = GM_AT(row_mean)[r] - mu;
    mu += d * (nb / nt);
    m2 += GM_AT(row_m2)[r] + d * d * (n * nb / nt);
    n = nt;
  }
  float v = m2 / n;
  GM_AT(mean)[s] = mu;
  if (want_var) GM_AT(var)[s] = v;
  GM_AT(invstd)[s] = 1.0f / sqrt(v + eps);
}

/* PyTorch's running-statistics update; unbias = N / (N - 1) turns var unbiased */
__kernel void norm_update_running(GM_T(float, running_mean), GM_T(float, running_var),
                                  GM_T(float, mean), GM_T(float, var), const float momentum,
                                  const float unbias, const int c) {
  int i = get_global_id(0);
  if (i >= c) return;
  GM_AT(running_mean)[i] = (1.0f - momentum) * GM_AT(running_mean)[i] + momentum * GM_AT(mean)[i];
  GM_AT(running_var)[i] =
      (1.0f - momentum) * GM_AT(running_var)[i] + momentum * (GM_AT(var)[i] * unbias);
}

__kernel void norm_invstd_from_var(GM_T(float, invstd), GM_T(float, var), const float eps,
                                   const int c) {
  int i = get_global_id(0);
  if (i < c) GM_AT(invstd)[i] = 1.0f / sqrt(GM_AT(var)[i] + eps);
}

/* y = gamma (x - mean) invstd + beta, with gamma / beta left out when absent */
__kernel void norm_apply(GM_T(float, y), GM_T(float, x), GM_T(float, mean), GM_T(float, invstd),
                         GM_T(float, gamma), const int has_gamma, GM_T(float, beta),
                         const int has_beta, const int channels, const int inner,
                         const int stat_b_stride, const int cpg, const int rows) {
  /* two dimensions: k along a row (b, c) of `inner` values, row; the row's statistics
   * and affine parameters are the same for every work-item along it */
  int k = get_global_id(0), row = get_global_id(1);
  if (k >= inner || row >= rows) return;
  int b = row / channels, c = row - b * channels;
  int s = b * stat_b_stride + c / cpg, i = row * inner + k;
  float v = (GM_AT(x)[i] - GM_AT(mean)[s]) * GM_AT(invstd)[s];
  if (has_gamma) v *= GM_AT(gamma)[c];
  if (has_beta) v += GM_AT(beta)[c];
  GM_AT(y)[i] = v;
}

/* per row: s1 = sum dy, s2 = sum dy xhat */
__kernel void norm_row_grad_sums(GM_T(float, s1), GM_T(float, s2), GM_T(float, dy),
                                 GM_T(float, x), GM_T(float, mean), GM_T(float, invstd),
                                 const int channels, const int inner, const int stat_b_stride,
                                 const int cpg, const int rows) {
  int r = get_global_id(0);
  if (r >= rows) return;
  int c = r % channels, b = r / channels, s = b * stat_b_stride + c / cpg;
  float mu = GM_AT(mean)[s], is = GM_AT(invstd)[s], a1 = 0.0f, a2 = 0.0f;
  __global const float *g = GM_AT(dy) + (size_t)r * inner;
  __global const float *p = GM_AT(x) + (size_t)r * inner;
  for (int k = 0; k < inner; k++) {
    a1 += g[k];
    a2 += g[k] * ((p[k] - mu) * is);
  }
  GM_AT(s1)[r] = a1;
  GM_AT(s2)[r] = a2;
}

/* dst[c] += sum over b of rowsum[b * channels + c]: dgamma from s2, dbeta from s1 */
__kernel void norm_channel_sums_add(GM_T(float, dst), GM_T(float, rowsum), const int batch,
                                    const int channels) {
  int c = get_global_id(0);
  if (c >= channels) return;
  float acc = 0.0f;
  for (int b = 0; b < batch; b++) acc += GM_AT(rowsum)[b * channels + c];
  GM_AT(dst)[c] += acc;
}

/* per statistic: A = sum gamma dy, B = sum gamma dy xhat over its rows */
__kernel void norm_combine_grad_sums(GM_T(float, a), GM_T(float, b), GM_T(float, s1),
                                     GM_T(float, s2), GM_T(float, gamma), const int has_gamma,
                                     const int channels, const int base_mul, const int step,
                                     const int count, const int stats) {
  int s = get_global_id(0);
  if (s >= stats) return;
  float sa = 0.0f, sb = 0.0f;
  for (int k = 0; k < count; k++) {
    int r = s * base_mul + k * step;
    float g = has_gamma ? GM_AT(gamma)[r % channels] : 1.0f;
    sa += g * GM_AT(s1)[r];
    sb += g * GM_AT(s2)[r];
  }
  GM_AT(a)[s] = sa;
  GM_AT(b)[s] = sb;
}

/* dx += invstd (gamma dy - (A + xhat B) / M) through the statistics (inv_m = 1 / M), or
 * dx += invstd gamma dy with the statistics held fixed */
__kernel void norm_input_grad(GM_T(float, dx), GM_T(float, dy), GM_T(float, x),
                              GM_T(float, mean), GM_T(float, invstd), GM_T(float, gamma),
                              const int has_gamma, GM_T(float, a), GM_T(float, b),
                              const int through, const float inv_m, const int channels,
                              const int inner, const int stat_b_stride, const int cpg,
                              const int rows) {
  /* two dimensions, as norm_apply: k along a row (bb, c), the row */
  int k = get_global_id(0), row = get_global_id(1);
  if (k >= inner || row >= rows) return;
  int bb = row / channels, c = row - bb * channels;
  int s = bb * stat_b_stride + c / cpg, i = row * inner + k;
  float is = GM_AT(invstd)[s];
  float g = GM_AT(dy)[i] * (has_gamma ? GM_AT(gamma)[c] : 1.0f);
  if (through) {
    float xhat = (GM_AT(x)[i] - GM_AT(mean)[s]) * is;
    g -= (GM_AT(a)[s] + xhat * GM_AT(b)[s]) * inv_m;
  }
  GM_AT(dx)[i] += is * g;
}

/* Batch norm's num_batches_tracked: c[i] += by. */
__kernel void norm_counter_add(GM_T(int, c), const int by, const int n) {
  int i = get_global_id(0);
  if (i < n) GM_AT(c)[i] += by;
}
