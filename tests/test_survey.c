/* `genmoji survey` through the built executable and its HTTP API on loopback: a whole
 * survey answered and found in the database, in `survey results` and in the export and
 * the report; bad requests of every kind refused with a 4xx and nothing stored; the rate
 * limit; 50 participants at once with the server killed (SIGKILL) half way and restarted
 * on the same database, with every acknowledged answer kept and nothing duplicated; and
 * the command's usage and file errors. */
#define _POSIX_C_SOURCE 200809L
#include <cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clitest.h"
#include "surveytest.h"

static cJSON *parse(const gmt_http *r) {
  cJSON *o = cJSON_Parse(r->body);
  ck_assert_msg(cJSON_IsObject(o), "HTTP %ld: not a JSON object: %s", r->status, r->body);
  return o;
}

/* POST /api/participants; fills id and token. */
static void new_participant(const gmt_server *s, char id[33], char token[33], int trials) {
  gmt_http r = gmt_http_do("POST", s->base, "/api/participants", NULL, NULL, NULL, 0);
  ck_assert_msg(r.status == 201, "POST /api/participants: %ld %s", r.status, r.body);
  cJSON *o = parse(&r);
  snprintf(id, 33, "%s", gmt_json_str(o, "participant"));
  snprintf(token, 33, "%s", gmt_json_str(o, "token"));
  ck_assert_int_eq(strlen(id), 32);
  ck_assert_int_eq(strlen(token), 32);
  ck_assert_int_eq((int)gmt_json_num(o, "trials"), trials);
  cJSON_Delete(o);
  gmt_http_free(&r);
}

/* GET next: the trial id, or 0 when done. */
static long long next(const gmt_server *s, const char *id, const char *token, cJSON **out) {
  char path[128];
  snprintf(path, sizeof path, "/api/participants/%s/next", id);
  gmt_http r = gmt_http_do("GET", s->base, path, token, NULL, NULL, 0);
  ck_assert_msg(r.status == 200, "GET next: %ld %s", r.status, r.body);
  cJSON *o = parse(&r);
  gmt_http_free(&r);
  long long t = cJSON_IsTrue(cJSON_GetObjectItem(o, "done")) ? 0 : (long long)gmt_json_num(o, "trial");
  if (out) *out = o;
  else cJSON_Delete(o);
  return t;
}

static long answer(const gmt_server *s, const char *id, const char *token, long long trial,
                   int choice, char **body) {
  char json[256];
  snprintf(json, sizeof json, "{\"participant\":\"%s\",\"trial\":%lld,\"choice\":%d,\"ms\":%d}", id,
           trial, choice, 700 + choice);
  gmt_http r = gmt_http_do("POST", s->base, "/api/answers", token, NULL, json, strlen(json));
  long st = r.status;
  if (body) *body = r.body;
  else gmt_http_free(&r);
  return st;
}

/* The side an attention trial counts as right (the real image), from the database. */
static int correct_side(const char *db, long long trial) {
  char sql[128];
  snprintf(sql, sizeof sql, "SELECT correct FROM trials WHERE id = %lld", trial);
  return (int)gmt_db_scalar(db, sql);
}

