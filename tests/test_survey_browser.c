/* The survey page in a real browser: Debian's headless Chromium driven through
 * chromedriver's WebDriver protocol (JSON over HTTP, spoken here through libcurl). A
 * participant on a phone-sized window reads the introduction, gives consent, answers
 * every trial by clicking, by keys (1, 2, arrows) and by touch, reloads the page part way
 * (and goes on where it stopped), and reaches the thank-you screen; the test then finds
 * every answer in the database and in `survey results`. Skips when chromium or
 * chromedriver is not installed. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <cJSON.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clitest.h"
#include "surveytest.h"

extern char **environ;

#define CHROMIUM "/usr/bin/chromium"
#define CHROMEDRIVER "/usr/bin/chromedriver"
#define ELEMENT "element-6066-11e4-a52e-4f735466cecf"
#define TRIALS 10

typedef struct driver {
  pid_t pid;
  char base[64];
  char session[128];
} driver;

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t l = sizeof a;
  ck_assert(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
            getsockname(fd, (struct sockaddr *)&a, &l) == 0);
  close(fd);
  return ntohs(a.sin_port);
}

/* A WebDriver command; returns its "value" (the caller frees the root via *root). */
static const cJSON *wd(driver *d, const char *method, const char *path, const char *body,
                       cJSON **root) {
  char full[512];
  snprintf(full, sizeof full, "%s%s%s", d->session[0] ? "/session/" : "", d->session, path);
  gmt_http r = gmt_http_do(method, d->base, d->session[0] ? full : path, NULL, NULL, body,
                           body ? strlen(body) : 0);
  cJSON *o = cJSON_Parse(r.body);
  ck_assert_msg(r.status == 200 && o, "WebDriver %s %s: %ld %s", method, path, r.status, r.body);
  gmt_http_free(&r);
  *root = o;
  return cJSON_GetObjectItem(o, "value");
}

static void wd_do(driver *d, const char *method, const char *path, const char *body) {
  cJSON *root;
  wd(d, method, path, body, &root);
  cJSON_Delete(root);
}

/* The result of a script, as an allocated string (the script returns a string). */
static char *script(driver *d, const char *js) {
  cJSON *body = cJSON_CreateObject(), *root;
  cJSON_AddStringToObject(body, "script", js);
  cJSON_AddArrayToObject(body, "args");
  char *text = cJSON_PrintUnformatted(body);
  const cJSON *v = wd(d, "POST", "/execute/sync", text, &root);
  char *out = strdup(cJSON_IsString(v) ? v->valuestring : "");
  cJSON_free(text);
  cJSON_Delete(body);
  cJSON_Delete(root);
  return out;
}

static void element(driver *d, const char *css, char id[128]) {
  char body[256];
  snprintf(body, sizeof body, "{\"using\":\"css selector\",\"value\":\"%s\"}", css);
  cJSON *root;
  const cJSON *v = wd(d, "POST", "/element", body, &root);
  const cJSON *e = cJSON_GetObjectItem(v, ELEMENT);
  ck_assert_msg(cJSON_IsString(e), "no element %s", css);
  snprintf(id, 128, "%s", e->valuestring);
  cJSON_Delete(root);
}

static void click(driver *d, const char *css) {
  char id[128], path[256];
  element(d, css, id);
  snprintf(path, sizeof path, "/element/%s/click", id);
  wd_do(d, "POST", path, "{}");
}

static void key(driver *d, const char *k) {
  char body[512];
  snprintf(body, sizeof body,
           "{\"actions\":[{\"type\":\"key\",\"id\":\"keyboard\",\"actions\":[{\"type\":\"keyDown\","
           "\"value\":\"%s\"},{\"type\":\"keyUp\",\"value\":\"%s\"}]}]}",
           k, k);
  wd_do(d, "POST", "/actions", body);
  wd_do(d, "DELETE", "/actions", NULL);
}

static void tap(driver *d, const char *css) {
  char id[128], body[1024];
  element(d, css, id);
  snprintf(body, sizeof body,
           "{\"actions\":[{\"type\":\"pointer\",\"id\":\"finger\",\"parameters\":{\"pointerType\":"
           "\"touch\"},\"actions\":[{\"type\":\"pointerMove\",\"duration\":0,\"origin\":{\"" ELEMENT
           "\":\"%s\"},\"x\":0,\"y\":0},{\"type\":\"pointerDown\",\"button\":0},{\"type\":"
           "\"pointerUp\",\"button\":0}]}]}",
           id);
  wd_do(d, "POST", "/actions", body);
  wd_do(d, "DELETE", "/actions", NULL);
}

