/* The pngdir loader: a generated folder of codepoint-named and other PNGs, names from an
 * emoji-test.txt fixture (or the stem when it is absent), a corrupt file as an error or
 * skipped with skip-bad, probing, and Debian's EmojiOne PNGs when installed. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testlib.h"

#define GEMOJIONE_DIR "/usr/share/rubygems-integration/all/gems/gemojione-3.3.0/assets/png"

static const gm_loader_vtable *loader(void) {
  static const gm_loader_vtable *vt;
  if (vt) return vt;
  void *h = dlopen(GM_BUILD_PLUGIN_DIR "/gm_pngdir.so", RTLD_NOW | RTLD_LOCAL);
  ck_assert_msg(h != NULL, "dlopen: %s", dlerror());
  gm_plugin_entry_fn entry = (gm_plugin_entry_fn)dlsym(h, GM_PLUGIN_ENTRY_SYMBOL);
  ck_assert_ptr_nonnull(entry);
  const gm_plugin *p = entry();
  ck_assert_str_eq(p->kind, GM_PLUGIN_KIND_LOADER);
  ck_assert_str_eq(p->name, "pngdir");
  vt = p->vtable;
  return vt;
}

static const char emoji_text[] =
    "# group: Smileys & Emotion\n"
    "# subgroup: face-smiling\n"
    "1F600 ; fully-qualified # 😀 E1.0 grinning face\n"
    "1F603 ; fully-qualified # 😃 E0.6 grinning face with big eyes\n"
    "# subgroup: face-affection\n"
    "263A FE0F ; fully-qualified # ☺️ E0.6 smiling face\n"
    "263A ; unqualified # ☺ E0.6 smiling face\n"
    "# group: People & Body\n"
    "# subgroup: family\n"
    "1F468 200D 1F469 ; fully-qualified # 👨‍👩 E2.0 couple\n";

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
}

/* A 2x2 RGBA PNG whose red channel is `tag`, so each file's pixels are recognisable. */
static void write_png(const char *dir, const char *name, uint8_t tag) {
  char path[1400];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  uint8_t px[16];
  for (int i = 0; i < 4; i++) px[4 * i] = tag, px[4 * i + 1] = (uint8_t)i, px[4 * i + 2] = 9, px[4 * i + 3] = 255;
  gm_error err = {0};
  gmt_ok(gm_png_write(path, px, 2, 2, 4, &err), &err);
}

/* The test folder, made once: files in a deliberately unsorted creation order. */
static const char *make_folder(void) {
  static char dir[1200];
  if (dir[0]) return dir;
  snprintf(dir, sizeof dir, "%s/pngs", gmt_tmpdir());
  mkdir(dir, 0700);
  write_png(dir, "zzz-custom.png", 7);
  write_png(dir, "263a.png", 4);
  write_png(dir, "1f603.png", 3);
  write_png(dir, "1F600.png", 1);
  write_png(dir, "1f468-200d-1f469.png", 2);
  write_png(dir, "Upper.PNG", 5);
  write_png(dir, "face.png", 6);
  char other[1400];
  snprintf(other, sizeof other, "%s/notes.txt", dir);
  write_text(other, "not a picture");
  snprintf(other, sizeof other, "%s/folder.png", dir);
  mkdir(other, 0700);
  return dir;
}

typedef struct want_image {
  const char *name, *group, *subgroup;
  int n_cps;
  uint32_t cp0;
  uint8_t tag;
} want_image;

static void expect_images(void *st, const want_image *want, int n) {
  gm_error err = {0};
  gm_image img;
  for (int k = 0; k < n; k++) {
    int rc = loader()->next(st, &img, &err);
    ck_assert_msg(rc == 1, "image %d: %s (%s)", k, gm_err_name(rc), err.msg);
    ck_assert_str_eq(img.name, want[k].name);
    ck_assert_str_eq(img.group, want[k].group);
    ck_assert_str_eq(img.subgroup, want[k].subgroup);
    ck_assert_int_eq(img.n_codepoints, want[k].n_cps);
    if (want[k].n_cps) ck_assert_uint_eq(img.codepoints[0], want[k].cp0);
    ck_assert_int_eq(img.width, 2);
    ck_assert_uint_eq(img.rgba[0], want[k].tag);
    ck_assert_ptr_nonnull(strstr(img.source, "/pngs/"));
    free(img.rgba);
  }
  ck_assert_int_eq(loader()->next(st, &img, &err), 0);
}

