/* emoji-test.txt: the real file when installed, a small fixture with every kind of line,
 * malformed lines reported with their line number, and codepoint file-name stems. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testlib.h"

static const char *write_text(const char *name, const char *text) {
  static char path[1200];
  snprintf(path, sizeof path, "%s/%s", gmt_tmpdir(), name);
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
  return path;
}

static const char fixture_text[] =
    "# emoji-test.txt (a small fixture)\n"
    "# Format: code points; status # emoji name\n"
    "\n"
    "1F44B ; fully-qualified # 👋 E0.6 a line before any group\n"
    "# group: Smileys & Emotion\r\n"
    "\n"
    "# subgroup: face-smiling\n"
    "1F600                                                  ; fully-qualified     # 😀 E1.0 grinning face\n"
    "1F603 ; fully-qualified # 😃 grinning face with big eyes   \n"
    "# subgroup: face-affection\n"
    "263A FE0F                                              ; fully-qualified     # ☺️ E0.6 smiling face\r\n"
    "263A                                                   ; unqualified         # ☺ E0.6 smiling face\n"
    "   # an indented comment\n"
    "# group: Component\n"
    "# subgroup: skin-tone\n"
    "1F3FB                                                  ; component           # 🏻 E1.0 light skin tone\n"
    "# group: People & Body\n"
    "# subgroup: person-gesture\n"
    "1F646 200D 2642 FE0F                                   ; fully-qualified     # 🙆‍♂️ E4.0 man gesturing OK\n"
    "1F646 200D 2642                                        ; minimally-qualified # 🙆‍♂ E4.0 man gesturing OK\n"
    "# group: Symbols\n"
    "# subgroup: keycap\n"
    "0023 FE0F 20E3                                         ; fully-qualified     # #️⃣ E0.6 keycap: #\n"
    "0023 20E3                                              ; unqualified         # #⃣ E0.6 keycap: #\n"
    "#EOF";

START_TEST(fixture_lines_give_entries_in_file_order) {
  gm_error err = {0};
  gm_emoji_names *n;
  gmt_ok(gm_emoji_names_load(&n, write_text("fixture.txt", fixture_text), &err), &err);
  ck_assert_int_eq(gm_emoji_count(n), 10);
  const gm_emoji_entry *e = gm_emoji_at(n, 0);
  ck_assert_str_eq(e->name, "a line before any group");
  ck_assert_str_eq(e->group, "");
  e = gm_emoji_at(n, 1);
  ck_assert_str_eq(e->name, "grinning face");
  ck_assert_str_eq(e->group, "Smileys & Emotion");
  ck_assert_str_eq(e->subgroup, "face-smiling");
  ck_assert_int_eq(e->n_codepoints, 1);
  ck_assert_uint_eq(e->codepoints[0], 0x1F600);
  ck_assert_int_eq(e->fully_qualified, 1);
  ck_assert_str_eq(gm_emoji_at(n, 2)->name, "grinning face with big eyes");   /* no E version */
  e = gm_emoji_at(n, 3);
  ck_assert_str_eq(e->name, "smiling face");
  ck_assert_str_eq(e->subgroup, "face-affection");
  ck_assert_int_eq(e->n_codepoints, 2);
  ck_assert_int_eq(gm_emoji_at(n, 4)->fully_qualified, 0);
  e = gm_emoji_at(n, 5);
  ck_assert_str_eq(e->name, "light skin tone");
  ck_assert_str_eq(e->group, "Component");
  ck_assert_int_eq(e->fully_qualified, 0);
  e = gm_emoji_at(n, 6);
  ck_assert_str_eq(e->name, "man gesturing OK");
  ck_assert_int_eq(e->n_codepoints, 4);
  ck_assert_int_eq(gm_emoji_at(n, 7)->fully_qualified, 0);
  ck_assert_str_eq(gm_emoji_at(n, 8)->name, "keycap: #");
  ck_assert_int_eq(gm_emoji_at(n, 8)->fully_qualified, 1);
  ck_assert_int_eq(gm_emoji_at(n, 9)->fully_qualified, 0);
  ck_assert_ptr_null(gm_emoji_at(n, 10));
  ck_assert_ptr_null(gm_emoji_at(n, -1));
  gm_emoji_names_destroy(n);
}
END_TEST

