/* `genmoji bench ops`: GFLOP/s of the GEMMs that the study's conv layers run, and
 * milliseconds of each conv layer forward and backward, on the chosen device. Timing
 * lives in the engine (bench.h); the layer list in bench_layers.h. `genmoji bench models`
 * is dispatched from here to cmd_bench_models.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_cli.h"
#include "bench_layers.h"
#include "cli.h"
#include "commands.h"

static const char usage[] =
    "Usage: genmoji bench ops [--json] [--device SEL] [--batch N[,N...]] [--repeat N]\n"
    "                         [--only gemm|conv] [--match TEXT] [--backends LIST]\n"
    "       genmoji bench models ...   (see 'genmoji bench models --help')\n"
    "\n"
    "Times, on one device, the GEMMs that the conv layers of the study's PixelCNN and U-Net\n"
    "run (forward, and the transposed products of backward: M = Cout, N = batch*H*W,\n"
    "K = Cin*kh*kw), in GFLOP/s, and each of those conv layers forward and backward, in\n"
    "milliseconds. Every time is the median of N warm repetitions, with the device\n"
    "finished before and after each. The backend column is the GEMM backend the engine\n"
    "picks (env GM_GEMM=clblast|own|native forces one). bench/blas_gemm times the host's\n"
    "BLAS on the same GEMMs.\n"
    "\n"
    "Options:\n"
    "  -d, --device SEL     a device index or name substring (see 'genmoji devices')\n"
    "  -b, --batch N[,N]    batch sizes to time (default 8; '8,64' times both)\n"
    "  -r, --repeat N       timed repetitions per row, after one warm-up (default 3)\n"
    "      --only WHAT      'gemm' or 'conv' rows only\n"
    "      --match TEXT     only layers whose name contains TEXT (e.g. 'pixelcnn.conv3')\n"
    "      --backends LIST  time every GEMM on each of these backends in turn (comma list\n"
    "                       of clblast, own, native, or 'all'; a backend the device cannot\n"
    "                       run is skipped with a note); '*' marks the engine's choice\n"
    "      --json           print one JSON object on stdout: {\"device\": {...},\n"
    "                       \"gemm_backends\": \"...\", \"repeat\": N, \"rows\": [...]}, one\n"
    "                       object per row in \"rows\": GEMM rows have op (\"gemm\"),\n"
    "                       layer, pass, trans (\"nn\", \"nt\", \"tn\"), m, n, k, batch,\n"
    "                       backend, default (the engine's choice), ms, ms_min, gflops;\n"
    "                       conv rows have op (\"conv2d\" or\n"
    "                       \"conv_transpose2x2\"), layer, pass (\"forward\" or \"backward\"),\n"
    "                       batch, backend, ms, ms_min\n"
    "  -h, --help           show this help\n";

/* parse's result after --help. */
#define HELP_SHOWN (-1)

typedef struct bench_opts {
  int json, repeat, gemm, conv;
  int batches[8], n_batches;
  const char *match, *device;
  const char *backends[3];  /* NULL: the engine's choice only */
  int n_backends;
  int skipped[3];           /* backends found unable to run */
} bench_opts;

static const char *const all_backends[3] = {"clblast", "own", "native"};

static int parse_backends(const char *s, bench_opts *o) {
  if (strcmp(s, "all") == 0) {
    for (int i = 0; i < 3; i++) o->backends[i] = all_backends[i];
    o->n_backends = 3;
    return 0;
  }
  char buf[64];
  snprintf(buf, sizeof buf, "%s", s);
  o->n_backends = 0;
  for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
       tok = strtok_r(NULL, ",", &save)) {
    int found = -1;
    for (int i = 0; i < 3; i++)
      if (strcmp(tok, all_backends[i]) == 0) found = i;
    if (found < 0 || o->n_backends == 3) return -1;
    o->backends[o->n_backends++] = all_backends[found];
  }
  return o->n_backends ? 0 : -1;
}

/* gm_cli_parse_long into an int. */
static int parse_int(const char *s, int lo, int hi, int *out) {
  long long v;
  if (gm_cli_parse_long(s, lo, hi, &v)) return -1;
  *out = (int)v;
  return 0;
}

