/* Progress bars and plain progress lines on stderr. See progress.h. */
#define _POSIX_C_SOURCE 200809L
#include "progress.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void gm_cli_progress_init(gm_cli_progress *p, const char *label, int quiet) {
  memset(p, 0, sizeof *p);
  p->out = stderr;
  const char *term = getenv("TERM");
  p->tty = isatty(fileno(stderr)) && !(term && strcmp(term, "dumb") == 0);
  p->quiet = quiet;
  p->label = label;
  p->interval = p->tty ? 0.1 : 10.0;
  p->last = -1e30;
}

const char *gm_cli_duration(double s, char *buf, size_t n) {
  if (!(s >= 0) || s > 1e7) {
    snprintf(buf, n, "?");
    return buf;
  }
  long t = lround(s);
  if (t >= 3600) snprintf(buf, n, "%ldh%02ldm", t / 3600, t / 60 % 60);
  else if (t >= 60) snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
  else snprintf(buf, n, "%lds", t);
  return buf;
}

/* Prints one report: redrawn in place on a terminal, a line otherwise. `force` prints
 * regardless of the interval (the last report). */
static void emit(gm_cli_progress *p, double fraction, const char *text, int force) {
  double now = gm_cli_now();
  if (p->quiet || (!force && now - p->last < p->interval)) return;
  p->last = now;
  if (!p->tty) {
    fprintf(p->out, "%s: %s\n", p->label, text);
    fflush(p->out);
    return;
  }
  enum { W = 24 };
  char bar[W + 1];
  int full = (int)(fraction * W + 0.5);
  if (full > W) full = W;
  for (int i = 0; i < W; i++) bar[i] = i < full ? '#' : '.';
  bar[W] = '\0';
  fprintf(p->out, "\r%s [%s] %s\033[K", p->label, bar, text);
  fflush(p->out);
  p->open_line = 1;
}

void gm_cli_progress_train(void *ctx, const gm_train_progress *tp) {
  gm_cli_progress *p = ctx;
  if (p->weight == 0) p->start = gm_cli_now();
  p->smooth = 0.9 * p->smooth + 0.1 * tp->loss;
  p->weight = 0.9 * p->weight + 0.1;
  char steps[64], eta[32], text[256];
  if (tp->total_steps > 0)
    snprintf(steps, sizeof steps, "step %lld/%lld", (long long)tp->step, (long long)tp->total_steps);
  else
    snprintf(steps, sizeof steps, "step %lld", (long long)tp->step);
  double done = tp->fraction - tp->session_fraction;
  double left = done > 0 ? tp->session_s * (1 - tp->fraction) / done : NAN;
  snprintf(text, sizeof text, "%s  epoch %lld  loss %.4f  %.1f img/s  ETA %s%s", steps,
           (long long)tp->epoch, p->smooth / p->weight, tp->images_per_s,
           gm_cli_duration(left, eta, sizeof eta), tp->checkpoint ? "  (saved)" : "");
  emit(p, tp->fraction, text, tp->fraction >= 1);
}

void gm_cli_progress_units(void *ctx, int64_t done, int64_t total) {
  gm_cli_progress *p = ctx;
  double now = gm_cli_now();
  if (p->start == 0) p->start = now;
  double f = total > 0 ? (double)done / (double)total : 0;
  double elapsed = now - p->start;
  char eta[32], text[160];
  snprintf(text, sizeof text, "%lld/%lld  ETA %s", (long long)done, (long long)total,
           gm_cli_duration(f > 0 ? elapsed * (1 - f) / f : NAN, eta, sizeof eta));
  emit(p, f, text, done >= total);
}

void gm_cli_progress_end(gm_cli_progress *p) {
  if (p->open_line) {
    fputc('\n', p->out);
    fflush(p->out);
  }
  p->open_line = 0;
}
