/* The statistics of a survey database (survey.h, docs/survey.md): who answered, who
 * failed an attention check, pairwise win rates with Wilson intervals and exact binomial
 * tests, Bradley-Terry strengths and HYPE-infinity error rates with bootstrap intervals
 * over participants, and the CSV export. Participants who failed an attention check are
 * counted and then left out of every statistic. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"
#include "survey.h"

/* pseudo-wins each way between every compared pair of sources (stats.h) */
#define BT_PRIOR 0.5

typedef struct src {
  long long id;
  char run[1024], model[256], kind[8], label[1300];
} src;

typedef struct ans {
  int participant; /* index into the participants with answers */
  int realfake, attention, correct;
  int left, right; /* source indices; right -1 for realfake */
  int choice;
  long long ms;
} ans;

typedef struct data {
  src *src;
  int n_src;
  ans *a;
  int n_a;
  int n_part;     /* participants with at least one answer */
  int *excluded;  /* (n_part) failed an attention check */
  long long started, completed;
} data;


static void data_free(data *d) {
  free(d->src);
  free(d->a);
  free(d->excluded);
}

static int src_index(const data *d, long long id) {
  for (int i = 0; i < d->n_src; i++)
    if (d->src[i].id == id) return i;
  return -1;
}

static const char *text(sqlite3_stmt *st, int col) {
  const unsigned char *t = sqlite3_column_text(st, col);
  return t ? (const char *)t : "";
}

static int load(sv_db *db, data *d, char *msg, size_t n) {
  memset(d, 0, sizeof *d);
  sqlite3_stmt *st = NULL;
  int rc = 0, cap = 0;
  pthread_mutex_lock(&db->lock);
  sqlite3_prepare_v2(db->db, "SELECT id, run, model, kind FROM sources ORDER BY id", -1, &st, NULL);
  while (!rc && sqlite3_step(st) == SQLITE_ROW) {
    if (d->n_src == cap) {
      cap = cap ? 2 * cap : 16;
      src *s = realloc(d->src, sizeof *s * (size_t)cap);
      if (!s) rc = sv_fail(msg, n, "out of memory");
      else d->src = s;
    }
    if (rc) break;
    src *s = &d->src[d->n_src++];
    s->id = sqlite3_column_int64(st, 0);
    snprintf(s->run, sizeof s->run, "%s", text(st, 1));
    snprintf(s->model, sizeof s->model, "%s", text(st, 2));
    snprintf(s->kind, sizeof s->kind, "%s", text(st, 3));
  }
  sqlite3_finalize(st);
  /* a source's label is its model name; with two runs of the same model, run/model */
  for (int i = 0; i < d->n_src; i++) {
    int twice = 0;
    for (int j = 0; j < d->n_src; j++)
      twice |= j != i && !strcmp(d->src[i].model, d->src[j].model);
    snprintf(d->src[i].label, sizeof d->src[i].label, "%s%s%s", twice ? d->src[i].run : "",
             twice ? "/" : "", d->src[i].model);
  }
  d->started = -1;
  sqlite3_prepare_v2(db->db,
                     "SELECT count(*), (SELECT count(*) FROM participants p WHERE"
                     " (SELECT count(*) FROM answers a WHERE a.participant = p.id) = p.trials)"
                     " FROM participants", -1, &st, NULL);
  if (sqlite3_step(st) == SQLITE_ROW) {
    d->started = sqlite3_column_int64(st, 0);
    d->completed = sqlite3_column_int64(st, 1);
  }
  sqlite3_finalize(st);
  int acap = 0;
  char last[40] = "";
  sqlite3_prepare_v2(db->db,
                     "SELECT a.participant, t.design, t.attention, t.correct, il.source, ir.source,"
                     " a.choice, a.ms FROM answers a JOIN trials t ON t.id = a.trial"
                     " JOIN images il ON il.id = t.image_left LEFT JOIN images ir ON ir.id = t.image_right"
                     " ORDER BY a.participant, t.seq", -1, &st, NULL);
  while (!rc && sqlite3_step(st) == SQLITE_ROW) {
    if (d->n_a == acap) {
      acap = acap ? 2 * acap : 256;
      ans *a = realloc(d->a, sizeof *a * (size_t)acap);
      if (!a) rc = sv_fail(msg, n, "out of memory");
      else d->a = a;
    }
    if (rc) break;
    ans *a = &d->a[d->n_a++];
    if (strcmp(last, text(st, 0))) {
      snprintf(last, sizeof last, "%s", text(st, 0));
      d->n_part++;
    }
    a->participant = d->n_part - 1;
    a->realfake = !strcmp(text(st, 1), "realfake");
    a->attention = sqlite3_column_int(st, 2);
    a->correct = sqlite3_column_type(st, 3) == SQLITE_NULL ? -1 : sqlite3_column_int(st, 3);
    a->left = src_index(d, sqlite3_column_int64(st, 4));
    a->right = sqlite3_column_type(st, 5) == SQLITE_NULL ? -1 : src_index(d, sqlite3_column_int64(st, 5));
    a->choice = sqlite3_column_int(st, 6);
    a->ms = sqlite3_column_int64(st, 7);
  }
  sqlite3_finalize(st);
  pthread_mutex_unlock(&db->lock);
  if (!rc && d->started < 0) rc = sv_fail(msg, n, "%s: %s", db->path, sqlite3_errmsg(db->db));
  if (!rc) {
    d->excluded = calloc((size_t)d->n_part + 1, sizeof *d->excluded);
    if (!d->excluded) rc = sv_fail(msg, n, "out of memory");
  }
  for (int i = 0; !rc && i < d->n_a; i++)
    if (d->a[i].attention && d->a[i].choice != d->a[i].correct) d->excluded[d->a[i].participant] = 1;
  if (rc) data_free(d);
  return rc;
}

