/* The kaggle loader: the Full Emoji Image Dataset layout (full_emoji.csv with one base64
 * PNG column per vendor, or its image/<Vendor>/<#>.png folders), one vendor at a time. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "genmoji/emoji.h"
#include "genmoji/error.h"
#include "genmoji/image.h"
#include "genmoji/loader.h"
#include "genmoji/plugin.h"
#include "kaggle_csv.h"

#define CSV_NAME "full_emoji.csv"
#define DEFAULT_VENDOR "Apple"

typedef struct kaggle {
  char path[1024];          /* the CSV file, or the image/<Vendor> folder */
  char vendor[64];          /* as the header or the folder spells it */
  int skip_bad;
  const char *emoji_test;   /* NULL: the default emoji-test.txt */
  int skipped;
  char first_skip[GM_ERROR_MSG_MAX];
  gm_emoji_names *names;

  /* CSV mode */
  FILE *f;
  kaggle__csv *csv;
  int n_cols, col_num, col_unicode, col_name, col_vendor;

  /* image-folder mode: the numbered PNGs, sorted */
  long *numbers;
  int n_numbers, next_number;
} kaggle;

static int is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

static int kaggle_probe(const char *source) {
  char p[1100];
  if (!source || !*source) return 0;
  if (is_file(source)) return ends_with(source, ".csv");
  if (!is_dir(source)) return 0;
  snprintf(p, sizeof p, "%s/" CSV_NAME, source);
  if (is_file(p)) return 1;
  snprintf(p, sizeof p, "%s/image", source);
  return is_dir(p);
}

static void kaggle_close(void *state) {
  kaggle *k = state;
  if (!k) return;
  if (k->csv) kaggle__csv_close(k->csv);
  free(k->csv);
  if (k->f) fclose(k->f);
  free(k->numbers);
  gm_emoji_names_destroy(k->names);
  free(k);
}

/* Counts a skipped record (skip-bad=1) and keeps the first message. */
static void note_skip(kaggle *k, const gm_error *err) {
  if (k->skipped++ == 0) snprintf(k->first_skip, sizeof k->first_skip, "%s", err->msg);
}

static int kaggle_skipped(void *state, char *msg, size_t msg_size) {
  kaggle *k = state;
  if (msg && msg_size) snprintf(msg, msg_size, "%s", k->skipped ? k->first_skip : "");
  return k->skipped;
}

static int parse_options(kaggle *k, const gm_kv *opts, int n_opts, gm_error *err) {
  snprintf(k->vendor, sizeof k->vendor, "%s", DEFAULT_VENDOR);
  for (int i = 0; i < n_opts; i++) {
    const char *key = opts[i].key, *v = opts[i].value ? opts[i].value : "";
    if (strcmp(key, "vendor") == 0) {
      if (!*v || strlen(v) >= sizeof k->vendor)
        return gm_error_set(err, GM_EINVAL, "kaggle: bad vendor \"%s\"", v);
      snprintf(k->vendor, sizeof k->vendor, "%s", v);
    } else if (strcmp(key, "skip-bad") == 0) {
      if (strcmp(v, "0") && strcmp(v, "1"))
        return gm_error_set(err, GM_EINVAL, "kaggle: skip-bad must be 0 or 1, not \"%s\"", v);
      k->skip_bad = v[0] == '1';
    } else if (strcmp(key, "emoji-test") == 0) {
      k->emoji_test = v;
    } else {
      return gm_error_set(err, GM_EINVAL,
                          "kaggle: unknown option \"%s\" (known: vendor, skip-bad, emoji-test)",
                          key);
    }
  }
  return 0;
}

/* ---- CSV mode ---- */

/* Header lookup, case-insensitive; the first column may carry a UTF-8 byte order mark. */
static int find_column(const kaggle__csv *c, const char *name) {
  for (int i = 0; i < c->n_fields; i++) {
    const char *f = c->fields[i];
    if (i == 0 && strncmp(f, "\xEF\xBB\xBF", 3) == 0) f += 3;
    if (strcasecmp(f, name) == 0) return i;
  }
  return -1;
}

