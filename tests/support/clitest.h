/* Helpers for the suites that run the genmoji executable (test_cmd_*): the build tree's
 * binary, a run with its output captured, files read whole, scratch paths, a small
 * picture data set and JSON field lookups that fail the test with the field's name. */
#ifndef GM_CLITEST_H
#define GM_CLITEST_H

#include <cJSON.h>
#include <stddef.h>

#include "testlib.h"

#define GMT_GENMOJI GM_BUILD_PLUGIN_DIR "/../genmoji"

typedef struct gmt_run_result {
  int code;        /* exit code; -1 when a signal ended it */
  char *out, *err; /* stdout and stderr, whole */
} gmt_run_result;

/* Runs the shell command `ENV 'genmoji' ARGS` (env may be NULL, e.g. "GM_X=1"; args
 * formatted from fmt and already quoted as a shell needs) with stdout and stderr
 * captured in files under gmt_tmpdir(). */
gmt_run_result gmt_genmoji(const char *env, const char *fmt, ...) GM_PRINTF(2, 3);
void gmt_run_free(gmt_run_result *r);

/* A file's contents, NUL-terminated, *len (when not NULL) its length; NULL when it cannot
 * be opened. */
char *gmt_slurp(const char *path, size_t *len);

/* gmt_tmpdir()/name; the last four results stay valid. */
const char *gmt_path_in(const char *name);

/* A folder of 12 32x32 PNGs named after fruit (apple ... lemon), a yellow disc of growing
 * size on a gradient each, made once per process; at --heldout 0.25 banana and grape
 * are held out. */
const char *gmt_fruit_pictures(void);

/* The value at a dotted path ("sampling.seconds") of a JSON object; a missing field
 * fails the test naming the path. */
const cJSON *gmt_json_at(const cJSON *o, const char *path);
/* The number / string at a dotted path ("sampling.seconds") of a JSON object; a missing
 * field or another type fails the test naming the path. */
double gmt_json_num(const cJSON *o, const char *path);
const char *gmt_json_str(const cJSON *o, const char *path);

/* 1 when s[0..n) is well-formed UTF-8 (Unicode's Table 3-7: no overlong forms, no
 * surrogates, nothing above U+10FFFF), written apart from the CLI's own fixer. */
int gmt_valid_utf8(const char *s, size_t n);

#endif
