/* The training loop: settings from presets and overrides, the trainer's set-up, epochs
 * and batches from a seeded host PRNG, one step, the budget, checkpoint cadence and
 * metrics.jsonl. What goes into a checkpoint is in trainer_state.c. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "trainer_internal.h"

/* ---- settings ---- */

int gm_train_settings_resolve(const gm_resolved_options *o, int batch, double lr,
                              gm_train_settings *s, gm_error *err) {
  s->lr = 1e-3;
  s->batch = 8;
  s->optimizer = GM_OPTIM_ADAM;
  s->clip = 0;
  s->ema = 0;
  s->hflip = 0;
  const gm_kv *kv = o ? o->train : NULL;
  int n = o ? o->n_train : 0;
  int rc = 0;
  const char *opt = gm_kv_get(kv, n, "optimizer");
  if (opt && strcmp(opt, "adamw") == 0) s->optimizer = GM_OPTIM_ADAMW;
  else if (opt && strcmp(opt, "adam") != 0)
    return gm_error_set(err, GM_EINVAL, "option optimizer=%s: must be one of adam|adamw", opt);
  s->weight_decay = s->optimizer == GM_OPTIM_ADAMW ? 1e-2 : 0.0;
  int64_t b = s->batch;
  if (gm_kv_get(kv, n, "lr")) rc = gm_kv_float(kv, n, "lr", &s->lr, err);
  if (!rc && gm_kv_get(kv, n, "batch")) rc = gm_kv_int(kv, n, "batch", &b, err);
  if (!rc && gm_kv_get(kv, n, "weight_decay"))
    rc = gm_kv_float(kv, n, "weight_decay", &s->weight_decay, err);
  if (!rc && gm_kv_get(kv, n, "clip")) rc = gm_kv_float(kv, n, "clip", &s->clip, err);
  if (!rc && gm_kv_get(kv, n, "ema")) rc = gm_kv_float(kv, n, "ema", &s->ema, err);
  if (!rc && gm_kv_get(kv, n, "hflip")) rc = gm_kv_bool(kv, n, "hflip", &s->hflip, err);
  if (rc) return rc;
  if (batch > 0) b = batch;
  if (lr > 0) s->lr = lr;
  if (b < 1 || b > 1 << 20)
    return gm_error_set(err, GM_EINVAL, "batch=%lld: must be in 1..%d", (long long)b, 1 << 20);
  s->batch = (int)b;
  if (!(s->lr > 0) || !isfinite(s->lr))
    return gm_error_set(err, GM_EINVAL, "lr=%g: must be a positive number", s->lr);
  if (!(s->ema >= 0 && s->ema < 1))
    return gm_error_set(err, GM_EINVAL, "ema=%g: must be in [0, 1) (0 = off)", s->ema);
  if (!(s->weight_decay >= 0) || !(s->clip >= 0))
    return gm_error_set(err, GM_EINVAL, "weight_decay and clip must not be negative");
  return 0;
}

void gm_train_config_init(gm_train_config *c) { memset(c, 0, sizeof *c); }

/* ---- set-up ---- */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* mkdir -p */
static int make_dirs(const char *path, gm_error *err) {
  size_t n = strlen(path);
  char *p = malloc(n + 1);
  if (!p) return gm_error_set(err, GM_ENOMEM, "%s: out of memory", path);
  memcpy(p, path, n + 1);
  int rc = 0;
  for (char *q = p + 1; !rc; q++) {
    if (*q != '/' && *q != '\0') continue;
    char c = *q;
    *q = '\0';
    if (mkdir(p, 0777) != 0 && errno != EEXIST)
      rc = gm_error_set(err, GM_EIO, "%s: cannot create: %s", p, strerror(errno));
    *q = c;
    if (!c) break;
  }
  free(p);
  struct stat st;
  if (!rc && (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)))
    rc = gm_error_set(err, GM_EIO, "%s: not a folder", path);
  return rc;
}

