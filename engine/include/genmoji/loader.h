/* The loader plugin kind: a data source that yields RGBA8 images, each with a name and
 * its emoji codepoints. The dataset layer (dataset.h) composites, resizes, filters and
 * splits what loaders yield. */
#ifndef GENMOJI_LOADER_H
#define GENMOJI_LOADER_H

#include <stddef.h>
#include <stdint.h>
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GM_MAX_CODEPOINTS 16

typedef struct gm_image {
  int width, height;
  uint8_t *rgba;                      /* width * height * 4 bytes, straight alpha */
  char name[128];                     /* "grinning face" (emoji-test.txt) or the file stem */
  uint32_t codepoints[GM_MAX_CODEPOINTS];
  int n_codepoints;                   /* 0 when unknown */
  char group[64];                     /* "Smileys & Emotion", "" when unknown */
  char subgroup[64];                  /* "face-smiling", "" when unknown */
  char source[512];                   /* where it came from: a path, "font#glyph", "csv:line" */
} gm_image;

/* Options reach loaders as key=value pairs (e.g. "vendor"="Apple", "skip-bad"="1"). */
typedef struct gm_kv {
  const char *key;
  const char *value;
} gm_kv;

typedef struct gm_loader_vtable {
  uint32_t size;   /* required: sizeof(gm_loader_vtable) as built */

  /* required: 1 if this loader understands `source` ("noto", a .ttf path, a folder of
   * PNGs, a folder with full_emoji.csv), else 0. Must not fail loudly. */
  int (*probe)(const char *source);
  /* required: opens source; *state is the loader's own. An unknown option is an error. */
  int (*open)(void **state, const char *source, const gm_kv *opts, int n_opts, gm_error *err);
  /* required: fills *img (rgba malloc'd, the caller frees it with free()) and returns 1,
   * returns 0 at the end, or a negative code. */
  int (*next)(void *state, gm_image *img, gm_error *err);
  /* required */
  void (*close)(void *state);

  /* optional: the option keys this loader accepts, NULL-terminated, for --help. */
  const char *const *option_keys;
  /* optional: how many malformed records the loader has skipped so far (a loader that
   * can skip them, e.g. kaggle with skip-bad=1) and, if msg is non-NULL, the message of
   * the first one. */
  int (*skipped)(void *state, char *msg, size_t msg_size);
} gm_loader_vtable;

#ifdef __cplusplus
}
#endif
#endif
