/* The sinusoidal timestep embedding (engine/src/ops_embed.c): f_i = 10000^(-i / (nh - 1)),
 * nh = dim / 2 ("half" is a type name in OpenCL C). */

float embed_sinusoidal_freq(int i, int nh) {
  return exp(-9.210340371976184f * ((float)i / (float)(nh - 1)));  /* ln 10000 */
}

/* one work-item per (b, i < nh): y[b, i] = sin(t f_i), y[b, nh + i] = cos(t f_i) */
__kernel void embed_sinusoidal_forward(GM_T(float, y), GM_T(float, t), const int nh,
                                       const int n) {
  int j = get_global_id(0);
  if (j >= n) return;
  int b = j / nh, i = j % nh;
  float a = GM_AT(t)[b] * embed_sinusoidal_freq(i, nh);
  __global float *row = GM_AT(y) + (size_t)b * 2 * nh;
  row[i] = sin(a);
  row[nh + i] = cos(a);
}

/* one work-item per b, summing over i in order */
__kernel void embed_sinusoidal_backward(GM_T(float, dt), GM_T(float, dy), GM_T(float, t),
                                        const int nh, const int batch) {
  int b = get_global_id(0);
  if (b >= batch) return;
  float tb = GM_AT(t)[b], acc = 0.0f;
  __global const float *g = GM_AT(dy) + (size_t)b * 2 * nh;
  for (int i = 0; i < nh; i++) {
    float f = embed_sinusoidal_freq(i, nh), a = tb * f;
    acc += f * (cos(a) * g[i] - sin(a) * g[nh + i]);
  }
  GM_AT(dt)[b] += acc;
}
