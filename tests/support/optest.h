/* The op-test harness: one op case is run forward against its double reference, then
 * every input's gradient is checked against central finite differences of that
 * reference. Shared by the op families' test suites. Every case names the public op it
 * covers (op); test_op_coverage fails when an op of op_list.h has no passing case. */
#ifndef GM_OPTEST_H
#define GM_OPTEST_H

#include "testlib.h"

#define GMT_OP_MAX_IN 5
#define GMT_OP_MAX_OUT 2

typedef struct op_case op_case;
struct op_case {
  const char *name;
  const char *op;                     /* the public op function covered: "gm_conv2d" */
  int n_in;
  int ndim[GMT_OP_MAX_IN];
  int64_t shape[GMT_OP_MAX_IN][GM_MAX_DIMS];
  float lo[GMT_OP_MAX_IN], hi[GMT_OP_MAX_IN]; /* uniform random inputs in [lo, hi) */
  /* optional: fills input k instead of the uniform draw (away from kinks or ties) */
  void (*fill)(gmt_rng *r, float *x, size_t n, int k, const op_case *c);
  /* optional: runs after every input is drawn, to make inputs that depend on each other */
  void (*fill_all)(gmt_rng *r, float *const *x, const size_t *n, const op_case *c);
  gm_dtype dtype[GMT_OP_MAX_IN];      /* GM_I32: the drawn values as int32, no gradient */
  int absent[GMT_OP_MAX_IN];          /* 1: the op gets NULL; the reference still sees
                                       * the drawn values (its stand-in: zeros, ones) */
  /* y[0 .. n_out) are the outputs; the upstream gradient goes into y[0] */
  int (*call)(gm_tensor **y, gm_tensor *const *x, const op_case *c, gm_error *err);
  gmt_ref_fn ref;                     /* ctx is the op_case; writes the outputs one after
                                       * the other (an int32 output as its values) */
  int n_out;                          /* 0 means 1 */
  int out_ndim;
  int64_t out_shape[GM_MAX_DIMS];
  int out2_ndim;                      /* the second output, when n_out is 2 */
  int64_t out2_shape[GM_MAX_DIMS];
  gm_dtype out_dtype[GMT_OP_MAX_OUT]; /* each output's dtype (default GM_F32) */
  int skip_grad[GMT_OP_MAX_IN];       /* 1: input k gets no gradient (nor a check) */
  int forward_only;                   /* 1: no input requires grad, no backward pass */
  int exact;                          /* 1: the forward must match bit for bit */
  double rtol, atol;                  /* forward; 0 means 1e-4 and 1e-5 */
  double grad_rtol, grad_atol;        /* backward; 0 means 1e-3 and 1e-6 */
  double fd_eps;                      /* finite-difference step; 0 means 1e-3 */
  /* optional: more checks once forward and gradients passed (in: the inputs in double) */
  void (*check)(const op_case *c, gm_tensor *const *x, double *const *in,
                gm_tensor *const *y);
  const void *data;                   /* the suite's own description of the case */
  float p[4];                         /* op parameters */
  int ip[GM_MAX_DIMS];
};

size_t gmt_numel(int ndim, const int64_t *shape);
/* Seeds y->grad with r (n = y->numel floats) and runs the tape backwards from y (through
 * the engine's internal gm__backward_seeded: suites that link the static engine only). */
void gmt_backward_from(gm_tensor *y, const float *r);
/* Draws the inputs from seed, runs c->call, compares with c->ref, seeds a random upstream
 * gradient and checks every input's gradient (unless skip_grad or forward_only), then
 * runs c->check and records c->op as covered. */
void gmt_run_op_case(const op_case *c, uint64_t seed);

#endif
