/* The shared data options: parsing (one getopt_long result at a time) and building the
 * dataset through the host's loader plugins. */
#include "dataopts.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gm_cli_dataopts_init(gm_cli_dataopts *o) {
  memset(o, 0, sizeof *o);
  o->data = "noto";
  gm_dataset_options_init(&o->ds);
}

static int parse_int(const char *arg, const char *opt, int lo, int hi, int *out, gm_error *err) {
  char *end;
  errno = 0;
  long v = strtol(arg, &end, 10);
  if (errno || end == arg || *end || v < lo || v > hi)
    return gm_error_set(err, GM_EINVAL, "%s: \"%s\" is not an integer in %d..%d", opt, arg,
                        lo, hi);
  *out = (int)v;
  return 0;
}

static int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static int parse_colour(const char *arg, uint8_t rgb[3], gm_error *err) {
  const char *p = arg[0] == '#' ? arg + 1 : arg;
  if (strlen(p) != 6)
    return gm_error_set(err, GM_EINVAL, "--background: \"%s\" is not RRGGBB", arg);
  for (int i = 0; i < 3; i++) {
    int hi = hex_digit(p[2 * i]), lo = hex_digit(p[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return gm_error_set(err, GM_EINVAL, "--background: \"%s\" is not RRGGBB", arg);
    rgb[i] = (uint8_t)(hi * 16 + lo);
  }
  return 0;
}

int gm_cli_dataopts_handle(gm_cli_dataopts *o, int opt, const char *arg, gm_error *err) {
  int rc = 0;
  switch (opt) {
  case GM_CLI_OPT_DATA: o->data = arg; break;
  case GM_CLI_OPT_VENDOR: o->vendor = arg; break;
  case GM_CLI_OPT_SKIP_BAD: o->skip_bad = 1; break;
  case GM_CLI_OPT_SUBSET:
    if (strcmp(arg, "faces") != 0)
      return gm_error_set(err, GM_EINVAL, "--subset: unknown subset \"%s\" (known: faces)", arg);
    o->ds.subset = "faces";
    break;
  case GM_CLI_OPT_YELLOW: o->ds.yellow = 1; break;
  case GM_CLI_OPT_MATCH: {
    regex_t re; /* compiled here only to report a bad pattern as a usage error */
    int e = regcomp(&re, arg, REG_EXTENDED | REG_ICASE | REG_NOSUB);
    if (e) {
      char msg[256];
      regerror(e, &re, msg, sizeof msg);
      return gm_error_set(err, GM_EINVAL, "--match: bad pattern \"%s\": %s", arg, msg);
    }
    regfree(&re);
    o->ds.match = arg;
    break;
  }
  case GM_CLI_OPT_LIMIT: rc = parse_int(arg, "--limit", 0, 1 << 30, &o->ds.limit, err); break;
  case GM_CLI_OPT_SIZE: rc = parse_int(arg, "--size", 1, 1024, &o->ds.size, err); break;
  case GM_CLI_OPT_BACKGROUND: rc = parse_colour(arg, o->ds.background, err); break;
  case GM_CLI_OPT_HELDOUT: {
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (errno || end == arg || *end || !(v >= 0.0 && v <= 1.0))
      return gm_error_set(err, GM_EINVAL, "--heldout: \"%s\" is not a number in [0, 1]", arg);
    o->ds.heldout = v;
    break;
  }
  default: return 0;
  }
  return rc ? rc : 1;
}

static int takes_key(const gm_loader_vtable *v, const char *key) {
  for (const char *const *k = v->option_keys; k && *k; k++)
    if (strcmp(*k, key) == 0) return 1;
  return 0;
}

int gm_cli_dataopts_check(const gm_cli_dataopts *o, gm_host *host, gm_error *err) {
  const gm_registry *reg = gm_host_registry(host);
  const gm_plugin_record *rec = NULL;
  gm_error ignored = {0};
  if (gm_dataset_find_loader(reg, o->data, &rec, &ignored)) return 0; /* loading says so */
  static const struct {
    const char *key, *option;
  } keys[] = {{"vendor", "--vendor"}, {"skip-bad", "--skip-bad"}};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    int given = i == 0 ? o->vendor != NULL : o->skip_bad;
    if (!given || takes_key(rec->vtable, keys[i].key)) continue;
    char names[512] = "";
    size_t used = 0;
    for (int k = 0; k < gm_registry_count(reg); k++) {
      const gm_plugin_record *r = gm_registry_record(reg, k);
      if (r->reason || !r->kind || strcmp(r->kind, GM_PLUGIN_KIND_LOADER) != 0 || !r->vtable ||
          !takes_key(r->vtable, keys[i].key) || used >= sizeof names)
        continue;
      used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", used ? ", " : "",
                               r->name);
    }
    return gm_error_set(err, GM_EINVAL, "%s: the %s loader (for %s) does not take it; it is for "
                        "the %s loader%s", keys[i].option, rec->name, o->data,
                        names[0] ? names : "no", strchr(names, ',') ? "s" : "");
  }
  return 0;
}

int gm_cli_dataopts_load(const gm_cli_dataopts *o, gm_host *host, gm_dataset **out,
                         const gm_plugin_record **loader, gm_error *err) {
  const gm_plugin_record *rec = NULL;
  int rc = gm_dataset_find_loader(gm_host_registry(host), o->data, &rec, err);
  if (rc) return rc;
  if (loader) *loader = rec;
  gm_kv kv[2];
  int n = 0;
  if (o->vendor) kv[n++] = (gm_kv){"vendor", o->vendor};
  if (o->skip_bad) kv[n++] = (gm_kv){"skip-bad", "1"};
  return gm_dataset_load(out, rec->vtable, o->data, kv, n, &o->ds, err);
}

/* The data options as the `data` metadata records them. */
char *gm_cli_dataopts_describe(const gm_cli_dataopts *d, const char *loader) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON_AddStringToObject(o, "source", d->data);
  cJSON_AddStringToObject(o, "loader", loader);
  if (d->vendor) cJSON_AddStringToObject(o, "vendor", d->vendor);
  if (d->ds.subset) cJSON_AddStringToObject(o, "subset", d->ds.subset);
  cJSON_AddBoolToObject(o, "yellow", d->ds.yellow);
  if (d->ds.match) cJSON_AddStringToObject(o, "match", d->ds.match);
  cJSON_AddNumberToObject(o, "limit", d->ds.limit);
  cJSON_AddNumberToObject(o, "size", d->ds.size);
  char bg[8];
  snprintf(bg, sizeof bg, "%02x%02x%02x", d->ds.background[0], d->ds.background[1],
           d->ds.background[2]);
  cJSON_AddStringToObject(o, "background", bg);
  cJSON_AddNumberToObject(o, "heldout", d->ds.heldout);
  char *fixed = gm_cli_json_text(o, 0);
  cJSON_Delete(o);
  if (!fixed) return NULL;
  size_t len = strlen(fixed) + 1; /* the callers free it with cJSON_free */
  char *s = cJSON_malloc(len);
  if (s) memcpy(s, fixed, len);
  free(fixed);
  return s;
}
