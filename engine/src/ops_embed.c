/* The sinusoidal timestep embedding, forward then backward. Kernels: kernels/embed.cl. */
#include "ops_internal.h"

/* dt[b] += sum over i of f_i (cos(t f_i) dy[b, i] - sin(t f_i) dy[b, half + i]) */
static int sinusoidal_embedding_backward(gm__node *n, gm_error *err) {
  gm_tensor *t = n->in[0], *dt;
  int rc = gm__grad(t, &dt, err);
  if (rc) return rc;
  return GM__LAUNCH1D(t->dev, "embed_sinusoidal_backward", (size_t)t->numel, err, GMK_T(dt),
                      GMK_T(n->out->grad), GMK_T(t), GMK_I(n->iarg[0] / 2), GMK_I(t->numel));
}

int gm_sinusoidal_embedding(gm_tensor **y, gm_tensor *t, int dim, gm_error *err) {
  int rc = gm__want_f32("sinusoidal_embedding", t, err);
  if (rc == 0) rc = gm__want_ndim("sinusoidal_embedding", "t (B)", t, 1, err);
  if (rc) return rc;
  if (dim < 4 || dim % 2)
    return gm_error_set(err, GM_EINVAL,
                        "sinusoidal_embedding: dim must be even and at least 4, got %d", dim);
  int64_t batch = t->shape[0], half = dim / 2;
  rc = gm__tensor_temp(y, t->dev, GM_F32, 2, GM_SHAPE(batch, dim), err);
  if (rc == 0)
    rc = GM__LAUNCH1D(t->dev, "embed_sinusoidal_forward", (size_t)(batch * half), err, GMK_T(*y),
                      GMK_T(t), GMK_I(half), GMK_I(batch * half));
  if (rc) return rc;
  gm__node *n = gm__tape_record(t->dev, "sinusoidal_embedding", sinusoidal_embedding_backward,
                                *y, (gm_tensor *[]){t}, 1, &rc, err);
  if (n) n->iarg[0] = dim;
  return rc;
}
