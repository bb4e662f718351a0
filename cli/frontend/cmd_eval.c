/* `genmoji eval`: bits per dimension of a trained model on one split of a dataset, for
 * models that provide a likelihood (nll): the mean over images of each image's value. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "commands.h"
#include "dataopts.h"
#include "modelopts.h"

enum { OPT_SPLIT = 0x2000, OPT_T_SAMPLES, OPT_BATCH, OPT_SEED, OPT_JSON };

static const char usage[] =
    "Usage: genmoji eval (--checkpoint FILE | --weights FILE --model NAME [--preset P])\n"
    "                    --data SRC [FILTERS] [--split heldout|train|all] [--json]\n"
    "\n"
    "The model's negative log-likelihood (or its bound) in bits per dimension (3 x S x S\n"
    "subpixels of 16 levels each), averaged over the images of a split. Models without a\n"
    "likelihood cannot be evaluated. A text-conditioned model is scored twice, with the\n"
    "empty text and with each image's own text: the difference is the information the\n"
    "text carries, in bits/dim.\n"
    "\n" GM_CLI_WEIGHTOPTS_HELP
    "\n" GM_CLI_DATAOPTS_HELP
    "\n"
    "Evaluation:\n"
    "      --split S            heldout (default), train or all\n"
    "      --t-samples K        diffusion bound from K random timesteps per image,\n"
    "                           0..1048576 (default 0: every timestep, exact but slow)\n"
    "      --batch N            images per evaluation batch, 1..65536 (default 32)\n"
    "      --seed S             random numbers the bound draws, 0..2^63-1 (default 0)\n"
    "\n"
    "Output:\n"
    "      --json               print {bits_per_dim, images, split, model, preset,\n"
    "                           t_samples, seconds, use_ema}; a text model also\n"
    "                           conditional_bits_per_dim and text_bits_per_dim\n"
    "  -h, --help               show this help\n";

typedef struct eval_args {
  const char *split;
  int heldout; /* 1, 0 or -1 (all) */
  long long t_samples, batch;
  unsigned long long seed;
  int json;
} eval_args;

static int handle(eval_args *a, int c, const char *arg, const char *cmd) {
  long long v;
  switch (c) {
  case OPT_SPLIT:
    if (strcmp(arg, "heldout") == 0) a->heldout = 1;
    else if (strcmp(arg, "train") == 0) a->heldout = 0;
    else if (strcmp(arg, "all") == 0) a->heldout = -1;
    else return 10 + gm_cli_usage(cmd, "--split: \"%s\" is not heldout, train or all", arg);
    a->split = arg;
    return 1;
  case OPT_T_SAMPLES:
    if (gm_cli_parse_long(arg, 0, 1 << 20, &a->t_samples))
      return 10 + gm_cli_usage(cmd, "--t-samples: \"%s\" is not an integer in 0..1048576", arg);
    return 1;
  case OPT_BATCH:
    if (gm_cli_parse_long(arg, 1, 1 << 16, &a->batch))
      return 10 + gm_cli_usage(cmd, "--batch: \"%s\" is not an integer in 1..65536", arg);
    return 1;
  case OPT_SEED:
    if (gm_cli_parse_long(arg, 0, INT64_MAX, &v))
      return 10 + gm_cli_usage(cmd, "--seed: \"%s\" is not an integer in 0..2^63-1", arg);
    a->seed = (unsigned long long)v;
    return 1;
  case OPT_JSON: a->json = 1; return 1;
  default: return 0;
  }
}

/* The texts of images idx[0..k) as a condition (k rows) on the model's device. */
static int texts_of(gm_cli_model *m, const gm_dataset *ds, const int *idx, int k,
                    gm_text_cond *c, gm_error *err) {
  const char **texts = malloc(sizeof *texts * (size_t)k);
  if (!texts) return gm_error_set(err, GM_ENOMEM, "eval: out of memory");
  for (int i = 0; i < k; i++) texts[i] = gm_dataset_get(ds, idx[i])->text;
  int rc = gm_text_cond_create(m->dev, k, c, err);
  if (!rc) rc = gm_text_batch_write(m->vocab, texts, k, c->ids, c->mask, c->empty, NULL, err);
  free(texts);
  return rc;
}

/* The mean bits/dim over idx[0..n), batch by batch, weighted by batch size; with_text:
 * each image scored with its own text (a text model), else with the empty one. The same
 * seed draws the same noise levels either way, so the two are paired. */
static int evaluate(gm_cli_model *m, const gm_dataset *ds, const int *idx, int n,
                    const eval_args *a, int with_text, double *bpd, gm_error *err) {
  int s = gm_dataset_size(ds), b = (int)a->batch, rc = 0;
  gm_nll_options no = {.t_samples = (int)a->t_samples};
  gm_rng rng;
  gm_rng_init(&rng, a->seed, 3);
  double sum = 0;
  gm_grad_enable(m->dev, 0);
  for (int i = 0; !rc && i < n; i += b) {
    int k = n - i < b ? n - i : b;
    gm_tensor *x = NULL;
    double v = 0;
    gm_tape_reset(m->dev);
    rc = gm_tensor_create(&x, m->dev, GM_F32, 4, GM_SHAPE(k, 3, s, s), err);
    if (!rc) rc = gm_dataset_batch(ds, idx + i, k, NULL, GM_PIXELS_RAW, x, err);
    gm_text_cond c = {NULL, NULL, NULL};
    if (!rc && with_text) rc = texts_of(m, ds, idx + i, k, &c, err);
    no.cond = with_text ? &c : NULL;
    if (!rc) {
      rc = m->vt->nll(m->model, x, &no, &rng, &v, err);
      if (rc) gm_error_prefix(err, "%s: model '%s' nll", m->file, m->rec->name);
    }
    gm_text_cond_free(&c);
    if (!rc && !isfinite(v))
      rc = gm_error_set(err, GM_ENUMERIC, "%s: model '%s' nll: %g bits/dim on images %d..%d",
                        m->file, m->rec->name, v, i, i + k - 1);
    sum += v * k;
    gm_tensor_destroy(x);
  }
  gm_tape_reset(m->dev);
  *bpd = sum / n;
  return rc;
}

