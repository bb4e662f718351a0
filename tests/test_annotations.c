/* CLDR annotations: the system's English files when installed, small fixtures for the
 * merge rules, broken files refused with file, line and problem, and the text an image
 * gets from them. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "genmoji/annotations.h"
#include "testlib.h"

#define CLDR_BASE GM_CLDR_DIR_DEFAULT "/annotations/en.xml"

/* Writes text to DIR/name (DIR a fresh temporary folder per call, sub-folders made). */
static const char *fixture(const char *name, const char *text) {
  static char path[1400];
  snprintf(path, sizeof path, "%s/%s", gmt_tmpdir(), name);
  for (char *p = path + strlen(gmt_tmpdir()) + 1; *p; p++)
    if (*p == '/') {
      *p = '\0';
      mkdir(path, 0755);
      *p = '/';
    }
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
  return path;
}

#define HEAD "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<ldml>\n<identity/>\n<annotations>\n"
#define TAIL "</annotations>\n</ldml>\n"

static gm_emoji_annotations *load_one(const char *path) {
  gm_error err = {0};
  gm_emoji_annotations *a = NULL;
  gmt_ok(gm_emoji_annotations_load_files(&a, &path, 1, &err), &err);
  return a;
}

static const gm_emoji_annotation *find(const gm_emoji_annotations *a, int n, ...) {
  uint32_t cps[GM_MAX_CODEPOINTS];
  va_list ap;
  va_start(ap, n);
  for (int i = 0; i < n; i++) cps[i] = va_arg(ap, unsigned);
  va_end(ap);
  return gm_emoji_annotations_lookup(a, cps, n);
}

START_TEST(system_files_give_keywords_and_names) {
  if (!gmt_require_file(__func__, CLDR_BASE, "unicode-cldr-core")) return;
  gm_error err = {0};
  gm_emoji_annotations *a;
  gmt_ok(gm_emoji_annotations_load(&a, NULL, &err), &err);
  ck_assert_int_gt(gm_emoji_annotations_count(a), 3000);
  const gm_emoji_annotation *e = find(a, 1, 0x1F609u);  /* winking face */
  ck_assert_ptr_nonnull(e);
  ck_assert_str_eq(e->keywords, "face | wink | winking face");
  ck_assert_str_eq(e->name, "winking face");
  /* U+263A U+FE0F: CLDR lists it without the variation selector */
  e = find(a, 2, 0x263Au, 0xFE0Fu);
  ck_assert_ptr_nonnull(e);
  ck_assert_str_eq(e->name, "smiling face");
  /* a derived sequence: thumbs up with a medium skin tone */
  e = find(a, 2, 0x1F44Du, 0x1F3FDu);
  ck_assert_ptr_nonnull(e);
  ck_assert_ptr_nonnull(strstr(e->keywords, "medium skin tone"));
  ck_assert_str_eq(e->name, "thumbs up: medium skin tone");
  ck_assert_ptr_null(find(a, 1, 0xE000u));
  /* entries are in codepoint order, each found by its own sequence */
  for (int i = 0; i < gm_emoji_annotations_count(a); i++) {
    const gm_emoji_annotation *x = gm_emoji_annotations_at(a, i);
    ck_assert_ptr_eq(gm_emoji_annotations_lookup(a, x->codepoints, x->n_codepoints), x);
  }
  gm_emoji_annotations_destroy(a);
}
END_TEST

START_TEST(fields_merge_per_sequence_and_the_earlier_file_wins) {
  const char *one = fixture("one.xml", HEAD
      "<annotation cp=\"😉\">face | wink | winking face</annotation>\n"
      "<annotation cp=\"😉\" type=\"tts\">winking face</annotation>\n"
      "<annotation cp=\"☺\">face | outlined | relaxed | smile</annotation>\n"
      "<annotation cp=\"🐱\" type=\"tts\">  cat face\n</annotation>\n"
      "<annotation cp=\"&#x1F638;\" type=\"tts\">grinning cat &amp; smiling eyes</annotation>\n"
      TAIL);
  static char one_path[1400];
  snprintf(one_path, sizeof one_path, "%s", one);
  const char *two = fixture("two.xml", HEAD
      "<annotation cp=\"😉\">other | words</annotation>\n"
      "<annotation cp=\"☺\" type=\"tts\">smiling face</annotation>\n"
      "<annotation cp=\"👍🏽\">hand | medium skin tone | thumbs up</annotation>\n"
      TAIL);
  const char *paths[2] = {one_path, two};
  gm_error err = {0};
  gm_emoji_annotations *a;
  gmt_ok(gm_emoji_annotations_load_files(&a, paths, 2, &err), &err);
  ck_assert_int_eq(gm_emoji_annotations_count(a), 5);
  const gm_emoji_annotation *e = find(a, 1, 0x1F609u);
  ck_assert_str_eq(e->keywords, "face | wink | winking face");  /* not two.xml's */
  ck_assert_str_eq(e->name, "winking face");
  e = find(a, 2, 0x263Au, 0xFE0Fu);   /* keywords from one file, name from the other */
  ck_assert_str_eq(e->keywords, "face | outlined | relaxed | smile");
  ck_assert_str_eq(e->name, "smiling face");
  e = find(a, 1, 0x1F431u);
  ck_assert_str_eq(e->keywords, "");
  ck_assert_str_eq(e->name, "cat face");              /* trimmed */
  ck_assert_str_eq(find(a, 1, 0x1F638u)->name, "grinning cat & smiling eyes");
  ck_assert_int_eq(find(a, 2, 0x1F44Du, 0x1F3FDu)->n_codepoints, 2);
  ck_assert_ptr_null(find(a, 1, 0x1F44Du));          /* a prefix is not a match */
  ck_assert_ptr_null(find(a, 0));
  gm_emoji_annotations_destroy(a);
}
END_TEST

