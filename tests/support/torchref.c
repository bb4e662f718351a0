/* See torchref.h. */
#include "torchref.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

gm_checkpoint *gmt_torch_open(const char *file) {
  gm_error err = {0};
  char path[1200];
  snprintf(path, sizeof path, "%s/data/torch/%s", GM_TEST_SOURCE_DIR, file);
  gm_checkpoint *c = NULL;
  gmt_ok(gm_checkpoint_open(&c, path, &err), &err);
  return c;
}

gm_tensor *gmt_torch_tensor(const gm_checkpoint *c, const char *name) {
  gm_error err = {0};
  gm_tensor *t = NULL;
  ck_assert_msg(gm_checkpoint_find(c, name) != NULL, "%s has no tensor %s",
                gm_checkpoint_path(c), name);
  gmt_ok(gm_checkpoint_read_new(c, name, gmt_device(), &t, &err), &err);
  return t;
}

static double max_abs(const float *x, int64_t n) {
  double m = 0;
  for (int64_t i = 0; i < n; i++)
    if (fabs(x[i]) > m) m = fabs(x[i]);
  return m;
}

double gmt_assert_grads_match_torch_(const gm_checkpoint *c, gm_params *p, double rtol,
                                     double floor, const char *what, const char **worst_name,
                                     const char *file, int line) {
  const char *path = gm_checkpoint_path(c);
  /* every grad.* entry names a trainable parameter of p */
  for (int i = 0; i < gm_checkpoint_count(c); i++) {
    const char *name = gm_checkpoint_entry_at(c, i)->name;
    if (strncmp(name, "grad.", 5) != 0) continue;
    int kind = 0, found = 0;
    for (int k = 0; k < gm_params_count(p) && !found; k++) {
      const char *pn;
      gm_params_at(p, k, &pn, &kind);
      found = strcmp(pn, name + 5) == 0;
    }
    ck_assert_msg(found && kind == GM_PARAM_TRAINABLE,
                  "%s:%d: %s: %s holds %s, but %s is not a trainable parameter of the model",
                  file, line, what, path, name, name + 5);
  }
  /* every trainable parameter has its grad.*: read them all, then the global scale G */
  int n = gm_params_count(p);
  float **want = calloc((size_t)n, sizeof *want), **got = calloc((size_t)n, sizeof *got);
  double *scale = calloc((size_t)n, sizeof *scale), global = 0;
  ck_assert(want && got && scale);
  for (int k = 0; k < n; k++) {
    const char *name;
    int kind;
    gm_tensor *t = gm_params_at(p, k, &name, &kind);
    if (kind != GM_PARAM_TRAINABLE) continue;
    char key[200];
    snprintf(key, sizeof key, "grad.%s", name);
    ck_assert_msg(gm_checkpoint_find(c, key) != NULL, "%s:%d: %s: %s has no %s", file, line,
                  what, path, key);
    gm_tensor *w = gmt_torch_tensor(c, key);
    ck_assert_msg(w->ndim == t->ndim && w->numel == t->numel, "%s:%d: %s: %s has %d dims, %lld "
                  "elements; the parameter %d, %lld", file, line, what, key, w->ndim,
                  (long long)w->numel, t->ndim, (long long)t->numel);
    for (int d = 0; d < t->ndim; d++)
      ck_assert_msg(w->shape[d] == t->shape[d], "%s:%d: %s: %s dim %d is %lld, the parameter's %lld",
                    file, line, what, key, d, (long long)w->shape[d], (long long)t->shape[d]);
    want[k] = gmt_read(w);
    gm_tensor_destroy(w);
    if (t->grad) got[k] = gmt_read(t->grad);
    else got[k] = calloc((size_t)t->numel, sizeof(float)); /* the backward never reached it */
    scale[k] = max_abs(want[k], t->numel);
    if (scale[k] > global) global = scale[k];
  }
  double worst = 0;
  for (int k = 0; k < n; k++) {
    if (!want[k]) continue;
    const char *name;
    gm_tensor *t = gm_params_at(p, k, &name, NULL);
    double s = fmax(scale[k], floor * global);
    for (int64_t i = 0; i < t->numel; i++) {
      double d = fabs((double)got[k][i] - (double)want[k][i]);
      ck_assert_msg(d <= rtol * s, "%s:%d: %s: grad of %s, element %lld of %lld: genmoji %.9g, "
                    "PyTorch %.9g (tol %.3g: %g of the tensor's largest |grad| %.3g, floor %.3g)",
                    file, line, what, name, (long long)i, (long long)t->numel, (double)got[k][i],
                    (double)want[k][i], rtol * s, rtol, scale[k], floor * global);
      if (s > 0 && d / s > worst) {
        worst = d / s;
        if (worst_name) *worst_name = name;
      }
    }
    free(want[k]);
    free(got[k]);
  }
  free(want);
  free(got);
  free(scale);
  return worst;
}
