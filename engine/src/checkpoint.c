/* Checkpoints: the atomic .safetensors writer (temporary file, fsync, rename, folder
 * fsync) and the reads into device tensors and parameter stores. The header parser and
 * the host-side reads live in safetensors.c. */
#define _FILE_OFFSET_BITS 64
#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "safetensors.h"

/* One tensor to write: its words come from the device (t) or are already on the host. */
typedef struct wtensor {
  const char *name;
  gm_dtype dtype;
  int ndim;
  const int64_t *shape;
  size_t numel;
  const gm_tensor *t;
  const void *host;  /* numel 4-byte words, or NULL to read t */
} wtensor;

static int utf8_valid(const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  while (*p) {
    unsigned c = *p;
    int n;
    uint32_t cp, min;
    if (c < 0x80) {
      p++;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      n = 1, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2, cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3, cp = c & 0x07, min = 0x10000;
    } else {
      return 0;
    }
    for (int i = 1; i <= n; i++) {  /* stops at a NUL: it is no continuation byte */
      if ((p[i] & 0xc0) != 0x80) return 0;
      cp = cp << 6 | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    p += n + 1;
  }
  return 1;
}

static int check_names(const char *path, const wtensor *w, int n, gm_error *err) {
  const char **names = malloc(((size_t)n + 1) * sizeof *names);
  if (!names) return gm_error_set(err, GM_ENOMEM, "%s: out of host memory", path);
  int rc = 0;
  for (int i = 0; i < n && rc == 0; i++) {
    names[i] = w[i].name;
    if (!w[i].name || !w[i].name[0])
      rc = gm_error_set(err, GM_EINVAL, "%s: tensor %d has no name", path, i);
    else if (!utf8_valid(w[i].name))
      rc = gm_error_set(err, GM_EINVAL, "%s: tensor name '%s' is not valid UTF-8", path,
                        w[i].name);
    else if (strcmp(w[i].name, "__metadata__") == 0)
      rc = gm_error_set(err, GM_EINVAL, "%s: '__metadata__' is reserved, not a tensor name",
                        path);
    else if (w[i].dtype != GM_F32 && w[i].dtype != GM_I32)
      rc = gm_error_set(err, GM_EDTYPE, "%s: tensor '%s' has unknown dtype %d", path,
                        w[i].name, (int)w[i].dtype);
  }
  int dup = rc ? -1 : gm__st_find_duplicate(names, n);
  if (dup == -2) rc = gm_error_set(err, GM_ENOMEM, "%s: out of host memory", path);
  if (dup >= 0) rc = gm_error_set(err, GM_EINVAL, "%s: tensor '%s' is given twice", path,
                                  names[dup]);
  free(names);
  return rc;
}

static int check_meta(const char *path, const gm_kv *meta, int n, gm_error *err) {
  const char **keys = malloc(((size_t)n + 1) * sizeof *keys);
  if (!keys) return gm_error_set(err, GM_ENOMEM, "%s: out of host memory", path);
  int rc = 0;
  for (int i = 0; i < n && rc == 0; i++) {
    keys[i] = meta[i].key;
    if (!meta[i].key || !meta[i].key[0])
      rc = gm_error_set(err, GM_EINVAL, "%s: metadata entry %d has no key", path, i);
    else if (!meta[i].value)
      rc = gm_error_set(err, GM_EINVAL, "%s: metadata '%s' has no value", path, meta[i].key);
    else if (!utf8_valid(meta[i].key) || !utf8_valid(meta[i].value))
      rc = gm_error_set(err, GM_EINVAL, "%s: metadata '%s' is not valid UTF-8", path,
                        meta[i].key);
  }
  int dup = rc ? -1 : gm__st_find_duplicate(keys, n);
  if (dup == -2) rc = gm_error_set(err, GM_ENOMEM, "%s: out of host memory", path);
  if (dup >= 0) rc = gm_error_set(err, GM_EINVAL, "%s: metadata key '%s' is given twice", path,
                                  keys[dup]);
  free(keys);
  return rc;
}

static cJSON *int_array(const int64_t *v, int n) {
  cJSON *a = cJSON_CreateArray();
  for (int i = 0; a && i < n; i++) {
    cJSON *x = cJSON_CreateNumber((double)v[i]);
    if (!x || !cJSON_AddItemToArray(a, x)) {
      cJSON_Delete(x);
      cJSON_Delete(a);
      return NULL;
    }
  }
  return a;
}

/* The header entry of one tensor whose data lies at [*off, *off + bytes). */
static int add_entry(cJSON *root, const wtensor *w, uint64_t *off) {
  uint64_t bytes = w->numel * (w->dtype == GM_I32 ? 8 : 4);
  int64_t offs[2] = {(int64_t)*off, (int64_t)(*off + bytes)};
  *off += bytes;
  cJSON *o = cJSON_AddObjectToObject(root, w->name);
  if (!o || !cJSON_AddStringToObject(o, "dtype", w->dtype == GM_I32 ? "I64" : "F32"))
    return -1;
  cJSON *shape = int_array(w->shape, w->ndim), *offsets = int_array(offs, 2);
  int ok = shape && offsets && cJSON_AddItemToObject(o, "shape", shape);
  if (ok) shape = NULL;
  ok = ok && cJSON_AddItemToObject(o, "data_offsets", offsets);
  if (ok) offsets = NULL;
  cJSON_Delete(shape);
  cJSON_Delete(offsets);
  return ok ? 0 : -1;
}

/* The header JSON, padded with spaces to a multiple of 8 bytes as safetensors does. */
static int build_header(const char *path, const wtensor *w, int n, const gm_kv *meta,
                        int n_meta, char **out, size_t *len, gm_error *err) {
  cJSON *root = cJSON_CreateObject();
  int ok = root != NULL;
  if (ok && n_meta > 0) {
    cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
    ok = m != NULL;
    for (int i = 0; ok && i < n_meta; i++)
      ok = cJSON_AddStringToObject(m, meta[i].key, meta[i].value) != NULL;
  }
  uint64_t off = 0;
  for (int i = 0; ok && i < n; i++) ok = add_entry(root, &w[i], &off) == 0;
  char *s = ok ? cJSON_PrintUnformatted(root) : NULL;
  cJSON_Delete(root);
  size_t sl = s ? strlen(s) : 0, padded = (sl + 7) & ~(size_t)7;
  *out = s ? malloc(padded) : NULL;
  if (!*out) {
    cJSON_free(s);
    return gm_error_set(err, GM_ENOMEM, "%s: out of host memory for the header", path);
  }
  memcpy(*out, s, sl);
  memset(*out + sl, ' ', padded - sl);
  *len = padded;
  cJSON_free(s);
  return 0;
}

static void put_le32(uint8_t *b, uint32_t v) {
  for (int i = 0; i < 4; i++) b[i] = (uint8_t)(v >> 8 * i);
}

static void put_le64(uint8_t *b, uint64_t v) {
  for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> 8 * i);
}

