/* Elementwise ops, each forward followed by its backward. Kernels: kernels/elementwise.cl.
 * Activations whose derivative is cheapest from the output (tanh, sigmoid) read n->out in
 * backward; the others read their input, which an op never modifies. */
#include "ops_internal.h"

/* y = kernel(a, b) for two same-shape float tensors, recorded with `backward`. */
static int binary(const char *op, const char *kernel, gm__backward_fn backward, gm_tensor **y,
                  gm_tensor *a, gm_tensor *b, gm_error *err) {
  int rc = gm__want_f32(op, a, err);
  if (rc == 0) rc = gm__want_f32(op, b, err);
  if (rc == 0) rc = gm__same_shape(op, a, b, err);
  if (rc == 0) rc = gm__tensor_temp(y, a->dev, GM_F32, a->ndim, a->shape, err);
  if (rc == 0)
    rc = GM__LAUNCH1D(a->dev, kernel, (size_t)a->numel, err, GMK_T(*y), GMK_T(a), GMK_T(b),
                      GMK_I(a->numel));
  if (rc) return rc;
  gm__tape_record(a->dev, op, backward, *y, (gm_tensor *[]){a, b}, 2, &rc, err);
  return rc;
}

/* y = kernel(x) for a float tensor, recorded with `backward`. */
static int unary(const char *op, const char *kernel, gm__backward_fn backward, gm_tensor **y,
                 gm_tensor *x, gm_error *err) {
  int rc = gm__want_f32(op, x, err);
  if (rc == 0) rc = gm__tensor_temp(y, x->dev, GM_F32, x->ndim, x->shape, err);
  if (rc == 0)
    rc = GM__LAUNCH1D(x->dev, kernel, (size_t)x->numel, err, GMK_T(*y), GMK_T(x),
                      GMK_I(x->numel));
  if (rc) return rc;
  gm__tape_record(x->dev, op, backward, *y, (gm_tensor *[]){x}, 1, &rc, err);
  return rc;
}

/* dx += f'(.) dy for a unary activation whose backward kernel takes (dx, dy, src), where
 * src is the input x (from_output 0) or the output y (from_output 1). */
static int unary_backward(gm__node *n, const char *kernel, int from_output, gm_error *err) {
  gm_tensor *x = n->in[0], *dx;
  if (!x->requires_grad) return 0;
  int rc = gm__grad(x, &dx, err);
  if (rc) return rc;
  return GM__LAUNCH1D(x->dev, kernel, (size_t)x->numel, err, GMK_T(dx), GMK_T(n->out->grad),
                      GMK_T(from_output ? n->out : x), GMK_I(x->numel));
}

/* ---- add ---- */

static int add_backward(gm__node *n, gm_error *err) {
  gm_tensor *dy = n->out->grad; /* same shape as a and b */
  int rc = gm__accumulate_grad(n->in[0], dy, 1.0f, err);
  if (rc == 0) rc = gm__accumulate_grad(n->in[1], dy, 1.0f, err);
  return rc;
}

int gm_add(gm_tensor **y, gm_tensor *a, gm_tensor *b, gm_error *err) {
  return binary("add", "elementwise_add_forward", add_backward, y, a, b, err);
}

/* ---- sub ---- */

static int sub_backward(gm__node *n, gm_error *err) {
  gm_tensor *dy = n->out->grad;
  int rc = gm__accumulate_grad(n->in[0], dy, 1.0f, err);
  if (rc == 0) rc = gm__accumulate_grad(n->in[1], dy, -1.0f, err);
  return rc;
}

int gm_sub(gm_tensor **y, gm_tensor *a, gm_tensor *b, gm_error *err) {
  return binary("sub", "elementwise_sub_forward", sub_backward, y, a, b, err);
}

/* ---- mul ---- */