static char *join(const char *dir, const char *name) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *s = malloc(n);
  if (s) snprintf(s, n, "%s/%s", dir, name);
  return s;
}

static int check_config(const gm_train_config *c, gm_error *err) {
  if (!c->model || !c->model_name || !c->options || !c->options->preset || !c->data || !c->dev ||
      !c->out_dir)
    return gm_error_set(err, GM_EINVAL, "trainer: model, model_name, options, data, dev and "
                        "out_dir are required");
  int budgets = (c->budget_s > 0) + (c->budget_steps > 0) + (c->budget_epochs > 0);
  if (budgets != 1)
    return gm_error_set(err, GM_EINVAL, "trainer: give exactly one budget (seconds, steps or "
                        "epochs), not %d", budgets);
  if (c->save_every < 0 || c->save_every_s < 0 || c->keep_every < 0 || c->keep < 0 ||
      c->log_every < 0)
    return gm_error_set(err, GM_EINVAL, "trainer: negative cadence");
  return 0;
}

int gm__train_parts_open(gm__train_parts *p, const gm_model_vtable *vt, const char *name,
                         gm_device *dev, const gm_resolved_options *opts,
                         const gm_train_settings *s, uint64_t seed, gm_error *err) {
  memset(p, 0, sizeof *p);
  p->vt = vt;
  p->name = name;
  gm_rng init;
  gm_rng_init(&init, seed, 0);
  int rc = vt->create(&p->model, dev, opts->model, opts->n_model, &init, err);
  if (rc) return gm_error_prefix(err, "model '%s'", name);
  p->params = vt->params(p->model);
  if (!p->params)
    return gm_error_set(err, GM_EPLUGIN, "model '%s': params() returned nothing", name);
  gm_optim_config oc;
  gm_optim_config_default(&oc, s->optimizer);
  oc.lr = (float)s->lr;
  oc.weight_decay = (float)s->weight_decay;
  oc.clip_norm = (float)s->clip;
  rc = gm_optim_create(&p->optim, p->params, &oc, err);
  if (!rc && s->ema > 0) rc = gm_ema_create(&p->ema, p->params, (float)s->ema, err);
  return rc;
}

void gm__train_parts_close(gm__train_parts *p) {
  gm_ema_destroy(p->ema);
  gm_optim_destroy(p->optim);
  if (p->model) p->vt->destroy(p->model);
  memset(p, 0, sizeof *p);
}

int gm__train_parts_step(gm__train_parts *p, gm_tensor *x, const gm_text_cond *cond,
                         gm_rng *rng, int64_t step, float *loss_out, gm_error *err) {
  gm_tensor *loss = NULL;
  int rc = cond ? p->vt->loss_text(p->model, x, cond, rng, &loss, err)
                : p->vt->loss(p->model, x, rng, &loss, err);
  if (rc) gm_error_prefix(err, "step %lld: model '%s' loss", (long long)step, p->name);
  else if (!loss || loss->numel != 1)
    rc = gm_error_set(err, GM_EPLUGIN, "step %lld: model '%s' loss is not a scalar",
                      (long long)step, p->name);
  if (!rc) rc = gm_params_zero_grad(p->params, err);
  if (!rc) rc = gm_backward(loss, err);
  if (!rc) rc = gm_optim_step(p->optim, err);
  if (!rc && p->ema) rc = gm_ema_update(p->ema, err);
  if (!rc) rc = gm_tensor_read(loss, loss_out, sizeof *loss_out, err);
  return rc;
}

int gm__cond_dropped(uint64_t seed, int64_t step, int i, double p) {
  if (!(p > 0)) return 0;
  uint32_t ctr[4] = {(uint32_t)step, (uint32_t)((uint64_t)step >> 32), (uint32_t)(i / 4),
                     0x636f6e64u /* "cond" */};
  uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)}, out[4];
  gm_philox4x32_10(ctr, key, out);
  return (out[i % 4] >> 8) * (1.0 / 16777216.0) < p;
}