#define CHUNK_ELEMS ((size_t)1 << 16)

/* One tensor's bytes: float32 as F32, int32 sign-extended to I64. */
static int write_tensor(FILE *f, const wtensor *w, const char *path, gm_error *err) {
  void *own = NULL;
  const uint8_t *words = w->host;
  if (!words) {
    own = malloc(w->numel ? w->numel * 4 : 1);
    if (!own) return gm_error_set(err, GM_ENOMEM, "%s: out of host memory for '%s'", path, w->name);
    int rc = gm_tensor_read(w->t, own, w->numel * 4, err);
    if (rc) {
      free(own);
      gm_error_prefix(err, "%s: reading '%s'", path, w->name);
      return rc;
    }
    words = own;
  }
  size_t out_size = w->dtype == GM_I32 ? 8 : 4;
  uint8_t *buf = malloc(CHUNK_ELEMS * out_size);
  int rc = buf ? 0 : gm_error_set(err, GM_ENOMEM, "%s: out of host memory", path);
  for (size_t done = 0; rc == 0 && done < w->numel;) {
    size_t k = w->numel - done < CHUNK_ELEMS ? w->numel - done : CHUNK_ELEMS;
    for (size_t i = 0; i < k; i++) {
      uint32_t u;
      memcpy(&u, words + 4 * (done + i), 4);
      if (w->dtype == GM_I32) {
        int32_t s;
        memcpy(&s, &u, 4);
        int64_t v = s;
        uint64_t uv;
        memcpy(&uv, &v, 8);
        put_le64(buf + 8 * i, uv);
      } else {
        put_le32(buf + 4 * i, u);
      }
    }
    if (fwrite(buf, out_size, k, f) != k)
      rc = gm_error_set(err, GM_EIO, "%s: writing '%s': %s", path, w->name, strerror(errno));
    done += k;
  }
  free(buf);
  free(own);
  return rc;
}

