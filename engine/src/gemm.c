/* The one GEMM entry point. It validates the description and picks a backend per device
 * and shape (callers never name one; the rule is in choose() below): genmoji's own
 * kernels or the host's BLAS in a native kernel on CPU devices, CLBlast on GPUs. Env
 * GM_GEMM=clblast|own|native overrides the rule (a backend that cannot run is then an
 * error, not a silent fallback). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm_backend.h"

typedef struct gemm_state {
  int forced;                  /* a gm__gemm_backend, or -1 */
  char forced_text[32];        /* GM_GEMM as given, when it names no backend */
  int native_tried;
  gm__gemm_native *native;     /* NULL when unavailable */
  gm_error native_err;         /* why, when unavailable */
  gm__gemm_own *own;           /* built on first use */
} gemm_state;

static const char *const backend_names[GM__GEMM_BACKENDS] = {"clblast", "own", "native"};

const char *gm__gemm_backend_name(gm__gemm_backend b) {
  return b >= 0 && b < GM__GEMM_BACKENDS ? backend_names[b] : "?";
}

static void state_free(void *p) {
  gemm_state *s = p;
  if (!s) return;
  gm__gemm_native_destroy(s->native);
  gm__gemm_own_destroy(s->own);
  free(s);
}

static gemm_state *state_of(gm_device *dev, gm_error *err) {
  if (dev->gemm_state) return dev->gemm_state;
  gemm_state *s = calloc(1, sizeof *s);
  if (!s) {
    gm_error_set(err, GM_ENOMEM, "gemm: out of memory");
    return NULL;
  }
  s->forced = -1;
  const char *env = getenv("GM_GEMM");
  if (env && *env) {
    for (int b = 0; b < GM__GEMM_BACKENDS; b++)
      if (strcmp(env, backend_names[b]) == 0) s->forced = b;
    if (s->forced < 0) snprintf(s->forced_text, sizeof s->forced_text, "%s", env);
  }
  dev->gemm_state = s;
  dev->gemm_free = state_free;
  return s;
}

static gm__gemm_native *native_of(gm_device *dev, gemm_state *s) {
  if (!s->native_tried) {
    s->native_tried = 1;
    gm__gemm_native_create(&s->native, dev, &s->native_err);
  }
  return s->native;
}

/* The rule, from the measurements in docs/performance.md (PoCL on a 2-core AVX-512 CPU):
 * the own kernels beat CLBlast's defaults 5-40x there and match or beat OpenBLAS run
 * in a native kernel, so a CPU device whose preferred vectors are 16 floats gets the
 * own kernels; a CPU with narrower vectors (where the own tiles are unmeasured) gets the
 * host's optimised BLAS when it has one, else the own kernels; GPUs keep CLBlast and the
 * parameters its database holds for them. */
static gm__gemm_backend choose(gm_device *dev, gemm_state *s, const gm__gemm_desc *d) {
  if (s->forced >= 0) return (gm__gemm_backend)s->forced;
  if (dev->info.type != GM_DEVICE_CPU) return GM__GEMM_CLBLAST;
  if (dev->info.preferred_vector_width_float >= 16) return GM__GEMM_OWN;
  gm__gemm_native *nat = native_of(dev, s);
  if (nat && gm__gemm_native_optimised(nat) && gm__gemm_native_fits(d)) return GM__GEMM_NATIVE;
  return GM__GEMM_OWN;
}

static int check_desc(const gm__gemm_desc *d, gm_error *err) {
  size_t a_cols = d->trans_a ? d->m : d->k;   /* stored row length of A */
  size_t b_cols = d->trans_b ? d->k : d->n;
  if (d->lda < (a_cols ? a_cols : 1) || d->ldb < (b_cols ? b_cols : 1) ||
      d->ldc < (d->n ? d->n : 1))
    return gm_error_set(err, GM_EINVAL,
                        "gemm %zux%zux%zu: leading dimensions lda=%zu ldb=%zu ldc=%zu are "
                        "smaller than the rows they stride (%zu, %zu, %zu)",
                        d->m, d->n, d->k, d->lda, d->ldb, d->ldc, a_cols, b_cols, d->n);
  if (d->batch == 0) return gm_error_set(err, GM_EINVAL, "gemm: batch of 0");
  /* C = beta C alone: CLBlast refuses k = 0, and no op asks for it; the caller's mistake. */
  if (d->k == 0 && d->m && d->n)
    return gm_error_set(err, GM_EINVAL, "gemm %zux%zux0: k must be positive", d->m, d->n);
  return 0;
}

