/* `genmoji dataset`: loads a dataset with the shared data options and shows it: names and
 * split as text or JSON, a grid PNG of every image, or the preprocessed images exported
 * as PNGs that the pngdir loader reads back under the same names. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "commands.h"
#include "dataopts.h"

enum { OPT_EXPORT = 0x2000, OPT_GRID, OPT_JSON };

static const char usage[] =
    "Usage: genmoji dataset [--data SRC] [FILTERS] [--export DIR] [--grid FILE.png] [--json]\n"
    "\n"
    "Loads a dataset, filters and preprocesses it as training would, and shows it: the\n"
    "count, the source, the loader and every image's name with its split.\n"
    "\n" GM_CLI_DATAOPTS_HELP
    "\n"
    "Output:\n"
    "      --json               print {count, source, loader, size, skipped, text: {source,\n"
    "                           dir, annotated, note}, images: [{name, codepoints, group,\n"
    "                           subgroup, source, split, text, text_source}]}; text is\n"
    "                           CLDR's keywords and name (GM_CLDR_DIR, default the\n"
    "                           system's unicode-cldr-core), else the image's name\n"
    "      --grid FILE.png      write every image into one grid PNG (upscaled 2x)\n"
    "      --export DIR         write each preprocessed image as a PNG in DIR, named so\n"
    "                           that '--data DIR' loads it back under the same name\n"
    "  -h, --help               show this help\n";

static void codepoints_hex(const gm_dataset_item *it, char *buf, size_t n, const char *sep,
                           int upper) {
  size_t used = 0;
  buf[0] = '\0';
  for (int i = 0; i < it->n_codepoints && used < n; i++)
    used += (size_t)snprintf(buf + used, n - used, upper ? "%s%04X" : "%s%04x", i ? sep : "",
                             (unsigned)it->codepoints[i]);
}

static void print_text(const gm_dataset *ds, const char *source, const char *loader) {
  int n = gm_dataset_count(ds), held = gm_dataset_split(ds, 1, NULL, 0);
  printf("count:  %d\nsource: %s\nloader: %s\nsize:   %dx%d\nsplit:  %d train, %d heldout\n", n,
         source, loader, gm_dataset_size(ds), gm_dataset_size(ds), n - held, held);
  const char *first;
  int skipped = gm_dataset_skipped(ds, &first);
  if (skipped) printf("skipped: %d bad records (first: %s)\n", skipped, first);
  printf("\n");
  for (int i = 0; i < n; i++) {
    const gm_dataset_item *it = gm_dataset_get(ds, i);
    char cps[GM_MAX_CODEPOINTS * 9 + 1];
    codepoints_hex(it, cps, sizeof cps, " ", 1);
    printf("%-8s %-24s %s\n", it->heldout ? "heldout" : "train", cps[0] ? cps : "-", it->name);
  }
}

static int print_json(const gm_dataset *ds, const char *source, const char *loader) {
  cJSON *root = cJSON_CreateObject();
  cJSON_AddNumberToObject(root, "count", gm_dataset_count(ds));
  cJSON_AddStringToObject(root, "source", source);
  cJSON_AddStringToObject(root, "loader", loader);
  cJSON_AddNumberToObject(root, "size", gm_dataset_size(ds));
  const char *first;
  cJSON_AddNumberToObject(root, "skipped", gm_dataset_skipped(ds, &first));
  const char *cldr_dir, *note;
  int annotated = gm_dataset_text_source(ds, &cldr_dir, &note);
  cJSON *text = cJSON_AddObjectToObject(root, "text");
  cJSON_AddStringToObject(text, "source", *cldr_dir ? "cldr" : "names");
  cJSON_AddStringToObject(text, "dir", cldr_dir);
  cJSON_AddNumberToObject(text, "annotated", annotated);
  cJSON_AddStringToObject(text, "note", note);
  cJSON *images = cJSON_AddArrayToObject(root, "images");
  for (int i = 0; i < gm_dataset_count(ds); i++) {
    const gm_dataset_item *it = gm_dataset_get(ds, i);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", it->name);
    cJSON *cps = cJSON_AddArrayToObject(o, "codepoints");
    for (int k = 0; k < it->n_codepoints; k++) {
      char hex[16];
      snprintf(hex, sizeof hex, "%04X", (unsigned)it->codepoints[k]);
      cJSON_AddItemToArray(cps, cJSON_CreateString(hex));
    }
    cJSON_AddStringToObject(o, "group", it->group);
    cJSON_AddStringToObject(o, "subgroup", it->subgroup);
    cJSON_AddStringToObject(o, "source", it->source);
    cJSON_AddStringToObject(o, "split", it->heldout ? "heldout" : "train");
    cJSON_AddStringToObject(o, "text", it->text);
    cJSON_AddStringToObject(o, "text_source", it->text_cldr ? "cldr" : "name");
    cJSON_AddItemToArray(images, o);
  }
  return gm_cli_print_json(root);
}

static int write_grid(const gm_dataset *ds, const char *path, gm_error *err) {
  int n = gm_dataset_count(ds), s = gm_dataset_size(ds);
  if (n == 0) return gm_error_set(err, GM_EINVAL, "%s: no images to draw", path);
  const uint8_t **imgs = malloc(sizeof *imgs * (size_t)n);
  if (!imgs) return gm_error_set(err, GM_ENOMEM, "%s: out of memory", path);
  for (int i = 0; i < n; i++) imgs[i] = gm_dataset_get(ds, i)->rgb;
  int cols = (int)ceil(sqrt((double)n));
  int rc = gm_png_write_grid(path, imgs, n, s, s, 3, cols, 2, err);
  free(imgs);
  return rc;
}

/* The file stem pngdir reads back under the same name: the codepoints when emoji-test.txt
 * gives them this name, else the name itself with '/' and control characters replaced. */