/* da += dy b, db += dy a (twice into one grad when a and b are the same tensor). */
static int mul_backward(gm__node *n, gm_error *err) {
  for (int k = 0; k < 2; k++) {
    gm_tensor *x = n->in[k], *other = n->in[1 - k], *dx;
    if (!x->requires_grad) continue;
    int rc = gm__grad(x, &dx, err);
    if (rc == 0)
      rc = GM__LAUNCH1D(x->dev, "elementwise_mul_backward", (size_t)x->numel, err, GMK_T(dx),
                        GMK_T(n->out->grad), GMK_T(other), GMK_I(x->numel));
    if (rc) return rc;
  }
  return 0;
}

int gm_mul(gm_tensor **y, gm_tensor *a, gm_tensor *b, gm_error *err) {
  return binary("mul", "elementwise_mul_forward", mul_backward, y, a, b, err);
}

/* ---- scale ---- */

static int scale_backward(gm__node *n, gm_error *err) {
  return gm__accumulate_grad(n->in[0], n->out->grad, (float)n->farg[0], err);
}

int gm_scale(gm_tensor **y, gm_tensor *x, float s, gm_error *err) {
  int rc = gm__want_f32("scale", x, err);
  if (rc == 0) rc = gm__tensor_temp(y, x->dev, GM_F32, x->ndim, x->shape, err);
  if (rc == 0)
    rc = GM__LAUNCH1D(x->dev, "elementwise_scale_forward", (size_t)x->numel, err, GMK_T(*y),
                      GMK_T(x), GMK_F(s), GMK_I(x->numel));
  if (rc) return rc;
  gm__node *n = gm__tape_record(x->dev, "scale", scale_backward, *y, (gm_tensor *[]){x}, 1, &rc,
                                err);
  if (n) n->farg[0] = s;
  return rc;
}

/* ---- add_scalar ---- */

static int add_scalar_backward(gm__node *n, gm_error *err) {
  return gm__accumulate_grad(n->in[0], n->out->grad, 1.0f, err);
}

int gm_add_scalar(gm_tensor **y, gm_tensor *x, float s, gm_error *err) {
  int rc = gm__want_f32("add_scalar", x, err);
  if (rc == 0) rc = gm__tensor_temp(y, x->dev, GM_F32, x->ndim, x->shape, err);
  if (rc == 0)
    rc = GM__LAUNCH1D(x->dev, "elementwise_add_scalar_forward", (size_t)x->numel, err,
                      GMK_T(*y), GMK_T(x), GMK_F(s), GMK_I(x->numel));
  if (rc) return rc;
  gm__tape_record(x->dev, "add_scalar", add_scalar_backward, *y, (gm_tensor *[]){x}, 1, &rc,
                  err);
  return rc;
}

/* ---- relu ---- */

static int relu_backward(gm__node *n, gm_error *err) {
  return unary_backward(n, "elementwise_relu_backward", 0, err);
}

int gm_relu(gm_tensor **y, gm_tensor *x, gm_error *err) {
  return unary("relu", "elementwise_relu_forward", relu_backward, y, x, err);
}

/* ---- silu ---- */

static int silu_backward(gm__node *n, gm_error *err) {
  return unary_backward(n, "elementwise_silu_backward", 0, err);
}

int gm_silu(gm_tensor **y, gm_tensor *x, gm_error *err) {
  return unary("silu", "elementwise_silu_forward", silu_backward, y, x, err);
}

/* ---- gelu ---- */

static int gelu_backward(gm__node *n, gm_error *err) {
  return unary_backward(n, "elementwise_gelu_backward", 0, err);
}

int gm_gelu(gm_tensor **y, gm_tensor *x, gm_error *err) {
  return unary("gelu", "elementwise_gelu_forward", gelu_backward, y, x, err);
}

/* ---- tanh ---- */

static int tanh_backward(gm__node *n, gm_error *err) {
  return unary_backward(n, "elementwise_tanh_backward", 1, err);
}

