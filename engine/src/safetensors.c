/* The .safetensors reader: the header length, the JSON header (cJSON) validated entry by
 * entry, the metadata, and tensor data read at its offset and converted from its
 * little-endian bytes. Needs no device, so the fuzz target compiles this file alone. */
#define _FILE_OFFSET_BITS 64
#include "safetensors.h"

#include <cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const struct {
  const char *name;
  size_t size;
  int is_float;
} dtypes[GM__ST_COUNT] = {
  [GM__ST_F32] = {"F32", 4, 1},  [GM__ST_F64] = {"F64", 8, 1}, [GM__ST_F16] = {"F16", 2, 1},
  [GM__ST_BF16] = {"BF16", 2, 1}, [GM__ST_I64] = {"I64", 8, 0}, [GM__ST_I32] = {"I32", 4, 0},
  [GM__ST_I16] = {"I16", 2, 0},  [GM__ST_I8] = {"I8", 1, 0},   [GM__ST_U8] = {"U8", 1, 0},
  [GM__ST_BOOL] = {"BOOL", 1, 0},
};

const char *gm__st_dtype_name(gm__st_dtype d) { return dtypes[d].name; }
size_t gm__st_dtype_size(gm__st_dtype d) { return dtypes[d].size; }
int gm__st_dtype_is_float(gm__st_dtype d) { return dtypes[d].is_float; }

char *gm__st_shape_str(const int64_t *shape, int ndim, char *buf, size_t n) {
  size_t used = (size_t)snprintf(buf, n, "(");
  for (int i = 0; i < ndim && used < n; i++)
    used += (size_t)snprintf(buf + used, n - used, "%s%" PRId64, i ? ", " : "", shape[i]);
  if (used < n) snprintf(buf + used, n - used, ")");
  return buf;
}

/* GM_EFORMAT "path: tensor 'name': ..." or "path: header: ...". */
GM_PRINTF(4, 5)
static int bad(gm_error *err, const gm_checkpoint *c, const char *name, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (name) return gm_error_set(err, GM_EFORMAT, "%s: tensor '%s': %s", c->path, name, msg);
  return gm_error_set(err, GM_EFORMAT, "%s: header: %s", c->path, msg);
}

static int no_memory(gm_error *err, const gm_checkpoint *c) {
  return gm_error_set(err, GM_ENOMEM, "%s: out of host memory", c->path);
}

static uint64_t le64(const uint8_t *b) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | b[i];
  return v;
}

