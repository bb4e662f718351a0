/* The survey's HTTP server on libmicrohttpd (survey.h, docs/survey.md): the page, the JSON
 * API under /api/, the images under opaque ids, and the results for whoever holds the
 * admin token. Every request body is capped at SV_MAX_BODY, every value is checked before
 * it reaches the database, and a participant's requests are rate-limited. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "survey.h"
#include "survey_page.h"

/* participant creation: all clients together, burst and per second */
#define CREATE_BURST 100.0
#define CREATE_RATE 20.0
/* a participant's requests: burst (the rate is the server's --rate) */
#define PARTICIPANT_BURST 20.0
#define BUCKETS 4096

typedef struct bucket {
  char id[33];
  double tokens, at;
} bucket;

typedef struct server {
  sv_server_config *c;
  pthread_mutex_t lock; /* the buckets */
  bucket buckets[BUCKETS];
  bucket create;
} server;

typedef struct request {
  char *body;
  size_t len;
  int too_large;
} request;

static double mono_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* 1 when the bucket has a token left (taking it), refilled at rate per second */
static int take(bucket *b, double rate, double burst) {
  double now = mono_s();
  if (b->at == 0) b->tokens = burst;
  else b->tokens += (now - b->at) * rate;
  if (b->tokens > burst) b->tokens = burst;
  b->at = now;
  if (b->tokens < 1) return 0;
  b->tokens -= 1;
  return 1;
}

/* A participant's bucket by id, in a fixed table (an old participant's slot is reused: a
 * collision can only make the limit looser, never refuse a request it should take). */
static int allow(server *s, const char *id) {
  if (s->c->rate <= 0) return 1;
  uint64_t h = 1469598103934665603ull;
  for (const char *p = id; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
  pthread_mutex_lock(&s->lock);
  bucket *b = &s->buckets[h % BUCKETS];
  if (strcmp(b->id, id)) {
    snprintf(b->id, sizeof b->id, "%s", id);
    b->at = 0;
  }
  int ok = take(b, s->c->rate, PARTICIPANT_BURST);
  pthread_mutex_unlock(&s->lock);
  return ok;
}

static int is_hex32(const char *s) {
  if (!s || strlen(s) != SV_ID_HEX) return 0;
  for (int i = 0; i < SV_ID_HEX; i++)
    if (!strchr("0123456789abcdef", s[i])) return 0;
  return 1;
}

/* ---- responses ---- */

static enum MHD_Result send_bytes(struct MHD_Connection *con, unsigned status, const char *type,
                                  const void *data, size_t len, int copy) {
  struct MHD_Response *r = MHD_create_response_from_buffer(
      len, (void *)data, copy ? MHD_RESPMEM_MUST_COPY : MHD_RESPMEM_PERSISTENT);
  if (!r) return MHD_NO;
  MHD_add_response_header(r, "Content-Type", type);
  MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
  MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
  MHD_add_response_header(r, "X-Frame-Options", "DENY");
  MHD_add_response_header(r, "Content-Security-Policy",
                          "default-src 'none'; script-src 'self'; style-src 'self'; "
                          "img-src 'self'; connect-src 'self'; base-uri 'none'; "
                          "form-action 'none'; frame-ancestors 'none'");
  MHD_add_response_header(r, "Cache-Control", "no-store");
  if (status == MHD_HTTP_TOO_MANY_REQUESTS) MHD_add_response_header(r, "Retry-After", "1");
  enum MHD_Result ret = MHD_queue_response(con, status, r);
  MHD_destroy_response(r);
  return ret;
}

static enum MHD_Result send_json(struct MHD_Connection *con, unsigned status, cJSON *o) {
  char *text = o ? cJSON_PrintUnformatted(o) : NULL;
  cJSON_Delete(o);
  if (!text) return send_bytes(con, 500, "application/json", "{\"error\":\"out of memory\"}", 25, 0);
  enum MHD_Result r = send_bytes(con, status, "application/json", text, strlen(text), 1);
  cJSON_free(text);
  return r;
}

static enum MHD_Result send_error(struct MHD_Connection *con, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum MHD_Result send_error(struct MHD_Connection *con, unsigned status, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "error", msg);
  return send_json(con, status, o);
}

/* ---- the API ---- */

static enum MHD_Result new_participant(server *s, struct MHD_Connection *con) {
  pthread_mutex_lock(&s->lock);
  int ok = take(&s->create, CREATE_RATE, CREATE_BURST);
  pthread_mutex_unlock(&s->lock);
  if (!ok) return send_error(con, MHD_HTTP_TOO_MANY_REQUESTS, "too many new participants; try again");
  const char *ua = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "User-Agent");
  uint64_t h = 1469598103934665603ull;
  for (const char *p = ua ? ua : ""; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
  char ua_hash[17], id[33], token[33], msg[512];
  snprintf(ua_hash, sizeof ua_hash, "%016llx", (unsigned long long)h);
  if (sv_db_new_participant(s->c->db, s->c->designs, s->c->trials, ua_hash, id, token, msg,
                            sizeof msg)) {
    fprintf(stderr, "survey: %s\n", msg);
    return send_error(con, 500, "could not start a survey; the server log says why");
  }
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "participant", id);
  cJSON_AddStringToObject(o, "token", token);
  cJSON_AddNumberToObject(o, "trials", s->c->trials);
  return send_json(con, MHD_HTTP_CREATED, o);
}

