/* Elementwise ops and their backward passes (engine/src/ops_elementwise.c). */
__kernel void elementwise_axpy_f32(GM_T(float, y), GM_T(float, x), const float alpha,
                                  const int n) {
  int i = get_global_id(0);
  if (i < n) GM_AT(y)[i] += alpha * GM_AT(x)[i];
}

__kernel void elementwise_add_forward(GM_T(float, y), GM_T(float, a), GM_T(float, b),
                                      const int n) {
  int i = get_global_id(0);
  if (i < n) GM_AT(y)[i] = GM_AT(a)[i] + GM_AT(b)[i];
}

__kernel void elementwise_relu_forward(GM_T(float, y), GM_T(float, x), const int n) {
  int i = get_global_id(0);
  if (i < n) GM_AT(y)[i] = fmax(GM_AT(x)[i], 0.0f);
}

/* dx += dy where x > 0 */
__kernel void elementwise_relu_backward(GM_T(float, dx), GM_T(float, dy), GM_T(float, x),
                                        const int n) {
  int i = get_global_id(0);
  if (i < n && GM_AT(x)[i] > 0.0f) GM_AT(dx)[i] += GM_AT(dy)[i];
}

__kernel void elementwise_sub_forward(GM_T(float, y), GM_T(float, a), GM_T(float, b),
                                      const int n) {
  int i = get_global_id(0);
  if (i < n) GM_AT(y)[i] = GM_AT(a)[i] - GM_AT(b)[i];
}

__kernel void elementwise_mul_forward(GM_T(float, y), GM_T(float, a), GM_T(float, b),
                                      const int n) {
  int i = get_global_id(0);
  if (i < n) GM_AT(y)[i] = GM_AT(a)[i] * GM_AT(b)[i];
}

/* dx += dy * other: the gradient of a product with respect to one factor */
__kernel void elementwise_mul_backward(GM_T(float, dx), GM_T(float, dy), GM_T(float, other),
                                       const int n) {
  int i = get_global_id(0);
  if (i < n) GM_AT(dx)[i] += GM_AT(dy)[i] * GM_AT(other)[i];
}

__kernel void elementwise_scale_forward(GM_T(float, y), GM_T(float, x), const float s,
                                        const int n) {
  int i = get_global_id(0);
  if (i < n) GM_AT(y)[i] = s * GM_AT(x)[i];
}

__kernel void elementwise_add_scalar_forward(GM_T(float, y), GM_T(float, x), const float s,
                                             const int n) {
  int i = get_global_id(0);
  if (i < n) GM_AT(y)[i] = GM_AT(x)[i] + s;
}

/* 1 / (1 + exp(-x)) without overflow: exp is only taken of a non-positive number. */
float elementwise_sigmoid_of(float x) {
  if (x >= 0.0f) return 1.0f / (1.0f + exp(-x));
  float e = exp(x);
  return e / (1.0f + e);
}

__kernel void elementwise_silu_forward(GM_T(float, y), GM_T(float, x), const int n) {
  int i = get_global_id(0);
  if (i < n) {
    float v = GM_AT(x)[i];
    GM_AT(y)[i] = v * elementwise_sigmoid_of(v);
  }
}

/* d/dx x s(x) = s (1 + x (1 - s)) */
__kernel void elementwise_silu_backward(GM_T(float, dx), GM_T(float, dy), GM_T(float, x),
                                        const int n) {
  int i = get_global_id(0);
  if (i < n) {
    float v = GM_AT(x)[i], s = elementwise_sigmoid_of(v);
    GM_AT(dx)[i] += GM_AT(dy)[i] * s * (1.0f + v * (1.0f - s));
  }
}

/* x/2 (1 + erf(x/sqrt2)) == x/2 erfc(-x/sqrt2); erfc keeps the tail for x << 0 accurate. */
__kernel void elementwise_gelu_forward(GM_T(float, y), GM_T(float, x), const int n) {
  int i = get_global_id(0);
  if (i < n) {
    float v = GM_AT(x)[i];
    GM_AT(y)[i] = 0.5f * v * erfc(-v * M_SQRT1_2_F);
  }
}

