/* The trainer (engine/src/trainer*.c) on the real model plugins at tiny sizes: a resumed
 * run continues bit for bit, a non-finite loss stops with the last good checkpoint kept,
 * a stop (flag, or SIGINT to a child `genmoji train`) saves a loadable checkpoint, and
 * what checkpoints and metrics.jsonl hold. */
#define _POSIX_C_SOURCE 200809L
#include <cJSON.h>
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testlib.h"

#define GENMOJI GM_BUILD_PLUGIN_DIR "/../genmoji"

extern char **environ;

/* A model at test size: plugin, preset and --set values. */
typedef struct model_case {
  const char *name, *preset;
  const char *sets[8];
  int n_sets;
} model_case;

static const model_case PIXELCNN = {
    "pixelcnn", "gated", {"width=6", "layers=2", "kernel=3"}, 3};
/* the default preset: EMA, flips and dropout, so resume must restore all three */
static const model_case DDPM = {
    "ddpm", "unet", {"ch=8", "mult=1,2", "blocks=1", "attn=none", "timesteps=20"}, 5};

static gm_dataset *g_data;
static char g_data_dir[1100];


static const gm_model_vtable *model_vt(const char *name) {
  const gm_plugin_record *r = gm_registry_find(gmt_build_registry(), GM_PLUGIN_KIND_MODEL, name);
  ck_assert_msg(r != NULL, "no model plugin '%s' in %s", name, GM_BUILD_PLUGIN_DIR);
  return r->vtable;
}

/* 12 small 32x32 pictures (a disc on a gradient) written as PNGs; with a held-out share
 * of 0.25, banana and grape fall in the held-out split. */
static void write_images(const char *dir) {
  static const char *const names[] = {"apple", "banana", "cherry", "damson", "elder", "fig",
                                      "grape", "hazel", "iris", "juniper", "kiwi", "lemon"};
  ck_assert_int_eq(mkdir(dir, 0777), 0);
  gm_error err = {0};
  uint8_t px[32 * 32 * 3];
  for (int k = 0; k < 12; k++) {
    for (int y = 0; y < 32; y++)
      for (int x = 0; x < 32; x++) {
        int dx = x - 10 - k, dy = y - 16, in = dx * dx + dy * dy < 64 + 8 * k;
        uint8_t *p = px + 3 * (y * 32 + x);
        p[0] = in ? 250 : (uint8_t)(8 * x);
        p[1] = in ? (uint8_t)(200 - 10 * k) : (uint8_t)(8 * y);
        p[2] = in ? 40 : (uint8_t)(20 * k);
      }
    char path[1200];
    snprintf(path, sizeof path, "%s/%s.png", dir, names[k]);
    gmt_ok(gm_png_write(path, px, 32, 32, 3, &err), &err);
  }
}

/* The test images, 2 of them held out (heldout share 0.25 by name hash). */
static gm_dataset *dataset(void) {
  if (g_data) return g_data;
  snprintf(g_data_dir, sizeof g_data_dir, "%s/data", gmt_tmpdir());
  write_images(g_data_dir);
  gm_error err = {0};
  const gm_plugin_record *rec = NULL;
  gmt_ok(gm_dataset_find_loader(gmt_build_registry(), g_data_dir, &rec, &err), &err);
  gm_dataset_options o;
  gm_dataset_options_init(&o);
  o.heldout = 0.25;
  gmt_ok(gm_dataset_load(&g_data, rec->vtable, g_data_dir, NULL, 0, &o, &err), &err);
  ck_assert_int_eq(gm_dataset_count(g_data), 12);
  ck_assert_int_eq(gm_dataset_split(g_data, 1, NULL, 0), 2);
  return g_data;
}

/* gmt_tmpdir()/name, in a buffer the next call reuses. */
static const char *fresh_dir(const char *name) {
  static char path[1200];
  snprintf(path, sizeof path, "%s/%s", gmt_tmpdir(), name);
  return path;
}

typedef struct run_opts {
  int64_t steps, epochs;
  int batch, resume, keep, log_every;
  int64_t save_every, keep_every;
  const char *extra_set;  /* one more --set value */
  double lr;              /* > 0: the config's lr */
  const char *data_desc;  /* NULL: {"source":"test images"} */
  volatile sig_atomic_t *stop;
  void (*progress)(void *ctx, const gm_train_progress *p);
  void *progress_ctx;
} run_opts;

