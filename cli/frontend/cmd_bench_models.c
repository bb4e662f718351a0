/* `genmoji bench models`: training images/s and peak device memory of each model plugin
 * and preset, and seconds per image of each of its samplers, on one device. The timing
 * lives in the engine (bench.h: gm_bench_train, gm_bench_sample); this file picks the
 * rows and prints them as a table or as JSON Lines for bench/compare.sh. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_cli.h"
#include "modelopts.h"

static const char usage[] =
    "Usage: genmoji bench models [--json] [--device SEL] [--model M[,M]] [--preset P[,P]]\n"
    "                            [--batch 8,64] [--sample-batch 1,16] [--seconds S]\n"
    "                            [--only train|sample] [--guidance W]\n"
    "\n"
    "Times whole models on one device: for each model plugin and preset, the training step\n"
    "that 'genmoji train' runs (the model's loss, backward, clipping, Adam or AdamW, EMA,\n"
    "as the preset sets them; the loss read back) on a batch of random images made on the\n"
    "device (no dataset: loading and uploading batches is not counted), after 2 warm-up\n"
    "steps, for at least S seconds and 3 steps, each step timed; images/s is the batch over\n"
    "the median step (robust to other load on the machine; the mean is printed too); and\n"
    "the peak of the device memory pool during that row (parameters, grads, optimiser\n"
    "state, activations). Then, for each sampler of the model at its defaults (DDPM: all T\n"
    "levels for ddpm, its default step count for ddim; PixelCNN: cached and naive), the\n"
    "seconds per image at each sample batch. A whole sampling run takes minutes on a CPU,\n"
    "so it is EXTRAPOLATED: runs stopped after a = 1 unit and after b units (pixels for\n"
    "the PixelCNN, network steps for the DDPM; b grows until a run takes S/2 seconds or\n"
    "reaches the whole run; each point is the faster of two runs) give a line, time =\n"
    "fixed + units * per-unit, evaluated at the whole run's units; the row says which a\n"
    "and b it used. Untrained weights: speed only. A text-conditioned preset trains on\n"
    "made-up texts (4 words an image) and samples from them with guidance W.\n"
    "\n"
    "Options:\n"
    "  -d, --device SEL       a device index or name substring (see 'genmoji devices')\n"
    "      --model LIST       model plugins, comma-separated (default: every one found)\n"
    "      --preset LIST      presets, comma-separated; each must exist in every model\n"
    "                         timed (default: every preset of each model)\n"
    "  -b, --batch LIST       training batch sizes (default 8,64)\n"
    "      --sample-batch LIST  images per sampling run (default 1,16)\n"
    "  -s, --seconds S        time each row for about S seconds (default 3)\n"
    "      --only WHAT        'train' or 'sample' rows only\n"
    "      --guidance W       text models' sampling: classifier-free guidance, 0..20 (1,\n"
    "                         the default, is one pass per step; any W but 0 and 1 two)\n"
    "      --json             JSON Lines on stdout: first {\"header\": {\"device\": {...},\n"
    "                         \"gemm_backends\", \"genmoji\", \"seconds\"}}, then one object\n"
    "                         per row. Training rows: model, preset, batch,\n"
    "                         train_images_per_s (median step), peak_bytes, steps,\n"
    "                         seconds, step_seconds (the median), mean_images_per_s,\n"
    "                         params, loss. Sampling rows: model, preset, sampler, batch,\n"
    "                         seconds_per_image, evaluations_per_image, steps (units of a\n"
    "                         whole run), timed_units ([a, b]), extrapolated (false\n"
    "                         when b was the whole run); guidance for a text model\n"
    "  -h, --help             show this help\n";

#define HELP_SHOWN (-1)
#define MAX_LIST 16

enum { OPT_MODEL = 0x1200, OPT_PRESET, OPT_SAMPLE_BATCH, OPT_ONLY, OPT_JSON, OPT_GUIDANCE };

typedef struct models_opts {
  int json, train, sample;
  double seconds, guidance;
  const char *device;
  int batches[MAX_LIST], n_batches;
  int sample_batches[MAX_LIST], n_sample_batches;
  char *model_list, *preset_list;            /* strdup'd --model and --preset */
  const char *models[MAX_LIST];              /* into model_list; n_models = 0: every one */
  int n_models;
  const char *presets[MAX_LIST];             /* into preset_list; n_presets = 0: every one */
  int n_presets;
  const gm_model_vtable *vts[MAX_LIST];      /* the models timed, resolved */
  const char *names[MAX_LIST];
  int n_vts;
} models_opts;

