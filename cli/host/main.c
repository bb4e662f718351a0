/* The genmoji executable: a small host that loads the plugins, finds the front-end that
 * provides the command named on the command line, and runs it. Every command, `help`
 * and `version` included, lives in a front-end plugin (cli/frontend/ for the usual ones). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "genmoji/gm.h"

/* Options the host itself takes before the command; returns the index of the command
 * (argc when there is none) or -1 after a usage error. */
static int host_options(int argc, char **argv, const char **dirs, int *n_dirs) {
  static const char opt[] = "--plugin-path";
  int i = 1;
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, opt) == 0) {
      if (i + 1 == argc) {
        fprintf(stderr, "genmoji: option '%s' needs a folder (see 'genmoji --help')\n", opt);
        return -1;
      }
      dirs[(*n_dirs)++] = argv[++i];
    } else if (strncmp(a, opt, sizeof opt - 1) == 0 && a[sizeof opt - 1] == '=') {
      dirs[(*n_dirs)++] = a + sizeof opt;
    } else {
      break;
    }
  }
  return i;
}

/* --help/-h and --version/-V are the help and version commands; no command is help. */
static const char *command_name(const char *arg) {
  if (!arg || strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) return "help";
  if (strcmp(arg, "--version") == 0 || strcmp(arg, "-V") == 0) return "version";
  return arg;
}

static int count_frontends(const gm_registry *reg) {
  int n = 0;
  for (int i = 0; i < gm_registry_count(reg); i++) {
    const gm_plugin_record *r = gm_registry_record(reg, i);
    n += r->plugin && strcmp(r->kind, GM_PLUGIN_KIND_FRONTEND) == 0;
  }
  return n;
}

static void report_no_frontend(const gm_registry *reg) {
  fprintf(stderr, "genmoji: no front-end plugin found; searched: %s\n",
          gm_registry_search_path(reg));
  for (int i = 0; i < gm_registry_count(reg); i++) {
    const gm_plugin_record *r = gm_registry_record(reg, i);
    if (r->reason) fprintf(stderr, "genmoji: refused %s: %s\n", r->path, r->reason);
  }
  fprintf(stderr,
          "genmoji: pass --plugin-path DIR or set GM_PLUGIN_PATH to the folder that holds "
          "gm_cli.so\n");
}

static int run_command(gm_registry *reg, const char *argv0, int argc, char **argv) {
  const char *name = command_name(argc > 0 ? argv[0] : NULL);
  const gm_command *cmd = gm_registry_find_command(reg, name, NULL);
  if (!cmd && count_frontends(reg) == 0) {
    report_no_frontend(reg);
    return 1;
  }
  if (!cmd) {
    fprintf(stderr, "genmoji: unknown command '%s' (see 'genmoji --help')\n", name);
    return 2;
  }
  gm_error err = {0};
  gm_host *host = NULL;
  if (gm_host_create(&host, reg, argv0, &err)) {
    fprintf(stderr, "genmoji: %s\n", err.msg);
    return 1;
  }
  /* The command sees argv[0] = its own name, then the arguments after it. */
  char **sub = calloc((size_t)argc + 2, sizeof *sub);
  if (!sub) {
    gm_host_destroy(host);
    fprintf(stderr, "genmoji: out of memory\n");
    return 1;
  }
  int n = 0;
  sub[n++] = (char *)name;
  for (int i = 1; i < argc; i++) sub[n++] = argv[i];
  int rc = cmd->main(n, sub, host);
  fflush(stdout);
  free(sub);
  gm_host_destroy(host);
  return rc;
}

int main(int argc, char **argv) {
  const char **dirs = calloc((size_t)argc + 1, sizeof *dirs);
  if (!dirs) {
    fprintf(stderr, "genmoji: out of memory\n");
    return 1;
  }
  int n_dirs = 0;
  int first = host_options(argc, argv, dirs, &n_dirs);
  if (first < 0) {
    free(dirs);
    return 2;
  }
  gm_error err = {0};
  gm_registry *reg = NULL;
  int rc;
  if (gm_registry_create(&reg, dirs, n_dirs, &err)) {
    fprintf(stderr, "genmoji: %s\n", err.msg);
    rc = 1;
  } else {
    rc = run_command(reg, argv[0], argc - first, argv + first);
  }
  gm_registry_destroy(reg);
  free(dirs);
  return rc;
}
