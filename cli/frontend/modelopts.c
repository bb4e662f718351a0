/* The shared model options: parsing, finding a model plugin, its help, and a model made
 * from a checkpoint or a weights-only file for sample, eval and forward. */
#include "modelopts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gm_cli_modelopts_init(gm_cli_modelopts *o) {
  memset(o, 0, sizeof *o);
  o->use_ema = -1;
}

void gm_cli_modelopts_free(gm_cli_modelopts *o) {
  free(o->sets);
  o->sets = NULL;
  o->n_sets = 0;
}

int gm_cli_modelopts_handle(gm_cli_modelopts *o, int opt, const char *arg, gm_error *err) {
  switch (opt) {
  case GM_CLI_OPT_MODEL: o->model = arg; break;
  case GM_CLI_OPT_PRESET: o->preset = arg; break;
  case GM_CLI_OPT_DEVICE: o->device = arg; break;
  case GM_CLI_OPT_CHECKPOINT: o->checkpoint = arg; break;
  case GM_CLI_OPT_WEIGHTS: o->weights = arg; break;
  case GM_CLI_OPT_SET: {
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg)
      return gm_error_set(err, GM_EINVAL, "--set: \"%s\" is not KEY=VALUE", arg);
    const char **grown = realloc(o->sets, sizeof *grown * (size_t)(o->n_sets + 1));
    if (!grown) return gm_error_set(err, GM_ENOMEM, "--set: out of memory");
    o->sets = grown;
    o->sets[o->n_sets++] = arg;
    break;
  }
  case GM_CLI_OPT_USE_EMA:
    if (strcmp(arg, "0") != 0 && strcmp(arg, "1") != 0)
      return gm_error_set(err, GM_EINVAL, "--use-ema: \"%s\" is not 0 or 1", arg);
    o->use_ema = arg[0] == '1';
    break;
  default: return 0;
  }
  return 1;
}

int gm_cli_find_model(gm_host *host, const char *name, const gm_plugin_record **out,
                      gm_error *err) {
  const gm_registry *reg = gm_host_registry(host);
  *out = gm_registry_find(reg, GM_PLUGIN_KIND_MODEL, name);
  if (*out) return 0;
  char names[512] = "";
  size_t used = 0;
  for (int i = 0; i < gm_registry_count(reg); i++) {
    const gm_plugin_record *r = gm_registry_record(reg, i);
    if (!r->plugin || strcmp(r->kind, GM_PLUGIN_KIND_MODEL) != 0) continue;
    used += (size_t)snprintf(names + used, used < sizeof names ? sizeof names - used : 0, "%s%s",
                             used ? ", " : "", r->name);
    if (used >= sizeof names) used = sizeof names - 1;
  }
  return gm_error_set(err, GM_ENOTFOUND, "no model plugin '%s' (models: %s; see 'genmoji plugins')",
                      name, names[0] ? names : "none loaded");
}

/* ---- help ---- */

static const char *type_name(gm_option_type t) {
  switch (t) {
  case GM_OPTION_INT: return "int";
  case GM_OPTION_FLOAT: return "float";
  case GM_OPTION_BOOL: return "bool";
  case GM_OPTION_CHOICE: return "choice";
  default: return "string";
  }
}

static void print_option(const gm_model_option *o) {
  char range[128];
  gm_model_option_range(o, range, sizeof range); /* what a bad --set value's message names */
  printf("  %-16s %-7s %-10s %-16s %s\n", o->name, type_name(o->type),
         o->default_value ? o->default_value : "", range, o->help ? o->help : "");
}

void gm_cli_print_model_help(const gm_plugin_record *rec) {
  const gm_model_vtable *vt = rec->vtable;
  printf("\nModel '%s' %s: %s\n", rec->name, rec->plugin->version, rec->plugin->summary);
  printf("\nModel options (--set KEY=VALUE):\n  %-16s %-7s %-10s %-16s %s\n", "name", "type",
         "default", "range", "help");
  for (const gm_model_option *o = vt->options; o->name; o++) print_option(o);
  printf("\nPresets (--preset NAME; the first is the default):\n");
  for (const gm_model_preset *p = vt->presets; p->name; p++) {
    printf("  %-16s %s\n", p->name, p->summary ? p->summary : "");
    printf("  %-16s settings: %s\n", "", p->settings && p->settings[0] ? p->settings : "(none)");
  }
  printf("\nSamplers (sample --sampler NAME; the first is the default):");
  for (const char *const *s = vt->samplers; s && *s; s++) printf(" %s", *s);
  printf("\nLikelihood (eval): %s\n", vt->nll ? "yes" : "no");
  printf("\nTraining keys (--set KEY=VALUE or in a preset):\n");
  for (const gm_model_option *o = gm_train_keys(); o->name; o++) print_option(o);
}

