/* Unicode's emoji-test.txt: "# group:" / "# subgroup:" headers and data lines
 * "1F600 ; fully-qualified # 😀 E1.0 grinning face", kept in file order with two hash
 * indexes (the exact sequence, and the sequence without U+FE0F). Also the codepoint
 * sequences that emoji PNG file names spell. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "genmoji/emoji.h"

#define VS16 0xFE0Fu
/* emoji-test.txt is about 600 KB; refuse anything absurdly larger. */
#define MAX_FILE_BYTES ((size_t)64 << 20)

struct gm_emoji_names {
  gm_emoji_entry *entries;
  int count, cap;
  char **owned;          /* every string the entries point to */
  int n_owned, cap_owned;
  int *exact, *loose;    /* hash slots: entry index + 1, 0 = empty */
  size_t mask;           /* slots - 1 (a power of two) */
};

static char *own_string(gm_emoji_names *n, const char *s, size_t len) {
  if (n->n_owned == n->cap_owned) {
    int cap = n->cap_owned ? 2 * n->cap_owned : 256;
    char **grown = realloc(n->owned, (size_t)cap * sizeof *grown);
    if (!grown) return NULL;
    n->owned = grown;
    n->cap_owned = cap;
  }
  char *copy = malloc(len + 1);
  if (!copy) return NULL;
  memcpy(copy, s, len);
  copy[len] = '\0';
  n->owned[n->n_owned++] = copy;
  return copy;
}

static int strip_vs16(const uint32_t *cps, int n, uint32_t *out) {
  int k = 0;
  for (int i = 0; i < n; i++)
    if (cps[i] != VS16) out[k++] = cps[i];
  return k;
}

static size_t hash_seq(const uint32_t *cps, int n) {
  uint64_t h = 1469598103934665603ull;
  for (int i = 0; i < n; i++) {
    h ^= cps[i];
    h *= 1099511628211ull;
  }
  return (size_t)(h ^ (h >> 29));
}

static int same_seq(const uint32_t *a, int na, const uint32_t *b, int nb) {
  return na == nb && memcmp(a, b, (size_t)na * sizeof *a) == 0;
}

static void insert_slot(int *table, size_t mask, size_t h, int index) {
  size_t i = h & mask;
  while (table[i]) i = (i + 1) & mask;
  table[i] = index + 1;
}

static int build_index(gm_emoji_names *n) {
  size_t slots = 16;
  while (slots < (size_t)n->count * 2) slots *= 2;
  n->mask = slots - 1;
  n->exact = calloc(slots, sizeof *n->exact);
  n->loose = calloc(slots, sizeof *n->loose);
  if (!n->exact || !n->loose) return GM_ENOMEM;
  for (int i = 0; i < n->count; i++) {
    const gm_emoji_entry *e = &n->entries[i];
    uint32_t bare[GM_MAX_CODEPOINTS];
    int nb = strip_vs16(e->codepoints, e->n_codepoints, bare);
    insert_slot(n->exact, n->mask, hash_seq(e->codepoints, e->n_codepoints), i);
    insert_slot(n->loose, n->mask, hash_seq(bare, nb), i);
  }
  return 0;
}

/* Hex digits of one codepoint in a data line; returns the end or NULL. */
static const char *parse_hex(const char *s, const char *end, uint32_t *v) {
  const char *p = s;
  uint32_t x = 0;
  while (p < end && isxdigit((unsigned char)*p) && p - s < 6) {
    x = x * 16 + (uint32_t)(isdigit((unsigned char)*p) ? *p - '0' : (tolower((unsigned char)*p) - 'a' + 10));
    p++;
  }
  if (p == s || (p < end && isxdigit((unsigned char)*p)) || x > 0x10FFFF) return NULL;
  *v = x;
  return p;
}

static const char *skip_spaces(const char *s, const char *end) {
  while (s < end && (*s == ' ' || *s == '\t')) s++;
  return s;
}

static const char *trim_end(const char *s, const char *end) {
  while (end > s && isspace((unsigned char)end[-1])) end--;
  return end;
}

