/* The plugin registry: finds *.so modules on the search path, loads them with dlopen,
 * checks each against the ABI and its kind's vtable, and keeps zero-filled copies of the
 * structs it accepted. A module it cannot serve is recorded with the reason, never fatal. */
#define _GNU_SOURCE /* dladdr */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "genmoji/host.h"
#include "genmoji/loader.h"
#include "genmoji/model.h"

/* What this host knows about one plugin kind. Adding a kind is one row in `kinds`. */
typedef struct kind_spec {
  const char *kind;
  size_t vtable_size; /* sizeof the host's vtable */
  /* NULL when every required slot of the (zero-filled) vtable is set, else the name of
   * the first missing one (possibly written into buf). */
  const char *(*missing_slot)(const void *vtable, char *buf, size_t n);
} kind_spec;

static const char *frontend_missing(const void *vtable, char *buf, size_t n) {
  const gm_frontend_vtable *vt = vtable;
  if (!vt->commands) return "commands";
  for (int i = 0; vt->commands[i].name; i++) {
    const gm_command *c = &vt->commands[i];
    const char *slot = !c->summary ? "summary" : !c->main ? "main" : NULL;
    if (slot) {
      snprintf(buf, n, "commands[%d].%s (command '%s')", i, slot, c->name);
      return buf;
    }
  }
  return NULL;
}

static const char *loader_missing(const void *vtable, char *buf, size_t n) {
  const gm_loader_vtable *vt = vtable;
  if (!vt->probe) return "probe";
  if (!vt->open) return "open";
  if (!vt->next) return "next";
  if (!vt->close) return "close";
  return NULL;
}

static const char *model_missing(const void *vtable, char *buf, size_t n) {
  const gm_model_vtable *vt = vtable;
  if (!vt->options) return "options";
  if (!vt->presets) return "presets";
  if (!vt->presets[0].name) return "presets (at least one)";
  if (!vt->create) return "create";
  if (!vt->destroy) return "destroy";
  if (!vt->params) return "params";
  if (!vt->forward) return "forward";
  if (!vt->loss) return "loss";
  if (!vt->sample) return "sample";
  if (!vt->samplers || !vt->samplers[0]) return "samplers";
  for (int i = 0; vt->options[i].name; i++)
    if (!vt->options[i].default_value || !vt->options[i].help) {
      snprintf(buf, n, "options[%d].%s (option '%s')", i,
               vt->options[i].default_value ? "help" : "default_value", vt->options[i].name);
      return buf;
    }
  return NULL;
}

static const kind_spec kinds[] = {
    {GM_PLUGIN_KIND_FRONTEND, sizeof(gm_frontend_vtable), frontend_missing},
    {GM_PLUGIN_KIND_LOADER, sizeof(gm_loader_vtable), loader_missing},
    {GM_PLUGIN_KIND_MODEL, sizeof(gm_model_vtable), model_missing},
};

static const kind_spec *find_kind(const char *kind) {
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
    if (strcmp(kinds[i].kind, kind) == 0) return &kinds[i];
  return NULL;
}

/* One file looked at. rec's strings are owned copies, so a refused module can be
 * unloaded at once; version/summary/vtable of a loaded one point into the module. */
typedef struct entry {
  gm_plugin_record rec;
  void *handle;      /* dlopen handle, NULL once refused */
  gm_plugin plugin;  /* the host's copy, zero-filled past the plugin's size */
  void *vtable;      /* the host's copy, kind_spec.vtable_size bytes */
  char *path, *kind, *name, *reason;
} entry;

struct gm_registry {
  entry **items;
  int n, cap;
  char *search_path;
};

typedef struct strlist {
  char **v;
  int n, cap;
} strlist;

static int strlist_push(strlist *l, const char *s, size_t len) {
  if (l->n == l->cap) {
    int cap = l->cap ? 2 * l->cap : 8;
    char **v = realloc(l->v, (size_t)cap * sizeof *v);
    if (!v) return GM_ENOMEM;
    l->v = v;
    l->cap = cap;
  }
  char *copy = malloc(len + 1);
  if (!copy) return GM_ENOMEM;
  memcpy(copy, s, len);
  copy[len] = '\0';
  l->v[l->n++] = copy;
  return 0;
}

static void strlist_free(strlist *l) {
  for (int i = 0; i < l->n; i++) free(l->v[i]);
  free(l->v);
}

/* Appends each non-empty component of a colon-separated list, without trailing slashes,
 * skipping folders already listed under the same spelling. */