int gm_tanh(gm_tensor **y, gm_tensor *x, gm_error *err) {
  return unary("tanh", "elementwise_tanh_forward", tanh_backward, y, x, err);
}

/* ---- sigmoid ---- */

static int sigmoid_backward(gm__node *n, gm_error *err) {
  return unary_backward(n, "elementwise_sigmoid_backward", 1, err);
}

int gm_sigmoid(gm_tensor **y, gm_tensor *x, gm_error *err) {
  return unary("sigmoid", "elementwise_sigmoid_forward", sigmoid_backward, y, x, err);
}

/* ---- clamp ---- */

static int clamp_backward(gm__node *n, gm_error *err) {
  gm_tensor *x = n->in[0], *dx;
  if (!x->requires_grad) return 0;
  int rc = gm__grad(x, &dx, err);
  if (rc) return rc;
  return GM__LAUNCH1D(x->dev, "elementwise_clamp_backward", (size_t)x->numel, err, GMK_T(dx),
                      GMK_T(n->out->grad), GMK_T(x), GMK_F((float)n->farg[0]),
                      GMK_F((float)n->farg[1]), GMK_I(x->numel));
}

int gm_clamp(gm_tensor **y, gm_tensor *x, float lo, float hi, gm_error *err) {
  int rc = gm__want_f32("clamp", x, err);
  if (rc) return rc;
  if (!(lo <= hi))
    return gm_error_set(err, GM_EINVAL, "clamp: the bounds must satisfy lo <= hi, got %g and %g",
                        (double)lo, (double)hi);
  rc = gm__tensor_temp(y, x->dev, GM_F32, x->ndim, x->shape, err);
  if (rc == 0)
    rc = GM__LAUNCH1D(x->dev, "elementwise_clamp_forward", (size_t)x->numel, err, GMK_T(*y),
                      GMK_T(x), GMK_F(lo), GMK_F(hi), GMK_I(x->numel));
  if (rc) return rc;
  gm__node *n = gm__tape_record(x->dev, "clamp", clamp_backward, *y, (gm_tensor *[]){x}, 1, &rc,
                                err);
  if (n) {
    n->farg[0] = lo;
    n->farg[1] = hi;
  }
  return rc;
}

/* ---- add_channel and add_bias: broadcasts over (B, C, inner...) ---- */

/* The element count after dimension 1 (H W for a feature map, 1 for rows). */
static int64_t inner_size(const gm_tensor *x) {
  int64_t n = 1;
  for (int i = 2; i < x->ndim; i++) n *= x->shape[i];
  return n;
}

static int want_channels(const char *op, const gm_tensor *x, gm_error *err) {
  if (x->ndim >= 2) return 0;
  char s[96];
  return gm_error_set(err, GM_ESHAPE, "%s: x must be (B, C, ...) with 2 to 5 dimensions, got %s",
                      op, gm_shape_str(x, s, sizeof s));
}

/* dv (B, C) += sum over the inner dimensions of dy (B, C, inner). */
static int add_channel_backward(gm__node *n, gm_error *err) {
  gm_tensor *x = n->in[0], *v = n->in[1], *dy = n->out->grad, *dv;
  int rc = gm__accumulate_grad(x, dy, 1.0f, err);
  if (rc || !v->requires_grad) return rc;
  rc = gm__grad(v, &dv, err);
  if (rc) return rc;
  return GM__LAUNCH1D(x->dev, "elementwise_row_sums", (size_t)v->numel, err, GMK_T(dv), GMK_T(dy),
                      GMK_I(v->numel), GMK_I(n->iarg[0]), GMK_I(1));
}

