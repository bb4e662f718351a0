/* Losses and reductions, each forward followed by its backward: sum, mean, MSE, softmax
 * cross-entropy (mean and per position) and softmax. Kernels: kernels/loss.cl. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "ops_internal.h"

/* ---- the deterministic reduction ----
 * Each level splits n elements into `parts` strided partial sums (Kahan-compensated, one
 * work-item each) and the next level reduces those, until one value is left. The number
 * of parts depends on n alone, so the order of additions, hence the result, is fixed
 * whatever the device's work-group size. */

enum { REDUCE_SPAN = 64, REDUCE_MAX_PARTS = 4096 };

static int level_parts(int64_t n) {
  if (n <= REDUCE_SPAN) return 1;
  int64_t p = (n + REDUCE_SPAN - 1) / REDUCE_SPAN;
  return p > REDUCE_MAX_PARTS ? REDUCE_MAX_PARTS : (int)p;
}

/* out (1) = scale * sum_i x_i, or scale * sum_i (x_i - b_i)^2 when b is given. */
static int reduce(gm_tensor *out, gm_tensor *x, gm_tensor *b, float scale, gm_error *err) {
  gm_device *dev = x->dev;
  int64_t n = x->numel;
  if (n == 0) return gm_tensor_fill(out, 0.0, err);
  gm_tensor *src = x;
  for (int level = 0;; level++) {
    int parts = level_parts(n);
    gm_tensor *dst = out;
    if (parts > 1) {
      int rc = gm__tensor_temp(&dst, dev, GM_F32, 1, GM_SHAPE(parts), err);
      if (rc) return rc;
    }
    float s = parts == 1 ? scale : 1.0f;
    int rc = (level == 0 && b)
                 ? GM__LAUNCH1D(dev, "loss_reduce_sqdiff_partial", (size_t)parts, err,
                                GMK_T(dst), GMK_T(x), GMK_T(b), GMK_I(n), GMK_I(parts), GMK_F(s))
                 : GM__LAUNCH1D(dev, "loss_reduce_partial", (size_t)parts, err, GMK_T(dst),
                                GMK_T(src), GMK_I(n), GMK_I(parts), GMK_F(s));
    if (rc || parts == 1) return rc;
    src = dst;
    n = parts;
  }
}

static int want_nonempty(const char *op, const gm_tensor *x, gm_error *err) {
  if (x->numel > 0) return 0;
  char s[96];
  return gm_error_set(err, GM_ESHAPE, "%s: %s %s is empty", op, x->name[0] ? x->name : "input",
                      gm_shape_str(x, s, sizeof s));
}

/* ---- sum and mean ---- */

/* iarg[0]: 1 for mean (the gradient is divided by numel) */
static int sum_backward(gm__node *n, gm_error *err) {
  gm_tensor *x = n->in[0], *dx;
  if (!x->requires_grad) return 0;
  int rc = gm__grad(x, &dx, err);
  if (rc) return rc;
  float scale = n->iarg[0] ? (float)(1.0 / (double)x->numel) : 1.0f;
  return GM__LAUNCH1D(x->dev, "loss_broadcast_grad", (size_t)x->numel, err, GMK_T(dx),
                      GMK_T(n->out->grad), GMK_F(scale), GMK_I(x->numel));
}

static int sum_or_mean(const char *op, gm_tensor **y, gm_tensor *x, int mean, gm_error *err) {
  int rc = gm__want_f32(op, x, err);
  if (rc == 0 && mean) rc = want_nonempty(op, x, err);
  if (rc == 0) rc = gm__tensor_temp(y, x->dev, GM_F32, 1, GM_SHAPE(1), err);
  if (rc == 0) rc = reduce(*y, x, NULL, mean ? (float)(1.0 / (double)x->numel) : 1.0f, err);
  if (rc) return rc;
  gm__node *nd = gm__tape_record(x->dev, op, sum_backward, *y, (gm_tensor *[]){x}, 1, &rc, err);
  if (nd) nd->iarg[0] = mean;
  return rc;
}

