/* `genmoji sample`: images from a trained model (a checkpoint, or weights with --model)
 * through its sampler, as one grid PNG or a folder of PNGs, timed per image; the starting
 * noise can be saved and replayed. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"
#include "commands.h"
#include "modelopts.h"
#include "progress.h"

enum {
  OPT_N = 0x2000,
  OPT_OUT,
  OPT_SEED,
  OPT_TEMPERATURE,
  OPT_SAMPLER,
  OPT_STEPS,
  OPT_ETA,
  OPT_NOISE,
  OPT_SAVE_NOISE,
  OPT_STRETCH,
  OPT_UPSCALE,
  OPT_QUIET,
  OPT_JSON
};

static const char usage[] =
    "Usage: genmoji sample (--checkpoint FILE | --weights FILE --model NAME [--preset P])\n"
    "                      [--n N] --out FILE.png|DIR [--seed S] [--temperature T]\n"
    "                      [--sampler NAME] [--steps N] [--eta E] [--json]\n"
    "\n"
    "Draws images from a trained model. --out ending in .png writes one grid (upscaled\n"
    "--upscale times); anything else is a folder that receives 0000.png, 0001.png, ...\n"
    "Prints the seconds per image and the network evaluations per image.\n"
    "\n" GM_CLI_WEIGHTOPTS_HELP
    "\n"
    "Sampling:\n"
    "      --n N                how many images, 1..65536 (default 16)\n"
    "      --out FILE.png|DIR   a grid PNG or a folder of PNGs\n"
    "      --seed S             the sampler's random numbers, 0..2^63-1 (default 0)\n"
    "      --sampler NAME       one of the model's samplers (default: its first; see\n"
    "                           'genmoji train --model NAME --help')\n"
    "      --temperature T      softmax temperature > 0 (autoregressive models)\n"
    "      --steps N            sampler steps (DDIM), 1..1048576 and at most the model's\n"
    "                           timesteps\n"
    "      --eta E              DDIM eta >= 0 (0 = deterministic)\n"
    "      --stretch            stretch each sample's min..max to the full range, as the\n"
    "                           study displayed its DDPM samples\n"
    "      --noise FILE         start from the tensor 'noise' (N, 3, S, S) in FILE\n"
    "                           (.safetensors) instead of drawing it\n"
    "      --save-noise FILE    write the starting noise drawn to FILE as 'noise'\n"
    "      --upscale K          grid cells scaled up K times, 1..64 (default 4)\n"
    "\n"
    "Output:\n"
    "      --json               print {model, preset, n, out, files, sampler, seed,\n"
    "                           seconds, seconds_per_image, evaluations_per_image, use_ema}\n"
    "      --quiet              no progress on stderr\n"
    "  -h, --help               show this help\n";

typedef struct sample_args {
  long long n, steps, upscale;
  unsigned long long seed;
  const char *out, *sampler, *noise, *save_noise;
  double temperature, eta;
  int stretch, json, quiet;
} sample_args;

static int parse_double(const char *arg, double lo, double *out) {
  char *end;
  errno = 0;
  double v = strtod(arg, &end);
  if (errno || end == arg || *end || !isfinite(v) || v < lo) return -1;
  *out = v;
  return 0;
}

/* Returns 1 handled, 0 not ours, or 10 + an exit code after a usage message. */
static int handle(sample_args *a, int c, const char *arg, const char *cmd) {
  switch (c) {
  case OPT_N:
    if (gm_cli_parse_long(arg, 1, 1 << 16, &a->n))
      return 10 + gm_cli_usage(cmd, "--n: \"%s\" is not an integer in 1..65536", arg);
    return 1;
  case OPT_OUT: a->out = arg; return 1;
  case OPT_SEED: {
    long long v;
    if (gm_cli_parse_long(arg, 0, INT64_MAX, &v))
      return 10 + gm_cli_usage(cmd, "--seed: \"%s\" is not an integer in 0..2^63-1", arg);
    a->seed = (unsigned long long)v;
    return 1;
  }
  case OPT_TEMPERATURE:
    if (parse_double(arg, 0, &a->temperature) || a->temperature == 0)
      return 10 + gm_cli_usage(cmd, "--temperature: \"%s\" is not a number > 0", arg);
    return 1;
  case OPT_SAMPLER: a->sampler = arg; return 1;
  case OPT_STEPS:
    if (gm_cli_parse_long(arg, 1, 1 << 20, &a->steps))
      return 10 + gm_cli_usage(cmd, "--steps: \"%s\" is not an integer in 1..1048576", arg);
    return 1;
  case OPT_ETA:
    if (parse_double(arg, 0, &a->eta))
      return 10 + gm_cli_usage(cmd, "--eta: \"%s\" is not a number >= 0", arg);
    return 1;
  case OPT_UPSCALE:
    if (gm_cli_parse_long(arg, 1, 64, &a->upscale))
      return 10 + gm_cli_usage(cmd, "--upscale: \"%s\" is not an integer in 1..64", arg);
    return 1;
  case OPT_NOISE: a->noise = arg; return 1;
  case OPT_SAVE_NOISE: a->save_noise = arg; return 1;
  case OPT_STRETCH: a->stretch = 1; return 1;
  case OPT_JSON: a->json = 1; return 1;
  case OPT_QUIET: a->quiet = 1; return 1;
  default: return 0;
  }
}

