/* The trainer's checkpoints: what goes into one (parameters, moments, EMA, metadata),
 * writing it, and restoring a run from one after checking it belongs to this run. */
#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trainer_internal.h"

static const char *optimizer_name(gm_optim_kind k) { return k == GM_OPTIM_ADAMW ? "adamw" : "adam"; }

/* ---- the JSON metadata values ---- */

static char *print_json(cJSON *o) {
  char *s = o ? cJSON_PrintUnformatted(o) : NULL;
  cJSON_Delete(o);
  if (!s) return NULL;
  char *copy = strdup(s); /* free() by the trainer, whatever cJSON's allocator is */
  cJSON_free(s);
  return copy;
}

static char *options_json(const gm_resolved_options *o) {
  cJSON *obj = cJSON_CreateObject();
  for (int i = 0; obj && i < o->n_model; i++)
    if (!cJSON_AddStringToObject(obj, o->model[i].key, o->model[i].value)) {
      cJSON_Delete(obj);
      return NULL;
    }
  return print_json(obj);
}

static char *train_json(const gm_train_settings *s) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON_AddNumberToObject(o, "lr", s->lr);
  cJSON_AddNumberToObject(o, "batch", s->batch);
  cJSON_AddStringToObject(o, "optimizer", optimizer_name(s->optimizer));
  cJSON_AddNumberToObject(o, "weight_decay", s->weight_decay);
  cJSON_AddNumberToObject(o, "clip", s->clip);
  cJSON_AddNumberToObject(o, "ema", s->ema);
  cJSON_AddNumberToObject(o, "hflip", s->hflip);
  return print_json(o);
}

static int data_json(gm_trainer *t, gm_error *err) {
  cJSON *o = t->c.data_desc ? cJSON_Parse(t->c.data_desc) : cJSON_CreateObject();
  if (!cJSON_IsObject(o)) {
    cJSON_Delete(o);
    return gm_error_set(err, GM_EINVAL, "trainer: data_desc is not a JSON object: %.200s",
                        t->c.data_desc);
  }
  cJSON_DeleteItemFromObjectCaseSensitive(o, "images");
  cJSON_DeleteItemFromObjectCaseSensitive(o, "train_images");
  cJSON_AddNumberToObject(o, "images", gm_dataset_count(t->c.data));
  cJSON_AddNumberToObject(o, "train_images", t->n_train);
  t->data_json = print_json(o);
  return t->data_json ? 0 : gm_error_set(err, GM_ENOMEM, "trainer: out of memory");
}

/* ---- moment and EMA views ---- */

static int add_view(gm_trainer *t, gm_tensor *flat, int64_t offset, const gm_tensor *like,
                    const char *prefix, const char *name, char **names, gm_error *err) {
  gm_named_tensor *e = &t->extra[t->n_extra];
  int rc = gm_tensor_view(&e->tensor, flat, (size_t)offset, like->ndim, like->shape, err);
  if (rc) return rc;
  t->n_extra++;
  int len = sprintf(*names, "%s%s", prefix, name);
  e->name = *names;
  *names += len + 1;
  return 0;
}

static int make_views(gm_trainer *t, gm_error *err) {
  int n = gm_params_count(t->p.params), trainable = 0;
  size_t bytes = 0;
  for (int i = 0; i < n; i++) {
    const char *name;
    int kind;
    gm_params_at(t->p.params, i, &name, &kind);
    if (kind != GM_PARAM_TRAINABLE) continue;
    trainable++;
    bytes += 3 * (strlen(name) + 24);
  }
  int per = t->p.ema ? 3 : 2;
  t->extra = calloc((size_t)(trainable * per) + 1, sizeof *t->extra);
  t->extra_names = malloc(bytes + 1);
  if (!t->extra || !t->extra_names) return gm_error_set(err, GM_ENOMEM, "trainer: out of memory");
  char *w = t->extra_names;
  gm_tensor *m = gm_optim_moment(t->p.optim, 0), *v = gm_optim_moment(t->p.optim, 1);
  gm_tensor *e = t->p.ema ? gm_ema_flat(t->p.ema) : NULL;
  for (int i = 0; i < n; i++) {
    const char *name;
    int kind;
    gm_tensor *p = gm_params_at(t->p.params, i, &name, &kind);
    if (kind != GM_PARAM_TRAINABLE) continue;
    int64_t off = gm_params_offset(t->p.params, i);
    int rc = add_view(t, m, off, p, "optim.exp_avg.", name, &w, err);
    if (!rc) rc = add_view(t, v, off, p, "optim.exp_avg_sq.", name, &w, err);
    if (!rc && e) rc = add_view(t, e, off, p, "ema.", name, &w, err);
    if (rc) return rc;
  }
  return 0;
}

