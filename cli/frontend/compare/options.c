/* `genmoji compare`'s command line into a gm_cmp_options: nothing is opened, loaded or
 * created here, so that a bad option leaves no trace. Per-model options are generic:
 * --models A,B,... names the plugins, --preset NAME=P and --set NAME.KEY=VALUE address
 * one of them, and --preset-NAME P / --set-NAME KEY=VALUE (the spelling scripts use) are
 * rewritten to those before parsing, for any model name. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../modelopts.h"
#include "compare.h"

enum {
  OPT_TIME = 0x3000,
  OPT_STEPS,
  OPT_MODELS,
  OPT_PRESET,
  OPT_SET,
  OPT_N,
  OPT_SEED,
  OPT_OUT,
  OPT_T_SAMPLES,
  OPT_TIMING_N,
  OPT_TIMING_LIMIT,
  OPT_FEATURES,
  OPT_JSON,
  OPT_QUIET
};

static const char usage[] =
    "Usage: genmoji compare [--data SRC] [FILTERS] [--models A,B,...] [--time 5m | --steps N]\n"
    "                       [--n 64] [--seed S] [--out DIR] [--preset NAME=P]...\n"
    "                       [--set NAME.KEY=VALUE]... [--json]\n"
    "\n"
    "The study in one command: trains every listed model (default " GM_CMP_DEFAULT_MODELS ")\n"
    "one after the other on the same data and device for the same budget each; samples\n"
    "each with its default sampler from a fixed seed; scores each on the held-out split in\n"
    "bits/dim (where the model has a likelihood); scores its samples on the emoji feature\n"
    "network (KID, FD, precision, recall; the held-out images' scores beside them); times\n"
    "each model's fast and reference samplers; and writes a report to DIR: index.html and\n"
    "report.md, metrics.json (every number), the image grids and loss.svg beside them, and\n"
    "each model's checkpoints and metrics.jsonl in DIR/<model>. The report is rewritten\n"
    "after every phase. Ctrl-C, SIGTERM or SIGHUP ends the phase in progress cleanly\n"
    "(training saves its checkpoint; a sampler call runs to its end) and leaves a report\n"
    "of what finished; a second one quits at once.\n"
    "\n" GM_CLI_DATAOPTS_HELP
    "                           without --data: noto --subset faces --yellow, the\n"
    "                           system's yellow emoji faces\n"
    "\n"
    "Models:\n"
    "      --models A,B,...     the model plugins to compare, 1 to 8 (default\n"
    "                           " GM_CMP_DEFAULT_MODELS "; 'genmoji plugins' lists them)\n"
    "      --preset NAME=P      model NAME's preset (default: its first; see\n"
    "                           'genmoji train --model NAME --help')\n"
    "      --set NAME.KEY=VALUE a model option or training key of model NAME (repeatable)\n"
    "      --preset-NAME P, --set-NAME KEY=VALUE   the same, spelled per model\n" GM_CLI_DEVICE_HELP
    "\n"
    "Budget and samples:\n"
    "      --time T             training time per model: 90s, 5m, 1h30m (default 5m)\n"
    "      --steps N            train each model for N optimiser steps instead, 1..2^40\n"
    "      --n N                samples per model, 1..4096 and at most 2^31-1 values\n"
    "                           (n x 3 x size x size) (default 64)\n"
    "      --seed S             initialisation, data order, noise and the samplers' draws,\n"
    "                           0..2^63-1 (default 0)\n"
    "      --out DIR            the report folder, new or empty (default\n"
    "                           runs/compare-YYYYmmdd-HHMMSS)\n"
    "\n"
    "Measurement:\n"
    "      --t-samples K        a likelihood bound (the DDPM's): 0 sums every noise level\n"
    "                           (the default; about a minute on a 2-core CPU), K > 0\n"
    "                           estimates the sum from K levels drawn per image (faster,\n"
    "                           noisy); 0..1048576\n"
    "      --timing-n N         images per batch when timing the samplers, 1..256\n"
    "                           (default 2)\n"
    "      --timing-limit T     run a model's reference sampler only when its estimated\n"
    "                           time fits T, else extrapolate it and say so (default 60s)\n"
    "      --features FILE      the emoji feature network for KID, FD, precision and\n"
    "                           recall (default: as 'genmoji score', the shipped one)\n"
    "\n"
    "Output:\n"
    "      --json               print metrics.json on stdout at the end\n"
    "      --quiet              no progress on stderr\n"
    "  -h, --help               show this help\n";

static int valid_model_name(const char *s, size_t n) {
  if (n == 0 || n >= sizeof ((gm_cmp_model_options *)0)->name) return 0;
  for (size_t i = 0; i < n; i++)
    if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789_-", s[i])) return 0;
  return 1;
}

/* The model of that name among --models, or -1. */
static int find_model(const gm_cmp_options *o, const char *name, size_t n) {
  for (int i = 0; i < o->n_models; i++)
    if (strlen(o->model[i].name) == n && strncmp(o->model[i].name, name, n) == 0) return i;
  return -1;
}

