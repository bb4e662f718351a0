/* The `notoemoji` loader: colour bitmaps of a CBDT/CBLC emoji font (by default Debian's
 * Noto Color Emoji), one image per fully-qualified single-codepoint emoji of
 * emoji-test.txt that the font's cmap maps to a glyph with a bitmap, in that file's order. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "genmoji/emoji.h"
#include "genmoji/image.h"
#include "genmoji/loader.h"
#include "genmoji/plugin.h"
#include "sfnt.h"

#define NOTO_DEFAULT_FONT "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"
#define NOTO_FONT_ENV "GM_NOTO_FONT"
#define MAX_FONT_BYTES ((size_t)256 << 20)

typedef struct noto_state {
  uint8_t *font;
  size_t font_len;
  sfnt__font sfnt;
  gm_emoji_names *names;
  int next_entry;
  char path[1024];
  char font_name[256];   /* the file's base name, for sources and messages */
} noto_state;

/* Copies src into a fixed-size field, cutting it short if it does not fit. */
static void copy_field(char *dst, size_t size, const char *src) {
  size_t n = strlen(src);
  if (n >= size) n = size - 1;
  memcpy(dst, src, n);
  dst[n] = '\0';
}

static const char *const option_keys[] = {"emoji-test", NULL};

static int is_default_source(const char *source) {
  return !source || !*source || !strcmp(source, "noto") || !strcmp(source, "notoemoji");
}

static const char *default_font(void) {
  const char *env = getenv(NOTO_FONT_ENV);
  return env && *env ? env : NOTO_DEFAULT_FONT;
}

static int has_font_suffix(const char *s) {
  size_t n = strlen(s);
  if (n < 4) return 0;
  const char *ext = s + n - 4;
  return ext[0] == '.' && ((tolower((unsigned char)ext[1]) == 't' && tolower((unsigned char)ext[2]) == 't') ||
                           (tolower((unsigned char)ext[1]) == 'o' && tolower((unsigned char)ext[2]) == 't')) &&
         tolower((unsigned char)ext[3]) == 'f';
}

static int noto_probe(const char *source) {
  if (is_default_source(source)) return 1;
  if (!has_font_suffix(source)) return 0;
  FILE *f = fopen(source, "rb");
  if (!f) return 0;
  /* The 12-byte header and up to 256 directory records (real fonts have a few dozen). */
  uint8_t head[12 + 16 * 256];
  size_t n = fread(head, 1, sizeof head, f);
  fclose(f);
  return sfnt__has_table(head, n, "CBDT");
}

static int read_font(noto_state *s, int is_default, gm_error *err) {
  FILE *f = fopen(s->path, "rb");
  if (!f) {
    if (errno == ENOENT && is_default)
      return gm_error_set(err, GM_ENOTFOUND,
                          "%s: not found; it comes with Debian's fonts-noto-color-emoji package "
                          "(apt-get install fonts-noto-color-emoji), or set %s to a CBDT colour emoji font",
                          s->path, NOTO_FONT_ENV);
    return gm_error_set(err, errno == ENOENT ? GM_ENOTFOUND : GM_EIO, "%s: cannot open: %s", s->path,
                        strerror(errno));
  }
  struct stat st;
  if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode) || (unsigned long long)st.st_size > MAX_FONT_BYTES) {
    fclose(f);
    return gm_error_set(err, GM_EIO, "%s: not a regular file of at most %zu bytes", s->path, MAX_FONT_BYTES);
  }
  s->font_len = (size_t)st.st_size;
  s->font = malloc(s->font_len ? s->font_len : 1);
  if (!s->font) {
    fclose(f);
    return gm_error_set(err, GM_ENOMEM, "%s: out of memory for %zu bytes", s->path, s->font_len);
  }
  size_t got = fread(s->font, 1, s->font_len, f);
  fclose(f);
  if (got != s->font_len) return gm_error_set(err, GM_EIO, "%s: read error", s->path);
  return 0;
}

