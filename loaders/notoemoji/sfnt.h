/* Colour bitmap fonts (sfnt with CBLC/CBDT, as Noto Color Emoji): the table directory,
 * the Unicode cmap (format 12, else 4), the largest CBLC strike and each glyph's PNG in
 * CBDT. The font stays in the caller's memory; every offset and count read from it is
 * checked against the table that holds it when the font is opened. */
#ifndef GM_NOTOEMOJI_SFNT_H
#define GM_NOTOEMOJI_SFNT_H

#include <stddef.h>
#include <stdint.h>

#include "genmoji/error.h"

/* Where one glyph's CBDT record lies (absolute file offset; length 0 = no bitmap). */
typedef struct sfnt__bitmap {
  size_t offset;
  uint32_t length;
  uint16_t image_format;   /* 17, 18 or 19 */
} sfnt__bitmap;

typedef struct sfnt__font {
  const uint8_t *data;     /* the whole font file, owned by the caller */
  size_t len;
  const char *what;        /* names the font in error messages */
  uint32_t num_glyphs;     /* maxp */
  int cmap_format;         /* 12 or 4 */
  size_t cmap_sub;         /* absolute offset of the chosen cmap subtable */
  uint32_t cmap_count;     /* format 12: groups; format 4: segments */
  int ppem_x, ppem_y;      /* the chosen strike */
  int n_bitmaps;           /* glyphs that have a bitmap in it */
  sfnt__bitmap *bitmaps;  /* num_glyphs entries */
} sfnt__font;

/* Parses data (len bytes, kept by the caller while f is open). Errors are GM_EFORMAT
 * naming `what` and the table, e.g. "x.ttf: CBLC: numSizes 70000 does not fit ...". */
int sfnt__open(sfnt__font *f, const uint8_t *data, size_t len, const char *what, gm_error *err);
void sfnt__close(sfnt__font *f);

/* The glyph the cmap gives a codepoint; 0 (.notdef) when none. */
uint32_t sfnt__glyph(const sfnt__font *f, uint32_t cp);

/* The PNG bytes of a glyph's bitmap in the chosen strike: 1 with *png and *png_len set, 0 when
 * the glyph has no bitmap, or GM_EFORMAT when its CBDT record is damaged. */
int sfnt__png(const sfnt__font *f, uint32_t glyph, const uint8_t **png, size_t *png_len, gm_error *err);

/* 1 if data (at least the start of an sfnt file) has a table directory naming `tag`
 * ("CBDT"). Checks only the directory; used to probe files cheaply. */
int sfnt__has_table(const uint8_t *data, size_t len, const char *tag);

#endif
