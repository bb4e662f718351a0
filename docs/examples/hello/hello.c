/* An out-of-tree front-end plugin: adds `genmoji hello`, which opens the default device
 * and prints its name. Built against an installed genmoji (see docs/plugins.md). */
#include <genmoji/gm.h>
#include <stdio.h>

static int hello_main(int argc, char **argv, gm_host *host) {
  (void)argc;
  (void)argv;
  (void)host;
  gm_error err = {0};
  gm_device *dev = NULL;
  if (gm_device_create(&dev, NULL, &err)) {
    fprintf(stderr, "genmoji: hello: %s\n", err.msg);
    return 1;
  }
  printf("hello from %s\n", gm_device_get_info(dev)->name);
  gm_device_destroy(dev);
  return 0;
}

static const gm_command commands[] = {
    {.name = "hello", .summary = "say hello from the default device", .main = hello_main},
    {0},
};

static const gm_frontend_vtable vtable = {.size = sizeof vtable, .commands = commands};

static const gm_plugin plugin = {
    .abi = GM_PLUGIN_ABI,
    .size = sizeof plugin,
    .kind = GM_PLUGIN_KIND_FRONTEND,
    .name = "hello",
    .version = "1.0.0",
    .summary = "an example front-end built out of tree",
    .vtable = &vtable,
};

GM_PLUGIN_EXPORT const gm_plugin *gm_plugin_entry(void) { return &plugin; }
