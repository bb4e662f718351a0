/* The survey database (survey.h): schema, import of a compare run's images, participants
 * and their trials, answers. SQLite in WAL mode with synchronous=FULL, so an answer is on
 * disk when its statement returns; prepared statements with bound values only. Every
 * call takes the one mutex, so a transaction never interleaves with another thread's. */
#define _GNU_SOURCE
#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "genmoji/image.h"
#include "survey.h"

#define SCHEMA_VERSION 1

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS sources("
    " id INTEGER PRIMARY KEY, run TEXT NOT NULL, model TEXT NOT NULL, preset TEXT,"
    " kind TEXT NOT NULL CHECK(kind IN ('model', 'real', 'noise')), UNIQUE(run, model));"
    "CREATE TABLE IF NOT EXISTS images("
    " id INTEGER PRIMARY KEY, opaque TEXT NOT NULL UNIQUE, hash TEXT NOT NULL,"
    " source INTEGER NOT NULL REFERENCES sources(id), idx INTEGER NOT NULL,"
    " png BLOB NOT NULL, shown INTEGER NOT NULL DEFAULT 0, UNIQUE(source, idx));"
    "CREATE TABLE IF NOT EXISTS participants("
    " id TEXT PRIMARY KEY, token TEXT NOT NULL, started REAL NOT NULL,"
    " ua_hash TEXT NOT NULL, trials INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS trials("
    " id INTEGER PRIMARY KEY, participant TEXT NOT NULL REFERENCES participants(id),"
    " seq INTEGER NOT NULL, design TEXT NOT NULL CHECK(design IN ('pairwise', 'realfake')),"
    " attention INTEGER NOT NULL, image_left INTEGER NOT NULL REFERENCES images(id),"
    " image_right INTEGER REFERENCES images(id), correct INTEGER, shown_at REAL,"
    " UNIQUE(participant, seq));"
    "CREATE TABLE IF NOT EXISTS answers("
    " trial INTEGER PRIMARY KEY REFERENCES trials(id),"
    " participant TEXT NOT NULL REFERENCES participants(id),"
    " choice INTEGER NOT NULL CHECK(choice IN (0, 1)), ms INTEGER NOT NULL,"
    " answered_at REAL NOT NULL);";


static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int random_bytes(void *out, size_t n) {
  unsigned char *p = out;
  while (n) {
    ssize_t got = getrandom(p, n, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return -1;
    p += got;
    n -= (size_t)got;
  }
  return 0;
}

static int random_hex(char out[33]) {
  unsigned char b[16];
  if (random_bytes(b, sizeof b)) return -1;
  for (int i = 0; i < 16; i++) snprintf(out + 2 * i, 3, "%02x", b[i]);
  return 0;
}

/* uniform in 0..n-1 */
static int random_below(int n) {
  uint32_t x = 0;
  if (n <= 1 || random_bytes(&x, sizeof x)) return 0;
  return (int)(x % (uint32_t)n);
}

/* ---- open ---- */

static int exec(sv_db *d, const char *sql, char *msg, size_t n) {
  char *e = NULL;
  if (sqlite3_exec(d->db, sql, NULL, NULL, &e) == SQLITE_OK) return 0;
  sv_fail(msg, n, "%s: %s", d->path, e ? e : sqlite3_errmsg(d->db));
  sqlite3_free(e);
  return -1;
}

/* One integer from a statement without parameters (-1 on error). */
static long long scalar(sv_db *d, const char *sql) {
  sqlite3_stmt *st = NULL;
  long long v = -1;
  if (sqlite3_prepare_v2(d->db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

int sv_db_open(sv_db *d, const char *path, char *msg, size_t n) {
  memset(d, 0, sizeof *d);
  snprintf(d->path, sizeof d->path, "%s", path);
  if (sqlite3_open_v2(path, &d->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
      SQLITE_OK) {
    sv_fail(msg, n, "%s: cannot open the database: %s", path,
         d->db ? sqlite3_errmsg(d->db) : "out of memory");
    sqlite3_close(d->db);
    d->db = NULL;
    return -1;
  }
  sqlite3_busy_timeout(d->db, 10000);
  sqlite3_extended_result_codes(d->db, 1);
  long long version = scalar(d, "PRAGMA user_version");
  long long tables = scalar(d, "SELECT count(*) FROM sqlite_master");
  if (version < 0) {
    sv_fail(msg, n, "%s: not an SQLite database (%s)", path, sqlite3_errmsg(d->db));
  } else if (tables > 0 && version != SCHEMA_VERSION) {
    sv_fail(msg, n, "%s: not a genmoji survey database (user_version %lld, expected %d)", path,
         version, SCHEMA_VERSION);
  } else {
    sqlite3_stmt *st = NULL;
    const char *mode = NULL;
    if (sqlite3_prepare_v2(d->db, "PRAGMA journal_mode=WAL", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
      mode = (const char *)sqlite3_column_text(st, 0);
    int wal = mode && strcmp(mode, "wal") == 0;
    sqlite3_finalize(st);
    if (!wal) sv_fail(msg, n, "%s: cannot switch the database to WAL mode", path);
    else if (!exec(d, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;", msg, n) &&
             !exec(d, "BEGIN IMMEDIATE", msg, n)) {
      char sql[sizeof SCHEMA + 64];
      snprintf(sql, sizeof sql, "%sPRAGMA user_version=%d;", SCHEMA, SCHEMA_VERSION);
      if (!exec(d, sql, msg, n) && !exec(d, "COMMIT", msg, n)) {
        pthread_mutex_init(&d->lock, NULL);
        return 0;
      }
      sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
    }
  }
  sqlite3_close(d->db);
  d->db = NULL;
  return -1;
}

void sv_db_close(sv_db *d) {
  if (!d->db) return;
  sqlite3_close(d->db);
  d->db = NULL;
  pthread_mutex_destroy(&d->lock);
}

/* ---- import ---- */


/* 64-bit FNV-1a of the pixels, the content hash (the same image in two runs) */
static void pixel_hash(const uint8_t *p, size_t n, char out[17]) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
  snprintf(out, 17, "%016llx", (unsigned long long)h);
}

static long long add_source(sv_db *d, const char *run, const char *model, const char *preset,
                            const char *kind, int *existed, char *msg, size_t n) {
  sqlite3_stmt *st = NULL;
  long long id = -1;
  *existed = 0;
  sqlite3_prepare_v2(d->db, "SELECT id FROM sources WHERE run = ?1 AND model = ?2", -1, &st, NULL);
  sqlite3_bind_text(st, 1, run, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, model, -1, SQLITE_TRANSIENT);
  if (sqlite3_step(st) == SQLITE_ROW) {
    id = sqlite3_column_int64(st, 0);
    *existed = 1;
  }
  sqlite3_finalize(st);
  if (id >= 0) return id;
  sqlite3_prepare_v2(d->db, "INSERT INTO sources(run, model, preset, kind) VALUES (?1, ?2, ?3, ?4)",
                     -1, &st, NULL);
  sqlite3_bind_text(st, 1, run, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, model, -1, SQLITE_TRANSIENT);
  if (preset) sqlite3_bind_text(st, 3, preset, -1, SQLITE_TRANSIENT);
  else sqlite3_bind_null(st, 3);
  sqlite3_bind_text(st, 4, kind, -1, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_DONE) id = sqlite3_last_insert_rowid(d->db);
  else sv_fail(msg, n, "%s: %s", d->path, sqlite3_errmsg(d->db));
  sqlite3_finalize(st);
  return id;
}

/* One image (side x side RGB, already at 16 levels) as PNG bytes in the images table. */
static int add_image(sv_db *d, long long source, int idx, const uint8_t *rgb, int side,
                     char *msg, size_t n) {
  char opaque[33], hash[17], tmp[4200];
  if (random_hex(opaque)) return sv_fail(msg, n, "survey: no random numbers (getrandom failed)");
  pixel_hash(rgb, (size_t)side * side * 3, hash);
  /* libpng through genmoji's writer, to a private file beside the database */
  snprintf(tmp, sizeof tmp, "%s.import-%ld.png", d->path, (long)getpid());
  gm_error err = {0};
  if (gm_png_write(tmp, rgb, side, side, 3, &err)) return sv_fail(msg, n, "%s", err.msg);
  size_t len = 0;
  char *png = sv_slurp(tmp, 1 << 20, &len);
  unlink(tmp);
  if (!png) return sv_fail(msg, n, "%s: %s", tmp, strerror(errno));
  sqlite3_stmt *st = NULL;
  sqlite3_prepare_v2(d->db,
                     "INSERT INTO images(opaque, hash, source, idx, png) VALUES (?1, ?2, ?3, ?4, ?5)",
                     -1, &st, NULL);
  sqlite3_bind_text(st, 1, opaque, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, hash, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 3, source);
  sqlite3_bind_int(st, 4, idx);
  sqlite3_bind_blob(st, 5, png, (int)len, free);
  int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : sv_fail(msg, n, "%s: %s", d->path, sqlite3_errmsg(d->db));
  sqlite3_finalize(st);
  return rc;
}

/* A grid as compare writes it (n cells of side x side, ceil(sqrt(n)) columns, each
 * upscaled `up` times, 1-pixel gaps) cut back into its cells at 16 levels. */
static int import_grid(sv_db *d, const char *path, int count, int side, int up, long long source,
                       char *msg, size_t n) {
  gm_image g;
  memset(&g, 0, sizeof g);
  gm_error err = {0};
  if (gm_png_read(path, &g, &err)) return sv_fail(msg, n, "%s", err.msg);
  int cols = (int)ceil(sqrt((double)count)), rows = (count + cols - 1) / cols;
  int cell = side * up;
  if (g.width != cols * cell + cols - 1 || g.height != rows * cell + rows - 1) {
    gm_image_free(&g);
    return sv_fail(msg, n,
                "%s: %dx%d pixels is not a grid of %d images of %dx%d at %dx (expected %dx%d)",
                path, g.width, g.height, count, side, side, up, cols * cell + cols - 1,
                rows * cell + rows - 1);
  }
  uint8_t *px = malloc((size_t)side * side * 3);
  int rc = px ? 0 : sv_fail(msg, n, "survey: out of memory");
  for (int i = 0; !rc && i < count; i++) {
    int x0 = (i % cols) * (cell + 1), y0 = (i / cols) * (cell + 1);
    for (int y = 0; y < side; y++)
      for (int x = 0; x < side; x++)
        for (int c = 0; c < 3; c++) {
          uint8_t v = g.rgba[4 * ((size_t)(y0 + y * up) * g.width + x0 + x * up) + c];
          px[3 * ((size_t)y * side + x) + c] = (uint8_t)((v >> 4) * 17);
        }
    rc = add_image(d, source, i, px, side, msg, n);
  }
  free(px);
  gm_image_free(&g);
  return rc;
}

/* A file name inside the run folder: relative, no "..", no odd characters. */
static int safe_relative(const char *s) {
  if (!s[0] || s[0] == '/' || strstr(s, "..")) return 0;
  for (const char *p = s; *p; p++)
    if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./", *p)) return 0;
  return 1;
}



/* One grid of the run: its file, count and upscale checked, then imported as a source. */
static int import_source(sv_db *d, const char *run, const char *mpath, const char *model,
                         const char *preset, const char *kind, const char *grid, double count,
                         double up, int side, char *msg, size_t n) {
  if (!grid || !safe_relative(grid))
    return sv_fail(msg, n, "%s: %s's grid is not a file name inside the run", mpath, model);
  if (!(count >= 1 && count <= 100000) || !(up >= 1 && up <= 64) || count != floor(count) ||
      up != floor(up))
    return sv_fail(msg, n, "%s: %s's grid has no valid image count and upscale", mpath, model);
  int existed = 0;
  long long src = add_source(d, run, model, preset, kind, &existed, msg, n);
  if (src < 0) return -1;
  if (existed) return 0;
  char path[8400];
  snprintf(path, sizeof path, "%s/%s", run, grid);
  return import_grid(d, path, (int)count, side, (int)up, src, msg, n);
}

static int add_noise(sv_db *d, int side, char *msg, size_t n) {
  int existed = 0;
  char model[32];
  snprintf(model, sizeof model, "noise-%d", side);
  long long src = add_source(d, "-", model, NULL, "noise", &existed, msg, n);
  if (src < 0) return -1;
  if (existed) return 0;
  size_t len = (size_t)side * side * 3;
  uint8_t *px = malloc(len);
  int rc = px ? 0 : sv_fail(msg, n, "survey: out of memory");
  for (int i = 0; !rc && i < 8; i++) {
    if (random_bytes(px, len)) rc = sv_fail(msg, n, "survey: no random numbers (getrandom failed)");
    for (size_t k = 0; !rc && k < len; k++) px[k] = (uint8_t)((px[k] >> 4) * 17);
    if (!rc) rc = add_image(d, src, i, px, side, msg, n);
  }
  free(px);
  return rc;
}

int sv_db_import_run(sv_db *d, const char *run, char *msg, size_t n) {
  char mpath[4200];
  snprintf(mpath, sizeof mpath, "%s/metrics.json", run);
  char *text = sv_slurp(mpath, 64 << 20, NULL);
  if (!text) return sv_fail(msg, n, "%s: %s (is %s a compare run folder?)", mpath, strerror(errno), run);
  cJSON *root = cJSON_Parse(text);
  free(text);
  if (!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    return sv_fail(msg, n, "%s: not JSON", mpath);
  }
  const char *format = sv_jstr(root, "format");
  const cJSON *data = cJSON_GetObjectItemCaseSensitive(root, "data");
  const cJSON *figures = cJSON_GetObjectItemCaseSensitive(root, "figures");
  const cJSON *models = cJSON_GetObjectItemCaseSensitive(root, "models");
  double size = sv_jnum(data, "size");
  int rc = 0;
  if (!format || strcmp(format, "genmoji-compare-1"))
    rc = sv_fail(msg, n, "%s: not a genmoji compare run (format is not \"genmoji-compare-1\")", mpath);
  else if (!(size >= 4 && size <= 256) || !cJSON_IsObject(models) || !cJSON_IsObject(figures))
    rc = sv_fail(msg, n, "%s: no data.size, \"figures\" or \"models\" (a run of an older genmoji?)", mpath);
  pthread_mutex_lock(&d->lock);
  if (!rc) rc = exec(d, "BEGIN IMMEDIATE", msg, n);
  int side = (int)size, sampled = 0;
  const char *kinds[2] = {"train", "heldout"};
  for (int k = 0; !rc && k < 2; k++) {
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(figures, kinds[k]);
    if (!g) continue;
    rc = import_source(d, run, mpath, kinds[k], NULL, "real", sv_jstr(g, "grid"), sv_jnum(g, "images"),
                       sv_jnum(g, "grid_upscale"), side, msg, n);
  }
  const cJSON *m;
  cJSON_ArrayForEach(m, models) {
    if (rc) break;
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(m, "sampling");
    const char *status = sv_jstr(s, "status");
    if (!status || strcmp(status, "done")) continue; /* not sampled */
    if (!m->string || !safe_relative(m->string) || strchr(m->string, '/') ||
        !strcmp(m->string, "train") || !strcmp(m->string, "heldout")) {
      rc = sv_fail(msg, n, "%s: a model name that is not a plain name", mpath);
      break;
    }
    rc = import_source(d, run, mpath, m->string, sv_jstr(m, "preset"), "model", sv_jstr(s, "grid"),
                       sv_jnum(s, "n"), sv_jnum(s, "grid_upscale"), side, msg, n);
    sampled++;
  }
  if (!rc && sampled == 0) rc = sv_fail(msg, n, "%s: no model of this run has samples", mpath);
  if (!rc && scalar(d, "SELECT count(*) FROM sources WHERE kind = 'real'") <= 0)
    rc = sv_fail(msg, n, "%s: no real images (figures.train)", mpath);
  if (!rc) rc = add_noise(d, side, msg, n);
  if (!rc) rc = exec(d, "COMMIT", msg, n);
  if (rc) sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
  pthread_mutex_unlock(&d->lock);
  cJSON_Delete(root);
  return rc;
}

int sv_db_count_sources(sv_db *d, const char *kind) {
  pthread_mutex_lock(&d->lock);
  sqlite3_stmt *st = NULL;
  int v = -1;
  sqlite3_prepare_v2(d->db, "SELECT count(*) FROM sources WHERE kind = ?1", -1, &st, NULL);
  sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
  if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  pthread_mutex_unlock(&d->lock);
  return v;
}

/* ---- participants and trials ---- */

/* The least-shown image of a source (kind = NULL) or of any source of a kind, ties broken
 * at random; counts it as shown once more. -1 when there is none. */
static long long pick_image(sv_db *d, long long source, const char *kind) {
  sqlite3_stmt *st = NULL;
  long long id = -1;
  if (kind) {
    sqlite3_prepare_v2(d->db,
                       "SELECT i.id FROM images i JOIN sources s ON s.id = i.source WHERE s.kind = ?1"
                       " ORDER BY i.shown, random() LIMIT 1",
                       -1, &st, NULL);
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
  } else {
    sqlite3_prepare_v2(d->db, "SELECT id FROM images WHERE source = ?1 ORDER BY shown, random() LIMIT 1",
                       -1, &st, NULL);
    sqlite3_bind_int64(st, 1, source);
  }
  if (sqlite3_step(st) == SQLITE_ROW) id = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  if (id < 0) return -1;
  sqlite3_prepare_v2(d->db, "UPDATE images SET shown = shown + 1 WHERE id = ?1", -1, &st, NULL);
  sqlite3_bind_int64(st, 1, id);
  int ok = sqlite3_step(st) == SQLITE_DONE;
  sqlite3_finalize(st);
  return ok ? id : -1;
}

typedef struct pair_use {
  long long a, b; /* sources, a < b */
  long long used;
} pair_use;

/* The pairwise comparisons worth making (model against model, model against real) with
 * how often each has been drawn so far. */
static int pairs_in_use(sv_db *d, pair_use **out) {
  sqlite3_stmt *st = NULL;
  long long ids[64];
  int model[64], n = 0;
  sqlite3_prepare_v2(d->db, "SELECT id, kind = 'model' FROM sources WHERE kind != 'noise' ORDER BY id",
                     -1, &st, NULL);
  while (n < 64 && sqlite3_step(st) == SQLITE_ROW) {
    ids[n] = sqlite3_column_int64(st, 0);
    model[n++] = sqlite3_column_int(st, 1);
  }
  sqlite3_finalize(st);
  pair_use *p = malloc(sizeof *p * (size_t)(n * n + 1));
  int k = 0;
  if (!p) return -1;
  for (int i = 0; i < n; i++)
    for (int j = i + 1; j < n; j++)
      if (model[i] || model[j]) p[k++] = (pair_use){ids[i], ids[j], 0};
  sqlite3_prepare_v2(d->db,
                     "SELECT min(a.source, b.source), max(a.source, b.source), count(*) FROM trials t"
                     " JOIN images a ON a.id = t.image_left JOIN images b ON b.id = t.image_right"
                     " WHERE t.design = 'pairwise' AND t.attention = 0 GROUP BY 1, 2",
                     -1, &st, NULL);
  while (sqlite3_step(st) == SQLITE_ROW) {
    long long a = sqlite3_column_int64(st, 0), b = sqlite3_column_int64(st, 1);
    for (int i = 0; i < k; i++)
      if (p[i].a == a && p[i].b == b) p[i].used = sqlite3_column_int64(st, 2);
  }
  sqlite3_finalize(st);
  *out = p;
  return k;
}

static int insert_trial(sv_db *d, const char *participant, int seq, const char *design,
                        int attention, long long left, long long right, int correct) {
  sqlite3_stmt *st = NULL;
  sqlite3_prepare_v2(d->db,
                     "INSERT INTO trials(participant, seq, design, attention, image_left, image_right,"
                     " correct) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                     -1, &st, NULL);
  sqlite3_bind_text(st, 1, participant, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 2, seq);
  sqlite3_bind_text(st, 3, design, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 4, attention);
  sqlite3_bind_int64(st, 5, left);
  if (right >= 0) sqlite3_bind_int64(st, 6, right);
  else sqlite3_bind_null(st, 6);
  if (correct >= 0) sqlite3_bind_int(st, 7, correct);
  else sqlite3_bind_null(st, 7);
  int ok = sqlite3_step(st) == SQLITE_DONE;
  sqlite3_finalize(st);
  return ok ? 0 : -1;
}

/* The trials of a new participant, inside the caller's transaction. */
static int draw_trials(sv_db *d, const char *id, int designs, int trials) {
  int n_att = trials >= 10 ? trials / 10 : 1;
  char *is_att = calloc((size_t)trials, 1);
  pair_use *pairs = NULL;
  int n_pairs = pairs_in_use(d, &pairs);
  int rc = is_att && n_pairs >= 0 ? 0 : -1;
  /* attention checks anywhere but first (the first trial shows how the page works) */
  for (int k = 0; !rc && k < n_att && k < trials - 1; k++) {
    int at;
    do at = 1 + random_below(trials - 1);
    while (is_att[at]);
    is_att[at] = 1;
  }
  int both = (designs & SV_PAIRWISE) && (designs & SV_REALFAKE) && n_pairs > 0;
  int first = random_below(2), realfake_seen = 0, real_first = random_below(2);
  for (int seq = 0, k = 0; !rc && seq < trials; seq++) {
    if (is_att[seq]) {
      long long real = pick_image(d, -1, "real"), noise = pick_image(d, -1, "noise");
      int swap = random_below(2);
      rc = real < 0 || noise < 0 ? -1
                                 : insert_trial(d, id, seq, "pairwise", 1, swap ? noise : real,
                                                swap ? real : noise, swap ? 1 : 0);
      continue;
    }
    int pairwise = both ? (k++ + first) % 2 == 0 : (designs & SV_PAIRWISE) && n_pairs > 0;
    if (pairwise) {
      int best = 0, ties = 0;
      for (int i = 0; i < n_pairs; i++) { /* least used, ties at random */
        if (pairs[i].used < pairs[best].used) best = i, ties = 1;
        else if (pairs[i].used == pairs[best].used && random_below(++ties) == 0) best = i;
      }
      pairs[best].used++;
      long long a = pick_image(d, pairs[best].a, NULL), b = pick_image(d, pairs[best].b, NULL);
      int swap = random_below(2);
      rc = a < 0 || b < 0 ? -1 : insert_trial(d, id, seq, "pairwise", 0, swap ? b : a, swap ? a : b, -1);
    } else {
      /* real and generated alternate (which comes first is random): half and half */
      int real = (realfake_seen++ + real_first) % 2 == 0;
      long long img = pick_image(d, -1, real ? "real" : "model");
      rc = img < 0 ? -1 : insert_trial(d, id, seq, "realfake", 0, img, -1, real ? 0 : 1);
    }
  }
  free(is_att);
  free(pairs);
  return rc;
}

int sv_db_new_participant(sv_db *d, int designs, int trials, const char *ua_hash, char id[33],
                          char token[33], char *msg, size_t n) {
  if (random_hex(id) || random_hex(token))
    return sv_fail(msg, n, "no random numbers (getrandom failed)");
  pthread_mutex_lock(&d->lock);
  int rc = exec(d, "BEGIN IMMEDIATE", msg, n);
  if (!rc) {
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(d->db,
                       "INSERT INTO participants(id, token, started, ua_hash, trials)"
                       " VALUES (?1, ?2, ?3, ?4, ?5)",
                       -1, &st, NULL);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, token, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 3, now_s());
    sqlite3_bind_text(st, 4, ua_hash, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 5, trials);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    if (!rc) rc = draw_trials(d, id, designs, trials);
    if (rc) sv_fail(msg, n, "%s: %s", d->path, sqlite3_errmsg(d->db));
    if (!rc) rc = exec(d, "COMMIT", msg, n);
    if (rc) sqlite3_exec(d->db, "ROLLBACK", NULL, NULL, NULL);
  }
  pthread_mutex_unlock(&d->lock);
  return rc;
}

/* 0 when the token is the participant's (compared in constant time), else 401 or 404. */
static int check_token(sv_db *d, const char *participant, const char *token, int *trials,
                       char *msg, size_t n) {
  if (!token || !token[0]) return snprintf(msg, n, "no X-Survey-Token header"), 401;
  sqlite3_stmt *st = NULL;
  sqlite3_prepare_v2(d->db, "SELECT token, trials FROM participants WHERE id = ?1", -1, &st, NULL);
  sqlite3_bind_text(st, 1, participant, -1, SQLITE_TRANSIENT);
  int rc = 404;
  if (sqlite3_step(st) == SQLITE_ROW) {
    const char *t = (const char *)sqlite3_column_text(st, 0);
    size_t lt = strlen(t), lk = strlen(token);
    unsigned diff = (unsigned)(lt ^ lk);
    for (size_t i = 0; i < lt; i++) diff |= (unsigned)(t[i] ^ token[i < lk ? i : 0]);
    rc = diff ? 401 : 0;
    if (trials) *trials = sqlite3_column_int(st, 1);
  }
  sqlite3_finalize(st);
  if (rc == 404) snprintf(msg, n, "no such participant");
  else if (rc == 401) snprintf(msg, n, "wrong token for this participant");
  return rc;
}

int sv_db_next(sv_db *d, const char *participant, const char *token, sv_trial *t, int *done,
               char *msg, size_t n) {
  memset(t, 0, sizeof *t);
  *done = 0;
  pthread_mutex_lock(&d->lock);
  int of = 0, rc = check_token(d, participant, token, &of, msg, n);
  if (!rc) {
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(d->db,
                       "SELECT t.id, t.seq, t.design, l.opaque, r.opaque, t.shown_at FROM trials t"
                       " JOIN images l ON l.id = t.image_left LEFT JOIN images r ON r.id = t.image_right"
                       " WHERE t.participant = ?1 AND NOT EXISTS"
                       " (SELECT 1 FROM answers a WHERE a.trial = t.id) ORDER BY t.seq LIMIT 1",
                       -1, &st, NULL);
    sqlite3_bind_text(st, 1, participant, -1, SQLITE_TRANSIENT);
    int step = sqlite3_step(st), shown = 1;
    if (step == SQLITE_ROW) {
      t->id = sqlite3_column_int64(st, 0);
      t->seq = sqlite3_column_int(st, 1);
      t->of = of;
      t->design = strcmp((const char *)sqlite3_column_text(st, 2), "realfake") ? SV_PAIRWISE : SV_REALFAKE;
      snprintf(t->image[0], sizeof t->image[0], "%s", (const char *)sqlite3_column_text(st, 3));
      if (sqlite3_column_type(st, 4) != SQLITE_NULL)
        snprintf(t->image[1], sizeof t->image[1], "%s", (const char *)sqlite3_column_text(st, 4));
      shown = sqlite3_column_type(st, 5) != SQLITE_NULL;
    } else if (step == SQLITE_DONE) {
      *done = 1;
    } else {
      rc = 500;
      snprintf(msg, n, "database: %s", sqlite3_errmsg(d->db));
    }
    sqlite3_finalize(st);
    if (!rc && !*done && !shown) {
      sqlite3_prepare_v2(d->db, "UPDATE trials SET shown_at = ?1 WHERE id = ?2", -1, &st, NULL);
      sqlite3_bind_double(st, 1, now_s());
      sqlite3_bind_int64(st, 2, t->id);
      if (sqlite3_step(st) != SQLITE_DONE) rc = 500, snprintf(msg, n, "database: %s", sqlite3_errmsg(d->db));
      sqlite3_finalize(st);
    }
  }
  pthread_mutex_unlock(&d->lock);
  return rc;
}

int sv_db_answer(sv_db *d, const char *participant, const char *token, long long trial,
                 int choice, long long ms, char *msg, size_t n) {
  if (choice != 0 && choice != 1) return snprintf(msg, n, "choice must be 0 or 1"), 400;
  if (ms < 0 || ms > 86400000LL) return snprintf(msg, n, "ms must be 0..86400000"), 400;
  pthread_mutex_lock(&d->lock);
  int rc = check_token(d, participant, token, NULL, msg, n);
  if (!rc) {
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(d->db,
                       "SELECT t.shown_at IS NOT NULL, EXISTS (SELECT 1 FROM answers a WHERE a.trial = t.id)"
                       " FROM trials t WHERE t.id = ?1 AND t.participant = ?2",
                       -1, &st, NULL);
    sqlite3_bind_int64(st, 1, trial);
    sqlite3_bind_text(st, 2, participant, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_ROW) rc = 404, snprintf(msg, n, "no trial %lld for this participant", trial);
    else if (!sqlite3_column_int(st, 0)) rc = 409, snprintf(msg, n, "trial %lld was not issued yet", trial);
    else if (sqlite3_column_int(st, 1)) rc = 409, snprintf(msg, n, "trial %lld is already answered", trial);
    sqlite3_finalize(st);
    if (!rc) {
      sqlite3_prepare_v2(d->db,
                         "INSERT INTO answers(trial, participant, choice, ms, answered_at)"
                         " VALUES (?1, ?2, ?3, ?4, ?5)",
                         -1, &st, NULL);
      sqlite3_bind_int64(st, 1, trial);
      sqlite3_bind_text(st, 2, participant, -1, SQLITE_TRANSIENT);
      sqlite3_bind_int(st, 3, choice);
      sqlite3_bind_int64(st, 4, ms);
      sqlite3_bind_double(st, 5, now_s());
      int s = sqlite3_step(st);
      if (s == SQLITE_CONSTRAINT_PRIMARYKEY) rc = 409, snprintf(msg, n, "trial %lld is already answered", trial);
      else if (s != SQLITE_DONE) rc = 500, snprintf(msg, n, "database: %s", sqlite3_errmsg(d->db));
      sqlite3_finalize(st);
    }
  }
  pthread_mutex_unlock(&d->lock);
  return rc;
}

unsigned char *sv_db_image(sv_db *d, const char *opaque, int *len) {
  pthread_mutex_lock(&d->lock);
  sqlite3_stmt *st = NULL;
  unsigned char *out = NULL;
  sqlite3_prepare_v2(d->db, "SELECT png FROM images WHERE opaque = ?1", -1, &st, NULL);
  sqlite3_bind_text(st, 1, opaque, -1, SQLITE_TRANSIENT);
  if (sqlite3_step(st) == SQLITE_ROW) {
    int n = sqlite3_column_bytes(st, 0);
    out = malloc((size_t)n + 1);
    if (out) memcpy(out, sqlite3_column_blob(st, 0), (size_t)n), *len = n;
  }
  sqlite3_finalize(st);
  pthread_mutex_unlock(&d->lock);
  return out;
}
