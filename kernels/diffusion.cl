/* Diffusion-model helpers (engine/src/ops_diffusion.c): timestep draws, the forward
 * process with per-image coefficients, one reverse step in place, the map from [-1, 1]
 * back to pixels, and an in-place int32 counter. */

/* idx = lo + min(floor(u count), count - 1), tin = idx scale */
__kernel void diffusion_timesteps(GM_T(int, idx), GM_T(float, tin), GM_T(float, u),
                                  const int lo, const int count, const float scale,
                                  const int n) {
  int i = get_global_id(0);
  if (i < n) {
    int k = (int)floor(GM_AT(u)[i] * (float)count);
    k = clamp(k, 0, count - 1);
    GM_AT(idx)[i] = lo + k;
    GM_AT(tin)[i] = (float)(lo + k) * scale;
  }
}

/* y = a[idx[b]] x0 + s[idx[b]] eps, b = i / per; clamped to [-1, 1] when clampit; an index
 * outside the tables (len entries) gives NaN */
__kernel void diffusion_q_sample_forward(GM_T(float, y), GM_T(float, x0), GM_T(float, eps),
                                         GM_T(int, idx), GM_T(float, a), GM_T(float, s),
                                         const int len, const int per, const int clampit,
                                         const int n) {
  int i = get_global_id(0);
  if (i >= n) return;
  int k = GM_AT(idx)[i / per];
  if (k < 0 || k >= len) {
    GM_AT(y)[i] = NAN;
    return;
  }
  float v = GM_AT(a)[k] * GM_AT(x0)[i] + GM_AT(s)[k] * GM_AT(eps)[i];
  GM_AT(y)[i] = clampit ? clamp(v, -1.0f, 1.0f) : v;
}

/* dx += coef[idx[b]] dy, coef = a (which 0) or s (which 1), where the unclamped value lies
 * strictly inside (-1, 1) (everywhere without clampit) */
__kernel void diffusion_q_sample_backward(GM_T(float, dx), GM_T(float, dy), GM_T(float, x0),
                                          GM_T(float, eps), GM_T(int, idx), GM_T(float, a),
                                          GM_T(float, s), const int which, const int len,
                                          const int per, const int clampit, const int n) {
  int i = get_global_id(0);
  if (i >= n) return;
  int k = GM_AT(idx)[i / per];
  if (k < 0 || k >= len) {
    GM_AT(dx)[i] = NAN;
    return;
  }
  float ca = GM_AT(a)[k], cs = GM_AT(s)[k];
  if (clampit) {
    float v = ca * GM_AT(x0)[i] + cs * GM_AT(eps)[i];
    if (!(v > -1.0f && v < 1.0f)) return;
  }
  GM_AT(dx)[i] += (which ? cs : ca) * GM_AT(dy)[i];
}

/* One reverse step in place:
 *   x0_hat = (x - sqrt_1mab eps) inv_sqrt_ab, clamped to [-1, 1] when clip_x0
 *   x      = c0 x0_hat + c1 x (+ sigma z when use_z), clamped to [-1, 1] when clamp_out */
__kernel void diffusion_step(GM_T(float, x), GM_T(float, eps), GM_T(float, z),
                             const float inv_sqrt_ab, const float sqrt_1mab, const int clip_x0,
                             const float c0, const float c1, const float sigma,
                             const int use_z, const int clamp_out, const int n) {
  int i = get_global_id(0);
  if (i >= n) return;
  float xt = GM_AT(x)[i];
  float x0 = (xt - sqrt_1mab * GM_AT(eps)[i]) * inv_sqrt_ab;
  if (clip_x0) x0 = clamp(x0, -1.0f, 1.0f);
  float v = c0 * x0 + c1 * xt;
  if (use_z) v += sigma * GM_AT(z)[i];
  GM_AT(x)[i] = clamp_out ? clamp(v, -1.0f, 1.0f) : v;
}

/* lohi[2 b], lohi[2 b + 1] = min and max of image b's `per` values (one work-item each) */
__kernel void diffusion_image_range(GM_T(float, lohi), GM_T(float, x), const int per,
                                    const int images) {
  int b = get_global_id(0);
  if (b >= images) return;
  __global const float *p = GM_AT(x) + (size_t)b * per;
  float lo = p[0], hi = p[0];
  for (int i = 1; i < per; i++) {
    lo = fmin(lo, p[i]);
    hi = fmax(hi, p[i]);
  }
  GM_AT(lohi)[2 * b] = lo;
  GM_AT(lohi)[2 * b + 1] = hi;
}

/* y = clamp((v + 1) 127.5, 0, 255), v = x, or with stretch v = 2 (x - lo) / (hi - lo) - 1
 * from image b's range (0 for a constant image) */
__kernel void diffusion_to_pixels(GM_T(float, y), GM_T(float, x), GM_T(float, lohi),
                                  const int per, const int stretch, const int n) {
  int i = get_global_id(0);
  if (i >= n) return;
  float v = GM_AT(x)[i];
  if (stretch) {
    int b = i / per;
    float lo = GM_AT(lohi)[2 * b], hi = GM_AT(lohi)[2 * b + 1];
    v = hi > lo ? 2.0f * (v - lo) / (hi - lo) - 1.0f : 0.0f;
  }
  GM_AT(y)[i] = clamp((v + 1.0f) * 127.5f, 0.0f, 255.0f);
}