int gm_cli_bench_int_list(const char *s, int lo, int hi, int *out, int max) {
  char buf[128];
  if (snprintf(buf, sizeof buf, "%s", s) >= (int)sizeof buf) return -1;
  int n = 0;
  for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
       tok = strtok_r(NULL, ",", &save)) {
    if (n == max || parse_int(tok, lo, hi, &out[n])) return -1;
    n++;
  }
  return n ? n : -1;
}

static int parse_batches(const char *s, bench_opts *o) {
  int n = gm_cli_bench_int_list(s, 1, 4096, o->batches, 8);
  if (n < 0) return -1;
  o->n_batches = n;
  return 0;
}

cJSON *gm_cli_bench_device_json(const gm_device_info *d) {
  cJSON *o = cJSON_CreateObject();
  gm_cli_device_fields(o, d);
  cJSON_AddStringToObject(o, "genmoji", gm_version());
  return o;
}

void gm_cli_bench_print_device(const gm_device_info *d, const char *backends) {
  printf("device: %s (%s, %s; %s, driver %s), %u compute units; genmoji %s\n", d->name,
         gm_device_type_name(d->type), d->vendor, d->version, d->driver_version,
         d->compute_units, gm_version());
  printf("gemm backends: %s\n", backends);
}

static void print_header(const gm_device_info *d, const char *backends, const bench_opts *o) {
  gm_cli_bench_print_device(d, backends);
  printf("median of %d warm repetitions\n", o->repeat);
}

static void gemm_row(cJSON *rows, const gm_cli_gemm *g, int batch, const char *backend,
                     int is_default, const gm_bench_timing *t, double gflops) {
  cJSON *r = cJSON_CreateObject();
  cJSON_AddStringToObject(r, "op", "gemm");
  cJSON_AddStringToObject(r, "layer", g->layer);
  cJSON_AddStringToObject(r, "pass", g->pass);
  cJSON_AddStringToObject(r, "trans", gm_cli_gemm_op(g));
  cJSON_AddNumberToObject(r, "m", (double)g->m);
  cJSON_AddNumberToObject(r, "n", (double)g->n);
  cJSON_AddNumberToObject(r, "k", (double)g->k);
  cJSON_AddNumberToObject(r, "batch", batch);
  cJSON_AddStringToObject(r, "backend", backend);
  cJSON_AddBoolToObject(r, "default", is_default);
  cJSON_AddNumberToObject(r, "ms", t->ms);
  cJSON_AddNumberToObject(r, "ms_min", t->ms_min);
  cJSON_AddNumberToObject(r, "gflops", gflops);
  cJSON_AddItemToArray(rows, r);
}

/* Times g on one backend (NULL: the engine's choice) and prints or collects its row. A
 * backend that cannot run on this device is noted once and skipped. */
static int bench_gemm_on(gm_device *dev, const gm_cli_gemm *g, int batch, int bi,
                         bench_opts *o, cJSON *rows, gm_error *err) {
  const char *chosen = gm_gemm_backend(dev, g->trans_a, g->trans_b, g->m, g->n, g->k);
  const char *backend = bi >= 0 ? o->backends[bi] : chosen;
  if (bi >= 0 && o->skipped[bi]) return 0;
  gm_bench_timing t;
  int rc = gm_bench_gemm(dev, bi >= 0 ? backend : NULL, g->trans_a, g->trans_b, g->m, g->n,
                         g->k, o->repeat, &t, err);
  if (rc == GM_EUNSUPPORTED && bi >= 0) {
    fprintf(stderr, "genmoji: bench: skipping backend %s: %s\n", backend, err->msg);
    o->skipped[bi] = 1;
    return 0;
  }
  if (rc) return rc;
  double gflops = 2.0 * (double)g->m * (double)g->n * (double)g->k / (t.ms * 1e6);
  int is_default = strcmp(backend, chosen) == 0;
  if (o->json) {
    gemm_row(rows, g, batch, backend, is_default, &t, gflops);
    return 0;
  }
  printf("%-20s %-10s %-2s %5d %6lld %6lld %6lld %-7s%c %9.3f %8.1f\n", g->layer, g->pass,
         gm_cli_gemm_op(g), batch, (long long)g->m, (long long)g->n, (long long)g->k, backend,
         o->n_backends && is_default ? '*' : ' ', t.ms, gflops);
  fflush(stdout);
  return 0;
}

