/* Error codes (from the one GM_ERRNO_MAP list) and the gm_error record. */
#include <stdio.h>
#include <string.h>

#include "genmoji/error.h"

const char *gm_strerror(int code) {
  switch (code) {
  case GM_OK: return "ok";
#define GM__ERR_STR(name, val, desc) case GM_E##name: return desc;
  GM_ERRNO_MAP(GM__ERR_STR)
#undef GM__ERR_STR
  default: return "unknown error";
  }
}

const char *gm_err_name(int code) {
  switch (code) {
  case GM_OK: return "GM_OK";
#define GM__ERR_NAME(name, val, desc) case GM_E##name: return "GM_E" #name;
  GM_ERRNO_MAP(GM__ERR_NAME)
#undef GM__ERR_NAME
  default: return "GM_E?";
  }
}

void gm_error_clear(gm_error *e) {
  if (!e) return;
  e->code = 0;
  e->msg[0] = '\0';
}

int gm_error_setv(gm_error *e, int code, const char *fmt, va_list ap) {
  if (!e) return code;
  e->code = code;
  vsnprintf(e->msg, sizeof e->msg, fmt, ap);
  return code;
}

int gm_error_set(gm_error *e, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  gm_error_setv(e, code, fmt, ap);
  va_end(ap);
  return code;
}

int gm_error_prefix(gm_error *e, const char *fmt, ...) {
  if (!e) return GM_EINVAL;
  char head[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(head, sizeof head - 2, fmt, ap);
  va_end(ap);
  if (n < 0) return e->code;
  size_t hl = strlen(head);
  head[hl++] = ':';
  head[hl++] = ' ';
  size_t old = strnlen(e->msg, sizeof e->msg - 1);
  if (hl + old > sizeof e->msg - 1) old = sizeof e->msg - 1 - hl;  /* the tail is cut */
  memmove(e->msg + hl, e->msg, old);
  memcpy(e->msg, head, hl);
  e->msg[hl + old] = '\0';
  return e->code;
}