/* A text model's vocabulary from the training split's texts, and the condition tensors
 * of a full batch. Other models: nothing. */
static int open_text(gm_trainer *t, gm_error *err) {
  gm_model_info info;
  int rc = gm_model_describe(t->c.model, t->c.options, &info, err);
  if (rc || !info.text_condition) return rc;
  const char **texts = malloc(sizeof *texts * (size_t)t->n_train);
  if (!texts) return gm_error_set(err, GM_ENOMEM, "trainer: out of memory");
  for (int i = 0; i < t->n_train; i++) texts[i] = gm_dataset_get(t->c.data, t->train_idx[i])->text;
  rc = gm_vocab_build(&t->vocab, texts, t->n_train, 1, err);
  free(texts);
  if (rc) return gm_error_prefix(err, "trainer: the training texts");
  if (gm_vocab_size(t->vocab) > info.vocab_size)
    return gm_error_set(err, GM_EINVAL,
                        "trainer: the training texts have %d words, and model '%s' holds %d "
                        "token ids (padding included); raise its vocabulary option",
                        gm_vocab_size(t->vocab) - 1, t->c.model_name, info.vocab_size);
  t->vocab_str = gm_vocab_serialize(t->vocab);
  if (!t->vocab_str) return gm_error_set(err, GM_ENOMEM, "trainer: out of memory");
  t->cond_drop = info.cond_drop;
  return gm_text_cond_create(t->c.dev, t->x_n, &t->cond, err);
}

/* The texts of the batch at perm[epoch_pos ..] for step `step` (condition dropout
 * applied) into the condition tensors, made for n rows when n is not the full batch. */
static int batch_texts(gm_trainer *t, int n, int64_t step, gm_text_cond *c, gm_error *err) {
  *c = t->cond;
  int rc = 0;
  if (n != t->x_n) {
    c->ids = c->mask = c->empty = NULL;
    int64_t L = GM_TEXT_MAX_TOKENS;
    rc = gm__tensor_temp(&c->ids, t->c.dev, GM_I32, 2, GM_SHAPE(n, L), err);
    if (!rc) rc = gm__tensor_temp(&c->mask, t->c.dev, GM_F32, 2, GM_SHAPE(n, L), err);
    if (!rc) rc = gm__tensor_temp(&c->empty, t->c.dev, GM_F32, 2, GM_SHAPE(n, 1), err);
    if (rc) return rc;
  }
  const char **texts = malloc(sizeof *texts * (size_t)n);
  if (!texts) return gm_error_set(err, GM_ENOMEM, "trainer: out of memory");
  for (int i = 0; i < n; i++)
    texts[i] = gm__cond_dropped(t->seed, step, i, t->cond_drop)
                   ? ""
                   : gm_dataset_get(t->c.data, t->perm[t->epoch_pos + i])->text;
  rc = gm_text_batch_write(t->vocab, texts, n, c->ids, c->mask, c->empty, NULL, err);
  free(texts);
  return rc;
}

static int load_split(gm_trainer *t, gm_error *err) {
  gm_dataset *d = t->c.data;
  t->size = gm_dataset_size(d);
  t->n_train = gm_dataset_split(d, 0, NULL, 0);
  if (t->n_train == 0)
    return gm_error_set(err, GM_EINVAL, "trainer: the training split is empty (%d images, all "
                        "held out)", gm_dataset_count(d));
  t->train_idx = malloc(sizeof *t->train_idx * (size_t)t->n_train);
  t->perm = malloc(sizeof *t->perm * (size_t)t->n_train);
  if (t->s.hflip) t->flip = malloc((size_t)t->n_train);
  if (!t->train_idx || !t->perm || (t->s.hflip && !t->flip))
    return gm_error_set(err, GM_ENOMEM, "trainer: out of memory");
  gm_dataset_split(d, 0, t->train_idx, t->n_train);
  t->perm_epoch = -1;
  int n = t->s.batch < t->n_train ? t->s.batch : t->n_train;
  t->x_n = n;
  int rc = gm_tensor_create(&t->x, t->c.dev, GM_F32, 4, GM_SHAPE(n, 3, t->size, t->size), err);
  if (!rc) gm_tensor_set_name(t->x, "batch");
  return rc;
}