START_TEST(a_whole_survey_is_stored_served_blind_and_counted) {
  const char *run = gmt_survey_run();
  char db[1200];
  snprintf(db, sizeof db, "%s", gmt_path_in("whole.db"));
  const char *extra[] = {"--trials", "12", "--rate", "0", NULL}; /* the rate limit has its own test */
  gmt_server s = gmt_server_start(run, db, 0, extra);
  /* the page and its assets, with a policy that allows nothing from elsewhere */
  gmt_http page = gmt_http_do("GET", s.base, "/", NULL, NULL, NULL, 0);
  ck_assert_int_eq(page.status, 200);
  ck_assert(strstr(page.type, "text/html") && strstr(page.body, "id=\"start\""));
  ck_assert_msg(strstr(page.csp, "default-src 'none'"), "CSP: %s", page.csp);
  ck_assert(!strstr(page.body, "http://") && !strstr(page.body, "https://"));
  gmt_http_free(&page);
  const char *assets[] = {"/survey.js", "/survey.css"};
  for (int i = 0; i < 2; i++) {
    gmt_http a = gmt_http_do("GET", s.base, assets[i], NULL, NULL, NULL, 0);
    ck_assert_msg(a.status == 200 && a.len > 100, "%s: %ld", assets[i], a.status);
    gmt_http_free(&a);
  }
  char id[33], token[33];
  new_participant(&s, id, token, 12);
  int seen = 0, pairwise = 0, realfake = 0, attention = 0;
  for (;;) {
    cJSON *t = NULL;
    long long trial = next(&s, id, token, &t);
    if (!trial) {
      cJSON_Delete(t);
      break;
    }
    /* asking again before answering gives the same trial */
    ck_assert_int_eq(next(&s, id, token, NULL), trial);
    char *text = cJSON_PrintUnformatted(t);
    /* blind: nothing names a model, a source or a path */
    const char *names[] = {"pixelcnn", "ddpm", "train", "heldout", "noise", "png", "survey-run"};
    for (int k = 0; k < 7; k++) ck_assert_msg(!strstr(text, names[k]), "trial names %s: %s", names[k], text);
    const char *design = gmt_json_str(t, "design");
    const cJSON *images = gmt_json_at(t, "images");
    ck_assert_int_eq((int)gmt_json_num(t, "index"), seen);
    ck_assert_int_eq((int)gmt_json_num(t, "of"), 12);
    ck_assert_int_eq(cJSON_GetArraySize(gmt_json_at(t, "choices")), 2);
    ck_assert_int_eq(cJSON_GetArraySize(images), strcmp(design, "realfake") ? 2 : 1);
    pairwise += !strcmp(design, "pairwise");
    realfake += !strcmp(design, "realfake");
    /* every image is a PNG under /img/<32 hex> */
    const cJSON *img;
    cJSON_ArrayForEach(img, images) {
      ck_assert_int_eq(strlen(img->valuestring), 5 + 32);
      gmt_http p = gmt_http_do("GET", s.base, img->valuestring, NULL, NULL, NULL, 0);
      ck_assert_msg(p.status == 200 && p.len > 8 && !memcmp(p.body, "\x89PNG", 4), "%s: %ld",
                    img->valuestring, p.status);
      ck_assert_str_eq(p.type, "image/png");
      gmt_http_free(&p);
    }
    int right = correct_side(db, trial);
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT attention FROM trials WHERE id = %lld", trial);
    int is_att = (int)gmt_db_scalar(db, sql) == 1;
    attention += is_att;
    int choice = is_att ? right : seen % 2;
    ck_assert_int_eq(answer(&s, id, token, trial, choice, NULL), 200);
    /* committed before it was acknowledged: another connection sees it */
    snprintf(sql, sizeof sql, "SELECT count(*) FROM answers WHERE trial = %lld", trial);
    ck_assert_int_eq(gmt_db_scalar(db, sql), 1);
    cJSON_free(text);
    cJSON_Delete(t);
    seen++;
  }
  ck_assert_int_eq(seen, 12);
  ck_assert_int_eq(attention, 1);
  ck_assert_msg(pairwise >= 4 && realfake >= 4, "%d pairwise, %d realfake", pairwise, realfake);
  ck_assert_int_eq(gmt_db_scalar(db, "SELECT count(*) FROM answers"), 12);
  /* WAL mode */
  ck_assert_int_eq(gmt_db_scalar(db, "SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = 'wal'"), 1);
  /* the results for the admin token only */
  gmt_http no = gmt_http_do("GET", s.base, "/admin/results", NULL, NULL, NULL, 0);
  ck_assert_int_eq(no.status, 401);
  gmt_http_free(&no);
  gmt_http yes = gmt_http_do("GET", s.base, "/admin/results", NULL, s.admin, NULL, 0);
  ck_assert_msg(yes.status == 200, "%ld %s", yes.status, yes.body);
  cJSON *ar = parse(&yes);
  ck_assert_int_eq((int)gmt_json_num(ar, "answers.all"), 12);
  cJSON_Delete(ar);
  gmt_http_free(&yes);
  ck_assert_int_eq(gmt_server_stop(&s, 0), 0);

  gmt_run_result r = gmt_genmoji(NULL, "survey results --db '%s' --json", db);
  ck_assert_msg(r.code == 0, "results: %s", r.err);
  cJSON *res = cJSON_Parse(r.out);
  ck_assert(res != NULL);
  ck_assert_int_eq((int)gmt_json_num(res, "participants.answered"), 1);
  ck_assert_int_eq((int)gmt_json_num(res, "participants.completed"), 1);
  ck_assert_int_eq((int)gmt_json_num(res, "participants.excluded"), 0);
  ck_assert_int_eq((int)gmt_json_num(res, "answers.all"), 12);
  ck_assert_int_eq((int)gmt_json_num(res, "answers.used"), 11);
  ck_assert(gmt_json_num(res, "answers.median_ms") >= 700);
  int pw_n = 0;
  const cJSON *o;
  cJSON_ArrayForEach(o, gmt_json_at(res, "pairwise")) pw_n += (int)gmt_json_num(o, "n");
  ck_assert_int_eq(pw_n, pairwise - attention);
  int rf_n = 0;
  cJSON_ArrayForEach(o, gmt_json_at(res, "hype")) rf_n += (int)gmt_json_num(o, "generated_trials");
  ck_assert_int_eq(rf_n + (int)gmt_json_num(cJSON_GetArrayItem(gmt_json_at(res, "hype"), 0), "real_trials"),
                   realfake);
  cJSON_Delete(res);
  gmt_run_free(&r);
  r = gmt_genmoji(NULL, "survey results --db '%s'", db);
  ck_assert_msg(r.code == 0 && strstr(r.out, "Bradley-Terry") && strstr(r.out, "HYPE"), "%s", r.out);
  gmt_run_free(&r);
  /* the export: a header and a row per answer */
  r = gmt_genmoji(NULL, "survey export --db '%s' --csv", db);
  ck_assert_msg(r.code == 0, "export: %s", r.err);
  int lines = 0;
  for (const char *p = r.out; *p; p++) lines += *p == '\n';
  ck_assert_int_eq(lines, 13);
  ck_assert(!strncmp(r.out, "participant,trial,seq,design", 28));
  gmt_run_free(&r);
  /* the report: the section in both documents, twice replaced not repeated */
  for (int k = 0; k < 2; k++) {
    r = gmt_genmoji(NULL, "survey report --db '%s' --run '%s'", db, run);
    ck_assert_msg(r.code == 0, "report: %s", r.err);
    gmt_run_free(&r);
  }
  char path[1300];
  const char *docs[] = {"index.html", "report.md"};
  for (int i = 0; i < 2; i++) {
    snprintf(path, sizeof path, "%s/%s", run, docs[i]);
    char *doc = gmt_slurp(path, NULL);
    const char *a = strstr(doc, "Human judgement");
    ck_assert_msg(a && !strstr(a + 1, "Human judgement"), "%s: the section is missing or twice", docs[i]);
    ck_assert(strstr(doc, "human.svg"));
    free(doc);
  }
  snprintf(path, sizeof path, "%s/metrics.json", run);
  char *mj = gmt_slurp(path, NULL);
  cJSON *m = cJSON_Parse(mj);
  ck_assert_int_eq((int)gmt_json_num(m, "human.answers.all"), 12);
  ck_assert_str_eq(gmt_json_str(m, "format"), "genmoji-compare-1");
  cJSON_Delete(m);
  free(mj);
  snprintf(path, sizeof path, "%s/human.svg", run);
  char *svg = gmt_slurp(path, NULL);
  ck_assert(svg && strstr(svg, "<svg") && strstr(svg, "</svg>"));
  free(svg);
}
END_TEST