/* ---- the statistics, each for participant weights w (NULL = every one once) ---- */

static int weight(const data *d, const int *w, int p) {
  if (d->excluded[p]) return 0;
  return w ? w[p] : 1;
}

/* The source a pairwise answer chose and the other one. */
static void pair_of(const ans *a, int *won, int *lost) {
  *won = a->choice == 0 ? a->left : a->right;
  *lost = a->choice == 0 ? a->right : a->left;
}

/* Bradley-Terry log-strengths of every source from the pairwise answers. */
static void bradley_terry(const data *d, const int *w, double *strength) {
  int S = d->n_src;
  double *wins = calloc((size_t)S * (size_t)S, sizeof *wins);
  if (!wins) {
    for (int i = 0; i < S; i++) strength[i] = NAN;
    return;
  }
  for (int i = 0; i < d->n_a; i++) {
    const ans *a = &d->a[i];
    if (a->realfake || a->attention || a->left < 0 || a->right < 0) continue;
    int won, lost;
    pair_of(a, &won, &lost);
    wins[won * S + lost] += weight(d, w, a->participant);
  }
  gm_survey_bradley_terry(S, wins, BT_PRIOR, 10000, 1e-9, strength);
  free(wins);
}

typedef struct bt_ctx {
  const data *d;
  int source;
} bt_ctx;

static double bt_stat(const int *w, int n_units, void *ctx) {
  (void)n_units;
  const bt_ctx *c = ctx;
  double *s = malloc(sizeof *s * (size_t)c->d->n_src);
  if (!s) return NAN;
  bradley_terry(c->d, w, s);
  double v = s[c->source];
  free(s);
  return v;
}

/* HYPE-infinity for one model source: how its images and the real ones were judged. */
typedef struct hype {
  double fake_real, fake, real_real, real; /* weighted counts */
} hype;

static hype hype_of(const data *d, const int *w, int source) {
  hype h = {0, 0, 0, 0};
  for (int i = 0; i < d->n_a; i++) {
    const ans *a = &d->a[i];
    if (!a->realfake || a->attention || a->left < 0) continue;
    int k = weight(d, w, a->participant);
    int judged_real = a->choice == 0;
    if (!strcmp(d->src[a->left].kind, "real")) {
      h.real += k;
      h.real_real += k * judged_real;
    } else if (a->left == source) {
      h.fake += k;
      h.fake_real += k * judged_real;
    }
  }
  return h;
}

/* the balanced error: the mean of the two error rates (generated judged real, real judged
 * generated), so the share of real trials does not depend on how many models there are */
static double hype_error(const hype *h) {
  if (h->fake <= 0 || h->real <= 0) return NAN;
  return 0.5 * (h->fake_real / h->fake + (h->real - h->real_real) / h->real);
}

typedef struct hype_ctx {
  const data *d;
  int source, what; /* 0 error, 1 generated judged real */
} hype_ctx;

