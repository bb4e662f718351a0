/* gm_host: what the genmoji executable hands to front-end commands (the plugin registry
 * and how the program was invoked). */
#include <stdlib.h>
#include <string.h>

#include "genmoji/host.h"

struct gm_host {
  gm_registry *reg; /* borrowed */
  char *argv0;
};

int gm_host_create(gm_host **out, gm_registry *reg, const char *argv0, gm_error *err) {
  *out = NULL;
  if (!reg) return gm_error_set(err, GM_EINVAL, "host: no plugin registry given");
  gm_host *h = calloc(1, sizeof *h);
  char *name = strdup(argv0 ? argv0 : "genmoji");
  if (!h || !name) {
    free(h);
    free(name);
    return gm_error_set(err, GM_ENOMEM, "host: out of memory");
  }
  h->reg = reg;
  h->argv0 = name;
  *out = h;
  return 0;
}

void gm_host_destroy(gm_host *h) {
  if (!h) return;
  free(h->argv0);
  free(h);
}

gm_registry *gm_host_registry(gm_host *h) { return h ? h->reg : NULL; }

const char *gm_host_argv0(gm_host *h) { return h ? h->argv0 : "genmoji"; }