static int bench_gemms(gm_device *dev, int batch, bench_opts *o, cJSON *rows,
                       gm_error *err) {
  gm_cli_gemm g[3 * GM_CLI_LAYER_COUNT];
  int n = gm_cli_study_gemms(batch, o->match, g);
  if (!o->json && n)
    printf("\n%-20s %-10s %-2s %5s %6s %6s %6s %-8s %9s %8s\n", "gemm of layer", "pass", "op",
           "batch", "m", "n", "k", "backend", "ms", "GFLOP/s");
  for (int i = 0; i < n; i++) {
    int rc = 0;
    if (!o->n_backends) rc = bench_gemm_on(dev, &g[i], batch, -1, o, rows, err);
    for (int b = 0; rc == 0 && b < o->n_backends; b++)
      rc = bench_gemm_on(dev, &g[i], batch, b, o, rows, err);
    if (rc) return rc;
  }
  return 0;
}

static gm_bench_conv conv_of(const gm_cli_layer *l) {
  return (gm_bench_conv){.kind = l->transpose ? GM_BENCH_CONV_T2X2 : GM_BENCH_CONV2D,
                         .cin = l->cin, .cout = l->cout, .kernel = l->kernel, .h = l->h,
                         .w = l->w, .pad = l->pad, .stride = 1, .mask = (gm_conv_mask)l->mask,
                         .bias = 1, .input_grad = l->input_grad};
}

static void conv_row(cJSON *rows, const gm_cli_layer *l, const char *pass, int batch,
                     const char *backend, const gm_bench_timing *t) {
  cJSON *r = cJSON_CreateObject();
  cJSON_AddStringToObject(r, "op", l->transpose ? "conv_transpose2x2" : "conv2d");
  cJSON_AddStringToObject(r, "layer", l->name);
  cJSON_AddStringToObject(r, "pass", pass);
  cJSON_AddNumberToObject(r, "batch", batch);
  cJSON_AddStringToObject(r, "backend", backend);
  cJSON_AddNumberToObject(r, "ms", t->ms);
  cJSON_AddNumberToObject(r, "ms_min", t->ms_min);
  cJSON_AddItemToArray(rows, r);
}

static int bench_convs(gm_device *dev, int batch, bench_opts *o, cJSON *rows,
                       gm_error *err) {
  int header = 0;
  for (int i = 0; i < GM_CLI_LAYER_COUNT; i++) {
    const gm_cli_layer *l = &gm_cli_layers[i];
    if (o->match && !strstr(l->name, o->match)) continue;
    gm_bench_conv c = conv_of(l);
    gm_bench_timing fwd, bwd;
    int rc = gm_bench_conv_layer(dev, &c, batch, o->repeat, &fwd, &bwd, err);
    if (rc) return gm_error_prefix(err, "bench %s", l->name);
    gm_cli_gemm g[3];
    gm_cli_layer_gemms(l, batch, g);
    const char *backend = gm_gemm_backend(dev, g[0].trans_a, g[0].trans_b, g[0].m, g[0].n,
                                          g[0].k);
    if (o->json) {
      conv_row(rows, l, "forward", batch, backend, &fwd);
      conv_row(rows, l, "backward", batch, backend, &bwd);
      continue;
    }
    if (!header++)
      printf("\n%-20s %5s %-7s %12s %12s\n", "conv layer", "batch", "backend", "forward ms",
             "backward ms");
    printf("%-20s %5d %-7s %12.3f %12.3f\n", l->name, batch, backend, fwd.ms, bwd.ms);
    fflush(stdout);
  }
  return 0;
}