static int set_models(gm_cmp_options *o, const char *list, const char *cmd) {
  for (int i = 0; i < o->n_models; i++) free(o->model[i].sets);
  memset(o->model, 0, sizeof o->model);
  o->n_models = 0;
  const char *p = list;
  for (;;) {
    const char *end = strchr(p, ',');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    if (!valid_model_name(p, n))
      return gm_cli_usage(cmd, "--models: \"%s\" is not a comma-separated list of model names",
                          list);
    if (find_model(o, p, n) >= 0)
      return gm_cli_usage(cmd, "--models: %.*s is listed twice", (int)n, p);
    if (o->n_models == GM_CMP_MAX_MODELS)
      return gm_cli_usage(cmd, "--models: at most %d models", GM_CMP_MAX_MODELS);
    memcpy(o->model[o->n_models].name, p, n);
    o->model[o->n_models++].name[n] = '\0';
    if (!end) break;
    p = end + 1;
  }
  return 0;
}

/* --preset NAME=P and --set NAME.KEY=VALUE are kept as given until --models is known
 * (it may come after them); then they are assigned. */
typedef struct pending {
  int set; /* 0: --preset, 1: --set */
  const char *arg;
} pending;

static int assign(gm_cmp_options *o, const pending *p, const char *cmd) {
  const char *sep = strchr(p->arg, p->set ? '.' : '=');
  const char *flag = p->set ? "--set" : "--preset";
  if (!sep || sep == p->arg || !sep[1] || (p->set && (!strchr(sep, '=') || sep[1] == '=')))
    return gm_cli_usage(cmd, "%s: \"%s\" is not %s", flag, p->arg,
                        p->set ? "NAME.KEY=VALUE" : "NAME=PRESET");
  size_t n = (size_t)(sep - p->arg);
  int i = find_model(o, p->arg, n);
  if (i < 0) {
    char list[GM_CMP_MAX_MODELS * 66] = "";
    for (int k = 0; k < o->n_models; k++)
      snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", k ? "," : "",
               o->model[k].name);
    return gm_cli_usage(cmd, "%s %s: model '%.*s' is not compared (--models %s)", flag, p->arg,
                        (int)n, p->arg, list);
  }
  gm_cmp_model_options *m = &o->model[i];
  if (!p->set) {
    m->preset = sep + 1;
    return 0;
  }
  const char **grown = realloc(m->sets, sizeof *grown * (size_t)(m->n_sets + 1));
  if (!grown) return gm_cli_fail("out of memory");
  m->sets = grown;
  grown[m->n_sets++] = sep + 1;
  return 0;
}

/* The per-model spellings --preset-NAME P and --set-NAME KEY=VALUE (also with '=') as
 * --preset NAME=P and --set NAME.KEY=VALUE, in a new argv whose strings *owned keeps. */
