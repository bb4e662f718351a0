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

int gm_cli_print_json(cJSON *root) {
  char *text = root ? cJSON_Print(root) : NULL;
  cJSON_Delete(root);
  if (!text) return gm_cli_fail("out of memory while writing JSON");
  puts(text);
  cJSON_free(text);
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
