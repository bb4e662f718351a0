/* The model options the model commands share (train, sample, eval, forward, compare):
 * --model, --preset, --set, --device, and for commands that start from weights
 * --checkpoint, --weights and --use-ema; finding a model plugin, showing its options,
 * creating the model and loading its weights.
 *
 *     static const struct option longopts[] = {GM_CLI_MODELOPTS_LONGOPTS,
 *                                              GM_CLI_WEIGHTOPTS_LONGOPTS, ..., {0}};
 *     gm_cli_modelopts m; gm_cli_modelopts_init(&m);
 *     ... r = gm_cli_modelopts_handle(&m, c, optarg, &err);  // like dataopts
 *     gm_cli_model model;
 *     int code = gm_cli_model_open(&m, host, argv[0], &model);  // prints; 0, 1 or 2
 *     ...
 *     gm_cli_model_close(&model);
 *     gm_cli_modelopts_free(&m);
 */
#ifndef GM_CLI_MODELOPTS_H
#define GM_CLI_MODELOPTS_H

#include "cli.h"

typedef struct gm_cli_modelopts {
  const char *model;       /* --model NAME */
  const char *preset;      /* --preset P; NULL = the model's first */
  const char **sets;       /* --set key=value, in order (malloc'd array into argv) */
  int n_sets;
  const char *device;      /* --device SEL; NULL = GM_DEVICE or the default */
  const char *checkpoint;  /* --checkpoint FILE */
  const char *weights;     /* --weights FILE */
  int use_ema;             /* --use-ema 0|1; -1 = 1 when the file has ema.* tensors */
} gm_cli_modelopts;

enum {
  GM_CLI_OPT_MODEL = 0x1100,
  GM_CLI_OPT_PRESET,
  GM_CLI_OPT_SET,
  GM_CLI_OPT_DEVICE,
  GM_CLI_OPT_CHECKPOINT,
  GM_CLI_OPT_WEIGHTS,
  GM_CLI_OPT_USE_EMA
};

#define GM_CLI_MODELOPTS_LONGOPTS                              \
  {"model", required_argument, NULL, GM_CLI_OPT_MODEL},        \
  {"preset", required_argument, NULL, GM_CLI_OPT_PRESET},      \
  {"set", required_argument, NULL, GM_CLI_OPT_SET},            \
  {"device", required_argument, NULL, GM_CLI_OPT_DEVICE}

#define GM_CLI_WEIGHTOPTS_LONGOPTS                                  \
  {"checkpoint", required_argument, NULL, GM_CLI_OPT_CHECKPOINT},   \
  {"weights", required_argument, NULL, GM_CLI_OPT_WEIGHTS},         \
  {"use-ema", required_argument, NULL, GM_CLI_OPT_USE_EMA}

#define GM_CLI_DEVICE_HELP                                                           \
  "      --device SEL         OpenCL device: an index or a name substring (default:\n" \
  "                           GM_DEVICE, else the first GPU, else the first device)\n"

#define GM_CLI_WEIGHTOPTS_HELP                                                           \
  "Model:\n"                                                                             \
  "      --checkpoint FILE    a genmoji checkpoint (its metadata names the model,\n"       \
  "                           preset and options)\n"                                      \
  "      --weights FILE       a weights-only .safetensors (e.g. saved from PyTorch with\n" \
  "                           the study's key names); needs --model, and --preset\n"      \
  "                           and --set as the weights were trained\n"                    \
  "      --model NAME         the model plugin (with --weights)\n"                        \
  "      --preset P           the model's preset (with --weights; default: its first)\n" \
  "      --set KEY=VALUE      a model option on top of the preset (repeatable)\n"         \
  "      --use-ema 0|1        use the EMA weights (ema.*) in place of the live ones\n"    \
  "                           (default 1 when the file has them)\n" GM_CLI_DEVICE_HELP

void gm_cli_modelopts_init(gm_cli_modelopts *o);
void gm_cli_modelopts_free(gm_cli_modelopts *o);
/* One getopt_long result: 1 when opt is one of the options above (arg taken), 0 when it
 * is not, a negative code with a message for a bad value (a usage error). */
int gm_cli_modelopts_handle(gm_cli_modelopts *o, int opt, const char *arg, gm_error *err);

/* The loaded model plugin called name; GM_ENOTFOUND naming the models there are. */
int gm_cli_find_model(gm_host *host, const char *name, const gm_plugin_record **out,
                      gm_error *err);
/* Prints a model's options (name, type, default, range or choices, help), its presets
 * with their settings and the training keys, on stdout. */
void gm_cli_print_model_help(const gm_plugin_record *rec);

/* A model made ready for sample, eval or forward. */
typedef struct gm_cli_model {
  const gm_plugin_record *rec;
  const gm_model_vtable *vt;
  gm_resolved_options opts;
  gm_device *dev;
  gm_model *model;
  gm_params *params;
  const char *file;        /* the --checkpoint or --weights file */
  int has_ema;             /* the file has ema.* tensors */
  int used_ema;            /* they were loaded in place of the weights */
  gm_model_info info;      /* the model's metadata for its options */
  gm_vocab *vocab;         /* a text model's vocabulary from the checkpoint's metadata
                              (GM_TEXT_VOCAB_KEY); NULL when the file has none */
} gm_cli_model;

/* From --checkpoint (model, preset and options from its metadata, --set on top) or
 * --weights with --model/--preset/--set: finds the plugin, opens the device, creates the
 * model, loads the weights (EMA per --use-ema) and puts it in evaluation mode. Prints
 * any error itself ("genmoji: ..."); returns the exit code: 0, 1, or 2 for bad usage
 * (both or neither file, an unknown model or preset, a bad --set). */
int gm_cli_model_open(const gm_cli_modelopts *o, gm_host *host, const char *cmd,
                      gm_cli_model *m);
void gm_cli_model_close(gm_cli_model *m);

/* The side of the images a model makes for these options, as its metadata says
 * (gm_model_info.image_size), else 32. */
int gm_cli_model_image_size(const gm_model_vtable *vt, const gm_resolved_options *o);

#endif