static uint32_t le32(const uint8_t *b) {
  return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint16_t le16(const uint8_t *b) { return (uint16_t)(b[0] | b[1] << 8); }

/* n bytes at absolute file offset off; -1 when they are not all there. */
static int read_at(const gm_checkpoint *c, uint64_t off, void *buf, size_t n) {
  if (off > c->file_size || n > c->file_size - off) return -1;
  if (n == 0) return 0;
  if (c->mem) {
    memcpy(buf, c->mem + off, n);
    return 0;
  }
  if (fseeko(c->f, (off_t)off, SEEK_SET) != 0) return -1;
  return fread(buf, 1, n, c->f) == n ? 0 : -1;
}

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

/* A JSON number that is an exact non-negative integer a double holds exactly. */
static int get_uint(const cJSON *j, uint64_t *out) {
  if (!cJSON_IsNumber(j)) return -1;
  double v = j->valuedouble;
  if (!(v >= 0 && v <= 9007199254740992.0)) return -1; /* 2^53; also refuses NaN */
  uint64_t u = (uint64_t)v;
  if ((double)u != v) return -1;
  *out = u;
  return 0;
}

static int parse_dtype(const char *s, gm__st_dtype *out) {
  for (int d = 0; d < GM__ST_COUNT; d++)
    if (strcmp(s, dtypes[d].name) == 0) {
      *out = (gm__st_dtype)d;
      return 0;
    }
  return -1;
}

static int parse_shape(gm_checkpoint *c, const cJSON *j, gm__st_entry *e, gm_error *err) {
  const char *name = j->string;
  const cJSON *shape = cJSON_GetObjectItemCaseSensitive(j, "shape");
  if (!shape) return bad(err, c, name, "no shape");
  if (!cJSON_IsArray(shape)) return bad(err, c, name, "shape is not an array");
  int nd = cJSON_GetArraySize(shape);
  if (nd > GM_CHECKPOINT_MAX_DIMS)
    return bad(err, c, name, "shape has %d dimensions, at most %d are supported", nd,
               GM_CHECKPOINT_MAX_DIMS);
  int64_t numel = 1;
  int i = 0;
  for (const cJSON *d = shape->child; d; d = d->next, i++) {
    uint64_t v;
    if (get_uint(d, &v))
      return bad(err, c, name, "shape entry %d is not a non-negative integer", i);
    e->pub.shape[i] = (int64_t)v;
    if (v && numel > INT64_MAX / (int64_t)v)
      return bad(err, c, name, "shape has more elements than any file can hold");
    numel *= (int64_t)v;
  }
  e->pub.ndim = nd;
  e->numel = numel;
  return 0;
}

static int parse_offsets(gm_checkpoint *c, const cJSON *j, gm__st_entry *e, gm_error *err) {
  const char *name = j->string;
  const cJSON *offs = cJSON_GetObjectItemCaseSensitive(j, "data_offsets");
  if (!offs) return bad(err, c, name, "no data_offsets");
  if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2)
    return bad(err, c, name, "data_offsets is not an array [begin, end]");
  if (get_uint(offs->child, &e->begin) || get_uint(offs->child->next, &e->end))
    return bad(err, c, name, "data_offsets are not non-negative integers");
  if (e->begin > e->end)
    return bad(err, c, name, "data_offsets [%" PRIu64 ", %" PRIu64 "] end before they begin",
               e->begin, e->end);
  if (e->end > c->data_size)
    return bad(err, c, name, "data_offsets [%" PRIu64 ", %" PRIu64 "] lie outside the data "
               "section of %" PRIu64 " bytes", e->begin, e->end, c->data_size);
  uint64_t bytes = e->end - e->begin, size = dtypes[e->dtype].size;
  if ((uint64_t)e->numel > bytes / size || (uint64_t)e->numel * size != bytes) {
    char s[256];
    return bad(err, c, name, "data_offsets [%" PRIu64 ", %" PRIu64 "] hold %" PRIu64 " bytes "
               "but shape %s of %s needs %" PRId64 " x %zu", e->begin, e->end, bytes,
               gm__st_shape_str(e->pub.shape, e->pub.ndim, s, sizeof s), dtypes[e->dtype].name,
               e->numel, (size_t)size);
  }
  return 0;
}

static int parse_entry(gm_checkpoint *c, const cJSON *j, gm__st_entry *e, gm_error *err) {
  const char *name = j->string;
  if (!cJSON_IsObject(j)) return bad(err, c, name, "entry is not a JSON object");
  const cJSON *dt = cJSON_GetObjectItemCaseSensitive(j, "dtype");
  if (!dt) return bad(err, c, name, "no dtype");
  if (!cJSON_IsString(dt)) return bad(err, c, name, "dtype is not a string");
  if (parse_dtype(dt->valuestring, &e->dtype))
    return bad(err, c, name, "unknown dtype '%s' (known: F32 F64 F16 BF16 I64 I32 I16 I8 U8 "
               "BOOL)", dt->valuestring);
  e->pub.dtype = dtypes[e->dtype].name;
  int rc = parse_shape(c, j, e, err);
  if (rc == 0) rc = parse_offsets(c, j, e, err);
  if (rc) return rc;
  e->pub.name = dup_str(name);
  return e->pub.name ? 0 : no_memory(err, c);
}

