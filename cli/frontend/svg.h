/* Line charts as SVG text, drawn by genmoji itself for its reports: one or more panels in
 * one document, each with its own axes, ticks, labels, a legend and a linear or
 * logarithmic y axis.
 *
 *     gm_cli_svg_series s[] = {{x, y, n, "#1f77b4", 1.0, 0.3, "per step"}, ...};
 *     gm_cli_svg_chart c = {.left = 0, .top = 0, .width = 480, .height = 300, .title = "...",
 *                       .x_label = "minutes", .y_label = "loss", .log_y = -1,
 *                       .series = s, .n_series = 2};
 *     gm_cli_svg_begin(f, 960, 300);
 *     gm_cli_svg_chart_write(f, &c);
 *     gm_cli_svg_end(f);
 */
#ifndef GM_CLI_SVG_H
#define GM_CLI_SVG_H

#include <stdio.h>

typedef struct gm_cli_svg_series {
  const double *x, *y; /* n points; a NaN y breaks the line */
  int n;
  const char *colour; /* "#1f77b4" */
  double width;       /* stroke width */
  double opacity;     /* 0..1 */
  const char *label;  /* legend text; NULL = not in the legend */
} gm_cli_svg_series;

typedef struct gm_cli_svg_chart {
  double left, top, width, height; /* the panel in document coordinates */
  const char *title, *x_label, *y_label;
  int log_y;           /* 1 log, 0 linear, -1 log when the data spans > 4x */
  double x_min, x_max; /* equal: the data's range (from 0 when all >= 0) */
  const gm_cli_svg_series *series;
  int n_series;
  const char *empty_text; /* shown in place of lines when no series has a point */
} gm_cli_svg_chart;

/* The document's opening tag (width x height pixels, white background). */
void gm_cli_svg_begin(FILE *f, double width, double height);
/* One panel as a <g> element. */
void gm_cli_svg_chart_write(FILE *f, const gm_cli_svg_chart *c);
void gm_cli_svg_end(FILE *f);

/* Writes s with &, <, > and " escaped for XML/HTML text and attributes. */
void gm_cli_svg_escape(FILE *f, const char *s);

/* "Nice" tick values (1, 2 or 5 times a power of ten apart) covering [lo, hi]; returns
 * how many were written to ticks (at most max). */
int gm_cli_svg_ticks_linear(double lo, double hi, double *ticks, int max);
/* Ticks inside [lo, hi] (lo > 0) from the coarsest of these sets that gives three to eight
 * of them: powers of ten; 1, 2 and 5 times powers of ten; 1 to 9 times powers of ten (a
 * narrow range may get fewer than three). */
int gm_cli_svg_ticks_log(double lo, double hi, double *ticks, int max);

#endif