static enum MHD_Result next_trial(server *s, struct MHD_Connection *con, const char *id) {
  if (!is_hex32(id)) return send_error(con, 404, "no such participant");
  if (!allow(s, id)) return send_error(con, MHD_HTTP_TOO_MANY_REQUESTS, "too many requests; slow down");
  const char *token = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "X-Survey-Token");
  sv_trial t;
  int done = 0;
  char msg[512];
  int rc = sv_db_next(s->c->db, id, token, &t, &done, msg, sizeof msg);
  if (rc) return send_error(con, (unsigned)rc, "%s", msg);
  cJSON *o = cJSON_CreateObject();
  if (done) {
    cJSON_AddBoolToObject(o, "done", 1);
    return send_json(con, 200, o);
  }
  char url[64];
  cJSON_AddNumberToObject(o, "trial", (double)t.id);
  cJSON_AddStringToObject(o, "design", t.design == SV_REALFAKE ? "realfake" : "pairwise");
  cJSON_AddStringToObject(o, "question", t.design == SV_REALFAKE
                                             ? "Is this a real emoji or a generated one?"
                                             : "Which looks more like a real emoji face?");
  cJSON *images = cJSON_AddArrayToObject(o, "images");
  for (int k = 0; k < 2; k++) {
    if (!t.image[k][0]) continue;
    snprintf(url, sizeof url, "/img/%s", t.image[k]);
    cJSON_AddItemToArray(images, cJSON_CreateString(url));
  }
  cJSON *choices = cJSON_AddArrayToObject(o, "choices");
  const char *const pair[2] = {"left", "right"}, *const rf[2] = {"real", "generated"};
  for (int k = 0; k < 2; k++)
    cJSON_AddItemToArray(choices, cJSON_CreateString(t.design == SV_REALFAKE ? rf[k] : pair[k]));
  cJSON_AddNumberToObject(o, "index", t.seq);
  cJSON_AddNumberToObject(o, "of", t.of);
  return send_json(con, 200, o);
}

/* An integer-valued JSON number in lo..hi. */
static int int_field(const cJSON *o, const char *key, long long lo, long long hi, long long *v) {
  const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, key);
  if (!cJSON_IsNumber(f)) return 0;
  double d = f->valuedouble;
  if (!(d >= (double)lo && d <= (double)hi) || d != (double)(long long)d) return 0;
  *v = (long long)d;
  return 1;
}