/* ---- a model from a file ---- */

int gm_cli_model_image_size(const gm_model_vtable *vt, const gm_resolved_options *o) {
  gm_model_info info;
  gm_error err = {0};
  if (gm_model_describe(vt, o, &info, &err) == 0 && info.image_size > 0) return info.image_size;
  return 32;
}

/* The checkpoint's options as "key=value" strings, then the user's --set values. */
static int checkpoint_sets(gm_checkpoint *c, const gm_cli_modelopts *o, char ***sets, int *n,
                           cJSON **json, gm_error *err) {
  const char *text = gm_checkpoint_meta(c, "options");
  *json = text ? cJSON_Parse(text) : cJSON_CreateObject();
  if (!cJSON_IsObject(*json))
    return gm_error_set(err, GM_EFORMAT, "%s: metadata 'options' is not a JSON object",
                        gm_checkpoint_path(c));
  int count = cJSON_GetArraySize(*json);
  *sets = calloc((size_t)(count + o->n_sets) + 1, sizeof **sets);
  if (!*sets) return gm_error_set(err, GM_ENOMEM, "out of memory");
  *n = 0;
  for (const cJSON *v = (*json)->child; v; v = v->next) {
    if (!cJSON_IsString(v))
      return gm_error_set(err, GM_EFORMAT, "%s: option '%s' in the metadata is not a string",
                          gm_checkpoint_path(c), v->string);
    size_t len = strlen(v->string) + strlen(v->valuestring) + 2;
    char *s = malloc(len);
    if (!s) return gm_error_set(err, GM_ENOMEM, "out of memory");
    snprintf(s, len, "%s=%s", v->string, v->valuestring);
    (*sets)[(*n)++] = s;
  }
  for (int i = 0; i < o->n_sets; i++) {
    char *s = strdup(o->sets[i]);
    if (!s) return gm_error_set(err, GM_ENOMEM, "out of memory");
    (*sets)[(*n)++] = s;
  }
  return 0;
}

static void free_sets(char **sets, int n) {
  for (int i = 0; i < n; i++) free(sets[i]);
  free(sets);
}

static int has_prefix(const gm_checkpoint *c, const char *prefix) {
  for (int i = 0; i < gm_checkpoint_count(c); i++)
    if (strncmp(gm_checkpoint_entry_at(c, i)->name, prefix, strlen(prefix)) == 0) return 1;
  return 0;
}

/* Overwrites each trainable parameter with its ema.<name>. */
static int load_ema(gm_cli_model *m, gm_checkpoint *c, gm_error *err) {
  for (int i = 0; i < gm_params_count(m->params); i++) {
    const char *name;
    int kind;
    gm_tensor *p = gm_params_at(m->params, i, &name, &kind);
    if (kind != GM_PARAM_TRAINABLE) continue;
    char key[512];
    snprintf(key, sizeof key, "ema.%s", name);
    if (!gm_checkpoint_find(c, key))
      return gm_error_set(err, GM_EFORMAT, "%s: has EMA weights but no '%s'", m->file, key);
    int rc = gm_checkpoint_read_finite(c, key, p, err);
    if (rc) return rc;
  }
  return 0;
}

/* Which model and preset the file names, and the option strings to resolve. Returns an
 * exit code after printing. */
