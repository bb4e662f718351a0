/* What the host and model plugins share about options: resolving a preset plus --set
 * values into a complete, checked option list, and typed key/value lookups. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "genmoji/model.h"

const char *gm_kv_get(const gm_kv *kv, int n, const char *key) {
  for (int i = n - 1; i >= 0; i--)  /* the last setting wins */
    if (strcmp(kv[i].key, key) == 0) return kv[i].value;
  return NULL;
}

static int parse_int(const char *s, int64_t *out) {
  if (!s || !*s) return -1;
  errno = 0;
  char *end = NULL;
  long long v = strtoll(s, &end, 10);
  if (errno || *end) return -1;
  *out = v;
  return 0;
}

static int parse_float(const char *s, double *out) {
  if (!s || !*s) return -1;
  errno = 0;
  char *end = NULL;
  double v = strtod(s, &end);
  if (errno || *end || !isfinite(v)) return -1;
  *out = v;
  return 0;
}

static int parse_bool(const char *s, int *out) {
  if (!s) return -1;
  if (!strcmp(s, "1") || !strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on")) {
    *out = 1;
    return 0;
  }
  if (!strcmp(s, "0") || !strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off")) {
    *out = 0;
    return 0;
  }
  return -1;
}

int gm_kv_int(const gm_kv *kv, int n, const char *key, int64_t *out, gm_error *err) {
  const char *v = gm_kv_get(kv, n, key);
  if (!v) return gm_error_set(err, GM_ENOTFOUND, "option '%s' is not set", key);
  if (parse_int(v, out)) return gm_error_set(err, GM_EINVAL, "option %s=%s: not an integer", key, v);
  return 0;
}

int gm_kv_float(const gm_kv *kv, int n, const char *key, double *out, gm_error *err) {
  const char *v = gm_kv_get(kv, n, key);
  if (!v) return gm_error_set(err, GM_ENOTFOUND, "option '%s' is not set", key);
  if (parse_float(v, out)) return gm_error_set(err, GM_EINVAL, "option %s=%s: not a number", key, v);
  return 0;
}

int gm_kv_bool(const gm_kv *kv, int n, const char *key, int *out, gm_error *err) {
  const char *v = gm_kv_get(kv, n, key);
  if (!v) return gm_error_set(err, GM_ENOTFOUND, "option '%s' is not set", key);
  if (parse_bool(v, out))
    return gm_error_set(err, GM_EINVAL, "option %s=%s: not a boolean (0/1/true/false)", key, v);
  return 0;
}

/* ---- resolving presets and --set values ---- */

/* The training keys. Bounds are inclusive except where train_open says otherwise: lr
 * must be > 0, an EMA decay < 1. The CLI's help prints this table. */
static const gm_model_option train_options[] = {
    {"lr", GM_OPTION_FLOAT, "1e-3", 0, INFINITY, NULL, "learning rate (--lr overrides)"},
    {"batch", GM_OPTION_INT, "8", 1, 1 << 20, NULL, "images per step (--batch overrides)"},
    {"optimizer", GM_OPTION_CHOICE, "adam", 1, 0, "adam|adamw", "the optimiser"},
    {"weight_decay", GM_OPTION_FLOAT, "0", 0, INFINITY, NULL,
     "0 for adam, 0.01 for adamw by default"},
    {"clip", GM_OPTION_FLOAT, "0", 0, INFINITY, NULL, "global gradient-norm clip (0 = off)"},
    {"ema", GM_OPTION_FLOAT, "0", 0, 1, NULL, "EMA decay of the weights (0 = off)"},
    {"hflip", GM_OPTION_BOOL, "0", 1, 0, NULL, "random horizontal flips of training images"},
    {NULL, 0, NULL, 0, 0, NULL, NULL}};
static const struct {
  unsigned char lo, hi; /* 1: the bound itself is outside */
} train_open[] = {{1, 0}, {0, 0}, {0, 0}, {0, 0}, {0, 0}, {0, 1}, {0, 0}};

const gm_model_option *gm_train_keys(void) { return train_options; }

