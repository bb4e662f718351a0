/* A test front-end with one command, `gmt-hello`, that returns 7. GMT_NO_COMMANDS leaves
 * its command table out and GMT_NO_MAIN its command's main, for the refusal tests. */
#include <stddef.h>

#include "genmoji/plugin.h"

#if defined(GMT_NO_MAIN)
static const gm_command commands[] = {
    {"gmt-broken", "a command without a main", NULL},
    {NULL, NULL, NULL},
};
#elif !defined(GMT_NO_COMMANDS)
static int hello(int argc, char **argv, gm_host *host) { return 7; }

static const gm_command commands[] = {
    {"gmt-hello", "returns 7", hello},
    {NULL, NULL, NULL},
};
#endif

static const gm_frontend_vtable vtable = {
    .size = sizeof(gm_frontend_vtable),
#ifndef GMT_NO_COMMANDS
    .commands = commands,
#endif
};

static const gm_plugin plugin = {
    .abi = GM_PLUGIN_ABI,
    .size = sizeof(gm_plugin),
    .kind = GM_PLUGIN_KIND_FRONTEND,
#if defined(GMT_NO_COMMANDS)
    .name = "nocommands",
#elif defined(GMT_NO_MAIN)
    .name = "nomain",
#else
    .name = "gmt",
#endif
    .version = "0.0.1",
    .summary = "a front-end for the plugin host's tests",
    .vtable = &vtable,
};

GM_PLUGIN_EXPORT const gm_plugin *gm_plugin_entry(void) { return &plugin; }