static int is_png_path(const char *p) {
  size_t n = strlen(p);
  return n > 4 && strcasecmp(p + n - 4, ".png") == 0;
}

/* The tensor 'noise' of FILE (or its only tensor) on dev. */
static int load_noise(const char *path, gm_device *dev, gm_tensor **out, gm_error *err) {
  gm_checkpoint *c = NULL;
  int rc = gm_checkpoint_open(&c, path, err);
  if (rc) return rc;
  const char *name = "noise";
  if (!gm_checkpoint_find(c, name)) {
    if (gm_checkpoint_count(c) != 1) {
      gm_checkpoint_close(c);
      return gm_error_set(err, GM_ENOTFOUND, "%s: no tensor 'noise'", path);
    }
    name = gm_checkpoint_entry_at(c, 0)->name;
  }
  rc = gm_checkpoint_read_new(c, name, dev, out, err);
  gm_checkpoint_close(c);
  return rc;
}

/* (n, 3, S, S) floats 0..255 -> n interleaved RGB8 images, rounded and clamped. */
static uint8_t *to_rgb8(const float *v, int n, int s) {
  size_t plane = (size_t)s * (size_t)s;
  uint8_t *rgb = malloc(3 * plane * (size_t)n);
  if (!rgb) return NULL;
  for (int b = 0; b < n; b++)
    for (size_t i = 0; i < plane; i++)
      for (int ch = 0; ch < 3; ch++) {
        float x = v[((size_t)b * 3 + (size_t)ch) * plane + i];
        x = isfinite(x) ? roundf(x) : 0;
        rgb[((size_t)b * plane + i) * 3 + (size_t)ch] = (uint8_t)(x < 0 ? 0 : x > 255 ? 255 : x);
      }
  return rgb;
}

static int write_images(const sample_args *a, const uint8_t *rgb, int n, int s, cJSON *files,
                        gm_error *err) {
  size_t size = 3 * (size_t)s * (size_t)s;
  if (is_png_path(a->out)) {
    const uint8_t **imgs = malloc(sizeof *imgs * (size_t)n);
    if (!imgs) return gm_error_set(err, GM_ENOMEM, "%s: out of memory", a->out);
    for (int i = 0; i < n; i++) imgs[i] = rgb + size * (size_t)i;
    int cols = (int)ceil(sqrt((double)n));
    int rc = gm_png_write_grid(a->out, imgs, n, s, s, 3, cols, (int)a->upscale, err);
    free(imgs);
    if (!rc) cJSON_AddItemToArray(files, cJSON_CreateString(a->out));
    return rc;
  }
  int rc = gm_cli_make_dirs(a->out, err);
  for (int i = 0; !rc && i < n; i++) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%04d.png", a->out, i);
    rc = gm_png_write(path, rgb + size * (size_t)i, s, s, 3, err);
    if (!rc) cJSON_AddItemToArray(files, cJSON_CreateString(path));
  }
  return rc;
}

static int check_sampler(const gm_model_vtable *vt, const char *name, const char *cmd) {
  char list[256] = "";
  size_t used = 0;
  for (const char *const *s = vt->samplers; s && *s; s++) {
    if (strcmp(*s, name) == 0) return 0;
    used += (size_t)snprintf(list + used, used < sizeof list ? sizeof list - used : 0, "%s%s",
                             used ? ", " : "", *s);
    if (used >= sizeof list) used = sizeof list - 1;
  }
  return gm_cli_usage(cmd, "--sampler: no sampler '%s' (this model has: %s)", name, list);
}

