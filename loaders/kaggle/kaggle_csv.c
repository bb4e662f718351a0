/* A streaming RFC 4180 CSV reader, strict base64 and the cell formats of full_emoji.csv.
 * No libpng and no plugin code here: the fuzz target (tests/fuzz/fuzz_csv.c) builds this
 * file alone. */
#include "kaggle_csv.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "genmoji/error.h"

void kaggle__csv_init_file(kaggle__csv *c, FILE *f, const char *what) {
  memset(c, 0, sizeof *c);
  c->f = f;
  snprintf(c->what, sizeof c->what, "%s", what);
  c->line = c->next_line = 1;
}

void kaggle__csv_init_mem(kaggle__csv *c, const void *mem, size_t len, const char *what) {
  kaggle__csv_init_file(c, NULL, what);
  c->mem = mem;
  c->mem_len = len;
}

void kaggle__csv_close(kaggle__csv *c) {
  free(c->fields);
  free(c->lens);
  free(c->offs);
  free(c->data);
  c->fields = NULL;
  c->lens = NULL;
  c->offs = NULL;
  c->data = NULL;
}

/* The next input byte, or -1 at the end (a read error also ends the input; the loader
 * checks ferror). */
static int getb(kaggle__csv *c) {
  if (!c->f) return c->pos < c->mem_len ? c->mem[c->pos++] : -1;
  if (c->pos == c->len) {
    if (c->eof) return -1;
    c->len = fread(c->buf, 1, sizeof c->buf, c->f);
    c->pos = 0;
    if (c->len == 0) {
      c->eof = 1;
      return -1;
    }
  }
  return c->buf[c->pos++];
}

static int peekb(kaggle__csv *c) {
  int ch = getb(c);
  if (ch >= 0) c->pos--; /* getb just advanced pos within the same buffer */
  return ch;
}

/* Consumes the line ending whose first byte ch has just been read (LF, CRLF or a lone CR). */
static void end_line(kaggle__csv *c, int ch) {
  if (ch == '\r' && peekb(c) == '\n') getb(c);
  c->next_line++;
}

/* After a malformed record: drops the rest of the physical line. */
static void skip_line(kaggle__csv *c) {
  int ch;
  while ((ch = getb(c)) >= 0) {
    if (ch == '\n' || ch == '\r') {
      end_line(c, ch);
      return;
    }
  }
}

static int push(kaggle__csv *c, int ch, gm_error *err) {
  if (c->data_len == c->data_cap) {
    if (c->data_cap >= GM__CSV_MAX_RECORD)
      return gm_error_set(err, GM_EFORMAT, "%s:%ld: record longer than %u MiB", c->what,
                          c->line, GM__CSV_MAX_RECORD >> 20);
    size_t cap = c->data_cap ? c->data_cap * 2 : 4096;
    char *p = realloc(c->data, cap);
    if (!p) return gm_error_set(err, GM_ENOMEM, "%s:%ld: out of memory", c->what, c->line);
    c->data = p;
    c->data_cap = cap;
  }
  c->data[c->data_len++] = (char)ch;
  return 0;
}

static int start_field(kaggle__csv *c, gm_error *err) {
  if (c->n_fields == c->cap_fields) {
    if (c->cap_fields >= GM__CSV_MAX_FIELDS)
      return gm_error_set(err, GM_EFORMAT, "%s:%ld: more than %d fields", c->what, c->line,
                          GM__CSV_MAX_FIELDS);
    int cap = c->cap_fields ? c->cap_fields * 2 : 32;
    size_t *offs = realloc(c->offs, (size_t)cap * sizeof *offs);
    if (offs) c->offs = offs;
    size_t *lens = realloc(c->lens, (size_t)cap * sizeof *lens);
    if (lens) c->lens = lens;
    char **fields = realloc(c->fields, (size_t)cap * sizeof *fields);
    if (fields) c->fields = fields;
    if (!offs || !lens || !fields)
      return gm_error_set(err, GM_ENOMEM, "%s:%ld: out of memory", c->what, c->line);
    c->cap_fields = cap;
  }
  c->offs[c->n_fields++] = c->data_len;
  return 0;
}

