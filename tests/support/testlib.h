/* Shared helpers for the Check suites: one device per test process, seeded host
 * random data, and array comparisons that print the first mismatch with both values. */
#ifndef GM_TESTLIB_H
#define GM_TESTLIB_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

#include "genmoji/gm.h"

/* The device every test in this process uses (opened on first call, never NULL: a
 * failure to open one fails the test with the engine's message). */
gm_device *gmt_device(void);
void gmt_device_close(void);

/* xorshift-based host random numbers, seeded per call site so tests are repeatable. */
typedef struct gmt_rng { uint64_t s; } gmt_rng;
void gmt_rng_seed(gmt_rng *r, uint64_t seed);
float gmt_uniform(gmt_rng *r, float lo, float hi);
float gmt_normal(gmt_rng *r);
void gmt_fill_uniform(gmt_rng *r, float *x, size_t n, float lo, float hi);

/* Asserts |got - want| <= atol + rtol * |want| for every element; on failure names the
 * first bad index with both values. */
void gmt_assert_close_(const float *got, const float *want, size_t n, double rtol,
                       double atol, const char *what, const char *file, int line);
#define gmt_assert_close(got, want, n, rtol, atol, what) \
  gmt_assert_close_((got), (want), (n), (rtol), (atol), (what), __FILE__, __LINE__)

/* Fails the test with err's message when rc != 0. */
#define gmt_ok(rc, err)                                                               \
  do {                                                                                \
    int gmt_rc_ = (rc);                                                               \
    ck_assert_msg(gmt_rc_ == 0, "%s failed: %s (%s)", #rc, (err)->msg,                \
                  gm_err_name(gmt_rc_));                                              \
  } while (0)

/* A tensor made from host data (caller destroys). */
gm_tensor *gmt_tensor_from(int ndim, const int64_t *shape, const float *data);
/* Reads a tensor into a malloc'd host array (caller frees). */
float *gmt_read(const gm_tensor *t);

/* Runs a suite built by make_suite; returns the process exit code. */
int gmt_run(Suite *s);

/* A fresh temporary folder under the build tree, for files a test writes. */
const char *gmt_tmpdir(void);

#endif
