/* `genmoji survey report`: the "Human judgement" section of a compare run's report
 * (survey.h). The section sits between two marker comments in index.html and report.md,
 * so a second report replaces it; human.svg charts the Bradley-Terry strengths; the
 * results go under metrics.json's "human". Every file is written to a temporary name,
 * flushed to disk and renamed over the old one: a failure leaves the old file whole. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "survey.h"

#define BEGIN_MARK "<!-- genmoji-survey:begin -->"
#define END_MARK "<!-- genmoji-survey:end -->"



/* The whole of text to path, atomically. */
static int write_atomic(const char *path, const char *text, char *msg, size_t n) {
  char tmp[4400];
  snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid());
  FILE *f = fopen(tmp, "wb");
  if (!f) return sv_fail(msg, n, "%s: %s", tmp, strerror(errno));
  size_t len = strlen(text);
  int ok = fwrite(text, 1, len, f) == len && fflush(f) == 0 && fsync(fileno(f)) == 0;
  int e = errno;
  ok = fclose(f) == 0 && ok;
  if (!ok || rename(tmp, path)) {
    if (ok) e = errno;
    unlink(tmp);
    return sv_fail(msg, n, "%s: %s", path, strerror(e));
  }
  return 0;
}

/* ---- a growing string ---- */

typedef struct buf {
  char *s;
  size_t n, cap;
  int oom;
} buf;

static void put(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(buf *b, const char *fmt, ...) {
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    size_t room = b->cap - b->n;
    int w = b->s ? vsnprintf(b->s + b->n, room, fmt, ap) : -1;
    va_end(ap);
    if (w >= 0 && (size_t)w < room) {
      b->n += (size_t)w;
      return;
    }
    size_t cap = b->cap ? 2 * b->cap : 4096;
    while (w >= 0 && cap < b->n + (size_t)w + 1) cap *= 2;
    char *t = realloc(b->s, cap);
    if (!t) {
      b->oom = 1;
      return;
    }
    b->s = t;
    b->cap = cap;
  }
}

/* text escaped for HTML (html = 1) or for a Markdown table cell */
static void put_text(buf *b, const char *s, int html) {
  for (const char *p = s; *p; p++) {
    if (html && *p == '<') put(b, "&lt;");
    else if (html && *p == '>') put(b, "&gt;");
    else if (html && *p == '&') put(b, "&amp;");
    else if (html && *p == '"') put(b, "&quot;");
    else if (!html && strchr("|\\`*_[]<>", *p)) put(b, "\\%c", *p);
    else put(b, "%c", *p);
  }
}




/* ---- the section, once for HTML and once for Markdown ---- */

typedef struct table {
  buf *b;
  int html;
} table;

static void row_begin(table *t, int header) { put(t->b, t->html ? (header ? "<tr>" : "<tr>") : "|"); }

