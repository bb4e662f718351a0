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
  OPT_JSON,
  OPT_PROMPT,
  OPT_PROMPTS,
  OPT_PER_PROMPT,
  OPT_GUIDANCE,
  OPT_STRICT_PROMPT
};

#define MAX_PROMPTS 256

static const char usage[] =
    "Usage: genmoji sample (--checkpoint FILE | --weights FILE --model NAME [--preset P])\n"
    "                      [--n N] --out FILE.png|DIR [--seed S] [--temperature T]\n"
    "                      [--sampler NAME] [--steps N] [--eta E] [--json]\n"
    "                      [--prompt TEXT ... | --prompts FILE] [--n-per-prompt K]\n"
    "                      [--guidance W] [--strict-prompt]\n"
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
    "Prompts (models with a text condition; see 'genmoji train --model NAME --help'):\n"
    "      --prompt TEXT        draw for this text (repeatable, up to 256): the grid has a\n"
    "                           row per prompt\n"
    "      --prompts FILE       one prompt per line (blank lines skipped)\n"
    "      --n-per-prompt K     images per prompt, 1..4096 (default 8; replaces --n)\n"
    "      --guidance W         classifier-free guidance u + W (c - u), 0..20: 1 plain\n"
    "                           conditional, 0 unconditional (default: the model's)\n"
    "      --strict-prompt      a word the model's vocabulary lacks is an error (exit 2);\n"
    "                           without it such words are named on stderr and dropped\n"
    "\n"
    "Output:\n"
    "      --json               print {model, preset, n, out, files, sampler, seed,\n"
    "                           seconds, seconds_per_image, evaluations_per_image, use_ema},\n"
    "                           with prompts also guidance and prompts: [{prompt, known,\n"
    "                           unknown, first, count}]\n"
    "      --quiet              no progress on stderr\n"
    "  -h, --help               show this help\n";

