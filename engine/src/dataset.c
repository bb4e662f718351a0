/* The dataset: reads a loader to the end, keeps what passes the filters, preprocesses it
 * to size x size RGB, marks the held-out split, and builds batches for models.
 * Pixels and filters live in dataset_image.c and dataset_filter.c. */
#include "genmoji/dataset.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset_internal.h"
#include "genmoji/annotations.h"
#include "genmoji/plugin.h"

struct gm_dataset {
  gm_dataset_item *items;
  int count, cap;
  int size;
  int skipped;
  char first_skip[GM_ERROR_MSG_MAX];
  int annotated;                      /* images with CLDR text */
  char cldr_dir[4096];                /* the folder read, "" when none */
  char text_note[GM_ERROR_MSG_MAX];   /* why there is none */
};

void gm_dataset_options_init(gm_dataset_options *o) {
  memset(o, 0, sizeof *o);
  o->size = 32;
  o->heldout = 0.1;
}

int gm_dataset_find_loader(const gm_registry *reg, const char *source,
                           const gm_plugin_record **out, gm_error *err) {
  char tried[1024] = "";
  size_t used = 0;
  *out = NULL;
  for (int i = 0; i < gm_registry_count(reg); i++) {
    const gm_plugin_record *r = gm_registry_record(reg, i);
    if (r->reason || !r->kind || strcmp(r->kind, GM_PLUGIN_KIND_LOADER) != 0 || !r->vtable)
      continue;
    const gm_loader_vtable *v = r->vtable;
    if (v->probe(source)) {
      *out = r;
      return 0;
    }
    if (used < sizeof tried)
      used += (size_t)snprintf(tried + used, sizeof tried - used, "%s%s", used ? ", " : "",
                               r->name);
  }
  return gm_error_set(err, GM_ENOTFOUND, "%s: no loader understands this data source (tried: %s)",
                      source, used ? tried : "no loader plugins were found");
}

static int check_options(const gm_dataset_options *o, gm_error *err) {
  if (o->subset && strcmp(o->subset, "faces") != 0)
    return gm_error_set(err, GM_EINVAL, "dataset: unknown subset \"%s\" (known: faces)",
                        o->subset);
  if (o->size < 1 || o->size > 1024)
    return gm_error_set(err, GM_EINVAL, "dataset: size %d is not in 1..1024", o->size);
  if (o->limit < 0) return gm_error_set(err, GM_EINVAL, "dataset: negative limit %d", o->limit);
  if (!(o->heldout >= 0.0 && o->heldout <= 1.0))
    return gm_error_set(err, GM_EINVAL, "dataset: held-out share %g is not in [0, 1]",
                        o->heldout);
  return 0;
}

/* Name and subgroup filters: cheap, so they run before the pixels are looked at. */
static int passes_names(const gm_image *img, const gm_dataset_options *o, const regex_t *re) {
  if (o->subset && strncmp(img->subgroup, "face-", 5) != 0) return 0;
  if (re && regexec(re, img->name, 0, NULL, 0) != 0) return 0;
  return 1;
}

static int add_item(gm_dataset *d, const gm_image *img, const gm_dataset_options *o,
                    const gm_emoji_annotations *ann_db,
                    gm_error *err) {
  if (d->count == d->cap) {
    int cap = d->cap ? d->cap * 2 : 64;
    gm_dataset_item *p = realloc(d->items, sizeof *p * (size_t)cap);
    if (!p) return gm_error_set(err, GM_ENOMEM, "dataset: out of memory for %d images", cap);
    d->items = p;
    d->cap = cap;
  }
  gm_dataset_item *it = &d->items[d->count];
  memset(it, 0, sizeof *it);
  it->rgb = malloc(3 * (size_t)o->size * (size_t)o->size);
  if (!it->rgb) return gm_error_set(err, GM_ENOMEM, "dataset: out of memory");
  int rc = gm__preprocess(it->rgb, o->size, img->rgba, img->width, img->height, o->background,
                          err);
  if (rc) {
    free(it->rgb);
    return gm_error_prefix(err, "%s", img->source);
  }
  memcpy(it->name, img->name, sizeof it->name);
  it->name[sizeof it->name - 1] = '\0';
  int n = img->n_codepoints;
  it->n_codepoints = n < 0 ? 0 : n > GM_MAX_CODEPOINTS ? GM_MAX_CODEPOINTS : n;
  memcpy(it->codepoints, img->codepoints, sizeof it->codepoints);
  memcpy(it->group, img->group, sizeof it->group);
  it->group[sizeof it->group - 1] = '\0';
  memcpy(it->subgroup, img->subgroup, sizeof it->subgroup);
  it->subgroup[sizeof it->subgroup - 1] = '\0';
  memcpy(it->source, img->source, sizeof it->source);
  it->source[sizeof it->source - 1] = '\0';
  it->heldout = gm_dataset_is_heldout(it->name, o->heldout);
  const gm_emoji_annotation *ann =
      ann_db && it->n_codepoints ? gm_emoji_annotations_lookup(ann_db, it->codepoints,
                                                                it->n_codepoints)
                                 : NULL;
  if (ann && !*ann->keywords && !*ann->name) ann = NULL;
  gm_emoji_text(ann, it->name, it->text, sizeof it->text);
  it->text_cldr = ann != NULL;
  d->annotated += it->text_cldr;
  d->count++;
  return 0;
}

