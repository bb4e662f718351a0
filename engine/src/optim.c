/* Adam/AdamW with global-norm clipping, and the EMA of the weights, over the flat storage
 * of a gm_params: one fused kernel per update (kernels/optim.cl), bias corrections
 * computed on the host from the step count, the clipping norm kept on the device. */
#include <math.h>
#include <stdlib.h>

#include "internal.h"

/* The norm's first pass: a fixed number of strided partial sums, so the result does not
 * depend on the device or its work-group size. */
#define NORM_PARTS 2048

struct gm_optim {
  gm_params *p;
  gm_optim_config c;
  gm_tensor *m, *v;        /* (P) exp_avg, exp_avg_sq */
  gm_tensor *partial;      /* (NORM_PARTS) */
  gm_tensor *norm;         /* (1) the last global grad norm */
  int64_t steps;
  int norm_valid;          /* a step has written norm */
  int last_launches;
};

void gm_optim_config_default(gm_optim_config *c, gm_optim_kind kind) {
  *c = (gm_optim_config){.kind = kind, .lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f,
                         .eps = 1e-8f, .weight_decay = kind == GM_OPTIM_ADAMW ? 1e-2f : 0.0f};
}

static int check_config(const gm_optim_config *c, gm_error *err) {
  if (c->kind != GM_OPTIM_ADAM && c->kind != GM_OPTIM_ADAMW)
    return gm_error_set(err, GM_EINVAL, "optim: unknown kind %d", (int)c->kind);
  if (!(c->lr >= 0) || !isfinite(c->lr))
    return gm_error_set(err, GM_ERANGE, "optim: lr %g must be finite and >= 0", (double)c->lr);
  if (!(c->beta1 >= 0 && c->beta1 < 1) || !(c->beta2 >= 0 && c->beta2 < 1))
    return gm_error_set(err, GM_ERANGE, "optim: betas (%g, %g) must lie in [0, 1)",
                        (double)c->beta1, (double)c->beta2);
  if (!(c->eps >= 0) || !isfinite(c->eps))
    return gm_error_set(err, GM_ERANGE, "optim: eps %g must be finite and >= 0", (double)c->eps);
  if (!(c->weight_decay >= 0) || !isfinite(c->weight_decay))
    return gm_error_set(err, GM_ERANGE, "optim: weight_decay %g must be finite and >= 0",
                        (double)c->weight_decay);
  if (!(c->clip_norm >= 0) || !isfinite(c->clip_norm))
    return gm_error_set(err, GM_ERANGE, "optim: clip_norm %g must be finite and >= 0 (0 = off)",
                        (double)c->clip_norm);
  return 0;
}

static int zeros(gm_tensor **out, gm_device *dev, int64_t n, const char *name, gm_error *err) {
  int rc = gm_tensor_create(out, dev, GM_F32, 1, GM_SHAPE(n), err);
  if (rc) return rc;
  gm_tensor_set_name(*out, name);
  return gm_tensor_fill(*out, 0.0, err);
}

int gm_optim_create(gm_optim **out, gm_params *p, const gm_optim_config *c, gm_error *err) {
  *out = NULL;
  gm_tensor *flat = gm_params_flat(p);
  if (!flat) return gm_error_set(err, GM_EINVAL, "optim: the params are not finalized");
  int rc = check_config(c, err);
  if (rc) return rc;
  gm_optim *o = calloc(1, sizeof *o);
  if (!o) return gm_error_set(err, GM_ENOMEM, "optim: out of host memory");
  o->p = p;
  o->c = *c;
  gm_device *dev = gm_params_device(p);
  rc = zeros(&o->m, dev, flat->numel, "optim.exp_avg", err);
  if (rc == 0) rc = zeros(&o->v, dev, flat->numel, "optim.exp_avg_sq", err);
  if (rc == 0) rc = zeros(&o->partial, dev, NORM_PARTS, "optim.norm_partial", err);
  if (rc == 0) rc = zeros(&o->norm, dev, 1, "optim.grad_norm", err);
  if (rc) {
    gm_optim_destroy(o);
    return rc;
  }
  *out = o;
  return 0;
}

void gm_optim_destroy(gm_optim *o) {
  if (!o) return;
  gm_tensor_destroy(o->m);
  gm_tensor_destroy(o->v);
  gm_tensor_destroy(o->partial);
  gm_tensor_destroy(o->norm);
  free(o);
}

/* Every launch of a step goes through here, so gm_optim_last_launches counts them all. */
static int step_launch(gm_optim *o, const char *name, size_t n, const gm__karg *args,
                       int n_args, gm_error *err) {
  o->last_launches++;
  return gm__launch1d(gm_params_device(o->p), name, n, args, n_args, err);
}
#define STEP_LAUNCH(o, name, n, err, ...)                                                 \
  step_launch((o), (name), (n), (const gm__karg[]){__VA_ARGS__},                          \
              (int)(sizeof((const gm__karg[]){__VA_ARGS__}) / sizeof(gm__karg)), (err))

