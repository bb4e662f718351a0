/* A tiny colour bitmap font built in memory (maxp, cmap 4 and 12, CBLC with two strikes
 * and index subtables of formats 1 to 5, CBDT records of formats 17, 18 and 19), for the
 * notoemoji tests and the font fuzzer's seeds. Header-only: static functions. */
#ifndef GM_TESTS_SYNTH_SFNT_H
#define GM_TESTS_SYNTH_SFNT_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SYNTH_MAX_GLYPHS 16
#define SYNTH_MAX_SUBS 8

typedef struct synth_sub {
  int index_format;   /* 1..5 */
  int image_format;   /* 17, 18, 19 */
  int first, last;    /* glyph range; formats 4/5 list only the glyphs with a PNG */
} synth_sub;

typedef struct synth_font {
  int n_glyphs;                          /* including glyph 0 (.notdef) */
  uint32_t cp[SYNTH_MAX_GLYPHS];         /* codepoint mapped to each glyph, 0 = none */
  const uint8_t *png[SYNTH_MAX_GLYPHS];  /* bitmap per glyph, NULL = none */
  size_t png_len[SYNTH_MAX_GLYPHS];
  int cmap12;                            /* also write a format 12 subtable */
  synth_sub subs[SYNTH_MAX_SUBS];
  int n_subs;
} synth_font;

/* Where fields a test may want to damage ended up (absolute file offsets). */
typedef struct synth_marks {
  size_t dir_record[4];      /* directory records: CBDT, CBLC, cmap, maxp */
  size_t num_glyphs;         /* maxp numGlyphs (u16) */
  size_t num_sizes;          /* CBLC numSizes (u32) */
  size_t strike_array_off;   /* chosen strike's indexSubTableArrayOffset (u32) */
  size_t image_data_off[SYNTH_MAX_SUBS];  /* each index subtable's imageDataOffset (u32) */
  size_t png_len_field;      /* the first CBDT record's dataLen (u32) */
  size_t png_data;           /* the first CBDT record's PNG bytes */
  size_t cmap4_seg_x2;       /* format 4 segCountX2 (u16) */
  size_t cmap12_groups;      /* format 12 numGroups (u32), 0 if none */
} synth_marks;

typedef struct synth_buf {
  uint8_t *p;
  size_t n, cap;
} synth_buf;

static void sb_reserve(synth_buf *b, size_t more) {
  if (b->n + more <= b->cap) return;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->n + more) cap *= 2;
  b->p = realloc(b->p, cap);
  memset(b->p + b->cap, 0, cap - b->cap);
  b->cap = cap;
}
static void sb_u8(synth_buf *b, unsigned v) { sb_reserve(b, 1); b->p[b->n++] = (uint8_t)v; }
static void sb_u16(synth_buf *b, unsigned v) { sb_u8(b, v >> 8); sb_u8(b, v); }
static void sb_u32(synth_buf *b, uint32_t v) { sb_u16(b, v >> 16); sb_u16(b, v & 0xFFFF); }
static void sb_bytes(synth_buf *b, const void *d, size_t n) {
  sb_reserve(b, n);
  memcpy(b->p + b->n, d, n);
  b->n += n;
}
static void sb_pad4(synth_buf *b) { while (b->n % 4) sb_u8(b, 0); }
static void sb_put32(synth_buf *b, size_t at, uint32_t v) {
  b->p[at] = (uint8_t)(v >> 24), b->p[at + 1] = (uint8_t)(v >> 16), b->p[at + 2] = (uint8_t)(v >> 8), b->p[at + 3] = (uint8_t)v;
}
static void sb_put16(synth_buf *b, size_t at, unsigned v) { b->p[at] = (uint8_t)(v >> 8), b->p[at + 1] = (uint8_t)v; }

/* One CBDT record: metrics for 17/18, then dataLen and the PNG. */
static void synth_record(synth_buf *cbdt, int image_format, const uint8_t *png, size_t len) {
  if (image_format == 17) {
    const uint8_t small[5] = {16, 16, 0, 14, 17};
    sb_bytes(cbdt, small, 5);
  } else if (image_format == 18) {
    const uint8_t big[8] = {16, 16, 0, 14, 17, 0, 0, 16};
    sb_bytes(cbdt, big, 8);
  }
  sb_u32(cbdt, (uint32_t)len);
  sb_bytes(cbdt, png, len);
}

static size_t synth_record_size(int image_format, size_t len) {
  return (image_format == 17 ? 5 : image_format == 18 ? 8 : 0) + 4 + len;
}