static void opts_free(models_opts *o) {
  free(o->model_list);
  free(o->preset_list);
}

/* Splits a strdup'd comma list in place. */
static int split(char *s, const char **out, int max) {
  int n = 0;
  for (char *save = NULL, *tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    if (n == max) return -1;
    out[n++] = tok;
  }
  return n ? n : -1;
}

static int parse_seconds(const char *s, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || !(v > 0 && v <= 3600)) return -1;
  *out = v;
  return 0;
}

static int parse(int argc, char **argv, models_opts *o) {
  static const struct option longopts[] = {
      {"device", required_argument, NULL, 'd'},
      {"model", required_argument, NULL, OPT_MODEL},
      {"preset", required_argument, NULL, OPT_PRESET},
      {"batch", required_argument, NULL, 'b'},
      {"sample-batch", required_argument, NULL, OPT_SAMPLE_BATCH},
      {"seconds", required_argument, NULL, 's'},
      {"only", required_argument, NULL, OPT_ONLY},
      {"guidance", required_argument, NULL, OPT_GUIDANCE},
      {"json", no_argument, NULL, OPT_JSON},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  int c;
  while ((c = gm_cli_getopt(argc, argv, "d:b:s:h", longopts)) != -1) {
    switch (c) {
    case 'd': o->device = optarg; break;
    case OPT_MODEL:
      free(o->model_list);
      o->model_list = strdup(optarg);
      if (!o->model_list || (o->n_models = split(o->model_list, o->models, MAX_LIST)) < 0)
        return gm_cli_usage(argv[0], "--model wants model names separated by commas, got '%s'",
                            optarg);
      break;
    case OPT_PRESET:
      free(o->preset_list);
      o->preset_list = strdup(optarg);
      if (!o->preset_list || (o->n_presets = split(o->preset_list, o->presets, MAX_LIST)) < 0)
        return gm_cli_usage(argv[0], "--preset wants preset names separated by commas, got "
                            "'%s'", optarg);
      break;
    case 'b':
      if ((o->n_batches = gm_cli_bench_int_list(optarg, 1, 4096, o->batches, MAX_LIST)) < 0)
        return gm_cli_usage(argv[0], "--batch wants sizes 1..4096 separated by commas, got '%s'",
                            optarg);
      break;
    case OPT_SAMPLE_BATCH:
      if ((o->n_sample_batches =
               gm_cli_bench_int_list(optarg, 1, 4096, o->sample_batches, MAX_LIST)) < 0)
        return gm_cli_usage(argv[0], "--sample-batch wants sizes 1..4096 separated by commas, "
                            "got '%s'", optarg);
      break;
    case 's':
      if (parse_seconds(optarg, &o->seconds))
        return gm_cli_usage(argv[0], "--seconds wants a number of seconds in (0, 3600], got "
                            "'%s'", optarg);
      break;
    case OPT_ONLY:
      if (strcmp(optarg, "train") && strcmp(optarg, "sample"))
        return gm_cli_usage(argv[0], "--only wants 'train' or 'sample', got '%s'", optarg);
      o->train = optarg[0] == 't';
      o->sample = !o->train;
      break;
    case OPT_JSON: o->json = 1; break;
    case OPT_GUIDANCE: {
      char *end = NULL;
      o->guidance = strtod(optarg, &end);
      if (end == optarg || *end || !(o->guidance >= 0 && o->guidance <= 20))
        return gm_cli_usage(argv[0], "--guidance wants a number in 0..20, got '%s'", optarg);
      break;
    }
    case 'h': gm_cli_help(usage); return HELP_SHOWN;
    default: return GM_CLI_USAGE;
    }
  }
  return gm_cli_no_operands(argc, argv);
}

static int has_preset(const gm_model_vtable *vt, const char *name) {
  for (const gm_model_preset *p = vt->presets; p->name; p++)
    if (strcmp(p->name, name) == 0) return 1;
  return 0;
}

static void preset_names(const gm_model_vtable *vt, char *buf, size_t size) {
  size_t used = 0;
  buf[0] = '\0';
  for (const gm_model_preset *p = vt->presets; p->name && used < size; p++)
    used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? ", " : "", p->name);
}