typedef struct sample_run {
  gm_cli_model m;
  gm_tensor *noise, *noise_out;
  uint8_t *rgb;
  float *host;
} sample_run;

static int sample(sample_run *r, const sample_args *a, const char *cmd) {
  gm_error err = {0};
  gm_cli_model *m = &r->m;
  if (a->sampler && check_sampler(m->vt, a->sampler, cmd)) return GM_CLI_USAGE;
  int n = (int)a->n, s = gm_cli_model_image_size(m->vt, &m->opts);
  if (a->noise) {
    if (load_noise(a->noise, m->dev, &r->noise, &err)) return gm_cli_fail_err(&err);
    const gm_tensor *z = r->noise;
    if (z->ndim != 4 || z->shape[0] != n || z->shape[1] != 3 || z->shape[2] != z->shape[3]) {
      char shape[96];
      return gm_cli_fail("%s: noise has shape %s, want (%d, 3, S, S) for --n %d", a->noise,
                         gm_shape_str(z, shape, sizeof shape), n, n);
    }
    s = (int)z->shape[2];
  }
  if (gm_cli_check_images(cmd, "--n", n, s)) return GM_CLI_USAGE;
  if (a->save_noise &&
      gm_tensor_create(&r->noise_out, m->dev, GM_F32, 4, GM_SHAPE(n, 3, s, s), &err))
    return gm_cli_fail_err(&err);
  gm_cli_progress bar;
  gm_cli_progress_init(&bar, "sample", a->quiet);
  gm_sample_options so = {.n = n, .sampler = a->sampler, .temperature = (float)a->temperature,
                          .steps = (int)a->steps, .eta = (float)a->eta, .stretch = a->stretch,
                          .noise = r->noise, .noise_out = r->noise_out,
                          .progress = gm_cli_progress_units, .progress_ctx = &bar};
  gm_rng rng;
  gm_rng_init(&rng, a->seed, 0);
  gm_grad_enable(m->dev, 0);
  double t0 = gm_cli_now();
  gm_tensor *img = NULL;
  int rc = m->vt->sample(m->model, &so, &rng, &img, &err);
  gm_cli_progress_end(&bar);
  if (rc) return gm_cli_fail("model '%s' sample: %s", m->rec->name, err.msg);
  char shape[96];
  if (!img || img->ndim != 4 || img->shape[0] != n || img->shape[1] != 3 ||
      img->shape[2] != img->shape[3] || img->dtype != GM_F32)
    return gm_cli_fail("model '%s' sample: returned %s, want (%d, 3, S, S) floats",
                       m->rec->name, img ? gm_shape_str(img, shape, sizeof shape) : "nothing", n);
  s = (int)img->shape[2];
  if (!(r->host = malloc(gm_tensor_bytes(img)))) return gm_cli_fail("out of memory");
  if (gm_tensor_read(img, r->host, gm_tensor_bytes(img), &err)) return gm_cli_fail_err(&err);
  double seconds = gm_cli_now() - t0;
  if (!(r->rgb = to_rgb8(r->host, n, s))) return gm_cli_fail("out of memory");
  cJSON *files = cJSON_CreateArray();
  rc = write_images(a, r->rgb, n, s, files, &err);
  if (!rc && a->save_noise) {
    char seed[24];
    snprintf(seed, sizeof seed, "%llu", a->seed);
    const gm_named_tensor t = {"noise", r->noise_out};
    const gm_kv meta[] = {{"model", m->rec->name}, {"seed", seed}};
    rc = gm_checkpoint_write(a->save_noise, &t, 1, meta, 2, &err);
  }
  if (rc) {
    cJSON_Delete(files);
    return gm_cli_fail_err(&err);
  }
  const char *sampler = a->sampler ? a->sampler : m->vt->samplers[0];
  if (a->json) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", m->rec->name);
    cJSON_AddStringToObject(o, "preset", m->opts.preset->name);
    cJSON_AddNumberToObject(o, "n", n);
    cJSON_AddStringToObject(o, "out", a->out);
    cJSON_AddItemToObject(o, "files", files);
    cJSON_AddStringToObject(o, "sampler", sampler);
    cJSON_AddNumberToObject(o, "seed", (double)a->seed);
    cJSON_AddNumberToObject(o, "seconds", seconds);
    cJSON_AddNumberToObject(o, "seconds_per_image", seconds / n);
    cJSON_AddNumberToObject(o, "evaluations_per_image", so.evaluations_per_image);
    cJSON_AddBoolToObject(o, "use_ema", m->used_ema);
    return gm_cli_print_json(o);
  }
  cJSON_Delete(files);
  printf("wrote %d sample%s to %s (model %s, preset %s, sampler %s%s)\n", n, n == 1 ? "" : "s",
         a->out, m->rec->name, m->opts.preset->name, sampler, m->used_ema ? ", EMA weights" : "");
  printf("seconds per image: %.4g\n", seconds / n);
  printf("network evaluations per image: %.6g\n", so.evaluations_per_image);
  return GM_CLI_OK;
}