/* The CLDR annotations for the images' text. The system's folder may be missing (the
 * names are the text then, and the dataset says why); a folder that was asked for, by
 * the options or GM_CLDR_DIR, must be there, and a malformed file is always an error. */
static int load_annotations(gm_dataset *d, const gm_dataset_options *o,
                            gm_emoji_annotations **out, gm_error *err) {
  const char *env = getenv(GM_CLDR_DIR_ENV);
  const char *dir = o->cldr_dir ? o->cldr_dir : env && *env ? env : NULL;
  gm_error e = {0};
  int rc = gm_emoji_annotations_load(out, dir, &e);
  if (rc == GM_ENOTFOUND && !dir) {
    snprintf(d->text_note, sizeof d->text_note, "%s", e.msg);
    return 0;
  }
  if (rc) {
    if (!err) return rc;
    *err = e;
    return gm_error_prefix(err, "dataset: the images' text");
  }
  snprintf(d->cldr_dir, sizeof d->cldr_dir, "%s", dir ? dir : GM_CLDR_DIR_DEFAULT);
  return 0;
}

/* Reads the open loader to the end (or to the limit). */
static int read_all(gm_dataset *d, const gm_loader_vtable *loader, void *state,
                    const gm_dataset_options *o, const regex_t *re,
                    const gm_emoji_annotations *ann_db, const char *source, gm_error *err) {
  for (;;) {
    if (o->limit && d->count >= o->limit) return 0;
    gm_image img;
    memset(&img, 0, sizeof img);
    int rc = loader->next(state, &img, err);
    if (rc <= 0) return rc;
    img.name[sizeof img.name - 1] = img.subgroup[sizeof img.subgroup - 1] = '\0';
    img.source[sizeof img.source - 1] = '\0';
    if (img.width <= 0 || img.height <= 0 || !img.rgba) {
      free(img.rgba);
      return gm_error_set(err, GM_EPLUGIN, "%s: the loader returned an empty image for \"%s\"",
                          source, img.name);
    }
    rc = 0;
    if (passes_names(&img, o, re) && (!o->yellow || gm__is_yellow(img.rgba, img.width, img.height)))
      rc = add_item(d, &img, o, ann_db, err);
    free(img.rgba);
    if (rc) return rc;
  }
}

int gm_dataset_load(gm_dataset **out, const gm_loader_vtable *loader, const char *source,
                    const gm_kv *opts, int n_opts, const gm_dataset_options *o_in,
                    gm_error *err) {
  *out = NULL;
  gm_dataset_options defaults;
  gm_dataset_options_init(&defaults);
  const gm_dataset_options *o = o_in ? o_in : &defaults;
  int rc = check_options(o, err);
  if (rc) return rc;
  regex_t re;
  if (o->match) {
    int e = regcomp(&re, o->match, REG_EXTENDED | REG_ICASE | REG_NOSUB);
    if (e) {
      char msg[256];
      regerror(e, &re, msg, sizeof msg);
      return gm_error_set(err, GM_EINVAL, "dataset: bad pattern \"%s\": %s", o->match, msg);
    }
  }
  gm_dataset *d = calloc(1, sizeof *d);
  void *state = NULL;
  gm_emoji_annotations *ann_db = NULL;
  if (!d) {
    rc = gm_error_set(err, GM_ENOMEM, "dataset: out of memory");
  } else {
    d->size = o->size;
    rc = load_annotations(d, o, &ann_db, err);
  }
  if (!rc) rc = loader->open(&state, source, opts, n_opts, err);
  if (!rc) {
    rc = read_all(d, loader, state, o, o->match ? &re : NULL, ann_db, source, err);
    if (loader->skipped) d->skipped = loader->skipped(state, d->first_skip, sizeof d->first_skip);
    loader->close(state);
  }
  if (o->match) regfree(&re);
  gm_emoji_annotations_destroy(ann_db);
  if (rc) {
    gm_dataset_destroy(d);
    return rc;
  }
  *out = d;
  return 0;
}