/* Fills e from "CPS ; status # emoji Eversion name"; returns a reason on failure. */
static const char *parse_data_line(gm_emoji_names *n, const char *s, const char *end, gm_emoji_entry *e) {
  const char *semi = memchr(s, ';', (size_t)(end - s));
  if (!semi) return "no ';' after the codepoints";
  const char *hash = memchr(semi, '#', (size_t)(end - semi));
  if (!hash) return "no '#' before the emoji name";
  e->n_codepoints = 0;
  const char *p = skip_spaces(s, semi);
  while (p < semi) {
    if (e->n_codepoints == GM_MAX_CODEPOINTS) return "too many codepoints";
    const char *q = parse_hex(p, semi, &e->codepoints[e->n_codepoints]);
    if (!q || (q < semi && *q != ' ' && *q != '\t')) return "a codepoint is not 1 to 6 hex digits";
    e->n_codepoints++;
    p = skip_spaces(q, semi);
  }
  if (e->n_codepoints == 0) return "no codepoints";
  const char *st = skip_spaces(semi + 1, hash), *st_end = trim_end(st, hash);
  if (st == st_end) return "empty status";
  for (const char *c = st; c < st_end; c++)
    if (!islower((unsigned char)*c) && *c != '-') return "the status is not a word like fully-qualified";
  e->fully_qualified = (size_t)(st_end - st) == strlen("fully-qualified") && !memcmp(st, "fully-qualified", 15);
  /* "# 😀 E1.0 grinning face": skip the emoji itself and the optional version. */
  p = skip_spaces(hash + 1, end);
  while (p < end && *p != ' ' && *p != '\t') p++;
  p = skip_spaces(p, end);
  if (p < end && *p == 'E' && p + 1 < end && isdigit((unsigned char)p[1])) {
    const char *q = p + 1;
    while (q < end && (isdigit((unsigned char)*q) || *q == '.')) q++;
    if (q == end || *q == ' ' || *q == '\t') p = skip_spaces(q, end);
  }
  const char *name_end = trim_end(p, end);
  if (p >= name_end) return "no emoji name after '#'";
  e->name = own_string(n, p, (size_t)(name_end - p));
  if (!e->name) return "out of memory";
  return NULL;
}

/* "# group: Smileys & Emotion": sets *slot to the owned value; 1 if the line was one. */
static int header_line(gm_emoji_names *n, const char *s, const char *end, const char *key,
                       const char **slot, int *nomem) {
  size_t klen = strlen(key);
  const char *p = skip_spaces(s + 1, end);
  if ((size_t)(end - p) < klen || memcmp(p, key, klen)) return 0;
  p = skip_spaces(p + klen, end);
  const char *v_end = trim_end(p, end);
  const char *v = own_string(n, p, (size_t)(v_end - p));
  if (!v) *nomem = 1;
  else *slot = v;
  return 1;
}

static int parse_text(gm_emoji_names *n, const char *path, const char *text, size_t len, gm_error *err) {
  const char *group = "", *subgroup = "";
  int line_no = 0;
  for (const char *s = text, *text_end = text + len; s < text_end;) {
    const char *nl = memchr(s, '\n', (size_t)(text_end - s));
    const char *end = nl ? nl : text_end;
    line_no++;
    const char *p = skip_spaces(s, end), *e = trim_end(p, end);
    int nomem = 0;
    if (p == e) {
      /* blank */
    } else if (*p == '#') {
      if (!header_line(n, p, e, "group:", &group, &nomem))
        header_line(n, p, e, "subgroup:", &subgroup, &nomem);
    } else {
      if (n->count == n->cap) {
        int cap = n->cap ? 2 * n->cap : 1024;
        gm_emoji_entry *grown = realloc(n->entries, (size_t)cap * sizeof *grown);
        if (!grown) return gm_error_set(err, GM_ENOMEM, "%s: out of memory", path);
        n->entries = grown;
        n->cap = cap;
      }
      gm_emoji_entry *entry = &n->entries[n->count];
      memset(entry, 0, sizeof *entry);
      const char *why = parse_data_line(n, p, e, entry);
      if (why) return gm_error_set(err, GM_EFORMAT, "%s:%d: malformed line (%s): %.80s", path, line_no, why, p);
      entry->group = group;
      entry->subgroup = subgroup;
      n->count++;
    }
    if (nomem) return gm_error_set(err, GM_ENOMEM, "%s: out of memory", path);
    s = nl ? nl + 1 : text_end;
  }
  if (n->count == 0) return gm_error_set(err, GM_EFORMAT, "%s: no emoji data lines", path);
  return 0;
}

static int read_text(const char *path, int is_default, char **text, size_t *len, gm_error *err) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    if (errno == ENOENT && is_default)
      return gm_error_set(err, GM_ENOTFOUND,
                          "%s: not found; it comes with Debian's unicode-data package "
                          "(apt-get install unicode-data), or set %s to a copy of emoji-test.txt",
                          path, GM_EMOJI_TEST_ENV);
    return gm_error_set(err, errno == ENOENT ? GM_ENOTFOUND : GM_EIO, "%s: cannot open: %s", path, strerror(errno));
  }
  struct stat st;
  if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode) || (unsigned long long)st.st_size > MAX_FILE_BYTES) {
    fclose(f);
    return gm_error_set(err, GM_EIO, "%s: not a regular file of a plausible size", path);
  }
  size_t n = (size_t)st.st_size;
  char *buf = malloc(n + 1);
  if (!buf) {
    fclose(f);
    return gm_error_set(err, GM_ENOMEM, "%s: out of memory", path);
  }
  size_t got = fread(buf, 1, n, f);
  fclose(f);
  if (got != n) {
    free(buf);
    return gm_error_set(err, GM_EIO, "%s: read error", path);
  }
  buf[n] = '\0';
  *text = buf;
  *len = n;
  return 0;
}

