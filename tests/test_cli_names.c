/* The front-end knows no model: no C string literal under cli/ is the name of a model
 * plugin or of one of a model plugin's options (every model plugin of the build, as the
 * host loads them), so that a new model takes part in every command, compare included,
 * without a change to the front-end. Allowed, because they name something else that
 * happens to share the word: the default list of compared models (GM_CMP_DEFAULT_MODELS,
 * a literal that holds several names), the name of a command-line flag in a getopt table
 * ({"size", required_argument, ...}) and a JSON key (the second argument of a cJSON_Add*
 * call). Comments are skipped. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clitest.h"
#include "testlib.h"

#define MAX_WORDS 512

typedef struct words {
  const char *w[MAX_WORDS];
  const char *why[MAX_WORDS];
  int n;
} words;

static void add(words *ws, const char *w, const char *why) {
  for (int i = 0; i < ws->n; i++)
    if (strcmp(ws->w[i], w) == 0) return;
  ck_assert_int_lt(ws->n, MAX_WORDS);
  ws->w[ws->n] = w;
  ws->why[ws->n++] = why;
}

/* Every model plugin's name and option names; the strings belong to *reg. */
static int collect(words *ws, gm_registry **reg) {
  gm_error err = {0};
  gmt_ok(gm_registry_create(reg, NULL, 0, &err), &err);
  int models = 0;
  for (int i = 0; i < gm_registry_count(*reg); i++) {
    const gm_plugin_record *r = gm_registry_record(*reg, i);
    if (!r->plugin || strcmp(r->kind, GM_PLUGIN_KIND_MODEL) != 0) continue;
    const gm_model_vtable *vt = r->vtable;
    add(ws, r->name, "a model plugin's name");
    for (const gm_model_option *o = vt->options; o && o->name; o++)
      add(ws, o->name, "a model option's name");
    models++;
  }
  return models;
}

/* The literal at s[0] == '"' ends at the returned pointer (after the closing quote); its
 * text without escapes processed goes to buf. */
static const char *literal(const char *s, char *buf, size_t n) {
  size_t k = 0;
  const char *p = s + 1;
  for (; *p && *p != '"'; p++) {
    if (*p == '\\' && p[1]) {
      if (k + 2 < n) buf[k++] = *p;
      p++;
    }
    if (k + 1 < n) buf[k++] = *p;
  }
  buf[k] = '\0';
  return *p ? p + 1 : p;
}

static int allowed(const char *text, const char *start, const char *end) {
  /* a getopt table's flag name: {"size", required_argument, ... */
  const char *q = end;
  while (*q == ' ') q++;
  if (*q == ',') {
    q++;
    while (*q == ' ') q++;
    if (!strncmp(q, "required_argument", 17) || !strncmp(q, "no_argument", 11) ||
        !strncmp(q, "optional_argument", 17))
      return 1;
  }
  /* a JSON key: cJSON_Add...(obj, "key", ...) on the same line */
  const char *line = start;
  while (line > text && line[-1] != '\n') line--;
  const char *call = NULL;
  for (const char *c = line; c < start; c++)
    if (!strncmp(c, "cJSON_Add", 9)) call = c;
  if (call && start - 2 >= call && start[-1] == ' ' && start[-2] == ',') {
    int commas = 0;
    for (const char *c = call; c < start; c++) commas += *c == ',';
    if (commas == 1) return 1;
  }
  return 0;
}

static int line_of(const char *text, const char *p) {
  int l = 1;
  for (const char *c = text; c < p; c++) l += *c == '\n';
  return l;
}