int gm__trainer_state_init(gm_trainer *t, gm_error *err) {
  int rc = make_views(t, err);
  if (rc) return rc;
  t->options_json = options_json(t->c.options);
  t->train_json = train_json(&t->s);
  if (!t->options_json || !t->train_json)
    return gm_error_set(err, GM_ENOMEM, "trainer: out of memory");
  return data_json(t, err);
}

void gm__trainer_state_close(gm_trainer *t) {
  for (int i = 0; i < t->n_extra; i++) gm_tensor_destroy(t->extra[i].tensor);
  free(t->extra);
  free(t->extra_names);
  free(t->options_json);
  free(t->train_json);
  free(t->data_json);
  t->extra = NULL;
  t->n_extra = 0;
}

/* ---- saving ---- */

/* The first non-finite float of a flat store, or -1. */
static int64_t first_nonfinite(const float *v, int64_t n) {
  for (int64_t j = 0; j < n; j++)
    if (!isfinite(v[j])) return j;
  return -1;
}

static int nonfinite_state(gm_trainer *t, const char *what, int64_t j, float v, gm_error *err) {
  char good[4400];
  return gm_error_set(err, GM_ENUMERIC, "step %lld: %s[%lld] is %g; training stopped (the "
                      "learning rate may be too high); %s", (long long)t->step, what,
                      (long long)j, (double)v, gm__trainer_last_good(t, good, sizeof good));
}

/* Every float the checkpoint would hold is finite: the trainable values, the float
 * buffers, the moments and the EMA. A state that is not would only poison the last good
 * checkpoint (and a load refuses it). */
static int check_finite(gm_trainer *t, gm_error *err) {
  gm_tensor *flats[2] = {gm_params_flat(t->p.params), gm_params_flat_buffers(t->p.params)};
  int kinds[2] = {GM_PARAM_TRAINABLE, GM_PARAM_BUFFER};
  for (int k = 0; k < 2; k++) {
    if (!flats[k] || flats[k]->numel == 0) continue;
    float *h = malloc(gm_tensor_bytes(flats[k]));
    if (!h) return gm_error_set(err, GM_ENOMEM, "trainer: out of memory");
    int rc = gm_tensor_read(flats[k], h, gm_tensor_bytes(flats[k]), err);
    for (int i = 0; !rc && i < gm_params_count(t->p.params); i++) {
      const char *name;
      int kind;
      gm_tensor *p = gm_params_at(t->p.params, i, &name, &kind);
      if (kind != kinds[k] || p->dtype != GM_F32) continue;
      const float *v = h + gm_params_offset(t->p.params, i);
      int64_t j = first_nonfinite(v, p->numel);
      if (j >= 0) rc = nonfinite_state(t, name, j, v[j], err);
    }
    free(h);
    if (rc) return rc;
  }
  /* the moments and the EMA: one flat store each, the views' names for the message */
  gm_tensor *extra[3] = {gm_optim_moment(t->p.optim, 0), gm_optim_moment(t->p.optim, 1),
                         t->p.ema ? gm_ema_flat(t->p.ema) : NULL};
  for (int k = 0; k < 3; k++) {
    if (!extra[k] || extra[k]->numel == 0) continue;
    float *h = malloc(gm_tensor_bytes(extra[k]));
    if (!h) return gm_error_set(err, GM_ENOMEM, "trainer: out of memory");
    int rc = gm_tensor_read(extra[k], h, gm_tensor_bytes(extra[k]), err);
    int64_t j = rc ? -1 : first_nonfinite(h, extra[k]->numel);
    if (j >= 0) {
      /* the view holding element j names it */
      const char *what = k == 2 ? "ema" : k ? "optim.exp_avg_sq" : "optim.exp_avg";
      char name[512];
      int64_t at = j;
      for (int i = 0; i < gm_params_count(t->p.params); i++) {
        const char *pn;
        int kind;
        gm_tensor *p = gm_params_at(t->p.params, i, &pn, &kind);
        int64_t off = gm_params_offset(t->p.params, i);
        if (kind == GM_PARAM_TRAINABLE && j >= off && j < off + p->numel) {
          snprintf(name, sizeof name, "%s.%s", what, pn);
          what = name;
          at = j - off;
          break;
        }
      }
      rc = nonfinite_state(t, what, at, h[j], err);
    }
    free(h);
    if (rc) return rc;
  }
  return 0;
}

