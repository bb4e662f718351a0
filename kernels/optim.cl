/* Optimiser kernels (engine/src/optim.c): the global grad norm in a fixed two-pass scheme,
 * the fused Adam/AdamW update over the flat parameter buffer, and the EMA. */

/* partial[j] = sum of g[i]^2 over i = j, j + parts, j + 2 parts, ... (compensated). The
 * split depends only on `parts`, a constant of the engine, so the norm is the same for
 * every work-group size. */
__kernel void optim_sumsq_partial(GM_T(float, partial), GM_T(float, g), const int n,
                                  const int parts) {
  int j = get_global_id(0);
  if (j >= parts) return;
  __global const float *gp = GM_AT(g);
  float s = 0.0f, c = 0.0f;
  for (int i = j; i < n; i += parts) {
    float y = gp[i] * gp[i] - c;
    float t = s + y;
    c = (t - s) - y;
    s = t;
  }
  GM_AT(partial)[j] = s;
}

/* norm[0] = sqrt(sum of the partials), in order, by one work-item. */
__kernel void optim_norm_finish(GM_T(float, norm), GM_T(float, partial), const int parts) {
  if (get_global_id(0) != 0) return;
  __global const float *pp = GM_AT(partial);
  float s = 0.0f, c = 0.0f;
  for (int j = 0; j < parts; j++) {
    float y = pp[j] - c;
    float t = s + y;
    c = (t - s) - y;
    s = t;
  }
  GM_AT(norm)[0] = sqrt(s);
}

/* One Adam/AdamW step for every element (see optim.h for the rule). l2 is Adam's weight
 * decay (0 for AdamW), keep is AdamW's 1 - lr wd (1 for Adam), step_size = lr / (1 -
 * beta1^t), bc2_sqrt = sqrt(1 - beta2^t). clip_norm > 0 scales g by
 * min(1, clip_norm / (norm[0] + 1e-6)) as clip_grad_norm_ does (NaN stays NaN). */
__kernel void optim_adam_update(GM_T(float, p), GM_T(float, g), GM_T(float, m), GM_T(float, v),
                                GM_T(float, norm), const int n, const float beta1,
                                const float beta2, const float eps, const float l2,
                                const float keep, const float step_size, const float bc2_sqrt,
                                const float clip_norm) {
  int i = get_global_id(0);
  if (i >= n) return;
  float gi = GM_AT(g)[i], pi = GM_AT(p)[i];
  if (clip_norm > 0.0f) {
    float coef = clip_norm / (GM_AT(norm)[0] + 1e-6f);
    gi *= isnan(coef) ? coef : fmin(coef, 1.0f);
  }
  if (l2 != 0.0f) gi += l2 * pi;
  pi *= keep;
  float mi = GM_AT(m)[i];
  mi += (1.0f - beta1) * (gi - mi);
  float vi = GM_AT(v)[i] * beta2 + (1.0f - beta2) * gi * gi;
  float denom = sqrt(vi) / bc2_sqrt + eps;
  GM_AT(m)[i] = mi;
  GM_AT(v)[i] = vi;
  GM_AT(p)[i] = pi - step_size * (mi / denom);
}

/* ema = decay ema + (1 - decay) p */
__kernel void optim_ema_update(GM_T(float, ema), GM_T(float, p), const float decay,
                               const float one_minus_decay, const int n) {
  int i = get_global_id(0);
  if (i < n) GM_AT(ema)[i] = decay * GM_AT(ema)[i] + one_minus_decay * GM_AT(p)[i];
}

/* a <-> b */
__kernel void optim_swap(GM_T(float, a), GM_T(float, b), const int n) {
  int i = get_global_id(0);
  if (i >= n) return;
  float t = GM_AT(a)[i];
  GM_AT(a)[i] = GM_AT(b)[i];
  GM_AT(b)[i] = t;
}
