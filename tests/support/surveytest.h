/* Helpers for the survey suites (test_survey*.c): a small compare run to survey, the
 * survey server started and stopped as a child process, HTTP requests through libcurl,
 * and single values read from the survey database. */
#ifndef GM_SURVEYTEST_H
#define GM_SURVEYTEST_H

#include <sys/types.h>

/* A compare run of both models at test size on the fruit pictures (16x16, 9 samples
 * each, 3 held-out images), made once per process; its folder. */
const char *gmt_survey_run(void);

typedef struct gmt_server {
  pid_t pid;
  int port;
  char base[64];  /* http://127.0.0.1:PORT */
  char admin[33]; /* the admin token it printed */
  char out[1200], err[1200];
} gmt_server;

/* Starts `genmoji survey serve --run RUN --db DB --listen 127.0.0.1:PORT` plus the extra
 * arguments (NULL-terminated, may be NULL), port 0 = any, and waits until it prints its
 * address. */
gmt_server gmt_server_start(const char *run, const char *db, int port, const char *const *extra);
/* SIGTERM (or SIGKILL when kill9), then waits; returns the exit status (-signal when a
 * signal ended it). */
int gmt_server_stop(gmt_server *s, int kill9);

typedef struct gmt_http {
  long status;       /* 0 when there was no response */
  char *body;        /* NUL-terminated */
  size_t len;
  char type[128];    /* Content-Type */
  char csp[512];     /* Content-Security-Policy */
  double seconds;    /* the request's wall time */
} gmt_http;

/* One request; token adds X-Survey-Token, admin X-Admin-Token (both may be NULL), body
 * (may be NULL) is sent as application/json. The path goes as written (no "../"
 * folding). */
gmt_http gmt_http_do(const char *method, const char *base, const char *path, const char *token,
                     const char *admin, const char *body, size_t body_len);
void gmt_http_free(gmt_http *r);

/* The first column of the first row of an SQL query on the database, -1 when none. */
long long gmt_db_scalar(const char *db, const char *sql);

#endif