static int open_csv(kaggle *k, gm_error *err) {
  k->f = fopen(k->path, "rb");
  if (!k->f) return gm_error_set(err, GM_EIO, "%s: cannot open: %s", k->path, strerror(errno));
  k->csv = malloc(sizeof *k->csv);
  if (!k->csv) return gm_error_set(err, GM_ENOMEM, "%s: out of memory", k->path);
  kaggle__csv_init_file(k->csv, k->f, k->path);
  int rc = kaggle__csv_next(k->csv, err);
  if (rc < 0) return rc;
  if (rc == 0) return gm_error_set(err, GM_EFORMAT, "%s: empty file, no header row", k->path);
  kaggle__csv *c = k->csv;
  k->n_cols = c->n_fields;
  k->col_num = find_column(c, "#");
  k->col_unicode = find_column(c, "unicode");
  k->col_name = find_column(c, "name");
  const char *missing = k->col_num < 0       ? "#"
                        : k->col_unicode < 0 ? "unicode"
                        : k->col_name < 0    ? "name"
                                             : NULL;
  if (missing)
    return gm_error_set(err, GM_EFORMAT, "%s:%ld: the header has no \"%s\" column", k->path,
                        c->line, missing);
  k->col_vendor = find_column(c, k->vendor);
  int last = k->col_num > k->col_unicode ? k->col_num : k->col_unicode;
  if (k->col_name > last) last = k->col_name;
  if (k->col_vendor < 0 || k->col_vendor <= last) {
    char known[1024] = "";
    size_t used = 0;
    for (int i = last + 1; i < c->n_fields && used < sizeof known; i++)
      used += (size_t)snprintf(known + used, sizeof known - used, "%s%s", used ? ", " : "",
                               c->fields[i]);
    return gm_error_set(err, GM_EINVAL, "%s: no vendor column \"%s\" (known: %s)", k->path,
                        k->vendor, known[0] ? known : "none");
  }
  snprintf(k->vendor, sizeof k->vendor, "%s", c->fields[k->col_vendor]);
  return 0;
}

static void trim_copy(char *dst, size_t n, const char *src) {
  while (*src == ' ' || *src == '\t') src++;
  size_t len = strlen(src);
  while (len && (src[len - 1] == ' ' || src[len - 1] == '\t')) len--;
  if (len >= n) len = n - 1;
  memcpy(dst, src, len);
  dst[len] = '\0';
}

/* One data row: 1 with an image, 0 when this vendor has none, or a negative code with a
 * message naming the file and line. */
static int csv_row(kaggle *k, gm_image *img, gm_error *err) {
  kaggle__csv *c = k->csv;
  if (c->n_fields != k->n_cols)
    return gm_error_set(err, GM_EFORMAT, "%s:%ld: %d fields where the header has %d", k->path,
                        c->line, c->n_fields, k->n_cols);
  uint32_t cps[GM_MAX_CODEPOINTS];
  int n_cps = 0;
  int rc = kaggle__codepoints(c->fields[k->col_unicode], cps, GM_MAX_CODEPOINTS, &n_cps, err);
  if (rc) return gm_error_prefix(err, "%s:%ld", k->path, c->line);
  const char *b64;
  size_t b64_len;
  rc = kaggle__data_uri(c->fields[k->col_vendor], c->lens[k->col_vendor], &b64, &b64_len,
                           err);
  if (rc < 0) return gm_error_prefix(err, "%s:%ld: %s column", k->path, c->line, k->vendor);
  if (rc == 1) return 0;
  uint8_t *png;
  size_t png_len;
  rc = kaggle__base64_decode(b64, b64_len, &png, &png_len, err);
  if (rc) return gm_error_prefix(err, "%s:%ld: %s column", k->path, c->line, k->vendor);
  char what[1200];
  snprintf(what, sizeof what, "%s:%ld: %s column", k->path, c->line, k->vendor);
  memset(img, 0, sizeof *img);
  rc = gm_png_decode(png, png_len, what, img, err);
  free(png);
  if (rc) return rc;

  memcpy(img->codepoints, cps, (size_t)n_cps * sizeof cps[0]);
  img->n_codepoints = n_cps;
  /* Names and groups from emoji-test.txt; the lookup forgives a missing or extra FE0F. */
  const gm_emoji_entry *e = gm_emoji_lookup(k->names, cps, n_cps);
  trim_copy(img->name, sizeof img->name, c->fields[k->col_name]);
  if (!img->name[0] && e) snprintf(img->name, sizeof img->name, "%s", e->name);
  if (!img->name[0]) snprintf(img->name, sizeof img->name, "#%s", c->fields[k->col_num]);
  if (e) {
    snprintf(img->group, sizeof img->group, "%s", e->group);
    snprintf(img->subgroup, sizeof img->subgroup, "%s", e->subgroup);
  }
  snprintf(img->source, sizeof img->source, "%.400s:%ld#%.63s", k->path, c->line, k->vendor);
  return 1;
}