static double hype_stat(const int *w, int n_units, void *ctx) {
  (void)n_units;
  const hype_ctx *c = ctx;
  hype h = hype_of(c->d, w, c->source);
  if (c->what == 0) return hype_error(&h);
  return h.fake > 0 ? h.fake_real / h.fake : NAN;
}

static cJSON *interval(double lo, double hi) {
  cJSON *a = cJSON_CreateArray();
  cJSON_AddItemToArray(a, isfinite(lo) ? cJSON_CreateNumber(lo) : cJSON_CreateNull());
  cJSON_AddItemToArray(a, isfinite(hi) ? cJSON_CreateNumber(hi) : cJSON_CreateNull());
  return a;
}

static void num(cJSON *o, const char *key, double v) {
  if (isfinite(v)) cJSON_AddNumberToObject(o, key, v);
  else cJSON_AddNullToObject(o, key);
}

static int cmp_ll(const void *x, const void *y) {
  long long a = *(const long long *)x, b = *(const long long *)y;
  return (a > b) - (a < b);
}

cJSON *sv_results(sv_db *db, uint64_t seed, int reps, char *msg, size_t n) {
  data d;
  if (load(db, &d, msg, n)) return NULL;
  cJSON *r = cJSON_CreateObject();
  cJSON_AddStringToObject(r, "format", "genmoji-survey-results-1");
  cJSON_AddStringToObject(r, "database", db->path);
  int excluded = 0, checks = 0, failed = 0, used = 0;
  for (int p = 0; p < d.n_part; p++) excluded += d.excluded[p];
  long long *ms = malloc(sizeof *ms * (size_t)(d.n_a + 1));
  for (int i = 0; i < d.n_a; i++) {
    const ans *a = &d.a[i];
    if (a->attention) checks++, failed += a->choice != a->correct;
    if (!a->attention && !d.excluded[a->participant] && ms) ms[used++] = a->ms;
  }
  cJSON *pc = cJSON_AddObjectToObject(r, "participants");
  cJSON_AddNumberToObject(pc, "started", (double)d.started);
  cJSON_AddNumberToObject(pc, "answered", d.n_part);
  cJSON_AddNumberToObject(pc, "completed", (double)d.completed);
  cJSON_AddNumberToObject(pc, "excluded", excluded);
  cJSON_AddNumberToObject(pc, "included", d.n_part - excluded);
  cJSON *ac = cJSON_AddObjectToObject(r, "answers");
  cJSON_AddNumberToObject(ac, "all", d.n_a);
  cJSON_AddNumberToObject(ac, "attention_checks", checks);
  cJSON_AddNumberToObject(ac, "attention_failed", failed);
  cJSON_AddNumberToObject(ac, "used", used);
  if (ms && used) {
    qsort(ms, (size_t)used, sizeof *ms, cmp_ll);
    num(ac, "median_ms", used % 2 ? (double)ms[used / 2] : 0.5 * (double)(ms[used / 2 - 1] + ms[used / 2]));
  } else {
    cJSON_AddNullToObject(ac, "median_ms");
  }
  free(ms);
  cJSON *src = cJSON_AddArrayToObject(r, "sources");
  for (int i = 0; i < d.n_src; i++) {
    if (!strcmp(d.src[i].kind, "noise")) continue;
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "source", d.src[i].label);
    cJSON_AddStringToObject(s, "run", d.src[i].run);
    cJSON_AddStringToObject(s, "model", d.src[i].model);
    cJSON_AddStringToObject(s, "kind", d.src[i].kind);
    cJSON_AddItemToArray(src, s);
  }
  /* pairwise: every unordered pair with answers, the first source's wins */
  cJSON *pw = cJSON_AddArrayToObject(r, "pairwise");
  int S = d.n_src;
  int *wins = calloc((size_t)S * (size_t)S + 1, sizeof *wins);
  for (int i = 0; wins && i < d.n_a; i++) {
    const ans *a = &d.a[i];
    if (a->realfake || a->attention || d.excluded[a->participant] || a->left < 0 || a->right < 0) continue;
    int won, lost;
    pair_of(a, &won, &lost);
    wins[won * S + lost]++;
  }
  for (int i = 0; wins && i < S; i++)
    for (int j = i + 1; j < S; j++) {
      int k = wins[i * S + j], m = k + wins[j * S + i];
      if (m == 0) continue;
      double lo, hi;
      gm_survey_wilson(k, m, GM_SURVEY_Z95, &lo, &hi);
      cJSON *o = cJSON_CreateObject();
      cJSON_AddStringToObject(o, "a", d.src[i].label);
      cJSON_AddStringToObject(o, "b", d.src[j].label);
      cJSON_AddNumberToObject(o, "n", m);
      cJSON_AddNumberToObject(o, "a_wins", k);
      cJSON_AddNumberToObject(o, "a_rate", (double)k / m);
      cJSON_AddItemToObject(o, "ci95", interval(lo, hi));
      cJSON_AddNumberToObject(o, "p_value", gm_survey_binomial_p(k, m));
      cJSON_AddItemToArray(pw, o);
    }
  free(wins);
  /* Bradley-Terry over every source of the pairwise answers */
  cJSON *bt = cJSON_AddArrayToObject(r, "bradley_terry");
  double *strength = malloc(sizeof *strength * (size_t)(S + 1));
  if (strength) bradley_terry(&d, NULL, strength);
  for (int i = 0; strength && i < S; i++) {
    if (!isfinite(strength[i]) || !strcmp(d.src[i].kind, "noise")) continue;
    bt_ctx c = {&d, i};
    double lo, hi;
    gm_survey_bootstrap(d.n_part, reps, seed, bt_stat, &c, &lo, &hi);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "source", d.src[i].label);
    cJSON_AddNumberToObject(o, "strength", strength[i]);
    cJSON_AddItemToObject(o, "ci95", interval(lo, hi));
    cJSON_AddItemToArray(bt, o);
  }
  free(strength);
  /* HYPE-infinity per model */
  cJSON *hy = cJSON_AddArrayToObject(r, "hype");
  for (int i = 0; i < S; i++) {
    if (strcmp(d.src[i].kind, "model")) continue;
    hype h = hype_of(&d, NULL, i);
    if (h.fake == 0) continue;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", d.src[i].label);
    cJSON_AddNumberToObject(o, "generated_trials", h.fake);
    num(o, "generated_judged_real", h.fake_real / h.fake);
    cJSON_AddNumberToObject(o, "real_trials", h.real);
    num(o, "real_judged_real", h.real > 0 ? h.real_real / h.real : NAN);
    num(o, "error_rate", hype_error(&h));
    for (int what = 0; what < 2; what++) {
      hype_ctx c = {&d, i, what};
      double lo, hi;
      gm_survey_bootstrap(d.n_part, reps, seed, hype_stat, &c, &lo, &hi);
      cJSON_AddItemToObject(o, what ? "generated_judged_real_ci95" : "error_rate_ci95", interval(lo, hi));
    }
    cJSON_AddItemToArray(hy, o);
  }
  cJSON *pr = cJSON_AddObjectToObject(r, "prompt");
  cJSON_AddNullToObject(pr, "accuracy");
  cJSON_AddStringToObject(pr, "note", "no prompt trials: the runs have no prompted samples");
  cJSON *m = cJSON_AddObjectToObject(r, "method");
  cJSON_AddNumberToObject(m, "bootstrap_resamples", reps);
  cJSON_AddNumberToObject(m, "bootstrap_seed", (double)seed);
  cJSON_AddNumberToObject(m, "bradley_terry_prior", BT_PRIOR);
  cJSON_AddStringToObject(m, "exclusion", "participants who failed an attention check");
  cJSON_AddStringToObject(m, "hype_error",
                          "mean of the share of generated images judged real and the share "
                          "of real images judged generated");
  data_free(&d);
  return r;
}




