/* SVG line charts with axes, ticks, labels and a legend. See svg.h. */
#include "svg.h"

#include <math.h>
#include <string.h>

/* Space around the plot area inside a panel, in pixels. */
#define PAD_LEFT 64.0
#define PAD_RIGHT 14.0
#define PAD_TOP 30.0
#define PAD_BOTTOM 46.0
/* More points than this in one series are thinned to every k-th. */
#define MAX_POINTS 1500

void gm_cli_svg_escape(FILE *f, const char *s) {
  for (; s && *s; s++) {
    switch (*s) {
    case '&': fputs("&amp;", f); break;
    case '<': fputs("&lt;", f); break;
    case '>': fputs("&gt;", f); break;
    case '"': fputs("&quot;", f); break;
    default: fputc(*s, f);
    }
  }
}

void gm_cli_svg_begin(FILE *f, double width, double height) {
  fprintf(f,
          "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
          "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n"
          "<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n",
          width, height, width, height);
}

void gm_cli_svg_end(FILE *f) { fputs("</svg>\n", f); }

int gm_cli_svg_ticks_linear(double lo, double hi, double *ticks, int max) {
  if (!(hi > lo) || !isfinite(lo) || !isfinite(hi) || max <= 0) return 0;
  double raw = (hi - lo) / 5, mag = pow(10, floor(log10(raw))), norm = raw / mag;
  double step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  int n = 0;
  for (double v = ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9 && n < max; v += step)
    ticks[n++] = fabs(v) < step * 1e-9 ? 0 : v;
  return n;
}

int gm_cli_svg_ticks_log(double lo, double hi, double *ticks, int max) {
  if (!(lo > 0) || !(hi > lo) || !isfinite(hi) || max <= 0) return 0;
  int d0 = (int)floor(log10(lo)), d1 = (int)ceil(log10(hi));
  static const double all[] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, some[] = {1, 2, 5}, one[] = {1};
  const double *ms[] = {one, some, all};
  const int counts[] = {1, 3, 9};
  /* the coarsest set that puts at least three ticks inside, at most 8 */
  int best = 0, n = 0;
  for (int level = 0; level < 3; level++) {
    int k = 0;
    for (int d = d0; d <= d1; d++)
      for (int i = 0; i < counts[level]; i++) {
        double v = ms[level][i] * pow(10, d);
        if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) k++;
      }
    best = level;
    if (k >= 3 && (k <= 8 || level == 0)) break;
  }
  for (int d = d0; d <= d1; d++)
    for (int i = 0; i < counts[best] && n < max; i++) {
      double v = ms[best][i] * pow(10, d);
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) ticks[n++] = v;
    }
  return n;
}

static void fmt_tick(char *buf, size_t n, double v) {
  if (v == 0) snprintf(buf, n, "0");
  else if (fabs(v) >= 1e4 || fabs(v) < 1e-3) snprintf(buf, n, "%.0e", v);
  else snprintf(buf, n, "%.4g", v);
}

typedef struct frame {
  double px0, py0, pw, ph; /* the plot area */
  double x0, x1, y0, y1;   /* data range (y in log10 when log) */
  int log;
} frame;

static double map_x(const frame *fr, double x) {
  return fr->px0 + (x - fr->x0) / (fr->x1 - fr->x0) * fr->pw;
}

static double map_y(const frame *fr, double y) {
  double v = fr->log ? log10(y) : y;
  return fr->py0 + fr->ph - (v - fr->y0) / (fr->y1 - fr->y0) * fr->ph;
}

static int usable(const frame *fr, double x, double y) {
  return isfinite(x) && isfinite(y) && (!fr->log || y > 0);
}

/* The data's ranges; returns 0 when no point is usable. */
static int data_range(const gm_cli_svg_chart *c, double *xlo, double *xhi, double *ylo, double *yhi,
                      int positive_only) {
  int any = 0;
  *xlo = *ylo = INFINITY;
  *xhi = *yhi = -INFINITY;
  for (int s = 0; s < c->n_series; s++)
    for (int i = 0; i < c->series[s].n; i++) {
      double x = c->series[s].x[i], y = c->series[s].y[i];
      if (!isfinite(x) || !isfinite(y) || (positive_only && y <= 0)) continue;
      any = 1;
      if (x < *xlo) *xlo = x;
      if (x > *xhi) *xhi = x;
      if (y < *ylo) *ylo = y;
      if (y > *yhi) *yhi = y;
    }
  return any;
}

static void set_frame(frame *fr, const gm_cli_svg_chart *c, int *has_data) {
  fr->px0 = c->left + PAD_LEFT;
  fr->py0 = c->top + PAD_TOP;
  fr->pw = c->width - PAD_LEFT - PAD_RIGHT;
  fr->ph = c->height - PAD_TOP - PAD_BOTTOM;
  double xlo, xhi, ylo, yhi;
  *has_data = data_range(c, &xlo, &xhi, &ylo, &yhi, 0);
  fr->log = c->log_y == 1;
  if (*has_data && c->log_y == -1) {
    double plo, phi, qlo, qhi;
    if (data_range(c, &plo, &phi, &qlo, &qhi, 1) && qhi > 4 * qlo) fr->log = 1;
  }
  if (fr->log) *has_data = data_range(c, &xlo, &xhi, &ylo, &yhi, 1);
  if (!*has_data) {
    xlo = 0, xhi = 1, ylo = fr->log ? 0.1 : 0, yhi = 1;
  }
  if (c->x_max > c->x_min) {
    xlo = c->x_min;
    xhi = c->x_max;
  } else if (xlo >= 0) {
    xlo = 0;
  }
  if (!(xhi > xlo)) xhi = xlo + 1;
  fr->x0 = xlo;
  fr->x1 = xhi;
  if (fr->log) {
    ylo = log10(ylo);
    yhi = log10(yhi);
  }
  double pad = (yhi - ylo) * 0.05;
  if (!(pad > 0)) pad = fr->log ? 0.1 : (fabs(yhi) > 0 ? fabs(yhi) * 0.1 : 1);
  fr->y0 = ylo - pad;
  fr->y1 = yhi + pad;
}