static void export_stem(const gm_dataset_item *it, const gm_emoji_names *names, char *stem,
                        size_t n) {
  if (names && it->n_codepoints > 0) {
    const gm_emoji_entry *e = gm_emoji_lookup(names, it->codepoints, it->n_codepoints);
    if (e && strcmp(e->name, it->name) == 0) {
      gm_emoji_codepoints_str(it->codepoints, it->n_codepoints, '-', stem, n);
      return;
    }
  }
  size_t k = 0;
  for (const unsigned char *p = (const unsigned char *)it->name; *p && k + 1 < n; p++, k++)
    stem[k] = (*p == '/' || *p < 0x20 || *p == 0x7f || (k == 0 && *p == '.')) ? '_' : (char)*p;
  if (k == 0) stem[k++] = '_';
  stem[k] = '\0';
}

static int stem_taken(char (*stems)[256], int i) {
  for (int j = 0; j < i; j++)
    if (strcmp(stems[j], stems[i]) == 0) return 1;
  return 0;
}

/* The files the images were read from (a loader's source that names a file: pngdir and
 * Kaggle folders), by device and inode, so that no output replaces one. */
typedef struct file_id {
  dev_t dev;
  ino_t ino;
  int item;
} file_id;

typedef struct sources {
  file_id *ids;
  int n;
} sources;

static int sources_load(const gm_dataset *ds, sources *s) {
  int n = gm_dataset_count(ds);
  s->n = 0;
  s->ids = malloc(sizeof *s->ids * (size_t)(n ? n : 1));
  if (!s->ids) return -1;
  for (int i = 0; i < n; i++) {
    struct stat st;
    if (stat(gm_dataset_get(ds, i)->source, &st) == 0 && S_ISREG(st.st_mode))
      s->ids[s->n++] = (file_id){st.st_dev, st.st_ino, i};
  }
  return 0;
}

/* A usage error when writing path would replace a file an image was read from. */
static int clobbers(const sources *s, const gm_dataset *ds, const char *cmd, const char *option,
                    const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) return 0;
  for (int k = 0; k < s->n; k++)
    if (s->ids[k].dev == st.st_dev && s->ids[k].ino == st.st_ino) {
      const gm_dataset_item *it = gm_dataset_get(ds, s->ids[k].item);
      return gm_cli_usage(cmd, "%s %s is the same file as %s, the image '%s' of --data; it would "
                          "be overwritten", option, path, it->source, it->name);
    }
  return 0;
}

/* Each image's export path, DIR/<stem>.png, into paths[i] (n rows of 4608 bytes). */
static void export_paths(const gm_dataset *ds, const char *dir, char (*paths)[4608],
                         char (*stems)[256]) {
  gm_emoji_names *names = NULL;
  gm_error ignored = {0};
  if (gm_emoji_names_load(&names, NULL, &ignored)) names = NULL; /* names as stems then */
  for (int i = 0; i < gm_dataset_count(ds); i++) {
    const gm_dataset_item *it = gm_dataset_get(ds, i);
    export_stem(it, names, stems[i], 200);
    /* Two images with one stem (a name listed twice): the later ones get ~2, ~3, ... */
    char base[256];
    snprintf(base, sizeof base, "%s", stems[i]);
    for (int dup = 2; stem_taken(stems, i); dup++)
      snprintf(stems[i], sizeof stems[i], "%.200s~%d", base, dup);
    snprintf(paths[i], sizeof paths[i], "%.4000s/%s.png", dir, stems[i]);
  }
  gm_emoji_names_destroy(names);
}