/* A name the checkpoint writer gives its temporary files: NAME.safetensors.tmp.PID.N. */
static int is_checkpoint_temp(const char *name, long *pid) {
  const char *p = strstr(name, ".safetensors.tmp.");
  if (!p || p == name) return 0;
  p += strlen(".safetensors.tmp.");
  char *end;
  errno = 0;
  if (*p < '0' || *p > '9') return 0;
  *pid = strtol(p, &end, 10);
  if (errno || *end != '.' || end[1] < '0' || end[1] > '9') return 0;
  p = end + 1;
  while (*p >= '0' && *p <= '9') p++;
  return *p == '\0';
}

/* Removes what an interrupted write in the out folder left: the checkpoint writer's
 * temporary files of processes no longer running (a kill -9 mid-save), and
 * metrics.jsonl.tmp (a rewrite cut short). Each removal is a notice. */
static int remove_stale_temps(gm_trainer *t, gm_error *err) {
  DIR *d = opendir(t->c.out_dir);
  if (!d) return gm_error_set(err, GM_EIO, "%s: cannot list: %s", t->c.out_dir, strerror(errno));
  int rc = 0;
  for (struct dirent *e; !rc && (e = readdir(d));) {
    long pid = 0;
    int metrics = strcmp(e->d_name, "metrics.jsonl.tmp") == 0;
    if (!metrics && !is_checkpoint_temp(e->d_name, &pid)) continue;
    /* another process still writing (kill answers) keeps its file; ours cannot be one */
    if (!metrics && pid > 0 && pid != (long)getpid() && pid <= INT_MAX &&
        (kill((pid_t)pid, 0) == 0 || errno == EPERM))
      continue;
    char *path = join(t->c.out_dir, e->d_name);
    if (!path) {
      rc = gm_error_set(err, GM_ENOMEM, "trainer: out of memory");
      break;
    }
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISREG(st.st_mode)) {
      if (unlink(path) != 0 && errno != ENOENT) {
        rc = gm_error_set(err, GM_EIO, "%s: cannot remove a stale temporary file: %s", path,
                          strerror(errno));
      } else if (t->c.notice) {
        char msg[4400];
        snprintf(msg, sizeof msg, "removed the stale temporary file %s (%lld bytes, left by an "
                 "interrupted write)", path, (long long)st.st_size);
        t->c.notice(t->c.notice_ctx, msg);
      }
    }
    free(path);
  }
  closedir(d);
  return rc;
}

static int metrics_error(gm_trainer *t, const char *what, int e, gm_error *err) {
  char good[4400];
  return gm_error_set(err, GM_EIO, "%s: cannot %s: %s; training stopped at step %lld; %s",
                      t->metrics_path, what, strerror(e), (long long)t->step,
                      gm__trainer_last_good(t, good, sizeof good));
}

/* metrics.jsonl keeps the lines up to `step` (a crash may have logged steps that the
 * checkpoint does not hold), then is appended to. The rewrite goes through
 * metrics.jsonl.tmp, removed again on any failure. */