const char *gm_model_option_range(const gm_model_option *o, char *buf, size_t size) {
  int lo_open = 0, hi_open = 0;
  size_t k = (size_t)(o - train_options);
  if (o >= train_options && k < sizeof train_open / sizeof train_open[0]) {
    lo_open = train_open[k].lo;
    hi_open = train_open[k].hi;
  }
  buf[0] = '\0';
  switch (o->type) {
  case GM_OPTION_CHOICE: snprintf(buf, size, "%s", o->choices ? o->choices : ""); break;
  case GM_OPTION_BOOL: snprintf(buf, size, "0|1"); break;
  case GM_OPTION_INT:
    if (o->min <= o->max) snprintf(buf, size, "%.0f..%.0f", o->min, o->max);
    break;
  case GM_OPTION_FLOAT:
    if (!(o->min <= o->max)) break;
    if (isinf(o->max)) snprintf(buf, size, "%s %g", lo_open ? ">" : ">=", o->min);
    else if (lo_open || hi_open)
      snprintf(buf, size, "%c%g, %g%c", lo_open ? '(' : '[', o->min, o->max, hi_open ? ')' : ']');
    else snprintf(buf, size, "%g..%g", o->min, o->max);
    break;
  default: break;
  }
  return buf;
}

static int in_choices(const char *choices, const char *v) {
  size_t n = strlen(v);
  const char *p = choices;
  while (p && *p) {
    const char *bar = strchr(p, '|');
    size_t len = bar ? (size_t)(bar - p) : strlen(p);
    if (len == n && strncmp(p, v, n) == 0) return 1;
    p = bar ? bar + 1 : NULL;
  }
  return 0;
}

/* v against o's type and the range gm_model_option_range shows; the message names both. */
static int check_value(const gm_model_option *o, const char *v, gm_error *err) {
  char range[128];
  gm_model_option_range(o, range, sizeof range);
  int rel = range[0] == '>'; /* "> 0": "not > 0" reads better than "outside > 0" */
  const char *sep = range[0] ? (rel ? " " : " in ") : "";
  int64_t i;
  double f;
  int b;
  switch (o->type) {
  case GM_OPTION_INT:
    if (parse_int(v, &i))
      return gm_error_set(err, GM_EINVAL, "option %s=%s: not an integer%s%s", o->name, v, sep,
                          range);
    f = (double)i;
    break;
  case GM_OPTION_FLOAT:
    if (parse_float(v, &f))
      return gm_error_set(err, GM_EINVAL, "option %s=%s: not a number%s%s", o->name, v, sep,
                          range);
    break;
  case GM_OPTION_BOOL:
    if (parse_bool(v, &b))
      return gm_error_set(err, GM_EINVAL, "option %s=%s: not 0|1 (or true/false, yes/no, on/off)",
                          o->name, v);
    return 0;
  case GM_OPTION_CHOICE:
    if (!in_choices(o->choices, v))
      return gm_error_set(err, GM_EINVAL, "option %s=%s: must be one of %s", o->name, v,
                          o->choices);
    return 0;
  default:
    return 0;
  }
  if (!(o->min <= o->max)) return 0;
  size_t k = (size_t)(o - train_options);
  int train = o >= train_options && k < sizeof train_open / sizeof train_open[0];
  int lo_open = train && train_open[k].lo, hi_open = train && train_open[k].hi;
  if (f < o->min || f > o->max || (lo_open && f == o->min) || (hi_open && f == o->max))
    return gm_error_set(err, GM_ERANGE, "option %s=%s: %s %s", o->name, v,
                        rel ? "not" : "outside", range);
  return 0;
}

/* Grows a kv array; strings live in one arena of copies owned by the result. */
typedef struct kvbuf {
  gm_kv *v;
  int n, cap;
} kvbuf;

static int kv_set(kvbuf *b, const char *key, const char *value) {
  for (int i = 0; i < b->n; i++)
    if (strcmp(b->v[i].key, key) == 0) {
      b->v[i].value = value;
      return 0;
    }
  if (b->n == b->cap) {
    int cap = b->cap ? b->cap * 2 : 16;
    gm_kv *v = realloc(b->v, (size_t)cap * sizeof *v);
    if (!v) return GM_ENOMEM;
    b->v = v;
    b->cap = cap;
  }
  b->v[b->n].key = key;
  b->v[b->n].value = value;
  b->n++;
  return 0;
}

