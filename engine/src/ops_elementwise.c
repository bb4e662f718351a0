/* Elementwise ops, each forward followed by its backward. Kernels: kernels/elementwise.cl. */
#include "ops_internal.h"

/* ---- add ---- */

static int add_backward(gm__node *n, gm_error *err) {
  gm_tensor *dy = n->out->grad; /* same shape as a and b */
  int rc = gm__accumulate_grad(n->in[0], dy, 1.0f, err);
  if (rc == 0) rc = gm__accumulate_grad(n->in[1], dy, 1.0f, err);
  return rc;
}

int gm_add(gm_tensor **y, gm_tensor *a, gm_tensor *b, gm_error *err) {
  int rc = gm__same_shape("add", a, b, err);
  if (rc == 0) rc = gm__tensor_temp(y, a->dev, GM_F32, a->ndim, a->shape, err);
  if (rc == 0)
    rc = GM__LAUNCH1D(a->dev, "add_forward", (size_t)a->numel, err, GMK_T(*y), GMK_T(a),
                      GMK_T(b), GMK_I(a->numel));
  if (rc) return rc;
  gm__tape_record(a->dev, "add", add_backward, *y, (gm_tensor *[]){a, b}, 2, &rc, err);
  return rc;
}

/* ---- relu ---- */

static int relu_backward(gm__node *n, gm_error *err) {
  gm_tensor *x = n->in[0], *dx;
  if (!x->requires_grad) return 0;
  int rc = gm__grad(x, &dx, err);
  if (rc) return rc;
  return GM__LAUNCH1D(x->dev, "relu_backward", (size_t)x->numel, err, GMK_T(dx),
                      GMK_T(n->out->grad), GMK_T(x), GMK_I(x->numel));
}

int gm_relu(gm_tensor **y, gm_tensor *x, gm_error *err) {
  int rc = gm__want_f32("relu", x, err);
  if (rc == 0) rc = gm__tensor_temp(y, x->dev, GM_F32, x->ndim, x->shape, err);
  if (rc == 0)
    rc = GM__LAUNCH1D(x->dev, "relu_forward", (size_t)x->numel, err, GMK_T(*y), GMK_T(x),
                      GMK_I(x->numel));
  if (rc) return rc;
  gm__tape_record(x->dev, "relu", relu_backward, *y, (gm_tensor *[]){x}, 1, &rc, err);
  return rc;
}
