/* sfnt parsing for colour bitmap fonts: table directory, maxp, cmap (12 or 4), CBLC index
 * subtables (formats 1 to 5) and CBDT glyph records (17, 18, 19: PNG). Offsets are checked
 * once, at open, against the table that holds them (64-bit sums, so no wrap-around);
 * lookups afterwards read only ranges already checked. */
#include "sfnt.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAG(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))
#define BITMAP_SIZE_BYTES 48
#define MAX_CODEPOINT 0x10FFFFu

/* A table's place in the file (already checked to lie inside it). */
typedef struct span {
  size_t off, len;
} span;

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* off + n <= limit without overflow. */
static int fits(uint64_t off, uint64_t n, uint64_t limit) { return off <= limit && n <= limit - off; }

static uint32_t tag_of(const char *t) {
  return TAG((uint8_t)t[0], (uint8_t)t[1], (uint8_t)t[2], (uint8_t)t[3]);
}

static int directory_ok(const uint8_t *data, size_t len, uint16_t *num_tables) {
  if (len < 12) return 0;
  *num_tables = be16(data + 4);
  return fits(12, (uint64_t)*num_tables * 16, len);
}

int sfnt__has_table(const uint8_t *data, size_t len, const char *tag) {
  uint16_t nt;
  if (!data || !directory_ok(data, len, &nt)) return 0;
  for (uint16_t i = 0; i < nt; i++)
    if (be32(data + 12 + 16 * (size_t)i) == tag_of(tag)) return 1;
  return 0;
}