static int end_field(kaggle__csv *c, gm_error *err) {
  int rc = push(c, '\0', err);
  if (rc) return rc;
  int i = c->n_fields - 1;
  c->lens[i] = c->data_len - 1 - c->offs[i];
  return 0;
}

/* Reads the rest of a quoted field (the opening quote is consumed); returns the byte
 * after the closing quote in *after. */
static int quoted_field(kaggle__csv *c, int *after, gm_error *err) {
  for (;;) {
    int ch = getb(c);
    if (ch < 0)
      return gm_error_set(err, GM_EFORMAT,
                          "%s:%ld: unterminated quoted field %d (the quote runs to the end "
                          "of the file)",
                          c->what, c->line, c->n_fields);
    if (ch == '"') {
      if (peekb(c) != '"') break;
      getb(c);
    } else if (ch == '\n' || (ch == '\r' && peekb(c) != '\n')) {
      c->next_line++;
    }
    int rc = push(c, ch, err);
    if (rc) return rc;
  }
  *after = getb(c);
  return 0;
}

static int unquoted_field(kaggle__csv *c, int ch, int *after, gm_error *err) {
  while (ch >= 0 && ch != ',' && ch != '\n' && ch != '\r') {
    if (ch == '"')
      return gm_error_set(err, GM_EFORMAT, "%s:%ld: stray quote inside unquoted field %d",
                          c->what, c->line, c->n_fields);
    int rc = push(c, ch, err);
    if (rc) return rc;
    ch = getb(c);
  }
  *after = ch;
  return 0;
}

/* Reads one record whose first byte is ch; 0 or a negative code (the offending line is
 * not yet consumed). */
static int read_record(kaggle__csv *c, int ch, gm_error *err) {
  for (;;) {
    int rc = start_field(c, err), after = -1;
    if (rc) return rc;
    if (ch == '"') {
      rc = quoted_field(c, &after, err);
      if (rc) return rc;
      if (after >= 0 && after != ',' && after != '\n' && after != '\r') {
        return gm_error_set(err, GM_EFORMAT,
                            "%s:%ld: unexpected character after the closing quote of field %d",
                            c->what, c->line, c->n_fields);
      }
    } else {
      rc = unquoted_field(c, ch, &after, err);
      if (rc) return rc;
    }
    rc = end_field(c, err);
    if (rc) return rc;
    if (after != ',') {
      if (after >= 0) end_line(c, after);
      return 0;
    }
    ch = getb(c);
  }
}

int kaggle__csv_next(kaggle__csv *c, gm_error *err) {
  for (;;) {
    c->line = c->next_line;
    c->n_fields = 0;
    c->data_len = 0;
    int ch = getb(c);
    if (ch < 0) return 0;
    if (ch == '\n' || ch == '\r') { /* a blank line is not a record */
      end_line(c, ch);
      continue;
    }
    int rc = read_record(c, ch, err);
    if (rc) {
      c->n_fields = 0;
      skip_line(c);
      return rc;
    }
    for (int i = 0; i < c->n_fields; i++) c->fields[i] = c->data + c->offs[i];
    return 1;
  }
}

/* ---- base64 ---- */

static int b64_value(unsigned char ch) {
  if (ch >= 'A' && ch <= 'Z') return ch - 'A';
  if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
  if (ch >= '0' && ch <= '9') return ch - '0' + 52;
  if (ch == '+') return 62;
  if (ch == '/') return 63;
  return -1;
}

/* Describes byte ch for a message: 'x' when printable, else its hex value. */
static const char *byte_str(unsigned char ch, char *buf, size_t n) {
  if (ch >= 0x20 && ch < 0x7f && ch != '\'')
    snprintf(buf, n, "'%c'", ch);
  else
    snprintf(buf, n, "0x%02x", ch);
  return buf;
}

