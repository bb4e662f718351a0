/* See testlib.h. */
#include "testlib.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static gm_device *g_dev;

gm_device *gmt_device(void) {
  if (g_dev) return g_dev;
  gm_error err = {0};
  int rc = gm_device_create(&g_dev, NULL, &err);
  ck_assert_msg(rc == 0, "no device for the tests: %s", err.msg);
  return g_dev;
}

void gmt_device_close(void) {
  gm_device_destroy(g_dev);
  g_dev = NULL;
}

void gmt_rng_seed(gmt_rng *r, uint64_t seed) { r->s = seed * 0x9E3779B97F4A7C15ull + 1; }

static uint64_t next_u64(gmt_rng *r) {
  uint64_t x = r->s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  r->s = x;
  return x * 0x2545F4914F6CDD1Dull;
}

float gmt_uniform(gmt_rng *r, float lo, float hi) {
  double u = (double)(next_u64(r) >> 11) * (1.0 / 9007199254740992.0);
  return (float)(lo + (hi - lo) * u);
}

float gmt_normal(gmt_rng *r) {
  double u1 = ((double)(next_u64(r) >> 11) + 1.0) * (1.0 / 9007199254740993.0);
  double u2 = (double)(next_u64(r) >> 11) * (1.0 / 9007199254740992.0);
  return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

void gmt_fill_uniform(gmt_rng *r, float *x, size_t n, float lo, float hi) {
  for (size_t i = 0; i < n; i++) x[i] = gmt_uniform(r, lo, hi);
}

void gmt_assert_close_(const float *got, const float *want, size_t n, double rtol,
                       double atol, const char *what, const char *file, int line) {
  for (size_t i = 0; i < n; i++) {
    double g = got[i], w = want[i];
    double tol = atol + rtol * fabs(w);
    if (!(fabs(g - w) <= tol)) {
      ck_assert_msg(0, "%s:%d: %s: element %zu of %zu: got %.9g, want %.9g (tol %.3g)", file,
                    line, what, i, n, g, w, tol);
    }
  }
}

gm_tensor *gmt_tensor_from(int ndim, const int64_t *shape, const float *data) {
  gm_error err = {0};
  gm_tensor *t = NULL;
  gmt_ok(gm_tensor_create(&t, gmt_device(), GM_F32, ndim, shape, &err), &err);
  if (data) gmt_ok(gm_tensor_write(t, data, gm_tensor_bytes(t), &err), &err);
  return t;
}

float *gmt_read(const gm_tensor *t) {
  gm_error err = {0};
  float *h = malloc(gm_tensor_bytes(t) ? gm_tensor_bytes(t) : 1);
  ck_assert_ptr_nonnull(h);
  gmt_ok(gm_tensor_read(t, h, gm_tensor_bytes(t), &err), &err);
  return h;
}

static int skipped;

void gmt_skip(const char *test, const char *why) {
  fprintf(stderr, "%s: skipped: %s\n", test, why);
  skipped++;
}

int gmt_require_file(const char *test, const char *path, const char *package) {
  if (access(path, R_OK) == 0) return 1;
  char why[1200];
  snprintf(why, sizeof why, "needs %s (Debian package %s)", path, package);
  gmt_skip(test, why);
  return 0;
}

/* ---- op coverage ---- */

static const char *g_covered[256];
static int g_n_covered;

void gmt_cover(const char *op) {
  ck_assert_msg(op && strncmp(op, "gm_", 3) == 0, "gmt_cover: '%s' names no public op",
                op ? op : "(null)");
  for (int i = 0; i < g_n_covered; i++)
    if (strcmp(g_covered[i], op) == 0) return;
  ck_assert_int_lt(g_n_covered, (int)(sizeof g_covered / sizeof *g_covered));
  g_covered[g_n_covered++] = op;
}

/* GMT_OP_COVERAGE_DIR/<this program>.ops holds what this run covered; a run that covered
 * nothing removes the file, so that a suite whose cases were all deleted leaves none. */
static void cover_write(void) {
  char exe[1024], path[1400];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return;
  exe[n] = '\0';
  const char *base = strrchr(exe, '/');
  base = base ? base + 1 : exe;
  mkdir(GMT_OP_COVERAGE_DIR, 0777);
  snprintf(path, sizeof path, "%s/%s.ops", GMT_OP_COVERAGE_DIR, base);
  if (g_n_covered == 0) {
    unlink(path);
    return;
  }
  FILE *f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, "cannot write %s\n", path);
    return;
  }
  for (int i = 0; i < g_n_covered; i++) fprintf(f, "%s\n", g_covered[i]);
  fclose(f);
}

