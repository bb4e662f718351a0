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

void gmt_run_op_case(const op_case *c, uint64_t seed) {
  gm_error err = {0};
  gm_device *dev = gmt_device();
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
    for (size_t i = 0; i < n[k]; i++) dx[k][i] = hx[k][i];
    tx[k] = gmt_tensor_from(c->ndim[k], c->shape[k], hx[k]);
    gmt_ok(gm_tensor_set_requires_grad(tx[k], !c->skip_grad[k], &err), &err);
  }
  gm_tensor *y = NULL;
  gmt_ok(c->call(&y, tx, c, &err), &err);
  ck_assert_int_eq(y->ndim, c->out_ndim);
  for (int i = 0; i < c->out_ndim; i++) ck_assert_int_eq(y->shape[i], c->out_shape[i]);
  size_t n_out = gmt_numel(c->out_ndim, c->out_shape);
  double *want = malloc(n_out * sizeof(double) + 8);
  c->ref((void *)c, dx, want);
  float *got = gmt_read(y), *wantf = malloc(n_out * 4 + 4);
  for (size_t i = 0; i < n_out; i++) wantf[i] = (float)want[i];
  gmt_assert_close(got, wantf, n_out, c->rtol ? c->rtol : 1e-4, c->atol ? c->atol : 1e-5,
                   c->name);

  float *up = malloc(n_out * 4 + 4);
  double *upd = malloc(n_out * sizeof(double) + 8);
  gmt_fill_uniform(&r, up, n_out, -1, 1);
  for (size_t i = 0; i < n_out; i++) upd[i] = up[i];
  gmt_backward_from(y, up);
  for (int k = 0; k < c->n_in; k++) {
    if (c->skip_grad[k]) {
      ck_assert_ptr_null(tx[k]->grad);
      continue;
    }
    double *fd = malloc(n[k] * sizeof(double) + 8);
    gmt_fd_grad(c->ref, (void *)c, dx, k, n[k], n_out, upd, 1e-3, fd);
    ck_assert_ptr_nonnull(tx[k]->grad);
    float *g = gmt_read(tx[k]->grad);
    char what[128];
    snprintf(what, sizeof what, "%s: gradient of input %d", c->name, k);
    gmt_assert_grad(g, fd, n[k], c->grad_rtol ? c->grad_rtol : 1e-3,
                    c->grad_atol ? c->grad_atol : 1e-6, what);
    free(g);
    free(fd);
  }
  gm_tape_reset(dev);
  for (int k = 0; k < c->n_in; k++) {
    gm_tensor_destroy(tx[k]);
    free(hx[k]);
    free(dx[k]);
  }
  free(want);
  free(wantf);
  free(got);
  free(up);
  free(upd);
}