int kaggle__base64_decode(const char *in, size_t n, uint8_t **out, size_t *out_len, gm_error *err) {
  const unsigned char *s = (const unsigned char *)in;
  size_t pad = 0;
  while (pad < n && s[n - 1 - pad] == '=') pad++;
  char b[16];
  for (size_t i = 0; i < n - pad; i++) {
    if (s[i] == '=')
      return gm_error_set(err, GM_EFORMAT, "base64: padding '=' at offset %zu before the end",
                          i);
    if (b64_value(s[i]) < 0)
      return gm_error_set(err, GM_EFORMAT, "base64: bad character %s at offset %zu",
                          byte_str(s[i], b, sizeof b), i);
  }
  if (n % 4 != 0)
    return gm_error_set(err, GM_EFORMAT,
                        "base64: length %zu is not a multiple of 4 (truncated or unpadded)", n);
  if (pad > 2)
    return gm_error_set(err, GM_EFORMAT, "base64: %zu padding characters (at most 2)", pad);
  /* The symbol before the padding must not carry bits that the padding drops. */
  if ((pad == 2 && (b64_value(s[n - 3]) & 0x0f)) || (pad == 1 && (b64_value(s[n - 2]) & 0x03)))
    return gm_error_set(err, GM_EFORMAT, "base64: stray bits before the padding at offset %zu",
                        n - pad - 1);
  size_t len = n / 4 * 3 - pad;
  uint8_t *o = malloc(len ? len : 1);
  if (!o) return gm_error_set(err, GM_ENOMEM, "base64: out of memory for %zu bytes", len);
  size_t k = 0;
  for (size_t i = 0; i < n; i += 4) {
    uint32_t v = 0;
    for (int j = 0; j < 4; j++) v = v << 6 | (uint32_t)(s[i + j] == '=' ? 0 : b64_value(s[i + j]));
    uint8_t three[3] = {(uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    for (int j = 0; j < 3 && k < len; j++) o[k++] = three[j];
  }
  *out = o;
  *out_len = len;
  return 0;
}

/* ---- full_emoji.csv cells ---- */

static const char k_uri_prefix[] = "data:image/png;base64,";

int kaggle__data_uri(const char *cell, size_t len, const char **b64, size_t *b64_len,
                        gm_error *err) {
  if (len == 0 || (len == 1 && cell[0] == '-')) return 1;
  size_t plen = sizeof k_uri_prefix - 1;
  if (len < plen || strncasecmp(cell, k_uri_prefix, plen) != 0) {
    char shown[40];
    size_t k = 0;
    for (size_t i = 0; i < len && k + 1 < sizeof shown && i < 24; i++)
      shown[k++] = isprint((unsigned char)cell[i]) ? cell[i] : '?';
    shown[k] = '\0';
    return gm_error_set(err, GM_EFORMAT,
                        "image cell is neither \"-\" nor a %s URI (it starts \"%s\")",
                        k_uri_prefix, shown);
  }
  *b64 = cell + plen;
  *b64_len = len - plen;
  return 0;
}

int kaggle__codepoints(const char *cell, uint32_t *cps, int max, int *n, gm_error *err) {
  const char *p = cell;
  int k = 0;
  for (;;) {
    while (*p == ' ') p++;
    if (!*p) break;
    if (!((p[0] == 'U' || p[0] == 'u') && p[1] == '+'))
      return gm_error_set(err, GM_EFORMAT, "unicode column: expected U+XXXX at \"%.16s\"", p);
    p += 2;
    uint32_t v = 0;
    int digits = 0;
    while (isxdigit((unsigned char)*p) && digits < 7) {
      int d = isdigit((unsigned char)*p) ? *p - '0' : (tolower((unsigned char)*p) - 'a' + 10);
      v = v * 16 + (uint32_t)d;
      digits++;
      p++;
    }
    if (digits == 0 || digits > 6 || v > 0x10FFFF || (*p && *p != ' '))
      return gm_error_set(err, GM_EFORMAT, "unicode column: bad code point in \"%.40s\"", cell);
    if (k == max)
      return gm_error_set(err, GM_EFORMAT, "unicode column: more than %d code points", max);
    cps[k++] = v;
  }
  if (k == 0) return gm_error_set(err, GM_EFORMAT, "unicode column is empty");
  *n = k;
  return 0;
}