/* The models to time (named, or every model plugin loaded) and a check that each named
 * preset exists in each of them. Usage errors print and return 2. */
static int resolve_models(models_opts *o, gm_host *host, const char *cmd) {
  gm_error err = {0};
  if (o->n_models) {
    for (int i = 0; i < o->n_models; i++) {
      const gm_plugin_record *rec;
      if (gm_cli_find_model(host, o->models[i], &rec, &err))
        return gm_cli_usage(cmd, "%s", err.msg);
      o->vts[o->n_vts] = rec->vtable;
      o->names[o->n_vts++] = rec->name;
    }
  } else {
    const gm_registry *reg = gm_host_registry(host);
    for (int i = 0; i < gm_registry_count(reg) && o->n_vts < MAX_LIST; i++) {
      const gm_plugin_record *r = gm_registry_record(reg, i);
      if (!r->plugin || strcmp(r->kind, GM_PLUGIN_KIND_MODEL) != 0) continue;
      o->vts[o->n_vts] = r->vtable;
      o->names[o->n_vts++] = r->name;
    }
    if (!o->n_vts) return gm_cli_usage(cmd, "no model plugin found (see 'genmoji plugins')");
  }
  for (int i = 0; i < o->n_vts; i++)
    for (int k = 0; k < o->n_presets; k++)
      if (!has_preset(o->vts[i], o->presets[k])) {
        char names[256];
        preset_names(o->vts[i], names, sizeof names);
        return gm_cli_usage(cmd, "model '%s' has no preset '%s' (presets: %s)", o->names[i],
                            o->presets[k], names);
      }
  return 0;
}

/* ---- output ---- */

static int print_line(cJSON *row) {
  char *text = gm_cli_json_text(row, 0);
  cJSON_Delete(row);
  if (!text) return gm_cli_fail("out of memory");
  puts(text);
  fflush(stdout);
  free(text);
  return 0;
}

static cJSON *row_start(const char *model, const char *preset, int batch) {
  cJSON *r = cJSON_CreateObject();
  cJSON_AddStringToObject(r, "model", model);
  cJSON_AddStringToObject(r, "preset", preset);
  cJSON_AddNumberToObject(r, "batch", batch);
  return r;
}

static void print_train(const models_opts *o, const char *model, const char *preset, int batch,
                        const gm_bench_train_result *t, int *header) {
  if (o->json) {
    cJSON *r = row_start(model, preset, batch);
    cJSON_AddNumberToObject(r, "train_images_per_s", t->images_per_s);
    cJSON_AddNumberToObject(r, "peak_bytes", (double)t->peak_bytes);
    cJSON_AddNumberToObject(r, "steps", (double)t->steps);
    cJSON_AddNumberToObject(r, "seconds", t->seconds);
    cJSON_AddNumberToObject(r, "step_seconds", t->step_seconds);
    cJSON_AddNumberToObject(r, "mean_images_per_s", t->mean_images_per_s);
    cJSON_AddNumberToObject(r, "params", (double)t->params);
    cJSON_AddNumberToObject(r, "loss", t->loss);
    print_line(r);
    return;
  }
  if (!(*header)++)
    printf("\n%-10s %-8s %5s %10s %10s %6s %8s %12s %10s\n", "training", "preset", "batch",
           "images/s", "(mean)", "steps", "seconds", "peak memory", "params");
  char peak[32];
  printf("%-10s %-8s %5d %10.2f %10.2f %6lld %8.2f %12s %10lld\n", model, preset, batch,
         t->images_per_s, t->mean_images_per_s, (long long)t->steps, t->seconds,
         gm_cli_bytes(t->peak_bytes, peak, sizeof peak), (long long)t->params);
  fflush(stdout);
}

