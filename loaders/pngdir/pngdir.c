/* The `pngdir` loader: every *.png in one folder (not recursive), in byte order of the
 * file names. Files named by codepoints ("1F600.png", "1f468-200d-1f469.png") get their
 * names and groups from emoji-test.txt when it is there; other files are named by stem. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "genmoji/emoji.h"
#include "genmoji/image.h"
#include "genmoji/loader.h"
#include "genmoji/plugin.h"

typedef struct pngdir_state {
  char *dir;
  char **files;        /* base names, sorted */
  int n_files, next;
  int skip_bad;
  gm_emoji_names *names;  /* NULL when no stem is a codepoint or emoji-test.txt is absent */
} pngdir_state;

/* Copies src into a fixed-size field, cutting it short if it does not fit. */
static void copy_field(char *dst, size_t size, const char *src) {
  size_t n = strlen(src);
  if (n >= size) n = size - 1;
  memcpy(dst, src, n);
  dst[n] = '\0';
}

static const char *const option_keys[] = {"skip-bad", "emoji-test", NULL};

static int has_png_suffix(const char *name) {
  size_t n = strlen(name);
  return n > 4 && name[n - 4] == '.' && tolower((unsigned char)name[n - 3]) == 'p' &&
         tolower((unsigned char)name[n - 2]) == 'n' && tolower((unsigned char)name[n - 1]) == 'g';
}

