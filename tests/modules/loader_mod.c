/* A test loader plugin that yields two 2x2 images from the source "test:". Definitions
 * make it older (no option_keys), newer (a larger vtable), incomplete (no next), or
 * rename it (GMT_NAME, GMT_VERSION) for the search-order tests. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "genmoji/loader.h"
#include "genmoji/plugin.h"

#ifndef GMT_NAME
#if defined(GMT_OLD)
#define GMT_NAME "old"
#elif defined(GMT_NO_NEXT)
#define GMT_NAME "nonext"
#elif defined(GMT_BIG_VTABLE)
#define GMT_NAME "bigvt"
#else
#define GMT_NAME "good"
#endif
#endif
#ifndef GMT_VERSION
#define GMT_VERSION "1.2.3"
#endif

typedef struct state {
  int emitted;
} state;

static int probe(const char *source) { return strcmp(source, "test:") == 0; }

static int open_src(void **out, const char *source, const gm_kv *opts, int n_opts,
                    gm_error *err) {
  if (!probe(source)) return gm_error_set(err, GM_EINVAL, "%s: not a test source", source);
  if (n_opts > 0) return gm_error_set(err, GM_EINVAL, "unknown option '%s'", opts[0].key);
  state *s = calloc(1, sizeof *s);
  if (!s) return gm_error_set(err, GM_ENOMEM, "out of memory");
  *out = s;
  return 0;
}

/* Not static: the GMT_NO_NEXT variant leaves it out of its vtable. */
int gmt_next(void *st, gm_image *img, gm_error *err);
int gmt_next(void *st, gm_image *img, gm_error *err) {
  state *s = st;
  if (s->emitted == 2) return 0;
  memset(img, 0, sizeof *img);
  img->width = img->height = 2;
  img->rgba = malloc(16);
  if (!img->rgba) return gm_error_set(err, GM_ENOMEM, "out of memory");
  for (int i = 0; i < 4; i++) {
    img->rgba[4 * i + 0] = (uint8_t)(100 + s->emitted);
    img->rgba[4 * i + 1] = 0;
    img->rgba[4 * i + 2] = 0;
    img->rgba[4 * i + 3] = 255;
  }
  snprintf(img->name, sizeof img->name, "test image %d", s->emitted);
  s->emitted++;
  return 1;
}

static void close_src(void *st) { free(st); }

#if defined(GMT_OLD)
/* The loader vtable as an older genmoji declared it, before option_keys existed. */
typedef struct old_loader_vtable {
  uint32_t size;
  int (*probe)(const char *source);
  int (*open)(void **state, const char *source, const gm_kv *opts, int n_opts, gm_error *err);
  int (*next)(void *state, gm_image *img, gm_error *err);
  void (*close)(void *state);
} old_loader_vtable;
static const old_loader_vtable vtable = {
    .size = sizeof(old_loader_vtable),
    .probe = probe,
    .open = open_src,
    .next = gmt_next,
    .close = close_src,
};
#elif defined(GMT_BIG_VTABLE)
/* The vtable of a newer genmoji with one more slot than this host knows. */
typedef struct newer_loader_vtable {
  gm_loader_vtable base;
  int (*seek)(void *state, long index);
} newer_loader_vtable;
static const newer_loader_vtable vtable = {
    .base = {.size = sizeof(newer_loader_vtable), .probe = probe, .open = open_src,
             .next = gmt_next, .close = close_src},
    .seek = NULL,
};
#else
static const char *const option_keys[] = {"colour", NULL};
static const gm_loader_vtable vtable = {
    .size = sizeof(gm_loader_vtable),
    .probe = probe,
    .open = open_src,
#ifndef GMT_NO_NEXT
    .next = gmt_next,
#endif
    .close = close_src,
    .option_keys = option_keys,
};
#endif

static const gm_plugin plugin = {
    .abi = GM_PLUGIN_ABI,
    .size = sizeof(gm_plugin),
    .kind = GM_PLUGIN_KIND_LOADER,
    .name = GMT_NAME,
    .version = GMT_VERSION,
    .summary = "a loader for the plugin host's tests",
    .vtable = &vtable,
};

GM_PLUGIN_EXPORT const gm_plugin *gm_plugin_entry(void) { return &plugin; }