/* Sets the config's saving flag (when given) for the time of one checkpoint write. */
static int save_file(gm_trainer *t, const char *path, gm_error *err);

int gm_trainer_save(gm_trainer *t, const char *path, gm_error *err) {
  volatile sig_atomic_t *flag = t->c.saving;
  sig_atomic_t was = flag ? *flag : 0;
  if (flag) *flag = 1;
  int rc = save_file(t, path, err);
  if (flag) *flag = was;
  return rc;
}

static int save_file(gm_trainer *t, const char *path, gm_error *err) {
  int rc = check_finite(t, err);
  if (rc) return rc;
  char step[24], epoch[24], pos[24], seen[24], seed[24], off[24], osteps[24], wall[32];
  snprintf(step, sizeof step, "%lld", (long long)t->step);
  snprintf(epoch, sizeof epoch, "%lld", (long long)t->epoch);
  snprintf(pos, sizeof pos, "%lld", (long long)t->epoch_pos);
  snprintf(seen, sizeof seen, "%lld", (long long)t->images_seen);
  snprintf(seed, sizeof seed, "%llu", (unsigned long long)t->seed);
  snprintf(off, sizeof off, "%llu", (unsigned long long)t->rng.offset);
  snprintf(osteps, sizeof osteps, "%lld", (long long)gm_optim_steps(t->p.optim));
  snprintf(wall, sizeof wall, "%.17g", t->wall_before + t->session_s);
  const gm_kv meta[] = {
      {"format", GM_CHECKPOINT_FORMAT},
      {"model", t->c.model_name},
      {"preset", t->c.options->preset->name},
      {"options", t->options_json},
      {"train", t->train_json},
      {"step", step},
      {"epoch", epoch},
      {"epoch_pos", pos},
      {"images_seen", seen},
      {"seed", seed},
      {"rng_offset", off},
      {"optim_steps", osteps},
      {"data", t->data_json},
      {"genmoji_version", gm_version()},
      {"wall_s", wall},
      {GM_TEXT_VOCAB_KEY, t->vocab_str}, /* last: only a text model has one */
  };
  int n_meta = (int)(sizeof meta / sizeof meta[0]) - (t->vocab_str ? 0 : 1);
  return gm_checkpoint_write_params(path, t->p.params, t->extra, t->n_extra, meta, n_meta, err);
}

const char *gm__trainer_last_good(const gm_trainer *t, char *buf, size_t n) {
  if (t->saved_step >= 0 && t->saved_path)
    snprintf(buf, n, "the last good checkpoint is %s (step %lld)", t->saved_path,
             (long long)t->saved_step);
  else
    snprintf(buf, n, "no checkpoint was written");
  return buf;
}

/* ---- restoring ---- */

static int meta_str(gm_checkpoint *c, const char *path, const char *key, const char **out,
                    gm_error *err) {
  *out = gm_checkpoint_meta(c, key);
  if (!*out) return gm_error_set(err, GM_EFORMAT, "%s: no '%s' in the metadata", path, key);
  return 0;
}

static int meta_u64(gm_checkpoint *c, const char *path, const char *key, uint64_t *out,
                    gm_error *err) {
  const char *s;
  int rc = meta_str(c, path, key, &s, err);
  if (rc) return rc;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s || *end || s[0] == '-')
    return gm_error_set(err, GM_EFORMAT, "%s: metadata %s=\"%.60s\" is not a count", path, key, s);
  *out = v;
  return 0;
}

static int meta_i64(gm_checkpoint *c, const char *path, const char *key, int64_t *out,
                    gm_error *err) {
  uint64_t v = 0;
  int rc = meta_u64(c, path, key, &v, err);
  if (rc) return rc;
  if (v > (uint64_t)INT64_MAX)
    return gm_error_set(err, GM_EFORMAT, "%s: metadata %s is out of range", path, key);
  *out = (int64_t)v;
  return 0;
}