static int add_dirs(strlist *l, const char *list) {
  if (!list) return 0;
  for (const char *p = list; *p;) {
    size_t len = strcspn(p, ":");
    size_t keep = len;
    while (keep > 1 && p[keep - 1] == '/') keep--;
    int seen = keep == 0;
    for (int i = 0; i < l->n && !seen; i++)
      seen = strlen(l->v[i]) == keep && memcmp(l->v[i], p, keep) == 0;
    if (!seen && strlist_push(l, p, keep)) return GM_ENOMEM;
    p += len;
    if (*p == ':') p++;
  }
  return 0;
}

static char *join_dirs(const strlist *l) {
  size_t total = 1;
  for (int i = 0; i < l->n; i++) total += strlen(l->v[i]) + 1;
  char *s = malloc(total);
  if (!s) return NULL;
  s[0] = '\0';
  for (int i = 0; i < l->n; i++) {
    if (i) strcat(s, ":");
    strcat(s, l->v[i]);
  }
  return s;
}

static void entry_free(entry *e) {
  if (!e) return;
  if (e->handle) dlclose(e->handle);
  free(e->vtable);
  free(e->path);
  free(e->kind);
  free(e->name);
  free(e->reason);
  free(e);
}

static int set_str(char **dst, const char *src) {
  char *copy = strdup(src ? src : "");
  if (!copy) return GM_ENOMEM;
  free(*dst);
  *dst = copy;
  return 0;
}