/* Creates "<path>.tmp.<pid>.<n>" exclusively (so the umask applies); returns its fd. */
static int create_temp(const char *path, char *tmp, size_t cap, gm_error *err) {
  static atomic_uint seq;
  for (int tries = 0; tries < 100; tries++) {
    snprintf(tmp, cap, "%s.tmp.%ld.%u", path, (long)getpid(), atomic_fetch_add(&seq, 1));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) return fd;
    if (errno != EEXIST)
      return gm_error_set(err, GM_EIO, "%s: cannot create the temporary file %s: %s", path, tmp,
                          strerror(errno));
  }
  return gm_error_set(err, GM_EIO, "%s: cannot find a free temporary file name", path);
}

/* Makes the rename durable. File systems that cannot sync a folder (EINVAL) are let be. */
static int sync_dir(const char *path, gm_error *err) {
  const char *slash = strrchr(path, '/');
  char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
  if (!dir) return gm_error_set(err, GM_ENOMEM, "%s: out of host memory", path);
  int rc = 0, fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || (fsync(fd) != 0 && errno != EINVAL))
    rc = gm_error_set(err, GM_EIO, "%s: written, but syncing its folder %s failed: %s", path,
                      dir, strerror(errno));
  if (fd >= 0) close(fd);
  free(dir);
  return rc;
}

static int io_fail(gm_error *err, const char *path, const char *what) {
  return gm_error_set(err, GM_EIO, "%s: %s: %s", path, what, strerror(errno));
}

static int write_body(FILE *f, const char *path, const char *header, size_t hlen,
                      const wtensor *w, int n, gm_error *err) {
  uint8_t lb[8];
  put_le64(lb, hlen);
  if (fwrite(lb, 1, 8, f) != 8 || fwrite(header, 1, hlen, f) != hlen)
    return io_fail(err, path, "writing the header");
  for (int i = 0; i < n; i++) {
    int rc = write_tensor(f, &w[i], path, err);
    if (rc) return rc;
  }
  if (fflush(f) != 0) return io_fail(err, path, "writing");
  if (fsync(fileno(f)) != 0) return io_fail(err, path, "fsync");
  return 0;
}

/* Test hook: with GM_TEST_SAVE_DELAY_MS=N in the environment, every checkpoint write
 * sleeps N ms after its temporary file is written and synced, before the rename, so the
 * tests can send signals while a save is certainly under way (tests/test_trainer.c).
 * Unset (the normal case), it costs one getenv per file written. */