static int identify(const gm_cli_modelopts *o, gm_host *host, const char *cmd, gm_checkpoint *c,
                    gm_cli_model *m) {
  gm_error err = {0};
  const char *model = o->model, *preset = o->preset;
  char **sets = NULL;
  int n_sets = 0, code = GM_CLI_OK;
  cJSON *json = NULL;
  if (o->checkpoint) {
    model = gm_checkpoint_meta(c, "model");
    preset = gm_checkpoint_meta(c, "preset");
    if (!model || !preset) {
      return gm_cli_fail("%s: no genmoji metadata (model, preset); for a weights-only file use "
                         "--weights FILE --model NAME --preset P",
                         o->checkpoint);
    }
    if (checkpoint_sets(c, o, &sets, &n_sets, &json, &err)) code = gm_cli_fail_err(&err);
  }
  if (!code && gm_cli_find_model(host, model, &m->rec, &err))
    code = o->checkpoint ? gm_cli_fail("%s: %s", o->checkpoint, err.msg)
                         : gm_cli_usage(cmd, "%s", err.msg);
  if (!code) {
    m->vt = m->rec->vtable;
    const char *const *s = o->checkpoint ? (const char *const *)sets : o->sets;
    int n = o->checkpoint ? n_sets : o->n_sets;
    if (gm_model_options_resolve(m->vt, preset, s, n, &m->opts, &err))
      code = o->checkpoint && o->n_sets == 0 ? gm_cli_fail("%s: %s", o->checkpoint, err.msg)
                                             : gm_cli_usage(cmd, "%s", err.msg);
  }
  free_sets(sets, n_sets);
  cJSON_Delete(json);
  return code;
}

int gm_cli_model_open(const gm_cli_modelopts *o, gm_host *host, const char *cmd,
                      gm_cli_model *m) {
  memset(m, 0, sizeof *m);
  if (!o->checkpoint == !o->weights)
    return gm_cli_usage(cmd, "give --checkpoint FILE, or --weights FILE with --model NAME");
  if (o->checkpoint && (o->model || o->preset))
    return gm_cli_usage(cmd, "--checkpoint names its own model and preset; --model and --preset "
                        "go with --weights");
  if (o->weights && !o->model) return gm_cli_usage(cmd, "--weights needs --model NAME");
  m->file = o->checkpoint ? o->checkpoint : o->weights;
  gm_error err = {0};
  gm_checkpoint *c = NULL;
  if (gm_checkpoint_open(&c, m->file, &err)) return gm_cli_fail_err(&err);
  int code = identify(o, host, cmd, c, m);
  if (!code && gm_device_create(&m->dev, o->device, &err)) code = gm_cli_fail_err(&err);
  if (!code) {
    gm_rng init;
    gm_rng_init(&init, 0, 0);
    if (m->vt->create(&m->model, m->dev, m->opts.model, m->opts.n_model, &init, &err))
      code = gm_cli_fail("model '%s': %s", m->rec->name, err.msg);
    else if (!(m->params = m->vt->params(m->model)))
      code = gm_cli_fail("model '%s': params() returned nothing", m->rec->name);
  }
  if (!code) {
    const char *const ignore[] = {"optim.", "ema.", NULL};
    m->has_ema = has_prefix(c, "ema.");
    int use = o->use_ema < 0 ? m->has_ema : o->use_ema;
    if (gm_checkpoint_load_params(c, m->params, ignore, &err)) {
      code = gm_cli_fail_err(&err);
    } else if (use && !m->has_ema) {
      code = gm_cli_fail("%s: has no EMA weights (ema.*); use --use-ema 0", m->file);
    } else if (use) {
      if (load_ema(m, c, &err)) code = gm_cli_fail_err(&err);
      m->used_ema = 1;
    }
  }
  if (!code && gm_model_describe(m->vt, &m->opts, &m->info, &err))
    code = gm_cli_fail("model '%s': %s", m->rec->name, err.msg);
  const char *vocab = code ? NULL : gm_checkpoint_meta(c, GM_TEXT_VOCAB_KEY);
  if (vocab) {
    char what[4200];
    snprintf(what, sizeof what, "%s: metadata %s", m->file, GM_TEXT_VOCAB_KEY);
    if (gm_vocab_parse(&m->vocab, vocab, what, &err)) code = gm_cli_fail_err(&err);
    else if (m->info.text_condition && gm_vocab_size(m->vocab) > m->info.vocab_size)
      code = gm_cli_fail("%s: its vocabulary has %d ids, more than the model's %d", m->file,
                         gm_vocab_size(m->vocab), m->info.vocab_size);
  }
  gm_checkpoint_close(c);
  if (!code && m->vt->train_mode) m->vt->train_mode(m->model, 0);
  if (code) gm_cli_model_close(m);
  return code;
}

void gm_cli_model_close(gm_cli_model *m) {
  if (m->model) m->vt->destroy(m->model);
  m->model = NULL;
  gm_vocab_destroy(m->vocab);
  m->vocab = NULL;
  gm_model_options_free(&m->opts);
  if (m->dev) {
    gm_tape_reset(m->dev);
    gm_device_destroy(m->dev);
  }
  m->dev = NULL;
}
