/* Small helpers the survey's files share (survey.h): messages, whole files, JSON reads. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "survey.h"

int sv_fail(char *msg, size_t n, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, n, fmt, ap);
  va_end(ap);
  return -1;
}

char *sv_slurp(const char *path, size_t max, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 4096, n = 0;
  char *s = malloc(cap + 1);
  while (s) {
    n += fread(s + n, 1, cap - n, f);
    if (n < cap) break;
    char *t = cap >= max ? NULL : realloc(s, 2 * cap + 1);
    if (!t) {
      free(s);
      s = NULL;
      errno = cap >= max ? EFBIG : ENOMEM;
      break;
    }
    s = t;
    cap *= 2;
  }
  if (s && ferror(f)) {
    free(s);
    s = NULL;
    errno = EIO;
  }
  fclose(f);
  if (s) s[n] = '\0';
  if (s && len) *len = n;
  return s;
}

double sv_jnum(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

const char *sv_jstr(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

double sv_jat(const cJSON *o, const char *key, int i) {
  const cJSON *v = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(o, key), i);
  return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}