static void test_save_delay(void) {
  const char *s = getenv("GM_TEST_SAVE_DELAY_MS");
  if (!s || !*s) return;
  char *end;
  long ms = strtol(s, &end, 10);
  if (*end || ms <= 0 || ms > 600000) return;
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static int write_file(const char *path, const wtensor *w, int n, const gm_kv *meta,
                      int n_meta, gm_error *err) {
  if (!path || !path[0]) return gm_error_set(err, GM_EINVAL, "checkpoint: no path given");
  if (n < 0 || n_meta < 0 || (n && !w) || (n_meta && !meta))
    return gm_error_set(err, GM_EINVAL, "%s: bad tensor or metadata list", path);
  int rc = check_names(path, w, n, err);
  if (rc == 0) rc = check_meta(path, meta, n_meta, err);
  char *header = NULL;
  size_t hlen = 0;
  if (rc == 0) rc = build_header(path, w, n, meta, n_meta, &header, &hlen, err);
  size_t cap = strlen(path) + 64;
  char *tmp = rc ? NULL : malloc(cap);
  if (rc == 0 && !tmp) rc = gm_error_set(err, GM_ENOMEM, "%s: out of host memory", path);
  int fd = -1;
  if (rc == 0) {
    fd = create_temp(path, tmp, cap, err);
    if (fd < 0) rc = fd;
  }
  if (rc) {
    free(header);
    free(tmp);
    return rc;
  }
  FILE *f = fdopen(fd, "wb");
  if (!f) {
    rc = io_fail(err, path, "fdopen");
    close(fd);
  } else {
    rc = write_body(f, path, header, hlen, w, n, err);
    if (fclose(f) != 0 && rc == 0) rc = io_fail(err, path, "closing the temporary file");
  }
  if (rc == 0) test_save_delay();
  if (rc == 0 && rename(tmp, path) != 0)
    rc = gm_error_set(err, GM_EIO, "%s: cannot rename %s over it: %s", path, tmp,
                      strerror(errno));
  if (rc) unlink(tmp);
  free(header);
  free(tmp);
  return rc ? rc : sync_dir(path, err);
}

int gm_checkpoint_write(const char *path, const gm_named_tensor *tensors, int n,
                        const gm_kv *meta, int n_meta, gm_error *err) {
  if (n < 0 || (n && !tensors))
    return gm_error_set(err, GM_EINVAL, "%s: bad tensor list", path ? path : "checkpoint");
  wtensor *w = calloc((size_t)n + 1, sizeof *w);
  if (!w) return gm_error_set(err, GM_ENOMEM, "%s: out of host memory", path);
  for (int i = 0; i < n; i++) {
    const gm_tensor *t = tensors[i].tensor;
    if (!t) {
      free(w);
      return gm_error_set(err, GM_EINVAL, "%s: tensor '%s' is NULL", path,
                          tensors[i].name ? tensors[i].name : "?");
    }
    w[i] = (wtensor){tensors[i].name, t->dtype, t->ndim, t->shape, (size_t)t->numel, t, NULL};
  }
  int rc = write_file(path, w, n, meta, n_meta, err);
  free(w);
  return rc;
}

/* The flat storage of one kind as host words (read in one transfer). */
static int read_flat(const gm_tensor *flat, uint32_t **out, const char *path, gm_error *err) {
  size_t n = flat ? (size_t)flat->numel : 0;
  *out = malloc(n ? n * 4 : 4);
  if (!*out) return gm_error_set(err, GM_ENOMEM, "%s: out of host memory", path);
  int rc = n ? gm_tensor_read(flat, *out, n * 4, err) : 0;
  if (rc) gm_error_prefix(err, "%s: reading the parameters", path);
  return rc;
}

int gm_checkpoint_write_params(const char *path, const gm_params *p,
                               const gm_named_tensor *extra, int n_extra, const gm_kv *meta,
                               int n_meta, gm_error *err) {
  if (!gm_params_flat(p))
    return gm_error_set(err, GM_EINVAL, "%s: the parameters are not finalized", path);
  if (n_extra < 0 || (n_extra && !extra))
    return gm_error_set(err, GM_EINVAL, "%s: bad extra tensor list", path);
  int np = gm_params_count(p), n = np + n_extra;
  wtensor *w = calloc((size_t)n + 1, sizeof *w);
  uint32_t *words[2] = {NULL, NULL};
  int rc = w ? 0 : gm_error_set(err, GM_ENOMEM, "%s: out of host memory", path);
  if (rc == 0) rc = read_flat(gm_params_flat(p), &words[0], path, err);
  if (rc == 0) rc = read_flat(gm_params_flat_buffers(p), &words[1], path, err);
  for (int i = 0; rc == 0 && i < np; i++) {
    const char *name;
    int kind;
    const gm_tensor *t = gm_params_at(p, i, &name, &kind);
    const uint32_t *base = words[kind == GM_PARAM_TRAINABLE ? 0 : 1];
    w[i] = (wtensor){name, t->dtype, t->ndim, t->shape, (size_t)t->numel, t,
                     base + gm_params_offset(p, i)};
  }
  for (int i = 0; rc == 0 && i < n_extra; i++) {
    const gm_tensor *t = extra[i].tensor;
    if (!t)
      rc = gm_error_set(err, GM_EINVAL, "%s: extra tensor '%s' is NULL", path,
                        extra[i].name ? extra[i].name : "?");
    else
      w[np + i] = (wtensor){extra[i].name, t->dtype, t->ndim, t->shape, (size_t)t->numel, t,
                            NULL};
  }
  if (rc == 0) rc = write_file(path, w, n, meta, n_meta, err);
  free(words[0]);
  free(words[1]);
  free(w);
  return rc;
}

/* dst's shape equals entry i's and its dtype takes the file's dtype family. */
static int check_dest(const gm_checkpoint *c, int i, gm_dtype dtype, int ndim,
                      const int64_t *shape, gm_error *err) {
  const gm__st_entry *e = &c->e[i];
  int same = ndim == e->pub.ndim;
  for (int d = 0; same && d < ndim; d++) same = shape[d] == e->pub.shape[d];
  if (!same) {
    char a[256], b[256];
    return gm_error_set(err, GM_ESHAPE, "%s: tensor '%s' has shape %s in the file, the "
                        "destination %s", c->path, e->pub.name,
                        gm__st_shape_str(e->pub.shape, e->pub.ndim, a, sizeof a),
                        gm__st_shape_str(shape, ndim, b, sizeof b));
  }
  if ((dtype == GM_F32) != gm__st_dtype_is_float(e->dtype))
    return gm_error_set(err, GM_EDTYPE, "%s: tensor '%s' is %s in the file, the destination "
                        "%s", c->path, e->pub.name, e->pub.dtype, gm_dtype_name(dtype));
  return 0;
}

static int find_or_fail(const gm_checkpoint *c, const char *name, gm_error *err) {
  int i = name ? gm__checkpoint_index(c, name) : -1;
  if (i < 0)
    return gm_error_set(err, GM_ENOTFOUND, "%s: no tensor '%s'", c->path, name ? name : "(null)");
  return i;
}

/* Weights that are NaN or infinite come from a run that diverged: loading them would
 * only make every sample, output and resumed step NaN. GM_ENUMERIC naming the first. */
static int check_finite_values(const gm_checkpoint *c, int i, const float *v, size_t n,
                               gm_error *err) {
  for (size_t j = 0; j < n; j++)
    if (!isfinite(v[j]))
      return gm_error_set(err, GM_ENUMERIC, "%s: tensor '%s': element %zu is %g; refusing "
                          "non-finite weights (the run that wrote them diverged; use an "
                          "earlier checkpoint)", c->path, c->e[i].pub.name, j, (double)v[j]);
  return 0;
}

/* Entry i into a device tensor of its shape; with `finite`, float values must be. */
static int read_into_checked(const gm_checkpoint *c, int i, gm_tensor *dst, int finite,
                             gm_error *err) {
  int rc = check_dest(c, i, dst->dtype, dst->ndim, dst->shape, err);
  if (rc) return rc;
  size_t bytes = gm_tensor_bytes(dst);
  void *host = malloc(bytes ? bytes : 4);
  if (!host) return gm_error_set(err, GM_ENOMEM, "%s: out of host memory", c->path);
  rc = gm__checkpoint_read_host(c, i, dst->dtype, host, err);
  if (rc == 0 && finite && dst->dtype == GM_F32)
    rc = check_finite_values(c, i, host, (size_t)dst->numel, err);
  if (rc == 0) {
    rc = gm_tensor_write(dst, host, bytes, err);
    if (rc) gm_error_prefix(err, "%s: tensor '%s'", c->path, c->e[i].pub.name);
  }
  free(host);
  return rc;
}

static int read_into(const gm_checkpoint *c, int i, gm_tensor *dst, gm_error *err) {
  return read_into_checked(c, i, dst, 0, err);
}

int gm_checkpoint_read(const gm_checkpoint *c, const char *name, gm_tensor *dst, gm_error *err) {
  int i = find_or_fail(c, name, err);
  return i < 0 ? i : read_into(c, i, dst, err);
}

int gm_checkpoint_read_finite(const gm_checkpoint *c, const char *name, gm_tensor *dst,
                              gm_error *err) {
  int i = find_or_fail(c, name, err);
  return i < 0 ? i : read_into_checked(c, i, dst, 1, err);
}

int gm_checkpoint_read_new(const gm_checkpoint *c, const char *name, gm_device *dev,
                           gm_tensor **out, gm_error *err) {
  *out = NULL;
  int i = find_or_fail(c, name, err);
  if (i < 0) return i;
  const gm__st_entry *e = &c->e[i];
  if (e->pub.ndim > GM_MAX_DIMS)
    return gm_error_set(err, GM_EUNSUPPORTED, "%s: tensor '%s' has %d dimensions, tensors take "
                        "at most %d", c->path, name, e->pub.ndim, GM_MAX_DIMS);
  gm_dtype dt = gm__st_dtype_is_float(e->dtype) ? GM_F32 : GM_I32;
  gm_tensor *t;
  int rc = gm_tensor_create(&t, dev, dt, e->pub.ndim, e->pub.shape, err);
  if (rc) {
    gm_error_prefix(err, "%s: tensor '%s'", c->path, name);
    return rc;
  }
  gm_tensor_set_name(t, name);
  rc = read_into(c, i, t, err);
  if (rc) {
    gm_tensor_destroy(t);
    return rc;
  }
  *out = t;
  return 0;
}

static int has_prefix(const char *name, const char *const *prefixes) {
  for (int i = 0; prefixes && prefixes[i]; i++)
    if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0) return 1;
  return 0;
}

