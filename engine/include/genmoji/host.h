/* The plugin host: a registry of every plugin module found on the search path (the
 * loaded ones and the refused ones with the reason), and the gm_host handle that the
 * genmoji executable hands to front-end commands.
 *
 *     gm_registry *reg;
 *     gm_registry_create(&reg, NULL, 0, &err);          // GM_PLUGIN_PATH, install, build
 *     const gm_plugin_record *r = gm_registry_find(reg, "loader", "pngdir");
 *     const gm_loader_vtable *vt = r ? r->vtable : NULL; // the host's zero-filled copy
 *     ...
 *     gm_registry_destroy(reg);                          // unloads every module */
#ifndef GENMOJI_HOST_H
#define GENMOJI_HOST_H

#include "error.h"
#include "plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gm_registry gm_registry;

/* One module file the registry looked at. Strings and copies stay valid until
 * gm_registry_destroy. */
typedef struct gm_plugin_record {
  const char *path;          /* the file */
  const gm_plugin *plugin;   /* the host's zero-filled copy of the plugin's struct
                                (its vtable field points at the vtable copy below);
                                NULL when refused */
  const void *vtable;        /* the host's zero-filled copy of the kind's vtable; use this,
                                not the plugin's own pointer; NULL when refused */
  const char *kind;          /* "" when unknown (refused before reading it) */
  const char *name;          /* "" when unknown */
  const char *reason;        /* NULL when loaded; why it was refused otherwise */
} gm_plugin_record;

/* Builds the registry. Searches, in this order and each folder once: dirs (each entry may
 * be a colon-separated list, as --plugin-path gives them), env GM_PLUGIN_PATH
 * (colon-separated), the install folder (<prefix>/lib/genmoji/plugins), the build tree's
 * plugins/ folder. Loads every *.so there, in name order within a folder. Folders that
 * do not exist are skipped quietly; a module that cannot be served is recorded as refused
 * with the reason (not an error), and so is the second of two plugins with the same kind
 * and name. Fails only when out of memory. */
GM_API int gm_registry_create(gm_registry **out, const char *const *dirs, int n_dirs,
                              gm_error *err);
/* Unloads every module (safe on NULL). Records and vtables die with it. */
GM_API void gm_registry_destroy(gm_registry *r);
/* Every file looked at, loaded or refused, in search order. */
GM_API int gm_registry_count(const gm_registry *r);
GM_API const gm_plugin_record *gm_registry_record(const gm_registry *r, int i);
/* The loaded plugin of that kind and name, or NULL. */
GM_API const gm_plugin_record *gm_registry_find(const gm_registry *r, const char *kind,
                                                const char *name);
/* The folders searched, colon-separated in search order, for messages. */
GM_API const char *gm_registry_search_path(const gm_registry *r);
/* The command called `name` of the first loaded frontend (in search order) that provides
 * it, or NULL; *owner (if non-NULL) gets that frontend's record. */
GM_API const gm_command *gm_registry_find_command(const gm_registry *r, const char *name,
                                                  const gm_plugin_record **owner);

/* The host as front-ends see it: created by the genmoji executable, handed to every
 * gm_command.main. It borrows reg (the caller destroys it after the host). */
GM_API int gm_host_create(gm_host **out, gm_registry *reg, const char *argv0, gm_error *err);
GM_API void gm_host_destroy(gm_host *h);
GM_API gm_registry *gm_host_registry(gm_host *h);
/* The executable's argv[0], for messages and for re-running genmoji. */
GM_API const char *gm_host_argv0(gm_host *h);

#ifdef __cplusplus
}
#endif
#endif
