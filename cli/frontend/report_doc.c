/* One description of a document, written as HTML and as Markdown, and text files written
 * atomically. See report_doc.h. */
#define _POSIX_C_SOURCE 200809L
#include "report_doc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "svg.h"

int gm_cli_file_open(gm_cli_file *o, const char *path, gm_error *err) {
  snprintf(o->path, sizeof o->path, "%s", path);
  snprintf(o->tmp, sizeof o->tmp, "%s.tmp-%ld", o->path, (long)getpid());
  if (!(o->f = fopen(o->tmp, "w")))
    return gm_error_set(err, GM_EIO, "%s: cannot write: %s", o->tmp, strerror(errno));
  return 0;
}

int gm_cli_file_close(gm_cli_file *o, gm_error *err) {
  int bad = ferror(o->f);
  if (fclose(o->f) != 0) bad = 1;
  if (bad || rename(o->tmp, o->path) != 0) {
    int e = errno;
    remove(o->tmp);
    return gm_error_set(err, GM_EIO, "%s: cannot write: %s", o->path, strerror(e));
  }
  return 0;
}

/* Text with `code` spans: escaped for HTML (with <code>), kept for Markdown (with | in
 * table cells escaped). */
void gm_cli_doc_text(gm_cli_doc *d, const char *s, int cell) {
  int code = 0;
  for (; *s; s++) {
    if (*s == '`') {
      code = !code;
      if (d->html) fputs(code ? "<code>" : "</code>", d->f);
      else fputc('`', d->f);
      continue;
    }
    if (d->html) {
      char c[2] = {*s, 0};
      gm_cli_svg_escape(d->f, c);
    } else if (cell && *s == '|') {
      fputs("\\|", d->f);
    } else if (cell && *s == '\n') {
      fputc(' ', d->f);
    } else {
      fputc(*s, d->f);
    }
  }
}

void gm_cli_doc_heading(gm_cli_doc *d, int level, const char *s) {
  if (d->html) fprintf(d->f, "<h%d>", level);
  else fprintf(d->f, "\n%.*s ", level, "######");
  gm_cli_doc_text(d, s, 0);
  fputs(d->html ? "</h" : "\n", d->f);
  if (d->html) fprintf(d->f, "%d>\n", level);
}

void gm_cli_doc_para_begin(gm_cli_doc *d, const char *cls) {
  if (d->html) fprintf(d->f, cls ? "<p class=\"%s\">" : "<p>", cls);
  else fputc('\n', d->f);
}

void gm_cli_doc_para_end(gm_cli_doc *d) { fputs(d->html ? "</p>\n" : "\n", d->f); }

void gm_cli_doc_para(gm_cli_doc *d, const char *cls, const char *fmt, ...) {
  char buf[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  gm_cli_doc_para_begin(d, cls);
  gm_cli_doc_text(d, buf, 0);
  gm_cli_doc_para_end(d);
}

void gm_cli_doc_pre(gm_cli_doc *d, const char *s) {
  fputs(d->html ? "<pre>" : "\n```\n", d->f);
  if (d->html) gm_cli_svg_escape(d->f, s);
  else fputs(s, d->f);
  fputs(d->html ? "</pre>\n" : "\n```\n", d->f);
}

/* An image beside the report with a caption; in HTML, `pixelated` keeps pixel art sharp. */
void gm_cli_doc_figure(gm_cli_doc *d, const char *src, const char *alt, const char *caption,
                       int pixelated) {
  if (d->html) {
    fputs("<figure><img src=\"", d->f);
    gm_cli_svg_escape(d->f, src);
    fputs("\" alt=\"", d->f);
    gm_cli_svg_escape(d->f, alt);
    fprintf(d->f, "\"%s><figcaption>", pixelated ? " class=\"px\"" : "");
    gm_cli_doc_text(d, caption, 0);
    fputs("</figcaption></figure>\n", d->f);
  } else {
    fprintf(d->f, "\n![%s](%s)\n\n", alt, src);
    gm_cli_doc_text(d, caption, 0);
    fputc('\n', d->f);
  }
}

void gm_cli_doc_columns_begin(gm_cli_doc *d) {
  if (d->html) fputs("<div class=\"cols\">\n", d->f);
}
void gm_cli_doc_column_begin(gm_cli_doc *d) {
  if (d->html) fputs("<div>\n", d->f);
}
void gm_cli_doc_column_end(gm_cli_doc *d) {
  if (d->html) fputs("</div>\n", d->f);
}
void gm_cli_doc_columns_end(gm_cli_doc *d) {
  if (d->html) fputs("</div>\n", d->f);
}

/* A table row: cells separated by '\t' in one string; header = 1 for the first row. */
void gm_cli_doc_row(gm_cli_doc *d, int header, const char *cells) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", cells);
  int n = 0;
  if (d->html) fputs("<tr>", d->f);
  else fputs("|", d->f);
  for (char *c = buf, *next; c; c = next, n++) {
    next = strchr(c, '\t');
    if (next) *next++ = '\0';
    if (d->html) fputs(header ? "<th>" : n == 0 ? "<th scope=\"row\">" : "<td>", d->f);
    else fputc(' ', d->f);
    gm_cli_doc_text(d, c, 1);
    if (d->html) fputs(header || n == 0 ? "</th>" : "</td>", d->f);
    else fputs(" |", d->f);
  }
  fputs(d->html ? "</tr>\n" : "\n", d->f);
  if (header && !d->html) {
    fputs("|", d->f);
    for (int i = 0; i < n; i++) fputs(i == 0 || i == n - 1 ? " --- |" : " ---: |", d->f);
    fputc('\n', d->f);
  }
  d->cells = n;
}

void gm_cli_doc_rowf(gm_cli_doc *d, int header, const char *fmt, ...) {
  char buf[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  gm_cli_doc_row(d, header, buf);
}

void gm_cli_doc_table_begin(gm_cli_doc *d, const char *cls) {
  if (d->html) fprintf(d->f, "<table class=\"%s\">\n", cls);
  else fputc('\n', d->f);
}
void gm_cli_doc_table_end(gm_cli_doc *d) {
  if (d->html) fputs("</table>\n", d->f);
}
/* A row spanning the table: a section title inside it. */
void gm_cli_doc_section_row(gm_cli_doc *d, const char *title) {
  if (d->html) {
    fprintf(d->f, "<tr class=\"sec\"><th colspan=\"%d\">", d->cells ? d->cells : 4);
    gm_cli_doc_text(d, title, 1);
    fputs("</th></tr>\n", d->f);
  } else {
    fputs("| **", d->f);
    gm_cli_doc_text(d, title, 1);
    fputs("** |", d->f);
    for (int i = 1; i < d->cells; i++) fputs(" |", d->f);
    fputc('\n', d->f);
  }
}