/* Writes every image to its export path once none of those is a file read (a usage error
 * then, *usage set, nothing written). */
static int export_images(const gm_dataset *ds, const char *dir, const sources *src,
                         const char *cmd, int *usage, gm_error *err) {
  int n = gm_dataset_count(ds), s = gm_dataset_size(ds), rc = 0;
  char(*stems)[256] = calloc((size_t)n + 1, sizeof *stems);
  char(*paths)[4608] = calloc((size_t)n + 1, sizeof *paths);
  if (!stems || !paths) rc = gm_error_set(err, GM_ENOMEM, "%s: out of memory", dir);
  if (!rc) export_paths(ds, dir, paths, stems);
  for (int i = 0; !rc && i < n; i++)
    if (clobbers(src, ds, cmd, "--export", paths[i])) *usage = rc = GM_CLI_USAGE;
  if (!rc) rc = gm_cli_make_dirs(dir, err);
  for (int i = 0; !rc && i < n; i++) rc = gm_png_write(paths[i], gm_dataset_get(ds, i)->rgb, s, s, 3, err);
  free(stems);
  free(paths);
  return rc;
}

int gm_cli_cmd_dataset(int argc, char **argv, gm_host *host) {
  static const struct option longopts[] = {
      GM_CLI_DATAOPTS_LONGOPTS,
      {"export", required_argument, NULL, OPT_EXPORT},
      {"grid", required_argument, NULL, OPT_GRID},
      {"json", no_argument, NULL, OPT_JSON},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  gm_cli_dataopts d;
  gm_cli_dataopts_init(&d);
  const char *export_dir = NULL, *grid = NULL;
  int json = 0, c;
  gm_error err = {0};
  while ((c = gm_cli_getopt(argc, argv, "h", longopts)) != -1) {
    int r = gm_cli_dataopts_handle(&d, c, optarg, &err);
    if (r < 0) return gm_cli_usage(argv[0], "%s", err.msg);
    if (r > 0) continue;
    switch (c) {
    case OPT_EXPORT: export_dir = optarg; break;
    case OPT_GRID: grid = optarg; break;
    case OPT_JSON: json = 1; break;
    case 'h': return gm_cli_help(usage);
    default: return GM_CLI_USAGE;
    }
  }
  if (gm_cli_no_operands(argc, argv)) return GM_CLI_USAGE;
  const gm_cli_path ins[] = {{"--data", d.data}};
  const gm_cli_path outs[] = {{"--grid", grid}, {"--export", export_dir}};
  if (gm_cli_check_outputs(argv[0], ins, 1, outs, 2)) return GM_CLI_USAGE;
  if (gm_cli_dataopts_check(&d, host, &err)) return gm_cli_usage(argv[0], "%s", err.msg);

  gm_dataset *ds = NULL;
  const gm_plugin_record *rec = NULL;
  if (gm_cli_dataopts_load(&d, host, &ds, &rec, &err)) return gm_cli_fail_err(&err);
  const char *first;
  int skipped = gm_dataset_skipped(ds, &first);
  if (skipped) gm_cli_fail("skipped %d malformed record%s; the first: %s", skipped, skipped == 1 ? "" : "s", first);
  int rc = GM_CLI_OK, usage = 0;
  sources src = {0};
  if ((grid || export_dir) && sources_load(ds, &src)) rc = gm_cli_fail("out of memory");
  else if (grid && clobbers(&src, ds, argv[0], "--grid", grid)) rc = GM_CLI_USAGE;
  else if ((export_dir && export_images(ds, export_dir, &src, argv[0], &usage, &err)) ||
           (grid && write_grid(ds, grid, &err)))
    rc = usage ? GM_CLI_USAGE : gm_cli_fail_err(&err);
  else if (json)
    rc = print_json(ds, d.data, rec->name);
  else
    print_text(ds, d.data, rec->name);
  free(src.ids);
  gm_dataset_destroy(ds);
  return rc;
}