/* Applies one "key=value" (text is a private, writable copy). */
static int apply(const gm_model_vtable *vt, char *text, const char *from, kvbuf *model,
                 kvbuf *train, gm_error *err) {
  char *eq = strchr(text, '=');
  if (!eq || eq == text)
    return gm_error_set(err, GM_EINVAL, "%s: '%s' is not key=value", from, text);
  *eq = '\0';
  const char *key = text, *value = eq + 1;
  for (int i = 0; vt->options[i].name; i++) {
    const gm_model_option *o = &vt->options[i];
    if (strcmp(o->name, key) == 0) {
      int rc = check_value(o, value, err);
      if (rc) return gm_error_prefix(err, "%s", from);
      return kv_set(model, o->name, value);
    }
  }
  for (const gm_model_option *t = train_options; t->name; t++)
    if (strcmp(t->name, key) == 0) {
      int rc = check_value(t, value, err);
      if (rc) return gm_error_prefix(err, "%s", from);
      return kv_set(train, t->name, value);
    }
  return gm_error_set(err, GM_EINVAL, "%s: unknown option '%s' (see train --model NAME --help)",
                      from, key);
}

int gm_model_options_resolve(const gm_model_vtable *vt, const char *preset,
                             const char *const *sets, int n_sets, gm_resolved_options *out,
                             gm_error *err) {
  memset(out, 0, sizeof *out);
  const gm_model_preset *p = &vt->presets[0];
  if (preset && *preset) {
    p = NULL;
    char names[512] = "";
    for (int i = 0; vt->presets[i].name; i++) {
      if (strcmp(vt->presets[i].name, preset) == 0) p = &vt->presets[i];
      size_t used = strlen(names);
      snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "", vt->presets[i].name);
    }
    if (!p) return gm_error_set(err, GM_ENOTFOUND, "no preset '%s' (presets: %s)", preset, names);
  }
  /* One writable copy of the preset's settings and of every --set string. */
  size_t total = strlen(p->settings ? p->settings : "") + 1;
  for (int i = 0; i < n_sets; i++) total += strlen(sets[i]) + 1;
  char *store = malloc(total);
  if (!store) return gm_error_set(err, GM_ENOMEM, "options: out of memory");
  kvbuf model = {0}, train = {0};
  int rc = 0;
  for (int i = 0; vt->options[i].name && !rc; i++)
    rc = kv_set(&model, vt->options[i].name, vt->options[i].default_value);
  char *w = store;
  strcpy(w, p->settings ? p->settings : "");
  size_t settings_len = strlen(w); /* strtok cuts the copy at the first token */
  char from[160];
  snprintf(from, sizeof from, "preset '%s'", p->name);
  for (char *tok = strtok(w, " \t\n"); tok && !rc; tok = strtok(NULL, " \t\n"))
    rc = apply(vt, tok, from, &model, &train, err);
  w += settings_len + 1;
  for (int i = 0; i < n_sets && !rc; i++) {
    size_t len = strlen(sets[i]); /* apply() cuts the copy at '=' */
    memcpy(w, sets[i], len + 1);
    rc = apply(vt, w, "--set", &model, &train, err);
    w += len + 1;
  }
  /* What the table cannot say, on the complete list (a plugin built before the slot
   * existed has a shorter vtable, and its copy in the registry reads NULL there). */
  if (!rc && GM_MODEL_VTABLE_HAS(vt, check_options)) {
    rc = vt->check_options(model.v, model.n, err);
    if (rc && rc != GM_ENOMEM)
      gm_error_prefix(err, "preset '%s'%s", p->name, n_sets ? " with --set" : "");
  }
  if (rc) {
    if (rc == GM_ENOMEM) gm_error_set(err, rc, "options: out of memory");
    free(model.v);
    free(train.v);
    free(store);
    return rc;
  }
  out->model = model.v;
  out->n_model = model.n;
  out->train = train.v;
  out->n_train = train.n;
  out->preset = p;
  out->storage_ = store;
  return 0;
}

void gm_model_options_free(gm_resolved_options *o) {
  if (!o) return;
  free(o->model);
  free(o->train);
  free(o->storage_);
  memset(o, 0, sizeof *o);
}

/* ---- model metadata ---- */

const char *gm_likelihood_name(gm_likelihood_kind k) {
  switch (k) {
  case GM_LIKELIHOOD_NONE: return "none";
  case GM_LIKELIHOOD_EXACT: return "exact";
  case GM_LIKELIHOOD_BOUND: return "bound";
  default: return "";
  }
}

