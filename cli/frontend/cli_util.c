/* Shared pieces of the command-line front-end: messages in the house format, getopt_long
 * with those messages, JSON output, byte counts. See cli.h. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

double gm_cli_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int gm_cli_fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("genmoji: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return GM_CLI_FAIL;
}

int gm_cli_fail_err(const gm_error *err) {
  if (!err || !err->msg[0]) return gm_cli_fail("%s", gm_strerror(err ? err->code : 0));
  return gm_cli_fail("%s", err->msg);
}

int gm_cli_usage(const char *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "genmoji: %s: ", cmd);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, " (see 'genmoji %s --help')\n", cmd);
  va_end(ap);
  return GM_CLI_USAGE;
}

/* The long option the failing argument spells, if it is one and its value is val. */
static const struct option *long_option_of(const char *arg, int val,
                                           const struct option *longopts) {
  if (strncmp(arg, "--", 2) != 0) return NULL;
  size_t len = strcspn(arg + 2, "=");
  for (const struct option *o = longopts; o && o->name; o++)
    if (o->val == val && strlen(o->name) == len && strncmp(o->name, arg + 2, len) == 0)
      return o;
  return NULL;
}

static int bad_option(int c, int argc, char **argv, const struct option *longopts) {
  const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : "";
  if (optopt == 0) {
    size_t len = strcspn(arg, "=");
    return gm_cli_usage(argv[0], "unknown option '%.*s'", (int)len, arg);
  }
  const struct option *o = long_option_of(arg, optopt, longopts);
  if (c == ':')
    return o ? gm_cli_usage(argv[0], "option '--%s' needs a value", o->name)
             : gm_cli_usage(argv[0], "option '-%c' needs a value", optopt);
  if (o) return gm_cli_usage(argv[0], "option '--%s' takes no value", o->name);
  return gm_cli_usage(argv[0], "unknown option '-%c'", optopt);
}

/* getopt keeps its position in globals: restart whenever a new argv comes in or the
 * previous parse ran to its end. */
static char **parsing;

int gm_cli_getopt(int argc, char **argv, const char *shortopts,
                  const struct option *longopts) {
  if (argv != parsing) {
    optind = 0; /* 0, not 1: makes glibc and musl reinitialise fully */
    parsing = argv;
  }
  char opts[64];
  snprintf(opts, sizeof opts, ":%s", shortopts); /* ':' reports a missing value apart */
  opterr = 0;
  int c = getopt_long(argc, argv, opts, longopts, NULL);
  if (c == '?' || c == ':') {
    parsing = NULL;
    bad_option(c, argc, argv, longopts);
    return GM_CLI_BADOPT;
  }
  if (c == -1) parsing = NULL;
  return c;
}

int gm_cli_no_operands(int argc, char **argv) {
  if (optind < argc) return gm_cli_usage(argv[0], "unexpected argument '%s'", argv[optind]);
  return 0;
}

int gm_cli_help(const char *text) {
  fputs(text, stdout);
  return GM_CLI_OK;
}

/* The length of the well-formed UTF-8 sequence at p (1..4), or 0 when it is not one;
 * *bad then gets the length of its maximal ill-formed subpart (at least 1). Table 3-7
 * of the Unicode standard: the second byte's range depends on the first. */
static int utf8_seq(const unsigned char *p, int *bad) {
  unsigned c = p[0];
  int n;
  unsigned lo = 0x80, hi = 0xbf;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) n = 2;
  else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    if (c == 0xe0) lo = 0xa0;      /* no overlong forms */
    else if (c == 0xed) hi = 0x9f; /* no surrogates */
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    if (c == 0xf0) lo = 0x90;      /* no overlong forms */
    else if (c == 0xf4) hi = 0x8f; /* nothing above U+10FFFF */
  } else {
    *bad = 1;
    return 0;
  }
  for (int i = 1; i < n; i++) {
    unsigned b = p[i];
    if (b < (i == 1 ? lo : 0x80) || b > (i == 1 ? hi : 0xbf)) {
      *bad = i;
      return 0;
    }
  }
  return n;
}

char *gm_cli_utf8_fix(const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  size_t len = strlen(s);
  char *out = malloc(3 * len + 1); /* each bad byte at most one 3-byte U+FFFD */
  if (!out) return NULL;
  size_t k = 0;
  while (*p) {
    int bad = 0, n = utf8_seq(p, &bad);
    if (n) {
      memcpy(out + k, p, (size_t)n);
      k += (size_t)n;
      p += n;
    } else {
      memcpy(out + k, "\xEF\xBF\xBD", 3);
      k += 3;
      p += bad;
    }
  }
  out[k] = '\0';
  return out;
}

char *gm_cli_json_text(const cJSON *root, int formatted) {
  if (!root) return NULL;
  char *text = formatted ? cJSON_Print(root) : cJSON_PrintUnformatted(root);
  if (!text) return NULL;
  char *fixed = gm_cli_utf8_fix(text);
  cJSON_free(text);
  return fixed;
}

int gm_cli_print_json(cJSON *root) {
  char *text = gm_cli_json_text(root, 1);
  cJSON_Delete(root);
  if (!text) return gm_cli_fail("out of memory while writing JSON");
  puts(text);
  free(text);
  return GM_CLI_OK;
}