START_TEST(lookup_is_exact_first_then_ignores_fe0f) {
  gm_error err = {0};
  gm_emoji_names *n;
  gmt_ok(gm_emoji_names_load(&n, write_text("fixture2.txt", fixture_text), &err), &err);
  const uint32_t smile_fq[] = {0x263A, 0xFE0F}, smile[] = {0x263A}, grin_vs[] = {0x1F600, 0xFE0F},
                 keycap[] = {0x23, 0x20E3}, keycap_fe[] = {0x23, 0xFE0F, 0x20E3}, man_bare[] = {0x1F646, 0x200D, 0x2642},
                 man_odd[] = {0x1F646, 0xFE0F, 0x200D, 0x2642}, none[] = {0x1F601};
  ck_assert_ptr_eq(gm_emoji_lookup(n, smile_fq, 2), gm_emoji_at(n, 3));
  ck_assert_ptr_eq(gm_emoji_lookup(n, smile, 1), gm_emoji_at(n, 4));          /* exact beats loose */
  ck_assert_ptr_eq(gm_emoji_lookup(n, grin_vs, 2), gm_emoji_at(n, 1));        /* FE0F removed */
  ck_assert_ptr_eq(gm_emoji_lookup(n, keycap, 2), gm_emoji_at(n, 9));         /* exact unqualified */
  ck_assert_ptr_eq(gm_emoji_lookup(n, keycap_fe, 3), gm_emoji_at(n, 8));
  ck_assert_ptr_eq(gm_emoji_lookup(n, man_bare, 3), gm_emoji_at(n, 7));
  /* Not in the file exactly: the FE0F-free match prefers the fully-qualified entry. */
  ck_assert_ptr_eq(gm_emoji_lookup(n, man_odd, 4), gm_emoji_at(n, 6));
  ck_assert_ptr_null(gm_emoji_lookup(n, none, 1));
  ck_assert_ptr_null(gm_emoji_lookup(n, none, 0));
  gm_emoji_names_destroy(n);
}
END_TEST

START_TEST(malformed_lines_are_errors_with_their_line_number) {
  static const char *const bad[] = {
      "1F600 fully-qualified # 😀 E1.0 no semicolon\n",
      "1F600 ; fully-qualified\n",
      "1F60G ; fully-qualified # 😀 E1.0 bad hex\n",
      "110000 ; fully-qualified # x E1.0 beyond Unicode\n",
      "1F600000 ; fully-qualified # x E1.0 too many digits\n",
      " ; fully-qualified # 😀 E1.0 no codepoints\n",
      "1F600 ; Fully Qualified # 😀 E1.0 odd status\n",
      "1F600 ;  # 😀 E1.0 empty status\n",
      "1F600 ; fully-qualified # 😀 E1.0   \n",
      "1 2 3 4 5 6 7 8 9 A B C D E F 10 11 ; fully-qualified # x E1.0 seventeen\n",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char text[512];
    snprintf(text, sizeof text, "# group: G\n# subgroup: s\n1F600 ; fully-qualified # 😀 E1.0 fine\n%s", bad[i]);
    const char *path = write_text("bad.txt", text);
    gm_error err = {0};
    gm_emoji_names *n = (gm_emoji_names *)(uintptr_t)1;   /* must come back NULL */
    ck_assert_int_eq(gm_emoji_names_load(&n, path, &err), GM_EFORMAT);
    ck_assert_ptr_null(n);
    char where[1300];
    snprintf(where, sizeof where, "%s:4:", path);
    ck_assert_msg(strstr(err.msg, where) != NULL, "line %zu: message lacks %s: %s", i, where, err.msg);
  }
  gm_error err = {0};
  gm_emoji_names *n;
  ck_assert_int_eq(gm_emoji_names_load(&n, write_text("comments.txt", "# only comments\n\n"), &err), GM_EFORMAT);
}
END_TEST

START_TEST(missing_file_says_which_package_to_install) {
  gm_error err = {0};
  gm_emoji_names *n;
  char missing[1200];
  snprintf(missing, sizeof missing, "%s/no-emoji-test.txt", gmt_tmpdir());
  ck_assert_int_eq(gm_emoji_names_load(&n, missing, &err), GM_ENOTFOUND);
  ck_assert_msg(strstr(err.msg, missing) != NULL, "%s", err.msg);
  const char *old = getenv(GM_EMOJI_TEST_ENV);
  char *saved = old ? strdup(old) : NULL;
  setenv(GM_EMOJI_TEST_ENV, missing, 1);
  ck_assert_int_eq(gm_emoji_names_load(&n, NULL, &err), GM_ENOTFOUND);
  ck_assert_msg(strstr(err.msg, "unicode-data") && strstr(err.msg, missing), "%s", err.msg);
  setenv(GM_EMOJI_TEST_ENV, write_text("env.txt", fixture_text), 1);
  gmt_ok(gm_emoji_names_load(&n, NULL, &err), &err);
  ck_assert_int_eq(gm_emoji_count(n), 10);
  gm_emoji_names_destroy(n);
  if (saved) setenv(GM_EMOJI_TEST_ENV, saved, 1);
  else unsetenv(GM_EMOJI_TEST_ENV);
  free(saved);
}
END_TEST