/* Writes the refusal reason; returns 1 (refused). */
static int refuse(entry *e, const char *fmt, ...) GM_PRINTF(2, 3);
static int refuse(entry *e, const char *fmt, ...) {
  char why[GM_ERROR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  return set_str(&e->reason, why) ? GM_ENOMEM : 1;
}

static int valid_name(const char *s) {
  if (!*s) return 0;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
      return 0;
  return 1;
}

static const entry *find_loaded(const gm_registry *r, const char *kind, const char *name) {
  for (int i = 0; i < r->n; i++) {
    const entry *e = r->items[i];
    if (e->handle && strcmp(e->kind, kind) == 0 && strcmp(e->name, name) == 0) return e;
  }
  return NULL;
}

/* Copies the plugin's struct (zero-filling what an older plugin lacks) and checks the
 * fields every plugin must set. Returns 0, 1 (refused) or a negative code. */
static int check_plugin_struct(entry *e, const gm_plugin *p) {
  if (p->abi != GM_PLUGIN_ABI)
    return refuse(e, "built for plugin ABI %u, this host speaks ABI %u", (unsigned)p->abi,
                  (unsigned)GM_PLUGIN_ABI);
  if (p->size > sizeof(gm_plugin))
    return refuse(e,
                  "plugin struct is %u bytes, larger than the %zu bytes this host knows "
                  "(built against a newer genmoji?)",
                  (unsigned)p->size, sizeof(gm_plugin));
  memset(&e->plugin, 0, sizeof e->plugin);
  memcpy(&e->plugin, p, p->size);
  const gm_plugin *c = &e->plugin;
  if ((c->kind && set_str(&e->kind, c->kind)) || (c->name && set_str(&e->name, c->name)))
    return GM_ENOMEM;
  const struct {
    const char *field;
    const void *value;
  } required[] = {{"kind", c->kind}, {"name", c->name}, {"version", c->version},
                  {"summary", c->summary}, {"vtable", c->vtable}};
  for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
    if (!required[i].value)
      return refuse(e, "missing required field '%s' (plugin struct of %u bytes)",
                    required[i].field, (unsigned)p->size);
  if (!valid_name(c->name))
    return refuse(e, "plugin name '%s' is not made of [a-z0-9_-]", c->name);
  return 0;
}

/* Copies the kind's vtable (zero-filled to the host's size) and checks its required
 * slots. Returns 0, 1 (refused) or a negative code. */
static int check_vtable(entry *e) {
  const kind_spec *spec = find_kind(e->kind);
  if (!spec) return refuse(e, "unknown kind '%s'", e->kind);
  uint32_t size;
  memcpy(&size, e->plugin.vtable, sizeof size);
  if (size > spec->vtable_size)
    return refuse(e,
                  "%s vtable is %u bytes, larger than the %zu bytes this host knows "
                  "(built against a newer genmoji?)",
                  spec->kind, (unsigned)size, spec->vtable_size);
  if (size < sizeof(uint32_t))
    return refuse(e, "%s vtable size %u is smaller than its own size field", spec->kind,
                  (unsigned)size);
  e->vtable = calloc(1, spec->vtable_size);
  if (!e->vtable) return GM_ENOMEM;
  memcpy(e->vtable, e->plugin.vtable, size);
  char buf[256];
  const char *slot = spec->missing_slot(e->vtable, buf, sizeof buf);
  if (slot) return refuse(e, "missing required %s vtable slot '%s'", spec->kind, slot);
  return 0;
}

/* Loads and checks one module. Returns 0 (loaded), 1 (refused) or a negative code. */
static int load_module(gm_registry *r, entry *e) {
  dlerror();
  e->handle = dlopen(e->path, RTLD_NOW | RTLD_LOCAL);
  if (!e->handle) {
    const char *why = dlerror();
    return refuse(e, "cannot be loaded as a shared module: %s", why ? why : "dlopen failed");
  }
  void *sym = dlsym(e->handle, GM_PLUGIN_ENTRY_SYMBOL);
  if (!sym) return refuse(e, "exports no %s() symbol", GM_PLUGIN_ENTRY_SYMBOL);
  gm_plugin_entry_fn entry_fn;
  memcpy(&entry_fn, &sym, sizeof entry_fn); /* object -> function pointer, as POSIX allows */
  const gm_plugin *p = entry_fn();
  if (!p) return refuse(e, "%s() returned NULL", GM_PLUGIN_ENTRY_SYMBOL);
  int rc = check_plugin_struct(e, p);
  if (rc) return rc;
  rc = check_vtable(e);
  if (rc) return rc;
  const entry *first = find_loaded(r, e->kind, e->name);
  if (first)
    return refuse(e, "duplicate %s plugin '%s': %s is already loaded from %s", e->kind,
                  e->name, e->path, first->path);
  e->plugin.vtable = e->vtable;
  return 0;
}

static int push_entry(gm_registry *r, entry *e) {
  if (r->n == r->cap) {
    int cap = r->cap ? 2 * r->cap : 16;
    entry **items = realloc(r->items, (size_t)cap * sizeof *items);
    if (!items) return GM_ENOMEM;
    r->items = items;
    r->cap = cap;
  }
  e->rec.path = e->path;
  e->rec.kind = e->kind;
  e->rec.name = e->name;
  e->rec.reason = e->reason;
  e->rec.plugin = e->reason ? NULL : &e->plugin;
  e->rec.vtable = e->reason ? NULL : e->vtable;
  r->items[r->n++] = e;
  return 0;
}

/* Records one file: loaded, or refused (and unloaded at once). */
static int add_file(gm_registry *r, const char *path, const char *reason) {
  entry *e = calloc(1, sizeof *e);
  if (!e) return GM_ENOMEM;
  int rc = set_str(&e->path, path);
  if (!rc) rc = set_str(&e->kind, "");
  if (!rc) rc = set_str(&e->name, "");
  if (!rc) rc = reason ? refuse(e, "%s", reason) : load_module(r, e);
  if (rc < 0) {
    entry_free(e);
    return rc;
  }
  if (rc == 1) {
    if (e->handle) dlclose(e->handle);
    e->handle = NULL;
    free(e->vtable);
    e->vtable = NULL;
  }
  rc = push_entry(r, e);
  if (rc) entry_free(e);
  return rc;
}

static int is_module_name(const struct dirent *d) {
  size_t len = strlen(d->d_name);
  return d->d_name[0] != '.' && len > 3 && strcmp(d->d_name + len - 3, ".so") == 0;
}

typedef struct file_id {
  dev_t dev;
  ino_t ino;
} file_id;

typedef struct seen_set {
  file_id *v;
  int n, cap;
} seen_set;

/* 1 if id was already in the set, else adds it and returns 0 (or a negative code). */
static int seen_before(seen_set *s, const struct stat *st) {
  for (int i = 0; i < s->n; i++)
    if (s->v[i].dev == st->st_dev && s->v[i].ino == st->st_ino) return 1;
  if (s->n == s->cap) {
    int cap = s->cap ? 2 * s->cap : 32;
    file_id *v = realloc(s->v, (size_t)cap * sizeof *v);
    if (!v) return GM_ENOMEM;
    s->v = v;
    s->cap = cap;
  }
  s->v[s->n++] = (file_id){st->st_dev, st->st_ino};
  return 0;
}

/* Loads every *.so of one folder in name order. A folder or file reached twice (through
 * another spelling or a link) is looked at once. */
static int scan_dir(gm_registry *r, const char *dir, seen_set *seen) {
  struct stat st;
  if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) return 0;
  int rc = seen_before(seen, &st);
  if (rc) return rc < 0 ? rc : 0;
  struct dirent **names = NULL;
  int n = scandir(dir, &names, is_module_name, alphasort);
  if (n < 0) {
    char why[512];
    snprintf(why, sizeof why, "cannot list the folder: %s", strerror(errno));
    return add_file(r, dir, why);
  }
  rc = 0;
  for (int i = 0; i < n; i++) {
    if (!rc) {
      size_t len = strlen(dir) + strlen(names[i]->d_name) + 2;
      char *path = malloc(len);
      if (!path) rc = GM_ENOMEM;
      if (path) {
        snprintf(path, len, "%s%s%s", dir, strcmp(dir, "/") ? "/" : "", names[i]->d_name);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
          rc = seen_before(seen, &st);
          rc = rc == 1 ? 0 : rc < 0 ? rc : add_file(r, path, NULL);
        }
        free(path);
      }
    }
    free(names[i]);
  }
  free(names);
  return rc;
}

