/* `genmoji features` trains the emoji feature network (featnet.h); `genmoji score` scores
 * images with it: KID, Frechet distance, precision and recall against a dataset's
 * training images, beside the floor (its held-out images against the same). */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "commands.h"
#include "dataopts.h"
#include "featnet.h"
#include "sample_quality.h"

/* The feature network's own split of the data: names whose "features:" + name hash falls
 * in this share are its test set (for the accuracy it reports). */
#define FEATNET_TEST_SHARE 0.15

static const char features_help[] =
    "Usage: genmoji features train --out FILE [--data SRC] [--steps N] [--batch N]\n"
    "                              [--lr X] [--seed S] [--device SEL] [--json]\n"
    "\n"
    "Trains the emoji feature network that 'genmoji score' and compare's sample-quality\n"
    "metrics use: a small CNN that predicts each emoji's Unicode subgroup, trained on\n"
    "every emoji of the data source at 32x32 over black except the held-out faces of\n"
    "the default split (--heldout 0.1 --subset faces), with shifts, scales, colour\n"
    "jitter and noise (no flips). 15% of the other names (by hash) are its test set;\n"
    "the accuracy on them is printed and stored in FILE's metadata.\n"
    "\n"
    "      --out FILE           the weights (.safetensors)\n"
    "      --data SRC           as for train (default noto)\n"
    "      --steps N            optimiser steps, 1..1000000 (default 1500)\n"
    "      --batch N            images per step, 1..4096 (default 64)\n"
    "      --lr X               Adam's learning rate (default 1e-3)\n"
    "      --seed S             initialisation, batches and augmentation (default 0)\n"
    "      --device SEL         OpenCL device (default: GM_DEVICE, else the first GPU)\n"
    "      --json               print {file, images, classes, test_images,\n"
    "                           test_accuracy, steps, final_loss, seconds}\n"
    "  -h, --help               show this help\n";

/* Everything one data item needs for the feature network. */
typedef struct item_set {
  const uint8_t **rgb;
  int *labels;
  int n;
} item_set;

static int is_face(const gm_dataset_item *it) { return strncmp(it->subgroup, "face-", 5) == 0; }

