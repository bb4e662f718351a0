/* Error codes and the error record every fallible genmoji call can fill.
 * Functions return 0 or a negative GM_E* code; a non-NULL gm_error gets a message
 * that names the thing that failed (file, op, OpenCL call, kernel). */
#ifndef GENMOJI_ERROR_H
#define GENMOJI_ERROR_H

#include <stdarg.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define GM_API __attribute__((visibility("default")))
#define GM_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define GM_API
#define GM_PRINTF(f, a)
#endif

/* The one list: code name, value, description. */
#define GM_ERRNO_MAP(X)                                                      \
  X(INVAL, -1, "invalid argument")                                          \
  X(NOMEM, -2, "out of memory")                                             \
  X(IO, -3, "input/output error")                                           \
  X(FORMAT, -4, "malformed or unsupported data")                            \
  X(NOTFOUND, -5, "not found")                                              \
  X(NODEVICE, -6, "no OpenCL platform or device")                           \
  X(OPENCL, -7, "OpenCL call failed")                                       \
  X(BUILD, -8, "kernel build failed")                                       \
  X(GEMM, -9, "GEMM backend failed")                                        \
  X(PLUGIN, -10, "plugin refused")                                          \
  X(SHAPE, -11, "tensor shape mismatch")                                    \
  X(DTYPE, -12, "tensor dtype mismatch")                                    \
  X(RANGE, -13, "value out of range")                                       \
  X(EXISTS, -14, "already exists")                                          \
  X(UNSUPPORTED, -15, "not supported")                                      \
  X(INTERRUPTED, -16, "interrupted")                                        \
  X(NUMERIC, -17, "non-finite value")                                       \
  X(MISMATCH, -18, "settings differ from the checkpoint")

enum {
  GM_OK = 0,
#define GM__ERRNO_ENUM(name, val, desc) GM_E##name = (val),
  GM_ERRNO_MAP(GM__ERRNO_ENUM)
#undef GM__ERRNO_ENUM
};

#define GM_ERROR_MSG_MAX 4096

typedef struct gm_error {
  int code;                     /* 0 or a GM_E* code */
  char msg[GM_ERROR_MSG_MAX];   /* human-readable, with context; "" when code == 0 */
} gm_error;

/* "invalid argument", ... ; "unknown error" for a code not in the list. */
GM_API const char *gm_strerror(int code);
/* "GM_EINVAL", ... */
GM_API const char *gm_err_name(int code);

/* Clears e (safe on NULL). */
GM_API void gm_error_clear(gm_error *e);
/* Fills e (if non-NULL) and returns code, so callers can write
 *   return gm_error_set(err, GM_EIO, "%s: cannot open", path);   */
GM_API int gm_error_set(gm_error *e, int code, const char *fmt, ...) GM_PRINTF(3, 4);
GM_API int gm_error_setv(gm_error *e, int code, const char *fmt, va_list ap);
/* Prepends "context: " to an existing message (keeps the code). Returns e->code. */
GM_API int gm_error_prefix(gm_error *e, const char *fmt, ...) GM_PRINTF(2, 3);

#ifdef __cplusplus
}
#endif
#endif
