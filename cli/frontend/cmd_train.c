/* `genmoji train`: one model plugin on a dataset for a time, step or epoch budget through
 * the engine's trainer, with checkpoints and metrics.jsonl in --out, a progress bar, and a
 * clean stop on Ctrl-C, SIGTERM or SIGHUP that leaves last.safetensors for --resume (a
 * second signal during a save waits for it). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "dataopts.h"
#include "modelopts.h"
#include "progress.h"

enum {
  OPT_OUT = 0x2000,
  OPT_TIME,
  OPT_STEPS,
  OPT_EPOCHS,
  OPT_BATCH,
  OPT_LR,
  OPT_SEED,
  OPT_RESUME,
  OPT_SAVE_EVERY,
  OPT_KEEP_EVERY,
  OPT_KEEP,
  OPT_LOG_EVERY,
  OPT_QUIET,
  OPT_JSON
};

static const char usage[] =
    "Usage: genmoji train --model NAME [--preset P] [--set KEY=VALUE]... --data SRC [FILTERS]\n"
    "                     --out DIR [--time 5m | --steps N | --epochs N] [--batch N] [--lr X]\n"
    "                     [--seed S] [--resume] [--json]\n"
    "\n"
    "Trains a model plugin on the training split of a dataset. DIR receives\n"
    "last.safetensors (at the end, on Ctrl-C/SIGTERM and every --save-every steps),\n"
    "step-N.safetensors (--keep-every) and metrics.jsonl (one JSON object per logged step:\n"
    "step, epoch, loss, images_per_s, lr, wall_s). 'train --model NAME --help' shows the\n"
    "model's options, presets and the training keys.\n"
    "\n"
    "Model:\n"
    "      --model NAME         the model plugin (see 'genmoji plugins')\n"
    "      --preset P           a named option set of the model (default: its first)\n"
    "      --set KEY=VALUE      a model option or training key on top of the preset\n"
    "                           (repeatable)\n" GM_CLI_DEVICE_HELP
    "\n" GM_CLI_DATAOPTS_HELP
    "\n"
    "Training:\n"
    "      --out DIR            where checkpoints and metrics go (created if missing)\n"
    "      --time T             train for T: 90s, 5m, 1h, 1h30m or plain seconds\n"
    "      --steps N            train until N optimiser steps in all\n"
    "      --epochs N           train until N epochs in all (default: --time 5m)\n"
    "      --batch N            images per step, 1..1048576 (overrides the preset's batch)\n"
    "      --lr X               learning rate (overrides the preset's lr)\n"
    "      --seed S             initialisation, data order, flips and noise (default 0)\n"
    "      --resume             continue DIR/last.safetensors bit for bit; the budget counts\n"
    "                           the steps, epochs and time before it. The data options,\n"
    "                           preset, --set values and --batch must match the checkpoint\n"
    "                           (what differs is listed); --seed and --lr come from it and\n"
    "                           may not be given\n"
    "      --save-every N       write last.safetensors every N steps (default: every 200\n"
    "                           steps or 60 s, whichever comes first)\n"
    "      --keep-every N       also write step-N.safetensors every N steps\n"
    "      --keep K             keep only the K newest step-N files (default: all)\n"
    "      --log-every N        a metrics.jsonl line every N steps (default 1)\n"
    "\n"
    "Output:\n"
    "      --json               print {model, preset, step, start_step, epoch, images_seen,\n"
    "                           loss, images_per_s, wall_s, session_s, stopped, checkpoint}\n"
    "      --quiet              no progress on stderr\n"
    "  -h, --help               show this help (with --model NAME: the model's options)\n";

static volatile sig_atomic_t stop_signal; /* the first SIGINT, SIGTERM or SIGHUP */
static volatile sig_atomic_t saving;      /* the trainer is writing a checkpoint */
static volatile sig_atomic_t finished;    /* the run is over: only messages are left */

/* The first signal stops the run after the current step (the trainer saves). A later
 * one during a save, or once the run is over, is let be, so the save finishes and the
 * message comes; at any other time it quits at once, keeping the last checkpoint on
 * disk (writes are atomic). */
