/* Helpers for the suites that run the genmoji executable: see clitest.h. */
#include "clitest.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

char *gmt_slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc(n > 0 ? (size_t)n + 1 : 1);
  ck_assert_ptr_nonnull(s);
  size_t got = n > 0 ? fread(s, 1, (size_t)n, f) : 0;
  s[got] = '\0';
  fclose(f);
  if (len) *len = got;
  return s;
}

static char *slurp_or_empty(const char *path) {
  char *s = gmt_slurp(path, NULL);
  return s ? s : strdup("");
}

gmt_run_result gmt_genmoji(const char *env, const char *fmt, ...) {
  char args[6000], out[1100], err[1100], cmd[8192];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(args, sizeof args, fmt, ap);
  va_end(ap);
  snprintf(out, sizeof out, "%s/stdout.txt", gmt_tmpdir());
  snprintf(err, sizeof err, "%s/stderr.txt", gmt_tmpdir());
  snprintf(cmd, sizeof cmd, "%s '%s' %s >'%s' 2>'%s'", env ? env : "", GMT_GENMOJI, args, out,
           err);
  int status = system(cmd);
  gmt_run_result r = {.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1};
  r.out = slurp_or_empty(out);
  r.err = slurp_or_empty(err);
  return r;
}

void gmt_run_free(gmt_run_result *r) {
  free(r->out);
  free(r->err);
  r->out = r->err = NULL;
}

const char *gmt_path_in(const char *name) {
  static char p[4][1200];
  static int k;
  k = (k + 1) % 4;
  snprintf(p[k], sizeof p[k], "%s/%s", gmt_tmpdir(), name);
  return p[k];
}

const char *gmt_fruit_pictures(void) {
  static char dir[1100];
  if (dir[0]) return dir;
  static const char *const names[] = {"apple", "banana", "cherry", "damson",  "elder", "fig",
                                      "grape", "hazel",  "iris",   "juniper", "kiwi",  "lemon"};
  snprintf(dir, sizeof dir, "%s/data", gmt_tmpdir());
  ck_assert_int_eq(mkdir(dir, 0777), 0);
  gm_error err = {0};
  uint8_t px[32 * 32 * 3];
  for (int k = 0; k < 12; k++) {
    for (int i = 0; i < 32 * 32; i++) {
      int x = i % 32, y = i / 32, in = (x - 16) * (x - 16) + (y - 16) * (y - 16) < 40 + 10 * k;
      px[3 * i] = in ? 240 : (uint8_t)(6 * x);
      px[3 * i + 1] = in ? (uint8_t)(190 + 5 * k) : (uint8_t)(6 * y);
      px[3 * i + 2] = in ? 30 : 0;
    }
    char path[1200];
    snprintf(path, sizeof path, "%s/%s.png", dir, names[k]);
    gmt_ok(gm_png_write(path, px, 32, 32, 3, &err), &err);
  }
  return dir;
}

const cJSON *gmt_json_at(const cJSON *o, const char *path) {
  char buf[256];
  snprintf(buf, sizeof buf, "%s", path);
  const cJSON *v = o;
  char *save = NULL;
  for (char *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save)) {
    v = cJSON_GetObjectItemCaseSensitive(v, k);
    ck_assert_msg(v != NULL, "no JSON field '%s'", path);
  }
  return v;
}

double gmt_json_num(const cJSON *o, const char *path) {
  const cJSON *v = gmt_json_at(o, path);
  ck_assert_msg(cJSON_IsNumber(v), "JSON field '%s' is not a number", path);
  return v->valuedouble;
}

const char *gmt_json_str(const cJSON *o, const char *path) {
  const cJSON *v = gmt_json_at(o, path);
  ck_assert_msg(cJSON_IsString(v), "JSON field '%s' is not a string", path);
  return v->valuestring;
}

int gmt_valid_utf8(const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;
  for (size_t i = 0; i < n;) {
    unsigned c = p[i];
    size_t len = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3
               : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (!len || i + len > n) return 0;
    unsigned lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
    unsigned hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
    for (size_t k = 1; k < len; k++)
      if (p[i + k] < (k == 1 ? lo : 0x80) || p[i + k] > (k == 1 ? hi : 0xbf)) return 0;
    i += len;
  }
  return 1;
}