static int is_regular(const char *dir, const char *name) {
  char path[4096];
  struct stat st;
  if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) return 0;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int pngdir_probe(const char *source) {
  struct stat st;
  if (!source || !*source || stat(source, &st) || !S_ISDIR(st.st_mode)) return 0;
  DIR *d = opendir(source);
  if (!d) return 0;
  int pngs = 0, csv = 0;
  for (struct dirent *de; (de = readdir(d));) {
    if (!strcmp(de->d_name, "full_emoji.csv")) csv = 1;
    else if (!pngs && has_png_suffix(de->d_name) && is_regular(source, de->d_name)) pngs = 1;
  }
  closedir(d);
  return pngs && !csv;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_pngs(pngdir_state *s, gm_error *err) {
  DIR *d = opendir(s->dir);
  if (!d)
    return gm_error_set(err, errno == ENOENT ? GM_ENOTFOUND : GM_EIO, "%s: cannot open folder: %s", s->dir,
                        strerror(errno));
  int cap = 0, rc = 0;
  for (struct dirent *de; (de = readdir(d));) {
    if (!has_png_suffix(de->d_name) || !is_regular(s->dir, de->d_name)) continue;
    if (s->n_files == cap) {
      cap = cap ? 2 * cap : 256;
      char **grown = realloc(s->files, (size_t)cap * sizeof *grown);
      if (!grown) {
        rc = gm_error_set(err, GM_ENOMEM, "%s: out of memory", s->dir);
        break;
      }
      s->files = grown;
    }
    if (!(s->files[s->n_files] = strdup(de->d_name))) {
      rc = gm_error_set(err, GM_ENOMEM, "%s: out of memory", s->dir);
      break;
    }
    s->n_files++;
  }
  closedir(d);
  if (rc) return rc;
  if (s->n_files == 0) return gm_error_set(err, GM_ENOTFOUND, "%s: no .png files in this folder", s->dir);
  qsort(s->files, (size_t)s->n_files, sizeof *s->files, by_name);
  return 0;
}

/* The file name without ".png". */
static void stem_of(const char *file, char *stem, size_t size) {
  snprintf(stem, size, "%.*s", (int)(strlen(file) - 4), file);
}

static int parse_flag(const char *key, const char *v, int *out, gm_error *err) {
  if (!v || !*v || !strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes")) *out = 1;
  else if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no")) *out = 0;
  else return gm_error_set(err, GM_EINVAL, "pngdir: option %s=%s: expected 1 or 0", key, v);
  return 0;
}

static void pngdir_close(void *state) {
  pngdir_state *s = state;
  if (!s) return;
  for (int i = 0; i < s->n_files; i++) free(s->files[i]);
  free(s->files);
  free(s->dir);
  gm_emoji_names_destroy(s->names);
  free(s);
}

/* Loads emoji-test.txt if some stem names codepoints; its absence is not an error unless
 * the caller named a file explicitly. */
static int load_names(pngdir_state *s, const char *emoji_test, gm_error *err) {
  int any = 0;
  for (int i = 0; i < s->n_files && !any; i++) {
    char stem[256];
    uint32_t cps[GM_MAX_CODEPOINTS];
    int n;
    stem_of(s->files[i], stem, sizeof stem);
    any = gm_emoji_parse_codepoints(stem, cps, GM_MAX_CODEPOINTS, &n) == 0;
  }
  if (!any) return 0;
  gm_error quiet = {0};
  int rc = gm_emoji_names_load(&s->names, emoji_test, &quiet);
  if (rc == GM_ENOTFOUND && !emoji_test) return 0;
  if (rc) gm_error_set(err, rc, "%s", quiet.msg);
  return rc;
}

static int pngdir_open(void **state, const char *source, const gm_kv *opts, int n_opts, gm_error *err) {
  *state = NULL;
  if (!source || !*source) return gm_error_set(err, GM_EINVAL, "pngdir: no folder given");
  pngdir_state *s = calloc(1, sizeof *s);
  if (!s || !(s->dir = strdup(source))) {
    free(s);
    return gm_error_set(err, GM_ENOMEM, "pngdir: out of memory");
  }
  const char *emoji_test = NULL;
  int rc = 0;
  for (int i = 0; i < n_opts && !rc; i++) {
    if (!strcmp(opts[i].key, "skip-bad")) rc = parse_flag(opts[i].key, opts[i].value, &s->skip_bad, err);
    else if (!strcmp(opts[i].key, "emoji-test")) emoji_test = opts[i].value;
    else rc = gm_error_set(err, GM_EINVAL, "pngdir: unknown option '%s' (accepted: skip-bad, emoji-test)", opts[i].key);
  }
  size_t n = strlen(s->dir);
  while (n > 1 && s->dir[n - 1] == '/') s->dir[--n] = '\0';
  if (!rc) rc = list_pngs(s, err);
  if (!rc) rc = load_names(s, emoji_test, err);
  if (rc) {
    pngdir_close(s);
    return rc;
  }
  *state = s;
  return 0;
}

/* Names an image from its file stem: the emoji-test.txt entry when the stem spells one. */
static void name_image(const pngdir_state *s, const char *file, gm_image *img) {
  char stem[256];
  uint32_t cps[GM_MAX_CODEPOINTS];
  int n = 0;
  stem_of(file, stem, sizeof stem);
  copy_field(img->name, sizeof img->name, stem);
  if (gm_emoji_parse_codepoints(stem, cps, GM_MAX_CODEPOINTS, &n)) return;
  const gm_emoji_entry *e = s->names ? gm_emoji_lookup(s->names, cps, n) : NULL;
  if (e) {
    copy_field(img->name, sizeof img->name, e->name);
    copy_field(img->group, sizeof img->group, e->group);
    copy_field(img->subgroup, sizeof img->subgroup, e->subgroup);
    memcpy(cps, e->codepoints, sizeof cps);
    n = e->n_codepoints;
  }
  memcpy(img->codepoints, cps, sizeof img->codepoints);
  img->n_codepoints = n;
}

static int pngdir_next(void *state, gm_image *img, gm_error *err) {
  pngdir_state *s = state;
  while (s->next < s->n_files) {
    const char *file = s->files[s->next++];
    memset(img, 0, sizeof *img);
    if (snprintf(img->source, sizeof img->source, "%s/%s", s->dir, file) >= (int)sizeof img->source)
      return gm_error_set(err, GM_ERANGE, "%s/%s: path too long", s->dir, file);
    gm_error why = {0};
    int rc = gm_png_read(img->source, img, &why);
    if (rc && s->skip_bad) continue;
    if (rc) return gm_error_set(err, rc, "%s", why.msg);
    name_image(s, file, img);
    return 1;
  }
  return 0;
}

static const gm_loader_vtable pngdir_vtable = {
    .size = sizeof(gm_loader_vtable),
    .probe = pngdir_probe,
    .open = pngdir_open,
    .next = pngdir_next,
    .close = pngdir_close,
    .option_keys = option_keys,
};

static const gm_plugin pngdir_plugin = {
    .abi = GM_PLUGIN_ABI,
    .size = sizeof(gm_plugin),
    .kind = GM_PLUGIN_KIND_LOADER,
    .name = "pngdir",
    .version = "1.0.0",
    .summary = "a folder of PNG files; codepoint file names get emoji names",
    .vtable = &pngdir_vtable,
};

GM_PLUGIN_EXPORT const gm_plugin *gm_plugin_entry(void) { return &pngdir_plugin; }