void sv_results_print(FILE *f, const cJSON *r) {
  const cJSON *p = cJSON_GetObjectItemCaseSensitive(r, "participants");
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(r, "answers");
  fprintf(f, "participants: %.0f started, %.0f answered, %.0f completed, %.0f excluded (failed an attention check)\n",
          sv_jnum(p, "started"), sv_jnum(p, "answered"), sv_jnum(p, "completed"), sv_jnum(p, "excluded"));
  fprintf(f, "answers: %.0f, of which %.0f attention checks (%.0f failed); %.0f used; median response %.0f ms\n",
          sv_jnum(a, "all"), sv_jnum(a, "attention_checks"), sv_jnum(a, "attention_failed"), sv_jnum(a, "used"),
          sv_jnum(a, "median_ms"));
  const cJSON *o;
  fprintf(f, "\npairwise: \"which looks more like a real emoji face?\"\n");
  fprintf(f, "  %-20s %-20s %6s %8s %17s %9s\n", "A", "B", "n", "A wins", "95% (Wilson)", "p");
  cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(r, "pairwise"))
    fprintf(f, "  %-20s %-20s %6.0f %7.1f%% [%5.1f%%, %5.1f%%] %9.3g\n", sv_str_or(sv_jstr(o, "a")), sv_str_or(sv_jstr(o, "b")),
            sv_jnum(o, "n"), 100 * sv_jnum(o, "a_rate"), 100 * sv_jat(o, "ci95", 0), 100 * sv_jat(o, "ci95", 1),
            sv_jnum(o, "p_value"));
  fprintf(f, "\nBradley-Terry strengths (log scale, mean 0; 95%% bootstrap over participants)\n");
  cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(r, "bradley_terry"))
    fprintf(f, "  %-20s %7.3f [%7.3f, %7.3f]\n", sv_str_or(sv_jstr(o, "source")), sv_jnum(o, "strength"),
            sv_jat(o, "ci95", 0), sv_jat(o, "ci95", 1));
  fprintf(f, "\nreal or generated (HYPE-infinity; 95%% bootstrap over participants)\n");
  fprintf(f, "  %-20s %10s %14s %14s %22s\n", "model", "trials", "judged real", "real judged", "error rate");
  cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(r, "hype"))
    fprintf(f, "  %-20s %10.0f %13.1f%% %13.1f%% %6.1f%% [%5.1f%%, %5.1f%%]\n", sv_str_or(sv_jstr(o, "model")),
            sv_jnum(o, "generated_trials"), 100 * sv_jnum(o, "generated_judged_real"),
            100 * sv_jnum(o, "real_judged_real"), 100 * sv_jnum(o, "error_rate"),
            100 * sv_jat(o, "error_rate_ci95", 0), 100 * sv_jat(o, "error_rate_ci95", 1));
}

