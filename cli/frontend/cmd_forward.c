/* `genmoji forward`: the model's network on named input tensors from a .safetensors file,
 * its named outputs written to another: the bridge for checking a model against another
 * framework tensor for tensor (PixelCNN: x -> logits; DDPM: x, t -> eps). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "modelopts.h"

enum { OPT_IN = 0x2000, OPT_OUT, OPT_TRAIN_MODE, OPT_JSON };

#define MAX_OUT 16

static const char usage[] =
    "Usage: genmoji forward (--checkpoint FILE | --weights FILE --model NAME [--preset P])\n"
    "                       --in IN.safetensors --out OUT.safetensors [--json]\n"
    "\n"
    "Runs the model's network on every tensor of IN, passed under its own name, and\n"
    "writes every output under its name to OUT (PixelCNN: x -> logits; DDPM: x, t -> eps;\n"
    "'genmoji plugins' and the model's docs give the names). Evaluation behaviour (batch\n"
    "norm running statistics) unless --train-mode.\n"
    "\n" GM_CLI_WEIGHTOPTS_HELP
    "\n"
    "Tensors:\n"
    "      --in FILE            the inputs (.safetensors; F32, or integers as I32)\n"
    "      --out FILE           the outputs (.safetensors, F32)\n"
    "      --train-mode         training behaviour (batch statistics) instead\n"
    "\n"
    "Output:\n"
    "      --json               print {model, preset, out, outputs: [{name, shape}]}\n"
    "  -h, --help               show this help\n";

static void shape_json(cJSON *arr, const gm_tensor *t) {
  for (int d = 0; d < t->ndim; d++) cJSON_AddItemToArray(arr, cJSON_CreateNumber((double)t->shape[d]));
}

static int run_forward(gm_cli_model *m, const char *in_path, const char *out_path, int train,
                       int json) {
  gm_error err = {0};
  gm_checkpoint *c = NULL;
  if (gm_checkpoint_open(&c, in_path, &err)) return gm_cli_fail_err(&err);
  int n_in = gm_checkpoint_count(c), code = GM_CLI_OK;
  gm_named_tensor *in = calloc((size_t)n_in + 1, sizeof *in);
  if (!in) code = gm_cli_fail("out of memory");
  else if (n_in == 0) code = gm_cli_fail("%s: holds no tensors", in_path);
  for (int i = 0; !code && i < n_in; i++) {
    in[i].name = gm_checkpoint_entry_at(c, i)->name;
    if (gm_checkpoint_read_new(c, in[i].name, m->dev, &in[i].tensor, &err))
      code = gm_cli_fail_err(&err);
  }
  gm_named_tensor out[MAX_OUT];
  int n_out = 0;
  if (!code) {
    gm_grad_enable(m->dev, 0);
    if (train && m->vt->train_mode) m->vt->train_mode(m->model, 1);
    if (m->vt->forward(m->model, in, n_in, out, MAX_OUT, &n_out, &err)) {
      char names[256] = "";
      size_t used = 0;
      for (const char *const *s = m->vt->forward_inputs; s && *s && used < sizeof names; s++)
        used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", used ? ", " : "", *s);
      code = gm_cli_fail("model '%s' forward on %s: %s%s%s%s", m->rec->name, in_path, err.msg,
                         names[0] ? " (its inputs: " : "", names, names[0] ? ")" : "");
    }
    else if (n_out <= 0 || n_out > MAX_OUT)
      code = gm_cli_fail("model '%s' forward: %d outputs", m->rec->name, n_out);
  }
  if (!code) {
    /* the header is JSON that other readers (safetensors in Python) parse strictly */
    char *weights = gm_cli_utf8_fix(m->file);
    const gm_kv meta[] = {{"model", m->rec->name}, {"preset", m->opts.preset->name},
                          {"weights", weights ? weights : ""}};
    if (!weights) code = gm_cli_fail("out of memory");
    else if (gm_checkpoint_write(out_path, out, n_out, meta, 3, &err)) code = gm_cli_fail_err(&err);
    free(weights);
  }
  if (!code && json) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", m->rec->name);
    cJSON_AddStringToObject(o, "preset", m->opts.preset->name);
    cJSON_AddStringToObject(o, "out", out_path);
    cJSON *outs = cJSON_AddArrayToObject(o, "outputs");
    for (int i = 0; i < n_out; i++) {
      cJSON *e = cJSON_CreateObject();
      cJSON_AddStringToObject(e, "name", out[i].name);
      shape_json(cJSON_AddArrayToObject(e, "shape"), out[i].tensor);
      cJSON_AddItemToArray(outs, e);
    }
    code = gm_cli_print_json(o);
  } else if (!code) {
    for (int i = 0; i < n_out; i++) {
      char shape[96];
      printf("%s %s\n", out[i].name, gm_shape_str(out[i].tensor, shape, sizeof shape));
    }
    printf("wrote %d tensor%s to %s\n", n_out, n_out == 1 ? "" : "s", out_path);
  }
  gm_tape_reset(m->dev);
  for (int i = 0; in && i < n_in; i++) gm_tensor_destroy(in[i].tensor);
  free(in);
  gm_checkpoint_close(c);
  return code;
}

int gm_cli_cmd_forward(int argc, char **argv, gm_host *host) {
  static const struct option longopts[] = {
      GM_CLI_MODELOPTS_LONGOPTS,
      GM_CLI_WEIGHTOPTS_LONGOPTS,
      {"in", required_argument, NULL, OPT_IN},
      {"out", required_argument, NULL, OPT_OUT},
      {"train-mode", no_argument, NULL, OPT_TRAIN_MODE},
      {"json", no_argument, NULL, OPT_JSON},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  gm_cli_modelopts mo;
  gm_cli_modelopts_init(&mo);
  const char *in = NULL, *out = NULL;
  int train = 0, json = 0, c, code = -1;
  gm_error err = {0};
  while (code < 0 && (c = gm_cli_getopt(argc, argv, "h", longopts)) != -1) {
    int r = gm_cli_modelopts_handle(&mo, c, optarg, &err);
    if (r < 0) code = gm_cli_usage(argv[0], "%s", err.msg);
    if (r != 0) continue;
    switch (c) {
    case OPT_IN: in = optarg; break;
    case OPT_OUT: out = optarg; break;
    case OPT_TRAIN_MODE: train = 1; break;
    case OPT_JSON: json = 1; break;
    case 'h': code = gm_cli_help(usage); break;
    default: code = GM_CLI_USAGE; break;
    }
  }
  if (code < 0 && gm_cli_no_operands(argc, argv)) code = GM_CLI_USAGE;
  if (code < 0 && !in) code = gm_cli_usage(argv[0], "--in IN.safetensors is required");
  if (code < 0 && !out) code = gm_cli_usage(argv[0], "--out OUT.safetensors is required");
  const gm_cli_path ins[] = {{"--checkpoint", mo.checkpoint}, {"--weights", mo.weights},
                             {"--in", in}};
  const gm_cli_path outs[] = {{"--out", out}};
  if (code < 0 && gm_cli_check_outputs(argv[0], ins, 3, outs, 1)) code = GM_CLI_USAGE;
  gm_cli_model m;
  if (code < 0 && (code = gm_cli_model_open(&mo, host, argv[0], &m)) == 0) {
    code = run_forward(&m, in, out, train, json);
    gm_cli_model_close(&m);
  }
  gm_cli_modelopts_free(&mo);
  return code;
}
