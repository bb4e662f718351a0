/* Helpers shared by the op families: shape checks with messages, output allocation,
 * and gradient accumulation. */
#ifndef GM_OPS_INTERNAL_H
#define GM_OPS_INTERNAL_H

#include "internal.h"

/* GM_ESHAPE unless a and b have identical shapes; the message names op and both. */
int gm__same_shape(const char *op, const gm_tensor *a, const gm_tensor *b, gm_error *err);
/* GM_ESHAPE unless t has ndim dimensions; `what` names the argument ("x (B, C, H, W)"). */
int gm__want_ndim(const char *op, const char *what, const gm_tensor *t, int ndim,
                  gm_error *err);
/* GM_EDTYPE unless t is float32 / int32. */
int gm__want_f32(const char *op, const gm_tensor *t, gm_error *err);
int gm__want_i32(const char *op, const gm_tensor *t, gm_error *err);
/* dst += alpha * src over dst->numel elements (src has as many). */
int gm__axpy(gm_tensor *dst, const gm_tensor *src, float alpha, gm_error *err);
/* x->grad (created zero-filled when missing) += alpha * src, when x requires grad. */
int gm__accumulate_grad(gm_tensor *x, const gm_tensor *src, float alpha, gm_error *err);

#endif
