/* The parsing half of the kaggle loader, kept apart so that the fuzz target compiles it
 * alone: a streaming RFC 4180 CSV reader, strict RFC 4648 base64, and the cell formats of
 * full_emoji.csv (data: URIs, "U+1F600 U+200D ..." codepoint lists). */
#ifndef GM_KAGGLE_CSV_H
#define GM_KAGGLE_CSV_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "genmoji/error.h"

/* One record is refused beyond this many bytes (the real file's longest row, eleven
 * 72x72 PNGs in base64, is well under 1 MiB). */
#define GM__CSV_MAX_RECORD (64u << 20)
#define GM__CSV_MAX_FIELDS 4096

typedef struct kaggle__csv {
  /* input: a FILE (read through buf) or a memory block */
  FILE *f;
  const unsigned char *mem;
  size_t mem_len;
  unsigned char buf[1 << 16];
  size_t pos, len;
  int eof;
  char what[512];        /* the file's name, for messages */

  long line;             /* the physical line the current record starts on (1-based) */
  long next_line;        /* the physical line the reader is on */

  /* the current record: n_fields NUL-terminated fields (they may also hold NULs) */
  int n_fields;
  char **fields;
  size_t *lens;
  int cap_fields;
  size_t *offs;          /* field starts in data while the record is being read */
  char *data;
  size_t data_len, data_cap;
} kaggle__csv;

/* A reader over a FILE (not closed by the reader) or over len bytes at mem. */
void kaggle__csv_init_file(kaggle__csv *c, FILE *f, const char *what);
void kaggle__csv_init_mem(kaggle__csv *c, const void *mem, size_t len, const char *what);
/* Reads the next record: 1 when there is one, 0 at the end of the input, or a negative
 * code with a message "<what>:<line>: ..." for a malformed record; after such an error
 * the reader has skipped to the next line, so a caller that skips bad records can go on. */
int kaggle__csv_next(kaggle__csv *c, gm_error *err);
void kaggle__csv_close(kaggle__csv *c);

/* Strict base64 (RFC 4648 alphabet, '=' padding to a multiple of 4, no whitespace, no
 * stray bits in the last symbol). On success *out is malloc'd (the caller frees it; a
 * zero-length result is still a valid pointer). On failure the message says what is
 * wrong and at which offset; the caller prefixes the file and line. */
int kaggle__base64_decode(const char *in, size_t n, uint8_t **out, size_t *out_len, gm_error *err);

/* A full_emoji.csv image cell: 0 with *b64 / *b64_len pointing past the
 * "data:image/png;base64," prefix; 1 when the vendor has no image ("-" or empty);
 * a negative code when the cell is neither. */
int kaggle__data_uri(const char *cell, size_t len, const char **b64, size_t *b64_len,
                        gm_error *err);

/* The unicode column ("U+1F600", "U+1F468 U+200D U+1F469", single spaces or several):
 * fills cps (at most max) and *n; a negative code for anything else. */
int kaggle__codepoints(const char *cell, uint32_t *cps, int max, int *n, gm_error *err);

#endif