static void on_signal(int sig) {
  static const char msg[] = "\ngenmoji: train: second signal: quitting at once without "
                            "saving; the last checkpoint on disk is kept\n";
  if (!stop_signal) {
    stop_signal = sig;
    return;
  }
  if (saving || finished) return;
  if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0) _exit(130);
  _exit(130);
}

static const char *signal_name(int sig) {
  return sig == SIGTERM ? "SIGTERM" : sig == SIGHUP ? "SIGHUP" : "SIGINT";
}

static void print_notice(void *ctx, const char *message) {
  (void)ctx;
  fprintf(stderr, "genmoji: train: %s\n", message);
}

typedef struct train_args {
  const char *out;
  double time_s, lr;
  long long steps, epochs, batch, save_every, keep_every, keep, log_every;
  unsigned long long seed;
  int resume, json, quiet, help, budgets, seed_given;
} train_args;

/* The command's own options; returns 1 handled, 0 not ours, or an exit code + 10 (2 for
 * usage errors) so the caller can tell them apart. */
static int handle(train_args *a, int c, const char *arg, const char *cmd) {
  long long v;
  switch (c) {
  case OPT_OUT: a->out = arg; return 1;
  case OPT_TIME:
    if (gm_cli_parse_duration(arg, 0, &a->time_s))
      return 10 + gm_cli_usage(cmd, "--time: \"%s\" is not a duration (90s, 5m, 1h30m)", arg);
    a->budgets++;
    return 1;
  case OPT_STEPS:
  case OPT_EPOCHS:
    if (gm_cli_parse_long(arg, 1, LLONG_MAX, &v))
      return 10 + gm_cli_usage(cmd, "--%s: \"%s\" is not a positive integer",
                               c == OPT_STEPS ? "steps" : "epochs", arg);
    *(c == OPT_STEPS ? &a->steps : &a->epochs) = v;
    a->budgets++;
    return 1;
  case OPT_BATCH:
  case OPT_SAVE_EVERY:
  case OPT_KEEP_EVERY:
  case OPT_KEEP:
  case OPT_LOG_EVERY: {
    static const struct {
      int c;
      const char *name;
    } names[] = {{OPT_BATCH, "batch"}, {OPT_SAVE_EVERY, "save-every"},
                 {OPT_KEEP_EVERY, "keep-every"}, {OPT_KEEP, "keep"}, {OPT_LOG_EVERY, "log-every"}};
    const char *name = "";
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
      if (names[i].c == c) name = names[i].name;
    long long hi = c == OPT_BATCH ? 1 << 20 : 1 << 30; /* batch: the training key's range */
    if (gm_cli_parse_long(arg, 1, hi, &v))
      return 10 + gm_cli_usage(cmd, "--%s: \"%s\" is not an integer in 1..%lld", name, arg, hi);
    if (c == OPT_BATCH) a->batch = v;
    else if (c == OPT_SAVE_EVERY) a->save_every = v;
    else if (c == OPT_KEEP_EVERY) a->keep_every = v;
    else if (c == OPT_KEEP) a->keep = v;
    else a->log_every = v;
    return 1;
  }
  case OPT_LR: {
    char *end;
    errno = 0;
    a->lr = strtod(arg, &end);
    if (errno || end == arg || *end || !(a->lr > 0) || !isfinite(a->lr))
      return 10 + gm_cli_usage(cmd, "--lr: \"%s\" is not a positive number", arg);
    return 1;
  }
  case OPT_SEED:
    if (gm_cli_parse_long(arg, 0, LLONG_MAX, &v)) return 10 + gm_cli_usage(cmd, "--seed: \"%s\" is not a count", arg);
    a->seed = (unsigned long long)v;
    a->seed_given = 1;
    return 1;
  case OPT_RESUME: a->resume = 1; return 1;
  case OPT_JSON: a->json = 1; return 1;
  case OPT_QUIET: a->quiet = 1; return 1;
  case 'h': a->help = 1; return 1;
  default: return 0;
  }
}