static int parse(int argc, char **argv, bench_opts *o) {
  static const struct option longopts[] = {
      {"device", required_argument, NULL, 'd'}, {"batch", required_argument, NULL, 'b'},
      {"repeat", required_argument, NULL, 'r'}, {"only", required_argument, NULL, 'o'},
      {"match", required_argument, NULL, 'm'},  {"backends", required_argument, NULL, 'B'},
      {"json", no_argument, NULL, 'j'},         {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  *o = (bench_opts){.repeat = 3, .gemm = 1, .conv = 1, .batches = {8}, .n_batches = 1};
  int c;
  while ((c = gm_cli_getopt(argc, argv, "d:b:r:h", longopts)) != -1) {
    switch (c) {
    case 'd': o->device = optarg; break;
    case 'b':
      if (parse_batches(optarg, o))
        return gm_cli_usage(argv[0], "--batch wants sizes 1..4096 separated by commas, got '%s'",
                            optarg);
      break;
    case 'r':
      if (parse_int(optarg, 1, 1000, &o->repeat))
        return gm_cli_usage(argv[0], "--repeat wants 1..1000, got '%s'", optarg);
      break;
    case 'o':
      if (strcmp(optarg, "gemm") && strcmp(optarg, "conv"))
        return gm_cli_usage(argv[0], "--only wants 'gemm' or 'conv', got '%s'", optarg);
      o->gemm = optarg[0] == 'g';
      o->conv = !o->gemm;
      break;
    case 'm': o->match = optarg; break;
    case 'B':
      if (parse_backends(optarg, o))
        return gm_cli_usage(argv[0], "--backends wants 'all' or a comma list of clblast, own "
                            "and native, got '%s'", optarg);
      break;
    case 'j': o->json = 1; break;
    case 'h': gm_cli_help(usage); return HELP_SHOWN;
    default: return GM_CLI_USAGE;
    }
  }
  if (optind >= argc) return gm_cli_usage(argv[0], "which benchmark? (ops, models)");
  if (strcmp(argv[optind], "models") == 0)
    return gm_cli_usage(argv[0], "'models' goes first: genmoji bench models [options]");
  if (strcmp(argv[optind], "ops") != 0)
    return gm_cli_usage(argv[0], "unknown benchmark '%s' (available: ops, models)",
                        argv[optind]);
  optind++;
  return gm_cli_no_operands(argc, argv);
}

int gm_cli_cmd_bench(int argc, char **argv, gm_host *host) {
  if (argc > 1 && strcmp(argv[1], "models") == 0) {
    argv[1] = argv[0];  /* "bench" stays the name in messages */
    return gm_cli_bench_models(argc - 1, argv + 1, host);
  }
  bench_opts o;
  int rc = parse(argc, argv, &o);
  if (rc) return rc == HELP_SHOWN ? GM_CLI_OK : rc;

  gm_error err = {0};
  gm_device *dev;
  if (gm_device_create(&dev, o.device, &err)) return gm_cli_fail_err(&err);
  char backends[1024];
  gm_gemm_backends_describe(dev, backends, sizeof backends);
  cJSON *root = NULL, *rows = NULL;
  if (o.json) {
    root = cJSON_CreateObject();
    cJSON_AddItemToObject(root, "device", gm_cli_bench_device_json(gm_device_get_info(dev)));
    cJSON_AddStringToObject(root, "gemm_backends", backends);
    cJSON_AddNumberToObject(root, "repeat", o.repeat);
    rows = cJSON_AddArrayToObject(root, "rows");
  } else {
    print_header(gm_device_get_info(dev), backends, &o);
  }
  rc = 0;
  for (int i = 0; rc == 0 && i < o.n_batches; i++) {
    if (o.gemm) rc = bench_gemms(dev, o.batches[i], &o, rows, &err);
    if (rc == 0 && o.conv) rc = bench_convs(dev, o.batches[i], &o, rows, &err);
  }
  gm_device_destroy(dev);
  if (rc) {
    cJSON_Delete(root);
    return gm_cli_fail_err(&err);
  }
  return o.json ? gm_cli_print_json(root) : GM_CLI_OK;
}
