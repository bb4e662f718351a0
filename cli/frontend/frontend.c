/* The command-line front-end plugin (kind "frontend", name "cli"): its command table and
 * the one exported symbol. A new command is one row here plus its declaration in
 * commands.h. */
#include "commands.h"

static const gm_command commands[] = {
    {"devices", "list OpenCL platforms and devices; the one genmoji uses is marked",
     gm_cli_cmd_devices},
    {"plugins", "list the plugins found, and the ones refused with the reason",
     gm_cli_cmd_plugins},
    {"help", "list the commands, or show one command's options", gm_cli_cmd_help},
    {"version", "print the versions of genmoji and its library", gm_cli_cmd_version},
    {"dataset", "load a dataset, filter and preprocess it; list, draw or export it",
     gm_cli_cmd_dataset},
    {"train", "train a model plugin on a dataset; checkpoints, metrics, --resume",
     gm_cli_cmd_train},
    {"sample", "draw images from a trained model into a grid or a folder of PNGs",
     gm_cli_cmd_sample},
    {"eval", "bits per dimension of a trained model on a split of a dataset", gm_cli_cmd_eval},
    {"forward", "run a model's network on named tensors from a .safetensors file",
     gm_cli_cmd_forward},
    {"compare", "the main job: train, sample, evaluate and time both models; write a report",
     gm_cli_cmd_compare},
    {"bench", "time GEMMs and conv layers (bench ops), or training and sampling (bench models)",
     gm_cli_cmd_bench},
    {"features", "train the emoji feature network the sample-quality metrics use",
     gm_cli_cmd_features},
    {"score", "KID, Frechet distance, precision and recall of images against a dataset",
     gm_cli_cmd_score},
    {NULL, NULL, NULL},
};

static const gm_frontend_vtable vtable = {
    .size = sizeof(gm_frontend_vtable),
    .commands = commands,
};

static const gm_plugin plugin = {
    .abi = GM_PLUGIN_ABI,
    .size = sizeof(gm_plugin),
    .kind = GM_PLUGIN_KIND_FRONTEND,
    .name = "cli",
    .version = GM_CLI_VERSION,
    .summary = "the command-line front-end",
    .vtable = &vtable,
};

GM_PLUGIN_EXPORT const gm_plugin *gm_plugin_entry(void) { return &plugin; }
