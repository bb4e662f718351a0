/* Helpers for the survey suites (surveytest.h). */
#define _POSIX_C_SOURCE 200809L
#include "surveytest.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clitest.h"

extern char **environ;

const char *gmt_survey_run(void) {
  static char dir[1200];
  if (dir[0]) return dir;
  snprintf(dir, sizeof dir, "%s/survey-run", gmt_tmpdir());
  gmt_run_result r = gmt_genmoji(
      NULL,
      "compare --data '%s' --out '%s' --steps 2 --n 9 --size 16 --heldout 0.25 --t-samples 2 "
      "--timing-n 1 --timing-limit 0 --set-pixelcnn width=6 --set-pixelcnn layers=2 "
      "--set-pixelcnn kernel=3 --set-ddpm ch=8 --set-ddpm mult=1,2 --set-ddpm blocks=1 "
      "--set-ddpm attn=none --set-ddpm timesteps=20 --quiet",
      gmt_fruit_pictures(), dir);
  ck_assert_msg(r.code == 0, "compare for the survey: exit %d: %s", r.code, r.err);
  gmt_run_free(&r);
  return dir;
}

gmt_server gmt_server_start(const char *run, const char *db, int port, const char *const *extra) {
  static int serial;
  gmt_server s;
  memset(&s, 0, sizeof s);
  snprintf(s.out, sizeof s.out, "%s/server-%d.out", gmt_tmpdir(), serial);
  snprintf(s.err, sizeof s.err, "%s/server-%d.err", gmt_tmpdir(), serial++);
  char listen[64];
  snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
  char *argv[64];
  int n = 0;
  const char *fixed[] = {GMT_GENMOJI, "survey", "serve", "--run", run, "--db", db, "--listen", listen};
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) argv[n++] = (char *)fixed[i];
  for (int i = 0; extra && extra[i] && n < 62; i++) argv[n++] = (char *)extra[i];
  argv[n] = NULL;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, s.out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, s.err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ck_assert_int_eq(posix_spawn(&s.pid, GMT_GENMOJI, &fa, NULL, argv, environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  double t0 = gmt_now_s();
  for (;;) {
    char *out = gmt_slurp(s.out, NULL);
    const char *at = out ? strstr(out, "serving http://127.0.0.1:") : NULL;
    const char *tok = out ? strstr(out, "admin token ") : NULL;
    if (at && tok && strchr(tok, '\n')) {
      s.port = atoi(at + strlen("serving http://127.0.0.1:"));
      snprintf(s.admin, sizeof s.admin, "%.32s", tok + strlen("admin token "));
      free(out);
      break;
    }
    free(out);
    int status;
    if (waitpid(s.pid, &status, WNOHANG) == s.pid) {
      char *err = gmt_slurp(s.err, NULL);
      ck_abort_msg("survey serve exited (status %d): %s", status, err ? err : "");
    }
    ck_assert_msg(gmt_now_s() - t0 < 60, "survey serve printed no address in 60 s");
    nanosleep(&(struct timespec){0, 20000000}, NULL);
  }
  snprintf(s.base, sizeof s.base, "http://127.0.0.1:%d", s.port);
  return s;
}

int gmt_server_stop(gmt_server *s, int kill9) {
  if (s->pid <= 0) return 0;
  kill(s->pid, kill9 ? SIGKILL : SIGTERM);
  int status = 0;
  ck_assert_int_eq(waitpid(s->pid, &status, 0), s->pid);
  s->pid = 0;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

typedef struct sink {
  char *s;
  size_t n;
} sink;

static size_t on_data(char *p, size_t size, size_t nmemb, void *ctx) {
  sink *k = ctx;
  size_t len = size * nmemb;
  char *t = realloc(k->s, k->n + len + 1);
  if (!t) return 0;
  memcpy(t + k->n, p, len);
  k->s = t;
  k->n += len;
  k->s[k->n] = '\0';
  return len;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ctx) {
  gmt_http *r = ctx;
  size_t len = size * nmemb;
  struct { const char *name; char *dst; size_t cap; } want[] = {
      {"content-type:", r->type, sizeof r->type},
      {"content-security-policy:", r->csp, sizeof r->csp}};
  for (int i = 0; i < 2; i++) {
    size_t k = strlen(want[i].name);
    if (len > k && strncasecmp(p, want[i].name, k) == 0) {
      const char *v = p + k;
      size_t m = len - k;
      while (m && (*v == ' ')) v++, m--;
      while (m && (v[m - 1] == '\r' || v[m - 1] == '\n')) m--;
      snprintf(want[i].dst, want[i].cap, "%.*s", (int)m, v);
    }
  }
  return len;
}

gmt_http gmt_http_do(const char *method, const char *base, const char *path, const char *token,
                     const char *admin, const char *body, size_t body_len) {
  static int inited;
  if (!inited) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    inited = 1;
  }
  gmt_http r;
  memset(&r, 0, sizeof r);
  sink k = {NULL, 0};
  CURL *c = curl_easy_init();
  ck_assert(c != NULL);
  char url[4200], th[200], ah[200];
  snprintf(url, sizeof url, "%s%s", base, path);
  struct curl_slist *h = NULL;
  if (token) {
    snprintf(th, sizeof th, "X-Survey-Token: %s", token);
    h = curl_slist_append(h, th);
  }
  if (admin) {
    snprintf(ah, sizeof ah, "X-Admin-Token: %s", admin);
    h = curl_slist_append(h, ah);
  }
  if (body) h = curl_slist_append(h, "Content-Type: application/json");
  h = curl_slist_append(h, "Expect:");
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &k);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  if (body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body_len);
  } else if (!strcmp(method, "POST")) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
  }
  double t0 = gmt_now_s();
  if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  r.seconds = gmt_now_s() - t0;
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  r.body = k.s ? k.s : calloc(1, 1);
  r.len = k.n;
  return r;
}

void gmt_http_free(gmt_http *r) {
  free(r->body);
  r->body = NULL;
}

long long gmt_db_scalar(const char *db, const char *sql) {
  sqlite3 *d = NULL;
  long long v = -1;
  if (sqlite3_open_v2(db, &d, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
    sqlite3_busy_timeout(d, 10000);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(d, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
      v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
  sqlite3_close(d);
  return v;
}
