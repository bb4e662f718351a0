/* Batch norm and group norm, forward then backward, on one shared scheme. x is viewed as
 * (B, C, inner); a "row" is the inner elements of one (b, c). Each statistic s (a channel
 * for batch norm, a (sample, group) for group norm) covers `count` rows: per-row moments
 * come first (one work-item per row), then each statistic combines its rows in a fixed
 * order. The backward pass reduces the same way. Kernels: kernels/norm.cl. */
#include <math.h>

#include "ops_internal.h"

typedef struct norm_layout {
  int64_t batch, channels, inner;  /* x as (B, C, inner) */
  int64_t stats;                   /* how many statistics */
  int64_t stat_b_stride, cpg;      /* the statistic of row (b, c) is b * stat_b_stride + c / cpg */
  int64_t base_mul, step, count;   /* the rows of statistic s: s * base_mul + k * step, k < count */
} norm_layout;

enum { NL_FIELDS = 9 };            /* norm_layout's int64 fields, kept in a node's iarg[0..8] */
enum { IA_GAMMA = 9, IA_BETA, IA_THROUGH };  /* further iarg slots */

static void layout_store(const norm_layout *l, int64_t *iarg) {
  const int64_t v[NL_FIELDS] = {l->batch, l->channels, l->inner, l->stats, l->stat_b_stride,
                                l->cpg, l->base_mul, l->step, l->count};
  for (int i = 0; i < NL_FIELDS; i++) iarg[i] = v[i];
}

static norm_layout layout_load(const int64_t *a) {
  return (norm_layout){a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8]};
}

static norm_layout layout_of(const gm_tensor *x, int groups) {
  norm_layout l = {.batch = x->shape[0], .channels = x->shape[1], .inner = 1};
  for (int d = 2; d < x->ndim; d++) l.inner *= x->shape[d];
  if (groups == 0) { /* batch norm: one statistic per channel, rows (b, c) over b */
    l.stats = l.channels;
    l.stat_b_stride = 0;
    l.cpg = 1;
    l.base_mul = 1;
    l.step = l.channels;
    l.count = l.batch;
  } else {           /* group norm: one per (b, g), rows (b, c) over the group's c */
    l.stats = l.batch * groups;
    l.stat_b_stride = groups;
    l.cpg = l.channels / groups;
    l.base_mul = l.cpg;
    l.step = 1;
    l.count = l.cpg;
  }
  return l;
}

/* mean and invstd (stats) from x's per-row moments; var (stats) too when var != NULL. */
static int stat_moments(gm_tensor *x, const norm_layout *l, float eps, gm_tensor *mean,
                         gm_tensor *var, gm_tensor *invstd, gm_error *err) {
  gm_device *dev = x->dev;
  int64_t rows = l->batch * l->channels;
  gm_tensor *row_mean, *row_m2;
  int rc = gm__tensor_temp(&row_mean, dev, GM_F32, 1, GM_SHAPE(rows), err);
  if (rc == 0) rc = gm__tensor_temp(&row_m2, dev, GM_F32, 1, GM_SHAPE(rows), err);
  if (rc == 0)
    rc = GM__LAUNCH1D(dev, "norm_row_moments", (size_t)rows, err, GMK_T(row_mean), GMK_T(row_m2),
                      GMK_T(x), GMK_I(l->inner), GMK_I(rows));
  if (rc == 0)
    rc = GM__LAUNCH1D(dev, "norm_combine_moments", (size_t)l->stats, err, GMK_T(mean),
                      GMK_T(var ? var : mean), GMK_I(var != NULL), GMK_T(invstd),
                      GMK_T(row_mean), GMK_T(row_m2), GMK_I(l->inner), GMK_I(l->base_mul),
                      GMK_I(l->step), GMK_I(l->count), GMK_F(eps), GMK_I(l->stats));
  return rc;
}