/* One CSV field: quoted when it holds a comma, a quote or a line break (RFC 4180). */
static void csv_field(FILE *f, const char *s, int last) {
  if (strpbrk(s, ",\"\r\n")) {
    fputc('"', f);
    for (const char *p = s; *p; p++) {
      if (*p == '"') fputc('"', f);
      fputc(*p, f);
    }
    fputc('"', f);
  } else {
    fputs(s, f);
  }
  fputc(last ? '\n' : ',', f);
}

int sv_export_csv(sv_db *db, FILE *f, char *msg, size_t n) {
  static const char *const head[] = {"participant", "trial", "seq", "design", "attention",
                                     "left_run", "left_source", "left_image", "right_run",
                                     "right_source", "right_image", "correct", "choice", "ms",
                                     "shown_at", "answered_at"};
  const int cols = (int)(sizeof head / sizeof head[0]);
  for (int i = 0; i < cols; i++) csv_field(f, head[i], i == cols - 1);
  pthread_mutex_lock(&db->lock);
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(
      db->db,
      "SELECT a.participant, t.id, t.seq, t.design, t.attention, sl.run, sl.model, il.opaque,"
      " sr.run, sr.model, ir.opaque, t.correct, a.choice, a.ms, t.shown_at, a.answered_at"
      " FROM answers a JOIN trials t ON t.id = a.trial JOIN images il ON il.id = t.image_left"
      " JOIN sources sl ON sl.id = il.source LEFT JOIN images ir ON ir.id = t.image_right"
      " LEFT JOIN sources sr ON sr.id = ir.source ORDER BY a.participant, t.seq",
      -1, &st, NULL);
  int step = SQLITE_DONE;
  while (rc == SQLITE_OK && (step = sqlite3_step(st)) == SQLITE_ROW)
    for (int i = 0; i < cols; i++) {
      char buf[64];
      const char *v = text(st, i);
      if (sqlite3_column_type(st, i) == SQLITE_FLOAT) {
        snprintf(buf, sizeof buf, "%.3f", sqlite3_column_double(st, i));
        v = buf;
      }
      csv_field(f, v, i == cols - 1);
    }
  int ok = rc == SQLITE_OK && step == SQLITE_DONE;
  if (!ok) sv_fail(msg, n, "%s: %s", db->path, sqlite3_errmsg(db->db));
  sqlite3_finalize(st);
  pthread_mutex_unlock(&db->lock);
  return ok ? 0 : -1;
}
