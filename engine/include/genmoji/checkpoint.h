/* Checkpoints as .safetensors files, the format PyTorch's safetensors package reads and
 * writes, so weights travel both ways (engine/src/checkpoint.c, parser in safetensors.c).
 *
 * Layout: an 8-byte little-endian header length N, N bytes of JSON (padded with spaces)
 *     {"__metadata__": {"key": "string value", ...},
 *      "name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}
 * then the raw little-endian data; offsets count from the first byte after the header.
 *
 *     gm_checkpoint_write_params("run/last.safetensors", params, extra, n_extra, meta,
 *                                n_meta, &err);       // atomic: temp file, fsync, rename
 *     gm_checkpoint *c;
 *     gm_checkpoint_open(&c, "run/last.safetensors", &err);   // validates the header
 *     const char *step = gm_checkpoint_meta(c, "step");
 *     gm_checkpoint_load_params(c, params, (const char *[]){"optim.", "ema.", NULL}, &err);
 *     gm_checkpoint_close(c);
 */
#ifndef GENMOJI_CHECKPOINT_H
#define GENMOJI_CHECKPOINT_H

#include <stdint.h>

#include "error.h"
#include "loader.h"
#include "model.h"
#include "params.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gm_checkpoint gm_checkpoint;

/* The most dimensions a tensor in a checkpoint may have (gm_tensor takes GM_MAX_DIMS). */
#define GM_CHECKPOINT_MAX_DIMS 8

/* Writes named tensors (F32 as "F32"; I32 tensors as "I64", PyTorch's integer type, e.g.
 * BatchNorm's num_batches_tracked) and string metadata. The data is packed tightly in
 * the given order, as safetensors.torch does. Atomic: a temporary file in the same
 * folder, fsync, rename over `path`, fsync of the folder; a failure at any point leaves
 * an existing `path` untouched and removes the temporary. Tensor names must be unique,
 * non-empty, valid UTF-8 and not "__metadata__"; metadata keys unique, metadata strings
 * valid UTF-8 (errors name the offender). */
GM_API int gm_checkpoint_write(const char *path, const gm_named_tensor *tensors, int n,
                               const gm_kv *meta, int n_meta, gm_error *err);
/* Every parameter and buffer of p (finalized) under its own name, in declaration order,
 * then the `extra` tensors (optimiser moments, EMA weights under their own prefixes). */
GM_API int gm_checkpoint_write_params(const char *path, const gm_params *p,
                                      const gm_named_tensor *extra, int n_extra,
                                      const gm_kv *meta, int n_meta, gm_error *err);

/* Opens and validates the header: the file is at least 8 bytes, the header length lies
 * within the file and below 100 MB, the header is a JSON object whose entries each have
 * a known dtype (F32, F64, F16, BF16, I64, I32, I16, I8, U8, BOOL), a shape of at most
 * GM_CHECKPOINT_MAX_DIMS non-negative integers and data_offsets [begin, end] with
 * begin <= end <= the data size and end - begin == numel * dtype size; no two tensors
 * overlap and no name repeats; __metadata__, if present, is an object of strings.
 * Any failure is GM_EFORMAT with a message naming the file and the tensor (or "header").
 * Tensor data is read from the file only when asked for. */
GM_API int gm_checkpoint_open(gm_checkpoint **out, const char *path, gm_error *err);
GM_API void gm_checkpoint_close(gm_checkpoint *c);  /* safe on NULL */
GM_API const char *gm_checkpoint_path(const gm_checkpoint *c);

/* The __metadata__ strings, in file order. */
GM_API const char *gm_checkpoint_meta(const gm_checkpoint *c, const char *key); /* NULL if absent */
GM_API int gm_checkpoint_meta_count(const gm_checkpoint *c);
GM_API const gm_kv *gm_checkpoint_meta_at(const gm_checkpoint *c, int i);       /* NULL out of range */

/* The tensors, in header order. A scalar (PyTorch shape []) has ndim 0. */
typedef struct gm_checkpoint_entry {
  const char *name;
  const char *dtype;                       /* "F32", "I64", ... */
  int ndim;
  int64_t shape[GM_CHECKPOINT_MAX_DIMS];
} gm_checkpoint_entry;

GM_API int gm_checkpoint_count(const gm_checkpoint *c);
GM_API const gm_checkpoint_entry *gm_checkpoint_entry_at(const gm_checkpoint *c, int i);
GM_API const gm_checkpoint_entry *gm_checkpoint_find(const gm_checkpoint *c, const char *name);

/* Reads tensor `name` into dst, whose shape must equal the file's (a mismatch is
 * GM_ESHAPE naming the tensor and both shapes). Float dtypes (F32, F64, F16, BF16) go
 * into an F32 tensor; integer dtypes (I64 with a range check, I32, I16, I8, U8, BOOL)
 * into an I32 tensor; any other pairing is GM_EDTYPE. */
GM_API int gm_checkpoint_read(const gm_checkpoint *c, const char *name, gm_tensor *dst,
                              gm_error *err);
/* As gm_checkpoint_read for weights: a NaN or infinite value in a float tensor is
 * GM_ENUMERIC naming the file, the tensor and the element, and dst is left unchanged. */
GM_API int gm_checkpoint_read_finite(const gm_checkpoint *c, const char *name, gm_tensor *dst,
                                     gm_error *err);
/* Reads it into a new caller-owned tensor on dev: F32, or I32 for integer dtypes. */
GM_API int gm_checkpoint_read_new(const gm_checkpoint *c, const char *name, gm_device *dev,
                                  gm_tensor **out, gm_error *err);
/* Loads every parameter and buffer of p (finalized) by name. Every one must be in the
 * file with its exact shape (GM_ENOTFOUND / GM_ESHAPE naming it); a tensor in the file
 * that p lacks is allowed only if it starts with one of `ignore_prefixes` (NULL-
 * terminated, e.g. {"optim.", "ema.", NULL}; NULL for none), otherwise GM_EFORMAT naming
 * it. A NaN or infinite value in a float tensor is GM_ENUMERIC naming the file, the
 * tensor and the element (such weights come from a run that diverged). Everything is
 * checked and read into host memory before p is written, so p is left unchanged by any
 * failure in the file. */
GM_API int gm_checkpoint_load_params(const gm_checkpoint *c, gm_params *p,
                                     const char *const *ignore_prefixes, gm_error *err);

#ifdef __cplusplus
}
#endif
#endif