/* Trains model m into dir; returns the trainer's code (err filled) and *r. */
static int train(const model_case *m, const char *dir, const run_opts *o, gm_train_result *r,
                 gm_error *err) {
  const gm_model_vtable *vt = model_vt(m->name);
  const char *sets[10];
  int n = 0;
  for (int i = 0; i < m->n_sets; i++) sets[n++] = m->sets[i];
  if (o->extra_set) sets[n++] = o->extra_set;
  gm_resolved_options opts;
  gmt_ok(gm_model_options_resolve(vt, m->preset, sets, n, &opts, err), err);
  gm_train_config c;
  gm_train_config_init(&c);
  c.model = vt;
  c.model_name = m->name;
  c.options = &opts;
  c.data = dataset();
  c.data_desc = o->data_desc ? o->data_desc : "{\"source\":\"test images\"}";
  c.lr = o->lr;
  c.dev = gmt_device();
  c.seed = 7;
  c.out_dir = dir;
  c.budget_steps = o->steps;
  c.budget_epochs = o->epochs;
  c.batch = o->batch ? o->batch : 3;
  c.resume = o->resume;
  c.save_every = o->save_every;
  c.keep_every = o->keep_every;
  c.keep = o->keep;
  c.log_every = o->log_every;
  c.stop = o->stop;
  c.progress = o->progress;
  c.progress_ctx = o->progress_ctx;
  gm_trainer *t = NULL;
  int rc = gm_trainer_create(&t, &c, err);
  if (!rc) rc = gm_trainer_run(t, r, err);
  gm_trainer_destroy(t);
  gm_model_options_free(&opts);
  return rc;
}

/* ---- reading what a run left ---- */

typedef struct metric {
  int64_t step, epoch;
  double loss, images_per_s, lr, wall_s;
} metric;

/* Every line of dir/metrics.jsonl, each checked to be a JSON object with the fields. */
static int read_metrics(const char *dir, metric *out, int max) {
  char path[1200], line[1024];
  snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
  FILE *f = fopen(path, "r");
  ck_assert_msg(f != NULL, "no %s", path);
  int n = 0;
  while (fgets(line, sizeof line, f)) {
    cJSON *o = cJSON_Parse(line);
    ck_assert_msg(cJSON_IsObject(o), "%s: line %d is not a JSON object: %s", path, n + 1, line);
    const char *keys[] = {"step", "epoch", "loss", "images_per_s", "lr", "wall_s"};
    double v[6];
    for (int k = 0; k < 6; k++) {
      const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, keys[k]);
      ck_assert_msg(cJSON_IsNumber(x), "%s: line %d has no number '%s': %s", path, n + 1, keys[k],
                    line);
      v[k] = x->valuedouble;
    }
    cJSON_Delete(o);
    ck_assert_int_lt(n, max);
    out[n++] = (metric){(int64_t)v[0], (int64_t)v[1], v[2], v[3], v[4], v[5]};
  }
  fclose(f);
  return n;
}

typedef struct tensor_dump {
  char name[256];
  char dtype[8];
  int ndim;
  int64_t shape[8];
  size_t bytes;
  void *data;
} tensor_dump;

/* Every tensor of a checkpoint, read through the device as the model would load it. */
static int dump_checkpoint(const char *path, tensor_dump **out) {
  gm_error err = {0};
  gm_checkpoint *c = NULL;
  gmt_ok(gm_checkpoint_open(&c, path, &err), &err);
  int n = gm_checkpoint_count(c);
  tensor_dump *d = calloc((size_t)n, sizeof *d);
  for (int i = 0; i < n; i++) {
    const gm_checkpoint_entry *e = gm_checkpoint_entry_at(c, i);
    snprintf(d[i].name, sizeof d[i].name, "%s", e->name);
    snprintf(d[i].dtype, sizeof d[i].dtype, "%s", e->dtype);
    d[i].ndim = e->ndim;
    memcpy(d[i].shape, e->shape, sizeof d[i].shape);
    gm_tensor *t = NULL;
    gmt_ok(gm_checkpoint_read_new(c, e->name, gmt_device(), &t, &err), &err);
    d[i].bytes = gm_tensor_bytes(t);
    d[i].data = malloc(d[i].bytes ? d[i].bytes : 1);
    gmt_ok(gm_tensor_read(t, d[i].data, d[i].bytes, &err), &err);
    gm_tensor_destroy(t);
  }
  gm_checkpoint_close(c);
  *out = d;
  return n;
}

static void free_dump(tensor_dump *d, int n) {
  for (int i = 0; i < n; i++) free(d[i].data);
  free(d);
}

static char *meta_of(const char *path, const char *key) {
  gm_error err = {0};
  gm_checkpoint *c = NULL;
  gmt_ok(gm_checkpoint_open(&c, path, &err), &err);
  const char *v = gm_checkpoint_meta(c, key);
  char *copy = strdup(v ? v : "(absent)");
  gm_checkpoint_close(c);
  return copy;
}

static long long meta_int(const char *path, const char *key) {
  char *v = meta_of(path, key);
  long long x = atoll(v);
  free(v);
  return x;
}

static void assert_all_finite(const char *path) {
  tensor_dump *d;
  int n = dump_checkpoint(path, &d);
  for (int i = 0; i < n; i++) {
    if (strcmp(d[i].dtype, "F32") != 0) continue;
    const float *v = d[i].data;
    for (size_t j = 0; j < d[i].bytes / 4; j++)
      ck_assert_msg(isfinite(v[j]), "%s: %s[%zu] = %g", path, d[i].name, j, (double)v[j]);
  }
  free_dump(d, n);
}

/* ---- resume ---- */