static enum MHD_Result answer(server *s, struct MHD_Connection *con, const request *rq) {
  cJSON *o = cJSON_ParseWithLength(rq->body ? rq->body : "", rq->len);
  if (!cJSON_IsObject(o)) {
    cJSON_Delete(o);
    return send_error(con, 400, "the body is not a JSON object");
  }
  static const char *const known[] = {"participant", "trial", "choice", "ms"};
  const cJSON *f;
  cJSON_ArrayForEach(f, o) {
    int ok = 0;
    for (int i = 0; i < 4; i++) ok |= f->string && strcmp(f->string, known[i]) == 0;
    if (!ok) {
      cJSON_Delete(o);
      return send_error(con, 400, "unknown field (the fields are participant, trial, choice, ms)");
    }
  }
  const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "participant");
  long long trial = 0, choice = 0, ms = 0;
  const char *bad = !cJSON_IsString(p) || !is_hex32(p->valuestring)
                        ? "\"participant\" must be a participant id (32 hex digits)"
                    : !int_field(o, "trial", 1, 1LL << 53, &trial) ? "\"trial\" must be a trial id (a positive integer)"
                    : !int_field(o, "choice", 0, 1, &choice)    ? "\"choice\" must be 0 or 1"
                    : !int_field(o, "ms", 0, 86400000, &ms)     ? "\"ms\" must be an integer in 0..86400000"
                                                               : NULL;
  if (bad) {
    cJSON_Delete(o);
    return send_error(con, 400, "%s", bad);
  }
  char id[33];
  snprintf(id, sizeof id, "%s", p->valuestring);
  cJSON_Delete(o);
  if (!allow(s, id)) return send_error(con, MHD_HTTP_TOO_MANY_REQUESTS, "too many requests; slow down");
  const char *token = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "X-Survey-Token");
  char msg[512];
  int rc = sv_db_answer(s->c->db, id, token, trial, (int)choice, ms, msg, sizeof msg);
  if (rc) return send_error(con, (unsigned)rc, "%s", msg);
  cJSON *r = cJSON_CreateObject();
  cJSON_AddBoolToObject(r, "ok", 1);
  return send_json(con, 200, r);
}

static enum MHD_Result image(server *s, struct MHD_Connection *con, const char *opaque) {
  if (!is_hex32(opaque)) return send_error(con, 404, "no such image");
  int len = 0;
  unsigned char *png = sv_db_image(s->c->db, opaque, &len);
  if (!png) return send_error(con, 404, "no such image");
  struct MHD_Response *r = MHD_create_response_from_buffer((size_t)len, png, MHD_RESPMEM_MUST_FREE);
  if (!r) {
    free(png);
    return MHD_NO;
  }
  MHD_add_response_header(r, "Content-Type", "image/png");
  MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
  MHD_add_response_header(r, "Cache-Control", "private, max-age=3600");
  enum MHD_Result ret = MHD_queue_response(con, 200, r);
  MHD_destroy_response(r);
  return ret;
}

static enum MHD_Result admin_results(server *s, struct MHD_Connection *con) {
  const char *t = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "X-Admin-Token");
  unsigned diff = t && strlen(t) == SV_ID_HEX ? 0 : 1;
  for (int i = 0; !diff && i < SV_ID_HEX; i++) diff |= (unsigned)(t[i] ^ s->c->admin_token[i]);
  if (diff) return send_error(con, 401, "the results need the admin token (X-Admin-Token)");
  char msg[512];
  cJSON *r = sv_results(s->c->db, 1, 1000, msg, sizeof msg);
  if (!r) return send_error(con, 500, "%s", msg);
  return send_json(con, 200, r);
}

