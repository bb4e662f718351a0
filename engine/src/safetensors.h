/* Engine-private side of the .safetensors reader (safetensors.c): the checkpoint record,
 * opening from memory and reading a tensor into host memory, which need no device and
 * are what the fuzz target drives; checkpoint.c adds the device reads and the writer. */
#ifndef GM_SAFETENSORS_H
#define GM_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "genmoji/gm.h"

/* Dtypes the header may name, and the families they read into. */
typedef enum gm__st_dtype {
  GM__ST_F32, GM__ST_F64, GM__ST_F16, GM__ST_BF16,
  GM__ST_I64, GM__ST_I32, GM__ST_I16, GM__ST_I8, GM__ST_U8, GM__ST_BOOL,
  GM__ST_COUNT
} gm__st_dtype;

/* The header's largest accepted size, as safetensors itself bounds it. */
#define GM__ST_MAX_HEADER ((uint64_t)100 * 1000 * 1000)

typedef struct gm__st_entry {
  gm_checkpoint_entry pub;   /* name (owned), dtype name, ndim, shape */
  gm__st_dtype dtype;
  int64_t numel;
  uint64_t begin, end;       /* within the data section */
} gm__st_entry;

struct gm_checkpoint {
  char *path;                /* for messages; the file's path or the caller's label */
  FILE *f;                   /* NULL when reading from memory */
  const uint8_t *mem;        /* borrowed: the whole file when opened from memory */
  uint64_t file_size;
  uint64_t data_start;       /* 8 + header length */
  uint64_t data_size;
  gm__st_entry *e;
  int n;
  int *by_name;              /* indices of e sorted by name, for lookup */
  gm_kv *meta;               /* keys and values owned */
  int n_meta;
};

/* The dtype's name ("F32"), element size in bytes, and whether it reads as float. */
const char *gm__st_dtype_name(gm__st_dtype d);
size_t gm__st_dtype_size(gm__st_dtype d);
int gm__st_dtype_is_float(gm__st_dtype d);

/* Opens a whole file held in memory (borrowed: it must outlive the checkpoint); `label`
 * stands for the path in messages. Validates exactly as gm_checkpoint_open does. */
int gm__checkpoint_open_mem(gm_checkpoint **out, const void *data, size_t size,
                            const char *label, gm_error *err);
/* Reads entry i into dst: numel float32 values for float dtypes (as == GM_F32) or numel
 * int32 values for integer dtypes (as == GM_I32). GM_EDTYPE when the family differs,
 * GM_ERANGE for an integer that does not fit int32, GM_EIO when the file is short. */
int gm__checkpoint_read_host(const gm_checkpoint *c, int i, gm_dtype as, void *dst,
                             gm_error *err);
/* Entry index by name, or -1. */
int gm__checkpoint_index(const gm_checkpoint *c, const char *name);
/* The index of a name that repeats an earlier one in names[0..n), -1 if all differ,
 * -2 when out of memory. */
int gm__st_find_duplicate(const char *const *names, int n);
/* "(64, 3, 3, 3)", "()" for a scalar, into buf; returns buf. */
char *gm__st_shape_str(const int64_t *shape, int ndim, char *buf, size_t n);

#endif