START_TEST(bad_requests_are_refused_and_store_nothing) {
  const char *run = gmt_survey_run();
  char db[1200];
  snprintf(db, sizeof db, "%s", gmt_path_in("bad.db"));
  const char *extra[] = {"--trials", "6", NULL};
  gmt_server s = gmt_server_start(run, db, 0, extra);
  char id[33], token[33], other[33], other_token[33];
  new_participant(&s, id, token, 6);
  new_participant(&s, other, other_token, 6);
  long long t1 = next(&s, id, token, NULL), t_other = next(&s, other, other_token, NULL);
  char sql[200];
  snprintf(sql, sizeof sql, "SELECT max(id) FROM trials WHERE participant = '%s'", id);
  long long later = gmt_db_scalar(db, sql); /* not issued yet */
  ck_assert(later > t1);
  ck_assert_int_eq(answer(&s, id, token, t1, 0, NULL), 200);
  char big[6000];
  memset(big, ' ', sizeof big);
  memcpy(big, "{\"participant\":\"", 16);
  big[sizeof big - 1] = '}';
  char replay[256], unknown[256], notissued[256], others[256], extra_field[256];
  snprintf(replay, sizeof replay, "{\"participant\":\"%s\",\"trial\":%lld,\"choice\":1,\"ms\":5}", id, t1);
  snprintf(unknown, sizeof unknown, "{\"participant\":\"%s\",\"trial\":999999,\"choice\":1,\"ms\":5}", id);
  snprintf(notissued, sizeof notissued, "{\"participant\":\"%s\",\"trial\":%lld,\"choice\":1,\"ms\":5}", id, later);
  snprintf(others, sizeof others, "{\"participant\":\"%s\",\"trial\":%lld,\"choice\":1,\"ms\":5}", id, t_other);
  snprintf(extra_field, sizeof extra_field,
           "{\"participant\":\"%s\",\"trial\":%lld,\"choice\":1,\"ms\":5,\"note\":\"<b>x</b>\"}", id, t1);
  char wrong_types[4][256];
  snprintf(wrong_types[0], 256, "{\"participant\":\"%s\",\"trial\":\"%lld\",\"choice\":1,\"ms\":5}", id, t1);
  snprintf(wrong_types[1], 256, "{\"participant\":\"%s\",\"trial\":%lld,\"choice\":2,\"ms\":5}", id, t1);
  snprintf(wrong_types[2], 256, "{\"participant\":\"%s\",\"trial\":%lld,\"choice\":0.5,\"ms\":5}", id, t1);
  snprintf(wrong_types[3], 256, "{\"participant\":\"%s\",\"trial\":%lld,\"choice\":1,\"ms\":-1}", id, t1);
  const struct {
    const char *method, *path, *token, *body;
    size_t len;
    long status;
    const char *msg;
  } cases[] = {
      {"POST", "/api/answers", token, "{\"participant\":", 0, 400, "not a JSON object"},
      {"POST", "/api/answers", token, "[1,2,3]", 0, 400, "not a JSON object"},
      {"POST", "/api/answers", token, "", 0, 400, "not a JSON object"},
      {"POST", "/api/answers", token, wrong_types[0], 0, 400, "\\\"trial\\\" must be"},
      {"POST", "/api/answers", token, wrong_types[1], 0, 400, "\\\"choice\\\" must be 0 or 1"},
      {"POST", "/api/answers", token, wrong_types[2], 0, 400, "\\\"choice\\\" must be 0 or 1"},
      {"POST", "/api/answers", token, wrong_types[3], 0, 400, "\\\"ms\\\" must be"},
      {"POST", "/api/answers", token, extra_field, 0, 400, "unknown field"},
      {"POST", "/api/answers", token, "{\"participant\":\"x' OR '1'='1\",\"trial\":1,\"choice\":0,\"ms\":1}", 0, 400,
       "\\\"participant\\\" must be"},
      {"POST", "/api/answers", token, "{\"participant\":\"<script>alert(1)</script>\",\"trial\":1,\"choice\":0,\"ms\":1}",
       0, 400, "\\\"participant\\\" must be"},
      {"POST", "/api/answers", token, replay, 0, 409, "already answered"},
      {"POST", "/api/answers", token, unknown, 0, 404, "no trial 999999"},
      {"POST", "/api/answers", token, notissued, 0, 409, "not issued"},
      {"POST", "/api/answers", token, others, 0, 404, "for this participant"},
      {"POST", "/api/answers", NULL, replay, 0, 401, "no X-Survey-Token"},
      {"POST", "/api/answers", other_token, replay, 0, 401, "wrong token"},
      {"POST", "/api/answers", token, big, sizeof big, 413, "over 4096 bytes"},
      {"GET", "/api/participants/0123/next", token, NULL, 0, 404, "no such participant"},
      {"GET", "/api/participants/'%20OR%201=1--/next", token, NULL, 0, 404, "no such participant"},
      {"GET", "/api/participants/ffffffffffffffffffffffffffffffff/next", token, NULL, 0, 404, "no such participant"},
      {"GET", "/img/../metrics.json", NULL, NULL, 0, 404, "no such"},
      {"GET", "/img/..%2f..%2fmetrics.json", NULL, NULL, 0, 404, "no such image"},
      {"GET", "/img/%2e%2e%2ftrain.png", NULL, NULL, 0, 404, "no such image"},
      {"GET", "/img/00000000000000000000000000000000", NULL, NULL, 0, 404, "no such image"},
      {"GET", "/../../etc/passwd", NULL, NULL, 0, 404, "no such"},
      {"GET", "/api/answers", token, NULL, 0, 405, "POST /api/answers"},
      {"DELETE", "/api/participants", NULL, NULL, 0, 405, "POST /api/participants"},
      {"GET", "/admin/results", NULL, NULL, 0, 401, "admin token"},
      {"GET", "/nothing-here", NULL, NULL, 0, 404, "no such page"},
  };
  int n_cases = (int)(sizeof cases / sizeof cases[0]);
  for (int i = 0; i < n_cases; i++) {
    const char *b = cases[i].body;
    gmt_http r = gmt_http_do(cases[i].method, s.base, cases[i].path, cases[i].token, NULL, b,
                             b ? (cases[i].len ? cases[i].len : strlen(b)) : 0);
    ck_assert_msg(r.status == cases[i].status && strstr(r.body, cases[i].msg),
                  "case %d (%s %s): %ld %s", i, cases[i].method, cases[i].path, r.status, r.body);
    ck_assert_msg(strstr(r.type, "application/json"), "case %d: %s", i, r.type);
    /* nothing is reflected as markup */
    ck_assert_msg(!strstr(r.body, "<script>"), "case %d reflects markup: %s", i, r.body);
    gmt_http_free(&r);
  }
  printf("survey: %d bad requests refused with 4xx\n", n_cases);
  /* nothing wrong was stored, and the server still serves */
  ck_assert_int_eq(gmt_db_scalar(db, "SELECT count(*) FROM answers"), 1);
  long long t2 = next(&s, id, token, NULL);
  ck_assert(t2 > t1);
  ck_assert_int_eq(answer(&s, id, token, t2, 1, NULL), 200);
  ck_assert_int_eq(gmt_db_scalar(db, "SELECT count(*) FROM answers"), 2);
  ck_assert_int_eq(gmt_server_stop(&s, 0), 0);
}
END_TEST