static enum MHD_Result route(server *s, struct MHD_Connection *con, const char *url,
                             const char *method, const request *rq) {
  int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
  int post = strcmp(method, "POST") == 0;
  if (rq->too_large) return send_error(con, 413, "the body is over %d bytes", SV_MAX_BODY);
  if (!strcmp(url, "/") || !strcmp(url, "/index.html")) {
    if (!get) return send_error(con, 405, "%s is GET only", url);
    return send_bytes(con, 200, "text/html; charset=utf-8", SV_PAGE_HTML, sizeof SV_PAGE_HTML - 1, 0);
  }
  if (!strcmp(url, "/survey.js") || !strcmp(url, "/survey.css")) {
    if (!get) return send_error(con, 405, "%s is GET only", url);
    int js = url[8] == 'j';
    return send_bytes(con, 200, js ? "text/javascript; charset=utf-8" : "text/css; charset=utf-8",
                      js ? SV_PAGE_JS : SV_PAGE_CSS, (js ? sizeof SV_PAGE_JS : sizeof SV_PAGE_CSS) - 1, 0);
  }
  if (!strcmp(url, "/api/participants")) {
    if (!post) return send_error(con, 405, "POST /api/participants starts a survey");
    return new_participant(s, con);
  }
  if (!strncmp(url, "/api/participants/", 18)) {
    const char *id = url + 18, *slash = strchr(id, '/');
    if (!slash || strcmp(slash, "/next")) return send_error(con, 404, "no such endpoint");
    if (!get) return send_error(con, 405, "GET .../next");
    char pid[40];
    if ((size_t)(slash - id) >= sizeof pid) return send_error(con, 404, "no such participant");
    memcpy(pid, id, (size_t)(slash - id));
    pid[slash - id] = '\0';
    return next_trial(s, con, pid);
  }
  if (!strcmp(url, "/api/answers")) {
    if (!post) return send_error(con, 405, "POST /api/answers");
    return answer(s, con, rq);
  }
  if (!strncmp(url, "/img/", 5)) {
    if (!get) return send_error(con, 405, "images are GET only");
    return image(s, con, url + 5);
  }
  if (!strcmp(url, "/admin/results")) {
    if (!get) return send_error(con, 405, "GET /admin/results");
    return admin_results(s, con);
  }
  return send_error(con, 404, "no such page");
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *con, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **state) {
  (void)version;
  request *rq = *state;
  if (!rq) { /* the headers: keep a body buffer for the calls that bring the body */
    rq = calloc(1, sizeof *rq);
    if (!rq) return MHD_NO;
    *state = rq;
    const char *cl = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > SV_MAX_BODY) rq->too_large = 1;
    return MHD_YES;
  }
  if (*upload_size) {
    if (!rq->too_large && rq->len + *upload_size <= SV_MAX_BODY) {
      char *b = realloc(rq->body, rq->len + *upload_size + 1);
      if (!b) return MHD_NO;
      memcpy(b + rq->len, upload, *upload_size);
      rq->body = b;
      rq->len += *upload_size;
      rq->body[rq->len] = '\0';
    } else {
      rq->too_large = 1; /* read and drop the rest, then answer 413 */
    }
    *upload_size = 0;
    return MHD_YES;
  }
  return route(cls, con, url, method, rq);
}

static void completed(void *cls, struct MHD_Connection *con, void **state,
                      enum MHD_RequestTerminationCode code) {
  (void)cls, (void)con, (void)code;
  request *rq = *state;
  if (rq) free(rq->body);
  free(rq);
  *state = NULL;
}

int sv_serve(sv_server_config *c) {
  server *s = calloc(1, sizeof *s);
  if (!s) return fprintf(stderr, "survey: out of memory\n"), 1;
  s->c = c;
  pthread_mutex_init(&s->lock, NULL);
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
  struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
  if (inet_pton(AF_INET, c->host, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)c->port);
  } else if (inet_pton(AF_INET6, c->host, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)c->port);
    flags |= MHD_USE_IPv6;
  } else {
    free(s);
    fprintf(stderr, "survey: --listen: '%s' is not an IPv4 or IPv6 address\n", c->host);
    return 2;
  }
  /* SIGINT and SIGTERM wait for sigwait below, in every thread the daemon starts */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  struct MHD_Daemon *d = MHD_start_daemon(
      flags, 0, NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
      MHD_OPTION_THREAD_POOL_SIZE, 4u, MHD_OPTION_CONNECTION_LIMIT, 512u,
      MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)65536,
      MHD_OPTION_NOTIFY_COMPLETED, completed, s, MHD_OPTION_END);
  if (!d) {
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    free(s);
    fprintf(stderr, "survey: cannot listen on %s:%d (in use, or not an address of this machine)\n",
            c->host, c->port);
    return 1;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_LISTEN_FD);
  struct sockaddr_storage bound;
  socklen_t bl = sizeof bound;
  int port = c->port;
  if (info && getsockname(info->listen_fd, (struct sockaddr *)&bound, &bl) == 0)
    port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                             : ((struct sockaddr_in *)&bound)->sin_port);
  int v6 = strchr(c->host, ':') != NULL;
  printf("survey: serving http://%s%s%s:%d/ (%d trials per participant; Ctrl-C stops)\n",
         v6 ? "[" : "", c->host, v6 ? "]" : "", port, c->trials);
  printf("survey: admin token %s (GET /admin/results with header X-Admin-Token)\n", c->admin_token);
  fflush(stdout);
  int sig = 0;
  sigwait(&set, &sig);
  MHD_stop_daemon(d);
  pthread_sigmask(SIG_UNBLOCK, &set, NULL);
  pthread_mutex_destroy(&s->lock);
  free(s);
  fprintf(stderr, "survey: stopped by %s; every acknowledged answer is in %s\n",
          sig == SIGTERM ? "SIGTERM" : "SIGINT", c->db->path);
  return 0;
}
