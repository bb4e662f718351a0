/* `genmoji survey`: blinded human judgements of a compare run's samples in a web page,
 * kept in SQLite (docs/survey.md). The files of this folder, each calling only those
 * below it:
 *
 *   plugin.c   the front-end plugin and the command: serve, results, export, report
 *   report.c   the "Human judgement" section added to a compare run's report
 *   server.c   the HTTP server (libmicrohttpd): the page, the JSON API, the images
 *   results.c  the statistics of a database's answers (results JSON, CSV export)
 *   db.c       the database: schema, import of a run's images, participants, trials,
 *              answers (prepared statements only, one connection behind one mutex)
 *   stats.c    Wilson, binomial, Bradley-Terry, bootstrap (stats.h)
 *   util.c     messages, whole files, JSON reads
 */
#ifndef GM_SURVEY_H
#define GM_SURVEY_H

#include <cJSON.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>

/* a participant's trials: 2..1000, default 20 */
#define SV_DEFAULT_TRIALS 20
#define SV_MAX_TRIALS 1000
/* the largest request body the server reads (an answer is under 200 bytes) */
#define SV_MAX_BODY 4096
/* opaque ids of participants, tokens and images: 32 lowercase hex digits */
#define SV_ID_HEX 32

enum { SV_PAIRWISE = 1, SV_REALFAKE = 2, SV_PROMPT = 4 };

typedef struct sv_db {
  sqlite3 *db;
  pthread_mutex_t lock;
  char path[4096];
} sv_db;

/* ---- util.c ---- */

/* The message into msg; returns -1. */
int sv_fail(char *msg, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A whole file, NUL-terminated (malloc'd), at most max bytes; NULL with errno set. */
char *sv_slurp(const char *path, size_t max, size_t *len);
/* A member: a number (NAN when missing or another type), a string (NULL), item i of an
 * array of numbers (NAN). */
double sv_jnum(const cJSON *o, const char *key);
const char *sv_jstr(const cJSON *o, const char *key);
double sv_jat(const cJSON *o, const char *key, int i);
/* s, or "" for NULL (for printing a member that may be missing) */
static inline const char *sv_str_or(const char *s) { return s ? s : ""; }

/* ---- db.c ---- */

/* Opens (creating) the survey database at path: WAL, synchronous=FULL, the schema. An
 * error message naming the file goes into msg. */
int sv_db_open(sv_db *d, const char *path, char *msg, size_t n);
void sv_db_close(sv_db *d);
/* Imports a compare run folder: a source per sampled model (its samples.png cells), and
 * the real images (train.png's cells, the training split). A run imported before is
 * left as it is. Adds the noise images of the attention checks once. 0, or -1 with msg. */
int sv_db_import_run(sv_db *d, const char *run, char *msg, size_t n);
/* How many sources of each kind the database has. */
int sv_db_count_sources(sv_db *d, const char *kind);

/* A participant with a fresh id and token and its trials drawn (designs: SV_* bits): every
 * image of a kind shown about equally often, sides random, attention checks (a real image
 * against noise) among them. 0, or -1 with msg. */
int sv_db_new_participant(sv_db *d, int designs, int trials, const char *ua_hash, char id[33],
                          char token[33], char *msg, size_t n);
/* The requests on a participant's behalf return 0, or an HTTP status (4xx, 500) with a
 * message for the client in msg. */
typedef struct sv_trial {
  long long id;
  int seq, of;     /* 0-based position, trials in all */
  int design;      /* SV_PAIRWISE or SV_REALFAKE */
  char image[2][33]; /* opaque ids; the second empty for realfake */
} sv_trial;
/* The participant's next unanswered trial (marked shown the first time it is issued);
 * *done = 1 when every one is answered. The token must be the participant's. */
int sv_db_next(sv_db *d, const char *participant, const char *token, sv_trial *t, int *done,
               char *msg, size_t n);
/* Stores an answer: the trial must be the participant's, issued and not yet answered,
 * the choice 0 or 1; committed before this returns 0. */
int sv_db_answer(sv_db *d, const char *participant, const char *token, long long trial,
                 int choice, long long ms, char *msg, size_t n);
/* The PNG bytes of an image by opaque id (malloc'd), or NULL. */
unsigned char *sv_db_image(sv_db *d, const char *opaque, int *len);

/* ---- results.c ---- */

/* Every statistic of the database's answers (docs/survey.md lists the fields); NULL with
 * msg on an error. seed fixes the bootstrap. */
cJSON *sv_results(sv_db *d, uint64_t seed, int reps, char *msg, size_t n);
/* The results as a text table. */
void sv_results_print(FILE *f, const cJSON *r);
/* Every answer as CSV with a header row. */
int sv_export_csv(sv_db *d, FILE *f, char *msg, size_t n);

/* ---- server.c ---- */

typedef struct sv_server_config {
  sv_db *db;
  const char *host;   /* listen address */
  int port;           /* 0 = any free one */
  int designs, trials;
  double rate;        /* answers and next calls per second per participant (burst 20) */
  char admin_token[33];
} sv_server_config;

/* Serves until SIGINT/SIGTERM; prints the address and the admin token on stdout first.
 * Returns an exit code. */
int sv_serve(sv_server_config *c);

/* ---- report.c ---- */

/* Adds (or replaces) the "Human judgement" section of a compare run's index.html and
 * report.md, writes human.svg, and puts the results under metrics.json's "human", each
 * atomically. 0, or -1 with msg. */
int sv_report(const char *run, const cJSON *results, char *msg, size_t n);

#endif
