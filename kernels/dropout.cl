/* Dropout (engine/src/ops_dropout.c): the mask is drawn from a Philox stream (common.cl)
 * in the forward and regenerated from the same counters in the backward, never stored. */

/* y = x * keep / (1 - p) with keep = (uniform >= p), element i from block offset + i / 4,
 * lane i % 4. */
__kernel void dropout_forward(GM_T(float, y), GM_T(float, x), const int n, const float p,
                              const float scale, const ulong seed, const ulong stream,
                              const ulong offset) {
  int b = get_global_id(0);
  if (b >= (n + 3) / 4) return;
  uint4 r = rng_philox_block(seed, stream, offset + (ulong)b);
  for (int lane = 0; lane < 4; lane++) {
    int i = 4 * b + lane;
    if (i < n) GM_AT(y)[i] = rng_unit(rng_lane(r, lane)) >= p ? GM_AT(x)[i] * scale : 0.0f;
  }
}

/* dx += dy * keep / (1 - p), the forward's mask regenerated from the same counters. */
__kernel void dropout_backward(GM_T(float, dx), GM_T(float, dy), const int n, const float p,
                               const float scale, const ulong seed, const ulong stream,
                               const ulong offset) {
  int b = get_global_id(0);
  if (b >= (n + 3) / 4) return;
  uint4 r = rng_philox_block(seed, stream, offset + (ulong)b);
  for (int lane = 0; lane < 4; lane++) {
    int i = 4 * b + lane;
    if (i < n && rng_unit(rng_lane(r, lane)) >= p) GM_AT(dx)[i] += GM_AT(dy)[i] * scale;
  }
}
