/* Progress on stderr for long commands: on a terminal a bar redrawn in place (step/total,
 * smoothed loss, images/s, ETA); otherwise a plain line every few seconds, so that logs
 * stay readable. Callbacks fit gm_train_config.progress and gm_sample_options.progress. */
#ifndef GM_CLI_PROGRESS_H
#define GM_CLI_PROGRESS_H

#include <stdio.h>

#include "cli.h"

typedef struct gm_cli_progress {
  FILE *out;
  int tty;             /* redraw in place */
  int quiet;           /* print nothing */
  const char *label;   /* "train", "sample" */
  double start;        /* when the first report came */
  double last;         /* when a line was last printed */
  double interval;     /* seconds between plain lines (0.1 s on a terminal) */
  double smooth, weight; /* bias-corrected exponential average of the loss */
  int open_line;       /* a bar is on screen without its newline */
} gm_cli_progress;

/* Reports to stderr; a terminal when stderr is one and TERM is not "dumb". */
void gm_cli_progress_init(gm_cli_progress *p, const char *label, int quiet);
/* gm_train_config.progress */
void gm_cli_progress_train(void *ctx, const gm_train_progress *tp);
/* gm_sample_options.progress: done of total units. */
void gm_cli_progress_units(void *ctx, int64_t done, int64_t total);
/* Ends the bar's line, if one is open. */
void gm_cli_progress_end(gm_cli_progress *p);
/* "1h02m", "3m05s", "12s" into buf. */
const char *gm_cli_duration(double s, char *buf, size_t n);

#endif