static void print_result(const gm_train_result *r, const char *model, const char *preset,
                         const char *out, int json) {
  if (json) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", model);
    cJSON_AddStringToObject(o, "preset", preset);
    cJSON_AddStringToObject(o, "out", out);
    cJSON_AddNumberToObject(o, "step", (double)r->step);
    cJSON_AddNumberToObject(o, "start_step", (double)r->start_step);
    cJSON_AddNumberToObject(o, "epoch", (double)r->epoch);
    cJSON_AddNumberToObject(o, "images_seen", (double)r->images_seen);
    if (isfinite(r->loss)) cJSON_AddNumberToObject(o, "loss", r->loss);
    else cJSON_AddNullToObject(o, "loss");
    cJSON_AddNumberToObject(o, "images_per_s", r->images_per_s);
    cJSON_AddNumberToObject(o, "wall_s", r->wall_s);
    cJSON_AddNumberToObject(o, "session_s", r->session_s);
    cJSON_AddBoolToObject(o, "stopped", r->stopped);
    cJSON_AddStringToObject(o, "checkpoint", r->checkpoint);
    gm_cli_print_json(o);
    return;
  }
  char wall[32];
  printf("model:       %s (preset %s)\n", model, preset);
  printf("step:        %lld (%lld this run)\n", (long long)r->step,
         (long long)(r->step - r->start_step));
  printf("epoch:       %lld\n", (long long)r->epoch);
  if (isfinite(r->loss)) printf("loss:        %.6g\n", r->loss);
  printf("images/s:    %.1f\n", r->images_per_s);
  printf("wall:        %s (%.1f s)\n", gm_cli_duration(r->wall_s, wall, sizeof wall), r->wall_s);
  printf("checkpoint:  %s\n", r->checkpoint);
}

/* The handlers for SIGINT, SIGTERM and SIGHUP (a closed terminal stops like SIGTERM).
 * SA_RESTART, so a signal during a save does not fail its writes with EINTR. */
static const int caught[3] = {SIGINT, SIGTERM, SIGHUP};

static void catch_signals(struct sigaction old[3]) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  stop_signal = saving = finished = 0;
  for (int i = 0; i < 3; i++) sigaction(caught[i], &sa, &old[i]);
}

static void restore_signals(const struct sigaction old[3]) {
  for (int i = 0; i < 3; i++) sigaction(caught[i], &old[i], NULL);
}

typedef struct train_run {
  gm_cli_dataopts d;
  gm_cli_modelopts m;
  train_args a;
  const gm_plugin_record *rec;
  gm_resolved_options opts;
  gm_device *dev;
  gm_dataset *ds;
  char *desc;
} train_run;

static int train(train_run *t, gm_host *host) {
  gm_error err = {0};
  const gm_plugin_record *loader = NULL;
  if (gm_device_create(&t->dev, t->m.device, &err)) return gm_cli_fail_err(&err);
  if (gm_cli_dataopts_load(&t->d, host, &t->ds, &loader, &err)) return gm_cli_fail_err(&err);
  t->desc = gm_cli_dataopts_describe(&t->d, loader->name);
  gm_train_config c;
  gm_train_config_init(&c);
  c.model = t->rec->vtable;
  c.model_name = t->rec->name;
  c.options = &t->opts;
  c.data = t->ds;
  c.data_desc = t->desc;
  c.dev = t->dev;
  c.seed = t->a.seed;
  c.out_dir = t->a.out;
  c.budget_steps = t->a.steps;
  c.budget_epochs = t->a.epochs;
  c.budget_s = t->a.budgets ? t->a.time_s : 300;
  c.batch = (int)t->a.batch;
  c.lr = t->a.lr;
  c.save_every = t->a.save_every;
  c.keep_every = t->a.keep_every;
  c.keep = (int)t->a.keep;
  c.log_every = (int)t->a.log_every;
  c.resume = t->a.resume;
  c.stop = &stop_signal;
  c.saving = &saving;
  c.notice = print_notice;
  gm_cli_progress bar;
  gm_cli_progress_init(&bar, "train", t->a.quiet);
  c.progress = gm_cli_progress_train;
  c.progress_ctx = &bar;

  gm_trainer *tr = NULL;
  if (gm_trainer_create(&tr, &c, &err)) {
    int code = gm_cli_fail_err(&err);
    return err.code == GM_EMISMATCH ? GM_CLI_USAGE : code; /* other data or settings */
  }
  struct sigaction old[3];
  catch_signals(old);
  gm_train_result r;
  int rc = gm_trainer_run(tr, &r, &err);
  finished = 1;
  gm_cli_progress_end(&bar);
  gm_trainer_destroy(tr);
  if (rc) gm_cli_fail_err(&err);
  else if (r.stopped)
    gm_cli_fail("train: stopped by %s after step %lld; saved %s (continue with --resume)",
                signal_name(stop_signal), (long long)r.step, r.checkpoint);
  restore_signals(old); /* only now: a later signal meanwhile must not cut the messages */
  if (rc) return GM_CLI_FAIL;
  print_result(&r, t->rec->name, t->opts.preset->name, t->a.out, t->a.json);
  return GM_CLI_OK;
}

