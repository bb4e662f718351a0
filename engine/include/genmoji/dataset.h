/* Datasets: what a loader plugin yields, filtered (faces, yellow, a name pattern, a
 * limit), preprocessed (composited over a background, padded to a square, area-averaged
 * to size x size RGB), split by a hash of the name, and handed to models as batches.
 *
 *     gm_dataset_options o;
 *     gm_dataset_options_init(&o);             // 32x32 over black, 10% held out
 *     o.subset = "faces"; o.yellow = 1;
 *     const gm_plugin_record *rec;
 *     gm_dataset_find_loader(reg, "noto", &rec, &err);
 *     gm_dataset_load(&ds, rec->vtable, "noto", NULL, 0, &o, &err);
 *     int idx[64], n = gm_dataset_split(ds, 0, idx, 64);      // training images
 *     gm_dataset_batch(ds, idx, n, NULL, GM_PIXELS_UNIT, x, &err);  // x: (n, 3, 32, 32)
 */
#ifndef GENMOJI_DATASET_H
#define GENMOJI_DATASET_H

#include <stddef.h>
#include <stdint.h>
#include "error.h"
#include "host.h"
#include "loader.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gm_dataset gm_dataset;

typedef struct gm_dataset_options {
  const char *subset;       /* NULL (all) or "faces" (Unicode subgroups face-*) */
  int yellow;               /* keep images whose opaque pixels are mostly yellow (below) */
  const char *match;        /* POSIX extended regex on names, case-insensitive; NULL = all */
  int limit;                /* 0 = all; else the first N (in loader order) that pass */
  int size;                 /* output side in pixels, default 32 */
  uint8_t background[3];    /* composite colour, default black */
  double heldout;           /* share held out, default 0.1 */
  /* CLDR common/ folder for the images' text (annotations.h); NULL: $GM_CLDR_DIR, else
   * the system's, and when that is not installed, the names alone */
  const char *cldr_dir;
} gm_dataset_options;

typedef struct gm_dataset_item {
  char name[128];
  uint32_t codepoints[GM_MAX_CODEPOINTS];
  int n_codepoints;         /* 0 when unknown */
  char group[64];
  char subgroup[64];
  char source[512];
  int heldout;              /* 1 = in the held-out split */
  uint8_t *rgb;             /* (size, size, 3), preprocessed */
  /* What the image shows, in words: CLDR's keywords and name for its codepoints
   * ("face | wink | winking face", gm_emoji_text), else the name */
  char text[512];
  int text_cldr;            /* 1 when text came from the CLDR annotations */
} gm_dataset_item;

GM_API void gm_dataset_options_init(gm_dataset_options *o);

/* The loaded loader whose probe() accepts source (registry order). None: GM_ENOTFOUND
 * with a message naming the source and the loaders tried. */
GM_API int gm_dataset_find_loader(const gm_registry *reg, const char *source,
                                  const gm_plugin_record **out, gm_error *err);

/* Opens source with loader (options opts as key=value pairs), keeps what passes the
 * filters of o (NULL: defaults) and preprocesses it. */
GM_API int gm_dataset_load(gm_dataset **out, const gm_loader_vtable *loader, const char *source,
                           const gm_kv *opts, int n_opts, const gm_dataset_options *o,
                           gm_error *err);
GM_API void gm_dataset_destroy(gm_dataset *d);

GM_API int gm_dataset_count(const gm_dataset *d);
GM_API const gm_dataset_item *gm_dataset_get(const gm_dataset *d, int i);
/* Where the images' text came from: the CLDR folder read, or "" when the system has no
 * CLDR annotations (then *note says so and every text is the name). Returns how many
 * images have CLDR text. */
GM_API int gm_dataset_text_source(const gm_dataset *d, const char **dir, const char **note);
/* The side of every image in pixels. */
GM_API int gm_dataset_size(const gm_dataset *d);
/* How many malformed records the loader skipped (skip-bad), and the first one's message
 * in *first (never NULL; "" when none). */
GM_API int gm_dataset_skipped(const gm_dataset *d, const char **first);

/* The indices of one split in order: heldout = 1 the held-out images, 0 the training
 * images, -1 all. Writes at most max of them; returns how many there are. */
GM_API int gm_dataset_split(const gm_dataset *d, int heldout, int *idx, int max);

/* Whether a name falls in the held-out share: FNV-1a 64 of the name's bytes, mixed by
 * splitmix64's finaliser, as a fraction of 2^64, below heldout. The same on every run
 * and machine. */
GM_API uint64_t gm_dataset_name_hash(const char *name);
GM_API int gm_dataset_is_heldout(const char *name, double heldout);

/* How 8-bit values become floats in a batch. */
typedef enum gm_pixel_map {
  GM_PIXELS_UNIT,    /* v / 255, in [0, 1] */
  GM_PIXELS_SIGNED,  /* v / 127.5 - 1, in [-1, 1] */
  GM_PIXELS_Q16,     /* v >> 4 as a float, 0..15 (the study's 16 levels) */
  GM_PIXELS_RAW      /* v as a float, 0..255: the model boundary (model.h) */
} gm_pixel_map;

/* Writes images idx[0..n) into out (n, 3, S, S) F32, mirrored left-right where flip[i]
 * is non-zero (flip may be NULL). Built on the host and sent with one gm_tensor_write. */
GM_API int gm_dataset_batch(const gm_dataset *d, const int *idx, int n, const uint8_t *flip,
                            gm_pixel_map map, gm_tensor *out, gm_error *err);

#ifdef __cplusplus
}
#endif
#endif