static void resume_matches(const model_case *m, const char *tag) {
  char a[1200], b[1200];
  snprintf(a, sizeof a, "%s", fresh_dir(tag));
  snprintf(b, sizeof b, "%s-split", a);
  gm_error err = {0};
  gm_train_result r;
  run_opts whole = {.steps = 20, .save_every = 7};
  gmt_ok(train(m, a, &whole, &r, &err), &err);
  ck_assert_int_eq(r.step, 20);
  run_opts first = {.steps = 10, .save_every = 7};
  gmt_ok(train(m, b, &first, &r, &err), &err);
  ck_assert_int_eq(r.step, 10);
  run_opts rest = {.steps = 20, .save_every = 7, .resume = 1};
  gmt_ok(train(m, b, &rest, &r, &err), &err);
  ck_assert_int_eq(r.start_step, 10);
  ck_assert_int_eq(r.step, 20);

  metric ma[64], mb[64];
  int na = read_metrics(a, ma, 64), nb = read_metrics(b, mb, 64);
  ck_assert_int_eq(na, 20);
  ck_assert_int_eq(nb, 20);
  for (int i = 0; i < 20; i++) {
    ck_assert_int_eq(ma[i].step, i + 1);
    ck_assert_int_eq(mb[i].step, i + 1);
    float la = (float)ma[i].loss, lb = (float)mb[i].loss;
    ck_assert_msg(memcmp(&la, &lb, sizeof la) == 0, "%s step %d: loss %.9g uninterrupted, %.9g "
                  "resumed", m->name, i + 1, (double)la, (double)lb);
    ck_assert_int_eq(ma[i].epoch, mb[i].epoch);
  }

  char pa[1300], pb[1300];
  snprintf(pa, sizeof pa, "%s/last.safetensors", a);
  snprintf(pb, sizeof pb, "%s/last.safetensors", b);
  tensor_dump *da, *db;
  int n = dump_checkpoint(pa, &da), k = dump_checkpoint(pb, &db);
  ck_assert_int_eq(n, k);
  int moments = 0;
  for (int i = 0; i < n; i++) {
    ck_assert_str_eq(da[i].name, db[i].name);
    ck_assert_uint_eq(da[i].bytes, db[i].bytes);
    ck_assert_msg(memcmp(da[i].data, db[i].data, da[i].bytes) == 0,
                  "%s: tensor %s differs after resume", m->name, da[i].name);
    moments += strncmp(da[i].name, "optim.exp_avg_sq.", 17) == 0;
  }
  ck_assert_int_gt(moments, 0);
  free_dump(da, n);
  free_dump(db, k);
  const char *same[] = {"step", "epoch", "epoch_pos", "images_seen", "rng_offset", "optim_steps"};
  for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
    char *x = meta_of(pa, same[i]), *y = meta_of(pb, same[i]);
    ck_assert_msg(strcmp(x, y) == 0, "%s: metadata %s %s vs %s", m->name, same[i], x, y);
    free(x);
    free(y);
  }
}

START_TEST(pixelcnn_resumed_run_matches_an_uninterrupted_one_bit_for_bit) {
  resume_matches(&PIXELCNN, "resume-pixelcnn");
}
END_TEST

START_TEST(ddpm_resumed_run_with_ema_and_flips_matches_bit_for_bit) {
  resume_matches(&DDPM, "resume-ddpm");
}
END_TEST

/* ---- checkpoints and metrics ---- */