void gm_dataset_destroy(gm_dataset *d) {
  if (!d) return;
  for (int i = 0; i < d->count; i++) free(d->items[i].rgb);
  free(d->items);
  free(d);
}

int gm_dataset_count(const gm_dataset *d) { return d->count; }

const gm_dataset_item *gm_dataset_get(const gm_dataset *d, int i) {
  return i >= 0 && i < d->count ? &d->items[i] : NULL;
}

int gm_dataset_size(const gm_dataset *d) { return d->size; }

int gm_dataset_text_source(const gm_dataset *d, const char **dir, const char **note) {
  if (dir) *dir = d->cldr_dir;
  if (note) *note = d->text_note;
  return d->annotated;
}

int gm_dataset_skipped(const gm_dataset *d, const char **first) {
  if (first) *first = d->first_skip;
  return d->skipped;
}

int gm_dataset_split(const gm_dataset *d, int heldout, int *idx, int max) {
  int n = 0;
  for (int i = 0; i < d->count; i++) {
    if (heldout >= 0 && d->items[i].heldout != (heldout != 0)) continue;
    if (idx && n < max) idx[n] = i;
    n++;
  }
  return n;
}

static float map_pixel(uint8_t v, gm_pixel_map map) {
  switch (map) {
  case GM_PIXELS_SIGNED: return (float)(v / 127.5 - 1.0);
  case GM_PIXELS_Q16: return (float)(v >> 4);
  case GM_PIXELS_RAW: return (float)v;
  case GM_PIXELS_UNIT:
  default: return (float)(v / 255.0);
  }
}

int gm_dataset_batch(const gm_dataset *d, const int *idx, int n, const uint8_t *flip,
                     gm_pixel_map map, gm_tensor *out, gm_error *err) {
  int s = d->size;
  char shape[96];
  if (map != GM_PIXELS_UNIT && map != GM_PIXELS_SIGNED && map != GM_PIXELS_Q16 &&
      map != GM_PIXELS_RAW)
    return gm_error_set(err, GM_EINVAL, "dataset batch: unknown pixel map %d", (int)map);
  if (n <= 0) return gm_error_set(err, GM_EINVAL, "dataset batch: %d images", n);
  if (out->dtype != GM_F32)
    return gm_error_set(err, GM_EDTYPE, "dataset batch: %s: dtype %s, want f32",
                        out->name[0] ? out->name : "out", gm_dtype_name(out->dtype));
  if (out->ndim != 4 || out->shape[0] != n || out->shape[1] != 3 || out->shape[2] != s ||
      out->shape[3] != s)
    return gm_error_set(err, GM_ESHAPE, "dataset batch: %s: shape %s, want (%d, 3, %d, %d)",
                        out->name[0] ? out->name : "out", gm_shape_str(out, shape, sizeof shape),
                        n, s, s);
  for (int b = 0; b < n; b++)
    if (idx[b] < 0 || idx[b] >= d->count)
      return gm_error_set(err, GM_ERANGE, "dataset batch: index %d of %d is %d (%d images)", b,
                          n, idx[b], d->count);
  size_t plane = (size_t)s * (size_t)s;
  float *host = malloc(sizeof *host * 3 * plane * (size_t)n);
  if (!host) return gm_error_set(err, GM_ENOMEM, "dataset batch: out of memory for %d images", n);
  for (int b = 0; b < n; b++) {
    const uint8_t *rgb = d->items[idx[b]].rgb;
    int mirror = flip && flip[b];
    float *dst = host + 3 * plane * (size_t)b;
    for (int y = 0; y < s; y++)
      for (int x = 0; x < s; x++) {
        const uint8_t *p = rgb + 3 * ((size_t)y * (size_t)s + (size_t)(mirror ? s - 1 - x : x));
        for (int c = 0; c < 3; c++) dst[(size_t)c * plane + (size_t)y * (size_t)s + (size_t)x] = map_pixel(p[c], map);
      }
  }
  int rc = gm_tensor_write(out, host, sizeof *host * 3 * plane * (size_t)n, err);
  free(host);
  return rc;
}