static int meta_json(gm_checkpoint *c, const char *path, const char *key, cJSON **out,
                     gm_error *err) {
  const char *s;
  int rc = meta_str(c, path, key, &s, err);
  if (rc) return rc;
  *out = cJSON_Parse(s);
  if (!cJSON_IsObject(*out)) {
    cJSON_Delete(*out);
    *out = NULL;
    return gm_error_set(err, GM_EFORMAT, "%s: metadata '%s' is not a JSON object", path, key);
  }
  return 0;
}

/* Two values of one option are the same setting: equal text, or equal numbers. */
static int same_value(const char *a, const char *b) {
  if (strcmp(a, b) == 0) return 1;
  char *ea, *eb;
  double x = strtod(a, &ea), y = strtod(b, &eb);
  return ea != a && eb != b && !*ea && !*eb && x == y;
}

/* The differences between a checkpoint and this run, one line each: "OPTION: checkpoint
 * A, this run B", so a refused resume shows everything to change at once. */
typedef struct diffs {
  char buf[3200];
  size_t used;
  int n;
} diffs;

GM_PRINTF(2, 3)
static void add_diff(diffs *d, const char *fmt, ...) {
  d->n++;
  if (d->used + 1 >= sizeof d->buf) return;
  va_list ap;
  va_start(ap, fmt);
  int k = snprintf(d->buf + d->used, sizeof d->buf - d->used, "\n  ");
  if (k > 0) d->used += (size_t)k;
  if (d->used < sizeof d->buf) {
    k = vsnprintf(d->buf + d->used, sizeof d->buf - d->used, fmt, ap);
    if (k > 0) d->used += (size_t)k;
  }
  if (d->used >= sizeof d->buf) d->used = sizeof d->buf - 1;
  va_end(ap);
}

/* A JSON value as the option would be written: text as is, numbers with %g. */
static const char *value_str(const cJSON *v, char *buf, size_t n) {
  if (!v) snprintf(buf, n, "(none)");
  else if (cJSON_IsString(v)) snprintf(buf, n, "%s", v->valuestring);
  else if (cJSON_IsNumber(v)) snprintf(buf, n, "%g", v->valuedouble);
  else if (cJSON_IsBool(v)) snprintf(buf, n, "%s", cJSON_IsTrue(v) ? "true" : "false");
  else {
    char *s = cJSON_PrintUnformatted(v);
    snprintf(buf, n, "%s", s ? s : "?");
    cJSON_free(s);
  }
  return buf;
}

static void diff_options(gm_trainer *t, const cJSON *o, diffs *d) {
  const gm_resolved_options *r = t->c.options;
  for (int i = 0; i < r->n_model; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, r->model[i].key);
    if (!cJSON_IsString(v))
      add_diff(d, "--set %s: checkpoint (not set), this run %s", r->model[i].key,
               r->model[i].value);
    else if (!same_value(v->valuestring, r->model[i].value))
      add_diff(d, "--set %s: checkpoint %s, this run %s", r->model[i].key, v->valuestring,
               r->model[i].value);
  }
  for (const cJSON *v = o->child; v; v = v->next)
    if (!gm_kv_get(r->model, r->n_model, v->string)) {
      char b[256];
      add_diff(d, "--set %s: checkpoint %s, this model has no such option", v->string,
               value_str(v, b, sizeof b));
    }
}

/* The training keys but lr, which the checkpoint decides (restore_lr). */
static void diff_train(gm_trainer *t, const cJSON *o, diffs *d) {
  const struct {
    const char *key, *opt;
    double now;
  } nums[] = {{"batch", "--batch", t->s.batch},         {"weight_decay", "--set weight_decay", t->s.weight_decay},
              {"clip", "--set clip", t->s.clip},        {"ema", "--set ema", t->s.ema},
              {"hflip", "--set hflip", t->s.hflip}};
  const cJSON *opt = cJSON_GetObjectItemCaseSensitive(o, "optimizer");
  const char *now = optimizer_name(t->s.optimizer);
  char b[256];
  if (!cJSON_IsString(opt) || strcmp(opt->valuestring, now) != 0)
    add_diff(d, "--set optimizer: checkpoint %s, this run %s", value_str(opt, b, sizeof b), now);
  for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, nums[i].key);
    if (!cJSON_IsNumber(v) || v->valuedouble != nums[i].now)
      add_diff(d, "%s: checkpoint %s, this run %g", nums[i].opt, value_str(v, b, sizeof b),
               nums[i].now);
  }
}