static void cellf(table *t, int header, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void cellf(table *t, int header, const char *fmt, ...) {
  char text[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  if (t->html) put(t->b, "<%s>", header ? "th" : "td");
  else put(t->b, " ");
  put_text(t->b, text, t->html);
  if (t->html) put(t->b, "</%s>", header ? "th" : "td");
  else put(t->b, " |");
}

static void row_end(table *t, int header, int cols) {
  put(t->b, t->html ? "</tr>\n" : "\n");
  if (!t->html && header) {
    put(t->b, "|");
    for (int i = 0; i < cols; i++) put(t->b, " --- |");
    put(t->b, "\n");
  }
}

static void para(buf *b, int html, const char *text) {
  if (html) put(b, "<p>");
  put_text(b, text, html);
  put(b, html ? "</p>\n" : "\n\n");
}

static void section(buf *b, int html, const cJSON *r) {
  const cJSON *p = cJSON_GetObjectItemCaseSensitive(r, "participants");
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(r, "answers");
  char text[1024];
  put(b, "%s\n", BEGIN_MARK);
  put(b, html ? "<h2>Human judgement</h2>\n" : "## Human judgement\n\n");
  snprintf(text, sizeof text,
           "From `genmoji survey` (blinded: participants saw images under random ids, never "
           "which model made them). %.0f participants answered (%.0f completed every trial); "
           "%.0f failed an attention check (a real emoji against noise) and are left out of "
           "every number below. %.0f answers were used; the median response took %.0f ms.",
           sv_jnum(p, "answered"), sv_jnum(p, "completed"), sv_jnum(p, "excluded"), sv_jnum(a, "used"),
           sv_jnum(a, "median_ms"));
  para(b, html, text);
  table t = {b, html};
  const cJSON *o;
  const cJSON *bt = cJSON_GetObjectItemCaseSensitive(r, "bradley_terry");
  if (cJSON_GetArraySize(bt) > 0) {
    if (html)
      put(b, "<figure><img src=\"human.svg\" alt=\"Bradley-Terry strengths\"><figcaption>");
    else
      put(b, "![Bradley-Terry strengths](human.svg)\n\n");
    snprintf(text, sizeof text,
             "Bradley-Terry strengths from the pairwise answers (log scale, mean 0; higher "
             "looks more like a real emoji face), with 95%% bootstrap intervals over "
             "participants.");
    if (html) put_text(b, text, 1), put(b, "</figcaption></figure>\n");
    else para(b, 0, text);
    if (html) put(b, "<table>\n");
    row_begin(&t, 1);
    cellf(&t, 1, "source");
    cellf(&t, 1, "strength");
    cellf(&t, 1, "95%% interval");
    row_end(&t, 1, 3);
    cJSON_ArrayForEach(o, bt) {
      row_begin(&t, 0);
      cellf(&t, 0, "%s", sv_str_or(sv_jstr(o, "source")));
      cellf(&t, 0, "%.3f", sv_jnum(o, "strength"));
      cellf(&t, 0, "[%.3f, %.3f]", sv_jat(o, "ci95", 0), sv_jat(o, "ci95", 1));
      row_end(&t, 0, 3);
    }
    if (html) put(b, "</table>\n");
  }
  const cJSON *pw = cJSON_GetObjectItemCaseSensitive(r, "pairwise");
  if (cJSON_GetArraySize(pw) > 0) {
    para(b, html, "Pairwise: \"Which looks more like a real emoji face?\" The share of A's "
                  "wins with its Wilson 95% interval and the exact two-sided binomial test "
                  "against 50%.");
    if (html) put(b, "<table>\n");
    row_begin(&t, 1);
    const char *head[] = {"A", "B", "answers", "A wins", "95% interval", "p"};
    for (int i = 0; i < 6; i++) cellf(&t, 1, "%s", head[i]);
    row_end(&t, 1, 6);
    cJSON_ArrayForEach(o, pw) {
      row_begin(&t, 0);
      cellf(&t, 0, "%s", sv_str_or(sv_jstr(o, "a")));
      cellf(&t, 0, "%s", sv_str_or(sv_jstr(o, "b")));
      cellf(&t, 0, "%.0f", sv_jnum(o, "n"));
      cellf(&t, 0, "%.1f%%", 100 * sv_jnum(o, "a_rate"));
      cellf(&t, 0, "[%.1f%%, %.1f%%]", 100 * sv_jat(o, "ci95", 0), 100 * sv_jat(o, "ci95", 1));
      cellf(&t, 0, "%.3g", sv_jnum(o, "p_value"));
      row_end(&t, 0, 6);
    }
    if (html) put(b, "</table>\n");
  }
  const cJSON *hy = cJSON_GetObjectItemCaseSensitive(r, "hype");
  if (cJSON_GetArraySize(hy) > 0) {
    para(b, html, "Real or generated (HYPE-infinity): one image at a time, real and "
                  "generated half and half. The error rate is the mean of the share of a "
                  "model's images judged real and the share of real images judged generated "
                  "(50% = people cannot tell), with 95% bootstrap intervals over participants.");
    if (html) put(b, "<table>\n");
    row_begin(&t, 1);
    const char *head[] = {"model", "its images", "judged real", "real judged real", "error rate", "95% interval"};
    for (int i = 0; i < 6; i++) cellf(&t, 1, "%s", head[i]);
    row_end(&t, 1, 6);
    cJSON_ArrayForEach(o, hy) {
      row_begin(&t, 0);
      cellf(&t, 0, "%s", sv_str_or(sv_jstr(o, "model")));
      cellf(&t, 0, "%.0f", sv_jnum(o, "generated_trials"));
      cellf(&t, 0, "%.1f%%", 100 * sv_jnum(o, "generated_judged_real"));
      cellf(&t, 0, "%.1f%%", 100 * sv_jnum(o, "real_judged_real"));
      cellf(&t, 0, "%.1f%%", 100 * sv_jnum(o, "error_rate"));
      cellf(&t, 0, "[%.1f%%, %.1f%%]", 100 * sv_jat(o, "error_rate_ci95", 0), 100 * sv_jat(o, "error_rate_ci95", 1));
      row_end(&t, 0, 6);
    }
    if (html) put(b, "</table>\n");
  }
  if (!cJSON_GetArraySize(bt) && !cJSON_GetArraySize(pw) && !cJSON_GetArraySize(hy))
    para(b, html, "No answers to report yet.");
  put(b, "%s\n", END_MARK);
}

/* The chart: one bar per source from 0 to its strength, and its interval as a line. */
static void chart(buf *b, const cJSON *bt) {
  int n = cJSON_GetArraySize(bt);
  double lo = -0.5, hi = 0.5;
  const cJSON *o;
  cJSON_ArrayForEach(o, bt) {
    double v[3] = {sv_jnum(o, "strength"), sv_jat(o, "ci95", 0), sv_jat(o, "ci95", 1)};
    for (int k = 0; k < 3; k++)
      if (isfinite(v[k])) lo = v[k] < lo ? v[k] : lo, hi = v[k] > hi ? v[k] : hi;
  }
  const int W = 560, left = 130, right = 20, row = 28, top = 10;
  int H = top + n * row + 30;
  double span = hi - lo;
#define X(v) (left + ((v) - lo) / span * (W - left - right))
  put(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
         "font-family=\"sans-serif\" font-size=\"12\">\n", W, H, W, H);
  put(b, "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n", W, H);
  put(b, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#888\"/>\n", X(0), top - 4, X(0),
      top + n * row);
  int i = 0;
  cJSON_ArrayForEach(o, bt) {
    double s = sv_jnum(o, "strength"), a = sv_jat(o, "ci95", 0), c = sv_jat(o, "ci95", 1);
    int y = top + i++ * row;
    put(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", left - 8, y + 17);
    put_text(b, sv_str_or(sv_jstr(o, "source")), 1);
    put(b, "</text>\n");
    if (isfinite(s)) {
      double x0 = X(s < 0 ? s : 0), x1 = X(s < 0 ? 0 : s);
      put(b, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"16\" fill=\"#6b8fd6\"/>\n", x0, y + 5, x1 - x0);
    }
    if (isfinite(a) && isfinite(c))
      put(b, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#222\" stroke-width=\"2\"/>\n",
          X(a), y + 13, X(c), y + 13);
  }
  put(b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">0</text>\n", X(0), top + n * row + 16);
  put(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">Bradley-Terry strength (log scale)</text>\n",
      W - right, top + n * row + 16);
  put(b, "</svg>\n");
#undef X
}

/* old with the section replaced, or inserted before `before` (NULL: at the end). */
static char *splice(const char *old, const char *sec, const char *before) {
  const char *b = strstr(old, BEGIN_MARK), *e = b ? strstr(b, END_MARK) : NULL;
  size_t head, tail;
  if (b && e) {
    head = (size_t)(b - old);
    const char *after = e + strlen(END_MARK);
    if (*after == '\n') after++;
    tail = (size_t)(after - old);
  } else {
    const char *at = before ? strstr(old, before) : NULL;
    if (before && !at) return NULL;
    head = tail = at ? (size_t)(at - old) : strlen(old);
  }
  size_t len = head + strlen(sec) + strlen(old + tail);
  char *out = malloc(len + 1);
  if (!out) return NULL;
  memcpy(out, old, head);
  strcpy(out + head, sec);
  strcat(out, old + tail);
  return out;
}

int sv_report(const char *run, const cJSON *results, char *msg, size_t n) {
  char path[4400];
  /* read all three first: a run that is not a report changes nothing */
  const char *names[3] = {"metrics.json", "index.html", "report.md"};
  char *old[3] = {NULL, NULL, NULL};
  int rc = 0;
  for (int i = 0; !rc && i < 3; i++) {
    snprintf(path, sizeof path, "%s/%s", run, names[i]);
    if (!(old[i] = sv_slurp(path, (size_t)256 << 20, NULL)))
      rc = sv_fail(msg, n, "%s: %s (is %s a compare report folder?)", path, strerror(errno), run);
  }
  cJSON *m = rc ? NULL : cJSON_Parse(old[0]);
  if (!rc && !cJSON_IsObject(m)) rc = sv_fail(msg, n, "%s/metrics.json: not JSON", run);
  if (!rc && !strstr(old[1], "</body>")) rc = sv_fail(msg, n, "%s/index.html: no </body>: not a compare report", run);
  char *out[3] = {NULL, NULL, NULL};
  buf h = {0}, md = {0}, svg = {0};
  if (!rc) {
    cJSON_DeleteItemFromObjectCaseSensitive(m, "human");
    cJSON_AddItemToObject(m, "human", cJSON_Duplicate(results, 1));
    out[0] = cJSON_Print(m);
    section(&h, 1, results);
    section(&md, 0, results);
    chart(&svg, cJSON_GetObjectItemCaseSensitive(results, "bradley_terry"));
    if (!h.oom && !md.oom) {
      out[1] = splice(old[1], h.s, "</body>");
      out[2] = splice(old[2], md.s, NULL);
    }
    if (!out[0] || !out[1] || !out[2] || svg.oom) rc = sv_fail(msg, n, "out of memory");
  }
  if (!rc) {
    snprintf(path, sizeof path, "%s/human.svg", run);
    rc = write_atomic(path, svg.s, msg, n);
  }
  for (int i = 0; !rc && i < 3; i++) {
    snprintf(path, sizeof path, "%s/%s", run, names[i]);
    rc = write_atomic(path, out[i], msg, n);
  }
  cJSON_Delete(m);
  cJSON_free(out[0]);
  for (int i = 0; i < 3; i++) free(old[i]);
  free(out[1]);
  free(out[2]);
  free(h.s);
  free(md.s);
  free(svg.s);
  return rc;
}