static int parse_meta(gm_checkpoint *c, const cJSON *j, gm_error *err) {
  if (!cJSON_IsObject(j)) return bad(err, c, NULL, "__metadata__ is not a JSON object");
  int n = cJSON_GetArraySize(j);
  c->meta = calloc((size_t)n + 1, sizeof *c->meta);
  if (!c->meta) return no_memory(err, c);
  for (const cJSON *kv = j->child; kv; kv = kv->next) {
    if (!cJSON_IsString(kv))
      return bad(err, c, NULL, "__metadata__ value of '%s' is not a string", kv->string);
    gm_kv *m = &c->meta[c->n_meta++];
    m->key = dup_str(kv->string);
    m->value = dup_str(kv->valuestring);
    if (!m->key || !m->value) return no_memory(err, c);
  }
  return 0;
}

typedef struct named_idx {
  const char *name;
  int idx;
} named_idx;

static int cmp_named(const void *a, const void *b) {
  const named_idx *x = a, *y = b;
  int r = strcmp(x->name, y->name);
  return r ? r : (x->idx > y->idx) - (x->idx < y->idx);
}

/* Sorts (name, index) pairs by name; returns the index of a repeated name or -1. */
static int sort_names(named_idx *v, int n) {
  if (n > 1) qsort(v, (size_t)n, sizeof *v, cmp_named);
  for (int i = 1; i < n; i++)
    if (strcmp(v[i - 1].name, v[i].name) == 0) return v[i].idx;
  return -1;
}

int gm__st_find_duplicate(const char *const *names, int n) {
  if (n < 2) return -1;
  named_idx *v = malloc((size_t)n * sizeof *v);
  if (!v) return -2;
  for (int i = 0; i < n; i++) v[i] = (named_idx){names[i], i};
  int dup = sort_names(v, n);
  free(v);
  return dup;
}

typedef struct range {
  uint64_t begin, end;
  int idx;
} range;

static int cmp_range(const void *a, const void *b) {
  const range *x = a, *y = b;
  if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
  return (x->end > y->end) - (x->end < y->end);
}

/* Names unique (and indexed for lookup); the byte ranges, taken in order of (begin, end),
 * cover the data section exactly: each begins where the one before ends, the first at 0,
 * and the last ends at the end of the file. That is the reference implementation's rule
 * (safetensors' Metadata::validate plus its buffer-length check): a gap, an overlap or a
 * trailing byte means the offsets or the header length are wrong, e.g. a header length
 * one byte short reads every tensor one byte off. */
static int check_entries(gm_checkpoint *c, gm_error *err) {
  named_idx *names = malloc(((size_t)c->n + 1) * sizeof *names);
  range *r = malloc(((size_t)c->n + 1) * sizeof *r);
  c->by_name = malloc(((size_t)c->n + 1) * sizeof *c->by_name);
  int rc = 0;
  if (!names || !r || !c->by_name) rc = no_memory(err, c);
  for (int i = 0; rc == 0 && i < c->n; i++) {
    names[i] = (named_idx){c->e[i].pub.name, i};
    r[i] = (range){c->e[i].begin, c->e[i].end, i};
  }
  int dup = rc ? -1 : sort_names(names, c->n);
  if (dup >= 0) rc = bad(err, c, c->e[dup].pub.name, "appears twice in the header");
  for (int i = 0; rc == 0 && i < c->n; i++) c->by_name[i] = names[i].idx;
  if (rc == 0 && c->n > 1) qsort(r, (size_t)c->n, sizeof *r, cmp_range);
  uint64_t pos = 0;  /* where the ranges so far end */
  int last = -1;     /* the range that ends there */
  for (int i = 0; rc == 0 && i < c->n; i++) {
    const gm__st_entry *a = &c->e[r[i].idx];
    if (r[i].begin < pos) {
      const gm__st_entry *b = &c->e[r[last].idx];
      rc = bad(err, c, a->pub.name, "data_offsets [%" PRIu64 ", %" PRIu64 "] overlap those "
               "of '%s' [%" PRIu64 ", %" PRIu64 "]", a->begin, a->end, b->pub.name, b->begin,
               b->end);
    } else if (r[i].begin > pos) {
      rc = bad(err, c, a->pub.name, "data_offsets [%" PRIu64 ", %" PRIu64 "] leave a gap of %"
               PRIu64 " bytes after byte %" PRIu64 " of the data section", a->begin, a->end,
               r[i].begin - pos, pos);
    }
    pos = r[i].end;
    last = i;
  }
  if (rc == 0 && pos != c->data_size)
    rc = bad(err, c, NULL, "the data section has %" PRIu64 " byte%s after the last tensor "
             "(the tensors cover %" PRIu64 " of its %" PRIu64 " bytes; is the header length "
             "right?)", c->data_size - pos, c->data_size - pos == 1 ? "" : "s", pos,
             c->data_size);
  free(names);
  free(r);
  return rc;
}