static int bad(const sfnt__font *f, gm_error *err, const char *table, const char *fmt, ...) GM_PRINTF(4, 5);
static int bad(const sfnt__font *f, gm_error *err, const char *table, const char *fmt, ...) {
  char detail[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  return gm_error_set(err, GM_EFORMAT, "%s: %s: %s", f->what, table, detail);
}

/* Checks every directory record against the file and returns the one for tag (0) or
 * GM_ENOTFOUND. A record that runs past the end is an error whichever table it is. */
static int find_table(const sfnt__font *f, const char *tag, span *out, gm_error *err) {
  uint16_t nt = be16(f->data + 4);
  int found = GM_ENOTFOUND;
  for (uint16_t i = 0; i < nt; i++) {
    const uint8_t *rec = f->data + 12 + 16 * (size_t)i;
    uint32_t off = be32(rec + 8), len = be32(rec + 12);
    if (!fits(off, len, f->len)) {
      char name[5] = {(char)rec[0], (char)rec[1], (char)rec[2], (char)rec[3], 0};
      for (int k = 0; k < 4; k++)
        if (name[k] < 0x20 || name[k] > 0x7e) name[k] = '?';
      return bad(f, err, "table directory",
                 "table '%s' (offset %lu, length %lu) runs past the end of the %zu-byte file", name,
                 (unsigned long)off, (unsigned long)len, f->len);
    }
    if (be32(rec) == tag_of(tag) && found) {
      out->off = off;
      out->len = len;
      found = 0;
    }
  }
  return found;
}

static int need_table(const sfnt__font *f, const char *tag, span *out, size_t min_len, gm_error *err) {
  int rc = find_table(f, tag, out, err);
  if (rc == GM_ENOTFOUND) return bad(f, err, tag, "table missing");
  if (rc) return rc;
  if (out->len < min_len) return bad(f, err, tag, "%zu bytes is too short", out->len);
  return 0;
}

/* ---- cmap ---- */

static int check_cmap12(sfnt__font *f, span cmap, uint32_t sub, gm_error *err) {
  const uint8_t *p = f->data + cmap.off + sub;
  if (!fits(sub, 16, cmap.len)) return bad(f, err, "cmap", "format 12 subtable header at %lu runs past the table", (unsigned long)sub);
  uint32_t declared = be32(p + 4), ngroups = be32(p + 12);
  uint64_t need = 16 + (uint64_t)ngroups * 12;
  if (need > declared || !fits(sub, need, cmap.len))
    return bad(f, err, "cmap", "format 12 numGroups %lu does not fit the subtable", (unsigned long)ngroups);
  uint64_t prev_end = 0;
  for (uint32_t g = 0; g < ngroups; g++) {
    const uint8_t *grp = p + 16 + 12 * (size_t)g;
    uint32_t start = be32(grp), end = be32(grp + 4);
    if (start > end || end > MAX_CODEPOINT || (g && start <= prev_end))
      return bad(f, err, "cmap", "format 12 group %lu (U+%04lX..U+%04lX) is out of order or range",
                 (unsigned long)g, (unsigned long)start, (unsigned long)end);
    prev_end = end;
  }
  f->cmap_count = ngroups;
  return 0;
}

static int check_cmap4(sfnt__font *f, span cmap, uint32_t sub, gm_error *err) {
  const uint8_t *p = f->data + cmap.off + sub;
  if (!fits(sub, 14, cmap.len)) return bad(f, err, "cmap", "format 4 subtable header at %lu runs past the table", (unsigned long)sub);
  uint16_t seg2 = be16(p + 6);
  if (seg2 == 0 || seg2 % 2) return bad(f, err, "cmap", "format 4 segCountX2 %u is not a positive even number", seg2);
  size_t nseg = seg2 / 2;
  if (!fits(sub, 16 + 4 * (uint64_t)seg2, cmap.len))
    return bad(f, err, "cmap", "format 4 with %zu segments does not fit the table", nseg);
  const uint8_t *ends = p + 14, *starts = p + 16 + seg2, *ranges = p + 16 + 3 * (size_t)seg2;
  uint32_t prev_end = 0;
  for (size_t i = 0; i < nseg; i++) {
    uint16_t end = be16(ends + 2 * i), start = be16(starts + 2 * i), ro = be16(ranges + 2 * i);
    if (start > end || (i && start <= prev_end))
      return bad(f, err, "cmap", "format 4 segment %zu (U+%04X..U+%04X) is out of order", i, start, end);
    prev_end = end;
    if (ro) {
      /* glyphIdArray entries for start..end are read at &idRangeOffset[i] + ro + 2k. */
      uint64_t first = (uint64_t)sub + 16 + 3 * (uint64_t)seg2 + 2 * i + ro;
      if (ro % 2 || !fits(first, 2 * ((uint64_t)end - start + 1), cmap.len))
        return bad(f, err, "cmap", "format 4 segment %zu idRangeOffset %u points past the table", i, ro);
    }
  }
  f->cmap_count = (uint32_t)nseg;
  return 0;
}

/* Chooses the Unicode subtable: format 12 if there is one, else format 4. */
static int parse_cmap(sfnt__font *f, gm_error *err) {
  span cmap;
  int rc = need_table(f, "cmap", &cmap, 4, err);
  if (rc) return rc;
  const uint8_t *p = f->data + cmap.off;
  uint16_t nt = be16(p + 2);
  if (!fits(4, (uint64_t)nt * 8, cmap.len)) return bad(f, err, "cmap", "%u encoding records do not fit the table", nt);
  int64_t best12 = -1, best4 = -1;
  for (uint16_t i = 0; i < nt; i++) {
    const uint8_t *rec = p + 4 + 8 * (size_t)i;
    uint16_t pid = be16(rec), eid = be16(rec + 2);
    uint32_t sub = be32(rec + 4);
    if (!fits(sub, 2, cmap.len)) return bad(f, err, "cmap", "encoding record %u points past the table", i);
    int unicode = pid == 0 || (pid == 3 && (eid == 1 || eid == 10));
    uint16_t format = be16(p + sub);
    if (unicode && format == 12 && best12 < 0) best12 = sub;
    if (unicode && format == 4 && best4 < 0) best4 = sub;
  }
  if (best12 >= 0) {
    f->cmap_format = 12;
    f->cmap_sub = cmap.off + (size_t)best12;
    return check_cmap12(f, cmap, (uint32_t)best12, err);
  }
  if (best4 >= 0) {
    f->cmap_format = 4;
    f->cmap_sub = cmap.off + (size_t)best4;
    return check_cmap4(f, cmap, (uint32_t)best4, err);
  }
  return bad(f, err, "cmap", "no Unicode subtable in format 12 or 4");
}

static uint32_t lookup12(const sfnt__font *f, uint32_t cp) {
  const uint8_t *groups = f->data + f->cmap_sub + 16;
  uint32_t lo = 0, hi = f->cmap_count;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    const uint8_t *g = groups + 12 * (size_t)mid;
    if (cp < be32(g)) hi = mid;
    else if (cp > be32(g + 4)) lo = mid + 1;
    else return be32(g + 8) + (cp - be32(g));   /* may wrap: checked against numGlyphs */
  }
  return 0;
}

