/* See optest.h. */
#include "optest.h"

#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

size_t gmt_numel(int ndim, const int64_t *shape) {
  size_t n = 1;
  for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
  return n;
}

/* Input k on the device: F32 as drawn, or I32 holding the drawn values. */
static gm_tensor *input_tensor(const op_case *c, int k, const float *h, size_t n) {
  if (c->dtype[k] != GM_I32) return gmt_tensor_from(c->ndim[k], c->shape[k], h);
  gm_error err = {0};
  gm_tensor *t;
  int32_t *v = malloc(n * 4 + 4);
  for (size_t i = 0; i < n; i++) v[i] = (int32_t)h[i];
  gmt_ok(gm_tensor_create(&t, gmt_device(), GM_I32, c->ndim[k], c->shape[k], &err), &err);
  gmt_ok(gm_tensor_write(t, v, n * 4, &err), &err);
  free(v);
  return t;
}

/* An output read back as floats (an I32 output's values converted). */
static float *read_output(const gm_tensor *y) {
  if (y->dtype != GM_I32) return gmt_read(y);
  gm_error err = {0};
  size_t n = (size_t)y->numel;
  int32_t *v = malloc(n * 4 + 4);
  float *f = malloc(n * 4 + 4);
  gmt_ok(gm_tensor_read(y, v, n * 4, &err), &err);
  for (size_t i = 0; i < n; i++) f[i] = (float)v[i];
  free(v);
  return f;
}

static void check_shape(const gm_tensor *y, int ndim, const int64_t *shape, const char *what,
                        int k) {
  ck_assert_msg(y != NULL, "%s: output %d is NULL", what, k);
  ck_assert_msg(y->ndim == ndim, "%s: output %d has %d dimensions, want %d", what, k, y->ndim,
                ndim);
  for (int i = 0; i < ndim; i++)
    ck_assert_msg(y->shape[i] == shape[i], "%s: output %d dimension %d is %lld, want %lld",
                  what, k, i, (long long)y->shape[i], (long long)shape[i]);
}

static int gets_grad(const op_case *c, int k) {
  return !c->forward_only && !c->skip_grad[k] && !c->absent[k] && c->dtype[k] != GM_I32;
}

void gmt_run_op_case(const op_case *c, uint64_t seed) {
  gm_error err = {0};
  gm_device *dev = gmt_device();
  ck_assert_msg(c->op != NULL, "%s: the case names no op", c->name);
  gmt_rng r;
  gmt_rng_seed(&r, seed);
  size_t n[GMT_OP_MAX_IN];
  float *hx[GMT_OP_MAX_IN];
  double *dx[GMT_OP_MAX_IN];
  gm_tensor *tx[GMT_OP_MAX_IN] = {0};
  for (int k = 0; k < c->n_in; k++) {
    n[k] = gmt_numel(c->ndim[k], c->shape[k]);
    hx[k] = malloc(n[k] * 4 + 4);
    dx[k] = malloc(n[k] * sizeof(double) + 8);
    if (c->fill) c->fill(&r, hx[k], n[k], k, c);
    else gmt_fill_uniform(&r, hx[k], n[k], c->lo[k], c->hi[k]);
  }
  if (c->fill_all) c->fill_all(&r, hx, n, c);
  for (int k = 0; k < c->n_in; k++) {
    for (size_t i = 0; i < n[k]; i++) dx[k][i] = hx[k][i];
    if (c->absent[k]) continue;
    tx[k] = input_tensor(c, k, hx[k], n[k]);
    if (c->dtype[k] != GM_I32)
      gmt_ok(gm_tensor_set_requires_grad(tx[k], gets_grad(c, k), &err), &err);
  }
  int n_out = c->n_out ? c->n_out : 1;
  ck_assert_int_le(n_out, GMT_OP_MAX_OUT);
  gm_tensor *y[GMT_OP_MAX_OUT] = {0};
  gmt_ok(c->call(y, tx, c, &err), &err);
  const int ndims[GMT_OP_MAX_OUT] = {c->out_ndim, c->out2_ndim};
  const int64_t *shapes[GMT_OP_MAX_OUT] = {c->out_shape, c->out2_shape};
  size_t n_y[GMT_OP_MAX_OUT] = {0}, n_all = 0;
  for (int j = 0; j < n_out; j++) {
    check_shape(y[j], ndims[j], shapes[j], c->name, j);
    ck_assert_msg(y[j]->dtype == c->out_dtype[j], "%s: output %d has dtype %d, want %d",
                  c->name, j, (int)y[j]->dtype, (int)c->out_dtype[j]);
    n_all += n_y[j] = gmt_numel(ndims[j], shapes[j]);
  }
  double *want = malloc(n_all * sizeof(double) + 8);
  c->ref((void *)c, dx, want);
  double rtol = c->exact ? 0 : c->rtol ? c->rtol : 1e-4;
  double atol = c->exact ? 0 : c->atol ? c->atol : 1e-5;
  for (int j = 0, at = 0; j < n_out; at += (int)n_y[j], j++) {
    float *got = read_output(y[j]), *wantf = malloc(n_y[j] * 4 + 4);
    for (size_t i = 0; i < n_y[j]; i++) wantf[i] = (float)want[at + i];
    char what[160];
    snprintf(what, sizeof what, "%s: output %d", c->name, j);
    gmt_assert_close(got, wantf, n_y[j], rtol, atol, n_out > 1 ? what : c->name);
    free(got);
    free(wantf);
  }

  if (!c->forward_only) {
    /* L = sum r_i y0_i: the reference's other outputs do not enter the differences */
    size_t n0 = n_y[0];
    float *up = malloc(n0 * 4 + 4);
    double *upd = calloc(n_all + 1, sizeof(double));
    gmt_fill_uniform(&r, up, n0, -1, 1);
    for (size_t i = 0; i < n0; i++) upd[i] = up[i];
    gmt_backward_from(y[0], up);
    for (int k = 0; k < c->n_in; k++) {
      if (!tx[k]) continue;
      if (!gets_grad(c, k)) {
        ck_assert_msg(tx[k]->grad == NULL, "%s: input %d got a gradient", c->name, k);
        continue;
      }
      double *fd = malloc(n[k] * sizeof(double) + 8);
      gmt_fd_grad(c->ref, (void *)c, dx, k, n[k], n_all, upd, c->fd_eps ? c->fd_eps : 1e-3,
                  fd);
      ck_assert_msg(tx[k]->grad != NULL, "%s: input %d got no gradient", c->name, k);
      float *g = gmt_read(tx[k]->grad);
      char what[160];
      snprintf(what, sizeof what, "%s: gradient of input %d", c->name, k);
      gmt_assert_grad(g, fd, n[k], c->grad_rtol ? c->grad_rtol : 1e-3,
                      c->grad_atol ? c->grad_atol : 1e-6, what);
      free(g);
      free(fd);
    }
    free(up);
    free(upd);
  }
  if (c->check) c->check(c, tx, dx, y);
  gmt_cover(c->op);
  gm_tape_reset(dev);
  for (int k = 0; k < c->n_in; k++) {
    gm_tensor_destroy(tx[k]);
    free(hx[k]);
    free(dx[k]);
  }
  free(want);
}

void gmt_backward_from(gm_tensor *y, const float *r) {
  gm_error err = {0};
  gm_tensor *g;
  gmt_ok(gm__grad(y, &g, &err), &err);
  gmt_ok(gm_tensor_write(g, r, gm_tensor_bytes(g), &err), &err);
  gmt_ok(gm__backward_seeded(y, &err), &err);
}
