/* Dropout (ops_dropout.h): forward draws the mask from a Philox stream, backward
 * regenerates the same mask from the counters saved on the node instead of storing it.
 * Kernels: kernels/dropout.cl. */
#include <math.h>

#include "ops_internal.h"

/* iarg: seed, stream, offset of the forward's draw (as stored bits); farg: p, scale. */
static int dropout_backward(gm__node *n, gm_error *err) {
  gm_tensor *x = n->in[0], *dx;
  if (!x->requires_grad) return 0;
  int rc = gm__grad(x, &dx, err);
  if (rc) return rc;
  return GM__LAUNCH1D(x->dev, "dropout_backward", (size_t)((x->numel + 3) / 4), err,
                      GMK_T(dx), GMK_T(n->out->grad), GMK_I(x->numel), GMK_F(n->farg[0]),
                      GMK_F(n->farg[1]), GMK_U64((uint64_t)n->iarg[0]),
                      GMK_U64((uint64_t)n->iarg[1]), GMK_U64((uint64_t)n->iarg[2]));
}

int gm_dropout(gm_tensor **y, gm_tensor *x, float p, gm_rng *r, gm_error *err) {
  int rc = gm__want_f32("dropout", x, err);
  if (rc) return rc;
  if (!(p >= 0 && p < 1))
    return gm_error_set(err, GM_ERANGE, "dropout %s: p = %g is outside [0, 1)", x->name,
                        (double)p);
  float scale = 1.0f / (1.0f - p);
  gm_rng at = *r;
  uint64_t blocks = (uint64_t)(x->numel + 3) / 4;
  rc = gm__tensor_temp(y, x->dev, GM_F32, x->ndim, x->shape, err);
  if (rc == 0)
    rc = GM__LAUNCH1D(x->dev, "dropout_forward", (size_t)blocks, err, GMK_T(*y), GMK_T(x),
                      GMK_I(x->numel), GMK_F(p), GMK_F(scale), GMK_U64(at.seed),
                      GMK_U64(at.stream), GMK_U64(at.offset));
  if (rc) return rc;
  r->offset += blocks;
  gm__node *n = gm__tape_record(x->dev, "dropout", dropout_backward, *y, (gm_tensor *[]){x}, 1,
                                &rc, err);
  if (n) {
    n->iarg[0] = (int64_t)at.seed;
    n->iarg[1] = (int64_t)at.stream;
    n->iarg[2] = (int64_t)at.offset;
    n->farg[0] = p;
    n->farg[1] = scale;
  }
  return rc;
}