/* The plugins that belong with this copy of libgenmoji: the build tree's folder when the
 * library runs from the build tree, else <libdir>/genmoji/plugins beside the library
 * (so a moved install still finds its own plugins and never a build tree's, and a build
 * tree never picks up stale installed ones). */
static const char *own_plugin_dir(void) {
  static char dir[4096];
  Dl_info info;
  if (!dladdr((void *)&gm_registry_create, &info) || !info.dli_fname)
    return GM_INSTALL_PLUGIN_DIR;
  char *lib = realpath(info.dli_fname, NULL);
  char *build = realpath(GM_BUILD_LIB_DIR, NULL);
  const char *pick = GM_INSTALL_PLUGIN_DIR;
  if (lib) {
    char *slash = strrchr(lib, '/');
    if (slash) *slash = '\0';
    if (build && strcmp(lib, build) == 0) {
      pick = GM_BUILD_PLUGIN_DIR;
    } else {
      snprintf(dir, sizeof dir, "%s/genmoji/plugins", lib);
      pick = dir;
    }
  }
  free(lib);
  free(build);
  return pick;
}

int gm_registry_create(gm_registry **out, const char *const *dirs, int n_dirs,
                       gm_error *err) {
  *out = NULL;
  if (n_dirs < 0 || (n_dirs > 0 && !dirs))
    return gm_error_set(err, GM_EINVAL, "plugin registry: %d folders given as NULL", n_dirs);
  gm_registry *r = calloc(1, sizeof *r);
  strlist list = {0};
  seen_set seen = {0};
  int rc = r ? 0 : GM_ENOMEM;
  for (int i = 0; i < n_dirs && !rc; i++) rc = add_dirs(&list, dirs[i]);
  if (!rc) rc = add_dirs(&list, getenv("GM_PLUGIN_PATH"));
  if (!rc) rc = add_dirs(&list, own_plugin_dir());
  if (!rc && !(r->search_path = join_dirs(&list))) rc = GM_ENOMEM;
  for (int i = 0; i < list.n && !rc; i++) rc = scan_dir(r, list.v[i], &seen);
  strlist_free(&list);
  free(seen.v);
  if (rc) {
    gm_registry_destroy(r);
    return gm_error_set(err, rc, "plugin registry: out of memory while loading plugins");
  }
  *out = r;
  return 0;
}

void gm_registry_destroy(gm_registry *r) {
  if (!r) return;
  /* Unload in reverse so a module never outlives one loaded after it. */
  for (int i = r->n - 1; i >= 0; i--) entry_free(r->items[i]);
  free(r->items);
  free(r->search_path);
  free(r);
}

int gm_registry_count(const gm_registry *r) { return r ? r->n : 0; }

const gm_plugin_record *gm_registry_record(const gm_registry *r, int i) {
  if (!r || i < 0 || i >= r->n) return NULL;
  return &r->items[i]->rec;
}

const gm_plugin_record *gm_registry_find(const gm_registry *r, const char *kind,
                                         const char *name) {
  if (!r || !kind || !name) return NULL;
  const entry *e = find_loaded(r, kind, name);
  return e ? &e->rec : NULL;
}

const char *gm_registry_search_path(const gm_registry *r) {
  return r && r->search_path ? r->search_path : "";
}

const gm_command *gm_registry_find_command(const gm_registry *r, const char *name,
                                           const gm_plugin_record **owner) {
  if (owner) *owner = NULL;
  if (!r || !name) return NULL;
  for (int i = 0; i < r->n; i++) {
    const entry *e = r->items[i];
    if (!e->handle || strcmp(e->kind, GM_PLUGIN_KIND_FRONTEND) != 0) continue;
    const gm_frontend_vtable *vt = e->vtable;
    for (const gm_command *c = vt->commands; c->name; c++) {
      if (strcmp(c->name, name) == 0) {
        if (owner) *owner = &e->rec;
        return c;
      }
    }
  }
  return NULL;
}
