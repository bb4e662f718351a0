/* The op list against the public headers and against the op suites: every GM_API function
 * of engine/include/genmoji/ops_*.h is in support/op_list.h and every entry there is
 * one of them, and every listed op has a passing case in some test_ops_* suite, as those
 * suites recorded it in GMT_OP_COVERAGE_DIR (ctest runs them first: a fixture). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"

/* Taking each listed op's address: an entry that names no function does not compile. */
#define GMT_OP(name) #name,
static const char *const listed[] = {
#include "op_list.h"
};
#undef GMT_OP
#define GMT_OP(name) (void *)&name,
static void *const listed_fns[] = {
#include "op_list.h"
};
#undef GMT_OP

enum { N_LISTED = sizeof listed / sizeof *listed, MAX_NAMES = 256 };

typedef struct names {
  char *v[MAX_NAMES];
  int n;
} names;

static int has(const names *s, const char *name) {
  for (int i = 0; i < s->n; i++)
    if (strcmp(s->v[i], name) == 0) return 1;
  return 0;
}

static void add(names *s, const char *name, size_t len) {
  char *c = malloc(len + 1);
  memcpy(c, name, len);
  c[len] = '\0';
  if (has(s, c) || s->n == MAX_NAMES) {
    free(c);
    return;
  }
  s->v[s->n++] = c;
}

static void names_free(names *s) {
  for (int i = 0; i < s->n; i++) free(s->v[i]);
  s->n = 0;
}

/* The function declared by each "GM_API" of text: the first gm_ name followed by '('. */
static void scan_header(names *s, const char *text) {
  for (const char *p = strstr(text, "GM_API"); p; p = strstr(p + 6, "GM_API")) {
    for (const char *q = strstr(p, "gm_"); q; q = strstr(q + 1, "gm_")) {
      size_t len = strspn(q, "abcdefghijklmnopqrstuvwxyz0123456789_");
      if (q[len] == '(') {
        add(s, q, len);
        break;
      }
    }
  }
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)n + 1);
  size_t got = fread(b, 1, (size_t)n, f);
  b[got] = '\0';
  fclose(f);
  return b;
}

#define OPS_HEADERS GM_TEST_SOURCE_DIR "/../engine/include/genmoji"

static names public_ops(void) {
  names s = {0};
  DIR *d = opendir(OPS_HEADERS);
  ck_assert_msg(d != NULL, "cannot list %s", OPS_HEADERS);
  int headers = 0;
  for (struct dirent *e; (e = readdir(d));) {
    size_t len = strlen(e->d_name);
    if (strncmp(e->d_name, "ops", 3) != 0 || len < 3 || strcmp(e->d_name + len - 2, ".h"))
      continue;
    char path[1400];
    snprintf(path, sizeof path, "%s/%s", OPS_HEADERS, e->d_name);
    char *text = slurp(path);
    ck_assert_msg(text != NULL, "cannot read %s", path);
    scan_header(&s, text);
    free(text);
    headers++;
  }
  closedir(d);
  ck_assert_msg(headers >= 10, "only %d ops*.h headers in %s", headers, OPS_HEADERS);
  return s;
}

START_TEST(every_public_op_function_is_in_the_op_list_and_back) {
  for (int i = 0; i < N_LISTED; i++) ck_assert_ptr_nonnull(listed_fns[i]);
  names pub = public_ops(), list = {0};
  for (int i = 0; i < N_LISTED; i++) add(&list, listed[i], strlen(listed[i]));
  ck_assert_msg(list.n == N_LISTED, "op_list.h names an op twice");
  int bad = 0;
  for (int i = 0; i < pub.n; i++)
    if (!has(&list, pub.v[i])) {
      fprintf(stderr, "%s is declared in %s but missing from tests/support/op_list.h\n",
              pub.v[i], OPS_HEADERS);
      bad++;
    }
  for (int i = 0; i < list.n; i++)
    if (!has(&pub, list.v[i])) {
      fprintf(stderr, "%s is in tests/support/op_list.h but no GM_API of %s/ops*.h\n",
              list.v[i], OPS_HEADERS);
      bad++;
    }
  ck_assert_msg(bad == 0, "%d op(s) differ between the headers and op_list.h (see stderr)",
                bad);
  names_free(&pub);
  names_free(&list);
}
END_TEST

/* GMT_OP_SUITES: the test_ops_* programs, comma-separated (tests/CMakeLists.txt). */
START_TEST(every_listed_op_has_a_passing_case) {
  names covered = {0};
  char suites[] = GMT_OP_SUITES;
  int bad = 0;
  for (char *save = NULL, *s = strtok_r(suites, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
    char path[1400];
    snprintf(path, sizeof path, "%s/%s.ops", GMT_OP_COVERAGE_DIR, s);
    char *text = slurp(path);
    if (!text) {
      fprintf(stderr, "%s: no %s (the suite covered nothing, or did not run first)\n", s, path);
      bad++;
      continue;
    }
    for (char *save2 = NULL, *l = strtok_r(text, "\n", &save2); l; l = strtok_r(NULL, "\n", &save2))
      add(&covered, l, strlen(l));
    free(text);
  }
  for (int i = 0; i < N_LISTED; i++)
    if (!has(&covered, listed[i])) {
      fprintf(stderr, "%s has no passing op case in any test_ops_* suite\n", listed[i]);
      bad++;
    }
  ck_assert_msg(bad == 0, "%d op(s) or suite(s) without coverage (see stderr)", bad);
  names_free(&covered);
}
END_TEST

int main(void) {
  Suite *s = suite_create("op_coverage");
  TCase *tc = tcase_create("op_coverage");
  tcase_add_test(tc, every_public_op_function_is_in_the_op_list_and_back);
  tcase_add_test(tc, every_listed_op_has_a_passing_case);
  suite_add_tcase(s, tc);
  return gmt_run(s);
}