int gm_add_channel(gm_tensor **y, gm_tensor *x, gm_tensor *v, gm_error *err) {
  int rc = gm__want_f32("add_channel", x, err);
  if (rc == 0) rc = gm__want_f32("add_channel", v, err);
  if (rc == 0) rc = want_channels("add_channel", x, err);
  if (rc) return rc;
  if (v->ndim != 2 || v->shape[0] != x->shape[0] || v->shape[1] != x->shape[1]) {
    char sx[96], sv[96];
    return gm_error_set(err, GM_ESHAPE, "add_channel: v must be (B, C) = (%lld, %lld) for x %s, got %s",
                        (long long)x->shape[0], (long long)x->shape[1],
                        gm_shape_str(x, sx, sizeof sx), gm_shape_str(v, sv, sizeof sv));
  }
  int64_t inner = inner_size(x);
  rc = gm__tensor_temp(y, x->dev, GM_F32, x->ndim, x->shape, err);
  if (rc == 0)
    rc = GM__LAUNCH1D(x->dev, "elementwise_add_channel_forward", (size_t)x->numel, err, GMK_T(*y),
                      GMK_T(x), GMK_T(v), GMK_I(inner), GMK_I(x->numel));
  if (rc) return rc;
  gm__node *n = gm__tape_record(x->dev, "add_channel", add_channel_backward, *y,
                                (gm_tensor *[]){x, v}, 2, &rc, err);
  if (n) n->iarg[0] = inner;
  return rc;
}

/* db (C) += sum over batch and inner dimensions of dy (B, C, inner): per (b, c) sums
 * first, then per c over b, so that every sum runs in a fixed order. */
static int add_bias_backward(gm__node *n, gm_error *err) {
  gm_tensor *x = n->in[0], *b = n->in[1], *dy = n->out->grad, *db, *rows;
  int rc = gm__accumulate_grad(x, dy, 1.0f, err);
  if (rc || !b->requires_grad) return rc;
  int64_t batch = x->shape[0], c = x->shape[1];
  rc = gm__grad(b, &db, err);
  if (rc == 0) rc = gm__tensor_temp(&rows, x->dev, GM_F32, 2, GM_SHAPE(batch, c), err);
  if (rc == 0)
    rc = GM__LAUNCH1D(x->dev, "elementwise_row_sums", (size_t)(batch * c), err, GMK_T(rows),
                      GMK_T(dy), GMK_I(batch * c), GMK_I(n->iarg[0]), GMK_I(0));
  if (rc == 0)
    rc = GM__LAUNCH1D(x->dev, "elementwise_column_sums_add", (size_t)c, err, GMK_T(db),
                      GMK_T(rows), GMK_I(batch), GMK_I(c));
  return rc;
}

int gm_add_bias(gm_tensor **y, gm_tensor *x, gm_tensor *b, gm_error *err) {
  int rc = gm__want_f32("add_bias", x, err);
  if (rc == 0) rc = gm__want_f32("add_bias", b, err);
  if (rc == 0) rc = want_channels("add_bias", x, err);
  if (rc) return rc;
  if (b->ndim != 1 || b->shape[0] != x->shape[1]) {
    char sx[96], sb[96];
    return gm_error_set(err, GM_ESHAPE, "add_bias: b must be (C) = (%lld) for x %s, got %s",
                        (long long)x->shape[1], gm_shape_str(x, sx, sizeof sx),
                        gm_shape_str(b, sb, sizeof sb));
  }
  int64_t inner = inner_size(x);
  rc = gm__tensor_temp(y, x->dev, GM_F32, x->ndim, x->shape, err);
  if (rc == 0)
    rc = GM__LAUNCH1D(x->dev, "elementwise_add_bias_forward", (size_t)x->numel, err, GMK_T(*y),
                      GMK_T(x), GMK_T(b), GMK_I(x->shape[1]), GMK_I(inner), GMK_I(x->numel));
  if (rc) return rc;
  gm__node *n = gm__tape_record(x->dev, "add_bias", add_bias_backward, *y, (gm_tensor *[]){x, b},
                                2, &rc, err);
  if (n) n->iarg[0] = inner;
  return rc;
}