/* On --resume, the options whose value the checkpoint holds (--seed, --lr, --set lr) are
 * refused with that value: silently ignoring or applying them would not continue the run.
 * -1 when none is given (or there is no checkpoint to ask; the trainer says so). */
static int refuse_decided(const train_run *t, const char *cmd) {
  int set_lr = 0;
  for (int i = 0; i < t->m.n_sets; i++) set_lr |= strncmp(t->m.sets[i], "lr=", 3) == 0;
  if (!t->a.seed_given && !(t->a.lr > 0) && !set_lr) return -1;
  size_t n = strlen(t->a.out) + 32;
  char *path = malloc(n);
  if (!path) return gm_cli_fail("out of memory");
  snprintf(path, n, "%s/last.safetensors", t->a.out);
  gm_error err = {0};
  gm_checkpoint *c = NULL;
  int rc = gm_checkpoint_open(&c, path, &err);
  free(path);
  if (rc) return -1;
  const char *seed = gm_checkpoint_meta(c, "seed");
  const char *train = gm_checkpoint_meta(c, "train");
  cJSON *o = train ? cJSON_Parse(train) : NULL;
  const cJSON *lr = cJSON_GetObjectItemCaseSensitive(o, "lr");
  char lr_s[64] = "?", msg[512] = "";
  if (cJSON_IsNumber(lr)) snprintf(lr_s, sizeof lr_s, "%g", lr->valuedouble);
  int k = 0;
  size_t used = 0;
  const struct {
    int given;
    const char *opt, *was;
  } decided[] = {{t->a.seed_given, "--seed", seed ? seed : "?"},
                 {t->a.lr > 0, "--lr", lr_s},
                 {set_lr, "--set lr", lr_s}};
  for (size_t i = 0; i < sizeof decided / sizeof decided[0]; i++)
    if (decided[i].given && used < sizeof msg)
      used += (size_t)snprintf(msg + used, sizeof msg - used, "%s%s (it was %s)",
                               k++ ? " and " : "", decided[i].opt, decided[i].was);
  cJSON_Delete(o);
  gm_checkpoint_close(c);
  return gm_cli_usage(cmd, "--resume: the checkpoint decides %s; drop %s or start a new run", msg,
                      k > 1 ? "them" : "it");
}

/* The files train writes into --out must not be its --data. Returns -1 or GM_CLI_USAGE. */
static int check_paths(const train_run *t, const char *cmd) {
  char last[4200], metrics[4200];
  snprintf(last, sizeof last, "%s/last.safetensors", t->a.out);
  snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", t->a.out);
  const gm_cli_path ins[] = {{"--data", t->d.data}};
  const gm_cli_path outs[] = {{"--out", last}, {"--out", metrics}};
  return gm_cli_check_outputs(cmd, ins, 1, outs, 2) ? GM_CLI_USAGE : -1;
}