/* Waits (up to 30 s) until the script returns something other than "" and returns it. */
static char *wait_for(driver *d, const char *js) {
  double t0 = gmt_now_s();
  for (;;) {
    char *v = script(d, js);
    if (v[0]) return v;
    free(v);
    ck_assert_msg(gmt_now_s() - t0 < 30, "waited 30 s for: %s", js);
    nanosleep(&(struct timespec){0, 50000000}, NULL);
  }
}

/* The screen: "trial K N" once trial K (0-based) is on screen with its N images loaded,
 * "thanks", or "" (still loading, or still the trial before K). */
static const char STATE[] =
    "const $ = (i) => document.getElementById(i);"
    "if (!$('thanks').hidden) return 'thanks';"
    "if ($('trial').hidden || $('progress').value < %d) return '';"
    "const imgs = [...document.querySelectorAll('#images img')];"
    "if (!imgs.length || !imgs.every((i) => i.complete && i.naturalWidth > 0)) return '';"
    "return 'trial ' + $('progress').value + ' ' + imgs.length;";

START_TEST(a_participant_completes_the_survey_in_chromium) {
  if (!gmt_require_file(__func__, CHROMIUM, "chromium") ||
      !gmt_require_file(__func__, CHROMEDRIVER, "chromium-driver"))
    return;
  const char *run = gmt_survey_run();
  char db[1200], trials[8];
  snprintf(db, sizeof db, "%s", gmt_path_in("browser.db"));
  snprintf(trials, sizeof trials, "%d", TRIALS);
  const char *extra[] = {"--trials", trials, NULL}; /* the default rate limit */
  gmt_server s = gmt_server_start(run, db, 0, extra);

  driver d;
  memset(&d, 0, sizeof d);
  int port = free_port();
  char port_arg[32], log[1200];
  snprintf(port_arg, sizeof port_arg, "--port=%d", port);
  snprintf(log, sizeof log, "%s/chromedriver.log", gmt_tmpdir());
  char *argv[] = {CHROMEDRIVER, port_arg, NULL};
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
  ck_assert_int_eq(posix_spawn(&d.pid, CHROMEDRIVER, &fa, NULL, argv, environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  snprintf(d.base, sizeof d.base, "http://127.0.0.1:%d", port);
  double t0 = gmt_now_s();
  for (;;) { /* chromedriver is up when /status answers */
    gmt_http r = gmt_http_do("GET", d.base, "/status", NULL, NULL, NULL, 0);
    long st = r.status;
    gmt_http_free(&r);
    if (st == 200) break;
    ck_assert_msg(gmt_now_s() - t0 < 30, "chromedriver did not start: see %s", log);
    nanosleep(&(struct timespec){0, 100000000}, NULL);
  }
  char profile[1200], caps[2400];
  snprintf(profile, sizeof profile, "%s/chromium-profile", gmt_tmpdir());
  snprintf(caps, sizeof caps,
           "{\"capabilities\":{\"alwaysMatch\":{\"browserName\":\"chrome\",\"goog:chromeOptions\":"
           "{\"binary\":\"" CHROMIUM "\",\"args\":[\"--headless=new\",\"--no-sandbox\","
           "\"--disable-gpu\",\"--disable-dev-shm-usage\",\"--no-first-run\","
           "\"--user-data-dir=%s\",\"--window-size=390,844\"]}}}}",
           profile);
  cJSON *root;
  const cJSON *v = wd(&d, "POST", "/session", caps, &root);
  snprintf(d.session, sizeof d.session, "%s", gmt_json_str(v, "sessionId"));
  cJSON_Delete(root);

  char body[256];
  snprintf(body, sizeof body, "{\"url\":\"%s/\"}", s.base);
  wd_do(&d, "POST", "/url", body);
  /* the introduction: Start waits for consent */
  char *intro = script(&d, "return document.getElementById('intro').hidden ? '' : "
                           "(document.getElementById('start').disabled ? 'locked' : 'open');");
  ck_assert_str_eq(intro, "locked");
  free(intro);
  click(&d, "#consent");
  click(&d, "#start");
  /* readable on a phone: nothing wider than the 390-pixel window */
  char *fits = wait_for(&d, "return document.getElementById('trial').hidden ? '' : "
                            "(document.documentElement.scrollWidth <= window.innerWidth ? 'fits' : "
                            "'too wide: ' + document.documentElement.scrollWidth);");
  ck_assert_str_eq(fits, "fits");
  free(fits);

  int answered = 0, by_key = 0, by_touch = 0, by_click = 0, reloaded = 0;
  for (int guard = 0; guard < 4 * TRIALS; guard++) {
    char js[1024];
    snprintf(js, sizeof js, STATE, answered);
    char *state = wait_for(&d, js);
    if (!strcmp(state, "thanks")) {
      free(state);
      break;
    }
    int index = 0, images = 0;
    ck_assert_int_eq(sscanf(state, "trial %d %d", &index, &images), 2);
    free(state);
    ck_assert_int_eq(index, answered); /* the progress bar counts the answers */
    if (answered == 4 && !reloaded) { /* a reload goes on where it stopped */
      wd_do(&d, "POST", "/refresh", "{}");
      reloaded = 1;
      continue;
    }
    /* the trial on screen, and the side an attention check counts as right */
    long long trial = gmt_db_scalar(db, "SELECT id FROM trials t WHERE shown_at IS NOT NULL AND "
                                        "NOT EXISTS (SELECT 1 FROM answers a WHERE a.trial = t.id) "
                                        "ORDER BY seq LIMIT 1");
    ck_assert(trial > 0);
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT attention, coalesce(correct, 0) FROM trials WHERE id = %lld", trial);
    int attention = (int)gmt_db_scalar(db, sql) == 1;
    snprintf(sql, sizeof sql, "SELECT correct FROM trials WHERE id = %lld", trial);
    int choice = attention ? (int)gmt_db_scalar(db, sql) : answered % 2;
    const char *how = answered % 3 == 0 ? "click" : answered % 3 == 1 ? "key" : "tap";
    switch (answered % 3) {
    case 0:
      click(&d, choice ? "#choice-1" : "#choice-0");
      by_click++;
      break;
    case 1:
      /* 1 / 2, or the arrows */
      key(&d, answered % 2 ? (choice ? "2" : "1") : (choice ? "\\uE014" : "\\uE012"));
      by_key++;
      break;
    default:
      /* a tap on the picture itself (pairwise), or on the answer button */
      tap(&d, images == 2 ? (choice ? "#image-1" : "#image-0") : (choice ? "#choice-1" : "#choice-0"));
      by_touch++;
    }
    answered++;
    /* the answer is stored before the page shows the next screen */
    double t1 = gmt_now_s();
    snprintf(sql, sizeof sql, "SELECT count(*) FROM answers WHERE trial = %lld", trial);
    while (gmt_db_scalar(db, sql) != 1) {
      ck_assert_msg(gmt_now_s() - t1 < 30, "trial %lld: no answer stored after the %s", trial, how);
      nanosleep(&(struct timespec){0, 50000000}, NULL);
    }
    snprintf(sql, sizeof sql, "SELECT choice FROM answers WHERE trial = %lld", trial);
    ck_assert_int_eq(gmt_db_scalar(db, sql), choice);
  }
  ck_assert_int_eq(answered, TRIALS);
  ck_assert(reloaded && by_click && by_key && by_touch);
  wd_do(&d, "DELETE", "", NULL);
  kill(d.pid, SIGTERM);
  waitpid(d.pid, NULL, 0);
  ck_assert_int_eq(gmt_server_stop(&s, 0), 0);

  ck_assert_int_eq(gmt_db_scalar(db, "SELECT count(*) FROM answers"), TRIALS);
  ck_assert_int_eq(gmt_db_scalar(db, "SELECT count(*) FROM answers WHERE ms > 0"), TRIALS);
  gmt_run_result r = gmt_genmoji(NULL, "survey results --db '%s' --json", db);
  ck_assert_msg(r.code == 0, "%s", r.err);
  cJSON *res = cJSON_Parse(r.out);
  ck_assert_int_eq((int)gmt_json_num(res, "participants.completed"), 1);
  ck_assert_int_eq((int)gmt_json_num(res, "participants.excluded"), 0);
  ck_assert_int_eq((int)gmt_json_num(res, "answers.all"), TRIALS);
  cJSON_Delete(res);
  gmt_run_free(&r);
}
END_TEST

static Suite *make_suite(void) {
  Suite *s = suite_create("survey_browser");
  TCase *tc = tcase_create("survey_browser");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, a_participant_completes_the_survey_in_chromium);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return gmt_run(make_suite()); }