START_TEST(checkpoint_holds_params_moments_ema_and_the_metadata) {
  const char *dir = fresh_dir("contents");
  gm_error err = {0};
  gm_train_result r;
  run_opts o = {.steps = 4, .extra_set = "ema=0.9"};
  gmt_ok(train(&PIXELCNN, dir, &o, &r, &err), &err);
  ck_assert_int_eq(r.stopped, 0);
  char path[1300];
  snprintf(path, sizeof path, "%s/last.safetensors", dir);
  ck_assert_str_eq(r.checkpoint, path);

  gm_checkpoint *c = NULL;
  gmt_ok(gm_checkpoint_open(&c, path, &err), &err);
  char keys[] = GM_TRAIN_META_KEYS;
  for (char *k = strtok(keys, " "); k; k = strtok(NULL, " "))
    ck_assert_msg(gm_checkpoint_meta(c, k) != NULL, "no metadata '%s'", k);
  ck_assert_str_eq(gm_checkpoint_meta(c, "format"), GM_CHECKPOINT_FORMAT);
  ck_assert_str_eq(gm_checkpoint_meta(c, "model"), PIXELCNN.name);
  ck_assert_str_eq(gm_checkpoint_meta(c, "preset"), PIXELCNN.preset);
  ck_assert_str_eq(gm_checkpoint_meta(c, "step"), "4");
  ck_assert_str_eq(gm_checkpoint_meta(c, "seed"), "7");
  ck_assert_str_eq(gm_checkpoint_meta(c, "optim_steps"), "4");
  ck_assert_str_eq(gm_checkpoint_meta(c, "genmoji_version"), gm_version());
  /* 10 training images at batch 3: steps of 3, 3, 3 and the epoch's last 1. */
  ck_assert_str_eq(gm_checkpoint_meta(c, "images_seen"), "10");
  cJSON *opts = cJSON_Parse(gm_checkpoint_meta(c, "options"));
  ck_assert_msg(cJSON_IsObject(opts), "%s", gm_checkpoint_meta(c, "options"));
  cJSON_Delete(opts);
  cJSON *train_keys = cJSON_Parse(gm_checkpoint_meta(c, "train"));
  ck_assert(cJSON_GetObjectItemCaseSensitive(train_keys, "ema")->valuedouble == 0.9);
  ck_assert(cJSON_GetObjectItemCaseSensitive(train_keys, "batch")->valuedouble == 3);
  cJSON_Delete(train_keys);
  cJSON *data = cJSON_Parse(gm_checkpoint_meta(c, "data"));
  ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(data, "source")->valuestring, "test images");
  ck_assert(cJSON_GetObjectItemCaseSensitive(data, "images")->valuedouble == 12);
  ck_assert(cJSON_GetObjectItemCaseSensitive(data, "train_images")->valuedouble ==
            gm_dataset_split(dataset(), 0, NULL, 0));
  cJSON_Delete(data);

  /* every parameter under its own name, with moments and EMA beside each trainable one */
  const gm_model_vtable *vt = model_vt(PIXELCNN.name);
  gm_resolved_options ro;
  gmt_ok(gm_model_options_resolve(vt, PIXELCNN.preset, PIXELCNN.sets, PIXELCNN.n_sets, &ro, &err),
         &err);
  gm_model *m = NULL;
  gm_rng rng;
  gm_rng_init(&rng, 0, 0);
  gmt_ok(vt->create(&m, gmt_device(), ro.model, ro.n_model, &rng, &err), &err);
  gm_params *p = vt->params(m);
  int trainable = 0;
  for (int i = 0; i < gm_params_count(p); i++) {
    const char *name;
    int kind;
    gm_tensor *t = gm_params_at(p, i, &name, &kind);
    const gm_checkpoint_entry *e = gm_checkpoint_find(c, name);
    ck_assert_msg(e != NULL, "no tensor %s", name);
    ck_assert_int_eq(e->ndim, t->ndim);
    if (kind != GM_PARAM_TRAINABLE) continue;
    trainable++;
    const char *prefixes[] = {"optim.exp_avg.", "optim.exp_avg_sq.", "ema."};
    for (int k = 0; k < 3; k++) {
      char key[512];
      snprintf(key, sizeof key, "%s%s", prefixes[k], name);
      const gm_checkpoint_entry *x = gm_checkpoint_find(c, key);
      ck_assert_msg(x && x->ndim == t->ndim &&
                        memcmp(x->shape, t->shape, sizeof(int64_t) * (size_t)t->ndim) == 0,
                    "no tensor %s shaped like %s", key, name);
    }
  }
  ck_assert_int_eq(gm_checkpoint_count(c), gm_params_count(p) + 3 * trainable);
  /* and it loads back into a fresh model */
  const char *const ignore[] = {"optim.", "ema.", NULL};
  gmt_ok(gm_checkpoint_load_params(c, p, ignore, &err), &err);
  vt->destroy(m);
  gm_model_options_free(&ro);
  gm_checkpoint_close(c);
}
END_TEST

START_TEST(metrics_lines_hold_step_epoch_loss_speed_lr_and_time) {
  const char *dir = fresh_dir("metrics");
  gm_error err = {0};
  gm_train_result r;
  run_opts o = {.steps = 8, .log_every = 2, .batch = 4};
  gmt_ok(train(&PIXELCNN, dir, &o, &r, &err), &err);
  metric m[16];
  int n = read_metrics(dir, m, 16);
  ck_assert_int_eq(n, 4);
  int per_epoch = (gm_dataset_split(dataset(), 0, NULL, 0) + 3) / 4;
  double wall = 0;
  for (int i = 0; i < n; i++) {
    ck_assert_int_eq(m[i].step, 2 * (i + 1));
    ck_assert_int_eq(m[i].epoch, (m[i].step - 1) / per_epoch);
    ck_assert_msg(isfinite(m[i].loss) && m[i].loss > 0, "loss %g", m[i].loss);
    ck_assert(m[i].images_per_s > 0);
    ck_assert(m[i].lr > 0);
    ck_assert(m[i].wall_s >= wall);
    wall = m[i].wall_s;
  }
  ck_assert(r.loss == (double)(float)m[3].loss);
}
END_TEST

START_TEST(epoch_budget_uses_every_training_image_once_per_epoch) {
  const char *dir = fresh_dir("epochs");
  gm_error err = {0};
  gm_train_result r;
  run_opts o = {.epochs = 2, .batch = 4};
  gmt_ok(train(&PIXELCNN, dir, &o, &r, &err), &err);
  int n = gm_dataset_split(dataset(), 0, NULL, 0);
  ck_assert_int_eq(r.epoch, 2);
  ck_assert_int_eq(r.images_seen, 2 * n);
  ck_assert_int_eq(r.step, 2 * ((n + 3) / 4));
}
END_TEST