static int in_test_split(const char *name) {
  char salted[160];
  snprintf(salted, sizeof salted, "features:%s", name);
  return gm_dataset_is_heldout(salted, FEATNET_TEST_SHARE);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int label_of(const char *const *classes, int n, const char *subgroup) {
  const char *key = subgroup;
  const char *const *hit = bsearch(&key, classes, (size_t)n, sizeof *classes, cmp_str);
  return hit ? (int)(hit - classes) : -1;
}

static void progress(void *ctx, int step, int steps, double loss) {
  (void)ctx;
  if (step % 100 == 0 || step == steps)
    fprintf(stderr, "features: step %d/%d  loss %.3f\n", step, steps, loss);
}

static int features_train(int argc, char **argv, gm_host *host) {
  enum { OPT_OUT = 0x2000, OPT_STEPS, OPT_BATCH, OPT_LR, OPT_SEED, OPT_DEVICE, OPT_JSON };
  static const struct option longopts[] = {
      {"help", no_argument, NULL, 'h'},      {"out", required_argument, NULL, OPT_OUT},
      {"data", required_argument, NULL, GM_CLI_OPT_DATA},
      {"steps", required_argument, NULL, OPT_STEPS},
      {"batch", required_argument, NULL, OPT_BATCH}, {"lr", required_argument, NULL, OPT_LR},
      {"seed", required_argument, NULL, OPT_SEED},
      {"device", required_argument, NULL, OPT_DEVICE},
      {"json", no_argument, NULL, OPT_JSON},  {0, 0, 0, 0}};
  gm_cli_dataopts d;
  gm_cli_dataopts_init(&d);
  const char *out = NULL, *device = NULL;
  long long steps = 1500, batch = 64, seed = 0;
  double lr = 1e-3;
  int json = 0, c;
  gm_error err = {0};
  while ((c = gm_cli_getopt(argc, argv, "h", longopts)) != -1) {
    int r = gm_cli_dataopts_handle(&d, c, optarg, &err);
    if (r < 0) return gm_cli_usage("features", "%s", err.msg);
    if (r > 0) continue;
    switch (c) {
      case 'h': return gm_cli_help(features_help);
      case OPT_OUT: out = optarg; break;
      case OPT_STEPS:
        if (gm_cli_parse_long(optarg, 1, 1000000, &steps))
          return gm_cli_usage("features", "--steps '%s' is not in 1..1000000", optarg);
        break;
      case OPT_BATCH:
        if (gm_cli_parse_long(optarg, 1, 4096, &batch))
          return gm_cli_usage("features", "--batch '%s' is not in 1..4096", optarg);
        break;
      case OPT_LR: {
        char *end;
        errno = 0;
        lr = strtod(optarg, &end);
        if (errno || *end || !(lr > 0) || !isfinite(lr))
          return gm_cli_usage("features", "--lr '%s' is not a number > 0", optarg);
        break;
      }
      case OPT_SEED:
        if (gm_cli_parse_long(optarg, 0, INT64_MAX, &seed))
          return gm_cli_usage("features", "--seed '%s' is not in 0..2^63-1", optarg);
        break;
      case OPT_DEVICE: device = optarg; break;
      case OPT_JSON: json = 1; break;
      default: return GM_CLI_USAGE;
    }
  }
  if (gm_cli_no_operands(argc, argv)) return GM_CLI_USAGE;
  if (!out) return gm_cli_usage("features", "--out FILE is required");
  if (gm_cli_dataopts_check(&d, host, &err)) return gm_cli_usage("features", "%s", err.msg);

  /* every emoji at 32x32 over black; the default split decides which faces are held out */
  d.ds.subset = NULL;
  d.ds.yellow = 0;
  d.ds.match = NULL;
  d.ds.limit = 0;
  d.ds.size = FEATNET_SIZE;
  memset(d.ds.background, 0, 3);
  d.ds.heldout = 0.1;
  double t0 = gm_cli_now();
  gm_dataset *ds = NULL;
  const gm_plugin_record *loader = NULL;
  if (gm_cli_dataopts_load(&d, host, &ds, &loader, &err)) return gm_cli_fail_err(&err);
  int n = gm_dataset_count(ds), n_cls = 0;
  const char **classes = malloc((size_t)n * sizeof *classes);
  item_set train = {malloc((size_t)n * sizeof(uint8_t *)), malloc((size_t)n * sizeof(int)), 0};
  item_set test = {malloc((size_t)n * sizeof(uint8_t *)), malloc((size_t)n * sizeof(int)), 0};
  int code = GM_CLI_OK;
  if (!classes || !train.rgb || !train.labels || !test.rgb || !test.labels)
    code = gm_cli_fail("features: out of memory");
  /* classes: the subgroups of the training images, sorted */
  for (int i = 0; i < n && !code; i++) {
    const gm_dataset_item *it = gm_dataset_get(ds, i);
    if ((is_face(it) && it->heldout) || in_test_split(it->name) || !it->subgroup[0]) continue;
    int seen = 0;
    for (int k = 0; k < n_cls && !seen; k++) seen = strcmp(classes[k], it->subgroup) == 0;
    if (!seen) classes[n_cls++] = it->subgroup;
  }
  if (!code) qsort(classes, (size_t)n_cls, sizeof *classes, cmp_str);
  for (int i = 0; i < n && !code; i++) {
    const gm_dataset_item *it = gm_dataset_get(ds, i);
    if (is_face(it) && it->heldout) continue;
    int label = label_of(classes, n_cls, it->subgroup);
    if (label < 0) continue;  /* a test subgroup no training image has */
    item_set *s = in_test_split(it->name) ? &test : &train;
    s->rgb[s->n] = it->rgb;
    s->labels[s->n++] = label;
  }
  if (!code && n_cls < 2)
    code = gm_cli_fail("features: %s gives %d subgroup(s) to learn; the feature network "
                       "needs at least 2 (a source whose images have Unicode subgroups)",
                       d.data, n_cls);
  gm_device *dev = NULL;
  featnet *f = NULL;
  double final_loss = NAN, accuracy = NAN;
  if (!code && gm_device_create(&dev, device, &err)) code = gm_cli_fail_err(&err);
  if (!code && featnet_create(&f, dev, n_cls, classes, (uint64_t)seed, &err))
    code = gm_cli_fail_err(&err);
  featnet_train_config tc = {.steps = (int)steps, .batch = (int)batch, .lr = (float)lr,
                             .seed = (uint64_t)seed, .progress = json ? NULL : progress};
  if (!code && featnet_train(f, train.rgb, train.labels, train.n, &tc, &final_loss, &err))
    code = gm_cli_fail_err(&err);
  if (!code && test.n > 0) {
    float *feat = malloc((size_t)test.n * FEATNET_DIM * sizeof *feat);
    int *pred = malloc((size_t)test.n * sizeof *pred);
    if (!feat || !pred) code = gm_cli_fail("features: out of memory");
    else if (featnet_features(f, test.rgb, test.n, feat, pred, &err)) code = gm_cli_fail_err(&err);
    int right = 0;
    for (int i = 0; i < test.n && !code; i++) right += pred[i] == test.labels[i];
    if (!code) accuracy = (double)right / test.n;
    free(feat);
    free(pred);
  }
  double secs = gm_cli_now() - t0;
  if (!code) {
    char s_steps[32], s_seed[32], s_acc[32], s_loss[32], s_train[32], s_test[32];
    snprintf(s_steps, sizeof s_steps, "%lld", steps);
    snprintf(s_seed, sizeof s_seed, "%lld", seed);
    snprintf(s_acc, sizeof s_acc, "%.4f", accuracy);
    snprintf(s_loss, sizeof s_loss, "%.4f", final_loss);
    snprintf(s_train, sizeof s_train, "%d", train.n);
    snprintf(s_test, sizeof s_test, "%d", test.n);
    char *data = gm_cli_dataopts_describe(&d, loader->name);
    gm_kv meta[] = {{"genmoji.kind", "feature network"}, {"steps", s_steps}, {"seed", s_seed},
                    {"test_accuracy", s_acc},  {"final_loss", s_loss},
                    {"train_images", s_train}, {"test_images", s_test},
                    {"data", data ? data : ""}};
    if (featnet_save(f, out, meta, (int)(sizeof meta / sizeof meta[0]), &err))
      code = gm_cli_fail_err(&err);
    cJSON_free(data);
  }
  if (!code) {
    if (json) {
      cJSON *o = cJSON_CreateObject();
      cJSON_AddStringToObject(o, "file", out);
      cJSON_AddNumberToObject(o, "images", train.n);
      cJSON_AddNumberToObject(o, "classes", n_cls);
      cJSON_AddNumberToObject(o, "test_images", test.n);
      if (test.n) cJSON_AddNumberToObject(o, "test_accuracy", accuracy);
      else cJSON_AddNullToObject(o, "test_accuracy");
      cJSON_AddNumberToObject(o, "steps", (double)steps);
      cJSON_AddNumberToObject(o, "final_loss", final_loss);
      cJSON_AddNumberToObject(o, "seconds", secs);
      code = gm_cli_print_json(o);
    } else {
      printf("feature network: %s\n", out);
      printf("training images: %d in %d subgroups\n", train.n, n_cls);
      printf("test accuracy:   %.1f%% of %d images\n", 100 * accuracy, test.n);
      printf("final loss:      %.3f after %lld steps (%.0f s)\n", final_loss, steps, secs);
    }
  }
  featnet_destroy(f);
  gm_device_destroy(dev);
  gm_dataset_destroy(ds);
  free(classes);
  free(train.rgb), free(train.labels), free(test.rgb), free(test.labels);
  return code;
}

/* ---- score ---- */

static const char score_help[] =
    "Usage: genmoji score --images FILE.png|DIR [--cell N] [--features FILE] [--data SRC]\n"
    "                     [FILTERS] [--seed S] [--device SEL] [--json]\n"
    "\n"
    "Scores images against a dataset's training images on the emoji feature network's\n"
    "unit-length features: KID (x 1000, with its standard error), Frechet distance,\n"
    "precision and recall (k = 3), and the same for the dataset's held-out images (the\n"
    "floor: what real emojis the model never saw score). Give the data options the\n"
    "model was trained with.\n"
    "\n"
    "      --images FILE.png    a sample grid (cells of --cell pixels with 1-pixel gaps,\n"
    "                           as 'genmoji sample' and compare write; empty cells are\n"
    "                           skipped), or one 32x32 image\n"
    "      --images DIR         every .png in DIR (each 32x32, or a multiple of 32)\n"
    "      --cell N             the grid's cell side, a multiple of 32 (default: 32 x the\n"
    "                           upscale that makes the grid fit, 32 first)\n"
    "      --features FILE      the feature network (default: $GM_FEATURES, else\n"
    "                           $XDG_CACHE_HOME/genmoji/featnet-v1.safetensors (or\n"
    "                           ~/.cache/...) when you trained one there with 'genmoji\n"
    "                           features train', else the one shipped with genmoji)\n"
    "\n" GM_CLI_DATAOPTS_HELP
    "\n"
    "      --seed S             KID's subsets (default 0)\n"
    "      --device SEL         OpenCL device\n"
    "      --json               print {images, reference, features, kid, kid_stderr, fd,\n"
    "                           precision, recall, floor: {...}}\n"
    "  -h, --help               show this help\n";

typedef struct image_list {
  uint8_t **rgb;  /* 32 x 32 x 3 each */
  int n, cap;
} image_list;

static void images_free(image_list *l) {
  for (int i = 0; i < l->n; i++) free(l->rgb[i]);
  free(l->rgb);
}

/* Appends the k-times downsampled (box mean) RGB of a square region of rgba (stride w
 * pixels) at (x0, y0), side 32 k, composited over black. */
static int add_cell(image_list *l, const uint8_t *rgba, int w, int x0, int y0, int k,
                    gm_error *err) {
  if (l->n == l->cap) {
    int cap = l->cap ? 2 * l->cap : 64;
    uint8_t **g = realloc(l->rgb, (size_t)cap * sizeof *g);
    if (!g) return gm_error_set(err, GM_ENOMEM, "score: out of memory");
    l->rgb = g;
    l->cap = cap;
  }
  uint8_t *out = malloc(FEATNET_SIZE * FEATNET_SIZE * 3);
  if (!out) return gm_error_set(err, GM_ENOMEM, "score: out of memory");
  for (int y = 0; y < FEATNET_SIZE; y++)
    for (int x = 0; x < FEATNET_SIZE; x++)
      for (int ch = 0; ch < 3; ch++) {
        unsigned sum = 0;
        for (int dy = 0; dy < k; dy++)
          for (int dx = 0; dx < k; dx++) {
            const uint8_t *p = rgba + 4 * ((size_t)(y0 + y * k + dy) * w + x0 + x * k + dx);
            sum += (unsigned)(p[ch] * p[3] + 127) / 255;
          }
        out[(y * FEATNET_SIZE + x) * 3 + ch] = (uint8_t)((sum + (unsigned)(k * k) / 2) / (unsigned)(k * k));
      }
  l->rgb[l->n++] = out;
  return 0;
}

/* 1 when the region is all gap colour (an empty cell of a grid's last row). */
static int all_gap(const uint8_t *rgba, int w, int x0, int y0, int side) {
  for (int y = 0; y < side; y++)
    for (int x = 0; x < side; x++) {
      const uint8_t *p = rgba + 4 * ((size_t)(y0 + y) * w + x0 + x);
      if (p[0] != GM_GRID_GAP_GREY || p[1] != GM_GRID_GAP_GREY || p[2] != GM_GRID_GAP_GREY)
        return 0;
    }
  return 1;
}

static int load_grid(image_list *l, const char *path, int cell, gm_error *err) {
  gm_image img;
  memset(&img, 0, sizeof img);
  int rc = gm_png_read(path, &img, err);
  if (rc) return rc;
  int w = img.width, h = img.height;
  if (w == h && w % FEATNET_SIZE == 0 && (cell == 0 || cell == w)) {
    rc = add_cell(l, img.rgba, w, 0, 0, w / FEATNET_SIZE, err);
    gm_image_free(&img);
    return rc;
  }
  int found = 0;
  for (int k = 1; k <= 64 && !found; k++) {
    int c = cell ? cell : FEATNET_SIZE * k;
    if (cell && k > 1) break;
    if ((w + 1) % (c + 1) == 0 && (h + 1) % (c + 1) == 0) found = c;
  }
  if (!found) {
    gm_image_free(&img);
    if (cell)
      return gm_error_set(err, GM_EFORMAT, "%s: %d x %d is not a grid of %d-pixel cells with "
                          "1-pixel gaps", path, w, h, cell);
    return gm_error_set(err, GM_EFORMAT, "%s: %d x %d is neither a 32 x 32 image nor a grid of "
                        "32 k-pixel cells with 1-pixel gaps (give --cell)", path, w, h);
  }
  int cols = (w + 1) / (found + 1), rows = (h + 1) / (found + 1);
  for (int r = 0; r < rows && !rc; r++)
    for (int c = 0; c < cols && !rc; c++) {
      int x0 = c * (found + 1), y0 = r * (found + 1);
      if (all_gap(img.rgba, w, x0, y0, found)) continue;
      rc = add_cell(l, img.rgba, w, x0, y0, found / FEATNET_SIZE, err);
    }
  gm_image_free(&img);
  return rc;
}

static int load_dir(image_list *l, const char *dir, gm_error *err) {
  struct dirent **names = NULL;
  int n = scandir(dir, &names, NULL, alphasort);
  if (n < 0) return gm_error_set(err, GM_EIO, "%s: %s", dir, strerror(errno));
  int rc = 0;
  for (int i = 0; i < n; i++) {
    size_t len = strlen(names[i]->d_name);
    if (!rc && len > 4 && strcmp(names[i]->d_name + len - 4, ".png") == 0) {
      char path[4200];
      snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
      gm_image img;
      memset(&img, 0, sizeof img);
      rc = gm_png_read(path, &img, err);
      if (!rc && (img.width != img.height || img.width % FEATNET_SIZE))
        rc = gm_error_set(err, GM_EFORMAT, "%s: %d x %d, want 32 x 32 (or a multiple of 32, "
                          "square)", path, img.width, img.height);
      if (!rc) rc = add_cell(l, img.rgba, img.width, 0, 0, img.width / FEATNET_SIZE, err);
      gm_image_free(&img);
    }
    free(names[i]);
  }
  free(names);
  if (!rc && l->n == 0) rc = gm_error_set(err, GM_ENOTFOUND, "%s: no .png files", dir);
  return rc;
}

int gm_cli_cmd_score(int argc, char **argv, gm_host *host) {
  enum { OPT_IMAGES = 0x2000, OPT_CELL, OPT_FEATURES, OPT_SEED, OPT_DEVICE, OPT_JSON };
  static const struct option longopts[] = {
      {"help", no_argument, NULL, 'h'}, {"images", required_argument, NULL, OPT_IMAGES},
      {"cell", required_argument, NULL, OPT_CELL},
      {"features", required_argument, NULL, OPT_FEATURES},
      {"seed", required_argument, NULL, OPT_SEED}, {"device", required_argument, NULL, OPT_DEVICE},
      {"json", no_argument, NULL, OPT_JSON}, GM_CLI_DATAOPTS_LONGOPTS, {0, 0, 0, 0}};
  gm_cli_dataopts d;
  gm_cli_dataopts_init(&d);
  const char *images = NULL, *features = NULL, *device = NULL;
  long long cell = 0, seed = 0;
  int json = 0, c;
  gm_error err = {0};
  while ((c = gm_cli_getopt(argc, argv, "h", longopts)) != -1) {
    int r = gm_cli_dataopts_handle(&d, c, optarg, &err);
    if (r < 0) return gm_cli_usage("score", "%s", err.msg);
    if (r > 0) continue;
    switch (c) {
      case 'h': return gm_cli_help(score_help);
      case OPT_IMAGES: images = optarg; break;
      case OPT_CELL:
        if (gm_cli_parse_long(optarg, FEATNET_SIZE, 2048, &cell) || cell % FEATNET_SIZE)
          return gm_cli_usage("score", "--cell '%s' is not a multiple of 32 in 32..2048", optarg);
        break;
      case OPT_FEATURES: features = optarg; break;
      case OPT_SEED:
        if (gm_cli_parse_long(optarg, 0, INT64_MAX, &seed))
          return gm_cli_usage("score", "--seed '%s' is not in 0..2^63-1", optarg);
        break;
      case OPT_DEVICE: device = optarg; break;
      case OPT_JSON: json = 1; break;
      default: return GM_CLI_USAGE;
    }
  }
  if (gm_cli_no_operands(argc, argv)) return GM_CLI_USAGE;
  if (!images) return gm_cli_usage("score", "--images FILE.png|DIR is required");
  if (d.ds.size != 32) return gm_cli_usage("score", "--size must be 32 (the feature network's)");
  if (gm_cli_dataopts_check(&d, host, &err)) return gm_cli_usage("score", "%s", err.msg);
  char fpath[4096];
  if (!features) {
    if (gm_sq_default_features(fpath, sizeof fpath))
      return gm_cli_fail("score: no --features, and neither GM_FEATURES, XDG_CACHE_HOME nor "
                         "HOME is set");
    features = fpath;
  }

  image_list gen = {0};
  struct stat st;
  int code = GM_CLI_OK;
  if (stat(images, &st) != 0) code = gm_cli_fail("%s: %s", images, strerror(errno));
  else if (S_ISDIR(st.st_mode) ? load_dir(&gen, images, &err)
                               : load_grid(&gen, images, (int)cell, &err))
    code = gm_cli_fail_err(&err);
  gm_dataset *ds = NULL;
  if (!code && gm_cli_dataopts_load(&d, host, &ds, NULL, &err)) code = gm_cli_fail_err(&err);
  int n_train = 0, n_held = 0, n = ds ? gm_dataset_count(ds) : 0;
  const uint8_t **train = malloc(((size_t)n + 1) * sizeof *train);
  const uint8_t **held = malloc(((size_t)n + 1) * sizeof *held);
  if (!code && (!train || !held)) code = gm_cli_fail("score: out of memory");
  for (int i = 0; i < n && !code; i++) {
    const gm_dataset_item *it = gm_dataset_get(ds, i);
    if (it->heldout) held[n_held++] = it->rgb;
    else train[n_train++] = it->rgb;
  }
  if (!code && (n_train < GM_SQ_MIN_IMAGES || gen.n < GM_SQ_MIN_IMAGES))
    code = gm_cli_fail("score: needs at least 4 images on each side (%d training images, %d "
                       "to score)", n_train, gen.n);
  gm_device *dev = NULL;
  featnet *f = NULL;
  if (!code && gm_device_create(&dev, device, &err)) code = gm_cli_fail_err(&err);
  if (!code && stat(features, &st) != 0) {
    code = gm_cli_fail("%s: no feature network there; make it with 'genmoji features train "
                       "--out %s' (about 10 minutes on a 2-core CPU)", features, features);
  }
  if (!code && featnet_load(&f, dev, features, &err)) code = gm_cli_fail_err(&err);
  float *ft = NULL, *fh = NULL, *fg = NULL;
  if (!code) {
    ft = malloc((size_t)n_train * FEATNET_DIM * sizeof *ft);
    fh = malloc(((size_t)n_held + 1) * FEATNET_DIM * sizeof *fh);
    fg = malloc((size_t)gen.n * FEATNET_DIM * sizeof *fg);
    if (!ft || !fh || !fg) code = gm_cli_fail("score: out of memory");
  }
  if (!code && (featnet_features(f, train, n_train, ft, NULL, &err) ||
                featnet_features(f, held, n_held, fh, NULL, &err) ||
                featnet_features(f, (const uint8_t *const *)gen.rgb, gen.n, fg, NULL, &err)))
    code = gm_cli_fail_err(&err);
  gm_sq_row row = {0}, floor_row = {0};
  int have_floor = n_held >= GM_SQ_MIN_IMAGES;
  if (!code && gm_sq_score(ft, n_train, fg, gen.n, (uint64_t)seed, &row, &err))
    code = gm_cli_fail_err(&err);
  if (!code && have_floor && gm_sq_score(ft, n_train, fh, n_held, (uint64_t)seed, &floor_row, &err))
    code = gm_cli_fail_err(&err);
  if (!code) {
    if (json) {
      cJSON *o = gm_sq_row_json(&row);
      cJSON_AddStringToObject(o, "features", features);
      cJSON *ref = cJSON_AddObjectToObject(o, "reference");
      cJSON_AddStringToObject(ref, "source", d.data);
      cJSON_AddNumberToObject(ref, "train_images", n_train);
      cJSON_AddNumberToObject(ref, "heldout_images", n_held);
      if (have_floor) cJSON_AddItemToObject(o, "floor", gm_sq_row_json(&floor_row));
      else cJSON_AddNullToObject(o, "floor");
      code = gm_cli_print_json(o);
    } else {
      printf("%d images against %d training images of %s\n", gen.n, n_train, d.data);
      printf("%-10s %14s %14s\n", "", "images", have_floor ? "held-out" : "");
      printf("%-10s %8.3f ± %-5.3f", "KID x1000", 1000 * row.kid.kid, 1000 * row.kid.stderr_kid);
      if (have_floor) printf(" %8.3f ± %.3f", 1000 * floor_row.kid.kid, 1000 * floor_row.kid.stderr_kid);
      printf("\n%-10s %14.3f", "FD", row.fd);
      if (have_floor) printf(" %14.3f", floor_row.fd);
      printf("\n%-10s %14.3f", "precision", row.precision);
      if (have_floor) printf(" %14.3f", floor_row.precision);
      printf("\n%-10s %14.3f", "recall", row.recall);
      if (have_floor) printf(" %14.3f", floor_row.recall);
      printf("\n");
    }
  }
  free(ft), free(fh), free(fg);
  free(train), free(held);
  featnet_destroy(f);
  gm_device_destroy(dev);
  gm_dataset_destroy(ds);
  images_free(&gen);
  return code;
}

int gm_cli_cmd_features(int argc, char **argv, gm_host *host) {
  if (argc >= 2 && strcmp(argv[1], "train") == 0) return features_train(argc - 1, argv + 1, host);
  if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
    return gm_cli_help(features_help);
  if (argc < 2) return gm_cli_usage("features", "a subcommand is required: train");
  return gm_cli_usage("features", "unknown subcommand '%s' (known: train)", argv[1]);
}