static void axes(FILE *f, const frame *fr, const gm_cli_svg_chart *c) {
  double ticks[64];
  char label[32];
  int n = gm_cli_svg_ticks_linear(fr->x0, fr->x1, ticks, 64);
  for (int i = 0; i < n; i++) {
    double x = map_x(fr, ticks[i]);
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>\n", x,
            fr->py0, x, fr->py0 + fr->ph);
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n", x,
            fr->py0 + fr->ph, x, fr->py0 + fr->ph + 5);
    fmt_tick(label, sizeof label, ticks[i]);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", x,
            fr->py0 + fr->ph + 18, label);
  }
  n = fr->log ? gm_cli_svg_ticks_log(pow(10, fr->y0), pow(10, fr->y1), ticks, 64)
              : gm_cli_svg_ticks_linear(fr->y0, fr->y1, ticks, 64);
  for (int i = 0; i < n; i++) {
    double y = map_y(fr, ticks[i]);
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>\n",
            fr->px0, y, fr->px0 + fr->pw, y);
    fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n",
            fr->px0 - 5, y, fr->px0, y);
    fmt_tick(label, sizeof label, ticks[i]);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", fr->px0 - 8, y + 4,
            label);
  }
  fprintf(f,
          "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
          "stroke=\"#333\"/>\n",
          fr->px0, fr->py0, fr->pw, fr->ph);
  if (c->x_label) {
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", fr->px0 + fr->pw / 2,
            c->top + c->height - 8);
    gm_cli_svg_escape(f, c->x_label);
    fputs("</text>\n", f);
  }
  if (c->y_label) {
    double x = c->left + 14, y = fr->py0 + fr->ph / 2;
    fprintf(f,
            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
            "transform=\"rotate(-90 %.1f %.1f)\">",
            x, y, x, y);
    gm_cli_svg_escape(f, c->y_label);
    if (fr->log) fputs(" (log scale)", f);
    fputs("</text>\n", f);
  }
  if (c->title) {
    fprintf(f,
            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"14\" "
            "font-weight=\"bold\">",
            c->left + c->width / 2, c->top + 18);
    gm_cli_svg_escape(f, c->title);
    fputs("</text>\n", f);
  }
}

static void line(FILE *f, const frame *fr, const gm_cli_svg_series *s) {
  int stride = s->n > MAX_POINTS ? (s->n + MAX_POINTS - 1) / MAX_POINTS : 1, open = 0;
  for (int i = 0; i < s->n; i += stride) {
    if (!usable(fr, s->x[i], s->y[i])) {
      if (open) fputs("\"/>\n", f);
      open = 0;
      continue;
    }
    if (!open)
      fprintf(f,
              "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%.2f\" "
              "stroke-opacity=\"%.2f\" stroke-linejoin=\"round\" points=\"",
              s->colour, s->width, s->opacity);
    fprintf(f, "%s%.1f,%.1f", open ? " " : "", map_x(fr, s->x[i]), map_y(fr, s->y[i]));
    open = 1;
  }
  if (open) fputs("\"/>\n", f);
}

static void legend(FILE *f, const frame *fr, const gm_cli_svg_chart *c) {
  int k = 0;
  for (int s = 0; s < c->n_series; s++) {
    const gm_cli_svg_series *se = &c->series[s];
    if (!se->label) continue;
    double x = fr->px0 + fr->pw - 180, y = fr->py0 + 14 + 16 * k++;
    fprintf(f,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
            "stroke-width=\"%.2f\" stroke-opacity=\"%.2f\"/>\n",
            x, y - 4, x + 22, y - 4, se->colour, se->width < 2 ? 2 : se->width,
            se->opacity < 0.5 ? 0.5 : se->opacity);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">", x + 28, y);
    gm_cli_svg_escape(f, se->label);
    fputs("</text>\n", f);
  }
}

void gm_cli_svg_chart_write(FILE *f, const gm_cli_svg_chart *c) {
  frame fr;
  int has_data;
  set_frame(&fr, c, &has_data);
  fputs("<g>\n", f);
  axes(f, &fr, c);
  if (!has_data) {
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" fill=\"#777\">",
            fr.px0 + fr.pw / 2, fr.py0 + fr.ph / 2);
    gm_cli_svg_escape(f, c->empty_text ? c->empty_text : "no data");
    fputs("</text>\n", f);
  } else {
    fprintf(f,
            "<svg x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
            "viewBox=\"%.1f %.1f %.1f %.1f\" overflow=\"hidden\">\n",
            fr.px0, fr.py0, fr.pw, fr.ph, fr.px0, fr.py0, fr.pw, fr.ph);
    for (int s = 0; s < c->n_series; s++) line(f, &fr, &c->series[s]);
    fputs("</svg>\n", f);
    legend(f, &fr, c);
  }
  fputs("</g>\n", f);
}