static gm_registry *g_build_reg;

gm_registry *gmt_build_registry(void) {
  if (g_build_reg) return g_build_reg;
  gm_error err = {0};
  const char *dirs[] = {GM_BUILD_PLUGIN_DIR};
  gmt_ok(gm_registry_create(&g_build_reg, dirs, 1, &err), &err);
  return g_build_reg;
}

void gmt_build_registry_close(void) {
  gm_registry_destroy(g_build_reg);
  g_build_reg = NULL;
}

int gmt_small_shapes(void) {
  const char *v = getenv("GM_TEST_SHAPES");
  return v && strcmp(v, "small") == 0;
}

int gmt_have_noto(const char *test) {
  return gmt_require_file(test, GMT_NOTO_FONT, "fonts-noto-color-emoji") &&
         gmt_require_file(test, GMT_EMOJI_TEST, "unicode-data");
}

double gmt_now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

gm_tensor *gmt_new_f32(int64_t n) {
  gm_error err = {0};
  gm_tensor *t;
  gmt_ok(gm_tensor_create(&t, gmt_device(), GM_F32, 1, GM_SHAPE(n), &err), &err);
  return t;
}

int gmt_run(Suite *s) {
  SRunner *sr = srunner_create(s);
  /* No fork: an OpenCL context does not survive fork(), and one device per process
   * keeps PoCL from rebuilding the program for every test. */
  srunner_set_fork_status(sr, CK_NOFORK);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  cover_write();
  gmt_device_close();
  if (failed) return 1;
  if (skipped) fprintf(stderr, "%d test(s) skipped\n", skipped);
  return skipped ? GMT_SKIP_CODE : 0;
}

const char *gmt_tmpdir(void) {
  static char path[1024];
  if (path[0]) return path;
  snprintf(path, sizeof path, "%s/tmp-XXXXXX", GM_TEST_BINARY_DIR);
  if (!mkdtemp(path)) {
    snprintf(path, sizeof path, "/tmp/gmtest-%d", (int)getpid());
    mkdir(path, 0700);
  }
  return path;
}

void gmt_fd_grad(gmt_ref_fn f, void *ctx, double *const *inputs, int which, size_t n_in,
                 size_t n_out, const double *r, double eps, double *grad) {
  double *out = malloc(n_out * sizeof *out);
  ck_assert_ptr_nonnull(out);
  double *x = inputs[which];
  for (size_t i = 0; i < n_in; i++) {
    double keep = x[i];
    x[i] = keep + eps;
    f(ctx, inputs, out);
    double lp = 0;
    for (size_t j = 0; j < n_out; j++) lp += r[j] * out[j];
    x[i] = keep - eps;
    f(ctx, inputs, out);
    double lm = 0;
    for (size_t j = 0; j < n_out; j++) lm += r[j] * out[j];
    x[i] = keep;
    grad[i] = (lp - lm) / (2 * eps);
  }
  free(out);
}

void gmt_assert_grad_(const float *got, const double *want, size_t n, double rtol, double atol,
                      const char *what, const char *file, int line) {
  double scale = 0;
  for (size_t i = 0; i < n; i++)
    if (fabs(want[i]) > scale) scale = fabs(want[i]);
  for (size_t i = 0; i < n; i++) {
    double tol = atol + rtol * scale;
    if (!(fabs(got[i] - want[i]) <= tol))
      ck_assert_msg(0, "%s:%d: %s: gradient element %zu of %zu: got %.9g, finite differences %.9g "
                    "(tol %.3g)", file, line, what, i, n, (double)got[i], want[i], tol);
  }
}