static int parse_header(gm_checkpoint *c, const char *h, size_t len, gm_error *err) {
  const char *end = NULL;
  cJSON *root = cJSON_ParseWithLengthOpts(h, len, &end, 0);
  if (!root) {
    size_t at = end && end >= h && end <= h + len ? (size_t)(end - h) : 0;
    return bad(err, c, NULL, "not valid JSON (near byte %zu of %zu)", at, len);
  }
  int rc = 0;
  for (const char *p = end; p < h + len && rc == 0; p++)
    if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
      rc = bad(err, c, NULL, "bytes after the JSON value (at byte %zu of %zu)",
               (size_t)(p - h), len);
  if (rc == 0 && !cJSON_IsObject(root)) rc = bad(err, c, NULL, "not a JSON object");
  if (rc == 0) {
    int n = cJSON_GetArraySize(root);
    c->e = calloc((size_t)n + 1, sizeof *c->e);
    if (!c->e) rc = no_memory(err, c);
  }
  const cJSON *meta = NULL;
  for (const cJSON *j = rc ? NULL : root->child; j && rc == 0; j = j->next) {
    if (strcmp(j->string, "__metadata__") == 0) {
      if (meta) rc = bad(err, c, NULL, "__metadata__ appears twice");
      meta = j;
      continue;
    }
    rc = parse_entry(c, j, &c->e[c->n], err);
    if (rc == 0) c->n++;
  }
  if (rc == 0 && meta) rc = parse_meta(c, meta, err);
  if (rc == 0 && c->n_meta > 1) {
    named_idx *keys = malloc((size_t)c->n_meta * sizeof *keys);
    if (!keys) {
      rc = no_memory(err, c);
    } else {
      for (int i = 0; i < c->n_meta; i++) keys[i] = (named_idx){c->meta[i].key, i};
      int dup = sort_names(keys, c->n_meta);
      if (dup >= 0)
        rc = bad(err, c, NULL, "__metadata__ key '%s' appears twice", c->meta[dup].key);
      free(keys);
    }
  }
  if (rc == 0) rc = check_entries(c, err);
  cJSON_Delete(root);
  return rc;
}

/* Everything after the file size is known: header length, header, entries. */
static int open_common(gm_checkpoint *c, gm_error *err) {
  if (c->file_size < 8)
    return bad(err, c, NULL, "the file is %" PRIu64 " bytes, too short for the 8-byte header "
               "length", c->file_size);
  uint8_t lb[8];
  if (read_at(c, 0, lb, 8))
    return gm_error_set(err, GM_EIO, "%s: cannot read the header length", c->path);
  uint64_t len = le64(lb);
  if (len > GM__ST_MAX_HEADER)
    return bad(err, c, NULL, "header length %" PRIu64 " is above the %" PRIu64 "-byte limit",
               len, GM__ST_MAX_HEADER);
  if (len > c->file_size - 8)
    return bad(err, c, NULL, "header length %" PRIu64 " runs past the end of the %" PRIu64
               "-byte file", len, c->file_size);
  c->data_start = 8 + len;
  c->data_size = c->file_size - c->data_start;
  char *h = malloc(len ? (size_t)len : 1);
  if (!h) return no_memory(err, c);
  int rc = read_at(c, 8, h, (size_t)len)
               ? gm_error_set(err, GM_EIO, "%s: cannot read the %" PRIu64 "-byte header",
                              c->path, len)
               : parse_header(c, h, (size_t)len, err);
  free(h);
  return rc;
}