static void synth_cmap(const synth_font *sf, synth_buf *t, size_t base, synth_marks *m) {
  int order[SYNTH_MAX_GLYPHS], n = 0;
  for (int g = 1; g < sf->n_glyphs; g++)
    if (sf->cp[g]) {
      int k = n++;
      while (k > 0 && sf->cp[order[k - 1]] > sf->cp[g]) order[k] = order[k - 1], k--;
      order[k] = g;
    }
  int bmp = 0;
  while (bmp < n && sf->cp[order[bmp]] <= 0xFFFF) bmp++;
  sb_u16(t, 0);
  sb_u16(t, sf->cmap12 ? 2 : 1);
  sb_u16(t, 3), sb_u16(t, 1);
  size_t rec4 = t->n;
  sb_u32(t, 0);
  size_t rec12 = t->n;
  if (sf->cmap12) sb_u16(t, 3), sb_u16(t, 10), sb_u32(t, 0);
  /* Format 4: one segment per BMP codepoint (odd ones through glyphIdArray), then 0xFFFF. */
  size_t sub4 = t->n;
  sb_put32(t, rec4, (uint32_t)sub4);
  int seg = bmp + 1;
  sb_u16(t, 4), sb_u16(t, 0), sb_u16(t, 0);
  m->cmap4_seg_x2 = base + t->n;
  sb_u16(t, (unsigned)(2 * seg)), sb_u16(t, 0), sb_u16(t, 0), sb_u16(t, 0);
  for (int i = 0; i < bmp; i++) sb_u16(t, sf->cp[order[i]]);
  sb_u16(t, 0xFFFF);
  sb_u16(t, 0);
  for (int i = 0; i < bmp; i++) sb_u16(t, sf->cp[order[i]]);
  sb_u16(t, 0xFFFF);
  for (int i = 0; i < bmp; i++) sb_u16(t, i % 2 ? 0 : (unsigned)((order[i] - (int)sf->cp[order[i]]) & 0xFFFF));
  sb_u16(t, 1);
  int n_array = 0;
  for (int i = 0; i < bmp; i++) sb_u16(t, i % 2 ? (unsigned)(2 * (seg - i) + 2 * n_array++) : 0);
  sb_u16(t, 0);
  for (int i = 1; i < bmp; i += 2) sb_u16(t, (unsigned)order[i]);
  sb_put16(t, sub4 + 2, (unsigned)(t->n - sub4));
  sb_pad4(t);
  m->cmap12_groups = 0;
  if (!sf->cmap12) return;
  size_t sub12 = t->n;
  sb_put32(t, rec12 + 4, (uint32_t)sub12);
  sb_u16(t, 12), sb_u16(t, 0), sb_u32(t, (uint32_t)(16 + 12 * n)), sb_u32(t, 0);
  m->cmap12_groups = base + t->n;
  sb_u32(t, (uint32_t)n);
  for (int i = 0; i < n; i++) sb_u32(t, sf->cp[order[i]]), sb_u32(t, sf->cp[order[i]]), sb_u32(t, (uint32_t)order[i]);
}