static int rewrite_aliases(int argc, char **argv, char ***out, char ***owned, int *n_owned) {
  char **av = calloc((size_t)argc + 1, sizeof *av);
  char **own = calloc((size_t)argc + 1, sizeof *own);
  if (!av || !own) {
    free(av);
    free(own);
    return -1;
  }
  int k = 0, n = 0;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    const char *prefix = NULL;
    char sep = 0;
    if (i > 0 && strncmp(a, "--preset-", 9) == 0) prefix = "--preset", sep = '=';
    else if (i > 0 && strncmp(a, "--set-", 6) == 0) prefix = "--set", sep = '.';
    if (strcmp(a, "--") == 0) { /* operands follow: copy the rest as they are */
      for (; i < argc; i++) av[k++] = argv[i];
      break;
    }
    if (!prefix) {
      av[k++] = argv[i];
      continue;
    }
    const char *name = a + strlen(prefix) + 1, *eq = strchr(name, '=');
    size_t nl = eq ? (size_t)(eq - name) : strlen(name);
    const char *value = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
    if (!value) { /* let getopt report the option as it was typed */
      av[k++] = argv[i];
      continue;
    }
    size_t len = nl + strlen(value) + 2;
    char *joined = malloc(len);
    if (!joined) {
      for (int x = 0; x < n; x++) free(own[x]);
      free(own);
      free(av);
      return -1;
    }
    snprintf(joined, len, "%.*s%c%s", (int)nl, name, sep, value);
    own[n++] = joined;
    av[k++] = (char *)prefix;
    av[k++] = joined;
  }
  av[k] = NULL;
  *out = av;
  *owned = own;
  *n_owned = n;
  return k;
}

/* Returns 1 handled, 0 not ours, or 10 + an exit code after a message. */
static int handle(gm_cmp_options *o, int c, const char *arg, const char *cmd, int *budgets) {
  long long v;
  switch (c) {
  case OPT_TIME:
    if (gm_cli_parse_duration(arg, 0, &o->time_s))
      return 10 + gm_cli_usage(cmd, "--time: \"%s\" is not a duration (90s, 5m, 1h30m)", arg);
    ++*budgets;
    return 1;
  case OPT_STEPS:
    if (gm_cli_parse_long(arg, 1, 1LL << 40, &o->steps))
      return 10 + gm_cli_usage(cmd, "--steps: \"%s\" is not an integer in 1..2^40", arg);
    ++*budgets;
    return 1;
  case OPT_N:
    if (gm_cli_parse_long(arg, 1, 4096, &v))
      return 10 + gm_cli_usage(cmd, "--n: \"%s\" is not an integer in 1..4096", arg);
    o->n = (int)v;
    return 1;
  case OPT_SEED:
    if (gm_cli_parse_long(arg, 0, INT64_MAX, &v))
      return 10 + gm_cli_usage(cmd, "--seed: \"%s\" is not an integer in 0..2^63-1", arg);
    o->seed = (unsigned long long)v;
    return 1;
  case OPT_OUT: o->out = arg; return 1;
  case OPT_T_SAMPLES:
    if (gm_cli_parse_long(arg, 0, 1 << 20, &v))
      return 10 + gm_cli_usage(cmd, "--t-samples: \"%s\" is not an integer in 0..1048576",
                               arg);
    o->t_samples = (int)v;
    return 1;
  case OPT_TIMING_N:
    if (gm_cli_parse_long(arg, 1, 256, &v))
      return 10 + gm_cli_usage(cmd, "--timing-n: \"%s\" is not an integer in 1..256", arg);
    o->timing_n = (int)v;
    return 1;
  case OPT_TIMING_LIMIT:
    if (gm_cli_parse_duration(arg, 1, &o->timing_limit_s))
      return 10 + gm_cli_usage(cmd, "--timing-limit: \"%s\" is not a duration (0, 30s, 2m)", arg);
    return 1;
  case OPT_FEATURES: o->features = arg; return 1;
  case OPT_JSON: o->json = 1; return 1;
  case OPT_QUIET: o->quiet = 1; return 1;
  case 'h': o->help = 1; return 1;
  default: return 0;
  }
}