static gm_registry *g_models;

const gm_model_vtable *gmt_model_plugin(const char *name) {
  gm_error err = {0};
  if (!g_models) gmt_ok(gm_registry_create(&g_models, NULL, 0, &err), &err);
  const gm_plugin_record *r = gm_registry_find(g_models, GM_PLUGIN_KIND_MODEL, name);
  ck_assert_msg(r != NULL, "no model plugin '%s' on %s", name, gm_registry_search_path(g_models));
  return r->vtable;
}

void gmt_model_plugins_close(void) {
  gm_registry_destroy(g_models);
  g_models = NULL;
}

gm_model *gmt_model_create(const gm_model_vtable *vt, const char *preset,
                           const char *const *sets, int n_sets, uint64_t seed) {
  gm_error err = {0};
  gm_resolved_options ro;
  gmt_ok(gm_model_options_resolve(vt, preset, sets, n_sets, &ro, &err), &err);
  gm_rng rng;
  gm_rng_init(&rng, seed, 0);
  gm_model *m = NULL;
  gmt_ok(vt->create(&m, gmt_device(), ro.model, ro.n_model, &rng, &err), &err);
  gm_model_options_free(&ro);
  return m;
}

void gmt_progress(void *ctx, int64_t done, int64_t total) {
  gmt_progress_log *l = ctx;
  ck_assert_msg(done > l->done, "progress went from %lld to %lld", (long long)l->done,
                (long long)done);
  l->calls++;
  l->done = done;
  l->total = total;
}

gm_model *gmt_tiny_unet(const gm_model_vtable *vt, const char *T, const char *schedule,
                        uint64_t seed) {
  const char *sets[] = {"size=8", "ch=8", "mult=1,2", "blocks=1", "dropout=0", T, schedule};
  gm_model *m = gmt_model_create(vt, "unet", sets, 7, seed);
  gm_error err = {0};
  gm_rng rng;
  gm_rng_init(&rng, seed + 1, 3);
  gm_params *p = vt->params(m);
  gmt_ok(gm_init_uniform(gm_params_find(p, "out.conv.weight"), 0.2f, &rng, &err), &err);
  gmt_ok(gm_init_uniform(gm_params_find(p, "out.conv.bias"), 0.2f, &rng, &err), &err);
  return m;
}

uint32_t gmt_rng_word(const gm_rng *r, size_t i) {
  uint64_t block = r->offset + i / 4;
  uint32_t ctr[4] = {(uint32_t)block, (uint32_t)(block >> 32), (uint32_t)r->stream,
                     (uint32_t)(r->stream >> 32)};
  uint32_t key[2] = {(uint32_t)r->seed, (uint32_t)(r->seed >> 32)}, out[4];
  gm_philox4x32_10(ctr, key, out);
  return out[i % 4];
}

float gmt_rng_unit(uint32_t x) { return (float)(x >> 8) * 0x1.0p-24f; }

gm_text_cond gmt_text_cond(const gm_vocab *v, const char *const *texts, int n_texts, int n,
                           int empty) {
  gm_error err = {0};
  gm_text_cond c;
  gmt_ok(gm_text_cond_create(gmt_device(), n, &c, &err), &err);
  const char **rows = malloc(sizeof *rows * (size_t)n);
  ck_assert(rows != NULL);
  for (int i = 0; i < n; i++) rows[i] = empty ? "" : texts[i % n_texts];
  gmt_ok(gm_text_batch_write(v, rows, n, c.ids, c.mask, c.empty, NULL, &err), &err);
  free(rows);
  return c;
}

void gmt_assert_grad_nonzero(gm_params *p, const char *name) {
  gm_tensor *t = gm_params_find(p, name);
  ck_assert_msg(t && t->grad, "no gradient for %s", name);
  float *g = gmt_read(t->grad);
  double sum = 0;
  for (int64_t i = 0; i < t->numel; i++) sum += fabs(g[i]);
  free(g);
  ck_assert_msg(sum > 0 && isfinite(sum), "%s: gradient sum %g", name, sum);
}
