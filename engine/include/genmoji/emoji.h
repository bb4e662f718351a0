/* Emoji names, groups and subgroups from Unicode's emoji-test.txt (Debian: unicode-data),
 * looked up by codepoint sequence, and codepoint sequences parsed from file names. */
#ifndef GENMOJI_EMOJI_H
#define GENMOJI_EMOJI_H

#include <stddef.h>
#include <stdint.h>
#include "error.h"
#include "loader.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gm_emoji_names gm_emoji_names;

typedef struct gm_emoji_entry {
  uint32_t codepoints[GM_MAX_CODEPOINTS];
  int n_codepoints;
  const char *name;       /* "grinning face" */
  const char *group;      /* "Smileys & Emotion" ("" before the file's first group line) */
  const char *subgroup;   /* "face-smiling" */
  int fully_qualified;    /* 1 when the status field is "fully-qualified" */
} gm_emoji_entry;

#define GM_EMOJI_TEST_DEFAULT "/usr/share/unicode/emoji/emoji-test.txt"
#define GM_EMOJI_TEST_ENV "GM_EMOJI_TEST"

/* Loads emoji-test.txt from path; NULL means $GM_EMOJI_TEST, else GM_EMOJI_TEST_DEFAULT.
 * A missing file is GM_ENOTFOUND (when path is NULL, the message says to install Debian's
 * unicode-data package); a malformed data line is GM_EFORMAT naming path:line. */
GM_API int gm_emoji_names_load(gm_emoji_names **out, const char *path, gm_error *err);
GM_API void gm_emoji_names_destroy(gm_emoji_names *n);

/* The entry for exactly this sequence; failing that, one that differs only by U+FE0F
 * (variation selector 16) added or removed, preferring a fully-qualified one. NULL when
 * there is none. */
GM_API const gm_emoji_entry *gm_emoji_lookup(const gm_emoji_names *n, const uint32_t *cps, int n_cps);

/* Entries in file order: 0 <= i < gm_emoji_count(n). */
GM_API int gm_emoji_count(const gm_emoji_names *n);
GM_API const gm_emoji_entry *gm_emoji_at(const gm_emoji_names *n, int i);

/* Parses a file stem naming a codepoint sequence: hex codepoints (4 to 6 digits each,
 * optionally prefixed u, U or U+) separated by '-', '_' or ' ', with an optional leading
 * "emoji_" (Noto's file names): "1F600", "1f600-1f3fb", "1f468_200d_1f469", "u1F600",
 * "emoji_u1f600". Returns 0 and fills cps[0..*n_cps) on success; GM_EFORMAT when the stem
 * is not such a sequence (or holds more than max codepoints, or a value that is not a
 * Unicode scalar value). */
GM_API int gm_emoji_parse_codepoints(const char *stem, uint32_t *cps, int max, int *n_cps);

/* Writes a sequence as lowercase hex joined by sep ("1f600-1f3fb" for '-'), the inverse
 * of gm_emoji_parse_codepoints; a name pngdir reads back. Returns buf, truncated to size. */
GM_API char *gm_emoji_codepoints_str(const uint32_t *cps, int n_cps, char sep, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
