/* The survey front-end plugin (kind "frontend", name "survey"): the `genmoji survey`
 * command and its subcommands serve, results, export and report (survey.h has the map of
 * this folder; docs/survey.md the user's guide). */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "genmoji/plugin.h"
#include "survey.h"

#define USAGE_EXIT 2

static const char help_text[] =
    "Usage: genmoji survey serve --run DIR [--run DIR ...] --db FILE\n"
    "                            [--listen 127.0.0.1:8080] [--designs pairwise,realfake]\n"
    "                            [--trials 20] [--rate 5]\n"
    "       genmoji survey results --db FILE [--json] [--seed S] [--resamples N]\n"
    "       genmoji survey export --db FILE --csv\n"
    "       genmoji survey report --db FILE --run DIR [--seed S] [--resamples N]\n"
    "\n"
    "A questionnaire of blinded human judgements of compare runs' samples (docs/survey.md).\n"
    "\n"
    "serve     imports the runs' images into the database (each model's samples, the\n"
    "          training and held-out images as real emojis; at 16 levels, as the models\n"
    "          draw) and serves the survey page and its JSON API until Ctrl-C. Every\n"
    "          answer is in the database before it is acknowledged.\n"
    "      --run DIR            a `genmoji compare` report folder (repeatable)\n"
    "      --db FILE            the SQLite database (created if missing)\n"
    "      --listen HOST:PORT   the address (default 127.0.0.1:8080; port 0 = any free\n"
    "                           one; [::1]:8080 for IPv6)\n"
    "      --designs LIST       pairwise (two images: which looks more like a real emoji\n"
    "                           face?), realfake (one image: real or generated?); prompt\n"
    "                           needs prompted samples, which no run has yet (default\n"
    "                           pairwise,realfake)\n"
    "      --trials N           trials per participant, attention checks included (one in\n"
    "                           ten, at least one), 2..1000 (default 20)\n"
    "      --rate R             requests per second per participant after a burst of 20\n"
    "                           (0 = no limit; default 5)\n"
    "results   the statistics: win rates (Wilson 95%, exact binomial test), Bradley-Terry\n"
    "          strengths and HYPE-infinity error rates (bootstrap 95% over participants)\n"
    "      --json               print them as JSON\n"
    "      --seed S             the bootstrap's seed (default 1)\n"
    "      --resamples N        bootstrap resamples, 100..100000 (default 1000)\n"
    "export    every answer as CSV on stdout (--csv)\n"
    "report    adds a \"Human judgement\" section to the run's index.html and report.md,\n"
    "          human.svg beside them, and \"human\" in its metrics.json\n"
    "  -h, --help               show this help\n";

static int usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("genmoji survey: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputs("\n(genmoji survey --help shows the options)\n", stderr);
  va_end(ap);
  return USAGE_EXIT;
}

static int parse_long(const char *s, long long lo, long long hi, long long *v) {
  char *end = NULL;
  errno = 0;
  long long x = strtoll(s, &end, 10);
  if (errno || end == s || *end || x < lo || x > hi) return -1;
  *v = x;
  return 0;
}

typedef struct args {
  const char *db, *listen, *designs;
  const char *runs[64];
  int n_runs, json, csv;
  long long trials, seed, resamples;
  double rate;
} args;

enum { OPT_RUN = 0x100, OPT_DB, OPT_LISTEN, OPT_DESIGNS, OPT_TRIALS, OPT_RATE, OPT_JSON,
       OPT_CSV, OPT_SEED, OPT_RESAMPLES };