START_TEST(codepoint_file_names_get_emoji_names_in_sorted_order) {
  const char *dir = make_folder();
  char names[1200];
  snprintf(names, sizeof names, "%s/emoji-test.txt", gmt_tmpdir());
  write_text(names, emoji_text);
  ck_assert_int_eq(loader()->probe(dir), 1);
  gm_error err = {0};
  void *st;
  gm_kv opt = {"emoji-test", names};
  gmt_ok(loader()->open(&st, dir, &opt, 1, &err), &err);
  const want_image want[] = {
      {"grinning face", "Smileys & Emotion", "face-smiling", 1, 0x1F600, 1},
      {"couple", "People & Body", "family", 3, 0x1F468, 2},
      {"grinning face with big eyes", "Smileys & Emotion", "face-smiling", 1, 0x1F603, 3},
      {"smiling face", "Smileys & Emotion", "face-affection", 1, 0x263A, 4},
      {"Upper", "", "", 0, 0, 5},
      {"face", "", "", 1, 0xFACE, 6},   /* spells U+FACE, which emoji-test.txt does not know */
      {"zzz-custom", "", "", 0, 0, 7},
  };
  expect_images(st, want, 7);
  loader()->close(st);
}
END_TEST

START_TEST(without_emoji_test_txt_the_stem_is_the_name) {
  const char *dir = make_folder();
  const char *old = getenv(GM_EMOJI_TEST_ENV);
  char *saved = old ? strdup(old) : NULL;
  char missing[1200];
  snprintf(missing, sizeof missing, "%s/absent-emoji-test.txt", gmt_tmpdir());
  setenv(GM_EMOJI_TEST_ENV, missing, 1);
  gm_error err = {0};
  void *st;
  gmt_ok(loader()->open(&st, dir, NULL, 0, &err), &err);
  const want_image want[] = {
      {"1F600", "", "", 1, 0x1F600, 1}, {"1f468-200d-1f469", "", "", 3, 0x1F468, 2}, {"1f603", "", "", 1, 0x1F603, 3},
      {"263a", "", "", 1, 0x263A, 4},   {"Upper", "", "", 0, 0, 5}, {"face", "", "", 1, 0xFACE, 6},
      {"zzz-custom", "", "", 0, 0, 7},
  };
  expect_images(st, want, 7);
  loader()->close(st);
  if (saved) setenv(GM_EMOJI_TEST_ENV, saved, 1);
  else unsetenv(GM_EMOJI_TEST_ENV);
  free(saved);
  /* A file named explicitly must exist. */
  gm_kv opt = {"emoji-test", missing};
  ck_assert_int_eq(loader()->open(&st, dir, &opt, 1, &err), GM_ENOTFOUND);
  ck_assert_msg(strstr(err.msg, missing) != NULL, "%s", err.msg);
}
END_TEST

START_TEST(corrupt_png_is_an_error_naming_it_unless_skip_bad) {
  char dir[1200], bad[1300];
  snprintf(dir, sizeof dir, "%s/withbad", gmt_tmpdir());
  mkdir(dir, 0700);
  write_png(dir, "a.png", 1);
  snprintf(bad, sizeof bad, "%s/b.png", dir);
  write_text(bad, "\x89PNG\r\n\x1a\n garbage after a real signature");
  write_png(dir, "c.png", 3);
  gm_error err = {0};
  gm_image img;
  void *st;
  gmt_ok(loader()->open(&st, dir, NULL, 0, &err), &err);
  ck_assert_int_eq(loader()->next(st, &img, &err), 1);
  free(img.rgba);
  ck_assert_int_eq(loader()->next(st, &img, &err), GM_EFORMAT);
  ck_assert_msg(strstr(err.msg, bad) != NULL, "%s", err.msg);
  loader()->close(st);

  gm_kv opt = {"skip-bad", "1"};
  gmt_ok(loader()->open(&st, dir, &opt, 1, &err), &err);
  int n = 0;
  uint8_t tags[4];
  while (loader()->next(st, &img, &err) == 1) {
    tags[n++] = img.rgba[0];
    free(img.rgba);
  }
  loader()->close(st);
  ck_assert_int_eq(n, 2);
  ck_assert_uint_eq(tags[0], 1);
  ck_assert_uint_eq(tags[1], 3);
}
END_TEST