static uint32_t lookup4(const sfnt__font *f, uint32_t cp) {
  if (cp > 0xFFFF) return 0;
  const uint8_t *p = f->data + f->cmap_sub;
  size_t seg2 = be16(p + 6);
  const uint8_t *ends = p + 14, *starts = p + 16 + seg2, *deltas = p + 16 + 2 * seg2,
                *ranges = p + 16 + 3 * seg2;
  uint32_t lo = 0, hi = f->cmap_count;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (cp > be16(ends + 2 * (size_t)mid)) lo = mid + 1;
    else hi = mid;
  }
  if (lo == f->cmap_count) return 0;
  uint16_t start = be16(starts + 2 * (size_t)lo), delta = be16(deltas + 2 * (size_t)lo),
           ro = be16(ranges + 2 * (size_t)lo);
  if (cp < start) return 0;
  if (!ro) return (cp + delta) & 0xFFFF;
  uint16_t g = be16(ranges + 2 * (size_t)lo + ro + 2 * (cp - start));
  return g ? (uint32_t)((g + delta) & 0xFFFF) : 0;
}

uint32_t sfnt__glyph(const sfnt__font *f, uint32_t cp) {
  if (!f || !f->data || cp > MAX_CODEPOINT) return 0;
  uint32_t g = f->cmap_format == 12 ? lookup12(f, cp) : lookup4(f, cp);
  return g < f->num_glyphs ? g : 0;
}

/* ---- CBLC / CBDT ---- */

/* Records one glyph's CBDT range: rel_off and length are relative to the CBDT table. */
static int set_bitmap(sfnt__font *f, span cbdt, uint32_t glyph, uint64_t rel_off, uint64_t length,
                      uint16_t image_format, gm_error *err) {
  if (length == 0) return 0;
  if (!fits(rel_off, length, cbdt.len))
    return bad(f, err, "CBDT", "glyph %lu data (offset %llu, length %llu) runs past the %zu-byte table",
               (unsigned long)glyph, (unsigned long long)rel_off, (unsigned long long)length, cbdt.len);
  sfnt__bitmap *b = &f->bitmaps[glyph];
  if (!b->length) f->n_bitmaps++;
  b->offset = cbdt.off + (size_t)rel_off;
  b->length = (uint32_t)length;
  b->image_format = image_format;
  return 0;
}

