/* The command lines of `genmoji compare`'s report: the command as typed, shell-quoted,
 * and the same with every default spelled out (--models, each model's --preset and the
 * --set values it ran with, the image size set from --size included). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>

#include "compare.h"

/* Appends s to buf, single-quoted when it holds anything but [A-Za-z0-9_./=:,+-]. */
static void append_arg(char *buf, size_t n, const char *s) {
  size_t used = strlen(buf);
  int plain = *s != '\0';
  for (const char *p = s; *p; p++)
    if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./=:,+-", *p))
      plain = 0;
  if (used + 1 < n && used > 0) buf[used++] = ' ';
  if (plain) {
    snprintf(buf + used, n - used, "%s", s);
    return;
  }
  if (used + 1 < n) buf[used++] = '\'';
  for (const char *p = s; *p && used + 5 < n; p++) {
    if (*p == '\'') {
      memcpy(buf + used, "'\\''", 4);
      used += 4;
    } else {
      buf[used++] = *p;
    }
  }
  if (used + 1 < n) buf[used++] = '\'';
  buf[used < n ? used : n - 1] = '\0';
}

const char *gm_cmp_command(const gm_cmp_options *o, char *buf, size_t n) {
  snprintf(buf, n, "genmoji");
  for (int i = 0; i < o->argc; i++) append_arg(buf, n, o->argv[i]);
  return buf;
}

static void append_pair(char *buf, size_t n, const char *flag, const char *value) {
  append_arg(buf, n, flag);
  if (value) append_arg(buf, n, value);
}

const char *gm_cmp_full_command(const gm_cmp_job *j, char *buf, size_t n) {
  char v[64];
  const gm_cmp_options *jo = j->o;
  const gm_dataset_options *o = &jo->data.ds;
  snprintf(buf, n, "genmoji compare");
  append_pair(buf, n, "--data", jo->data.data);
  if (jo->data.vendor) append_pair(buf, n, "--vendor", jo->data.vendor);
  if (jo->data.skip_bad) append_pair(buf, n, "--skip-bad", NULL);
  if (o->subset) append_pair(buf, n, "--subset", o->subset);
  if (o->yellow) append_pair(buf, n, "--yellow", NULL);
  if (o->match) append_pair(buf, n, "--match", o->match);
  if (o->limit) {
    snprintf(v, sizeof v, "%d", o->limit);
    append_pair(buf, n, "--limit", v);
  }
  snprintf(v, sizeof v, "%d", o->size);
  append_pair(buf, n, "--size", v);
  snprintf(v, sizeof v, "%02x%02x%02x", o->background[0], o->background[1], o->background[2]);
  append_pair(buf, n, "--background", v);
  snprintf(v, sizeof v, "%g", o->heldout);
  append_pair(buf, n, "--heldout", v);
  if (jo->steps > 0) {
    snprintf(v, sizeof v, "%lld", jo->steps);
    append_pair(buf, n, "--steps", v);
  } else {
    snprintf(v, sizeof v, "%gs", jo->time_s);
    append_pair(buf, n, "--time", v);
  }
  char list[GM_CMP_MAX_MODELS * 66] = "";
  for (int i = 0; i < j->n_models; i++)
    snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? "," : "",
             j->model[i].name);
  append_pair(buf, n, "--models", list);
  for (int i = 0; i < j->n_models; i++) {
    const gm_cmp_model *m = &j->model[i];
    char arg[4200];
    if (m->opts.preset) {
      snprintf(arg, sizeof arg, "%s=%s", m->name, m->opts.preset->name);
      append_pair(buf, n, "--preset", arg);
    }
    for (int k = 0; k < m->n_sets; k++) {
      snprintf(arg, sizeof arg, "%s.%s", m->name, m->sets[k]);
      append_pair(buf, n, "--set", arg);
    }
  }
  snprintf(v, sizeof v, "%d", jo->n);
  append_pair(buf, n, "--n", v);
  snprintf(v, sizeof v, "%llu", jo->seed);
  append_pair(buf, n, "--seed", v);
  snprintf(v, sizeof v, "%d", jo->t_samples);
  append_pair(buf, n, "--t-samples", v);
  snprintf(v, sizeof v, "%d", jo->timing_n);
  append_pair(buf, n, "--timing-n", v);
  snprintf(v, sizeof v, "%gs", jo->timing_limit_s);
  append_pair(buf, n, "--timing-limit", v);
  if (j->d->features_path[0]) append_pair(buf, n, "--features", j->d->features_path);
  if (jo->device) append_pair(buf, n, "--device", jo->device);
  return buf;
}