static int next_csv(kaggle *k, gm_image *img, gm_error *err) {
  for (;;) {
    int rc = kaggle__csv_next(k->csv, err);
    if (rc == 0) {
      if (ferror(k->f)) return gm_error_set(err, GM_EIO, "%s: read error", k->path);
      return 0;
    }
    if (rc == 1) {
      rc = csv_row(k, img, err);
      if (rc == 1) return 1;
      if (rc == 0) continue; /* no image for this vendor */
    }
    if (!k->skip_bad || rc == GM_ENOMEM || rc == GM_EIO) return rc;
    note_skip(k, err);
    gm_error_clear(err);
  }
}

/* ---- image-folder mode ---- */

static int cmp_long(const void *a, const void *b) {
  long x = *(const long *)a, y = *(const long *)b;
  return (x > y) - (x < y);
}

/* "123.png" -> 123; -1 for any other name. */
static long png_number(const char *name) {
  char *end;
  if (name[0] < '0' || name[0] > '9') return -1;
  errno = 0;
  long v = strtol(name, &end, 10);
  if (errno || strcmp(end, ".png") != 0 || v < 0) return -1;
  return v;
}

/* Finds image/<vendor> case-insensitively, or says which vendor folders exist. */
static int find_vendor_dir(kaggle *k, const char *root, gm_error *err) {
  char dir[1100];
  snprintf(dir, sizeof dir, "%s/image", root);
  DIR *d = opendir(dir);
  if (!d) return gm_error_set(err, GM_EIO, "%s: cannot open: %s", dir, strerror(errno));
  char known[1024] = "";
  size_t used = 0;
  int found = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.') continue;
    char sub[2200];
    snprintf(sub, sizeof sub, "%s/%s", dir, de->d_name);
    if (!is_dir(sub)) continue;
    if (!found && strcasecmp(de->d_name, k->vendor) == 0) {
      found = 1;
      snprintf(k->vendor, sizeof k->vendor, "%.63s", de->d_name);
      if (snprintf(k->path, sizeof k->path, "%s", sub) >= (int)sizeof k->path) {
        closedir(d);
        return gm_error_set(err, GM_EINVAL, "%s: path too long", sub);
      }
    }
    if (used < sizeof known)
      used += (size_t)snprintf(known + used, sizeof known - used, "%s%s", used ? ", " : "",
                               de->d_name);
  }
  closedir(d);
  if (!found)
    return gm_error_set(err, GM_EINVAL, "%s: no vendor folder \"%s\" (known: %s)", dir,
                        k->vendor, known[0] ? known : "none");
  return 0;
}

static int open_folder(kaggle *k, const char *root, gm_error *err) {
  int rc = find_vendor_dir(k, root, err);
  if (rc) return rc;
  DIR *d = opendir(k->path);
  if (!d) return gm_error_set(err, GM_EIO, "%s: cannot open: %s", k->path, strerror(errno));
  int cap = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    long v = png_number(de->d_name);
    if (v < 0) continue;
    if (k->n_numbers == cap) {
      cap = cap ? cap * 2 : 256;
      long *p = realloc(k->numbers, (size_t)cap * sizeof *p);
      if (!p) {
        closedir(d);
        return gm_error_set(err, GM_ENOMEM, "%s: out of memory", k->path);
      }
      k->numbers = p;
    }
    k->numbers[k->n_numbers++] = v;
  }
  closedir(d);
  if (k->n_numbers) qsort(k->numbers, (size_t)k->n_numbers, sizeof *k->numbers, cmp_long);
  return 0;
}

