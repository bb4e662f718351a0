/* libFuzzer target for the kaggle loader's parsers: the input is read as a CSV file and
 * every field goes through the data-URI, base64 and codepoint-list parsers. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../loaders/kaggle/kaggle_csv.h"

static void fields(const kaggle__csv *c) {
  for (int i = 0; i < c->n_fields; i++) {
    const char *f = c->fields[i];
    size_t len = c->lens[i];
    if (f[len] != '\0') abort(); /* every field is NUL-terminated */
    gm_error err = {0};
    const char *b64 = f;
    size_t b64_len = len;
    if (kaggle__data_uri(f, len, &b64, &b64_len, &err) < 0) {
      b64 = f;
      b64_len = len;
    }
    uint8_t *bytes = NULL;
    size_t n = 0;
    if (kaggle__base64_decode(b64, b64_len, &bytes, &n, &err) == 0) {
      if (n > b64_len) abort();
      free(bytes);
    }
    uint32_t cps[16];
    int n_cps = 0;
    if (kaggle__codepoints(f, cps, 16, &n_cps, &err) == 0 && (n_cps < 1 || n_cps > 16))
      abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static kaggle__csv c; /* 64 KiB of buffer: keep it off the stack */
  kaggle__csv_init_mem(&c, data, size, "fuzz.csv");
  gm_error err = {0};
  long last_line = 0;
  for (;;) {
    int rc = kaggle__csv_next(&c, &err);
    if (rc == 0) break;
    if (c.line < last_line) abort(); /* lines only go forward */
    last_line = c.line;
    if (rc == 1) fields(&c);
  }
  kaggle__csv_close(&c);
  return 0;
}