static int open_metrics(gm_trainer *t, int64_t keep_upto, gm_error *err) {
  const char *path = t->metrics_path;
  if (keep_upto >= 0) {
    FILE *in = fopen(path, "r");
    if (in) {
      char tmp[4200];
      snprintf(tmp, sizeof tmp, "%s.tmp", path);
      FILE *out = fopen(tmp, "w");
      if (!out) {
        int e = errno;
        fclose(in);
        return gm_error_set(err, GM_EIO, "%s: cannot write: %s", tmp, strerror(e));
      }
      char line[1024];
      int bad = 0, e = 0;
      while (!bad && fgets(line, sizeof line, in)) {
        long long s;
        if (sscanf(line, "{\"step\":%lld", &s) == 1 && s <= keep_upto && fputs(line, out) < 0)
          bad = 1, e = errno;
      }
      const char *what = bad ? "rewrite" : "read";
      if (!bad && ferror(in)) bad = 1, e = errno;
      fclose(in);
      if (!bad && (fflush(out) != 0 || fsync(fileno(out)) != 0)) bad = 1, e = errno, what = "rewrite";
      if (fclose(out) != 0 && !bad) bad = 1, e = errno, what = "rewrite";
      if (!bad && rename(tmp, path) != 0) bad = 1, e = errno, what = "rewrite";
      if (bad) {
        unlink(tmp);
        return gm_error_set(err, GM_EIO, "%s: cannot %s: %s", path, what, strerror(e));
      }
    }
  }
  t->metrics = fopen(path, keep_upto >= 0 ? "a" : "w");
  if (!t->metrics) return gm_error_set(err, GM_EIO, "%s: cannot open: %s", path, strerror(errno));
  return 0;
}

int gm_trainer_create(gm_trainer **out, const gm_train_config *c, gm_error *err) {
  *out = NULL;
  int rc = check_config(c, err);
  if (rc) return rc;
  gm_trainer *t = calloc(1, sizeof *t);
  if (!t) return gm_error_set(err, GM_ENOMEM, "trainer: out of memory");
  t->c = *c;
  if (!t->c.log_every) t->c.log_every = 1;
  if (!t->c.save_every && !t->c.save_every_s) {
    t->c.save_every = 200;
    t->c.save_every_s = 60;
  }
  t->seed = c->seed;
  t->saved_step = -1;
  gm_rng_init(&t->rng, c->seed, 1);
  rc = gm_train_settings_resolve(c->options, c->batch, c->lr, &t->s, err);
  if (!rc) rc = make_dirs(c->out_dir, err);
  if (!rc) {
    t->last_path = join(c->out_dir, "last.safetensors");
    t->metrics_path = join(c->out_dir, "metrics.jsonl");
    if (!t->last_path || !t->metrics_path) rc = gm_error_set(err, GM_ENOMEM, "trainer: out of memory");
  }
  if (!rc) rc = remove_stale_temps(t, err);
  if (!rc && c->resume && access(t->last_path, F_OK) != 0)
    rc = gm_error_set(err, GM_ENOTFOUND, "%s: nothing to resume from (no last.safetensors)",
                      t->last_path);
  if (!rc && !c->resume && access(t->last_path, F_OK) == 0)
    rc = gm_error_set(err, GM_EEXISTS, "%s already holds a run (last.safetensors); resume it or "
                      "train into another folder", c->out_dir);
  if (!rc) rc = load_split(t, err);
  if (!rc) rc = open_text(t, err);
  if (!rc)
    rc = gm__train_parts_open(&t->p, c->model, c->model_name, c->dev, c->options, &t->s,
                              c->seed, err);
  if (!rc) rc = gm__trainer_state_init(t, err);
  if (!rc && c->resume) {
    rc = gm__trainer_restore(t, t->last_path, err);
    if (!rc) {
      t->saved_step = t->step;
      t->saved_path = t->last_path;
    }
  }
  if (!rc) rc = open_metrics(t, c->resume ? t->step : -1, err);
  if (rc) {
    gm_trainer_destroy(t);
    return rc;
  }
  *out = t;
  return 0;
}

void gm_trainer_destroy(gm_trainer *t) {
  if (!t) return;
  gm__trainer_state_close(t);
  gm__train_parts_close(&t->p);
  gm_tensor_destroy(t->x);
  gm_text_cond_free(&t->cond);
  gm_vocab_destroy(t->vocab);
  free(t->vocab_str);
  if (t->metrics) fclose(t->metrics);
  free(t->train_idx);
  free(t->perm);
  free(t->flip);
  free(t->last_path);
  free(t->metrics_path);
  free(t);
}