int gm_sum(gm_tensor **y, gm_tensor *x, gm_error *err) { return sum_or_mean("sum", y, x, 0, err); }

int gm_mean(gm_tensor **y, gm_tensor *x, gm_error *err) {
  return sum_or_mean("mean", y, x, 1, err);
}

/* ---- mse ---- */

static int mse_backward(gm__node *n, gm_error *err) {
  gm_tensor *a = n->in[0], *b = n->in[1], *dy = n->out->grad;
  float scale = (float)(2.0 / (double)a->numel);
  gm_tensor *g;
  int rc = 0;
  if (a->requires_grad) {
    rc = gm__grad(a, &g, err);
    if (rc == 0)
      rc = GM__LAUNCH1D(a->dev, "loss_mse_backward", (size_t)a->numel, err, GMK_T(g), GMK_T(a),
                        GMK_T(b), GMK_T(dy), GMK_F(scale), GMK_I(a->numel));
  }
  if (rc == 0 && b->requires_grad) {
    rc = gm__grad(b, &g, err);
    if (rc == 0)
      rc = GM__LAUNCH1D(a->dev, "loss_mse_backward", (size_t)a->numel, err, GMK_T(g), GMK_T(a),
                        GMK_T(b), GMK_T(dy), GMK_F(-scale), GMK_I(a->numel));
  }
  return rc;
}

int gm_mse(gm_tensor **loss, gm_tensor *a, gm_tensor *b, gm_error *err) {
  int rc = gm__want_f32("mse", a, err);
  if (rc == 0) rc = gm__want_f32("mse", b, err);
  if (rc == 0) rc = gm__same_shape("mse", a, b, err);
  if (rc == 0) rc = want_nonempty("mse", a, err);
  if (rc == 0) rc = gm__tensor_temp(loss, a->dev, GM_F32, 1, GM_SHAPE(1), err);
  if (rc == 0) rc = reduce(*loss, a, b, (float)(1.0 / (double)a->numel), err);
  if (rc) return rc;
  gm__tape_record(a->dev, "mse", mse_backward, *loss, (gm_tensor *[]){a, b}, 2, &rc, err);
  return rc;
}

/* ---- the class-axis view shared by cross-entropy and softmax ---- */

typedef struct class_view {
  int axis;                 /* normalised to 0..ndim-1 */
  int64_t outer, K, inner;  /* logits as (outer, K, inner) */
} class_view;

static int view_classes(const char *op, const gm_tensor *logits, int class_axis,
                        class_view *v, gm_error *err) {
  *v = (class_view){0}; /* defined on every path: gcc cannot see that errors return non-zero */
  int rc = gm__want_f32(op, logits, err);
  if (rc) return rc;
  char s[96];
  int axis = class_axis < 0 ? class_axis + logits->ndim : class_axis;
  if (logits->ndim < 1 || axis < 0 || axis >= logits->ndim)
    return gm_error_set(err, GM_EINVAL, "%s: class_axis %d is not an axis of logits %s", op,
                        class_axis, gm_shape_str(logits, s, sizeof s));
  if (logits->shape[axis] < 1)
    return gm_error_set(err, GM_ESHAPE, "%s: logits %s have no classes on axis %d", op,
                        gm_shape_str(logits, s, sizeof s), axis);
  v->axis = axis;
  v->outer = v->inner = 1;
  v->K = logits->shape[axis];
  for (int d = 0; d < axis; d++) v->outer *= logits->shape[d];
  for (int d = axis + 1; d < logits->ndim; d++) v->inner *= logits->shape[d];
  return 0;
}

/* Targets must be int32 with the logits' shape minus the class axis. */
static int check_targets_shape(const char *op, const gm_tensor *logits, const gm_tensor *targets,
                               const class_view *v, gm_error *err) {
  int rc = gm__want_i32(op, targets, err);
  if (rc) return rc;
  int same = targets->ndim == logits->ndim - 1;
  for (int d = 0, e = 0; same && d < logits->ndim; d++)
    if (d != v->axis) same = targets->shape[e++] == logits->shape[d];
  if (same) return 0;
  char sl[96], st[96];
  return gm_error_set(err, GM_ESHAPE,
                      "%s: targets %s must have the shape of logits %s without class axis %d",
                      op, gm_shape_str(targets, st, sizeof st), gm_shape_str(logits, sl, sizeof sl),
                      v->axis);
}