const gm_sampler_info *gm_model_info_sampler(const gm_model_info *info, const char *name,
                                             gm_sampler_role role) {
  for (int i = 0; info && i < info->n_samplers; i++) {
    const gm_sampler_info *s = &info->samplers[i];
    if (name ? s->name && strcmp(s->name, name) == 0 : s->role == role) return s;
  }
  return NULL;
}

static int vtable_has_sampler(const gm_model_vtable *vt, const char *name) {
  for (const char *const *s = vt->samplers; s && *s; s++)
    if (strcmp(*s, name) == 0) return 1;
  return 0;
}

int gm_model_describe(const gm_model_vtable *vt, const gm_resolved_options *opts,
                      gm_model_info *info, gm_error *err) {
  memset(info, 0, sizeof *info);
  info->size = sizeof *info;
  if (!vt) return gm_error_set(err, GM_EINVAL, "model metadata: no model");
  if (vt->describe) {
    int rc = vt->describe(opts ? opts->model : NULL, opts ? opts->n_model : 0, info, err);
    info->size = sizeof *info; /* the plugin's to read, never to change */
    if (rc) return rc;
  }
  if (info->text_condition &&
      (!GM_MODEL_VTABLE_HAS(vt, loss_text) || info->vocab_size < 2 || !(info->cond_drop >= 0) ||
       !(info->cond_drop < 1) || !isfinite(info->guidance)))
    return gm_error_set(err, GM_EPLUGIN,
                        "model metadata: a text condition needs the loss_text slot, a "
                        "vocab_size of at least 2, a cond_drop in [0, 1) and a finite guidance");
  if (!vt->nll) info->likelihood = GM_LIKELIHOOD_NONE;
  else if (info->likelihood == GM_LIKELIHOOD_NONE)
    return gm_error_set(err, GM_EPLUGIN,
                        "model metadata: likelihood 'none' but the model has an nll slot");
  if (info->likelihood < GM_LIKELIHOOD_UNSPECIFIED || info->likelihood > GM_LIKELIHOOD_BOUND)
    return gm_error_set(err, GM_EPLUGIN, "model metadata: unknown likelihood kind %d",
                        (int)info->likelihood);
  if (info->n_samplers < 0 || info->n_samplers > GM_MODEL_INFO_SAMPLERS)
    return gm_error_set(err, GM_EPLUGIN, "model metadata: %d samplers (0..%d)", info->n_samplers,
                        GM_MODEL_INFO_SAMPLERS);
  if (info->default_sampler && !vtable_has_sampler(vt, info->default_sampler))
    return gm_error_set(err, GM_EPLUGIN,
                        "model metadata: default sampler '%s' is not in the samplers list",
                        info->default_sampler);
  if (!info->default_sampler && vt->samplers) info->default_sampler = vt->samplers[0];
  if (info->n_samplers == 0) {
    for (const char *const *s = vt->samplers; s && *s && info->n_samplers < GM_MODEL_INFO_SAMPLERS;
         s++) {
      gm_sampler_info *e = &info->samplers[info->n_samplers];
      e->name = *s;
      e->role = info->n_samplers == 0 ? GM_SAMPLER_FAST : GM_SAMPLER_OTHER;
      info->n_samplers++;
    }
    return 0;
  }
  int fast = 0, ref = 0;
  for (int i = 0; i < info->n_samplers; i++) {
    const gm_sampler_info *e = &info->samplers[i];
    if (!e->name || !vtable_has_sampler(vt, e->name))
      return gm_error_set(err, GM_EPLUGIN, "model metadata: sampler '%s' is not in the samplers list",
                          e->name ? e->name : "(null)");
    if (e->role < GM_SAMPLER_OTHER || e->role > GM_SAMPLER_REFERENCE)
      return gm_error_set(err, GM_EPLUGIN, "model metadata: sampler '%s' has unknown role %d",
                          e->name, (int)e->role);
    if (e->units < 0 || e->steps < 0 || !(e->passes >= 0) || !isfinite(e->passes))
      return gm_error_set(err, GM_EPLUGIN,
                          "model metadata: sampler '%s' declares a negative or non-finite count",
                          e->name);
    fast += e->role == GM_SAMPLER_FAST;
    ref += e->role == GM_SAMPLER_REFERENCE;
  }
  if (fast > 1 || ref > 1)
    return gm_error_set(err, GM_EPLUGIN,
                        "model metadata: %d fast and %d reference samplers (at most one each)",
                        fast, ref);
  return 0;
}