/* The command-line option a `data` key comes from (gm_cli_dataopts_describe's keys). */
static const char *data_option(const char *key, char *buf, size_t n) {
  if (strcmp(key, "source") == 0) return "--data";
  if (strcmp(key, "loader") == 0) return "--data (its loader)";
  snprintf(buf, n, "--%s", key);
  return buf;
}

/* The data description key by key (source, filters, size, background, held-out share:
 * each changes what is trained), then the training-set size. */
static int diff_data(gm_trainer *t, const cJSON *was, diffs *d, gm_error *err) {
  cJSON *now = cJSON_Parse(t->data_json);
  if (!cJSON_IsObject(now)) {
    cJSON_Delete(now);
    return gm_error_set(err, GM_ENOMEM, "trainer: out of memory");
  }
  char a[256], b[256], o[128];
  if (t->c.data_desc) {
    const cJSON *sides[2] = {now, was};
    for (int k = 0; k < 2; k++)
      for (const cJSON *v = sides[k]->child; v; v = v->next) {
        if (strcmp(v->string, "images") == 0 || strcmp(v->string, "train_images") == 0) continue;
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(was, v->string);
        const cJSON *y = cJSON_GetObjectItemCaseSensitive(now, v->string);
        if (k == 1 && y) continue; /* a key of both sides was compared in the first pass */
        if (x && y && cJSON_Compare(x, y, 1)) continue;
        add_diff(d, "%s: checkpoint %s, this run %s", data_option(v->string, o, sizeof o),
                 value_str(x, a, sizeof a), value_str(y, b, sizeof b));
      }
  }
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(was, "train_images");
  if (!cJSON_IsNumber(v) || v->valuedouble != t->n_train)
    add_diff(d, "training images: checkpoint %s, this data %d", value_str(v, a, sizeof a),
             t->n_train);
  cJSON_Delete(now);
  return 0;
}

/* The model must be the same; the preset, model options, training keys (lr aside) and
 * data must be too, and every one that is not is listed in one GM_EMISMATCH. */
static int check_identity(gm_trainer *t, gm_checkpoint *c, const char *path, gm_error *err) {
  const char *format, *model, *preset;
  int rc = 0;
  format = gm_checkpoint_meta(c, "format");
  if (!format)
    return gm_error_set(err, GM_EFORMAT, "%s: not a genmoji training checkpoint (no 'format' "
                        "in the metadata)", path);
  if (strcmp(format, GM_CHECKPOINT_FORMAT) != 0)
    return gm_error_set(err, GM_EFORMAT, "%s: format \"%.60s\", want \"%s\"", path, format,
                        GM_CHECKPOINT_FORMAT);
  if ((rc = meta_str(c, path, "model", &model, err))) return rc;
  if (strcmp(model, t->c.model_name) != 0)
    return gm_error_set(err, GM_EMISMATCH, "%s: holds a '%.60s' model, this run trains '%s'; "
                        "train into another --out", path, model, t->c.model_name);
  if ((rc = meta_str(c, path, "preset", &preset, err))) return rc;
  cJSON *opts = NULL, *train = NULL, *data = NULL;
  if (!rc) rc = meta_json(c, path, "options", &opts, err);
  if (!rc) rc = meta_json(c, path, "train", &train, err);
  if (!rc) rc = meta_json(c, path, "data", &data, err);
  diffs *d = rc ? NULL : calloc(1, sizeof *d);
  if (!rc && !d) rc = gm_error_set(err, GM_ENOMEM, "trainer: out of memory");
  if (!rc) {
    const char *now = t->c.options->preset->name;
    if (strcmp(preset, now) != 0) add_diff(d, "--preset: checkpoint %s, this run %s", preset, now);
    diff_options(t, opts, d);
    diff_train(t, train, d);
    rc = diff_data(t, data, d, err);
  }
  if (!rc && d->n)
    rc = gm_error_set(err, GM_EMISMATCH, "%s: this run differs from the checkpoint in %d "
                      "setting%s (resume with the checkpoint's data and settings, or train into "
                      "another --out):%s", path, d->n, d->n == 1 ? "" : "s", d->buf);
  free(d);
  cJSON_Delete(opts);
  cJSON_Delete(train);
  cJSON_Delete(data);
  return rc;
}

/* The learning rate is the checkpoint's: it continues the run it was trained with. One
 * given in the config is refused rather than silently applied or ignored. */