static int new_checkpoint(gm_checkpoint **out, const char *path, gm_error *err) {
  *out = calloc(1, sizeof **out);
  if (*out) (*out)->path = dup_str(path);
  if (*out && (*out)->path) return 0;
  free(*out);
  *out = NULL;
  return gm_error_set(err, GM_ENOMEM, "%s: out of host memory", path);
}

int gm_checkpoint_open(gm_checkpoint **out, const char *path, gm_error *err) {
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f)
    return gm_error_set(err, errno == ENOENT ? GM_ENOTFOUND : GM_EIO, "%s: cannot open: %s",
                        path, strerror(errno));
  struct stat st;
  if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
    fclose(f);
    return gm_error_set(err, GM_EIO, "%s: not a regular file", path);
  }
  gm_checkpoint *c;
  int rc = new_checkpoint(&c, path, err);
  if (rc) {
    fclose(f);
    return rc;
  }
  c->f = f;
  c->file_size = (uint64_t)st.st_size;
  rc = open_common(c, err);
  if (rc) {
    gm_checkpoint_close(c);
    return rc;
  }
  *out = c;
  return 0;
}

int gm__checkpoint_open_mem(gm_checkpoint **out, const void *data, size_t size,
                            const char *label, gm_error *err) {
  *out = NULL;
  gm_checkpoint *c;
  int rc = new_checkpoint(&c, label, err);
  if (rc) return rc;
  c->mem = data;
  c->file_size = size;
  rc = open_common(c, err);
  if (rc) {
    gm_checkpoint_close(c);
    return rc;
  }
  *out = c;
  return 0;
}

void gm_checkpoint_close(gm_checkpoint *c) {
  if (!c) return;
  if (c->f) fclose(c->f);
  for (int i = 0; i < c->n; i++) free((char *)c->e[i].pub.name);
  for (int i = 0; i < c->n_meta; i++) {
    free((char *)c->meta[i].key);
    free((char *)c->meta[i].value);
  }
  free(c->e);
  free(c->by_name);
  free(c->meta);
  free(c->path);
  free(c);
}

const char *gm_checkpoint_path(const gm_checkpoint *c) { return c->path; }

const char *gm_checkpoint_meta(const gm_checkpoint *c, const char *key) {
  for (int i = 0; i < c->n_meta; i++)
    if (strcmp(c->meta[i].key, key) == 0) return c->meta[i].value;
  return NULL;
}

int gm_checkpoint_meta_count(const gm_checkpoint *c) { return c->n_meta; }

const gm_kv *gm_checkpoint_meta_at(const gm_checkpoint *c, int i) {
  return i >= 0 && i < c->n_meta ? &c->meta[i] : NULL;
}

int gm_checkpoint_count(const gm_checkpoint *c) { return c->n; }

const gm_checkpoint_entry *gm_checkpoint_entry_at(const gm_checkpoint *c, int i) {
  return i >= 0 && i < c->n ? &c->e[i].pub : NULL;
}

int gm__checkpoint_index(const gm_checkpoint *c, const char *name) {
  int lo = 0, hi = c->n;
  while (lo < hi) {
    int mid = lo + (hi - lo) / 2;
    int r = strcmp(c->e[c->by_name[mid]].pub.name, name);
    if (r == 0) return c->by_name[mid];
    if (r < 0) lo = mid + 1;
    else hi = mid;
  }
  return -1;
}

const gm_checkpoint_entry *gm_checkpoint_find(const gm_checkpoint *c, const char *name) {
  int i = name ? gm__checkpoint_index(c, name) : -1;
  return i < 0 ? NULL : &c->e[i].pub;
}

