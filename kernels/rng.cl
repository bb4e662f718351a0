/* Counter-based random numbers (engine/src/rng.c): uniform, normal and categorical draws
 * from the Philox4x32-10 blocks of the prelude (common.cl). Work-item b computes block
 * offset + b, so the numbers depend only on (seed, stream, offset), never on the launch. */

static inline float rng_to_range(uint x, float lo, float hi) {
  float v = fma(hi - lo, rng_unit(x), lo);
  return (v >= hi && hi > lo) ? nextafter(hi, lo) : v;
}

/* out[i] uniform in [lo, hi): work-item b fills elements 4b .. 4b+3. */
__kernel void rng_uniform(GM_T(float, out), const int n, const ulong seed, const ulong stream,
                          const ulong offset, const float lo, const float hi) {
  int b = get_global_id(0);
  if (b >= (n + 3) / 4) return;
  uint4 r = rng_philox_block(seed, stream, offset + (ulong)b);
  __global float *o = GM_AT(out);
  for (int lane = 0; lane < 4; lane++) {
    int i = 4 * b + lane;
    if (i < n) o[i] = rng_to_range(rng_lane(r, lane), lo, hi);
  }
}

/* out[i] ~ N(mean, std^2) by Box-Muller on the lane pairs (x, y) and (z, w) of a block:
 * u1 = (top24(first) + 1) 2^-24 in (0, 1], u2 = top24(second) 2^-24, radius
 * sqrt(-2 ln u1), angle 2 pi u2; the first lane of a pair takes the cosine, the second
 * the sine. */
__kernel void rng_normal(GM_T(float, out), const int n, const ulong seed, const ulong stream,
                         const ulong offset, const float mean, const float std) {
  int b = get_global_id(0);
  if (b >= (n + 3) / 4) return;
  uint4 r = rng_philox_block(seed, stream, offset + (ulong)b);
  float z[4];
  for (int pair = 0; pair < 2; pair++) {
    uint a = pair ? r.z : r.x, c = pair ? r.w : r.y;
    float u1 = (float)((a >> 8) + 1u) * 0x1.0p-24f;
    float u2 = rng_unit(c);
    float rad = sqrt(-2.0f * log(u1));
    float th = 6.2831853071795864769f * u2;
    z[2 * pair] = rad * cos(th);
    z[2 * pair + 1] = rad * sin(th);
  }
  __global float *o = GM_AT(out);
  for (int lane = 0; lane < 4; lane++) {
    int i = 4 * b + lane;
    if (i < n) o[i] = fma(z[lane], std, mean);
  }
}

/* out[row] ~ softmax(logits[row, :] / temperature) by inverting the CDF with the row's
 * uniform (block offset + row / 4, lane row % 4). One work-item per row. */
__kernel void rng_categorical(GM_T(int, out), GM_T(float, logits), const int rows, const int k,
                              const float temperature, const ulong seed, const ulong stream,
                              const ulong offset) {
  int row = get_global_id(0);
  if (row >= rows) return;
  __global const float *l = GM_AT(logits) + (size_t)row * k;
  float mx = -INFINITY;
  for (int j = 0; j < k; j++) mx = fmax(mx, l[j]);
  float total = 0.0f;
  for (int j = 0; j < k; j++) total += exp((l[j] - mx) / temperature);
  uint4 r = rng_philox_block(seed, stream, offset + (ulong)(row / 4));
  float target = rng_unit(rng_lane(r, row % 4)) * total;
  float cum = 0.0f;
  int pick = -1, last = 0;
  for (int j = 0; j < k; j++) {
    float e = exp((l[j] - mx) / temperature);
    cum += e;
    if (e > 0.0f) last = j;
    if (pick < 0 && cum > target) pick = j;
  }
  /* Rounding can leave cum <= target at the end: the last class with mass wins then. */
  GM_AT(out)[row] = pick < 0 ? last : pick;
}
