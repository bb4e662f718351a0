/* The data options every command that reads a dataset shares (dataset, train, eval,
 * compare): --data SRC, the loader's --vendor/--skip-bad and the dataset filters.
 *
 *     static const struct option longopts[] = {GM_CLI_DATAOPTS_LONGOPTS, {"json", ...}, {0}};
 *     gm_cli_dataopts d; gm_cli_dataopts_init(&d);
 *     while ((c = gm_cli_getopt(argc, argv, "h", longopts)) != -1) {
 *       int r = gm_cli_dataopts_handle(&d, c, optarg, &err);
 *       if (r < 0) return gm_cli_usage(argv[0], "%s", err.msg);
 *       if (r > 0) continue;
 *       ... the command's own options
 *     }
 *     gm_cli_dataopts_load(&d, host, &ds, &rec, &err);
 */
#ifndef GM_CLI_DATAOPTS_H
#define GM_CLI_DATAOPTS_H

#include "cli.h"

typedef struct gm_cli_dataopts {
  const char *data;          /* "noto" unless --data */
  const char *vendor;        /* NULL: the loader's default */
  int skip_bad;
  gm_dataset_options ds;     /* filters and preprocessing */
} gm_cli_dataopts;

/* getopt_long codes, above any short option character. */
enum {
  GM_CLI_OPT_DATA = 0x1000,
  GM_CLI_OPT_VENDOR,
  GM_CLI_OPT_SKIP_BAD,
  GM_CLI_OPT_SUBSET,
  GM_CLI_OPT_YELLOW,
  GM_CLI_OPT_MATCH,
  GM_CLI_OPT_LIMIT,
  GM_CLI_OPT_SIZE,
  GM_CLI_OPT_BACKGROUND,
  GM_CLI_OPT_HELDOUT
};

#define GM_CLI_DATAOPTS_LONGOPTS                                       \
  {"data", required_argument, NULL, GM_CLI_OPT_DATA},                  \
  {"vendor", required_argument, NULL, GM_CLI_OPT_VENDOR},              \
  {"skip-bad", no_argument, NULL, GM_CLI_OPT_SKIP_BAD},                \
  {"subset", required_argument, NULL, GM_CLI_OPT_SUBSET},              \
  {"yellow", no_argument, NULL, GM_CLI_OPT_YELLOW},                    \
  {"match", required_argument, NULL, GM_CLI_OPT_MATCH},                \
  {"limit", required_argument, NULL, GM_CLI_OPT_LIMIT},                \
  {"size", required_argument, NULL, GM_CLI_OPT_SIZE},                  \
  {"background", required_argument, NULL, GM_CLI_OPT_BACKGROUND},      \
  {"heldout", required_argument, NULL, GM_CLI_OPT_HELDOUT}

/* The --help lines for the options above, to splice into a command's usage text. */
#define GM_CLI_DATAOPTS_HELP                                                          \
  "Data:\n"                                                                           \
  "      --data SRC           noto (the system's Noto Color Emoji, the default), a\n"  \
  "                           .ttf font, a folder of PNGs, or a Kaggle folder\n"       \
  "                           (full_emoji.csv or image/<Vendor>/)\n"                   \
  "      --vendor NAME        the Kaggle vendor column (default Apple; kaggle only)\n"  \
  "      --skip-bad           skip malformed records instead of failing (kaggle: bad\n" \
  "                           CSV rows and PNG files; pngdir: unreadable PNG files)\n" \
  "      --subset faces       only Unicode subgroups face-*\n"                         \
  "      --yellow             only images whose opaque pixels are mostly yellow\n"     \
  "      --match REGEX        only names matching REGEX (extended, any case)\n"        \
  "      --limit N            the first N images that pass the filters\n"              \
  "      --size N             image side after preprocessing (default 32)\n"           \
  "      --background RRGGBB  composite colour (default 000000, black)\n"              \
  "      --heldout F          share of names held out (default 0.1)\n"

void gm_cli_dataopts_init(gm_cli_dataopts *o);
/* Handles one getopt_long result: 1 when opt is one of the data options (arg taken),
 * 0 when it is not, a negative code with a message for a bad value (a usage error). */
int gm_cli_dataopts_handle(gm_cli_dataopts *o, int opt, const char *arg, gm_error *err);
/* The check of a loader option against the loader that --data picks: --vendor or
 * --skip-bad given for a loader whose option keys lack it is an error (GM_EINVAL, a usage
 * error for the commands) naming the loaders that take it. 0 also when no loader
 * understands the source: loading reports that. Commands call it with the other option
 * checks, before anything is made. */
int gm_cli_dataopts_check(const gm_cli_dataopts *o, gm_host *host, gm_error *err);
/* Finds the loader for o->data among the host's plugins and loads the dataset.
 * *loader (may be NULL) receives the loader's registry record. */
int gm_cli_dataopts_load(const gm_cli_dataopts *o, gm_host *host, gm_dataset **out,
                         const gm_plugin_record **loader, gm_error *err);

/* The data options as JSON (source, loader, filters, size, background, heldout), as the
 * checkpoint metadata and the compare report record them; valid UTF-8 (gm_cli_utf8_fix),
 * from cJSON_malloc (free with cJSON_free), NULL on no memory. */
char *gm_cli_dataopts_describe(const gm_cli_dataopts *d, const char *loader);

#endif