int gm_emoji_names_load(gm_emoji_names **out, const char *path, gm_error *err) {
  if (!out) return gm_error_set(err, GM_EINVAL, "gm_emoji_names_load: no output");
  *out = NULL;
  int is_default = 0;
  if (!path || !*path) {
    const char *env = getenv(GM_EMOJI_TEST_ENV);
    path = env && *env ? env : GM_EMOJI_TEST_DEFAULT;
    is_default = 1;
  }
  char *text = NULL;
  size_t len = 0;
  int rc = read_text(path, is_default, &text, &len, err);
  if (rc) return rc;
  gm_emoji_names *n = calloc(1, sizeof *n);
  if (!n) {
    free(text);
    return gm_error_set(err, GM_ENOMEM, "%s: out of memory", path);
  }
  rc = parse_text(n, path, text, len, err);
  free(text);
  if (!rc && build_index(n)) rc = gm_error_set(err, GM_ENOMEM, "%s: out of memory", path);
  if (rc) {
    gm_emoji_names_destroy(n);
    return rc;
  }
  *out = n;
  return 0;
}

void gm_emoji_names_destroy(gm_emoji_names *n) {
  if (!n) return;
  for (int i = 0; i < n->n_owned; i++) free(n->owned[i]);
  free(n->owned);
  free(n->entries);
  free(n->exact);
  free(n->loose);
  free(n);
}

const gm_emoji_entry *gm_emoji_lookup(const gm_emoji_names *n, const uint32_t *cps, int n_cps) {
  if (!n || !cps || n_cps < 1 || n_cps > GM_MAX_CODEPOINTS) return NULL;
  for (size_t i = hash_seq(cps, n_cps) & n->mask; n->exact[i]; i = (i + 1) & n->mask) {
    const gm_emoji_entry *e = &n->entries[n->exact[i] - 1];
    if (same_seq(e->codepoints, e->n_codepoints, cps, n_cps)) return e;
  }
  uint32_t bare[GM_MAX_CODEPOINTS], other[GM_MAX_CODEPOINTS];
  int nb = strip_vs16(cps, n_cps, bare);
  const gm_emoji_entry *best = NULL;
  for (size_t i = hash_seq(bare, nb) & n->mask; n->loose[i]; i = (i + 1) & n->mask) {
    const gm_emoji_entry *e = &n->entries[n->loose[i] - 1];
    int no = strip_vs16(e->codepoints, e->n_codepoints, other);
    if (!same_seq(other, no, bare, nb)) continue;
    if (e->fully_qualified) return e;
    if (!best) best = e;
  }
  return best;
}

int gm_emoji_count(const gm_emoji_names *n) { return n ? n->count : 0; }

const gm_emoji_entry *gm_emoji_at(const gm_emoji_names *n, int i) {
  if (!n || i < 0 || i >= n->count) return NULL;
  return &n->entries[i];
}

int gm_emoji_parse_codepoints(const char *stem, uint32_t *cps, int max, int *n_cps) {
  if (n_cps) *n_cps = 0;
  if (!stem || !cps || !n_cps || max < 1) return GM_EINVAL;
  const char *s = stem;
  if (!strncmp(s, "emoji_", 6)) s += 6;
  int n = 0;
  for (;;) {
    if (*s == 'u' || *s == 'U') {
      s++;
      if (*s == '+') s++;
    }
    const char *start = s;
    uint32_t v = 0;
    while (isxdigit((unsigned char)*s) && s - start < 7) {
      v = v * 16 + (uint32_t)(isdigit((unsigned char)*s) ? *s - '0' : tolower((unsigned char)*s) - 'a' + 10);
      s++;
    }
    long digits = s - start;
    if (digits < 4 || digits > 6 || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF) || n == max) return GM_EFORMAT;
    cps[n++] = v;
    if (*s == '\0') break;
    if ((*s != '-' && *s != '_' && *s != ' ') || s[1] == '\0') return GM_EFORMAT;
    s++;
  }
  *n_cps = n;
  return 0;
}

char *gm_emoji_codepoints_str(const uint32_t *cps, int n_cps, char sep, char *buf, size_t size) {
  if (!buf || size == 0) return buf;
  buf[0] = '\0';
  size_t used = 0;
  for (int i = 0; cps && i < n_cps && used < size; i++) {
    int w = i ? snprintf(buf + used, size - used, "%c%04x", sep, (unsigned)cps[i])
              : snprintf(buf + used, size - used, "%04x", (unsigned)cps[i]);
    if (w < 0) break;
    used += (size_t)w;
  }
  return buf;
}
