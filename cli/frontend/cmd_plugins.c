/* `genmoji plugins`: every plugin module the host found, the loaded ones with kind, name,
 * version and summary, and the refused ones with the reason. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

static const char usage[] =
    "Usage: genmoji plugins [--json]\n"
    "\n"
    "Lists the plugin modules found on the search path (--plugin-path, env\n"
    "GM_PLUGIN_PATH, the install folder, the build tree): the loaded ones, and the\n"
    "refused ones with the reason.\n"
    "\n"
    "Options:\n"
    "      --json  print {\"search_path\": ..., \"plugins\": [...], \"refused\": [...]}\n"
    "  -h, --help  show this help\n";

static int print_json(const gm_registry *reg) {
  cJSON *root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "search_path", gm_registry_search_path(reg));
  cJSON *loaded = cJSON_AddArrayToObject(root, "plugins");
  cJSON *refused = cJSON_AddArrayToObject(root, "refused");
  for (int i = 0; i < gm_registry_count(reg); i++) {
    const gm_plugin_record *r = gm_registry_record(reg, i);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kind", r->kind);
    cJSON_AddStringToObject(o, "name", r->name);
    if (r->plugin) {
      cJSON_AddStringToObject(o, "version", r->plugin->version);
      cJSON_AddStringToObject(o, "summary", r->plugin->summary);
    }
    cJSON_AddStringToObject(o, "path", r->path);
    if (r->reason) cJSON_AddStringToObject(o, "reason", r->reason);
    cJSON_AddItemToArray(r->plugin ? loaded : refused, o);
  }
  return gm_cli_print_json(root);
}

static void print_text(const gm_registry *reg) {
  int n_loaded = 0, n_refused = 0;
  for (int i = 0; i < gm_registry_count(reg); i++) {
    const gm_plugin_record *r = gm_registry_record(reg, i);
    if (!r->plugin) {
      n_refused++;
      continue;
    }
    if (n_loaded++ == 0) printf("%-9s %-12s %-9s %s\n", "KIND", "NAME", "VERSION", "SUMMARY");
    printf("%-9s %-12s %-9s %s\n", r->kind, r->name, r->plugin->version, r->plugin->summary);
    printf("%-9s from %s\n", "", r->path);
  }
  if (n_loaded == 0) printf("no plugin loaded\n");
  if (n_refused) printf("\nrefused:\n");
  for (int i = 0; i < gm_registry_count(reg); i++) {
    const gm_plugin_record *r = gm_registry_record(reg, i);
    if (r->plugin) continue;
    if (r->kind[0] && r->name[0])
      printf("  %s (%s '%s')\n", r->path, r->kind, r->name);
    else
      printf("  %s\n", r->path);
    printf("    %s\n", r->reason);
  }
  printf("\nsearched: %s\n", gm_registry_search_path(reg));
}

int gm_cli_cmd_plugins(int argc, char **argv, gm_host *host) {
  static const struct option longopts[] = {
      {"json", no_argument, NULL, 'j'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  int json = 0, c;
  while ((c = gm_cli_getopt(argc, argv, "h", longopts)) != -1) {
    switch (c) {
    case 'j': json = 1; break;
    case 'h': return gm_cli_help(usage);
    default: return GM_CLI_USAGE;
    }
  }
  if (gm_cli_no_operands(argc, argv)) return GM_CLI_USAGE;
  const gm_registry *reg = gm_host_registry(host);
  if (json) return print_json(reg);
  print_text(reg);
  return GM_CLI_OK;
}