static int restore_lr(gm_trainer *t, gm_checkpoint *c, const char *path, gm_error *err) {
  cJSON *o;
  int rc = meta_json(c, path, "train", &o, err);
  if (rc) return rc;
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "lr");
  if (!cJSON_IsNumber(v) || !(v->valuedouble > 0) || !isfinite(v->valuedouble))
    rc = gm_error_set(err, GM_EFORMAT, "%s: metadata 'train' has no positive lr", path);
  else if (t->c.lr > 0)
    rc = gm_error_set(err, GM_EMISMATCH, "%s: the checkpoint decides lr (it was %g); drop it "
                      "or start a new run", path, v->valuedouble);
  if (!rc) {
    t->s.lr = v->valuedouble;
    gm_optim_set_lr(t->p.optim, (float)t->s.lr);
    free(t->train_json); /* the files this run writes record the lr it trains with */
    t->train_json = train_json(&t->s);
    if (!t->train_json) rc = gm_error_set(err, GM_ENOMEM, "trainer: out of memory");
  }
  cJSON_Delete(o);
  return rc;
}

static int restore_counters(gm_trainer *t, gm_checkpoint *c, const char *path, gm_error *err) {
  uint64_t seed = 0, offset = 0;
  int64_t osteps = 0;
  int rc = meta_u64(c, path, "seed", &seed, err);
  if (!rc) rc = meta_u64(c, path, "rng_offset", &offset, err);
  if (!rc) rc = meta_i64(c, path, "optim_steps", &osteps, err);
  if (!rc) rc = meta_i64(c, path, "step", &t->step, err);
  if (!rc) rc = meta_i64(c, path, "epoch", &t->epoch, err);
  if (!rc) rc = meta_i64(c, path, "epoch_pos", &t->epoch_pos, err);
  if (!rc) rc = meta_i64(c, path, "images_seen", &t->images_seen, err);
  if (rc) return rc;
  if (t->epoch_pos >= t->n_train)
    return gm_error_set(err, GM_EFORMAT, "%s: epoch_pos %lld is past the %d training images",
                        path, (long long)t->epoch_pos, t->n_train);
  const char *wall;
  if ((rc = meta_str(c, path, "wall_s", &wall, err))) return rc;
  char *end;
  t->wall_before = strtod(wall, &end);
  if (end == wall || *end || !(t->wall_before >= 0))
    return gm_error_set(err, GM_EFORMAT, "%s: metadata wall_s=\"%.60s\" is not a time", path, wall);
  t->seed = seed;
  gm_rng_init(&t->rng, seed, 1);
  t->rng.offset = offset;
  gm_optim_set_steps(t->p.optim, osteps);
  return 0;
}

int gm__trainer_restore(gm_trainer *t, const char *path, gm_error *err) {
  gm_checkpoint *c = NULL;
  int rc = gm_checkpoint_open(&c, path, err);
  if (rc) return rc;
  rc = check_identity(t, c, path, err);
  if (!rc) rc = restore_lr(t, c, path, err);
  if (!rc) {
    const char *const ignore[] = {"optim.", "ema.", NULL};
    rc = gm_checkpoint_load_params(c, t->p.params, ignore, err);
  }
  for (int i = 0; !rc && i < t->n_extra; i++) {
    if (!gm_checkpoint_find(c, t->extra[i].name))
      rc = gm_error_set(err, GM_EFORMAT, "%s: no tensor '%s' to resume from", path,
                        t->extra[i].name);
    else
      rc = gm_checkpoint_read_finite(c, t->extra[i].name, t->extra[i].tensor, err);
  }
  if (!rc) rc = restore_counters(t, c, path, err);
  if (!rc && t->vocab_str) { /* the same data gives the same vocabulary, or it was edited */
    const char *was = gm_checkpoint_meta(c, GM_TEXT_VOCAB_KEY);
    if (!was)
      rc = gm_error_set(err, GM_EFORMAT, "%s: no '%s' in the metadata of a text model", path,
                        GM_TEXT_VOCAB_KEY);
    else if (strcmp(was, t->vocab_str))
      rc = gm_error_set(err, GM_EFORMAT, "%s: its vocabulary ('%s') is not the one the "
                        "training texts give now", path, GM_TEXT_VOCAB_KEY);
  }
  gm_checkpoint_close(c);
  return rc;
}