gm_model *gm_trainer_model(gm_trainer *t) { return t->p.model; }
gm_params *gm_trainer_params(gm_trainer *t) { return t->p.params; }
gm_ema *gm_trainer_ema(gm_trainer *t) { return t->p.ema; }

/* ---- epochs and batches ---- */

static uint64_t splitmix64(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* The order (and flips) of one epoch: a function of (seed, epoch) alone, so a resumed run
 * rebuilds the epoch it stopped in. */
static void make_epoch(gm_trainer *t, int64_t epoch) {
  uint64_t s = t->seed;
  s = splitmix64(&s) ^ ((uint64_t)epoch * 0xD1B54A32D192ED03ull);
  memcpy(t->perm, t->train_idx, sizeof *t->perm * (size_t)t->n_train);
  for (int i = t->n_train - 1; i > 0; i--) {
    int j = (int)(((splitmix64(&s) >> 32) * (uint64_t)(i + 1)) >> 32);
    int tmp = t->perm[i];
    t->perm[i] = t->perm[j];
    t->perm[j] = tmp;
  }
  if (t->flip)
    for (int i = 0; i < t->n_train; i++) t->flip[i] = (uint8_t)(splitmix64(&s) >> 63);
  t->perm_epoch = epoch;
}

/* The next batch (the rest of the epoch when fewer than a batch are left) into *x. */
static int next_batch(gm_trainer *t, gm_tensor **x, int *n, gm_error *err) {
  if (t->perm_epoch != t->epoch) make_epoch(t, t->epoch);
  int left = t->n_train - (int)t->epoch_pos;
  *n = left < t->x_n ? left : t->x_n;
  *x = t->x;
  if (*n != t->x_n) {
    int rc = gm_tensor_create(x, t->c.dev, GM_F32, 4, GM_SHAPE(*n, 3, t->size, t->size), err);
    if (rc) return rc;
    gm_tensor_set_name(*x, "batch");
  }
  const int *idx = t->perm + t->epoch_pos;
  const uint8_t *flip = t->flip ? t->flip + t->epoch_pos : NULL;
  int rc = gm_dataset_batch(t->c.data, idx, *n, flip, GM_PIXELS_RAW, *x, err);
  if (rc && *x != t->x) gm_tensor_destroy(*x);
  return rc;
}

static int train_step(gm_trainer *t, float *loss_out, gm_error *err) {
  gm_tape_reset(t->c.dev);
  gm_tensor *x;
  int n;
  int rc = next_batch(t, &x, &n, err);
  if (rc) return rc;
  gm_text_cond cond;
  if (t->vocab) rc = batch_texts(t, n, t->step + 1, &cond, err);
  if (!rc) rc = gm__train_parts_step(&t->p, x, t->vocab ? &cond : NULL, &t->rng, t->step + 1,
                                     loss_out, err);
  if (x != t->x) gm_tensor_destroy(x);
  if (rc) return rc;
  t->step++;
  t->images_seen += n;
  t->epoch_pos += n;
  if (t->epoch_pos == t->n_train) {
    t->epoch++;
    t->epoch_pos = 0;
  }
  return 0;
}

/* ---- the loop ---- */

static double budget_fraction(const gm_trainer *t) {
  const gm_train_config *c = &t->c;
  double f;
  if (c->budget_steps > 0) f = (double)t->step / (double)c->budget_steps;
  else if (c->budget_epochs > 0)
    f = ((double)t->epoch + (double)t->epoch_pos / t->n_train) / (double)c->budget_epochs;
  else f = (t->wall_before + t->session_s) / c->budget_s;
  return f < 1 ? f : 1;
}

static int budget_spent(const gm_trainer *t) {
  const gm_train_config *c = &t->c;
  if (c->budget_steps > 0) return t->step >= c->budget_steps;
  if (c->budget_epochs > 0) return t->epoch >= c->budget_epochs;
  return t->wall_before + t->session_s >= c->budget_s;
}

static int64_t total_steps(const gm_trainer *t) {
  if (t->c.budget_steps > 0) return t->c.budget_steps;
  if (t->c.budget_epochs > 0) {
    int64_t per = (t->n_train + t->x_n - 1) / t->x_n;
    return t->c.budget_epochs * per;
  }
  return 0;
}

static int log_metrics(gm_trainer *t, float loss, double images_per_s, gm_error *err) {
  if (fprintf(t->metrics,
              "{\"step\":%lld,\"epoch\":%lld,\"loss\":%.9g,\"images_per_s\":%.6g,\"lr\":%.9g,"
              "\"wall_s\":%.6f}\n",
              (long long)t->step, (long long)(t->epoch_pos ? t->epoch : t->epoch - 1),
              (double)loss, images_per_s, t->s.lr, t->wall_before + t->session_s) < 0)
    return metrics_error(t, "write", errno, err);
  if (fflush(t->metrics) != 0) return metrics_error(t, "write", errno, err);
  return 0;
}

/* The metrics lines so far on disk, before a checkpoint that counts them is written and
 * at the end. A file that cannot be synced (EINVAL: a pipe, a device) is let be. */
static int sync_metrics(gm_trainer *t, gm_error *err) {
  if (fflush(t->metrics) != 0) return metrics_error(t, "write", errno, err);
  if (fsync(fileno(t->metrics)) != 0 && errno != EINVAL && errno != EROFS)
    return metrics_error(t, "sync", errno, err);
  return 0;
}

static int save_last(gm_trainer *t, gm_error *err) {
  int rc = sync_metrics(t, err);
  if (!rc) rc = gm_trainer_save(t, t->last_path, err);
  if (rc) return rc;
  t->saved_step = t->step;
  t->saved_path = t->last_path;
  return 0;
}

static int cmp_desc(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x < y) - (x > y);
}