/* Parses the options after the subcommand; -1 when all is well, else an exit code. */
static int parse(int argc, char **argv, args *a) {
  static const struct option longopts[] = {
      {"run", required_argument, NULL, OPT_RUN},         {"db", required_argument, NULL, OPT_DB},
      {"listen", required_argument, NULL, OPT_LISTEN},   {"designs", required_argument, NULL, OPT_DESIGNS},
      {"trials", required_argument, NULL, OPT_TRIALS},   {"rate", required_argument, NULL, OPT_RATE},
      {"json", no_argument, NULL, OPT_JSON},             {"csv", no_argument, NULL, OPT_CSV},
      {"seed", required_argument, NULL, OPT_SEED},       {"resamples", required_argument, NULL, OPT_RESAMPLES},
      {"help", no_argument, NULL, 'h'},                  {NULL, 0, NULL, 0}};
  memset(a, 0, sizeof *a);
  a->listen = "127.0.0.1:8080";
  a->designs = "pairwise,realfake";
  a->trials = SV_DEFAULT_TRIALS;
  a->seed = 1;
  a->resamples = 1000;
  a->rate = 5;
  optind = 1;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
    char *end = NULL;
    switch (c) {
    case 'h': fputs(help_text, stdout); return 0;
    case OPT_RUN:
      if (a->n_runs == 64) return usage("at most 64 --run folders");
      a->runs[a->n_runs++] = optarg;
      break;
    case OPT_DB: a->db = optarg; break;
    case OPT_LISTEN: a->listen = optarg; break;
    case OPT_DESIGNS: a->designs = optarg; break;
    case OPT_TRIALS:
      if (parse_long(optarg, 2, SV_MAX_TRIALS, &a->trials))
        return usage("--trials '%s' is not an integer in 2..%d", optarg, SV_MAX_TRIALS);
      break;
    case OPT_RATE:
      a->rate = strtod(optarg, &end);
      if (end == optarg || *end || !(a->rate >= 0 && a->rate <= 10000))
        return usage("--rate '%s' is not a number in 0..10000", optarg);
      break;
    case OPT_JSON: a->json = 1; break;
    case OPT_CSV: a->csv = 1; break;
    case OPT_SEED:
      if (parse_long(optarg, 0, LLONG_MAX, &a->seed)) return usage("--seed '%s' is not in 0..2^63-1", optarg);
      break;
    case OPT_RESAMPLES:
      if (parse_long(optarg, 100, 100000, &a->resamples))
        return usage("--resamples '%s' is not an integer in 100..100000", optarg);
      break;
    case ':': return usage("%s needs a value", argv[optind - 1]);
    default: return usage("unknown option '%s'", argv[optind - 1]);
    }
  }
  if (optind < argc) return usage("unexpected argument '%s'", argv[optind]);
  return -1;
}

static int parse_designs(const char *s, int *out) {
  *out = 0;
  char buf[128];
  if (strlen(s) >= sizeof buf) return usage("--designs '%s' is too long", s);
  snprintf(buf, sizeof buf, "%s", s);
  for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    if (!strcmp(t, "pairwise")) *out |= SV_PAIRWISE;
    else if (!strcmp(t, "realfake")) *out |= SV_REALFAKE;
    else if (!strcmp(t, "prompt"))
      return usage("--designs prompt: no run has prompted samples (the prompt design needs "
                   "text-conditioned models and `compare` runs with prompts)");
    else return usage("--designs: '%s' is not pairwise, realfake or prompt", t);
  }
  if (!*out) return usage("--designs '%s' names no design", s);
  return 0;
}

/* HOST:PORT or [V6]:PORT */
static int parse_listen(const char *s, char *host, size_t n, int *port) {
  const char *colon = strrchr(s, ':');
  long long p;
  if (!colon || parse_long(colon + 1, 0, 65535, &p))
    return usage("--listen '%s' is not HOST:PORT (e.g. 127.0.0.1:8080)", s);
  const char *h = s;
  size_t len = (size_t)(colon - s);
  if (len >= 2 && h[0] == '[' && h[len - 1] == ']') h++, len -= 2;
  if (len == 0 || len >= n) return usage("--listen '%s' has no host", s);
  memcpy(host, h, len);
  host[len] = '\0';
  *port = (int)p;
  return 0;
}

static int open_db(sv_db *d, const char *path) {
  char msg[1024];
  if (sv_db_open(d, path, msg, sizeof msg)) {
    fprintf(stderr, "genmoji survey: %s\n", msg);
    return 1;
  }
  return 0;
}