/* y = gamma (x - mean) invstd + beta; a NULL gamma or beta is left out. */
static int normalise(gm_tensor *y, gm_tensor *x, const norm_layout *l, gm_tensor *mean,
                     gm_tensor *invstd, gm_tensor *gamma, gm_tensor *beta, gm_error *err) {
  int64_t rows = x->numel / l->inner;
  return GM__LAUNCH2D(x->dev, "norm_apply", (size_t)l->inner, (size_t)rows, err, GMK_T(y),
                      GMK_T(x), GMK_T(mean), GMK_T(invstd), GMK_T(gamma ? gamma : x),
                      GMK_I(gamma != NULL), GMK_T(beta ? beta : x), GMK_I(beta != NULL),
                      GMK_I(l->channels), GMK_I(l->inner), GMK_I(l->stat_b_stride),
                      GMK_I(l->cpg), GMK_I(rows));
}

/* Records the node shared by both norms: in = x, then gamma and beta when given. */
static int record_norm(const char *op, gm__backward_fn backward, gm_tensor *y, gm_tensor *x,
                       gm_tensor *gamma, gm_tensor *beta, const norm_layout *l, gm_tensor *mean,
                       gm_tensor *invstd, int through, gm_error *err) {
  gm_tensor *in[3] = {x};
  int n_in = 1, ig = -1, ib = -1;
  if (gamma) in[ig = n_in++] = gamma;
  if (beta) in[ib = n_in++] = beta;
  int rc;
  gm__node *n = gm__tape_record(x->dev, op, backward, y, in, n_in, &rc, err);
  if (n) {
    n->saved[0] = mean;
    n->saved[1] = invstd;
    layout_store(l, n->iarg);
    n->iarg[IA_GAMMA] = ig;
    n->iarg[IA_BETA] = ib;
    n->iarg[IA_THROUGH] = through;
  }
  return rc;
}

/* The backward of both norms. With s1 = sum dy and s2 = sum dy xhat per row:
 *   dgamma[c] += sum over b of s2, dbeta[c] += sum over b of s1;
 *   through the statistics (M elements each, A = sum gamma dy, B = sum gamma dy xhat):
 *     dx += invstd (gamma dy - (A + xhat B) / M)
 *   else (batch norm in eval mode): dx += invstd gamma dy. */
static int norm_backward(gm__node *n, gm_error *err) {
  norm_layout l = layout_load(n->iarg);
  gm_tensor *x = n->in[0], *dy = n->out->grad, *mean = n->saved[0], *invstd = n->saved[1];
  gm_tensor *gamma = n->iarg[IA_GAMMA] >= 0 ? n->in[n->iarg[IA_GAMMA]] : NULL;
  gm_tensor *beta = n->iarg[IA_BETA] >= 0 ? n->in[n->iarg[IA_BETA]] : NULL;
  int through = (int)n->iarg[IA_THROUGH];
  int want_dg = gamma && gamma->requires_grad, want_db = beta && beta->requires_grad;
  gm_device *dev = x->dev;
  int64_t rows = l.batch * l.channels;
  int rc = 0;
  gm_tensor *s1 = NULL, *s2 = NULL, *g;
  if (want_dg || want_db || (x->requires_grad && through)) {
    rc = gm__tensor_temp(&s1, dev, GM_F32, 1, GM_SHAPE(rows), err);
    if (rc == 0) rc = gm__tensor_temp(&s2, dev, GM_F32, 1, GM_SHAPE(rows), err);
    if (rc == 0)
      rc = GM__LAUNCH1D(dev, "norm_row_grad_sums", (size_t)rows, err, GMK_T(s1), GMK_T(s2),
                        GMK_T(dy), GMK_T(x), GMK_T(mean), GMK_T(invstd), GMK_I(l.channels),
                        GMK_I(l.inner), GMK_I(l.stat_b_stride), GMK_I(l.cpg), GMK_I(rows));
  }
  if (rc == 0 && want_dg && (rc = gm__grad(gamma, &g, err)) == 0)
    rc = GM__LAUNCH1D(dev, "norm_channel_sums_add", (size_t)l.channels, err, GMK_T(g), GMK_T(s2),
                      GMK_I(l.batch), GMK_I(l.channels));
  if (rc == 0 && want_db && (rc = gm__grad(beta, &g, err)) == 0)
    rc = GM__LAUNCH1D(dev, "norm_channel_sums_add", (size_t)l.channels, err, GMK_T(g), GMK_T(s1),
                      GMK_I(l.batch), GMK_I(l.channels));
  if (rc || !x->requires_grad) return rc;

  gm_tensor *a = mean, *b = mean; /* placeholders the kernel ignores when !through */
  if (through) {
    rc = gm__tensor_temp(&a, dev, GM_F32, 1, GM_SHAPE(l.stats), err);
    if (rc == 0) rc = gm__tensor_temp(&b, dev, GM_F32, 1, GM_SHAPE(l.stats), err);
    if (rc == 0)
      rc = GM__LAUNCH1D(dev, "norm_combine_grad_sums", (size_t)l.stats, err, GMK_T(a), GMK_T(b),
                        GMK_T(s1), GMK_T(s2), GMK_T(gamma ? gamma : x), GMK_I(gamma != NULL),
                        GMK_I(l.channels), GMK_I(l.base_mul), GMK_I(l.step), GMK_I(l.count),
                        GMK_I(l.stats));
  }
  if (rc == 0) rc = gm__grad(x, &g, err);
  if (rc == 0)
    rc = GM__LAUNCH2D(dev, "norm_input_grad", (size_t)l.inner, (size_t)(x->numel / l.inner), err,
                      GMK_T(g), GMK_T(dy), GMK_T(x), GMK_T(mean), GMK_T(invstd),
                      GMK_T(gamma ? gamma : x), GMK_I(gamma != NULL), GMK_T(a), GMK_T(b),
                      GMK_I(through), GMK_F((float)(1.0 / (double)(l.count * l.inner))),
                      GMK_I(l.channels), GMK_I(l.inner), GMK_I(l.stat_b_stride), GMK_I(l.cpg),
                      GMK_I(x->numel / l.inner));
  return rc;
}

