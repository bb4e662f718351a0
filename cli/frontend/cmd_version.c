/* `genmoji version` (also `genmoji --version`): the front-end's and the library's
 * versions and the plugin ABI they speak. */
#include <stdio.h>

#include "cli.h"
#include "commands.h"

static const char usage[] =
    "Usage: genmoji version\n"
    "\n"
    "Prints the version of genmoji, of libgenmoji and the plugin ABI number.\n"
    "\n"
    "Options:\n"
    "  -h, --help  show this help\n";

int gm_cli_cmd_version(int argc, char **argv, gm_host *host) {
  static const struct option longopts[] = {
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  int c;
  while ((c = gm_cli_getopt(argc, argv, "h", longopts)) != -1) {
    if (c == 'h') return gm_cli_help(usage);
    return GM_CLI_USAGE;
  }
  if (gm_cli_no_operands(argc, argv)) return GM_CLI_USAGE;
  printf("genmoji %s\n", GM_CLI_VERSION);
  printf("libgenmoji %s, plugin ABI %u\n", gm_version(), (unsigned)GM_PLUGIN_ABI);
  return GM_CLI_OK;
}