/* ---- cross-entropy ---- */

/* saved[0] targets, saved[1] lse (positions); iarg: positions, K, inner, dy stride
 * (0: one upstream value for the mean, 1: one per position); farg[0]: scale. */
static int ce_backward(gm__node *n, gm_error *err) {
  gm_tensor *logits = n->in[0], *dl;
  if (!logits->requires_grad) return 0;
  int rc = gm__grad(logits, &dl, err);
  if (rc) return rc;
  return GM__LAUNCH1D(logits->dev, "loss_ce_backward", (size_t)n->iarg[0], err, GMK_T(dl),
                      GMK_T(logits), GMK_T(n->saved[1]), GMK_T(n->saved[0]),
                      GMK_T(n->out->grad), GMK_I(n->iarg[3]), GMK_F(n->farg[0]),
                      GMK_I(n->iarg[0]), GMK_I(n->iarg[1]), GMK_I(n->iarg[2]));
}

/* nll (targets' shape) and lse (positions) for every position; *v gets the view. */
static int ce_positions(const char *op, gm_tensor **nll, gm_tensor **lse, gm_tensor *logits,
                        gm_tensor *targets, int class_axis, class_view *v, gm_error *err) {
  int rc = view_classes(op, logits, class_axis, v, err);
  if (rc == 0) rc = check_targets_shape(op, logits, targets, v, err);
  if (rc) return rc;
  int64_t positions = v->outer * v->inner;
  rc = gm__tensor_temp(nll, logits->dev, GM_F32, targets->ndim, targets->shape, err);
  if (rc == 0) rc = gm__tensor_temp(lse, logits->dev, GM_F32, 1, GM_SHAPE(positions), err);
  if (rc) return rc;
  return GM__LAUNCH1D(logits->dev, "loss_ce_forward", (size_t)positions, err, GMK_T(*nll),
                      GMK_T(*lse), GMK_T(logits), GMK_T(targets), GMK_I(positions), GMK_I(v->K),
                      GMK_I(v->inner));
}

static void ce_fill_node(gm__node *nd, gm_tensor *targets, gm_tensor *lse, const class_view *v,
                         int dy_stride, double scale) {
  nd->saved[0] = targets;
  nd->saved[1] = lse;
  nd->iarg[0] = v->outer * v->inner;
  nd->iarg[1] = v->K;
  nd->iarg[2] = v->inner;
  nd->iarg[3] = dy_stride;
  nd->farg[0] = scale;
}

int gm_cross_entropy(gm_tensor **loss, gm_tensor *logits, gm_tensor *targets, int class_axis,
                     gm_error *err) {
  gm_tensor *nll, *lse;
  class_view v;
  int rc = ce_positions("cross_entropy", &nll, &lse, logits, targets, class_axis, &v, err);
  if (rc == 0) rc = want_nonempty("cross_entropy", targets, err);
  if (rc == 0) rc = gm__tensor_temp(loss, logits->dev, GM_F32, 1, GM_SHAPE(1), err);
  if (rc) return rc;
  double scale = 1.0 / (double)(v.outer * v.inner);
  rc = reduce(*loss, nll, NULL, (float)scale, err);
  if (rc) return rc;
  gm__node *nd = gm__tape_record(logits->dev, "cross_entropy", ce_backward, *loss,
                                 (gm_tensor *[]){logits}, 1, &rc, err);
  if (nd) ce_fill_node(nd, targets, lse, &v, 0, scale);
  return rc;
}