START_TEST(keep_every_leaves_the_newest_k_step_files) {
  const char *dir = fresh_dir("keep");
  gm_error err = {0};
  gm_train_result r;
  run_opts o = {.steps = 8, .keep_every = 2, .keep = 2, .batch = 2};
  gmt_ok(train(&PIXELCNN, dir, &o, &r, &err), &err);
  const int want[] = {0, 0, 0, 1, 1}; /* step-2, -4 gone; -6, -8 kept */
  for (int s = 2; s <= 8; s += 2) {
    char path[1300];
    snprintf(path, sizeof path, "%s/step-%d.safetensors", dir, s);
    ck_assert_msg((access(path, F_OK) == 0) == want[s / 2], "%s", path);
    if (want[s / 2]) ck_assert_int_eq(meta_int(path, "step"), s);
  }
}
END_TEST

/* ---- stopping ---- */

typedef struct stopper {
  volatile sig_atomic_t flag;
  int64_t at;
} stopper;

static void stop_at(void *ctx, const gm_train_progress *p) {
  stopper *s = ctx;
  if (p->step >= s->at) s->flag = 1;
}

START_TEST(stop_flag_finishes_the_step_and_saves_it) {
  const char *dir = fresh_dir("stop");
  gm_error err = {0};
  gm_train_result r;
  stopper s = {0, 3};
  run_opts o = {.steps = 1000, .stop = &s.flag, .progress = stop_at, .progress_ctx = &s};
  gmt_ok(train(&PIXELCNN, dir, &o, &r, &err), &err);
  ck_assert_int_eq(r.stopped, 1);
  ck_assert_int_eq(r.step, 3);
  ck_assert_int_eq(meta_int(r.checkpoint, "step"), 3);
}
END_TEST

START_TEST(nonfinite_loss_stops_and_keeps_the_last_good_checkpoint) {
  const char *dir = fresh_dir("nan");
  gm_error err = {0};
  gm_train_result r;
  run_opts o = {.steps = 50, .save_every = 1, .extra_set = "lr=1e30"};
  int rc = train(&PIXELCNN, dir, &o, &r, &err);
  ck_assert_int_eq(rc, GM_ENUMERIC);
  long long bad = 0;
  const char *p = strstr(err.msg, "step ");
  ck_assert_msg(p && sscanf(p, "step %lld", &bad) == 1, "%s", err.msg);
  ck_assert_msg(strstr(err.msg, "last good checkpoint"), "%s", err.msg);
  char path[1300];
  snprintf(path, sizeof path, "%s/last.safetensors", dir);
  ck_assert_msg(access(path, F_OK) == 0, "%s: %s", path, err.msg);
  long long kept = meta_int(path, "step");
  ck_assert_msg(kept >= 1 && kept < bad, "kept step %lld, failed at %lld", kept, bad);
  assert_all_finite(path);
  metric m[64];
  int n = read_metrics(dir, m, 64);
  for (int i = 0; i < n; i++) ck_assert(isfinite(m[i].loss));
}
END_TEST

/* ---- resume refusals ---- */

START_TEST(resume_refuses_another_option_and_a_fresh_run_refuses_an_old_folder) {
  char dir[1200];
  snprintf(dir, sizeof dir, "%s", fresh_dir("refuse"));
  gm_error err = {0};
  gm_train_result r;
  run_opts o = {.steps = 2};
  gmt_ok(train(&PIXELCNN, dir, &o, &r, &err), &err);
  ck_assert_int_eq(train(&PIXELCNN, dir, &o, &r, &err), GM_EEXISTS);
  ck_assert_msg(strstr(err.msg, "resume"), "%s", err.msg);
  run_opts other = {.steps = 4, .resume = 1, .batch = 2};
  int rc = train(&PIXELCNN, dir, &other, &r, &err);
  ck_assert_msg(rc == GM_EMISMATCH, "%s", err.msg);
  ck_assert_msg(strstr(err.msg, "--batch: checkpoint 3, this run 2"), "%s", err.msg);
  run_opts set = {.steps = 4, .resume = 1, .extra_set = "ema=0.5"};
  ck_assert_int_eq(train(&PIXELCNN, dir, &set, &r, &err), GM_EMISMATCH);
  ck_assert_msg(strstr(err.msg, "--set ema: checkpoint 0, this run 0.5"), "%s", err.msg);
  /* every difference is listed, not only the first */
  run_opts two = {.steps = 4, .resume = 1, .batch = 2, .extra_set = "width=9"};
  rc = train(&PIXELCNN, dir, &two, &r, &err);
  ck_assert_msg(rc == GM_EMISMATCH, "%s", err.msg);
  ck_assert_msg(strstr(err.msg, "--set width: checkpoint 6, this run 9") &&
                strstr(err.msg, "--batch: checkpoint 3, this run 2"), "%s", err.msg);
  /* another data description is a difference too */
  run_opts data = {.steps = 4, .resume = 1, .data_desc = "{\"source\":\"other images\"}"};
  ck_assert_int_eq(train(&PIXELCNN, dir, &data, &r, &err), GM_EMISMATCH);
  ck_assert_msg(strstr(err.msg, "--data: checkpoint test images, this run other images"), "%s",
                err.msg);
  run_opts none = {.steps = 4, .resume = 1};
  ck_assert_int_eq(train(&PIXELCNN, fresh_dir("refuse-empty"), &none, &r, &err), GM_ENOTFOUND);
  ck_assert_msg(strstr(err.msg, "nothing to resume"), "%s", err.msg);
  /* the same settings resume */
  gmt_ok(train(&PIXELCNN, dir, &none, &r, &err), &err);
  ck_assert_int_eq(r.start_step, 2);
  ck_assert_int_eq(r.step, 4);
}
END_TEST