static void print_sample(const models_opts *o, const char *model, const char *preset,
                         const char *sampler, int batch, const gm_bench_sample_result *s,
                         int text, int *header) {
  int extrapolated = s->units_b < s->total_units;
  if (o->json) {
    cJSON *r = row_start(model, preset, batch);
    cJSON_AddStringToObject(r, "sampler", sampler);
    if (text) cJSON_AddNumberToObject(r, "guidance", o->guidance);
    cJSON_AddNumberToObject(r, "seconds_per_image", s->seconds_per_image);
    cJSON_AddNumberToObject(r, "evaluations_per_image", s->evaluations_per_image);
    cJSON_AddNumberToObject(r, "steps", (double)s->total_units);
    cJSON *units = cJSON_AddArrayToObject(r, "timed_units");
    cJSON_AddItemToArray(units, cJSON_CreateNumber((double)s->units_a));
    cJSON_AddItemToArray(units, cJSON_CreateNumber((double)s->units_b));
    cJSON_AddBoolToObject(r, "extrapolated", extrapolated);
    print_line(r);
    return;
  }
  if (!(*header)++)
    printf("\n%-10s %-8s sampler  %5s %10s %10s %6s  %s\n", "sampling", "preset", "batch",
           "s/image", "evals/img", "steps", "timed (units a..b)");
  char timed[64];
  snprintf(timed, sizeof timed, "%lld..%lld%s", (long long)s->units_a, (long long)s->units_b,
           extrapolated ? ", extrapolated" : ", whole run");
  if (text) {
    size_t l = strlen(timed);
    snprintf(timed + l, sizeof timed - l, ", guidance %g", o->guidance);
  }
  printf("%-10s %-8s %-8s %5d %10.4g %10.4g %6lld  %s\n", model, preset, sampler, batch,
         s->seconds_per_image, s->evaluations_per_image, (long long)s->total_units, timed);
  fflush(stdout);
}

static int print_header(const models_opts *o, gm_device *dev) {
  char backends[1024];
  gm_gemm_backends_describe(dev, backends, sizeof backends);
  const gm_device_info *d = gm_device_get_info(dev);
  if (!o->json) {
    gm_cli_bench_print_device(d, backends);
    printf("training: >= %g s and >= 3 steps per row after 2 warm-up steps, images/s of the "
           "median step; sampling: seconds per image extrapolated from runs stopped after a "
           "and b units\n", o->seconds);
    return 0;
  }
  cJSON *root = cJSON_CreateObject(), *h = cJSON_AddObjectToObject(root, "header");
  cJSON_AddItemToObject(h, "device", gm_cli_bench_device_json(d));
  cJSON_AddStringToObject(h, "gemm_backends", backends);
  cJSON_AddStringToObject(h, "genmoji", gm_version());
  cJSON_AddNumberToObject(h, "seconds", o->seconds);
  return print_line(root);
}

/* ---- the rows ---- */

static int bench_train(const models_opts *o, gm_device *dev, int mi, const char *preset,
                       int *header, gm_error *err) {
  const gm_model_vtable *vt = o->vts[mi];
  gm_resolved_options ro;
  int rc = gm_model_options_resolve(vt, preset, NULL, 0, &ro, err);
  if (rc) return rc;
  for (int b = 0; rc == 0 && b < o->n_batches; b++) {
    gm_bench_train_opts to = {.batch = o->batches[b], .size = gm_cli_model_image_size(vt, &ro),
                              .seconds = o->seconds, .seed = 1};
    gm_bench_train_result t;
    rc = gm_bench_train(dev, vt, o->names[mi], &ro, &to, &t, err);
    if (rc == 0) print_train(o, o->names[mi], preset, o->batches[b], &t, header);
  }
  gm_model_options_free(&ro);
  return rc;
}