/* GM_ESHAPE/GM_EDTYPE unless p is NULL or a float32 (C) vector for x. */
static int want_channel_vector(const char *op, const char *what, const gm_tensor *p,
                               const gm_tensor *x, gm_error *err) {
  if (!p) return 0;
  int rc = gm__want_f32(op, p, err);
  if (rc) return rc;
  if (p->ndim == 1 && p->shape[0] == x->shape[1]) return 0;
  char sp[96], sx[96];
  return gm_error_set(err, GM_ESHAPE, "%s: %s must be (C) = (%lld) for x %s, got %s", op, what,
                      (long long)x->shape[1], gm_shape_str(x, sx, sizeof sx),
                      gm_shape_str(p, sp, sizeof sp));
}

static int want_norm_input(const char *op, const gm_tensor *x, float eps, gm_error *err) {
  int rc = gm__want_f32(op, x, err);
  if (rc) return rc;
  if (x->ndim < 2) {
    char s[96];
    return gm_error_set(err, GM_ESHAPE, "%s: x must be (B, C, ...) with 2 to 5 dimensions, got %s",
                        op, gm_shape_str(x, s, sizeof s));
  }
  if (!(eps >= 0) || !isfinite(eps))
    return gm_error_set(err, GM_EINVAL, "%s: eps must be finite and >= 0, got %g", op, (double)eps);
  return 0;
}

/* ---- batch norm ---- */

static int batchnorm_check(gm_tensor *x, gm_tensor *gamma, gm_tensor *beta, gm_tensor *rm,
                           gm_tensor *rv, int training, float eps, gm_error *err) {
  const char *op = "batchnorm";
  int rc = want_norm_input(op, x, eps, err);
  if (rc == 0) rc = want_channel_vector(op, "gamma", gamma, x, err);
  if (rc == 0) rc = want_channel_vector(op, "beta", beta, x, err);
  if (rc == 0) rc = want_channel_vector(op, "running_mean", rm, x, err);
  if (rc == 0) rc = want_channel_vector(op, "running_var", rv, x, err);
  if (rc) return rc;
  if (!rm != !rv)
    return gm_error_set(err, GM_EINVAL, "batchnorm: running_mean and running_var go together; "
                        "one of them is NULL");
  if (!training && !rm)
    return gm_error_set(err, GM_EINVAL, "batchnorm: eval mode (training = 0) needs running_mean "
                        "and running_var");
  if (training && x->numel / (x->shape[1] ? x->shape[1] : 1) < 2) {
    char s[96];
    return gm_error_set(err, GM_ESHAPE, "batchnorm: training needs more than one value per "
                        "channel, x is %s", gm_shape_str(x, s, sizeof s));
  }
  return 0;
}

