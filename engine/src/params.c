/* The parameter store: named declarations, then one flat value buffer and one flat grad
 * buffer for the trainable tensors and one flat buffer for the buffers, with a view per
 * name. The optimiser (optim.c) runs over the flat tensors. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct entry {
  char *name;
  int kind;
  gm_dtype dtype;
  int ndim;
  int64_t shape[GM_MAX_DIMS];
  int64_t numel;
  int64_t offset;  /* within its kind's flat storage */
  gm_tensor *t;    /* the view, after finalize */
} entry;

struct gm_params {
  gm_device *dev;
  entry *e;
  int n, cap;
  int finalized;
  int64_t numel[2];       /* trainable, buffer */
  gm_tensor *flat;        /* trainable values; ->grad is flat_grad */
  gm_tensor *flat_grad;
  gm_tensor *flat_buf;
};

static int kind_index(int kind) { return kind == GM_PARAM_TRAINABLE ? 0 : 1; }

int gm_params_create(gm_params **out, gm_device *dev, gm_error *err) {
  *out = calloc(1, sizeof **out);
  if (!*out) return gm_error_set(err, GM_ENOMEM, "params: out of host memory");
  (*out)->dev = dev;
  return 0;
}

void gm_params_destroy(gm_params *p) {
  if (!p) return;
  for (int i = 0; i < p->n; i++) {
    gm_tensor_destroy(p->e[i].t);  /* and its grad view; neither owns a buffer */
    free(p->e[i].name);
  }
  free(p->e);
  gm_tensor_destroy(p->flat);  /* and flat_grad, its ->grad */
  gm_tensor_destroy(p->flat_buf);
  free(p);
}

static int find_index(const gm_params *p, const char *name) {
  for (int i = 0; i < p->n; i++)
    if (strcmp(p->e[i].name, name) == 0) return i;
  return -1;
}

int gm_params_declare(gm_params *p, const char *name, gm_dtype dtype, int ndim,
                      const int64_t *shape, int kind, gm_error *err) {
  if (!name || !name[0]) return gm_error_set(err, GM_EINVAL, "params: a parameter needs a name");
  if (p->finalized)
    return gm_error_set(err, GM_EINVAL, "params: '%s' declared after finalize", name);
  if (kind != GM_PARAM_TRAINABLE && kind != GM_PARAM_BUFFER)
    return gm_error_set(err, GM_EINVAL, "params: '%s' has kind %d (trainable 1 or buffer 2)",
                        name, kind);
  if (dtype != GM_F32 && dtype != GM_I32)
    return gm_error_set(err, GM_EDTYPE, "params: '%s' has an unknown dtype %d", name, (int)dtype);
  if (kind == GM_PARAM_TRAINABLE && dtype != GM_F32)
    return gm_error_set(err, GM_EDTYPE, "params: trainable '%s' must be float32, not %s", name,
                        gm_dtype_name(dtype));
  if (ndim < 0 || ndim > GM_MAX_DIMS)
    return gm_error_set(err, GM_EINVAL, "params: '%s' has %d dimensions (0..%d allowed)", name,
                        ndim, GM_MAX_DIMS);
  int64_t numel = 1;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] < 0 || (shape[i] > 0 && numel > INT32_MAX / shape[i]))
      return gm_error_set(err, GM_EINVAL, "params: '%s' dimension %d of size %" PRId64
                          " is invalid", name, i, shape[i]);
    numel *= shape[i];
  }
  if (find_index(p, name) >= 0)
    return gm_error_set(err, GM_EEXISTS, "params: '%s' is declared twice", name);
  int k = kind_index(kind);
  if (p->numel[k] + numel > INT32_MAX)
    return gm_error_set(err, GM_EINVAL, "params: '%s' makes the %s storage larger than %d "
                        "elements", name, k ? "buffer" : "trainable", INT32_MAX);
  if (p->n == p->cap) {
    int cap = p->cap ? 2 * p->cap : 32;
    entry *e = realloc(p->e, (size_t)cap * sizeof *e);
    if (!e) return gm_error_set(err, GM_ENOMEM, "params: out of host memory");
    p->e = e;
    p->cap = cap;
  }
  entry *e = &p->e[p->n];
  memset(e, 0, sizeof *e);
  size_t len = strlen(name);
  e->name = malloc(len + 1);
  if (!e->name) return gm_error_set(err, GM_ENOMEM, "params: out of host memory");
  memcpy(e->name, name, len + 1);
  e->kind = kind;
  e->dtype = dtype;
  e->ndim = ndim;
  for (int i = 0; i < ndim; i++) e->shape[i] = shape[i];
  e->numel = numel;
  e->offset = p->numel[k];
  p->numel[k] += numel;
  p->n++;
  return 0;
}