/* Matches every parameter to a file entry (idx[i]) and checks shapes, dtypes and the
 * file's extra keys, all before anything is read. */
static int match_params(const gm_checkpoint *c, const gm_params *p,
                        const char *const *ignore_prefixes, int *idx, gm_error *err) {
  int np = gm_params_count(p);
  char *used = calloc((size_t)c->n + 1, 1);
  if (!used) return gm_error_set(err, GM_ENOMEM, "%s: out of host memory", c->path);
  int rc = 0;
  for (int i = 0; rc == 0 && i < np; i++) {
    const char *name;
    const gm_tensor *t = gm_params_at(p, i, &name, NULL);
    idx[i] = gm__checkpoint_index(c, name);
    if (idx[i] < 0)
      rc = gm_error_set(err, GM_ENOTFOUND, "%s: the model's tensor '%s' is missing from the "
                        "file", c->path, name);
    else
      rc = check_dest(c, idx[i], t->dtype, t->ndim, t->shape, err);
    if (rc == 0) used[idx[i]] = 1;
  }
  for (int j = 0; rc == 0 && j < c->n; j++)
    if (!used[j] && !has_prefix(c->e[j].pub.name, ignore_prefixes))
      rc = gm_error_set(err, GM_EFORMAT, "%s: tensor '%s' in the file is not a parameter or "
                        "buffer of the model", c->path, c->e[j].pub.name);
  free(used);
  return rc;
}

