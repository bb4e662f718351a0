/* The op-test harness: one op case is run forward against its double reference, then
 * every input's gradient is checked against central finite differences of that
 * reference. Shared by the op families' test suites. */
#ifndef GM_OPTEST_H
#define GM_OPTEST_H

#include "testlib.h"

#define GMT_OP_MAX_IN 5

typedef struct op_case op_case;
struct op_case {
  const char *name;
  int n_in;
  int ndim[GMT_OP_MAX_IN];
  int64_t shape[GMT_OP_MAX_IN][GM_MAX_DIMS];
  float lo[GMT_OP_MAX_IN], hi[GMT_OP_MAX_IN]; /* uniform random inputs in [lo, hi) */
  /* optional: fills input k instead of the uniform draw (away from kinks or ties) */
  void (*fill)(gmt_rng *r, float *x, size_t n, int k, const op_case *c);
  int (*call)(gm_tensor **y, gm_tensor *const *x, const op_case *c, gm_error *err);
  gmt_ref_fn ref;                     /* ctx is the op_case */
  int out_ndim;
  int64_t out_shape[GM_MAX_DIMS];
  int skip_grad[GMT_OP_MAX_IN];       /* 1: input k gets no gradient (nor a check) */
  double rtol, atol;                  /* forward; 0 means 1e-4 and 1e-5 */
  double grad_rtol, grad_atol;        /* backward; 0 means 1e-3 and 1e-6 */
  float p[4];                         /* op parameters */
  int ip[GM_MAX_DIMS];
};

size_t gmt_numel(int ndim, const int64_t *shape);
/* Draws the inputs from seed, runs c->call, compares with c->ref, seeds a random upstream
 * gradient and checks every input's gradient (unless skip_grad). */
void gmt_run_op_case(const op_case *c, uint64_t seed);

#endif