const char *gm_cli_bytes(uint64_t n, char *buf, size_t size) {
  static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  if (n < 1024) {
    snprintf(buf, size, "%llu B", (unsigned long long)n);
    return buf;
  }
  double v = (double)n;
  int u = 0;
  while (v >= 1024.0 && u < 4) {
    v /= 1024.0;
    u++;
  }
  snprintf(buf, size, "%.1f %s", v, units[u]);
  return buf;
}

/* mkdir -p */
int gm_cli_make_dirs(const char *path, gm_error *err) {
  char p[4096];
  if (snprintf(p, sizeof p, "%s", path) >= (int)sizeof p)
    return gm_error_set(err, GM_EINVAL, "%s: path too long", path);
  for (char *q = p + 1;; q++) {
    if (*q != '/' && *q != '\0') continue;
    char c = *q;
    *q = '\0';
    if (mkdir(p, 0777) != 0 && errno != EEXIST)
      return gm_error_set(err, GM_EIO, "%s: cannot create: %s", p, strerror(errno));
    *q = c;
    if (!c) break;
  }
  struct stat st;
  if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
    return gm_error_set(err, GM_EIO, "%s: not a folder", path);
  return 0;
}

int gm_cli_same_file(const char *a, const char *b) {
  struct stat sa, sb;
  if (!a || !b || stat(a, &sa) != 0 || stat(b, &sb) != 0) return 0;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* The folder part of path into buf ("." when there is none). Returns the last part. */
static const char *split_path(const char *path, char *buf, size_t size) {
  const char *slash = strrchr(path, '/');
  if (!slash) {
    snprintf(buf, size, ".");
    return path;
  }
  snprintf(buf, size, "%.*s", slash == path ? 1 : (int)(slash - path), path);
  return slash + 1;
}

/* Two outputs that end up as one file: the same existing file, or one name in one folder
 * when neither exists yet. */
static int same_output(const char *a, const char *b) {
  struct stat sa, sb;
  int ea = stat(a, &sa) == 0, eb = stat(b, &sb) == 0;
  if (ea && eb) return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
  if (ea || eb) return 0;
  char da[4096], db[4096];
  const char *na = split_path(a, da, sizeof da), *nb = split_path(b, db, sizeof db);
  return *na && strcmp(na, nb) == 0 && gm_cli_same_file(da, db);
}

int gm_cli_check_outputs(const char *cmd, const gm_cli_path *in, int n_in,
                         const gm_cli_path *out, int n_out) {
  for (int i = 0; i < n_out; i++) {
    if (!out[i].path) continue;
    for (int k = 0; k < n_in; k++)
      if (in[k].path && gm_cli_same_file(out[i].path, in[k].path))
        return gm_cli_usage(cmd, "%s %s is the same file as %s %s; it would be overwritten",
                            out[i].option, out[i].path, in[k].option, in[k].path);
    for (int k = 0; k < i; k++)
      if (out[k].path && same_output(out[i].path, out[k].path))
        return gm_cli_usage(cmd, "%s %s and %s %s are the same file", out[k].option,
                            out[k].path, out[i].option, out[i].path);
  }
  return 0;
}

int gm_cli_check_images(const char *cmd, const char *option, long long n, int s) {
  long long per = 3LL * s * s, most = per > 0 ? INT32_MAX / per : 0;
  if (n <= most) return 0;
  return gm_cli_usage(cmd, "%s %lld: %lld images of 3x%dx%d are %lld values, over the 2^31 - 1 "
                      "elements one tensor holds (at most %lld images at this size)", option, n,
                      n, s, s, n * per, most);
}

int gm_cli_parse_duration(const char *s, int allow_zero, double *seconds) {
  double total = 0;
  const char *p = s;
  if (!*p) return -1;
  while (*p) {
    char *end;
    errno = 0;
    double v = strtod(p, &end);
    if (errno || end == p || !(v >= 0)) return -1;
    double unit = 1;
    if (*end == 'h') unit = 3600;
    else if (*end == 'm') unit = 60;
    else if (*end == 's') unit = 1;
    else if (*end != '\0') return -1;
    total += v * unit;
    p = *end ? end + 1 : end;
  }
  if (!(total > 0 || (allow_zero && total == 0)) || !isfinite(total)) return -1;
  *seconds = total;
  return 0;
}

int gm_cli_parse_long(const char *s, long long lo, long long hi, long long *out) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

void gm_cli_device_fields(cJSON *o, const gm_device_info *d) {
  cJSON_AddStringToObject(o, "name", d->name);
  cJSON_AddStringToObject(o, "vendor", d->vendor);
  cJSON_AddStringToObject(o, "type", gm_device_type_name(d->type));
  cJSON_AddStringToObject(o, "platform", d->platform_name);
  cJSON_AddStringToObject(o, "platform_version", d->platform_version);
  cJSON_AddStringToObject(o, "version", d->version);
  cJSON_AddStringToObject(o, "driver_version", d->driver_version);
  cJSON_AddNumberToObject(o, "compute_units", d->compute_units);
  cJSON_AddNumberToObject(o, "global_mem_bytes", (double)d->global_mem_bytes);
}