static int scan_file(const char *path, const words *ws, char *report, size_t cap) {
  char *text = gmt_slurp(path, NULL);
  ck_assert_msg(text, "cannot read %s", path);
  int bad = 0;
  char lit[512];
  for (const char *p = text; *p;) {
    if (p[0] == '/' && p[1] == '*') {
      const char *e = strstr(p + 2, "*/");
      p = e ? e + 2 : p + strlen(p);
    } else if (p[0] == '/' && p[1] == '/') {
      while (*p && *p != '\n') p++;
    } else if (p[0] == '\'') { /* a character constant, perhaps '"' */
      p++;
      if (*p == '\\') p++;
      if (*p) p++;
      if (*p == '\'') p++;
    } else if (p[0] == '"') {
      const char *end = literal(p, lit, sizeof lit);
      for (int i = 0; i < ws->n; i++)
        if (strcmp(lit, ws->w[i]) == 0 && !allowed(text, p, end)) {
          size_t used = strlen(report);
          snprintf(report + used, cap - used, "%s:%d: \"%s\" is %s\n", path, line_of(text, p), lit,
                   ws->why[i]);
          bad++;
        }
      p = end;
    } else {
      p++;
    }
  }
  free(text);
  return bad;
}

static int scan_dir(const char *dir, const words *ws, char *report, size_t cap, int *files) {
  DIR *d = opendir(dir);
  ck_assert_msg(d, "cannot open %s", dir);
  int bad = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    struct stat st;
    if (stat(path, &st)) continue;
    size_t n = strlen(e->d_name);
    if (S_ISDIR(st.st_mode)) bad += scan_dir(path, ws, report, cap, files);
    else if (n > 2 && (!strcmp(e->d_name + n - 2, ".c") || !strcmp(e->d_name + n - 2, ".h"))) {
      bad += scan_file(path, ws, report, cap);
      ++*files;
    }
  }
  closedir(d);
  return bad;
}

START_TEST(no_literal_under_cli_names_a_model_or_a_model_option) {
  static words ws;
  ws.n = 0;
  gm_registry *reg = NULL;
  int models = collect(&ws, &reg);
  ck_assert_msg(models >= 2, "only %d model plugins found", models);
  static char report[1 << 16];
  report[0] = '\0';
  int files = 0;
  int bad = scan_dir(GM_TEST_SOURCE_DIR "/../cli", &ws, report, sizeof report, &files);
  ck_assert_msg(files > 20, "only %d source files under cli/", files);
  gm_registry_destroy(reg);
  ck_assert_msg(bad == 0, "%d literals name a model or a model option:\n%s", bad, report);
}
END_TEST

/* The scanner finds what it is there to find: a made-up file with each kind of literal. */
START_TEST(the_scanner_finds_a_model_name_and_an_option_name) {
  static words ws;
  ws.n = 0;
  add(&ws, "pixelcnn", "a model plugin's name");
  add(&ws, "size", "a model option's name");
  char path[4096];
  snprintf(path, sizeof path, "%s/probe.c", gmt_tmpdir());
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fputs("/* \"pixelcnn\" in a comment */\n"
        "static const struct option o[] = {{\"size\", required_argument, NULL, 1}};\n"
        "void f(cJSON *j) { cJSON_AddNumberToObject(j, \"size\", 3); }\n"
        "int g(const char *m) { return strcmp(m, \"pixelcnn\") == 0; }\n"
        "const char *h(void) { return gm_kv_get(kv, n, \"size\"); }\n"
        "char q = '\"'; const char *s = \"pixelcnn,ddpm\";\n",
        f);
  fclose(f);
  static char report[4096];
  report[0] = '\0';
  int bad = scan_file(path, &ws, report, sizeof report);
  ck_assert_msg(bad == 2, "want the strcmp and the gm_kv_get lines, got %d:\n%s", bad, report);
  ck_assert(strstr(report, "probe.c:4:") && strstr(report, "probe.c:5:"));
}
END_TEST

static Suite *make_suite(void) {
  Suite *s = suite_create("cli_names");
  TCase *tc = tcase_create("cli_names");
  tcase_add_test(tc, no_literal_under_cli_names_a_model_or_a_model_option);
  tcase_add_test(tc, the_scanner_finds_a_model_name_and_an_option_name);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return gmt_run(make_suite()); }