typedef struct sample_args {
  long long n, steps, upscale, per_prompt;
  unsigned long long seed;
  const char *out, *sampler, *noise, *save_noise, *prompts_file;
  double temperature, eta, guidance; /* guidance NAN: the model's default */
  int stretch, json, quiet, n_given, strict;
  const char *prompt[MAX_PROMPTS];
  int n_prompts;
  char *file_text; /* --prompts FILE read whole; prompt[] points into it */
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
    a->n_given = 1;
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
  case OPT_PROMPT:
    if (a->n_prompts == MAX_PROMPTS)
      return 10 + gm_cli_usage(cmd, "--prompt: at most %d prompts", MAX_PROMPTS);
    a->prompt[a->n_prompts++] = arg;
    return 1;
  case OPT_PROMPTS: a->prompts_file = arg; return 1;
  case OPT_PER_PROMPT:
    if (gm_cli_parse_long(arg, 1, 4096, &a->per_prompt))
      return 10 + gm_cli_usage(cmd, "--n-per-prompt: \"%s\" is not an integer in 1..4096", arg);
    return 1;
  case OPT_GUIDANCE: {
    char *end = NULL;
    a->guidance = strtod(arg, &end);
    if (end == arg || *end || !(a->guidance >= 0 && a->guidance <= 20))
      return 10 + gm_cli_usage(cmd, "--guidance: \"%s\" is not a number in 0..20", arg);
    return 1;
  }
  case OPT_STRICT_PROMPT: a->strict = 1; return 1;
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

/* cols: the grid's columns (0: a square grid) */
static int write_images(const sample_args *a, const uint8_t *rgb, int n, int s, int cols,
                        cJSON *files, gm_error *err) {
  size_t size = 3 * (size_t)s * (size_t)s;
  if (is_png_path(a->out)) {
    const uint8_t **imgs = malloc(sizeof *imgs * (size_t)n);
    if (!imgs) return gm_error_set(err, GM_ENOMEM, "%s: out of memory", a->out);
    for (int i = 0; i < n; i++) imgs[i] = rgb + size * (size_t)i;
    if (cols <= 0) cols = (int)ceil(sqrt((double)n));
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
  gm_text_cond cond;
  cJSON *prompts; /* --json's prompts array */
  uint8_t *rgb;
  float *host;
} sample_run;

/* The prompts' conditions (n_prompts x per_prompt rows, prompt by prompt), their words
 * for --json, and the unknown words named on stderr (or refused with --strict-prompt).
 * Returns -1 when all is well, else an exit code. */
static int prompt_conditions(sample_run *r, const sample_args *a, const char *cmd) {
  gm_cli_model *m = &r->m;
  gm_error err = {0};
  if (!m->info.text_condition)
    return gm_cli_fail("model '%s' (preset %s) takes no text: sample it without --prompt, or "
                       "train a text-conditioned preset (see 'genmoji train --model %s --help')",
                       m->rec->name, m->opts.preset->name, m->rec->name);
  if (!m->vocab)
    return gm_cli_fail("%s: has no vocabulary (metadata %s); prompts need a checkpoint that "
                       "'genmoji train' wrote", m->file, GM_TEXT_VOCAB_KEY);
  int K = (int)a->per_prompt, n = a->n_prompts * K;
  r->prompts = cJSON_CreateArray();
  for (int p = 0; p < a->n_prompts; p++) {
    int32_t ids[GM_TEXT_MAX_TOKENS];
    float mask[GM_TEXT_MAX_TOKENS];
    gm_text_unknown unk;
    int known = gm_vocab_encode(m->vocab, a->prompt[p], ids, mask, GM_TEXT_MAX_TOKENS, &unk);
    if (unk.count && a->strict)
      return gm_cli_usage(cmd, "--prompt '%s': not in the model's vocabulary: %s", a->prompt[p],
                          unk.words);
    if (unk.count)
      fprintf(stderr, "genmoji: --prompt '%s': not in the model's vocabulary, dropped: %s\n",
              a->prompt[p], unk.words);
    if (!known)
      fprintf(stderr, "genmoji: --prompt '%s': no known word; these images are unconditional\n",
              a->prompt[p]);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "prompt", a->prompt[p]);
    cJSON *kw = cJSON_AddArrayToObject(o, "known");
    for (int i = 0; i < known; i++)
      cJSON_AddItemToArray(kw, cJSON_CreateString(gm_vocab_word(m->vocab, ids[i])));
    cJSON *uw = cJSON_AddArrayToObject(o, "unknown");
    char words[sizeof unk.words];
    snprintf(words, sizeof words, "%s", unk.words);
    for (char *save = NULL, *w = strtok_r(words, " ", &save); w; w = strtok_r(NULL, " ", &save))
      cJSON_AddItemToArray(uw, cJSON_CreateString(w));
    cJSON_AddNumberToObject(o, "first", p * K);
    cJSON_AddNumberToObject(o, "count", K);
    cJSON_AddItemToArray(r->prompts, o);
  }
  const char **texts = malloc(sizeof *texts * (size_t)n);
  if (!texts) return gm_cli_fail("out of memory");
  for (int i = 0; i < n; i++) texts[i] = a->prompt[i / K];
  int rc = gm_text_cond_create(m->dev, n, &r->cond, &err);
  if (!rc) rc = gm_text_batch_write(m->vocab, texts, n, r->cond.ids, r->cond.mask, r->cond.empty,
                                    NULL, &err);
  free(texts);
  return rc ? gm_cli_fail_err(&err) : -1;
}

static int sample(sample_run *r, const sample_args *a, const char *cmd) {
  gm_error err = {0};
  gm_cli_model *m = &r->m;
  if (a->sampler && check_sampler(m->vt, a->sampler, cmd)) return GM_CLI_USAGE;
  int prompted = a->n_prompts > 0;
  if (prompted) {
    int code = prompt_conditions(r, a, cmd);
    if (code >= 0) return code;
  }
  int n = prompted ? a->n_prompts * (int)a->per_prompt : (int)a->n;
  int s = gm_cli_model_image_size(m->vt, &m->opts);
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
                          .progress = gm_cli_progress_units, .progress_ctx = &bar,
                          .cond = prompted ? &r->cond : NULL,
                          .guidance = (float)(isnan(a->guidance) ? m->info.guidance
                                                                 : a->guidance)};
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
  rc = write_images(a, r->rgb, n, s, prompted ? (int)a->per_prompt : 0, files, &err);
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
    if (prompted) {
      cJSON_AddNumberToObject(o, "guidance", so.guidance);
      cJSON_AddItemToObject(o, "prompts", r->prompts);
      r->prompts = NULL;
    }
    return gm_cli_print_json(o);
  }
  cJSON_Delete(files);
  printf("wrote %d sample%s to %s (model %s, preset %s, sampler %s%s)\n", n, n == 1 ? "" : "s",
         a->out, m->rec->name, m->opts.preset->name, sampler, m->used_ema ? ", EMA weights" : "");
  if (prompted)
    printf("%d prompt%s, %lld image%s each (a row per prompt), guidance %g\n", a->n_prompts,
           a->n_prompts == 1 ? "" : "s", a->per_prompt, a->per_prompt == 1 ? "" : "s",
           (double)so.guidance);
  printf("seconds per image: %.4g\n", seconds / n);
  printf("network evaluations per image: %.6g\n", so.evaluations_per_image);
  return GM_CLI_OK;
}

/* No output may be an input or another output: the grid or every DIR/NNNN.png the run
 * would write, and --save-noise. Returns -1 when all is well, else GM_CLI_USAGE. */