static int eval(gm_cli_model *m, const gm_cli_dataopts *d, const eval_args *a, gm_host *host) {
  gm_error err = {0};
  if (!m->vt->nll)
    return gm_cli_fail("eval: model '%s' has no likelihood (nll), so it cannot be evaluated in "
                       "bits/dim", m->rec->name);
  gm_dataset *ds = NULL;
  if (gm_cli_dataopts_load(d, host, &ds, NULL, &err)) return gm_cli_fail_err(&err);
  int n = gm_dataset_split(ds, a->heldout, NULL, 0);
  int *idx = malloc(sizeof *idx * (size_t)(n ? n : 1));
  int code = GM_CLI_OK;
  if (!idx) code = gm_cli_fail("out of memory");
  else if (n == 0)
    code = gm_cli_fail("eval: the %s split of %s is empty (%d images)", a->split, d->data,
                       gm_dataset_count(ds));
  double bpd = 0, cond_bpd = NAN, t0 = gm_cli_now();
  int text = m->info.text_condition && m->vocab;
  if (!code) {
    gm_dataset_split(ds, a->heldout, idx, n);
    if (evaluate(m, ds, idx, n, a, 0, &bpd, &err)) code = gm_cli_fail_err(&err);
    if (!code && text && evaluate(m, ds, idx, n, a, 1, &cond_bpd, &err))
      code = gm_cli_fail_err(&err);
  }
  double seconds = gm_cli_now() - t0;
  free(idx);
  gm_dataset_destroy(ds);
  if (code) return code;
  if (a->json) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "bits_per_dim", bpd);
    cJSON_AddNumberToObject(o, "images", n);
    cJSON_AddStringToObject(o, "split", a->split);
    cJSON_AddStringToObject(o, "model", m->rec->name);
    cJSON_AddStringToObject(o, "preset", m->opts.preset->name);
    cJSON_AddNumberToObject(o, "t_samples", (double)a->t_samples);
    cJSON_AddNumberToObject(o, "seconds", seconds);
    cJSON_AddBoolToObject(o, "use_ema", m->used_ema);
    if (text) {
      cJSON_AddNumberToObject(o, "conditional_bits_per_dim", cond_bpd);
      cJSON_AddNumberToObject(o, "text_bits_per_dim", bpd - cond_bpd);
    }
    return gm_cli_print_json(o);
  }
  printf("%.4f bits/dim over %d %s image%s (model %s, preset %s%s)\n", bpd, n, a->split,
         n == 1 ? "" : "s", m->rec->name, m->opts.preset->name, m->used_ema ? ", EMA weights" : "");
  if (text)
    printf("%.4f bits/dim with each image's own text: the text carries %.4f bits/dim\n",
           cond_bpd, bpd - cond_bpd);
  return GM_CLI_OK;
}

int gm_cli_cmd_eval(int argc, char **argv, gm_host *host) {
  static const struct option longopts[] = {
      GM_CLI_DATAOPTS_LONGOPTS,
      GM_CLI_MODELOPTS_LONGOPTS,
      GM_CLI_WEIGHTOPTS_LONGOPTS,
      {"split", required_argument, NULL, OPT_SPLIT},
      {"t-samples", required_argument, NULL, OPT_T_SAMPLES},
      {"batch", required_argument, NULL, OPT_BATCH},
      {"seed", required_argument, NULL, OPT_SEED},
      {"json", no_argument, NULL, OPT_JSON},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  gm_cli_dataopts d;
  gm_cli_dataopts_init(&d);
  gm_cli_modelopts mo;
  gm_cli_modelopts_init(&mo);
  eval_args a = {.split = "heldout", .heldout = 1, .batch = 32};
  gm_error err = {0};
  int c, code = -1;
  while (code < 0 && (c = gm_cli_getopt(argc, argv, "h", longopts)) != -1) {
    int r = gm_cli_dataopts_handle(&d, c, optarg, &err);
    if (r == 0) r = gm_cli_modelopts_handle(&mo, c, optarg, &err);
    if (r < 0) code = gm_cli_usage(argv[0], "%s", err.msg);
    else if (r == 0 && c == 'h') code = gm_cli_help(usage);
    else if (r == 0 && (r = handle(&a, c, optarg, argv[0])) == 0) code = GM_CLI_USAGE;
    else if (r >= 10) code = r - 10;
  }
  if (code < 0 && gm_cli_no_operands(argc, argv)) code = GM_CLI_USAGE;
  if (code < 0 && gm_cli_dataopts_check(&d, host, &err))
    code = gm_cli_usage(argv[0], "%s", err.msg);
  gm_cli_model m;
  if (code < 0 && (code = gm_cli_model_open(&mo, host, argv[0], &m)) == 0) {
    code = eval(&m, &d, &a, host);
    gm_cli_model_close(&m);
  }
  gm_cli_modelopts_free(&mo);
  return code;
}