START_TEST(an_exact_sequence_wins_over_one_without_the_selector) {
  gm_emoji_annotations *a = load_one(fixture("vs.xml", HEAD
      "<annotation cp=\"❤\" type=\"tts\">red heart (bare)</annotation>\n"
      "<annotation cp=\"❤️\" type=\"tts\">red heart (with VS16)</annotation>\n"
      TAIL));
  ck_assert_str_eq(find(a, 1, 0x2764u)->name, "red heart (bare)");
  ck_assert_str_eq(find(a, 2, 0x2764u, 0xFE0Fu)->name, "red heart (with VS16)");
  ck_assert_str_eq(find(a, 3, 0xFE0Fu, 0x2764u, 0xFE0Fu)->name, "red heart (bare)");
  gm_emoji_annotations_destroy(a);
}
END_TEST

/* Loading path must fail with code, and the message must name the file and say what. */
static void expect_refusal(const char *path, int code, const char *line, const char *what) {
  gm_error err = {0};
  gm_emoji_annotations *a = (gm_emoji_annotations *)&err;
  ck_assert_int_eq(gm_emoji_annotations_load_files(&a, &path, 1, &err), code);
  ck_assert_ptr_null(a);
  ck_assert_msg(strstr(err.msg, path) != NULL, "'%s' does not name %s", err.msg, path);
  if (line) ck_assert_msg(strstr(err.msg, line) != NULL, "'%s' lacks '%s'", err.msg, line);
  ck_assert_msg(strstr(err.msg, what) != NULL, "'%s' lacks '%s'", err.msg, what);
}

START_TEST(broken_files_are_refused_naming_file_line_and_problem) {
  expect_refusal(fixture("unclosed.xml", HEAD "<annotation cp=\"😉\">face\n" TAIL),
                 GM_EFORMAT, ":6:", "not well-formed XML: Opening and ending tag mismatch");
  expect_refusal(fixture("empty.xml", ""), GM_EFORMAT, NULL, "not well-formed XML");
  expect_refusal(fixture("root.xml", "<?xml version=\"1.0\"?>\n<ldml><identity/></ldml>\n"),
                 GM_EFORMAT, NULL, "no <annotations> element under the root <ldml>");
  expect_refusal(fixture("nocp.xml", HEAD "<annotation>face</annotation>\n" TAIL), GM_EFORMAT,
                 ":5:", "without a cp attribute");
  expect_refusal(fixture("emptycp.xml", HEAD "<annotation cp=\"\">face</annotation>\n" TAIL),
                 GM_EFORMAT, ":5:", "cp is not 1 to");
  char longcp[256] = "";
  for (int i = 0; i <= GM_MAX_CODEPOINTS; i++) strcat(longcp, "😉");
  char text[1024];
  snprintf(text, sizeof text, HEAD "<annotation cp=\"%s\">face</annotation>\n" TAIL, longcp);
  expect_refusal(fixture("longcp.xml", text), GM_EFORMAT, ":5:", "cp is not 1 to");
  /* bytes that are not UTF-8 in a UTF-8 document */
  expect_refusal(fixture("bytes.xml", HEAD "<annotation cp=\"\xff\xfe\">face</annotation>\n" TAIL),
                 GM_EFORMAT, ":5:", "not well-formed XML");
  expect_refusal(fixture("surrogate.xml", HEAD "<annotation cp=\"&#xD800;\">x</annotation>\n" TAIL),
                 GM_EFORMAT, ":5:", "not well-formed XML");
  char missing[1400];
  snprintf(missing, sizeof missing, "%s/no-such.xml", gmt_tmpdir());
  expect_refusal(missing, GM_ENOTFOUND, NULL, "No such file");
}
END_TEST

START_TEST(a_truncated_system_file_is_refused) {
  if (!gmt_require_file(__func__, CLDR_BASE, "unicode-cldr-core")) return;
  FILE *f = fopen(CLDR_BASE, "rb");
  ck_assert_ptr_nonnull(f);
  static char buf[20001];
  size_t n = fread(buf, 1, 20000, f);
  fclose(f);
  buf[n] = '\0';
  expect_refusal(fixture("truncated.xml", buf), GM_EFORMAT, NULL, "not well-formed XML");
}
END_TEST