/* Deletes all but the `keep` newest step-N.safetensors of the out folder. */
static int prune_steps(gm_trainer *t, gm_error *err) {
  DIR *d = opendir(t->c.out_dir);
  if (!d) return gm_error_set(err, GM_EIO, "%s: cannot list: %s", t->c.out_dir, strerror(errno));
  int64_t *steps = NULL;
  int n = 0, cap = 0, rc = 0;
  for (struct dirent *e; !rc && (e = readdir(d));) {
    long long s;
    int end = 0;
    if (sscanf(e->d_name, "step-%lld.safetensors%n", &s, &end) != 1 || e->d_name[end]) continue;
    if (n == cap) {
      cap = cap ? 2 * cap : 16;
      int64_t *grown = realloc(steps, sizeof *steps * (size_t)cap);
      if (!grown) rc = gm_error_set(err, GM_ENOMEM, "trainer: out of memory");
      else steps = grown;
    }
    if (!rc) steps[n++] = s;
  }
  closedir(d);
  if (!rc) qsort(steps, (size_t)n, sizeof *steps, cmp_desc);
  for (int i = t->c.keep; !rc && i < n; i++) {
    char name[64], *path;
    snprintf(name, sizeof name, "step-%lld.safetensors", (long long)steps[i]);
    if (!(path = join(t->c.out_dir, name))) rc = gm_error_set(err, GM_ENOMEM, "out of memory");
    else if (unlink(path) != 0 && errno != ENOENT)
      rc = gm_error_set(err, GM_EIO, "%s: cannot delete: %s", path, strerror(errno));
    free(path);
  }
  free(steps);
  return rc;
}