static int next_folder(kaggle *k, gm_image *img, gm_error *err) {
  while (k->next_number < k->n_numbers) {
    long v = k->numbers[k->next_number++];
    char file[1200];
    snprintf(file, sizeof file, "%s/%ld.png", k->path, v);
    memset(img, 0, sizeof *img);
    int rc = gm_png_read(file, img, err);
    if (rc) {
      if (!k->skip_bad || rc == GM_ENOMEM) return rc;
      note_skip(k, err);
      gm_error_clear(err);
      continue;
    }
    /* The folders carry no names: the number is the name, as pngdir would call it. */
    snprintf(img->name, sizeof img->name, "%ld", v);
    if (snprintf(img->source, sizeof img->source, "%s", file) >= (int)sizeof img->source) {
      gm_image_free(img);
      return gm_error_set(err, GM_EINVAL, "%s: path too long", file);
    }
    return 1;
  }
  return 0;
}

/* ---- the plugin ---- */

static int kaggle_open(void **state, const char *source, const gm_kv *opts, int n_opts,
                       gm_error *err) {
  *state = NULL;
  kaggle *k = calloc(1, sizeof *k);
  if (!k) return gm_error_set(err, GM_ENOMEM, "kaggle: out of memory");
  int rc = parse_options(k, opts, n_opts, err);
  if (!rc) {
    /* The CSV carries names itself; emoji-test.txt only adds groups and subgroups. A
     * missing default copy is no reason to refuse the data (the `faces` filter then finds
     * no subgroups); a missing file the user named is an error. */
    rc = gm_emoji_names_load(&k->names, k->emoji_test, err);
    if (rc == GM_ENOTFOUND && !k->emoji_test && !getenv(GM_EMOJI_TEST_ENV)) {
      gm_error_clear(err);
      rc = 0;
    }
  }
  if (!rc) {
    const char *fmt = is_file(source) ? "%s" : "%s/" CSV_NAME;
    if (snprintf(k->path, sizeof k->path, fmt, source) >= (int)sizeof k->path) {
      rc = gm_error_set(err, GM_EINVAL, "%s: path too long", source);
    } else if (is_file(k->path)) {
      rc = open_csv(k, err);
    } else if (is_dir(source)) {
      rc = open_folder(k, source, err);
    } else {
      rc = gm_error_set(err, GM_ENOTFOUND, "%s: neither a folder nor a CSV file", source);
    }
  }
  if (rc) {
    kaggle_close(k);
    return rc;
  }
  *state = k;
  return 0;
}

static int kaggle_next(void *state, gm_image *img, gm_error *err) {
  kaggle *k = state;
  return k->csv ? next_csv(k, img, err) : next_folder(k, img, err);
}

static const char *const k_option_keys[] = {"vendor", "skip-bad", "emoji-test", NULL};

static const gm_loader_vtable k_vtable = {
    .size = sizeof(gm_loader_vtable),
    .probe = kaggle_probe,
    .open = kaggle_open,
    .next = kaggle_next,
    .close = kaggle_close,
    .option_keys = k_option_keys,
    .skipped = kaggle_skipped,
};

static const gm_plugin k_plugin = {
    .abi = GM_PLUGIN_ABI,
    .size = sizeof(gm_plugin),
    .kind = GM_PLUGIN_KIND_LOADER,
    .name = "kaggle",
    .version = "0.1.0",
    .summary = "the Full Emoji Image Dataset (full_emoji.csv or image/<Vendor>/<n>.png)",
    .vtable = &k_vtable,
};

GM_PLUGIN_EXPORT const gm_plugin *gm_plugin_entry(void) { return &k_plugin; }