START_TEST(external_entities_are_not_read) {
  char secret[1400];
  snprintf(secret, sizeof secret, "%s", fixture("secret.txt", "SECRET"));
  char text[4096];
  snprintf(text, sizeof text,
           "<?xml version=\"1.0\"?>\n<!DOCTYPE ldml [<!ENTITY x SYSTEM \"file://%s\">]>\n"
           "<ldml><annotations><annotation cp=\"😉\" type=\"tts\">a &x; b</annotation>"
           "</annotations></ldml>\n", secret);
  gm_emoji_annotations *a = load_one(fixture("xxe.xml", text));
  const char *name = find(a, 1, 0x1F609u)->name;
  ck_assert_msg(strstr(name, "SECRET") == NULL, "the entity was read: '%s'", name);
  gm_emoji_annotations_destroy(a);
}
END_TEST

START_TEST(a_folder_needs_the_base_file_but_not_the_derived_one) {
  char dir[1400];
  snprintf(dir, sizeof dir, "%s/cldr", gmt_tmpdir());
  mkdir(dir, 0755);
  gm_error err = {0};
  gm_emoji_annotations *a = NULL;
  ck_assert_int_eq(gm_emoji_annotations_load(&a, dir, &err), GM_ENOTFOUND);
  ck_assert_ptr_nonnull(strstr(err.msg, "cldr/annotations/en.xml"));
  ck_assert_ptr_null(strstr(err.msg, "unicode-cldr-core"));  /* not the system's folder */
  fixture("cldr/annotations/en.xml",
          HEAD "<annotation cp=\"😉\" type=\"tts\">winking face</annotation>\n" TAIL);
  gmt_ok(gm_emoji_annotations_load(&a, dir, &err), &err);
  ck_assert_int_eq(gm_emoji_annotations_count(a), 1);
  gm_emoji_annotations_destroy(a);
  fixture("cldr/annotationsDerived/en.xml", HEAD "<annotation cp=\"👍🏽\">thumbs</annotation>\n" TAIL);
  gmt_ok(gm_emoji_annotations_load(&a, dir, &err), &err);
  ck_assert_int_eq(gm_emoji_annotations_count(a), 2);
  gm_emoji_annotations_destroy(a);
  fixture("cldr/annotationsDerived/en.xml", HEAD "<annotation cp=\"👍🏽\">thumbs" TAIL);
  ck_assert_int_eq(gm_emoji_annotations_load(&a, dir, &err), GM_EFORMAT);
  ck_assert_ptr_nonnull(strstr(err.msg, "annotationsDerived/en.xml"));
}
END_TEST

START_TEST(text_is_keywords_then_a_missing_name_else_the_fallback) {
  gm_emoji_annotation a = {.keywords = "face | wink | winking face", .name = "winking face"};
  char buf[64];
  ck_assert_str_eq(gm_emoji_text(&a, "x", buf, sizeof buf), "face | wink | winking face");
  a.name = "wink";  /* a keyword too: not repeated */
  ck_assert_str_eq(gm_emoji_text(&a, "x", buf, sizeof buf), "face | wink | winking face");
  a.name = "smirk";
  ck_assert_str_eq(gm_emoji_text(&a, "x", buf, sizeof buf), "face | wink | winking face | smirk");
  a.keywords = "";
  ck_assert_str_eq(gm_emoji_text(&a, "x", buf, sizeof buf), "smirk");
  a.name = "";
  ck_assert_str_eq(gm_emoji_text(&a, "fallback name", buf, sizeof buf), "fallback name");
  ck_assert_str_eq(gm_emoji_text(NULL, "fallback name", buf, sizeof buf), "fallback name");
  ck_assert_str_eq(gm_emoji_text(NULL, NULL, buf, sizeof buf), "");
  /* truncation: never half a character, and no name that does not fit */
  gm_emoji_annotation u = {.keywords = "café | déjà vu", .name = "naïve"};
  ck_assert_str_eq(gm_emoji_text(&u, "x", buf, 5), "caf");   /* é is 2 bytes */
  ck_assert_str_eq(gm_emoji_text(&u, "x", buf, 6), "café");
  ck_assert_str_eq(gm_emoji_text(&u, "x", buf, 18), "café | déjà vu");
  ck_assert_str_eq(gm_emoji_text(&u, "x", buf, 26), "café | déjà vu");
  ck_assert_str_eq(gm_emoji_text(&u, "x", buf, 27), "café | déjà vu | naïve");
}
END_TEST

static Suite *make_suite(void) {
  Suite *s = suite_create("annotations");
  TCase *tc = tcase_create("cldr");
  tcase_add_test(tc, system_files_give_keywords_and_names);
  tcase_add_test(tc, fields_merge_per_sequence_and_the_earlier_file_wins);
  tcase_add_test(tc, an_exact_sequence_wins_over_one_without_the_selector);
  tcase_add_test(tc, broken_files_are_refused_naming_file_line_and_problem);
  tcase_add_test(tc, a_truncated_system_file_is_refused);
  tcase_add_test(tc, external_entities_are_not_read);
  tcase_add_test(tc, a_folder_needs_the_base_file_but_not_the_derived_one);
  tcase_add_test(tc, text_is_keywords_then_a_missing_name_else_the_fallback);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return gmt_run(make_suite()); }