/* No output may be an input or another output: the grid or every DIR/NNNN.png the run
 * would write, and --save-noise. Returns -1 when all is well, else GM_CLI_USAGE. */
static int check_paths(const sample_args *a, const gm_cli_modelopts *mo, const char *cmd) {
  const gm_cli_path ins[] = {{"--checkpoint", mo->checkpoint}, {"--weights", mo->weights},
                             {"--noise", a->noise}};
  gm_cli_path outs[] = {{"--out", a->out}, {"--save-noise", a->save_noise}};
  if (gm_cli_check_outputs(cmd, ins, 3, outs, 2)) return GM_CLI_USAGE;
  struct stat st;
  if (is_png_path(a->out) || stat(a->out, &st) != 0 || !S_ISDIR(st.st_mode)) return -1;
  for (long long i = 0; i < a->n; i++) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%04lld.png", a->out, i);
    outs[0].path = path;
    if (gm_cli_check_outputs(cmd, ins, 3, outs, 2)) return GM_CLI_USAGE;
  }
  return -1;
}

int gm_cli_cmd_sample(int argc, char **argv, gm_host *host) {
  static const struct option longopts[] = {
      GM_CLI_MODELOPTS_LONGOPTS,
      GM_CLI_WEIGHTOPTS_LONGOPTS,
      {"n", required_argument, NULL, OPT_N},
      {"out", required_argument, NULL, OPT_OUT},
      {"seed", required_argument, NULL, OPT_SEED},
      {"temperature", required_argument, NULL, OPT_TEMPERATURE},
      {"sampler", required_argument, NULL, OPT_SAMPLER},
      {"steps", required_argument, NULL, OPT_STEPS},
      {"eta", required_argument, NULL, OPT_ETA},
      {"noise", required_argument, NULL, OPT_NOISE},
      {"save-noise", required_argument, NULL, OPT_SAVE_NOISE},
      {"stretch", no_argument, NULL, OPT_STRETCH},
      {"upscale", required_argument, NULL, OPT_UPSCALE},
      {"quiet", no_argument, NULL, OPT_QUIET},
      {"json", no_argument, NULL, OPT_JSON},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  gm_cli_modelopts mo;
  gm_cli_modelopts_init(&mo);
  sample_args a = {.n = 16, .upscale = 4};
  gm_error err = {0};
  int c, code = -1;
  while (code < 0 && (c = gm_cli_getopt(argc, argv, "h", longopts)) != -1) {
    int r = gm_cli_modelopts_handle(&mo, c, optarg, &err);
    if (r < 0) code = gm_cli_usage(argv[0], "%s", err.msg);
    else if (r == 0 && c == 'h') code = gm_cli_help(usage);
    else if (r == 0 && (r = handle(&a, c, optarg, argv[0])) == 0) code = GM_CLI_USAGE;
    else if (r >= 10) code = r - 10;
  }
  if (code < 0 && gm_cli_no_operands(argc, argv)) code = GM_CLI_USAGE;
  if (code < 0 && !a.out) code = gm_cli_usage(argv[0], "--out FILE.png|DIR is required");
  if (code < 0) code = check_paths(&a, &mo, argv[0]);
  sample_run r;
  memset(&r, 0, sizeof r);
  if (code < 0 && (code = gm_cli_model_open(&mo, host, argv[0], &r.m)) == 0) {
    code = sample(&r, &a, argv[0]);
    gm_tensor_destroy(r.noise);
    gm_tensor_destroy(r.noise_out);
    free(r.host);
    free(r.rgb);
    gm_cli_model_close(&r.m);
  }
  gm_cli_modelopts_free(&mo);
  return code;
}
