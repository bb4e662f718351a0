/* `genmoji help [COMMAND]` (also `genmoji`, `genmoji --help`): every command of every
 * loaded front-end with its summary, or one command's own --help. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

static const char usage[] =
    "Usage: genmoji help [COMMAND]\n"
    "\n"
    "Without COMMAND, lists every command of every loaded front-end plugin. With one,\n"
    "shows that command's options (the same as 'genmoji COMMAND --help').\n"
    "\n"
    "Options:\n"
    "  -h, --help  show this help\n";

static const char footer[] =
    "\n"
    "Options before COMMAND:\n"
    "  --plugin-path DIR  also look for plugins in DIR first (repeatable; DIR may be a\n"
    "                     colon-separated list)\n"
    "  -h, --help         this list (the same as 'genmoji help')\n"
    "  -V, --version      the versions (the same as 'genmoji version')\n"
    "\n"
    "Environment:\n"
    "  GM_PLUGIN_PATH     colon-separated plugin folders, searched after --plugin-path\n"
    "  GM_DEVICE          the device to use when --device is not given (index or name)\n"
    "\n"
    "Exit status: 0 ok, 1 failure, 2 bad usage.\n"
    "Run 'genmoji help COMMAND' or 'genmoji COMMAND --help' for a command's options.\n";

static void list_commands(const gm_registry *reg) {
  printf("Usage: genmoji [--plugin-path DIR]... COMMAND [OPTIONS]\n");
  int refused = 0;
  for (int i = 0; i < gm_registry_count(reg); i++) {
    const gm_plugin_record *r = gm_registry_record(reg, i);
    refused += r->plugin == NULL;
    if (!r->plugin || strcmp(r->kind, GM_PLUGIN_KIND_FRONTEND) != 0) continue;
    printf("\nCommands of the '%s' front-end:\n", r->name);
    const gm_frontend_vtable *vt = r->vtable;
    for (const gm_command *c = vt->commands; c->name; c++) {
      const gm_plugin_record *owner = NULL;
      gm_registry_find_command(reg, c->name, &owner);
      if (owner == r)
        printf("  %-10s %s\n", c->name, c->summary);
      else
        printf("  %-10s (taken by the '%s' front-end) %s\n", c->name, owner->name, c->summary);
    }
  }
  fputs(footer, stdout);
  if (refused)
    printf("\n%d plugin module%s refused: see 'genmoji plugins'.\n", refused,
           refused == 1 ? " was" : "s were");
}

int gm_cli_cmd_help(int argc, char **argv, gm_host *host) {
  static const struct option longopts[] = {
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  int c;
  while ((c = gm_cli_getopt(argc, argv, "h", longopts)) != -1) {
    if (c == 'h') return gm_cli_help(usage);
    return GM_CLI_USAGE;
  }
  const gm_registry *reg = gm_host_registry(host);
  if (optind == argc) {
    list_commands(reg);
    return GM_CLI_OK;
  }
  if (argc - optind > 1) return gm_cli_usage(argv[0], "unexpected argument '%s'", argv[optind + 1]);
  char *name = argv[optind];
  const gm_command *cmd = gm_registry_find_command(reg, name, NULL);
  if (!cmd) {
    fprintf(stderr, "genmoji: help: unknown command '%s' (see 'genmoji --help')\n", name);
    return GM_CLI_USAGE;
  }
  char help_opt[] = "--help";
  char *sub_argv[] = {name, help_opt, NULL};
  return cmd->main(2, sub_argv, host);
}