/* norm[0] = ||g||_2 on the device. */
static int grad_norm(gm_optim *o, const gm_tensor *g, gm_error *err) {
  int rc = STEP_LAUNCH(o, "optim_sumsq_partial", NORM_PARTS, err, GMK_T(o->partial), GMK_T(g),
                       GMK_I(g->numel), GMK_I(NORM_PARTS));
  if (rc == 0)
    rc = STEP_LAUNCH(o, "optim_norm_finish", 1, err, GMK_T(o->norm), GMK_T(o->partial),
                     GMK_I(NORM_PARTS));
  return rc;
}

int gm_optim_step(gm_optim *o, gm_error *err) {
  const gm_optim_config *c = &o->c;
  gm_tensor *p = gm_params_flat(o->p), *g = gm_params_flat_grad(o->p);
  o->last_launches = 0;
  int rc = 0;
  if (c->clip_norm > 0 || c->track_grad_norm) {
    rc = grad_norm(o, g, err);
    if (rc) return gm_error_prefix(err, "optim step %lld", (long long)(o->steps + 1));
    o->norm_valid = 1;
  }
  /* The bias corrections and the decay factor in double, as PyTorch computes them on the
   * host, each rounded once to float for the kernel. */
  double t = (double)(o->steps + 1);
  double bc1 = 1.0 - pow((double)c->beta1, t), bc2 = 1.0 - pow((double)c->beta2, t);
  int decoupled = c->kind == GM_OPTIM_ADAMW;
  double keep = decoupled ? 1.0 - (double)c->lr * (double)c->weight_decay : 1.0;
  float l2 = decoupled ? 0.0f : c->weight_decay;
  rc = STEP_LAUNCH(o, "optim_adam_update", (size_t)p->numel, err, GMK_T(p), GMK_T(g),
                   GMK_T(o->m), GMK_T(o->v), GMK_T(o->norm), GMK_I(p->numel), GMK_F(c->beta1),
                   GMK_F(c->beta2), GMK_F(c->eps), GMK_F(l2), GMK_F(keep),
                   GMK_F((double)c->lr / bc1), GMK_F(sqrt(bc2)), GMK_F(c->clip_norm));
  if (rc) return gm_error_prefix(err, "optim step %lld", (long long)(o->steps + 1));
  o->steps++;
  return 0;
}

void gm_optim_set_lr(gm_optim *o, float lr) { o->c.lr = lr; }
float gm_optim_lr(const gm_optim *o) { return o->c.lr; }
int64_t gm_optim_steps(const gm_optim *o) { return o->steps; }
void gm_optim_set_steps(gm_optim *o, int64_t steps) { o->steps = steps; }
int gm_optim_last_launches(const gm_optim *o) { return o->last_launches; }

gm_tensor *gm_optim_moment(gm_optim *o, int which) {
  return which == 0 ? o->m : which == 1 ? o->v : NULL;
}

int gm_optim_last_grad_norm(gm_optim *o, float *norm, gm_error *err) {
  if (!o->norm_valid)
    return gm_error_set(err, GM_EINVAL, "optim: no grad norm yet (it is computed by a step "
                        "with clip_norm > 0 or track_grad_norm)");
  return gm_tensor_read(o->norm, norm, sizeof *norm, err);
}

/* ---- EMA ---- */

struct gm_ema {
  gm_params *p;
  gm_tensor *shadow;  /* (P) */
  float decay;
};

int gm_ema_create(gm_ema **out, gm_params *p, float decay, gm_error *err) {
  *out = NULL;
  gm_tensor *flat = gm_params_flat(p);
  if (!flat) return gm_error_set(err, GM_EINVAL, "ema: the params are not finalized");
  if (!(decay >= 0 && decay <= 1))
    return gm_error_set(err, GM_ERANGE, "ema: decay %g must lie in [0, 1]", (double)decay);
  gm_ema *e = calloc(1, sizeof *e);
  if (!e) return gm_error_set(err, GM_ENOMEM, "ema: out of host memory");
  e->p = p;
  e->decay = decay;
  int rc = gm_tensor_create(&e->shadow, gm_params_device(p), GM_F32, 1, GM_SHAPE(flat->numel), err);
  if (rc == 0) {
    gm_tensor_set_name(e->shadow, "ema.flat");
    rc = gm_tensor_copy(e->shadow, flat, err);
  }
  if (rc) {
    gm_ema_destroy(e);
    return rc;
  }
  *out = e;
  return 0;
}

void gm_ema_destroy(gm_ema *e) {
  if (!e) return;
  gm_tensor_destroy(e->shadow);
  free(e);
}

int gm_ema_update(gm_ema *e, gm_error *err) {
  gm_tensor *p = gm_params_flat(e->p);
  return GM__LAUNCH1D(p->dev, "optim_ema_update", (size_t)p->numel, err, GMK_T(e->shadow),
                      GMK_T(p), GMK_F(e->decay), GMK_F(1.0f - e->decay), GMK_I(p->numel));
}

gm_tensor *gm_ema_flat(gm_ema *e) { return e->shadow; }

int gm_ema_swap(gm_ema *e, gm_error *err) {
  gm_tensor *p = gm_params_flat(e->p);
  return GM__LAUNCH1D(p->dev, "optim_swap", (size_t)p->numel, err, GMK_T(p), GMK_T(e->shadow),
                      GMK_I(p->numel));
}
