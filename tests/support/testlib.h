/* Shared helpers for the Check suites: one device per test process, seeded host
 * random data, and array comparisons that print the first mismatch with both values. */
#ifndef GM_TESTLIB_H
#define GM_TESTLIB_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

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

/* Gradient checks. A reference computes out[0..n_out) from inputs in double. The check
 * seeds a random upstream gradient r, so L = sum_i r_i out_i, and compares the engine's
 * input gradients with central finite differences of L on the reference. */
typedef void (*gmt_ref_fn)(void *ctx, double *const *inputs, double *out);
/* Fills grad[0..n_in) with dL/d(inputs[which]) by central differences (step eps). */
void gmt_fd_grad(gmt_ref_fn f, void *ctx, double *const *inputs, int which, size_t n_in,
                 size_t n_out, const double *r, double eps, double *grad);
/* Asserts that got (float) matches want (double) within rtol relative to the largest
 * |want| (plus atol), naming the first bad index. */
void gmt_assert_grad_(const float *got, const double *want, size_t n, double rtol, double atol,
                      const char *what, const char *file, int line);
#define gmt_assert_grad(got, want, n, rtol, atol, what) \
  gmt_assert_grad_((got), (want), (n), (rtol), (atol), (what), __FILE__, __LINE__)

/* Model plugins as the host loads them: the registry is created once per process
 * (GM_PLUGIN_PATH is set by ctest); gmt_model_plugins_close unloads it. */
const gm_model_vtable *gmt_model_plugin(const char *name);
void gmt_model_plugins_close(void);
/* A model of that plugin from a preset plus --set strings ("key=value"), its parameters
 * drawn from the rng (seed, stream 0). */
gm_model *gmt_model_create(const gm_model_vtable *vt, const char *preset,
                           const char *const *sets, int n_sets, uint64_t seed);

/* Fails the test unless parameter `name` of p has a gradient that is finite and not all
 * zero (after a backward). */
void gmt_assert_grad_nonzero(gm_params *p, const char *name);

/* n rows of texts[i % n_texts] (every one "" when empty) as a text condition on the test
 * device, encoded with v; free with gm_text_cond_free. */
gm_text_cond gmt_text_cond(const gm_vocab *v, const char *const *texts, int n_texts, int n,
                           int empty);

/* A tiny time-conditioned U-Net of the ddpm plugin (vt) on 8x8 images ("unet" preset,
 * ch 8, mult 1,2, one block, no dropout, plus the T and schedule settings given as
 * "timesteps=N" and "schedule=NAME"), its zero-initialised output conv redrawn so that it
 * predicts something that depends on x and t. */
gm_model *gmt_tiny_unet(const gm_model_vtable *vt, const char *T, const char *schedule,
                        uint64_t seed);

/* What a sampler's progress callback reported, with gmt_progress as the callback and a
 * zeroed log as its context: the calls, the last done and total. A check fails if done
 * does not increase from call to call. */
typedef struct gmt_progress_log {
  int calls;
  int64_t done, total;
} gmt_progress_log;
void gmt_progress(void *ctx, int64_t done, int64_t total);

/* The device RNG's documented mapping (rng.h) on the host: word i of stream r (Philox
 * block r->offset + i / 4, lane i % 4), and a word's top 24 bits as a float in [0, 1). */
uint32_t gmt_rng_word(const gm_rng *r, size_t i);
float gmt_rng_unit(uint32_t x);

/* Runs a suite built by make_suite; returns the process exit code: 1 if a test failed,
 * else GMT_SKIP_CODE if a test skipped (ctest's SKIP_RETURN_CODE for every suite), else 0. */
int gmt_run(Suite *s);

/* Skips: a test that cannot run for want of something on the system calls gmt_skip (or
 * gmt_require_file) and returns. The reason goes to stderr as "<test>: skipped: <why>" and
 * the suite's process then exits GMT_SKIP_CODE, so ctest reports the suite as skipped
 * rather than passed, even when its other tests ran. */
#define GMT_SKIP_CODE 77
void gmt_skip(const char *test, const char *why);
/* 1 when path is readable; else skips test naming the path and the Debian package that
 * provides it, and returns 0:  if (!gmt_require_file(__func__, PATH, "pkg")) return; */
int gmt_require_file(const char *test, const char *path, const char *package);

/* Op coverage: records that a test of this process exercised op (a public op function's
 * name, as in op_list.h) and passed its checks so far. gmt_run_op_case records its case's
 * op; tests that check an op without an op_case (refusals, inference-only paths, in-place
 * writes) call it themselves. gmt_run writes the set, one name a line, to
 * GMT_OP_COVERAGE_DIR/<program>.ops, which test_op_coverage reads. */
#define GMT_OP_COVERAGE_DIR GM_TEST_BINARY_DIR "/op_coverage"
void gmt_cover(const char *op);

/* The registry of the build's plugin folder (GM_BUILD_PLUGIN_DIR), created on first call;
 * gmt_build_registry_close destroys it. */
gm_registry *gmt_build_registry(void);
void gmt_build_registry_close(void);

/* A small-shapes run: GM_TEST_SHAPES=small, for slow simulators (Oclgrind). Suites then
 * pick shapes that still reach every kernel and code path, only smaller and fewer;
 * without it they keep their full shapes. */
int gmt_small_shapes(void);

/* Refusals: call, which may use the locals y_ (a gm_tensor *) and e_ (its gm_error),
 * must return code with a message that holds text:
 *   EXPECT_REFUSAL(gm_gate(&y_, x, &e_), GM_ESHAPE, "channels"); */
#define EXPECT_REFUSAL(call, code, text)                                              \
  do {                                                                                \
    gm_error e_ = {0};                                                                \
    gm_tensor *y_ = NULL;                                                             \
    (void)y_;                                                                         \
    int rc_ = (call);                                                                 \
    ck_assert_msg(rc_ == (code), "%s: got %s, want %s (%s)", #call, gm_err_name(rc_), \
                  gm_err_name(code), e_.msg);                                         \
    ck_assert_msg(strstr(e_.msg, (text)) != NULL, "%s: message '%s' lacks '%s'", #call, \
                  e_.msg, (text));                                                    \
  } while (0)

/* The system files the Noto loader reads; gmt_have_noto skips test (as gmt_require_file)
 * unless both are there. */
#define GMT_NOTO_FONT "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"
#define GMT_EMOJI_TEST "/usr/share/unicode/emoji/emoji-test.txt"
int gmt_have_noto(const char *test);

/* Seconds on the monotonic clock. */
double gmt_now_s(void);

/* An uninitialised (n) F32 tensor on the test device (caller destroys). */
gm_tensor *gmt_new_f32(int64_t n);

/* A fresh temporary folder under the build tree, for files a test writes. */
const char *gmt_tmpdir(void);

#endif
