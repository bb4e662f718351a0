/* The plugin ABI. A plugin is a shared module exporting one symbol:
 *
 *     const gm_plugin *gm_plugin_entry(void);
 *
 * The returned struct starts with the ABI number and its own size. Structs here are
 * append-only: the host zero-fills the fields an older plugin lacks, refuses a newer
 * plugin whose struct is larger than the host knows, and checks that every required
 * vtable slot is set. Plugins include only <genmoji/...> headers and link libgenmoji. */
#ifndef GENMOJI_PLUGIN_H
#define GENMOJI_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever a struct that crosses the plugin boundary without a size field of its
 * own changes layout, so that a plugin built against older headers is refused instead of
 * misread. 2: gm_conv2d_opts gained `taps` (a plugin fills it, the engine reads it) and
 * gm_sample_options gained `stop_after`. */
#define GM_PLUGIN_ABI 2u
#define GM_PLUGIN_ENTRY_SYMBOL "gm_plugin_entry"

#define GM_PLUGIN_KIND_MODEL "model"
#define GM_PLUGIN_KIND_LOADER "loader"
#define GM_PLUGIN_KIND_FRONTEND "frontend"

typedef struct gm_plugin {
  uint32_t abi;            /* required: GM_PLUGIN_ABI */
  uint32_t size;           /* required: sizeof(gm_plugin) as the plugin was built */
  const char *kind;        /* required: "model" | "loader" | "frontend" */
  const char *name;        /* required: unique within its kind, [a-z0-9_-]+ */
  const char *version;     /* required: the plugin's own version */
  const char *summary;     /* required: one line */
  const void *vtable;      /* required: the kind's vtable (gm_model_vtable, ...) */
} gm_plugin;

typedef const gm_plugin *(*gm_plugin_entry_fn)(void);

/* Declares the entry point with the right visibility:
 *   GM_PLUGIN_EXPORT const gm_plugin *gm_plugin_entry(void) { return &my_plugin; } */
#if defined(__GNUC__)
#define GM_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define GM_PLUGIN_EXPORT
#endif

/* ---- frontend kind ---- */

typedef struct gm_host gm_host;   /* what the genmoji executable offers; see host.h */

typedef struct gm_command {
  const char *name;        /* "devices" */
  const char *summary;     /* one line for `genmoji --help` */
  /* argv[0] is the command name. Returns the process exit code: 0 ok, 1 failure, 2 usage. */
  int (*main)(int argc, char **argv, gm_host *host);
} gm_command;

typedef struct gm_frontend_vtable {
  uint32_t size;               /* required: sizeof(gm_frontend_vtable) as built */
  const gm_command *commands;  /* required: terminated by an entry with name == NULL */
} gm_frontend_vtable;

#ifdef __cplusplus
}
#endif
#endif