START_TEST(real_emoji_test_file_names_grinning_face) {
  if (!gmt_require_file(__func__, GM_EMOJI_TEST_DEFAULT, "unicode-data")) return;
  gm_error err = {0};
  gm_emoji_names *n;
  gmt_ok(gm_emoji_names_load(&n, GM_EMOJI_TEST_DEFAULT, &err), &err);
  ck_assert_int_gt(gm_emoji_count(n), 3000);
  const uint32_t grin[] = {0x1F600};
  const gm_emoji_entry *e = gm_emoji_lookup(n, grin, 1);
  ck_assert_ptr_nonnull(e);
  ck_assert_str_eq(e->name, "grinning face");
  ck_assert_str_eq(e->group, "Smileys & Emotion");
  ck_assert_str_eq(e->subgroup, "face-smiling");
  ck_assert_int_eq(e->fully_qualified, 1);
  ck_assert_ptr_eq(gm_emoji_at(n, 0), e);   /* the file starts with it */
  int faces = 0, fq = 0;
  for (int i = 0; i < gm_emoji_count(n); i++) {
    const gm_emoji_entry *x = gm_emoji_at(n, i);
    fq += x->fully_qualified;
    faces += x->fully_qualified && x->n_codepoints == 1 && !strncmp(x->subgroup, "face-", 5);
  }
  printf("emoji-test.txt: %d entries, %d fully-qualified, %d single-codepoint faces\n", gm_emoji_count(n), fq, faces);
  ck_assert_int_ge(faces, 100);
  gm_emoji_names_destroy(n);
}
END_TEST

START_TEST(file_stems_parse_as_codepoint_sequences) {
  uint32_t cps[GM_MAX_CODEPOINTS];
  int n;
  ck_assert_int_eq(gm_emoji_parse_codepoints("1F600", cps, GM_MAX_CODEPOINTS, &n), 0);
  ck_assert_int_eq(n, 1);
  ck_assert_uint_eq(cps[0], 0x1F600);
  ck_assert_int_eq(gm_emoji_parse_codepoints("1f600-1f3fb", cps, GM_MAX_CODEPOINTS, &n), 0);
  ck_assert_int_eq(n, 2);
  ck_assert_uint_eq(cps[1], 0x1F3FB);
  ck_assert_int_eq(gm_emoji_parse_codepoints("1f468_200d_1f469", cps, GM_MAX_CODEPOINTS, &n), 0);
  ck_assert_int_eq(n, 3);
  ck_assert_uint_eq(cps[1], 0x200D);
  ck_assert_int_eq(gm_emoji_parse_codepoints("u1F600", cps, GM_MAX_CODEPOINTS, &n), 0);
  ck_assert_uint_eq(cps[0], 0x1F600);
  ck_assert_int_eq(gm_emoji_parse_codepoints("emoji_u1f468_200d_1f469", cps, GM_MAX_CODEPOINTS, &n), 0);
  ck_assert_int_eq(n, 3);
  ck_assert_int_eq(gm_emoji_parse_codepoints("U+00A9", cps, GM_MAX_CODEPOINTS, &n), 0);
  ck_assert_uint_eq(cps[0], 0xA9);
  ck_assert_int_eq(gm_emoji_parse_codepoints("0023-20E3", cps, GM_MAX_CODEPOINTS, &n), 0);
  ck_assert_int_eq(n, 2);
  static const char *const not_codepoints[] = {"", "smile", "abc", "1F600-", "-1F600", "1F600--1F3FB",
                                               "1F6000000", "110000", "D800", "1F600.png", "1f600 x"};
  for (size_t i = 0; i < sizeof not_codepoints / sizeof *not_codepoints; i++) {
    ck_assert_msg(gm_emoji_parse_codepoints(not_codepoints[i], cps, GM_MAX_CODEPOINTS, &n) == GM_EFORMAT,
                  "'%s' parsed as codepoints", not_codepoints[i]);
    ck_assert_int_eq(n, 0);
  }
  ck_assert_int_eq(gm_emoji_parse_codepoints("1F600-1F3FB-1F3FC", cps, 2, &n), GM_EFORMAT);
  const uint32_t seq[] = {0x1F468, 0x200D, 0xA9};
  char buf[64];
  ck_assert_str_eq(gm_emoji_codepoints_str(seq, 3, '-', buf, sizeof buf), "1f468-200d-00a9");
  ck_assert_int_eq(gm_emoji_parse_codepoints(buf, cps, GM_MAX_CODEPOINTS, &n), 0);
  ck_assert_int_eq(n, 3);
  ck_assert_mem_eq(cps, seq, sizeof seq);
  ck_assert_str_eq(gm_emoji_codepoints_str(seq, 3, '_', buf, 8), "1f468_2");
}
END_TEST

int main(void) {
  Suite *s = suite_create("emoji_names");
  TCase *tc = tcase_create("emoji-test.txt");
  tcase_add_test(tc, fixture_lines_give_entries_in_file_order);
  tcase_add_test(tc, lookup_is_exact_first_then_ignores_fe0f);
  tcase_add_test(tc, malformed_lines_are_errors_with_their_line_number);
  tcase_add_test(tc, missing_file_says_which_package_to_install);
  tcase_add_test(tc, real_emoji_test_file_names_grinning_face);
  tcase_add_test(tc, file_stems_parse_as_codepoint_sequences);
  suite_add_tcase(s, tc);
  return gmt_run(s);
}