static int check_paths(const sample_args *a, const gm_cli_modelopts *mo, const char *cmd) {
  const gm_cli_path ins[] = {{"--checkpoint", mo->checkpoint}, {"--weights", mo->weights},
                             {"--noise", a->noise}, {"--prompts", a->prompts_file}};
  gm_cli_path outs[] = {{"--out", a->out}, {"--save-noise", a->save_noise}};
  if (gm_cli_check_outputs(cmd, ins, 4, outs, 2)) return GM_CLI_USAGE;
  struct stat st;
  if (is_png_path(a->out) || stat(a->out, &st) != 0 || !S_ISDIR(st.st_mode)) return -1;
  for (long long i = 0; i < a->n; i++) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%04lld.png", a->out, i);
    outs[0].path = path;
    if (gm_cli_check_outputs(cmd, ins, 4, outs, 2)) return GM_CLI_USAGE;
  }
  return -1;
}

/* --prompts FILE: a prompt per line, blank lines skipped. Returns -1 or an exit code. */
static int read_prompts(sample_args *a, const char *cmd) {
  FILE *f = fopen(a->prompts_file, "rb");
  if (!f) return gm_cli_fail("%s: %s", a->prompts_file, strerror(errno));
  size_t cap = 1 << 16;
  a->file_text = malloc(cap + 1);
  if (!a->file_text) {
    fclose(f);
    return gm_cli_fail("out of memory");
  }
  size_t n = fread(a->file_text, 1, cap, f);
  int too_big = n == cap && fgetc(f) != EOF, bad = ferror(f);
  fclose(f);
  if (bad) return gm_cli_fail("%s: read error", a->prompts_file);
  if (too_big) return gm_cli_usage(cmd, "--prompts %s: over 64 KiB", a->prompts_file);
  a->file_text[n] = '\0';
  if (memchr(a->file_text, '\0', n))
    return gm_cli_usage(cmd, "--prompts %s: not a text file (a NUL byte)", a->prompts_file);
  for (char *save = NULL, *line = strtok_r(a->file_text, "\n", &save); line;
       line = strtok_r(NULL, "\n", &save)) {
    size_t len = strlen(line);
    if (len && line[len - 1] == '\r') line[--len] = '\0';
    if (strspn(line, " \t") == len) continue;
    if (a->n_prompts == MAX_PROMPTS)
      return gm_cli_usage(cmd, "--prompts %s: more than %d prompts", a->prompts_file, MAX_PROMPTS);
    a->prompt[a->n_prompts++] = line;
  }
  if (!a->n_prompts) return gm_cli_usage(cmd, "--prompts %s: no prompt in it", a->prompts_file);
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
      {"prompt", required_argument, NULL, OPT_PROMPT},
      {"prompts", required_argument, NULL, OPT_PROMPTS},
      {"n-per-prompt", required_argument, NULL, OPT_PER_PROMPT},
      {"guidance", required_argument, NULL, OPT_GUIDANCE},
      {"strict-prompt", no_argument, NULL, OPT_STRICT_PROMPT},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  gm_cli_modelopts mo;
  gm_cli_modelopts_init(&mo);
  sample_args a = {.n = 16, .upscale = 4, .guidance = NAN};
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
  if (code < 0 && a.prompts_file && a.n_prompts)
    code = gm_cli_usage(argv[0], "give --prompt TEXT or --prompts FILE, not both");
  if (code < 0 && !a.prompts_file && !a.n_prompts && (!isnan(a.guidance) || a.per_prompt || a.strict))
    code = gm_cli_usage(argv[0], "--guidance, --n-per-prompt and --strict-prompt go with "
                        "--prompt or --prompts");
  if (code < 0 && (a.prompts_file || a.n_prompts) && a.n_given)
    code = gm_cli_usage(argv[0], "with prompts the images are --n-per-prompt K per prompt; "
                        "--n does not apply");
  if (code < 0) code = check_paths(&a, &mo, argv[0]);
  if (code < 0 && a.prompts_file) code = read_prompts(&a, argv[0]);
  if (code < 0 && a.n_prompts && !a.per_prompt) a.per_prompt = 8;
  sample_run r;
  memset(&r, 0, sizeof r);
  if (code < 0 && (code = gm_cli_model_open(&mo, host, argv[0], &r.m)) == 0) {
    code = sample(&r, &a, argv[0]);
    gm_tensor_destroy(r.noise);
    gm_tensor_destroy(r.noise_out);
    gm_text_cond_free(&r.cond);
    cJSON_Delete(r.prompts);
    free(r.host);
    free(r.rgb);
    gm_cli_model_close(&r.m);
  }
  gm_cli_modelopts_free(&mo);
  free(a.file_text);
  return code;
}