START_TEST(probe_and_options) {
  const char *dir = make_folder();
  ck_assert_int_eq(loader()->probe(dir), 1);
  char empty[1200], kaggle[1200], file[1300];
  snprintf(empty, sizeof empty, "%s/empty", gmt_tmpdir());
  mkdir(empty, 0700);
  ck_assert_int_eq(loader()->probe(empty), 0);
  snprintf(kaggle, sizeof kaggle, "%s/kaggle", gmt_tmpdir());
  mkdir(kaggle, 0700);
  write_png(kaggle, "1.png", 1);
  snprintf(file, sizeof file, "%s/full_emoji.csv", kaggle);
  write_text(file, "#,emoji,unicode,name\n");
  ck_assert_int_eq(loader()->probe(kaggle), 0);
  snprintf(file, sizeof file, "%s/zzz-custom.png", dir);
  ck_assert_int_eq(loader()->probe(file), 0);
  ck_assert_int_eq(loader()->probe("noto"), 0);
  gm_error err = {0};
  void *st = (void *)1;
  gm_kv bad = {"vendor", "Apple"};
  ck_assert_int_eq(loader()->open(&st, dir, &bad, 1, &err), GM_EINVAL);
  ck_assert_ptr_null(st);
  ck_assert_msg(strstr(err.msg, "vendor") != NULL, "%s", err.msg);
  gm_kv odd = {"skip-bad", "maybe"};
  ck_assert_int_eq(loader()->open(&st, dir, &odd, 1, &err), GM_EINVAL);
  ck_assert_int_eq(loader()->open(&st, empty, NULL, 0, &err), GM_ENOTFOUND);
  ck_assert_msg(strstr(err.msg, empty) != NULL, "%s", err.msg);
  snprintf(file, sizeof file, "%s/no-such-folder", gmt_tmpdir());
  ck_assert_int_eq(loader()->open(&st, file, NULL, 0, &err), GM_ENOTFOUND);
  ck_assert_msg(strstr(err.msg, file) != NULL, "%s", err.msg);
}
END_TEST

START_TEST(emojione_pngs_from_debian_are_named) {
  if (!gmt_require_file(__func__, GEMOJIONE_DIR, "ruby-gemojione") ||
      !gmt_require_file(__func__, GM_EMOJI_TEST_DEFAULT, "unicode-data"))
    return;
  ck_assert_int_eq(loader()->probe(GEMOJIONE_DIR), 1);
  gm_error err = {0};
  void *st;
  gmt_ok(loader()->open(&st, GEMOJIONE_DIR, NULL, 0, &err), &err);
  gm_image img;
  int rc, count = 0, named = 0, faces = 0, grin = 0;
  while ((rc = loader()->next(st, &img, &err)) == 1) {
    count++;
    named += img.group[0] != '\0';
    faces += !strncmp(img.subgroup, "face-", 5);
    if (!strcmp(img.name, "grinning face")) {
      grin = 1;
      ck_assert_int_eq(img.width, 64);
      ck_assert_int_eq(img.height, 64);
      ck_assert_uint_eq(img.codepoints[0], 0x1F600);
    }
    free(img.rgba);
  }
  gmt_ok(rc, &err);
  loader()->close(st);
  printf("%s: %d images, %d named from emoji-test.txt, %d faces\n", GEMOJIONE_DIR, count, named, faces);
  ck_assert(grin);
  ck_assert_int_ge(count, 1000);
  ck_assert_int_ge(named, count * 9 / 10);
}
END_TEST

int main(void) {
  Suite *s = suite_create("pngdir");
  TCase *tc = tcase_create("folder");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, codepoint_file_names_get_emoji_names_in_sorted_order);
  tcase_add_test(tc, without_emoji_test_txt_the_stem_is_the_name);
  tcase_add_test(tc, corrupt_png_is_an_error_naming_it_unless_skip_bad);
  tcase_add_test(tc, probe_and_options);
  tcase_add_test(tc, emojione_pngs_from_debian_are_named);
  suite_add_tcase(s, tc);
  return gmt_run(s);
}