static void noto_close(void *state) {
  noto_state *s = state;
  if (!s) return;
  sfnt__close(&s->sfnt);
  gm_emoji_names_destroy(s->names);
  free(s->font);
  free(s);
}

static int noto_open(void **state, const char *source, const gm_kv *opts, int n_opts, gm_error *err) {
  *state = NULL;
  const char *emoji_test = NULL;
  for (int i = 0; i < n_opts; i++) {
    if (!strcmp(opts[i].key, "emoji-test")) emoji_test = opts[i].value;
    else return gm_error_set(err, GM_EINVAL, "notoemoji: unknown option '%s' (accepted: emoji-test)", opts[i].key);
  }
  noto_state *s = calloc(1, sizeof *s);
  if (!s) return gm_error_set(err, GM_ENOMEM, "notoemoji: out of memory");
  int is_default = is_default_source(source);
  snprintf(s->path, sizeof s->path, "%s", is_default ? default_font() : source);
  const char *slash = strrchr(s->path, '/');
  copy_field(s->font_name, sizeof s->font_name, slash ? slash + 1 : s->path);
  int rc = read_font(s, is_default, err);
  if (!rc) rc = sfnt__open(&s->sfnt, s->font, s->font_len, s->path, err);
  if (!rc) rc = gm_emoji_names_load(&s->names, emoji_test, err);
  if (rc) {
    noto_close(s);
    return rc;
  }
  *state = s;
  return 0;
}

/* The one codepoint of an emoji that is a single codepoint, optionally followed by
 * U+FE0F ("263A FE0F" is drawn with 263A's glyph); 0 for longer sequences. */
static uint32_t single_codepoint(const gm_emoji_entry *e) {
  if (e->n_codepoints == 1) return e->codepoints[0];
  if (e->n_codepoints == 2 && e->codepoints[1] == 0xFE0Fu) return e->codepoints[0];
  return 0;
}

static int noto_next(void *state, gm_image *img, gm_error *err) {
  noto_state *s = state;
  while (s->next_entry < gm_emoji_count(s->names)) {
    const gm_emoji_entry *e = gm_emoji_at(s->names, s->next_entry++);
    uint32_t cp = single_codepoint(e);
    if (!e->fully_qualified || !cp) continue;
    uint32_t glyph = sfnt__glyph(&s->sfnt, cp);
    const uint8_t *png;
    size_t png_len;
    int rc = glyph ? sfnt__png(&s->sfnt, glyph, &png, &png_len, err) : 0;
    if (rc < 0) return rc;
    if (rc == 0) continue;
    memset(img, 0, sizeof *img);
    snprintf(img->source, sizeof img->source, "%s glyph %lu", s->font_name, (unsigned long)glyph);
    rc = gm_png_decode(png, png_len, img->source, img, err);
    if (rc) return rc;
    copy_field(img->name, sizeof img->name, e->name);
    copy_field(img->group, sizeof img->group, e->group);
    copy_field(img->subgroup, sizeof img->subgroup, e->subgroup);
    memcpy(img->codepoints, e->codepoints, sizeof img->codepoints);
    img->n_codepoints = e->n_codepoints;
    return 1;
  }
  return 0;
}

static const gm_loader_vtable noto_vtable = {
    .size = sizeof(gm_loader_vtable),
    .probe = noto_probe,
    .open = noto_open,
    .next = noto_next,
    .close = noto_close,
    .option_keys = option_keys,
};

static const gm_plugin noto_plugin = {
    .abi = GM_PLUGIN_ABI,
    .size = sizeof(gm_plugin),
    .kind = GM_PLUGIN_KIND_LOADER,
    .name = "notoemoji",
    .version = "1.0.0",
    .summary = "colour bitmaps of a CBDT emoji font (default: Debian's Noto Color Emoji)",
    .vtable = &noto_vtable,
};

GM_PLUGIN_EXPORT const gm_plugin *gm_plugin_entry(void) { return &noto_plugin; }