static int save_step_file(gm_trainer *t, char *path, size_t n, gm_error *err) {
  snprintf(path, n, "%s/step-%lld.safetensors", t->c.out_dir, (long long)t->step);
  int rc = gm_trainer_save(t, path, err);
  if (!rc && t->c.keep > 0) rc = prune_steps(t, err);
  return rc;
}

static int nonfinite_loss(gm_trainer *t, float loss, gm_error *err) {
  char good[4400];
  return gm_error_set(err, GM_ENUMERIC, "step %lld: the loss is %s; training stopped (the "
                      "learning rate may be too high); %s", (long long)t->step,
                      isnan(loss) ? "NaN" : "infinite", gm__trainer_last_good(t, good, sizeof good));
}

int gm_trainer_run(gm_trainer *t, gm_train_result *r, gm_error *err) {
  memset(r, 0, sizeof *r);
  r->start_step = t->step;
  r->loss = NAN;
  gm_device *dev = t->c.dev;
  int was_recording = gm_grad_enable(dev, 1);
  if (t->c.model->train_mode) t->c.model->train_mode(t->p.model, 1);
  double t0 = now_s(), last_save = t0;
  int64_t images = 0;
  float loss = NAN;
  int rc = 0;
  t->session_s = 0;
  double start_fraction = budget_fraction(t);
  while (!budget_spent(t)) {
    if (t->c.stop && *t->c.stop) {
      r->stopped = 1;
      break;
    }
    int64_t seen = t->images_seen;
    rc = train_step(t, &loss, err);
    if (rc) break;
    images += t->images_seen - seen;
    t->session_s = now_s() - t0;
    if (!isfinite(loss)) {
      rc = nonfinite_loss(t, loss, err);
      break;
    }
    double ips = t->session_s > 0 ? (double)images / t->session_s : 0;
    /* logged before this step's checkpoints: a failed write keeps the last one intact */
    if (t->step % t->c.log_every == 0 && (rc = log_metrics(t, loss, ips, err))) break;
    char step_path[4200];
    const char *written = NULL;
    if (t->c.keep_every > 0 && t->step % t->c.keep_every == 0) {
      if ((rc = save_step_file(t, step_path, sizeof step_path, err))) break;
      written = step_path;
    }
    double now = now_s();
    if ((t->c.save_every > 0 && t->step % t->c.save_every == 0) ||
        (t->c.save_every_s > 0 && now - last_save >= t->c.save_every_s)) {
      if ((rc = save_last(t, err))) break;
      last_save = now;
      written = t->last_path;
    }
    if (t->c.progress) {
      gm_train_progress p = {
          .step = t->step, .total_steps = total_steps(t), .fraction = budget_fraction(t),
          .session_fraction = start_fraction, .epoch = t->epoch, .loss = loss,
          .images_per_s = ips, .wall_s = t->wall_before + t->session_s,
          .session_s = t->session_s, .lr = t->s.lr, .batch = t->s.batch, .checkpoint = written};
      t->c.progress(t->c.progress_ctx, &p);
    }
  }
  t->session_s = now_s() - t0;
  if (t->c.saving) *t->c.saving = 1; /* the final save and what follows are not to be cut */
  if (!rc && t->saved_step != t->step) rc = save_last(t, err);
  if (!rc) rc = sync_metrics(t, err);
  gm_tape_reset(dev);
  gm_grad_enable(dev, was_recording);
  r->step = t->step;
  r->epoch = t->epoch;
  r->images_seen = t->images_seen;
  r->loss = t->step > r->start_step ? loss : NAN;
  r->session_s = t->session_s;
  r->wall_s = t->wall_before + t->session_s;
  r->images_per_s = t->session_s > 0 ? (double)images / t->session_s : 0;
  if (t->saved_path) snprintf(r->checkpoint, sizeof r->checkpoint, "%s", t->saved_path);
  if (!rc) {
    /* the next session's counters start from here */
    t->wall_before += t->session_s;
    t->session_s = 0;
  }
  if (t->c.saving) *t->c.saving = 0;
  return rc;
}