static int cmd_serve(const args *a) {
  if (!a->db) return usage("serve: --db FILE is required");
  if (!a->n_runs) return usage("serve: give at least one --run DIR (a compare report folder)");
  sv_server_config c = {0};
  char host[256];
  int code = parse_designs(a->designs, &c.designs);
  if (!code) code = parse_listen(a->listen, host, sizeof host, &c.port);
  if (code) return code;
  sv_db d;
  if (open_db(&d, a->db)) return 1;
  char msg[1024];
  for (int i = 0; i < a->n_runs; i++)
    if (sv_db_import_run(&d, a->runs[i], msg, sizeof msg)) {
      fprintf(stderr, "genmoji survey: %s\n", msg);
      sv_db_close(&d);
      return 1;
    }
  if ((c.designs & SV_PAIRWISE) && sv_db_count_sources(&d, "model") + sv_db_count_sources(&d, "real") < 2) {
    fprintf(stderr, "genmoji survey: the pairwise design needs two sources\n");
    sv_db_close(&d);
    return 1;
  }
  unsigned char b[16];
  if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
    fprintf(stderr, "genmoji survey: no random numbers (getrandom failed)\n");
    sv_db_close(&d);
    return 1;
  }
  for (int i = 0; i < 16; i++) snprintf(c.admin_token + 2 * i, 3, "%02x", b[i]);
  c.db = &d;
  c.host = host;
  c.trials = (int)a->trials;
  c.rate = a->rate;
  code = sv_serve(&c);
  sv_db_close(&d);
  return code;
}

/* The statistics of --db (an error is printed; NULL then). */
static cJSON *results_of(const args *a) {
  sv_db d;
  if (open_db(&d, a->db)) return NULL;
  char msg[1024];
  cJSON *r = sv_results(&d, (uint64_t)a->seed, (int)a->resamples, msg, sizeof msg);
  sv_db_close(&d);
  if (!r) fprintf(stderr, "genmoji survey: %s\n", msg);
  return r;
}

static int cmd_results(const args *a) {
  if (!a->db) return usage("results: --db FILE is required");
  cJSON *r = results_of(a);
  if (!r) return 1;
  if (a->json) {
    char *t = cJSON_Print(r);
    if (t) puts(t);
    cJSON_free(t);
  } else {
    sv_results_print(stdout, r);
  }
  cJSON_Delete(r);
  return fflush(stdout) ? 1 : 0;
}

static int cmd_export(const args *a) {
  if (!a->db) return usage("export: --db FILE is required");
  if (!a->csv) return usage("export: --csv is the one format");
  sv_db d;
  if (open_db(&d, a->db)) return 1;
  char msg[1024];
  int rc = sv_export_csv(&d, stdout, msg, sizeof msg);
  sv_db_close(&d);
  if (rc) return fprintf(stderr, "genmoji survey: %s\n", msg), 1;
  return fflush(stdout) ? 1 : 0;
}

static int cmd_report(const args *a) {
  if (!a->db) return usage("report: --db FILE is required");
  if (a->n_runs != 1) return usage("report: give one --run DIR, the run whose report gets the section");
  cJSON *r = results_of(a);
  if (!r) return 1;
  char msg[1024];
  int rc = sv_report(a->runs[0], r, msg, sizeof msg);
  cJSON_Delete(r);
  if (rc) return fprintf(stderr, "genmoji survey: %s\n", msg), 1;
  printf("survey: added the human judgement to %s/index.html, report.md and metrics.json\n", a->runs[0]);
  return 0;
}

static int cmd_survey(int argc, char **argv, gm_host *host) {
  (void)host;
  if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
    fputs(help_text, argc < 2 ? stderr : stdout);
    return argc < 2 ? USAGE_EXIT : 0;
  }
  static const struct {
    const char *name;
    int (*run)(const args *);
  } subs[] = {{"serve", cmd_serve}, {"results", cmd_results}, {"export", cmd_export}, {"report", cmd_report}};
  for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
    if (strcmp(argv[1], subs[i].name)) continue;
    args a;
    int code = parse(argc - 1, argv + 1, &a);
    return code >= 0 ? code : subs[i].run(&a);
  }
  return usage("'%s' is not serve, results, export or report", argv[1]);
}

static const gm_command commands[] = {
    {"survey", "the questionnaire: serve a web survey of the samples, its statistics, the report",
     cmd_survey},
    {NULL, NULL, NULL},
};

static const gm_frontend_vtable vtable = {
    .size = sizeof(gm_frontend_vtable),
    .commands = commands,
};

static const gm_plugin plugin = {
    .abi = GM_PLUGIN_ABI,
    .size = sizeof(gm_plugin),
    .kind = GM_PLUGIN_KIND_FRONTEND,
    .name = "survey",
    .version = GM_SURVEY_VERSION,
    .summary = "the questionnaire: blinded human judgements in a web page, kept in SQLite",
    .vtable = &vtable,
};

GM_PLUGIN_EXPORT const gm_plugin *gm_plugin_entry(void) { return &plugin; }