static int bench_sample(const models_opts *o, gm_device *dev, int mi, const char *preset,
                        int *header, gm_error *err) {
  const gm_model_vtable *vt = o->vts[mi];
  gm_resolved_options ro;
  int rc = gm_model_options_resolve(vt, preset, NULL, 0, &ro, err);
  if (rc) return rc;
  gm_model *m = NULL;
  gm_rng rng;
  gm_rng_init(&rng, 1, 0);
  rc = vt->create(&m, dev, ro.model, ro.n_model, &rng, err);
  gm_model_info info;
  if (rc == 0) rc = gm_model_describe(vt, &ro, &info, err);
  for (int s = 0; rc == 0 && vt->samplers[s]; s++)
    for (int b = 0; rc == 0 && b < o->n_sample_batches; b++) {
      gm_sample_options so = {.n = o->sample_batches[b], .sampler = vt->samplers[s]};
      gm_text_cond cond = {NULL, NULL, NULL};
      if (info.text_condition) {
        rc = gm_bench_text_cond(dev, info.vocab_size, so.n, 1, &cond, err);
        so.cond = &cond;
        so.guidance = (float)o->guidance;
      }
      gm_bench_sample_result r;
      if (rc == 0) rc = gm_bench_sample(dev, vt, m, &so, o->seconds, &r, err);
      gm_text_cond_free(&cond);
      if (rc == 0)
        print_sample(o, o->names[mi], preset, vt->samplers[s], so.n, &r, info.text_condition,
                     header);
      else gm_error_prefix(err, "model '%s', preset '%s', sampler '%s'", o->names[mi], preset,
                           vt->samplers[s]);
    }
  if (m) vt->destroy(m);
  gm_tape_reset(dev);
  gm_device_trim(dev);
  gm_model_options_free(&ro);
  return rc;
}

/* Every (model, preset) pair in order, for the training or the sampling rows. */
static int each_preset(const models_opts *o, gm_device *dev, int sampling, gm_error *err) {
  int header = 0, rc = 0;
  for (int mi = 0; rc == 0 && mi < o->n_vts; mi++) {
    const gm_model_vtable *vt = o->vts[mi];
    int n = o->n_presets;
    if (!n)
      while (vt->presets[n].name) n++;
    for (int k = 0; rc == 0 && k < n; k++) {
      const char *preset = o->n_presets ? o->presets[k] : vt->presets[k].name;
      rc = sampling ? bench_sample(o, dev, mi, preset, &header, err)
                    : bench_train(o, dev, mi, preset, &header, err);
    }
  }
  return rc;
}

int gm_cli_bench_models(int argc, char **argv, gm_host *host) {
  models_opts o = {.train = 1, .sample = 1, .seconds = 3, .guidance = 1, .batches = {8, 64}, .n_batches = 2,
                   .sample_batches = {1, 16}, .n_sample_batches = 2};
  int rc = parse(argc, argv, &o);
  if (rc == 0) rc = resolve_models(&o, host, argv[0]);
  if (rc) {
    opts_free(&o);
    return rc == HELP_SHOWN ? GM_CLI_OK : rc;
  }
  gm_error err = {0};
  gm_device *dev;
  if (gm_device_create(&dev, o.device, &err)) {
    opts_free(&o);
    return gm_cli_fail_err(&err);
  }
  rc = print_header(&o, dev);
  if (rc == 0 && o.train) rc = each_preset(&o, dev, 0, &err) ? gm_cli_fail_err(&err) : 0;
  if (rc == 0 && o.sample) rc = each_preset(&o, dev, 1, &err) ? gm_cli_fail_err(&err) : 0;
  gm_device_destroy(dev);
  opts_free(&o);
  return rc;
}
