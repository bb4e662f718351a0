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
  vsnprintf(head, sizeof head, fmt, ap);
  va_end(ap);
  char old[GM_ERROR_MSG_MAX];
  memcpy(old, e->msg, sizeof old);
  snprintf(e->msg, sizeof e->msg, "%s: %s", head, old);
  return e->code;
}