/* CBLC and CBDT together: a useless small strike first, then the real one. */
static void synth_bitmaps(const synth_font *sf, synth_buf *cblc, synth_buf *cbdt, size_t cblc_base,
                          size_t cbdt_base, synth_marks *m) {
  sb_u16(cbdt, 3), sb_u16(cbdt, 0);
  sb_u16(cblc, 3), sb_u16(cblc, 0);
  m->num_sizes = cblc_base + cblc->n;
  sb_u32(cblc, 2);
  size_t strikes = cblc->n;
  for (int s = 0; s < 2; s++) {
    sb_u32(cblc, 0), sb_u32(cblc, 0), sb_u32(cblc, s ? (uint32_t)sf->n_subs : 0), sb_u32(cblc, 0);
    for (int k = 0; k < 24; k++) sb_u8(cblc, 0);
    sb_u16(cblc, 1), sb_u16(cblc, (unsigned)sf->n_glyphs - 1);
    sb_u8(cblc, s ? 109 : 20), sb_u8(cblc, s ? 109 : 20), sb_u8(cblc, 32), sb_u8(cblc, 1);
  }
  size_t array = cblc->n;
  sb_put32(cblc, strikes, (uint32_t)array);
  sb_put32(cblc, strikes + 48, (uint32_t)array);
  m->strike_array_off = cblc_base + strikes + 48;
  for (int j = 0; j < sf->n_subs; j++) sb_u16(cblc, (unsigned)sf->subs[j].first), sb_u16(cblc, (unsigned)sf->subs[j].last), sb_u32(cblc, 0);
  m->png_len_field = m->png_data = 0;
  for (int j = 0; j < sf->n_subs; j++) {
    const synth_sub *s = &sf->subs[j];
    sb_pad4(cblc);
    size_t sub = cblc->n;
    sb_put32(cblc, array + 8 * (size_t)j + 4, (uint32_t)(sub - array));
    sb_u16(cblc, (unsigned)s->index_format), sb_u16(cblc, (unsigned)s->image_format);
    m->image_data_off[j] = cblc_base + cblc->n;
    sb_u32(cblc, (uint32_t)cbdt->n);
    size_t data0 = cbdt->n, fixed = 0;
    int listed = 0;
    for (int g = s->first; g <= s->last; g++) {
      size_t r = sf->png[g] ? synth_record_size(s->image_format, sf->png_len[g]) : 0;
      if (r > fixed) fixed = r;
      listed += sf->png[g] != NULL;
    }
    if (s->index_format == 2 || s->index_format == 5) {
      sb_u32(cblc, (uint32_t)fixed);
      const uint8_t big[8] = {16, 16, 0, 14, 17, 0, 0, 16};
      sb_bytes(cblc, big, 8);
    }
    if (s->index_format == 4 || s->index_format == 5) sb_u32(cblc, (uint32_t)listed);
    for (int g = s->first; g <= s->last; g++) {
      size_t rel = cbdt->n - data0;
      if (s->index_format == 1) sb_u32(cblc, (uint32_t)rel);
      if (s->index_format == 3) sb_u16(cblc, (unsigned)rel);
      if (sf->png[g] && s->index_format == 4) sb_u16(cblc, (unsigned)g), sb_u16(cblc, (unsigned)rel);
      if (sf->png[g] && s->index_format == 5) sb_u16(cblc, (unsigned)g);
      if (!sf->png[g] && s->index_format != 2) continue;
      if (!m->png_len_field) {
        m->png_len_field = cbdt_base + cbdt->n + synth_record_size(s->image_format, 0) - 4;
        m->png_data = m->png_len_field + 4;
      }
      if (sf->png[g]) synth_record(cbdt, s->image_format, sf->png[g], sf->png_len[g]);
      while ((s->index_format == 2 || s->index_format == 5) && cbdt->n - data0 - rel < fixed) sb_u8(cbdt, 0);
    }
    size_t end = cbdt->n - data0;
    if (s->index_format == 1) sb_u32(cblc, (uint32_t)end);
    if (s->index_format == 3) sb_u16(cblc, (unsigned)end);
    if (s->index_format == 4) sb_u16(cblc, 0), sb_u16(cblc, (unsigned)end);
  }
}

/* Builds the font; returns a malloc'd buffer (caller frees) and its size in *len. The
 * table offsets depend only on the table sizes, so the directory is written last. */
static uint8_t *synth_sfnt(const synth_font *sf, size_t *len, synth_marks *m) {
  memset(m, 0, sizeof *m);
  const char *tags[4] = {"CBDT", "CBLC", "cmap", "maxp"};
  synth_buf t[4] = {{0}};
  /* Pass 1 for sizes, pass 2 with the real bases (the content does not depend on them). */
  size_t base[4] = {0};
  for (int pass = 0; pass < 2; pass++) {
    for (int i = 0; i < 4; i++) t[i].n = 0;
    synth_bitmaps(sf, &t[1], &t[0], base[1], base[0], m);
    synth_cmap(sf, &t[2], base[2], m);
    sb_u32(&t[3], 0x00005000u);
    m->num_glyphs = base[3] + t[3].n;
    sb_u16(&t[3], (unsigned)sf->n_glyphs);
    size_t at = 12 + 16 * 4;
    for (int i = 0; i < 4; i++) {
      base[i] = at;
      at += (t[i].n + 3) & ~(size_t)3;
    }
  }
  synth_buf out = {0};
  sb_u32(&out, 0x00010000u), sb_u16(&out, 4), sb_u16(&out, 64), sb_u16(&out, 2), sb_u16(&out, 0);
  for (int i = 0; i < 4; i++) {
    m->dir_record[i] = out.n;
    sb_bytes(&out, tags[i], 4), sb_u32(&out, 0), sb_u32(&out, (uint32_t)base[i]), sb_u32(&out, (uint32_t)t[i].n);
  }
  for (int i = 0; i < 4; i++) {
    sb_bytes(&out, t[i].p, t[i].n);
    if (i < 3) sb_pad4(&out);
    free(t[i].p);
  }
  *len = out.n;
  return out.p;
}

#endif