/* d/dx = Phi(x) + x phi(x), Phi the normal CDF and phi its density */
__kernel void elementwise_gelu_backward(GM_T(float, dx), GM_T(float, dy), GM_T(float, x),
                                        const int n) {
  int i = get_global_id(0);
  if (i < n) {
    float v = GM_AT(x)[i];
    float cdf = 0.5f * erfc(-v * M_SQRT1_2_F);
    float pdf = 0.3989422804014327f * exp(-0.5f * v * v);
    GM_AT(dx)[i] += GM_AT(dy)[i] * (cdf + v * pdf);
  }
}

__kernel void elementwise_tanh_forward(GM_T(float, y), GM_T(float, x), const int n) {
  int i = get_global_id(0);
  if (i < n) GM_AT(y)[i] = tanh(GM_AT(x)[i]);
}

/* from the output: d tanh = 1 - y^2 */
__kernel void elementwise_tanh_backward(GM_T(float, dx), GM_T(float, dy), GM_T(float, y),
                                        const int n) {
  int i = get_global_id(0);
  if (i < n) {
    float t = GM_AT(y)[i];
    GM_AT(dx)[i] += GM_AT(dy)[i] * (1.0f - t * t);
  }
}

__kernel void elementwise_sigmoid_forward(GM_T(float, y), GM_T(float, x), const int n) {
  int i = get_global_id(0);
  if (i < n) GM_AT(y)[i] = elementwise_sigmoid_of(GM_AT(x)[i]);
}

/* from the output: d sigmoid = y (1 - y) */
__kernel void elementwise_sigmoid_backward(GM_T(float, dx), GM_T(float, dy), GM_T(float, y),
                                           const int n) {
  int i = get_global_id(0);
  if (i < n) {
    float s = GM_AT(y)[i];
    GM_AT(dx)[i] += GM_AT(dy)[i] * s * (1.0f - s);
  }
}

__kernel void elementwise_clamp_forward(GM_T(float, y), GM_T(float, x), const float lo,
                                        const float hi, const int n) {
  int i = get_global_id(0);
  if (i < n) GM_AT(y)[i] = fmin(fmax(GM_AT(x)[i], lo), hi);
}

/* dx += dy strictly inside (lo, hi) */
__kernel void elementwise_clamp_backward(GM_T(float, dx), GM_T(float, dy), GM_T(float, x),
                                         const float lo, const float hi, const int n) {
  int i = get_global_id(0);
  if (i < n) {
    float v = GM_AT(x)[i];
    if (v > lo && v < hi) GM_AT(dx)[i] += GM_AT(dy)[i];
  }
}

/* y (B, C, inner) = x + v (B, C): element i belongs to row i / inner */
__kernel void elementwise_add_channel_forward(GM_T(float, y), GM_T(float, x), GM_T(float, v),
                                              const int inner, const int n) {
  int i = get_global_id(0);
  if (i < n) GM_AT(y)[i] = GM_AT(x)[i] + GM_AT(v)[i / inner];
}

/* y (B, C, inner) = x + b (C) */
__kernel void elementwise_add_bias_forward(GM_T(float, y), GM_T(float, x), GM_T(float, b),
                                           const int c, const int inner, const int n) {
  int i = get_global_id(0);
  if (i < n) GM_AT(y)[i] = GM_AT(x)[i] + GM_AT(b)[(i / inner) % c];
}

/* dst[r] (+)= sum of src[r * inner .. r * inner + inner), one work-item per row, in order */
__kernel void elementwise_row_sums(GM_T(float, dst), GM_T(float, src), const int rows,
                                   const int inner, const int accumulate) {
  int r = get_global_id(0);
  if (r >= rows) return;
  __global const float *s = GM_AT(src) + (size_t)r * inner;
  float acc = 0.0f;
  for (int k = 0; k < inner; k++) acc += s[k];
  GM_AT(dst)[r] = accumulate ? GM_AT(dst)[r] + acc : acc;
}

/* dst[c] += sum over b of src[b * cols + c], one work-item per column */
__kernel void elementwise_column_sums_add(GM_T(float, dst), GM_T(float, src), const int rows,
                                          const int cols) {
  int c = get_global_id(0);
  if (c >= cols) return;
  float acc = 0.0f;
  for (int b = 0; b < rows; b++) acc += GM_AT(src)[(size_t)b * cols + c];
  GM_AT(dst)[c] += acc;
}
