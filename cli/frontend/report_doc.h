/* Documents described once and written twice, as self-contained HTML and as Markdown (the
 * report of `genmoji compare`), and text files written atomically: to a temporary name
 * beside the target, then renamed over it, so a reader never sees half a file.
 *
 *     gm_cli_file o;
 *     gm_cli_file_open(&o, "out/index.html", &err);
 *     gm_cli_doc d = {.f = o.f, .html = 1};
 *     gm_cli_doc_heading(&d, 2, "Samples");
 *     gm_cli_doc_para(&d, NULL, "%d images with `%s`.", n, sampler);   // `x` is code
 *     gm_cli_doc_table_begin(&d, "metrics");
 *     gm_cli_doc_row(&d, 1, "\tPixelCNN\tDDPM");                       // cells split by \t
 *     gm_cli_doc_table_end(&d);
 *     gm_cli_file_close(&o, &err);
 */
#ifndef GM_CLI_REPORT_DOC_H
#define GM_CLI_REPORT_DOC_H

#include <stdio.h>

#include "cli.h"

typedef struct gm_cli_file {
  FILE *f;
  char path[4400], tmp[4500];
} gm_cli_file;

/* Opens path.tmp-<pid> for writing. */
int gm_cli_file_open(gm_cli_file *o, const char *path, gm_error *err);
/* Closes and renames it over path; on a write error removes it and leaves path alone. */
int gm_cli_file_close(gm_cli_file *o, gm_error *err);

typedef struct gm_cli_doc {
  FILE *f;
  int html;  /* 1 HTML, 0 Markdown */
  int cells; /* columns of the table being written */
} gm_cli_doc;

/* Text with `code` spans, escaped for the format (cell = 1 inside a table cell). */
void gm_cli_doc_text(gm_cli_doc *d, const char *s, int cell);
void gm_cli_doc_heading(gm_cli_doc *d, int level, const char *s);
/* A paragraph; cls is its HTML class ("note", "ok", "small") or NULL. */
void gm_cli_doc_para(gm_cli_doc *d, const char *cls, const char *fmt, ...) GM_PRINTF(3, 4);
void gm_cli_doc_para_begin(gm_cli_doc *d, const char *cls);
void gm_cli_doc_para_end(gm_cli_doc *d);
/* Preformatted text (a command line). */
void gm_cli_doc_pre(gm_cli_doc *d, const char *s);
/* An image beside the document, with alt text and a caption; pixelated keeps pixel art
 * sharp when the browser scales it. */
void gm_cli_doc_figure(gm_cli_doc *d, const char *src, const char *alt, const char *caption,
                       int pixelated);
/* Side-by-side columns in HTML; one after the other in Markdown. */
void gm_cli_doc_columns_begin(gm_cli_doc *d);
void gm_cli_doc_column_begin(gm_cli_doc *d);
void gm_cli_doc_column_end(gm_cli_doc *d);
void gm_cli_doc_columns_end(gm_cli_doc *d);
/* Tables: rows of '\t'-separated cells; the first row (header = 1) names the columns, the
 * first cell of every row names the row. */
void gm_cli_doc_table_begin(gm_cli_doc *d, const char *cls);
void gm_cli_doc_row(gm_cli_doc *d, int header, const char *cells);
void gm_cli_doc_rowf(gm_cli_doc *d, int header, const char *fmt, ...) GM_PRINTF(3, 4);
/* A row across the whole table holding a section title. */
void gm_cli_doc_section_row(gm_cli_doc *d, const char *title);
void gm_cli_doc_table_end(gm_cli_doc *d);

#endif