/* The checkpoint decides the learning rate of a resumed run: the one it was trained with
 * continues (not the preset's), and another one given is refused. */
START_TEST(resume_continues_with_the_checkpoint_learning_rate_and_refuses_another) {
  char dir[1200];
  snprintf(dir, sizeof dir, "%s", fresh_dir("resume-lr"));
  gm_error err = {0};
  gm_train_result r;
  run_opts o = {.steps = 2, .lr = 0.0025};
  gmt_ok(train(&PIXELCNN, dir, &o, &r, &err), &err);
  run_opts other = {.steps = 4, .resume = 1, .lr = 0.01};
  ck_assert_int_eq(train(&PIXELCNN, dir, &other, &r, &err), GM_EMISMATCH);
  ck_assert_msg(strstr(err.msg, "the checkpoint decides lr (it was 0.0025)"), "%s", err.msg);
  run_opts rest = {.steps = 4, .resume = 1};
  gmt_ok(train(&PIXELCNN, dir, &rest, &r, &err), &err);
  metric m[8];
  int n = read_metrics(dir, m, 8);
  ck_assert_int_eq(n, 4);
  for (int i = 0; i < n; i++)
    ck_assert_msg(m[i].lr == 0.0025, "step %lld: lr %g", (long long)m[i].step, m[i].lr);
}
END_TEST

/* ---- metrics write errors ---- */

/* metrics.jsonl on a full disk (here: at the file-size limit, SIGXFSZ ignored, so writes
 * past it fail with EFBIG, part way through a line): training stops at that step with an
 * error naming the file, and the last checkpoint is the one before, intact. */
START_TEST(metrics_write_error_stops_training_with_the_last_checkpoint_intact) {
  char dir[1200], metrics[1300], last[1300];
  snprintf(dir, sizeof dir, "%s", fresh_dir("metrics-full"));
  snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", dir);
  snprintf(last, sizeof last, "%s/last.safetensors", dir);
  gm_error err = {0};
  gm_train_result r;
  run_opts o = {.steps = 2};
  gmt_ok(train(&PIXELCNN, dir, &o, &r, &err), &err);
  struct stat st;
  ck_assert_int_eq(stat(last, &st), 0);
  const long limit = 1 << 20;
  ck_assert_msg(st.st_size < limit / 4, "the checkpoint (%lld bytes) nears the limit",
                (long long)st.st_size);
  /* lines the resume keeps (step <= 2) up to 40 bytes short of the limit */
  FILE *f = fopen(metrics, "a");
  ck_assert_ptr_nonnull(f);
  static const char line[] = "{\"step\":1,\"epoch\":0,\"loss\":1,\"images_per_s\":1,\"lr\":0.003,"
                             "\"wall_s\":0}\n";
  long size = ftell(f);
  while (size + (long)sizeof line - 1 <= limit - 40) {
    fputs(line, f);
    size += (long)sizeof line - 1;
  }
  while (size < limit - 40) { /* a blank-padded last line keeps the size exact */
    fputc(' ', f);
    size++;
  }
  fputc('\n', f);
  ck_assert_int_eq(fclose(f), 0);

  struct rlimit old;
  ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
  struct rlimit lim = {(rlim_t)limit, old.rlim_max};
  void (*old_xfsz)(int) = signal(SIGXFSZ, SIG_IGN);
  ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
  run_opts more = {.steps = 6, .resume = 1, .save_every = 1};
  int rc = train(&PIXELCNN, dir, &more, &r, &err);
  ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
  signal(SIGXFSZ, old_xfsz);

  ck_assert_msg(rc == GM_EIO, "got %s: %s", gm_err_name(rc), err.msg);
  ck_assert_msg(strstr(err.msg, metrics) && strstr(err.msg, "step 3") &&
                strstr(err.msg, "File too large"), "%s", err.msg);
  ck_assert_msg(strstr(err.msg, "the last good checkpoint is") && strstr(err.msg, "(step 2)"),
                "%s", err.msg);
  ck_assert_int_eq(meta_int(last, "step"), 2);
  assert_all_finite(last);
}
END_TEST

/* ---- SIGINT to a child genmoji train ---- */

/* Starts `genmoji train` on the test images into dir (stdout and stderr to files named
 * after tag), saving every `save_every` steps; with delay_ms > 0 every checkpoint save
 * sleeps that long (the GM_TEST_SAVE_DELAY_MS test hook) after its temporary file is
 * written, so a signal can be sent while a save is certainly under way. */
