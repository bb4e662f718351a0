/* The sinusoidal timestep embedding against a double reference (DDPM convention), its
 * gradient into t against finite differences, and refusals. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "testlib.h"

/* ---- the harness: one op case, forward against its double reference, then every
 * input's gradient against central finite differences of that reference ---- */

#define MAX_IN 5

typedef struct op_case op_case;
struct op_case {
  const char *name;
  int n_in;
  int ndim[MAX_IN];
  int64_t shape[MAX_IN][GM_MAX_DIMS];
  float lo[MAX_IN], hi[MAX_IN];       /* uniform random inputs in [lo, hi) */
  /* optional: fills input k instead of the uniform draw (away from kinks or ties) */
  void (*fill)(gmt_rng *r, float *x, size_t n, int k, const op_case *c);
  int (*call)(gm_tensor **y, gm_tensor *const *x, const op_case *c, gm_error *err);
  gmt_ref_fn ref;                     /* ctx is the op_case */
  int out_ndim;
  int64_t out_shape[GM_MAX_DIMS];
  int skip_grad[MAX_IN];              /* 1: input k gets no gradient (nor a check) */
  double rtol, atol;                  /* forward; 0 means 1e-4 and 1e-5 */
  double grad_rtol, grad_atol;        /* backward; 0 means 1e-3 and 1e-6 */
  float p[4];                         /* op parameters */
  int ip[GM_MAX_DIMS];
};

static size_t numel_of(int ndim, const int64_t *shape) {
  size_t n = 1;
  for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
  return n;
}

static void run_case(const op_case *c, uint64_t seed) {
  gm_error err = {0};
  gm_device *dev = gmt_device();
  gmt_rng r;
  gmt_rng_seed(&r, seed);
  size_t n[MAX_IN];
  float *hx[MAX_IN];
  double *dx[MAX_IN];
  gm_tensor *tx[MAX_IN] = {0};
  for (int k = 0; k < c->n_in; k++) {
    n[k] = numel_of(c->ndim[k], c->shape[k]);
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
  size_t n_out = numel_of(c->out_ndim, c->out_shape);
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

/* ip[0] = dim; f_i = exp(-ln(10000) i / (half - 1)) */
static void ref_embedding(void *ctx, double *const *in, double *out) {
  const op_case *c = ctx;
  int64_t batch = c->shape[0][0], dim = c->ip[0], half = dim / 2;
  for (int64_t b = 0; b < batch; b++)
    for (int64_t i = 0; i < half; i++) {
      double f = exp(-log(10000.0) * (double)i / (double)(half - 1)), a = in[0][b] * f;
      out[b * dim + i] = sin(a);
      out[b * dim + half + i] = cos(a);
    }
}

static int call_embedding(gm_tensor **y, gm_tensor *const *x, const op_case *c, gm_error *err) {
  return gm_sinusoidal_embedding(y, x[0], c->ip[0], err);
}

/* Integer timesteps 0 .. hi - 1, as a DDPM draws them. */
static void fill_timesteps(gmt_rng *r, float *x, size_t n, int k, const op_case *c) {
  (void)k;
  for (size_t i = 0; i < n; i++) x[i] = floorf(gmt_uniform(r, 0, c->hi[0]));
}

static const int64_t emb_batch[] = {1, 5, 8, 3};
static const int emb_dim[] = {4, 8, 32, 128};

START_TEST(sinusoidal_embedding_matches_reference_for_small_t) {
  op_case c = {.name = "sinusoidal embedding", .n_in = 1, .ndim = {1},
               .shape = {{emb_batch[_i]}}, .lo = {0}, .hi = {4}, .call = call_embedding,
               .ref = ref_embedding, .out_ndim = 2, .out_shape = {emb_batch[_i], emb_dim[_i]},
               .ip = {emb_dim[_i]}};
  run_case(&c, 400 + _i);
}
END_TEST

START_TEST(sinusoidal_embedding_matches_reference_for_ddpm_timesteps) {
  /* t up to 999: the float32 argument t f_i is off by |t f_i| 2^-24 from rounding (6e-5 at
   * t = 999) plus up to 3 ulp of OpenCL's exp in f_i (1.8e-4 more), so the forward
   * tolerance is absolute 4e-4 (PoCL stays under 3e-5); the gradient into t is checked on
   * the same data. */
  op_case c = {.name = "sinusoidal embedding, integer t", .n_in = 1, .ndim = {1},
               .shape = {{16}}, .hi = {1000}, .fill = fill_timesteps, .call = call_embedding,
               .ref = ref_embedding, .out_ndim = 2, .out_shape = {16, 128}, .ip = {128},
               .atol = 4e-4, .grad_rtol = 2e-3};
  run_case(&c, 410);
}
END_TEST

START_TEST(sinusoidal_embedding_known_values) {
  /* dim 4: half 2, f = {1, 1e-4}; t = 1 -> {sin 1, sin 1e-4, cos 1, cos 1e-4}; t = 0 -> {0, 0, 1, 1} */
  gm_error err = {0};
  gm_tensor *t = gmt_tensor_from(1, GM_SHAPE(2), (float[]){1, 0}), *y;
  gmt_ok(gm_sinusoidal_embedding(&y, t, 4, &err), &err);
  ck_assert_int_eq(y->ndim, 2);
  ck_assert_int_eq(y->shape[0], 2);
  ck_assert_int_eq(y->shape[1], 4);
  float *got = gmt_read(y);
  gmt_assert_close(got, ((float[]){0.841470985f, 1e-4f, 0.540302306f, 1, 0, 0, 1, 1}), 8, 1e-6,
                   1e-7, "embedding of t = 1 and t = 0");
  free(got);
  gm_tape_reset(gmt_device());
  gm_tensor_destroy(t);
}
END_TEST

START_TEST(sinusoidal_embedding_refuses_bad_arguments) {
  gm_error err = {0};
  gm_tensor *t = gmt_tensor_from(1, GM_SHAPE(3), NULL);
  gm_tensor *t2 = gmt_tensor_from(2, GM_SHAPE(3, 1), NULL), *y = NULL;
  ck_assert_int_eq(gm_sinusoidal_embedding(&y, t, 7, &err), GM_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "got 7"));
  ck_assert_int_eq(gm_sinusoidal_embedding(&y, t, 2, &err), GM_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "at least 4"));
  ck_assert_int_eq(gm_sinusoidal_embedding(&y, t2, 8, &err), GM_ESHAPE);
  ck_assert_ptr_nonnull(strstr(err.msg, "(3, 1)"));
  gm_tensor_destroy(t);
  gm_tensor_destroy(t2);
}
END_TEST

int main(void) {
  Suite *s = suite_create("ops_embed");
  TCase *tc = tcase_create("embed");
  tcase_add_loop_test(tc, sinusoidal_embedding_matches_reference_for_small_t, 0, 4);
  tcase_add_test(tc, sinusoidal_embedding_matches_reference_for_ddpm_timesteps);
  tcase_add_test(tc, sinusoidal_embedding_known_values);
  tcase_add_test(tc, sinusoidal_embedding_refuses_bad_arguments);
  suite_add_tcase(s, tc);
  return gmt_run(s);
}
