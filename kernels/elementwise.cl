/* Elementwise ops and their backward passes (engine/src/ops_elementwise.c). */
__kernel void axpy_f32(GM_T(float, y), GM_T(float, x), const float alpha, const int n) {
  int i = get_global_id(0);
  if (i < n) GM_AT(y)[i] += alpha * GM_AT(x)[i];
}

__kernel void add_forward(GM_T(float, y), GM_T(float, a), GM_T(float, b), const int n) {
  int i = get_global_id(0);
  if (i < n) GM_AT(y)[i] = GM_AT(a)[i] + GM_AT(b)[i];
}

__kernel void relu_forward(GM_T(float, y), GM_T(float, x), const int n) {
  int i = get_global_id(0);
  if (i < n) GM_AT(y)[i] = fmax(GM_AT(x)[i], 0.0f);
}

/* dx += dy where x > 0 */
__kernel void relu_backward(GM_T(float, dx), GM_T(float, dy), GM_T(float, x), const int n) {
  int i = get_global_id(0);
  if (i < n && GM_AT(x)[i] > 0.0f) GM_AT(dx)[i] += GM_AT(dy)[i];
}