static pid_t spawn_train(const char *dir, const char *tag, const char *save_every, int delay_ms,
                         char *err_path, size_t err_cap) {
  dataset();
  char out_path[1300];
  snprintf(err_path, err_cap, "%s/%s.err", gmt_tmpdir(), tag);
  snprintf(out_path, sizeof out_path, "%s/%s.out", gmt_tmpdir(), tag);
  char *argv[32];
  int n = 0;
  argv[n++] = GENMOJI;
  argv[n++] = "train";
  argv[n++] = "--model";
  argv[n++] = (char *)PIXELCNN.name;
  argv[n++] = "--preset";
  argv[n++] = (char *)PIXELCNN.preset;
  static char sets[8][64];
  for (int i = 0; i < PIXELCNN.n_sets; i++) {
    snprintf(sets[i], sizeof sets[i], "%s", PIXELCNN.sets[i]);
    argv[n++] = "--set";
    argv[n++] = sets[i];
  }
  static char data[1200], out[1200], every[32];
  snprintf(data, sizeof data, "%s", g_data_dir);
  snprintf(out, sizeof out, "%s", dir);
  snprintf(every, sizeof every, "%s", save_every);
  char *rest[] = {"--data", data, "--out", out, "--steps", "1000000", "--batch", "2",
                  "--save-every", every, NULL};
  for (int i = 0; rest[i]; i++) argv[n++] = rest[i];
  argv[n] = NULL;
  /* the environment, plus the test hook when asked for */
  int ne = 0;
  while (environ[ne]) ne++;
  char **envp = calloc((size_t)ne + 2, sizeof *envp);
  int k = 0;
  for (int i = 0; i < ne; i++)
    if (strncmp(environ[i], "GM_TEST_SAVE_DELAY_MS=", 22) != 0) envp[k++] = environ[i];
  char hook[64];
  snprintf(hook, sizeof hook, "GM_TEST_SAVE_DELAY_MS=%d", delay_ms);
  if (delay_ms > 0) envp[k++] = hook;
  envp[k] = NULL;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid;
  ck_assert_int_eq(posix_spawn(&pid, GENMOJI, &fa, NULL, argv, envp), 0);
  posix_spawn_file_actions_destroy(&fa);
  free(envp);
  return pid;
}

/* A file in dir whose name holds ".safetensors.tmp.": a save under way (or left over). */
static int temp_in(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  int found = 0;
  for (struct dirent *e; (e = readdir(d));) found |= strstr(e->d_name, ".safetensors.tmp.") != NULL;
  closedir(d);
  return found;
}

/* Polls (every 10 ms, for up to 240 s: the kernels may need compiling first) until
 * ready(dir) holds; the child must not end meanwhile. */
static void wait_for(pid_t pid, const char *dir, int (*ready)(const char *), const char *what) {
  double t0 = gmt_now_s();
  while (!ready(dir) && gmt_now_s() - t0 < 240) {
    int status;
    ck_assert_msg(waitpid(pid, &status, WNOHANG) == 0, "genmoji train ended early");
    nanosleep(&(struct timespec){0, 10000000}, NULL);
  }
  ck_assert_msg(ready(dir), "no %s after 240 s", what);
}

static int has_last(const char *dir) {
  char p[1300];
  snprintf(p, sizeof p, "%s/last.safetensors", dir);
  return access(p, F_OK) == 0;
}

/* Waits for the child; it must exit 0 with "stopped by <sig>"; returns its stderr. */
static void expect_clean_stop(pid_t pid, const char *err_path, const char *sig, char *msg,
                              size_t cap) {
  int status = 0;
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  FILE *f = fopen(err_path, "r");
  size_t got = f ? fread(msg, 1, cap - 1, f) : 0;
  msg[got] = '\0';
  if (f) fclose(f);
  ck_assert_msg(WIFEXITED(status), "genmoji train died of signal %d: %s",
                WIFSIGNALED(status) ? WTERMSIG(status) : 0, msg);
  ck_assert_msg(WEXITSTATUS(status) == 0, "exit %d: %s", WEXITSTATUS(status), msg);
  char want[64];
  snprintf(want, sizeof want, "stopped by %s", sig);
  ck_assert_msg(strstr(msg, want) && strstr(msg, "--resume"), "%s", msg);
}

START_TEST(sigint_to_genmoji_train_saves_a_loadable_checkpoint_and_exits_0) {
  const char *dir = fresh_dir("sigint");
  char err_path[1300], last[1300], msg[4096];
  snprintf(last, sizeof last, "%s/last.safetensors", dir);
  pid_t pid = spawn_train(dir, "sigint", "2", 0, err_path, sizeof err_path);
  wait_for(pid, dir, has_last, "checkpoint");
  ck_assert_int_eq(kill(pid, SIGINT), 0);
  expect_clean_stop(pid, err_path, "SIGINT", msg, sizeof msg);
  long long step = meta_int(last, "step");
  ck_assert_int_ge(step, 2);
  assert_all_finite(last);
  /* the stop wrote the state of the last finished step, not only the periodic one */
  metric m[4096];
  int k = read_metrics(dir, m, 4096);
  ck_assert_int_eq(m[k - 1].step, step);
}
END_TEST

