/* A test module whose gm_plugin struct or entry point is wrong in one way, chosen by a
 * GMT_* definition (see CMakeLists.txt). Its loader vtable itself is complete. */
#include <stddef.h>

#include "genmoji/loader.h"
#include "genmoji/plugin.h"

#ifndef GMT_ABI
#define GMT_ABI GM_PLUGIN_ABI
#endif
#ifndef GMT_KIND
#define GMT_KIND GM_PLUGIN_KIND_LOADER
#endif
#ifndef GMT_NAME
#define GMT_NAME "faulty"
#endif

static int probe(const char *source) { return 0; }
static int open_src(void **state, const char *source, const gm_kv *opts, int n_opts,
                    gm_error *err) {
  return GM_EUNSUPPORTED;
}
static int next(void *state, gm_image *img, gm_error *err) { return 0; }
static void close_src(void *state) {}

/* Not static, like the plugin below: some variants leave them unreferenced. */
const gm_loader_vtable gmt_vtable = {
    .size = sizeof(gm_loader_vtable),
    .probe = probe,
    .open = open_src,
    .next = next,
    .close = close_src,
};

/* A plugin built against a newer genmoji: one more field than this host knows. */
typedef struct newer_plugin {
  gm_plugin base;
  const char *licence;
} newer_plugin;

const newer_plugin gmt_plugin = {
    .base =
        {
            .abi = GMT_ABI,
#if defined(GMT_BIG_STRUCT)
            .size = sizeof(newer_plugin),
#elif defined(GMT_SMALL_STRUCT)
            /* An older plugin whose struct ended before vtable: the host must not read
             * the vtable pointer that happens to follow it here. */
            .size = offsetof(gm_plugin, vtable),
#else
            .size = sizeof(gm_plugin),
#endif
#ifndef GMT_OMIT_kind
            .kind = GMT_KIND,
#endif
#ifndef GMT_OMIT_name
            .name = GMT_NAME,
#endif
#ifndef GMT_OMIT_version
            .version = "0.0.1",
#endif
#ifndef GMT_OMIT_summary
            .summary = "a test module the host must refuse",
#endif
#ifndef GMT_OMIT_vtable
            .vtable = &gmt_vtable,
#endif
        },
    .licence = "MIT",
};

#if defined(GMT_NO_ENTRY)
GM_PLUGIN_EXPORT const gm_plugin *gm_plugin_entry_misspelt(void) { return &gmt_plugin.base; }
#elif defined(GMT_NULL_ENTRY)
/* The struct is there, the entry point just does not hand it out. */
GM_PLUGIN_EXPORT const gm_plugin *gm_plugin_entry(void) { return NULL; }
#else
GM_PLUGIN_EXPORT const gm_plugin *gm_plugin_entry(void) { return &gmt_plugin.base; }
#endif
