/* Emoji keywords and names from Unicode CLDR's English annotations (Debian:
 * unicode-cldr-core), looked up by codepoint sequence: the text that text-conditioned
 * models learn from.
 *
 *     <annotation cp="😉">face | wink | winking face</annotation>
 *     <annotation cp="😉" type="tts">winking face</annotation>
 *
 * common/annotations/en.xml holds the base emojis, common/annotationsDerived/en.xml the
 * sequences built from them (skin tones, keycaps, flags). The XML is parsed by libxml2. */
#ifndef GENMOJI_ANNOTATIONS_H
#define GENMOJI_ANNOTATIONS_H

#include <stddef.h>
#include <stdint.h>
#include "error.h"
#include "loader.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gm_emoji_annotations gm_emoji_annotations;

typedef struct gm_emoji_annotation {
  uint32_t codepoints[GM_MAX_CODEPOINTS];
  int n_codepoints;
  const char *keywords;   /* "face | wink | winking face"; "" when the files give none */
  const char *name;       /* the type="tts" text, "winking face"; "" when none */
} gm_emoji_annotation;

#define GM_CLDR_DIR_DEFAULT "/usr/share/unicode/cldr/common"
#define GM_CLDR_DIR_ENV "GM_CLDR_DIR"

/* Loads DIR/annotations/en.xml and DIR/annotationsDerived/en.xml; dir NULL means
 * $GM_CLDR_DIR, else GM_CLDR_DIR_DEFAULT. A missing annotations/en.xml is GM_ENOTFOUND
 * (the message names the file and, for the default folder, Debian's unicode-cldr-core);
 * a missing annotationsDerived/en.xml is allowed. */
GM_API int gm_emoji_annotations_load(gm_emoji_annotations **out, const char *dir,
                                     gm_error *err);
/* Loads the given files in order; where two give the same field of one sequence, the
 * earlier wins. A file that is not well-formed XML, has no <annotations> element, or an
 * <annotation> without a valid cp (1 to GM_MAX_CODEPOINTS Unicode scalar values in UTF-8)
 * is GM_EFORMAT naming file:line and the problem; a missing file is GM_ENOTFOUND. */
GM_API int gm_emoji_annotations_load_files(gm_emoji_annotations **out,
                                           const char *const *paths, int n_paths,
                                           gm_error *err);
GM_API void gm_emoji_annotations_destroy(gm_emoji_annotations *a);

/* How many sequences have keywords or a name; the i-th in codepoint order. */
GM_API int gm_emoji_annotations_count(const gm_emoji_annotations *a);
GM_API const gm_emoji_annotation *gm_emoji_annotations_at(const gm_emoji_annotations *a, int i);

/* The annotation of exactly this sequence; failing that, of one that differs only by
 * U+FE0F (variation selector 16), which CLDR leaves out ("☺" for "☺️"). NULL when none. */
GM_API const gm_emoji_annotation *gm_emoji_annotations_lookup(const gm_emoji_annotations *a,
                                                              const uint32_t *cps, int n_cps);

/* An image's text: the annotation's keywords, with its name appended (" | name") when the
 * name is not one of them; without an annotation (a NULL ann, or one with neither field)
 * the fallback name. Writes at most size bytes (truncated at a UTF-8 character
 * boundary); returns buf. */
GM_API char *gm_emoji_text(const gm_emoji_annotation *ann, const char *fallback, char *buf,
                           size_t size);

#ifdef __cplusplus
}
#endif
#endif