int gm_cmp_options_parse(gm_cmp_options *o, int argc, char **argv) {
  static const struct option longopts[] = {
      GM_CLI_DATAOPTS_LONGOPTS,
      {"device", required_argument, NULL, GM_CLI_OPT_DEVICE},
      {"models", required_argument, NULL, OPT_MODELS},
      {"preset", required_argument, NULL, OPT_PRESET},
      {"set", required_argument, NULL, OPT_SET},
      {"time", required_argument, NULL, OPT_TIME},
      {"steps", required_argument, NULL, OPT_STEPS},
      {"n", required_argument, NULL, OPT_N},
      {"seed", required_argument, NULL, OPT_SEED},
      {"out", required_argument, NULL, OPT_OUT},
      {"t-samples", required_argument, NULL, OPT_T_SAMPLES},
      {"timing-n", required_argument, NULL, OPT_TIMING_N},
      {"timing-limit", required_argument, NULL, OPT_TIMING_LIMIT},
      {"features", required_argument, NULL, OPT_FEATURES},
      {"json", no_argument, NULL, OPT_JSON},
      {"quiet", no_argument, NULL, OPT_QUIET},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  memset(o, 0, sizeof *o);
  gm_cli_dataopts_init(&o->data);
  o->default_data = 1;
  o->time_s = 300;
  o->n = 64;
  o->timing_n = 2;
  o->timing_limit_s = 60;
  o->argc = argc;
  o->argv = argv;
  const char *cmd = argv[0];
  int code = set_models(o, GM_CMP_DEFAULT_MODELS, cmd);
  if (code) return code;

  char **av = NULL, **owned = NULL;
  int n_owned = 0, ac = rewrite_aliases(argc, argv, &av, &owned, &n_owned);
  if (ac < 0) return gm_cli_fail("out of memory");
  pending *pend = calloc((size_t)argc + 1, sizeof *pend);
  code = pend ? -1 : gm_cli_fail("out of memory");
  int n_pend = 0, budgets = 0, c;
  const char *models = NULL;
  gm_error err = {0};
  while (code < 0 && (c = gm_cli_getopt(ac, av, "h", longopts)) != -1) {
    if (c == GM_CLI_BADOPT) {
      code = GM_CLI_USAGE;
      break;
    }
    int r = gm_cli_dataopts_handle(&o->data, c, optarg, &err);
    if (r > 0 && c == GM_CLI_OPT_DATA) o->default_data = 0;
    if (r < 0) {
      code = gm_cli_usage(cmd, "%s", err.msg);
      break;
    }
    if (r > 0) continue;
    if (c == GM_CLI_OPT_DEVICE) o->device = optarg;
    else if (c == OPT_MODELS) models = optarg;
    else if (c == OPT_PRESET || c == OPT_SET) pend[n_pend++] = (pending){c == OPT_SET, optarg};
    else if ((r = handle(o, c, optarg, cmd, &budgets)) == 0) code = GM_CLI_USAGE;
    else if (r >= 10) code = r - 10;
  }
  if (code < 0 && o->help) code = gm_cli_help(usage);
  if (code < 0 && gm_cli_no_operands(ac, av)) code = GM_CLI_USAGE;
  if (code < 0 && budgets > 1) code = gm_cli_usage(cmd, "give one budget: --time or --steps");
  if (code < 0 && models && (code = set_models(o, models, cmd)) == 0) code = -1;
  for (int i = 0; code < 0 && i < n_pend; i++)
    if ((code = assign(o, &pend[i], cmd)) == 0) code = -1;
  if (code < 0 && o->default_data) {
    o->data.ds.subset = "faces";
    o->data.ds.yellow = 1;
  }
  /* the --set strings point into the rewritten argv's joined strings: keep those */
  free(pend);
  free(av);
  o->owned_ = owned;
  o->n_owned_ = n_owned;
  return code;
}

void gm_cmp_options_free(gm_cmp_options *o) {
  for (int i = 0; i < o->n_models; i++) free(o->model[i].sets);
  for (int i = 0; i < o->n_owned_; i++) free(o->owned_[i]);
  free(o->owned_);
  o->owned_ = NULL;
  o->n_owned_ = 0;
}