/* IEEE half to single, subnormals, infinities and NaN payloads included. */
static float half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | man << 13;
  } else if (exp) {
    bits = sign | (exp + 112) << 23 | man << 13;
  } else if (!man) {
    bits = sign;
  } else {  /* subnormal: man * 2^-24, normalised */
    uint32_t e = 113;
    while (!(man & 0x400u)) {
      man <<= 1;
      e--;
    }
    bits = sign | e << 23 | (man & 0x3ffu) << 13;
  }
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

static float bits_to_float(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static void convert_float(float *dst, const uint8_t *src, size_t n, gm__st_dtype d) {
  for (size_t i = 0; i < n; i++) {
    switch (d) {
      case GM__ST_F32: dst[i] = bits_to_float(le32(src + 4 * i)); break;
      case GM__ST_F64: {
        uint64_t u = le64(src + 8 * i);
        double v;
        memcpy(&v, &u, 8);
        dst[i] = (float)v;
        break;
      }
      case GM__ST_F16: dst[i] = half_to_float(le16(src + 2 * i)); break;
      default: dst[i] = bits_to_float((uint32_t)le16(src + 2 * i) << 16); break; /* BF16 */
    }
  }
}

/* Converts n integers; on one that does not fit int32, returns its index + 1. */
static size_t convert_int(int32_t *dst, const uint8_t *src, size_t n, gm__st_dtype d,
                          int64_t *bad_value) {
  for (size_t i = 0; i < n; i++) {
    int64_t v;
    switch (d) {
      case GM__ST_I64: {
        uint64_t u = le64(src + 8 * i);
        memcpy(&v, &u, 8);
        break;
      }
      case GM__ST_I32: {
        uint32_t u = le32(src + 4 * i);
        int32_t s;
        memcpy(&s, &u, 4);
        v = s;
        break;
      }
      case GM__ST_I16: {
        uint16_t u = le16(src + 2 * i);
        int16_t s;
        memcpy(&s, &u, 2);
        v = s;
        break;
      }
      case GM__ST_I8: v = (int8_t)src[i]; break;
      case GM__ST_U8: v = src[i]; break;
      default: v = src[i] != 0; break; /* BOOL */
    }
    if (v < INT32_MIN || v > INT32_MAX) {
      *bad_value = v;
      return i + 1;
    }
    dst[i] = (int32_t)v;
  }
  return 0;
}

#define CHUNK_ELEMS ((size_t)1 << 16)

int gm__checkpoint_read_host(const gm_checkpoint *c, int i, gm_dtype as, void *dst,
                             gm_error *err) {
  const gm__st_entry *e = &c->e[i];
  int is_float = dtypes[e->dtype].is_float;
  if ((as == GM_F32) != is_float || (as != GM_F32 && as != GM_I32))
    return gm_error_set(err, GM_EDTYPE, "%s: tensor '%s' is %s in the file and does not read "
                        "into %s", c->path, e->pub.name, dtypes[e->dtype].name,
                        gm_dtype_name(as));
  size_t esz = dtypes[e->dtype].size, total = (size_t)e->numel;
  uint8_t *buf = malloc(CHUNK_ELEMS * esz);
  if (!buf) return no_memory(err, c);
  int rc = 0;
  for (size_t done = 0; done < total && rc == 0;) {
    size_t k = total - done < CHUNK_ELEMS ? total - done : CHUNK_ELEMS;
    uint64_t off = c->data_start + e->begin + done * esz;
    if (read_at(c, off, buf, k * esz)) {
      rc = gm_error_set(err, GM_EIO, "%s: tensor '%s': cannot read %zu bytes at offset %" PRIu64
                        " (the file is short or changed)", c->path, e->pub.name, k * esz, off);
      break;
    }
    if (is_float) {
      convert_float((float *)dst + done, buf, k, e->dtype);
    } else {
      int64_t v = 0;
      size_t at = convert_int((int32_t *)dst + done, buf, k, e->dtype, &v);
      if (at)
        rc = gm_error_set(err, GM_ERANGE, "%s: tensor '%s': element %zu is %" PRId64 ", "
                          "outside int32", c->path, e->pub.name, done + at - 1, v);
    }
    done += k;
  }
  free(buf);
  return rc;
}