int gm_cli_cmd_train(int argc, char **argv, gm_host *host) {
  static const struct option longopts[] = {
      GM_CLI_DATAOPTS_LONGOPTS,
      GM_CLI_MODELOPTS_LONGOPTS,
      {"out", required_argument, NULL, OPT_OUT},
      {"time", required_argument, NULL, OPT_TIME},
      {"steps", required_argument, NULL, OPT_STEPS},
      {"epochs", required_argument, NULL, OPT_EPOCHS},
      {"batch", required_argument, NULL, OPT_BATCH},
      {"lr", required_argument, NULL, OPT_LR},
      {"seed", required_argument, NULL, OPT_SEED},
      {"resume", no_argument, NULL, OPT_RESUME},
      {"save-every", required_argument, NULL, OPT_SAVE_EVERY},
      {"keep-every", required_argument, NULL, OPT_KEEP_EVERY},
      {"keep", required_argument, NULL, OPT_KEEP},
      {"log-every", required_argument, NULL, OPT_LOG_EVERY},
      {"quiet", no_argument, NULL, OPT_QUIET},
      {"json", no_argument, NULL, OPT_JSON},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  train_run t;
  memset(&t, 0, sizeof t);
  gm_cli_dataopts_init(&t.d);
  gm_cli_modelopts_init(&t.m);
  gm_error err = {0};
  int c, code = -1;
  while (code < 0 && (c = gm_cli_getopt(argc, argv, "h", longopts)) != -1) {
    int r = gm_cli_dataopts_handle(&t.d, c, optarg, &err);
    if (r == 0) r = gm_cli_modelopts_handle(&t.m, c, optarg, &err);
    if (r < 0) code = gm_cli_usage(argv[0], "%s", err.msg);
    else if (r == 0 && (r = handle(&t.a, c, optarg, argv[0])) == 0) code = GM_CLI_USAGE;
    else if (r >= 10) code = r - 10;
  }
  if (code < 0 && !t.a.help && gm_cli_no_operands(argc, argv)) code = GM_CLI_USAGE;
  if (code < 0 && t.a.help) {
    gm_cli_help(usage);
    if (t.m.model && gm_cli_find_model(host, t.m.model, &t.rec, &err) == 0)
      gm_cli_print_model_help(t.rec);
    else if (t.m.model)
      code = gm_cli_usage(argv[0], "%s", err.msg);
    if (code < 0) code = GM_CLI_OK;
  }
  if (code < 0 && !t.m.model) code = gm_cli_usage(argv[0], "--model NAME is required");
  if (code < 0 && !t.a.out) code = gm_cli_usage(argv[0], "--out DIR is required");
  if (code < 0 && t.a.budgets > 1)
    code = gm_cli_usage(argv[0], "give one budget: --time, --steps or --epochs");
  if (code < 0 && gm_cli_find_model(host, t.m.model, &t.rec, &err))
    code = gm_cli_usage(argv[0], "%s", err.msg);
  if (code < 0 &&
      gm_model_options_resolve(t.rec->vtable, t.m.preset, t.m.sets, t.m.n_sets, &t.opts, &err))
    code = gm_cli_usage(argv[0], "%s", err.msg);
  if (code < 0 && t.a.resume) code = refuse_decided(&t, argv[0]);
  gm_train_settings settings; /* the trainer's own rules, checked before --out is made */
  if (code < 0 && gm_train_settings_resolve(&t.opts, (int)t.a.batch, t.a.lr, &settings, &err))
    code = gm_cli_usage(argv[0], "%s", err.msg);
  if (code < 0 && gm_cli_dataopts_check(&t.d, host, &err))
    code = gm_cli_usage(argv[0], "%s", err.msg);
  if (code < 0) code = check_paths(&t, argv[0]);
  if (code < 0) code = train(&t, host);
  cJSON_free(t.desc);
  gm_dataset_destroy(t.ds);
  gm_model_options_free(&t.opts);
  if (t.dev) gm_device_destroy(t.dev);
  gm_cli_modelopts_free(&t.m);
  return code;
}