START_TEST(the_rate_limit_answers_429_then_lets_the_participant_go_on) {
  const char *run = gmt_survey_run();
  char db[1200];
  snprintf(db, sizeof db, "%s", gmt_path_in("rate.db"));
  const char *extra[] = {"--trials", "4", "--rate", "1", NULL};
  gmt_server s = gmt_server_start(run, db, 0, extra);
  char id[33], token[33], path[128];
  new_participant(&s, id, token, 4);
  snprintf(path, sizeof path, "/api/participants/%s/next", id);
  int limited = 0;
  for (int i = 0; i < 30; i++) {
    gmt_http r = gmt_http_do("GET", s.base, path, token, NULL, NULL, 0);
    ck_assert(r.status == 200 || r.status == 429);
    limited += r.status == 429;
    gmt_http_free(&r);
  }
  ck_assert_msg(limited >= 5, "30 requests at once, %d refused with 429", limited);
  sleep(2);
  ck_assert(next(&s, id, token, NULL) > 0);
  ck_assert_int_eq(gmt_server_stop(&s, 0), 0);
}
END_TEST

/* ---- load, with the server killed and restarted part way ---- */

#define LOAD_PARTICIPANTS 50
#define LOAD_TRIALS 40

typedef struct load {
  const char *db;
  _Atomic int port;
  _Atomic int acked;           /* answers acknowledged with 200 */
  _Atomic int restarts_seen;   /* requests that found no server */
  double *lat;                 /* answer latencies, seconds */
  _Atomic int n_lat;
  long long acked_trial[LOAD_PARTICIPANTS][LOAD_TRIALS];
  int n_acked[LOAD_PARTICIPANTS];
  int failed;
  char why[512];
} load;