int gm_cross_entropy_each(gm_tensor **nll, gm_tensor *logits, gm_tensor *targets,
                          int class_axis, gm_error *err) {
  gm_tensor *lse;
  class_view v;
  int rc = ce_positions("cross_entropy_each", nll, &lse, logits, targets, class_axis, &v, err);
  if (rc) return rc;
  gm__node *nd = gm__tape_record(logits->dev, "cross_entropy_each", ce_backward, *nll,
                                 (gm_tensor *[]){logits}, 1, &rc, err);
  if (nd) ce_fill_node(nd, targets, lse, &v, 1, 1.0);
  return rc;
}

int gm_cross_entropy_check_targets(gm_tensor *logits, gm_tensor *targets, int class_axis,
                                   gm_error *err) {
  const char *op = "cross_entropy_check_targets";
  class_view v;
  int rc = view_classes(op, logits, class_axis, &v, err);
  if (rc == 0) rc = check_targets_shape(op, logits, targets, &v, err);
  if (rc || targets->numel == 0) return rc;
  int32_t *t = malloc(gm_tensor_bytes(targets));
  if (!t) return gm_error_set(err, GM_ENOMEM, "%s: out of host memory", op);
  rc = gm_tensor_read(targets, t, gm_tensor_bytes(targets), err);
  for (int64_t i = 0; rc == 0 && i < targets->numel; i++) {
    if (t[i] >= 0 && t[i] < v.K) continue;
    int64_t coord[GM_MAX_DIMS] = {0}, rest = i;
    for (int d = targets->ndim - 1; d >= 0; d--) {
      coord[d] = rest % targets->shape[d];
      rest /= targets->shape[d];
    }
    char at[128] = "", st[96];
    size_t used = 0;
    for (int d = 0; d < targets->ndim && used < sizeof at; d++)
      used += (size_t)snprintf(at + used, sizeof at - used, "%s%" PRId64, d ? ", " : "", coord[d]);
    rc = gm_error_set(err, GM_ERANGE, "%s: target %d at (%s) of targets %s is outside 0..%" PRId64,
                      op, (int)t[i], at, gm_shape_str(targets, st, sizeof st), v.K - 1);
  }
  free(t);
  return rc;
}

/* ---- softmax ---- */

/* iarg: positions, K, inner; farg[0]: 1 / temperature */
static int softmax_backward(gm__node *n, gm_error *err) {
  gm_tensor *logits = n->in[0], *dl;
  if (!logits->requires_grad) return 0;
  int rc = gm__grad(logits, &dl, err);
  if (rc) return rc;
  return GM__LAUNCH1D(logits->dev, "loss_softmax_backward", (size_t)n->iarg[0], err, GMK_T(dl),
                      GMK_T(n->out), GMK_T(n->out->grad), GMK_F(n->farg[0]), GMK_I(n->iarg[0]),
                      GMK_I(n->iarg[1]), GMK_I(n->iarg[2]));
}

int gm_softmax(gm_tensor **p, gm_tensor *logits, int class_axis, float temperature,
               gm_error *err) {
  class_view v;
  int rc = view_classes("softmax", logits, class_axis, &v, err);
  if (rc) return rc;
  if (!(temperature > 0.0f) || isinf(temperature))
    return gm_error_set(err, GM_EINVAL, "softmax: temperature %g must be positive and finite",
                        (double)temperature);
  float inv_t = 1.0f / temperature;
  int64_t positions = v.outer * v.inner;
  rc = gm__tensor_temp(p, logits->dev, GM_F32, logits->ndim, logits->shape, err);
  if (rc == 0)
    rc = GM__LAUNCH1D(logits->dev, "loss_softmax_forward", (size_t)positions, err, GMK_T(*p),
                      GMK_T(logits), GMK_F(inv_t), GMK_I(positions), GMK_I(v.K), GMK_I(v.inner));
  if (rc) return rc;
  gm__node *nd = gm__tape_record(logits->dev, "softmax", softmax_backward, *p,
                                 (gm_tensor *[]){logits}, 1, &rc, err);
  if (nd) {
    nd->iarg[0] = positions;
    nd->iarg[1] = v.K;
    nd->iarg[2] = v.inner;
    nd->farg[0] = inv_t;
  }
  return rc;
}