/* One flat storage of n words, zero-filled. */
static int make_flat(gm_params *p, gm_tensor **out, int64_t n, const char *name, gm_error *err) {
  int rc = gm_tensor_create(out, p->dev, GM_F32, 1, GM_SHAPE(n), err);
  if (rc) return gm_error_prefix(err, "params: %s storage", name);
  gm_tensor_set_name(*out, name);
  return gm_tensor_fill(*out, 0.0, err);
}

static int make_views(gm_params *p, gm_error *err) {
  for (int i = 0; i < p->n; i++) {
    entry *e = &p->e[i];
    gm_tensor *base = e->kind == GM_PARAM_TRAINABLE ? p->flat : p->flat_buf;
    int rc = gm_tensor_view(&e->t, base, (size_t)e->offset, e->ndim, e->shape, err);
    if (rc) return gm_error_prefix(err, "params: '%s'", e->name);
    e->t->dtype = e->dtype;  /* buffer storage holds 4-byte words of either dtype */
    gm_tensor_set_name(e->t, e->name);
    if (e->kind != GM_PARAM_TRAINABLE) continue;
    rc = gm_tensor_view(&e->t->grad, p->flat_grad, (size_t)e->offset, e->ndim, e->shape, err);
    if (rc) return gm_error_prefix(err, "params: grad of '%s'", e->name);
    e->t->requires_grad = 1;
  }
  return 0;
}

int gm_params_finalize(gm_params *p, gm_error *err) {
  if (p->finalized) return gm_error_set(err, GM_EINVAL, "params: finalized twice");
  int rc = make_flat(p, &p->flat, p->numel[0], "params.flat", err);
  if (rc == 0) rc = make_flat(p, &p->flat_grad, p->numel[0], "params.flat_grad", err);
  if (rc == 0) {
    p->flat->grad = p->flat_grad;
    rc = make_flat(p, &p->flat_buf, p->numel[1], "params.buffers", err);
  }
  if (rc == 0) rc = make_views(p, err);
  if (rc) {
    for (int i = 0; i < p->n; i++) {
      gm_tensor_destroy(p->e[i].t);
      p->e[i].t = NULL;
    }
    if (p->flat) p->flat->grad = NULL;
    gm_tensor_destroy(p->flat);
    gm_tensor_destroy(p->flat_grad);
    gm_tensor_destroy(p->flat_buf);
    p->flat = p->flat_grad = p->flat_buf = NULL;
    return rc;
  }
  p->finalized = 1;
  return 0;
}

int gm_params_count(const gm_params *p) { return p->n; }

gm_tensor *gm_params_at(const gm_params *p, int i, const char **name, int *kind) {
  if (i < 0 || i >= p->n) return NULL;
  if (name) *name = p->e[i].name;
  if (kind) *kind = p->e[i].kind;
  return p->e[i].t;
}

gm_tensor *gm_params_find(const gm_params *p, const char *name) {
  int i = name ? find_index(p, name) : -1;
  return i < 0 ? NULL : p->e[i].t;
}

int64_t gm_params_offset(const gm_params *p, int i) {
  return i < 0 || i >= p->n ? -1 : p->e[i].offset;
}

int64_t gm_params_numel(const gm_params *p, int kind) {
  return ((kind & GM_PARAM_TRAINABLE) ? p->numel[0] : 0) +
         ((kind & GM_PARAM_BUFFER) ? p->numel[1] : 0);
}

gm_tensor *gm_params_flat(const gm_params *p) { return p->flat; }
gm_tensor *gm_params_flat_grad(const gm_params *p) { return p->flat_grad; }
gm_tensor *gm_params_flat_buffers(const gm_params *p) { return p->flat_buf; }
gm_device *gm_params_device(const gm_params *p) { return p->dev; }

int gm_params_zero_grad(gm_params *p, gm_error *err) {
  if (!p->finalized) return gm_error_set(err, GM_EINVAL, "params: zero_grad before finalize");
  return gm_tensor_fill(p->flat_grad, 0.0, err);
}