typedef struct worker {
  load *l;
  int k;
} worker;

/* A request that waits for the server to come back (up to 60 s) when there is none. */
static gmt_http patient(load *l, const char *method, const char *path, const char *token,
                        const char *body) {
  double t0 = gmt_now_s();
  for (;;) {
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", atomic_load(&l->port));
    gmt_http r = gmt_http_do(method, base, path, token, NULL, body, body ? strlen(body) : 0);
    if (r.status != 0 && r.status != 429) return r;
    if (r.status == 0) atomic_fetch_add(&l->restarts_seen, 1);
    gmt_http_free(&r);
    if (gmt_now_s() - t0 > 60) return r;
    nanosleep(&(struct timespec){0, 50000000}, NULL);
  }
}

static void *participant(void *arg) {
  worker *w = arg;
  load *l = w->l;
  gmt_http r = patient(l, "POST", "/api/participants", NULL, NULL);
  cJSON *o = r.status == 201 ? cJSON_Parse(r.body) : NULL;
  gmt_http_free(&r);
  if (!o) {
    l->failed = 1;
    snprintf(l->why, sizeof l->why, "participant %d: POST /api/participants: %ld", w->k, r.status);
    return NULL;
  }
  char id[33], token[33], path[128];
  snprintf(id, sizeof id, "%s", cJSON_GetObjectItem(o, "participant")->valuestring);
  snprintf(token, sizeof token, "%s", cJSON_GetObjectItem(o, "token")->valuestring);
  cJSON_Delete(o);
  snprintf(path, sizeof path, "/api/participants/%s/next", id);
  for (int guard = 0; guard < 4 * LOAD_TRIALS && !l->failed; guard++) {
    r = patient(l, "GET", path, token, NULL);
    o = r.status == 200 ? cJSON_Parse(r.body) : NULL;
    gmt_http_free(&r);
    if (!o) {
      l->failed = 1;
      snprintf(l->why, sizeof l->why, "participant %d: next: %ld", w->k, r.status);
      return NULL;
    }
    if (cJSON_IsTrue(cJSON_GetObjectItem(o, "done"))) {
      cJSON_Delete(o);
      return NULL;
    }
    long long trial = (long long)cJSON_GetObjectItem(o, "trial")->valuedouble;
    cJSON_Delete(o);
    char body[256];
    snprintf(body, sizeof body, "{\"participant\":\"%s\",\"trial\":%lld,\"choice\":%d,\"ms\":%d}", id,
             trial, (int)(trial % 2), 300 + (int)(trial % 500));
    r = patient(l, "POST", "/api/answers", token, body);
    if (r.status == 200) {
      int at = atomic_fetch_add(&l->n_lat, 1);
      l->lat[at] = r.seconds;
      l->acked_trial[w->k][l->n_acked[w->k]++] = trial;
      atomic_fetch_add(&l->acked, 1);
    } else if (r.status != 409) { /* 409: stored before a kill cut the reply off */
      l->failed = 1;
      snprintf(l->why, sizeof l->why, "participant %d: answer: %ld %s", w->k, r.status, r.body);
    }
    gmt_http_free(&r);
  }
  return NULL;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

START_TEST(fifty_participants_at_once_survive_a_sigkill_of_the_server) {
  const char *run = gmt_survey_run();
  char db[1200], trials[16];
  snprintf(db, sizeof db, "%s", gmt_path_in("load.db"));
  snprintf(trials, sizeof trials, "%d", LOAD_TRIALS);
  const char *extra[] = {"--trials", trials, "--rate", "100", NULL};
  gmt_server s = gmt_server_start(run, db, 0, extra);
  load *l = calloc(1, sizeof *l);
  l->db = db;
  l->port = s.port;
  l->lat = calloc(LOAD_PARTICIPANTS * LOAD_TRIALS, sizeof *l->lat);
  pthread_t th[LOAD_PARTICIPANTS];
  worker w[LOAD_PARTICIPANTS];
  double t0 = gmt_now_s();
  for (int k = 0; k < LOAD_PARTICIPANTS; k++) {
    w[k] = (worker){l, k};
    ck_assert_int_eq(pthread_create(&th[k], NULL, participant, &w[k]), 0);
  }
  /* half way: SIGKILL, then the same database on the same port */
  while (atomic_load(&l->acked) < LOAD_PARTICIPANTS * LOAD_TRIALS / 2 && !l->failed &&
         gmt_now_s() - t0 < 300)
    nanosleep(&(struct timespec){0, 5000000}, NULL);
  int at_kill = atomic_load(&l->acked);
  ck_assert_int_eq(gmt_server_stop(&s, 1), -9);
  long long stored_at_kill = gmt_db_scalar(db, "SELECT count(*) FROM answers");
  ck_assert_msg(stored_at_kill >= at_kill, "%lld stored, %d acknowledged before the kill",
                stored_at_kill, at_kill);
  s = gmt_server_start(run, db, l->port, extra);
  for (int k = 0; k < LOAD_PARTICIPANTS; k++) pthread_join(th[k], NULL);
  double wall = gmt_now_s() - t0;
  ck_assert_msg(!l->failed, "%s", l->why);
  ck_assert_int_eq(gmt_server_stop(&s, 0), 0);
  /* every answer once: none lost, none duplicated, every acknowledged one there */
  ck_assert_int_eq(gmt_db_scalar(db, "SELECT count(*) FROM answers"), LOAD_PARTICIPANTS * LOAD_TRIALS);
  ck_assert_int_eq(gmt_db_scalar(db, "SELECT count(DISTINCT trial) FROM answers"), LOAD_PARTICIPANTS * LOAD_TRIALS);
  ck_assert_int_eq(gmt_db_scalar(db, "SELECT count(*) FROM participants"), LOAD_PARTICIPANTS);
  ck_assert_int_eq(gmt_db_scalar(db, "SELECT count(*) FROM trials t WHERE NOT EXISTS (SELECT 1 FROM answers a WHERE a.trial = t.id)"), 0);
  for (int k = 0; k < LOAD_PARTICIPANTS; k++)
    for (int i = 0; i < l->n_acked[k]; i++) {
      char sql[128];
      snprintf(sql, sizeof sql, "SELECT count(*) FROM answers WHERE trial = %lld", l->acked_trial[k][i]);
      ck_assert_int_eq(gmt_db_scalar(db, sql), 1);
    }
  int n = atomic_load(&l->n_lat);
  qsort(l->lat, (size_t)n, sizeof *l->lat, cmp_double);
  printf("survey load: %d participants, %d answers acknowledged (%d more stored as the kill cut "
         "their replies), %d requests met no server during the restart, %.1f s; answer latency "
         "p50 %.2f ms, p99 %.2f ms\n",
         LOAD_PARTICIPANTS, n, LOAD_PARTICIPANTS * LOAD_TRIALS - n, atomic_load(&l->restarts_seen),
         wall, 1000 * l->lat[n / 2], 1000 * l->lat[(int)(0.99 * (n - 1))]);
  free(l->lat);
  free(l);
}
END_TEST

START_TEST(usage_and_file_errors_name_the_problem) {
  const char *run = gmt_survey_run();
  char bad[1200];
  snprintf(bad, sizeof bad, "%s", gmt_path_in("notadb.db"));
  FILE *f = fopen(bad, "w");
  fputs("this is not a database, it is a long enough line of text to fill a header page......\n", f);
  fclose(f);
  const struct {
    const char *args;
    int code;
    const char *msg;
  } cases[] = {
      {"survey", 2, "Usage: genmoji survey"},
      {"survey frobnicate", 2, "'frobnicate' is not serve"},
      {"survey serve --db x.db", 2, "at least one --run"},
      {"survey serve --run x", 2, "--db FILE is required"},
      {"survey serve --run x --db x.db --trials 1", 2, "--trials '1' is not an integer in 2..1000"},
      {"survey serve --run x --db x.db --designs prompt", 2, "no run has prompted samples"},
      {"survey serve --run x --db x.db --designs nope", 2, "'nope' is not pairwise"},
      {"survey serve --run x --db x.db --listen nowhere", 2, "is not HOST:PORT"},
      {"survey results", 2, "--db FILE is required"},
      {"survey export --db x.db", 2, "--csv"},
      {"survey results --db x.db --resamples 5", 2, "--resamples '5'"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    gmt_run_result r = gmt_genmoji(NULL, "%s", cases[i].args);
    ck_assert_msg(r.code == cases[i].code && strstr(r.err, cases[i].msg), "%s: exit %d: %s",
                  cases[i].args, r.code, r.err);
    gmt_run_free(&r);
  }
  gmt_run_result r = gmt_genmoji(NULL, "survey results --db '%s'", bad);
  ck_assert_msg(r.code == 1 && strstr(r.err, bad) && strstr(r.err, "not an SQLite database"), "%s", r.err);
  gmt_run_free(&r);
  char *kept = gmt_slurp(bad, NULL);
  ck_assert(kept && !strncmp(kept, "this is not a database", 22)); /* left as it was */
  free(kept);
  char db[1200];
  snprintf(db, sizeof db, "%s", gmt_path_in("errors.db"));
  r = gmt_genmoji(NULL, "survey serve --run '%s/nothing' --db '%s' --listen 127.0.0.1:0", run, db);
  ck_assert_msg(r.code == 1 && strstr(r.err, "nothing/metrics.json") && strstr(r.err, "compare run folder"),
                "%s", r.err);
  gmt_run_free(&r);
  r = gmt_genmoji(NULL, "survey report --db '%s' --run '%s'", db, gmt_tmpdir());
  ck_assert_msg(r.code == 1 && strstr(r.err, "metrics.json"), "%s", r.err);
  gmt_run_free(&r);
}
END_TEST

static Suite *make_suite(void) {
  Suite *s = suite_create("survey");
  TCase *tc = tcase_create("survey");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, usage_and_file_errors_name_the_problem);
  tcase_add_test(tc, a_whole_survey_is_stored_served_blind_and_counted);
  tcase_add_test(tc, bad_requests_are_refused_and_store_nothing);
  tcase_add_test(tc, the_rate_limit_answers_429_then_lets_the_participant_go_on);
  tcase_add_test(tc, fifty_participants_at_once_survive_a_sigkill_of_the_server);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return gmt_run(make_suite()); }