int gm_batchnorm(gm_tensor **y, gm_tensor *x, gm_tensor *gamma, gm_tensor *beta,
                 gm_tensor *running_mean, gm_tensor *running_var, int training, float momentum,
                 float eps, gm_error *err) {
  int rc = batchnorm_check(x, gamma, beta, running_mean, running_var, training, eps, err);
  if (rc) return rc;
  gm_device *dev = x->dev;
  norm_layout l = layout_of(x, 0);
  gm_tensor *mean, *var = NULL, *invstd;
  rc = gm__tensor_temp(&mean, dev, GM_F32, 1, GM_SHAPE(l.stats), err);
  if (rc == 0) rc = gm__tensor_temp(&invstd, dev, GM_F32, 1, GM_SHAPE(l.stats), err);
  if (rc) return rc;
  if (training) {
    if (running_mean) rc = gm__tensor_temp(&var, dev, GM_F32, 1, GM_SHAPE(l.stats), err);
    if (rc == 0) rc = stat_moments(x, &l, eps, mean, var, invstd, err);
    if (rc == 0 && running_mean) {
      int64_t n = l.batch * l.inner;
      rc = GM__LAUNCH1D(dev, "norm_update_running", (size_t)l.stats, err, GMK_T(running_mean),
                        GMK_T(running_var), GMK_T(mean), GMK_T(var), GMK_F(momentum),
                        GMK_F((float)((double)n / (double)(n - 1))), GMK_I(l.stats));
    }
  } else {
    /* copies, so that later updates of the running stats do not change this step's backward */
    rc = gm_tensor_copy(mean, running_mean, err);
    if (rc == 0)
      rc = GM__LAUNCH1D(dev, "norm_invstd_from_var", (size_t)l.stats, err, GMK_T(invstd),
                        GMK_T(running_var), GMK_F(eps), GMK_I(l.stats));
  }
  if (rc == 0) rc = gm__tensor_temp(y, dev, GM_F32, x->ndim, x->shape, err);
  if (rc == 0) rc = normalise(*y, x, &l, mean, invstd, gamma, beta, err);
  if (rc) return rc;
  return record_norm("batchnorm", norm_backward, *y, x, gamma, beta, &l, mean, invstd,
                     training != 0, err);
}

/* ---- group norm ---- */

int gm_groupnorm(gm_tensor **y, gm_tensor *x, gm_tensor *gamma, gm_tensor *beta, int groups,
                 float eps, gm_error *err) {
  const char *op = "groupnorm";
  int rc = want_norm_input(op, x, eps, err);
  if (rc == 0) rc = want_channel_vector(op, "gamma", gamma, x, err);
  if (rc == 0) rc = want_channel_vector(op, "beta", beta, x, err);
  if (rc) return rc;
  if (groups < 1 || x->shape[1] % groups) {
    char s[96];
    return gm_error_set(err, GM_ESHAPE, "groupnorm: %d groups do not divide the %lld channels of x %s",
                        groups, (long long)x->shape[1], gm_shape_str(x, s, sizeof s));
  }
  gm_device *dev = x->dev;
  norm_layout l = layout_of(x, groups);
  gm_tensor *mean, *invstd;
  rc = gm__tensor_temp(&mean, dev, GM_F32, 1, GM_SHAPE(l.stats), err);
  if (rc == 0) rc = gm__tensor_temp(&invstd, dev, GM_F32, 1, GM_SHAPE(l.stats), err);
  if (rc == 0) rc = stat_moments(x, &l, eps, mean, NULL, invstd, err);
  if (rc == 0) rc = gm__tensor_temp(y, dev, GM_F32, x->ndim, x->shape, err);
  if (rc == 0) rc = normalise(*y, x, &l, mean, invstd, gamma, beta, err);
  if (rc) return rc;
  return record_norm("groupnorm", norm_backward, *y, x, gamma, beta, &l, mean, invstd, 1, err);
}

/* ---- batch norm's num_batches_tracked ---- */

int gm_counter_add(gm_tensor *t, int by, gm_error *err) {
  int rc = gm__want_i32("counter_add", t, err);
  if (rc || !t->numel) return rc;
  return GM__LAUNCH1D(t->dev, "norm_counter_add", (size_t)t->numel, err, GMK_T(t), GMK_I(by),
                      GMK_I(t->numel));
}