/* One index subtable of the chosen strike; sub is its offset inside CBLC. */
static int parse_index_subtable(sfnt__font *f, span cblc, span cbdt, uint64_t sub, uint16_t first,
                                uint16_t last, int which, gm_error *err) {
  if (!fits(sub, 8, cblc.len)) return bad(f, err, "CBLC", "index subtable %d at %llu runs past the table", which, (unsigned long long)sub);
  const uint8_t *p = f->data + cblc.off + sub;
  uint16_t index_format = be16(p), image_format = be16(p + 2);
  uint64_t data_off = be32(p + 4);
  uint32_t count = (uint32_t)last - first + 1;
  if (image_format < 17 || image_format > 19)
    return bad(f, err, "CBLC", "index subtable %d: image format %u is not a PNG format (17, 18, 19)", which, image_format);
  switch (index_format) {
  case 1:
  case 3: {
    unsigned w = index_format == 1 ? 4 : 2;
    if (!fits(sub + 8, (uint64_t)w * (count + 1), cblc.len))
      return bad(f, err, "CBLC", "index subtable %d: %lu offsets run past the table", which, (unsigned long)count + 1);
    for (uint32_t k = 0; k < count; k++) {
      const uint8_t *o = p + 8 + w * (size_t)k;
      uint32_t o0 = w == 4 ? be32(o) : be16(o), o1 = w == 4 ? be32(o + w) : be16(o + w);
      if (o1 < o0) return bad(f, err, "CBLC", "index subtable %d: offsets of glyph %lu decrease", which, (unsigned long)first + k);
      int rc = set_bitmap(f, cbdt, first + k, data_off + o0, o1 - o0, image_format, err);
      if (rc) return rc;
    }
    return 0;
  }
  case 2: {
    if (!fits(sub + 8, 12, cblc.len)) return bad(f, err, "CBLC", "index subtable %d: header runs past the table", which);
    uint32_t size = be32(p + 8);
    for (uint32_t k = 0; k < count; k++) {
      int rc = set_bitmap(f, cbdt, first + k, data_off + (uint64_t)k * size, size, image_format, err);
      if (rc) return rc;
    }
    return 0;
  }
  case 4: {
    if (!fits(sub + 8, 4, cblc.len)) return bad(f, err, "CBLC", "index subtable %d: header runs past the table", which);
    uint32_t n = be32(p + 8);
    if (!fits(sub + 12, 4 * ((uint64_t)n + 1), cblc.len))
      return bad(f, err, "CBLC", "index subtable %d: numGlyphs %lu does not fit the table", which, (unsigned long)n);
    for (uint32_t k = 0; k < n; k++) {
      const uint8_t *pair = p + 12 + 4 * (size_t)k;
      uint16_t glyph = be16(pair), o0 = be16(pair + 2), o1 = be16(pair + 6);
      if (glyph < first || glyph > last || o1 < o0)
        return bad(f, err, "CBLC", "index subtable %d: entry %lu (glyph %u) is out of range or order", which, (unsigned long)k, glyph);
      int rc = set_bitmap(f, cbdt, glyph, data_off + o0, o1 - o0, image_format, err);
      if (rc) return rc;
    }
    return 0;
  }
  case 5: {
    if (!fits(sub + 8, 16, cblc.len)) return bad(f, err, "CBLC", "index subtable %d: header runs past the table", which);
    uint32_t size = be32(p + 8), n = be32(p + 20);
    if (!fits(sub + 24, 2 * (uint64_t)n, cblc.len))
      return bad(f, err, "CBLC", "index subtable %d: numGlyphs %lu does not fit the table", which, (unsigned long)n);
    for (uint32_t k = 0; k < n; k++) {
      uint16_t glyph = be16(p + 24 + 2 * (size_t)k);
      if (glyph < first || glyph > last)
        return bad(f, err, "CBLC", "index subtable %d: glyph %u outside its range %u..%u", which, glyph, first, last);
      int rc = set_bitmap(f, cbdt, glyph, data_off + (uint64_t)k * size, size, image_format, err);
      if (rc) return rc;
    }
    return 0;
  }
  default:
    return bad(f, err, "CBLC", "index subtable %d: index format %u is not supported", which, index_format);
  }
}

/* Picks the strike with the largest ppem and records every glyph bitmap in it. */
static int parse_cblc(sfnt__font *f, gm_error *err) {
  span cblc = {0, 0}, cbdt = {0, 0};
  int rc = find_table(f, "CBLC", &cblc, err);
  if (!rc) rc = find_table(f, "CBDT", &cbdt, err);
  if (rc == GM_ENOTFOUND)
    return gm_error_set(err, GM_EFORMAT, "%s: no CBLC/CBDT tables: not a colour bitmap (CBDT) emoji font", f->what);
  if (rc) return rc;
  if (cblc.len < 8) return bad(f, err, "CBLC", "%zu bytes is too short", cblc.len);
  if (cbdt.len < 4) return bad(f, err, "CBDT", "%zu bytes is too short", cbdt.len);
  const uint8_t *p = f->data + cblc.off;
  uint16_t major = be16(p);
  if (major != 2 && major != 3) return bad(f, err, "CBLC", "version %u.%u is not 2 or 3", major, be16(p + 2));
  uint32_t num_sizes = be32(p + 4);
  if (num_sizes == 0) return bad(f, err, "CBLC", "no bitmap strikes");
  if (!fits(8, (uint64_t)num_sizes * BITMAP_SIZE_BYTES, cblc.len))
    return bad(f, err, "CBLC", "numSizes %lu does not fit the %zu-byte table", (unsigned long)num_sizes, cblc.len);
  const uint8_t *best = NULL;
  for (uint32_t s = 0; s < num_sizes; s++) {
    const uint8_t *bs = p + 8 + BITMAP_SIZE_BYTES * (size_t)s;
    if (!best || bs[45] > best[45] || (bs[45] == best[45] && bs[44] > best[44])) best = bs;
  }
  f->ppem_x = best[44];
  f->ppem_y = best[45];
  uint32_t array_off = be32(best), n_sub = be32(best + 8);
  if (!fits(array_off, (uint64_t)n_sub * 8, cblc.len))
    return bad(f, err, "CBLC", "%lu index subtables at offset %lu do not fit the table", (unsigned long)n_sub,
               (unsigned long)array_off);
  f->bitmaps = calloc(f->num_glyphs, sizeof *f->bitmaps);
  if (!f->bitmaps) return gm_error_set(err, GM_ENOMEM, "%s: out of memory", f->what);
  for (uint32_t j = 0; j < n_sub; j++) {
    const uint8_t *e = p + array_off + 8 * (size_t)j;
    uint16_t first = be16(e), last = be16(e + 2);
    if (first > last || last >= f->num_glyphs)
      return bad(f, err, "CBLC", "index subtable %lu covers glyphs %u..%u but maxp numGlyphs is %lu",
                 (unsigned long)j, first, last, (unsigned long)f->num_glyphs);
    rc = parse_index_subtable(f, cblc, cbdt, (uint64_t)array_off + be32(e + 4), first, last, (int)j, err);
    if (rc) return rc;
  }
  return 0;
}