static int run(gm_device *dev, gemm_state *s, gm__gemm_backend b, const gm__gemm_desc *d,
               gm_error *err) {
  switch (b) {
  case GM__GEMM_NATIVE:
    if (!native_of(dev, s)) {
      if (err) {
        *err = s->native_err;
        gm_error_prefix(err, "GM_GEMM=native");
      }
      return s->native_err.code;
    }
    if (!gm__gemm_native_fits(d))
      return gm_error_set(err, GM_ERANGE, "GM_GEMM=native: gemm %zux%zux%zu exceeds the BLAS's "
                          "32-bit sizes", d->m, d->n, d->k);
    return gm__gemm_native_run(s->native, dev, d, err);
  case GM__GEMM_OWN:
    if (!s->own) {
      int rc = gm__gemm_own_create(&s->own, dev, err);
      if (rc) return rc;
    }
    return gm__gemm_own_run(s->own, dev, d, err);
  default:
    return gm__gemm_clblast(dev, d, err);
  }
}

int gm__gemm_with(gm_device *dev, int backend, const gm__gemm_desc *d, gm_error *err) {
  int rc = check_desc(d, err);
  if (rc) return rc;
  gemm_state *s = state_of(dev, err);
  if (!s) return GM_ENOMEM;
  if (backend < 0 && s->forced_text[0])
    return gm_error_set(err, GM_EINVAL, "GM_GEMM=%s: expected clblast, own or native",
                        s->forced_text);
  if (d->m == 0 || d->n == 0) return 0;
  return run(dev, s, backend >= 0 ? (gm__gemm_backend)backend : choose(dev, s, d), d, err);
}

int gm__gemm(gm_device *dev, const gm__gemm_desc *d, gm_error *err) {
  return gm__gemm_with(dev, -1, d, err);
}

int gm__gemm_set_forced(gm_device *dev, int backend) {
  gemm_state *s = state_of(dev, NULL);
  if (!s) return -1;
  int prev = s->forced;
  s->forced = backend >= 0 && backend < GM__GEMM_BACKENDS ? backend : -1;
  return prev;
}

gm__gemm_own *gm__gemm_own_for_conv(gm_device *dev) {
  gemm_state *s = state_of(dev, NULL);
  if (!s || s->forced_text[0]) return NULL;
  int own = s->forced >= 0 ? s->forced == GM__GEMM_OWN
                           : dev->info.type == GM_DEVICE_CPU &&
                                 dev->info.preferred_vector_width_float >= 16;
  if (!own) return NULL;
  if (!s->own && gm__gemm_own_create(&s->own, dev, NULL)) s->own = NULL;
  return s->own;
}

int gm__gemm_backend_parse(const char *name) {
  for (int b = 0; name && b < GM__GEMM_BACKENDS; b++)
    if (strcmp(name, backend_names[b]) == 0) return b;
  return -1;
}

const char *gm_gemm_backend(gm_device *dev, int trans_a, int trans_b, int64_t m, int64_t n,
                            int64_t k) {
  gemm_state *s = state_of(dev, NULL);
  if (!s || s->forced_text[0]) return "invalid GM_GEMM";
  gm__gemm_desc d = {.trans_a = trans_a, .trans_b = trans_b, .m = (size_t)m,
                     .n = (size_t)n, .k = (size_t)k, .lda = (size_t)(trans_a ? m : k),
                     .ldb = (size_t)(trans_b ? k : n), .ldc = (size_t)n, .batch = 1};
  return gm__gemm_backend_name(choose(dev, s, &d));
}

int gm_gemm_backends_describe(gm_device *dev, char *buf, size_t size) {
  gm_error err = {0};
  gemm_state *s = state_of(dev, &err);
  if (!s) return snprintf(buf, size, "%s", err.msg);
  gm__gemm_native *nat = native_of(dev, s);
  if (!s->own && gm__gemm_own_create(&s->own, dev, &err)) s->own = NULL;
  return snprintf(buf, size, "native: %s; own: %s; clblast: default parameters%s%s",
                  nat ? gm__gemm_native_describe(nat) : s->native_err.msg,
                  s->own ? gm__gemm_own_describe(s->own) : err.msg,
                  s->forced >= 0 ? "; forced by GM_GEMM=" : "",
                  s->forced >= 0 ? backend_names[s->forced] : "");
}
