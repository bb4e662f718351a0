/* Shared prelude of every genmoji kernel file (it is placed first in the program).
 * Tensors reach kernels as a buffer plus an element offset: GM_T(float, x) declares
 * x_p and x_o, and GM_AT(x) is the tensor's first element. */
#define GM_T(type, name) __global type *name##_p, const uint name##_o
#define GM_AT(name) (name##_p + name##_o)