int sfnt__open(sfnt__font *f, const uint8_t *data, size_t len, const char *what, gm_error *err) {
  memset(f, 0, sizeof *f);
  f->data = data;
  f->len = len;
  f->what = what ? what : "font";
  uint16_t nt;
  if (!data || !directory_ok(data, len, &nt)) {
    int rc = gm_error_set(err, GM_EFORMAT, "%s: too short for an sfnt font (%zu bytes)", f->what, len);
    sfnt__close(f);
    return rc;
  }
  uint32_t version = be32(data);
  int rc = 0;
  if (version == TAG('t', 't', 'c', 'f'))
    rc = gm_error_set(err, GM_EUNSUPPORTED, "%s: font collections (.ttc) are not supported", f->what);
  else if (version != 0x00010000u && version != TAG('O', 'T', 'T', 'O') && version != TAG('t', 'r', 'u', 'e'))
    rc = gm_error_set(err, GM_EFORMAT, "%s: not an sfnt font (version 0x%08lx)", f->what, (unsigned long)version);
  else if (nt == 0)
    rc = bad(f, err, "table directory", "no tables");
  span maxp;
  if (!rc) rc = need_table(f, "maxp", &maxp, 6, err);
  if (!rc) {
    f->num_glyphs = be16(data + maxp.off + 4);
    if (f->num_glyphs == 0) rc = bad(f, err, "maxp", "numGlyphs is 0");
  }
  if (!rc) rc = parse_cmap(f, err);
  if (!rc) rc = parse_cblc(f, err);
  if (rc) sfnt__close(f);
  return rc;
}

void sfnt__close(sfnt__font *f) {
  if (!f) return;
  free(f->bitmaps);
  memset(f, 0, sizeof *f);
}

int sfnt__png(const sfnt__font *f, uint32_t glyph, const uint8_t **png, size_t *png_len, gm_error *err) {
  if (!f || !f->bitmaps || glyph >= f->num_glyphs || !f->bitmaps[glyph].length) return 0;
  const sfnt__bitmap *b = &f->bitmaps[glyph];
  const uint8_t *rec = f->data + b->offset;
  /* 17: small metrics (5 bytes), 18: big metrics (8), 19: metrics in CBLC; then dataLen. */
  size_t head = b->image_format == 17 ? 5 : b->image_format == 18 ? 8 : 0;
  if (b->length < head + 4)
    return bad(f, err, "CBDT", "glyph %lu: %lu-byte record is too short for format %u", (unsigned long)glyph,
               (unsigned long)b->length, b->image_format);
  uint32_t n = be32(rec + head);
  if (n > b->length - head - 4)
    return bad(f, err, "CBDT", "glyph %lu: PNG length %lu overruns its %lu-byte record", (unsigned long)glyph,
               (unsigned long)n, (unsigned long)b->length);
  *png = rec + head + 4;
  *png_len = n;
  return 1;
}