/* Ctrl-C twice while a checkpoint is being written: the save finishes (the signals do
 * not cut it), then train exits 0 with its message, the checkpoint whole and no
 * temporary file left. */
START_TEST(second_sigint_during_a_save_lets_it_finish_then_exits_with_the_message) {
  char dir[1200];
  snprintf(dir, sizeof dir, "%s", fresh_dir("sigint-save"));
  char err_path[1300], last[1300], msg[4096];
  snprintf(last, sizeof last, "%s/last.safetensors", dir);
  /* a 5 s sleep inside each save, after its temporary file is written */
  pid_t pid = spawn_train(dir, "sigint-save", "2", 5000, err_path, sizeof err_path);
  wait_for(pid, dir, temp_in, "save under way");
  ck_assert_int_eq(kill(pid, SIGINT), 0);
  /* apart, so that the second is not merged into the first while it is pending; both
   * still land well inside the 5 s save */
  nanosleep(&(struct timespec){0, 300000000}, NULL);
  ck_assert_int_eq(kill(pid, SIGINT), 0);
  expect_clean_stop(pid, err_path, "SIGINT", msg, sizeof msg);
  ck_assert_msg(!temp_in(dir), "a temporary file was left: %s", msg);
  ck_assert_int_ge(meta_int(last, "step"), 2);
  assert_all_finite(last);
}
END_TEST

/* SIGHUP (a closed terminal or ssh session) stops and saves as SIGTERM does. */
START_TEST(sighup_stops_genmoji_train_and_saves_like_sigterm) {
  char dir[1200];
  snprintf(dir, sizeof dir, "%s", fresh_dir("sighup"));
  char err_path[1300], last[1300], msg[4096];
  snprintf(last, sizeof last, "%s/last.safetensors", dir);
  pid_t pid = spawn_train(dir, "sighup", "2", 0, err_path, sizeof err_path);
  wait_for(pid, dir, has_last, "checkpoint");
  ck_assert_int_eq(kill(pid, SIGHUP), 0);
  expect_clean_stop(pid, err_path, "SIGHUP", msg, sizeof msg);
  long long step = meta_int(last, "step");
  metric m[4096];
  int k = read_metrics(dir, m, 4096);
  ck_assert_int_eq(m[k - 1].step, step);
  assert_all_finite(last);
}
END_TEST

START_TEST(pixels_raw_batches_hold_the_8_bit_values) {
  gm_dataset *d = dataset();
  gm_error err = {0};
  gm_tensor *x = NULL;
  gmt_ok(gm_tensor_create(&x, gmt_device(), GM_F32, 4, GM_SHAPE(1, 3, 32, 32), &err), &err);
  int idx = 0;
  uint8_t flip = 1;
  gmt_ok(gm_dataset_batch(d, &idx, 1, &flip, GM_PIXELS_RAW, x, &err), &err);
  float *v = gmt_read(x);
  const uint8_t *rgb = gm_dataset_get(d, 0)->rgb;
  for (int c = 0; c < 3; c++)
    for (int y = 0; y < 32; y++)
      for (int i = 0; i < 32; i++)
        ck_assert_msg(v[(c * 32 + y) * 32 + i] == rgb[3 * (y * 32 + 31 - i) + c], "c %d y %d x %d",
                      c, y, i);
  free(v);
  gm_tensor_destroy(x);
}
END_TEST

static Suite *make_suite(void) {
  Suite *s = suite_create("trainer");
  TCase *tc = tcase_create("train");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, pixels_raw_batches_hold_the_8_bit_values);
  tcase_add_test(tc, pixelcnn_resumed_run_matches_an_uninterrupted_one_bit_for_bit);
  tcase_add_test(tc, ddpm_resumed_run_with_ema_and_flips_matches_bit_for_bit);
  tcase_add_test(tc, checkpoint_holds_params_moments_ema_and_the_metadata);
  tcase_add_test(tc, metrics_lines_hold_step_epoch_loss_speed_lr_and_time);
  tcase_add_test(tc, epoch_budget_uses_every_training_image_once_per_epoch);
  tcase_add_test(tc, keep_every_leaves_the_newest_k_step_files);
  tcase_add_test(tc, stop_flag_finishes_the_step_and_saves_it);
  tcase_add_test(tc, nonfinite_loss_stops_and_keeps_the_last_good_checkpoint);
  tcase_add_test(tc, resume_refuses_another_option_and_a_fresh_run_refuses_an_old_folder);
  tcase_add_test(tc, resume_continues_with_the_checkpoint_learning_rate_and_refuses_another);
  tcase_add_test(tc, metrics_write_error_stops_training_with_the_last_checkpoint_intact);
  tcase_add_test(tc, sigint_to_genmoji_train_saves_a_loadable_checkpoint_and_exits_0);
  tcase_add_test(tc, second_sigint_during_a_save_lets_it_finish_then_exits_with_the_message);
  tcase_add_test(tc, sighup_stops_genmoji_train_and_saves_like_sigterm);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  int rc = gmt_run(make_suite());
  gm_dataset_destroy(g_data);
  gmt_build_registry_close();
  return rc;
}
