/* Whole-tensor utilities: fill. (Copies use clEnqueueCopyBuffer.) */
__kernel void tensor_fill_f32(GM_T(float, y), const float value, const int n) {
  int i = get_global_id(0);
  if (i < n) GM_AT(y)[i] = value;
}

__kernel void tensor_fill_i32(GM_T(int, y), const int value, const int n) {
  int i = get_global_id(0);
  if (i < n) GM_AT(y)[i] = value;
}
