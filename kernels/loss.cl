/* Losses, softmax and deterministic reductions (engine/src/ops_loss.c). A class-axis
 * tensor is viewed as (outer, K, inner): element (o, k, i) sits at (o * K + k) * inner + i,
 * and one work-item owns one (o, i) position, looping over its K classes. */

/* The first element of position pos's class row; classes are `inner` apart. */
int loss_row_base(int pos, int K, int inner) {
  int o = pos / inner;
  return o * K * inner + (pos - o * inner);
}

/* Kahan-compensated partial sums of a fixed layout: part p adds x[p], x[p + parts], ...
 * The layout depends on n and parts only (chosen by the host from n), never on the
 * work-group size, so a sum is the same bits on every launch. out[p] = scale * sum. */
__kernel void loss_reduce_partial(GM_T(float, out), GM_T(float, x), const int n,
                                  const int parts, const float scale) {
  int p = get_global_id(0);
  if (p >= parts) return;
  __global const float *xp = GM_AT(x);
  float s = 0.0f, c = 0.0f;
  for (int j = p; j < n; j += parts) {
    float y = xp[j] - c;
    float t = s + y;
    c = (t - s) - y;
    s = t;
  }
  GM_AT(out)[p] = s * scale;
}

/* The same layout over (a - b)^2: the first level of the MSE reduction. */
__kernel void loss_reduce_sqdiff_partial(GM_T(float, out), GM_T(float, a), GM_T(float, b),
                                         const int n, const int parts, const float scale) {
  int p = get_global_id(0);
  if (p >= parts) return;
  __global const float *ap = GM_AT(a);
  __global const float *bp = GM_AT(b);
  float s = 0.0f, c = 0.0f;
  for (int j = p; j < n; j += parts) {
    float d = ap[j] - bp[j];
    float y = d * d - c;
    float t = s + y;
    c = (t - s) - y;
    s = t;
  }
  GM_AT(out)[p] = s * scale;
}

/* dx[i] += scale * dy[0]: the backward of sum and mean (dy stays on the device). */
__kernel void loss_broadcast_grad(GM_T(float, dx), GM_T(float, dy), const float scale,
                                  const int n) {
  int i = get_global_id(0);
  if (i < n) GM_AT(dx)[i] += scale * GM_AT(dy)[0];
}

/* dx[i] += scale * dy[0] * (a[i] - b[i]): MSE's backward, scale = +-2 / n. */
__kernel void loss_mse_backward(GM_T(float, dx), GM_T(float, a), GM_T(float, b),
                                GM_T(float, dy), const float scale, const int n) {
  int i = get_global_id(0);
  if (i < n) GM_AT(dx)[i] += scale * GM_AT(dy)[0] * (GM_AT(a)[i] - GM_AT(b)[i]);
}

/* Per position: lse = log sum_k exp(l_k) (max-subtracted) and nll = lse - l_target.
 * A target outside 0..K-1 gives nll = NaN, so the mean loss turns NaN and the trainer's
 * non-finite check stops the run (validating on the host would need a read per step). */
__kernel void loss_ce_forward(GM_T(float, nll), GM_T(float, lse), GM_T(float, logits),
                              GM_T(int, targets), const int positions, const int K,
                              const int inner) {
  int pos = get_global_id(0);
  if (pos >= positions) return;
  __global const float *l = GM_AT(logits) + loss_row_base(pos, K, inner);
  float m = -INFINITY;
  for (int k = 0; k < K; k++) m = fmax(m, l[k * inner]);
  float s = 0.0f;
  for (int k = 0; k < K; k++) s += exp(l[k * inner] - m);
  float log_s = log(s);
  int t = GM_AT(targets)[pos];
  GM_AT(lse)[pos] = m + log_s;
  /* (m - l_t) + log s rather than lse - l_t: no rounding of the large lse in between. */
  GM_AT(nll)[pos] = (t >= 0 && t < K) ? (m - l[t * inner]) + log_s : NAN;
}

/* dlogits += (softmax - onehot(target)) * dy[pos * dy_stride] * scale. dy_stride is 0 for
 * the mean loss (one upstream value, scale 1 / positions) and 1 for the per-position nll.
 * An out-of-range target writes NaN, like the forward. */
__kernel void loss_ce_backward(GM_T(float, dlogits), GM_T(float, logits), GM_T(float, lse),
                               GM_T(int, targets), GM_T(float, dy), const int dy_stride,
                               const float scale, const int positions, const int K,
                               const int inner) {
  int pos = get_global_id(0);
  if (pos >= positions) return;
  int base = loss_row_base(pos, K, inner);
  __global const float *l = GM_AT(logits) + base;
  __global float *dl = GM_AT(dlogits) + base;
  float z = GM_AT(lse)[pos];
  float g = GM_AT(dy)[pos * dy_stride] * scale;
  int t = GM_AT(targets)[pos];
  if (t < 0 || t >= K) g = NAN;
  for (int k = 0; k < K; k++) {
    float p = exp(l[k * inner] - z);
    dl[k * inner] += (p - (k == t ? 1.0f : 0.0f)) * g;
  }
}

/* p = softmax(logits / temperature) along the class axis; inv_t = 1 / temperature. */
__kernel void loss_softmax_forward(GM_T(float, p), GM_T(float, logits), const float inv_t,
                                   const int positions, const int K, const int inner) {
  int pos = get_global_id(0);
  if (pos >= positions) return;
  int base = loss_row_base(pos, K, inner);
  __global const float *l = GM_AT(logits) + base;
  __global float *pp = GM_AT(p) + base;
  float m = -INFINITY;
  for (int k = 0; k < K; k++) m = fmax(m, l[k * inner]);
  float s = 0.0f;
  for (int k = 0; k < K; k++) s += exp((l[k * inner] - m) * inv_t);
  float inv_s = 1.0f / s;
  for (int k = 0; k < K; k++) pp[k * inner] = exp((l[k * inner] - m) * inv_t) * inv_s;
}

/* dlogits += p * (dp - sum_k dp_k p_k) * inv_t */
__kernel void loss_softmax_backward(GM_T(float, dlogits), GM_T(float, p), GM_T(float, dp),
                                    const float inv_t, const int positions, const int K,
                                    const int inner) {
  int pos = get_global_id(0);
  if (pos >= positions) return;
  int base = loss_row_base(pos, K, inner);
  __global const float *pp = GM_AT(p) + base;
  __global const float *g = GM_AT(dp) + base;
  __global float *dl = GM_AT(dlogits) + base;
  float dot = 0.0f;
  for (int k = 0; k < K; k++) dot += g[k * inner] * pp[k * inner];
  for (int k = 0; k < K; k++) dl[k * inner] += pp[k * inner] * (g[k * inner] - dot) * inv_t;
}
