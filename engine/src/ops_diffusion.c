/* Diffusion-model helpers: timestep draws, the forward process with per-image
 * coefficients (forward then backward), the in-place reverse step and the map back to
 * pixels. Kernels: kernels/diffusion.cl. */
#include "ops_internal.h"

/* ---- timesteps ---- */

int gm_diffusion_timesteps(gm_tensor **idx, gm_tensor **tin, gm_tensor *u, int lo, int count,
                           float scale, gm_error *err) {
  const char *op = "diffusion_timesteps";
  int rc = gm__want_f32(op, u, err);
  if (rc == 0) rc = gm__want_ndim(op, "u (B)", u, 1, err);
  if (rc) return rc;
  if (count < 1)
    return gm_error_set(err, GM_EINVAL, "%s: count must be at least 1, got %d", op, count);
  int64_t b = u->shape[0];
  rc = gm__tensor_temp(idx, u->dev, GM_I32, 1, GM_SHAPE(b), err);
  if (rc == 0) rc = gm__tensor_temp(tin, u->dev, GM_F32, 1, GM_SHAPE(b), err);
  if (rc == 0)
    rc = GM__LAUNCH1D(u->dev, "diffusion_timesteps", (size_t)b, err, GMK_T(*idx), GMK_T(*tin),
                      GMK_T(u), GMK_I(lo), GMK_I(count), GMK_F(scale), GMK_I(b));
  return rc;
}

/* ---- q_sample: y = a[idx] x0 + s[idx] eps ---- */

/* saved: idx, a, s; iarg: per-image elements, clamp */
static int q_sample_backward(gm__node *n, gm_error *err) {
  gm_tensor *x0 = n->in[0], *eps = n->in[1];
  gm_tensor *idx = n->saved[0], *a = n->saved[1], *s = n->saved[2];
  for (int which = 0; which < 2; which++) {
    gm_tensor *x = n->in[which], *dx;
    if (!x->requires_grad) continue;
    int rc = gm__grad(x, &dx, err);
    if (rc == 0)
      rc = GM__LAUNCH1D(x->dev, "diffusion_q_sample_backward", (size_t)x->numel, err, GMK_T(dx),
                        GMK_T(n->out->grad), GMK_T(x0), GMK_T(eps), GMK_T(idx), GMK_T(a),
                        GMK_T(s), GMK_I(which), GMK_I(a->numel), GMK_I(n->iarg[0]),
                        GMK_I(n->iarg[1]), GMK_I(x->numel));
    if (rc) return rc;
  }
  return 0;
}

int gm_diffusion_q_sample(gm_tensor **y, gm_tensor *x0, gm_tensor *eps, gm_tensor *idx,
                          gm_tensor *a, gm_tensor *s, int clamp, gm_error *err) {
  const char *op = "diffusion_q_sample";
  int rc = gm__want_f32(op, x0, err);
  if (rc == 0) rc = gm__want_f32(op, eps, err);
  if (rc == 0) rc = gm__want_f32(op, a, err);
  if (rc == 0) rc = gm__want_f32(op, s, err);
  if (rc == 0) rc = gm__want_i32(op, idx, err);
  if (rc == 0) rc = gm__same_shape(op, x0, eps, err);
  if (rc == 0) rc = gm__want_ndim(op, "idx (B)", idx, 1, err);
  if (rc == 0) rc = gm__want_ndim(op, "a (L)", a, 1, err);
  if (rc == 0) rc = gm__same_shape(op, a, s, err);
  if (rc) return rc;
  if (x0->ndim < 1 || x0->shape[0] != idx->shape[0] || a->numel < 1) {
    char sx[96], si[96];
    return gm_error_set(err, GM_ESHAPE, "%s: x0 %s and idx %s must share the batch size B, "
                        "and the tables must not be empty", op, gm_shape_str(x0, sx, sizeof sx),
                        gm_shape_str(idx, si, sizeof si));
  }
  int64_t per = idx->shape[0] ? x0->numel / idx->shape[0] : 1;
  rc = gm__tensor_temp(y, x0->dev, GM_F32, x0->ndim, x0->shape, err);
  if (rc == 0)
    rc = GM__LAUNCH1D(x0->dev, "diffusion_q_sample_forward", (size_t)x0->numel, err, GMK_T(*y),
                      GMK_T(x0), GMK_T(eps), GMK_T(idx), GMK_T(a), GMK_T(s), GMK_I(a->numel),
                      GMK_I(per), GMK_I(clamp != 0), GMK_I(x0->numel));
  if (rc) return rc;
  gm__node *n = gm__tape_record(x0->dev, op, q_sample_backward, *y, (gm_tensor *[]){x0, eps}, 2,
                                &rc, err);
  if (n) {
    n->saved[0] = idx;
    n->saved[1] = a;
    n->saved[2] = s;
    n->iarg[0] = per;
    n->iarg[1] = clamp != 0;
  }
  return rc;
}

/* ---- the reverse step ---- */

int gm_diffusion_step(gm_tensor *x, gm_tensor *eps, gm_tensor *z,
                      const gm_diffusion_step_coefs *c, gm_error *err) {
  const char *op = "diffusion_step";
  int rc = gm__want_f32(op, x, err);
  if (rc == 0) rc = gm__want_f32(op, eps, err);
  if (rc == 0) rc = gm__same_shape(op, x, eps, err);
  if (rc == 0 && z) rc = gm__want_f32(op, z, err);
  if (rc == 0 && z) rc = gm__same_shape(op, x, z, err);
  if (rc) return rc;
  return GM__LAUNCH1D(x->dev, "diffusion_step", (size_t)x->numel, err, GMK_T(x), GMK_T(eps),
                      GMK_T(z ? z : eps), GMK_F(c->inv_sqrt_ab), GMK_F(c->sqrt_1mab),
                      GMK_I(c->clip_x0 != 0), GMK_F(c->c0), GMK_F(c->c1), GMK_F(c->sigma),
                      GMK_I(z != NULL), GMK_I(c->clamp_out != 0), GMK_I(x->numel));
}

/* ---- back to pixels ---- */

int gm_diffusion_to_pixels(gm_tensor **y, gm_tensor *x, int stretch, gm_error *err) {
  const char *op = "diffusion_to_pixels";
  int rc = gm__want_f32(op, x, err);
  if (rc == 0) rc = gm__want_ndim(op, "x (B, C, H, W)", x, 4, err);
  if (rc) return rc;
  int64_t b = x->shape[0], per = b ? x->numel / b : 1;
  gm_tensor *lohi = x;  /* unread without stretch */
  if (stretch && b) {
    rc = gm__tensor_temp(&lohi, x->dev, GM_F32, 2, GM_SHAPE(b, 2), err);
    if (rc == 0)
      rc = GM__LAUNCH1D(x->dev, "diffusion_image_range", (size_t)b, err, GMK_T(lohi), GMK_T(x),
                        GMK_I(per), GMK_I(b));
    if (rc) return rc;
  }
  rc = gm__tensor_temp(y, x->dev, GM_F32, x->ndim, x->shape, err);
  if (rc == 0 && x->numel)
    rc = GM__LAUNCH1D(x->dev, "diffusion_to_pixels", (size_t)x->numel, err, GMK_T(*y), GMK_T(x),
                      GMK_T(lohi), GMK_I(per), GMK_I(stretch != 0), GMK_I(x->numel));
  return rc;
}