int gm_checkpoint_load_params(const gm_checkpoint *c, gm_params *p,
                              const char *const *ignore_prefixes, gm_error *err) {
  gm_tensor *flat[2] = {gm_params_flat(p), gm_params_flat_buffers(p)};
  if (!flat[0] || !flat[1])
    return gm_error_set(err, GM_EINVAL, "%s: the parameters are not finalized", c->path);
  int np = gm_params_count(p);
  int *idx = malloc(((size_t)np + 1) * sizeof *idx);
  uint32_t *words[2] = {malloc((size_t)flat[0]->numel * 4 + 4),
                        malloc((size_t)flat[1]->numel * 4 + 4)};
  int rc = idx && words[0] && words[1]
               ? 0 : gm_error_set(err, GM_ENOMEM, "%s: out of host memory", c->path);
  if (rc == 0) rc = match_params(c, p, ignore_prefixes, idx, err);
  for (int i = 0; rc == 0 && i < np; i++) {
    int kind;
    const gm_tensor *t = gm_params_at(p, i, NULL, &kind);
    uint32_t *dst = words[kind == GM_PARAM_TRAINABLE ? 0 : 1] + gm_params_offset(p, i);
    rc = gm__checkpoint_read_host(c, idx[i], t->dtype, dst, err);
    if (rc == 0 && t->dtype == GM_F32)
      rc = check_finite_values(c, idx[i], (const float *)dst, (size_t)t->numel, err);
  }
  for (int k = 0; rc == 0 && k < 2; k++) {
    if (flat[k]->numel) rc = gm_tensor_write(flat[k], words[k], (size_t)flat[k]->numel * 4, err);
    if (rc) gm_error_prefix(err, "%s: loading the parameters", c->path);
  }
  free(idx);
  free(words[0]);
  free(words[1]);
  return rc;
}
