/* `genmoji dataset` end to end, through the built executable: yellow faces of the real
 * Noto font with a grid, the JSON fields, export and reload through pngdir with the same
 * names and pixels, and the usage and failure exits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clitest.h"


/* Runs "env genmoji dataset args" with stdout and stderr captured. */
static gmt_run_result run(const char *env, const char *args) {
  return gmt_genmoji(env, "dataset %s", args);
}

/* The string value after "key": at or after *p (cJSON's printed form); advances *p past
 * it. Returns 0 when there is none. */
static int json_string(const char **p, const char *key, char *out, size_t n) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":", key);
  const char *q = strstr(*p, pat);
  if (!q) return 0;
  q += strlen(pat);
  while (*q == ' ' || *q == '\t') q++;
  if (*q != '"') return 0;
  size_t k = 0;
  for (q++; *q && *q != '"'; q++) {
    if (*q == '\\' && q[1]) q++;
    if (k + 1 < n) out[k++] = *q;
  }
  out[k] = '\0';
  *p = q;
  return 1;
}

typedef struct named {
  char name[128];
  char source[1024];
} named;

/* Every image's name and source from --json output; returns the count. */
static int json_images(const char *json, named *out, int max) {
  const char *p = strstr(json, "\"images\":");
  int n = 0;
  ck_assert_ptr_nonnull(p);
  while (n < max && json_string(&p, "name", out[n].name, sizeof out[n].name)) {
    ck_assert(json_string(&p, "source", out[n].source, sizeof out[n].source));
    n++;
  }
  return n;
}

static int count_of(const char *json) {
  const char *p = strstr(json, "\"count\":");
  ck_assert_ptr_nonnull(p);
  return atoi(p + strlen("\"count\":"));
}

START_TEST(noto_yellow_faces_are_at_least_85_and_the_grid_holds_them) {
  if (!gmt_have_noto(__func__)) return;
  char args[2048], grid[1100];
  snprintf(grid, sizeof grid, "%s/faces.png", gmt_tmpdir());
  snprintf(args, sizeof args, "--data noto --subset faces --yellow --grid '%s'", grid);
  gmt_run_result r = run(NULL, args);
  ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
  int n = 0;
  ck_assert_msg(sscanf(r.out, "count: %d", &n) == 1, "%s", r.out);
  ck_assert_msg(n >= 85, "only %d yellow faces", n);
  ck_assert_msg(strstr(r.out, "loader: notoemoji") && strstr(r.out, "source: noto"), "%s", r.out);
  ck_assert_msg(strstr(r.out, "1F600                    grinning face"), "%s", r.out);
  ck_assert_msg(!strstr(r.out, "clown face") && !strstr(r.out, "ghost"), "%s", r.out);

  /* ceil(sqrt(n)) columns of 64-pixel cells with 1-pixel gaps. */
  int cols = 1;
  while (cols * cols < n) cols++;
  int rows = (n + cols - 1) / cols;
  gm_image img;
  gm_error err = {0};
  memset(&img, 0, sizeof img);
  gmt_ok(gm_png_read(grid, &img, &err), &err);
  ck_assert_int_eq(img.width, cols * 64 + cols - 1);
  ck_assert_int_eq(img.height, rows * 64 + rows - 1);
  const uint8_t *gap = img.rgba + 4 * 64;
  ck_assert_int_eq(gap[0], GM_GRID_GAP_GREY);
  gm_image_free(&img);
  gmt_run_free(&r);
}
END_TEST

START_TEST(json_lists_count_source_loader_and_each_image) {
  if (!gmt_have_noto(__func__)) return;
  gmt_run_result r = run(NULL, "--subset faces --yellow --limit 3 --json");
  ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
  ck_assert_int_eq(count_of(r.out), 3);
  const char *want[] = {"\"source\":\t\"noto\"", "\"loader\":\t\"notoemoji\"",
                        "\"name\":\t\"grinning face\"", "\"codepoints\":\t[\"1F600\"]",
                        "\"group\":\t\"Smileys & Emotion\"", "\"subgroup\":\t\"face-smiling\"",
                        "\"split\":\t\"train\"", "\"source\":\t\"NotoColorEmoji.ttf glyph"};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
    ck_assert_msg(strstr(r.out, want[i]), "no %s in %s", want[i], r.out);
  named imgs[4];
  ck_assert_int_eq(json_images(r.out, imgs, 4), 3);
  gmt_run_free(&r);

  /* --heldout 1 puts every name in the held-out split. */
  r = run(NULL, "--subset faces --limit 2 --heldout 1 --json");
  ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
  ck_assert_msg(!strstr(r.out, "\"train\"") && strstr(r.out, "\"heldout\""), "%s", r.out);
  gmt_run_free(&r);
}
END_TEST

/* Each image's text: CLDR's keywords and name for the system's files; GM_CLDR_DIR at a
 * folder without them is an error naming the file, exit 1. */
START_TEST(json_gives_each_image_its_cldr_text) {
  if (!gmt_have_noto(__func__) ||
      !gmt_require_file(__func__, "/usr/share/unicode/cldr/common/annotations/en.xml",
                        "unicode-cldr-core"))
    return;
  gmt_run_result r = run(NULL, "--subset faces --match '^winking face$' --json");
  ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
  cJSON *o = cJSON_Parse(r.out);
  ck_assert_msg(cJSON_IsObject(o), "not JSON: %s", r.out);
  cJSON *text = cJSON_GetObjectItem(o, "text");
  ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(text, "source")), "cldr");
  ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(text, "dir")),
                   "/usr/share/unicode/cldr/common");
  ck_assert_int_eq(cJSON_GetObjectItem(text, "annotated")->valueint, 1);
  cJSON *img = cJSON_GetArrayItem(cJSON_GetObjectItem(o, "images"), 0);
  ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(img, "text")),
                   "face | wink | winking face");
  ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(img, "text_source")), "cldr");
  cJSON_Delete(o);
  gmt_run_free(&r);

  char env[1200];
  snprintf(env, sizeof env, "GM_CLDR_DIR=%s/no-cldr", gmt_tmpdir());
  r = run(env, "--subset faces --limit 1 --json");
  ck_assert_msg(r.code == 1 && strstr(r.err, "no-cldr/annotations/en.xml"), "exit %d: %s",
                r.code, r.err);
  ck_assert_str_eq(r.out, "");
  gmt_run_free(&r);
}
END_TEST

static int by_name(const void *a, const void *b) {
  return strcmp(((const named *)a)->name, ((const named *)b)->name);
}

START_TEST(export_then_reload_gives_the_same_names_and_pixels) {
  if (!gmt_have_noto(__func__)) return;
  char dir[1100], args[2048];
  snprintf(dir, sizeof dir, "%s/exported", gmt_tmpdir());
  snprintf(args, sizeof args, "--subset faces --yellow --background 203040 --export '%s' --json",
           dir);
  gmt_run_result a = run(NULL, args);
  ck_assert_msg(a.code == 0, "exit %d: %s", a.code, a.err);
  snprintf(args, sizeof args, "--data '%s' --json", dir);
  gmt_run_result b = run(NULL, args);
  ck_assert_msg(b.code == 0, "exit %d: %s", b.code, b.err);
  ck_assert_msg(strstr(b.out, "\"loader\":\t\"pngdir\""), "%s", b.out);

  static named na[256], nb[256];
  int n = json_images(a.out, na, 256), m = json_images(b.out, nb, 256);
  ck_assert_int_ge(n, 85);
  ck_assert_int_eq(m, n);
  qsort(na, (size_t)n, sizeof *na, by_name);
  qsort(nb, (size_t)m, sizeof *nb, by_name);
  for (int i = 0; i < n; i++) ck_assert_str_eq(nb[i].name, na[i].name);
  gmt_run_free(&a);
  gmt_run_free(&b);

  /* The exported files hold exactly what the dataset made of the font. */
  gm_registry *reg = NULL;
  gm_error err = {0};
  const char *dirs[] = {GM_BUILD_PLUGIN_DIR};
  gmt_ok(gm_registry_create(&reg, dirs, 1, &err), &err);
  const gm_plugin_record *rec = gm_registry_find(reg, GM_PLUGIN_KIND_LOADER, "notoemoji");
  ck_assert_ptr_nonnull(rec);
  gm_dataset_options o;
  gm_dataset_options_init(&o);
  o.subset = "faces";
  o.yellow = 1;
  o.background[0] = 0x20;
  o.background[1] = 0x30;
  o.background[2] = 0x40;
  gm_dataset *ds = NULL;
  gmt_ok(gm_dataset_load(&ds, rec->vtable, "noto", NULL, 0, &o, &err), &err);
  ck_assert_int_eq(gm_dataset_count(ds), n);
  for (int i = 0; i < gm_dataset_count(ds); i++) {
    const gm_dataset_item *it = gm_dataset_get(ds, i);
    named key;
    snprintf(key.name, sizeof key.name, "%s", it->name);
    const named *hit = bsearch(&key, nb, (size_t)m, sizeof *nb, by_name);
    ck_assert_msg(hit != NULL, "%s was not exported", it->name);
    gm_image img;
    memset(&img, 0, sizeof img);
    gmt_ok(gm_png_read(hit->source, &img, &err), &err);
    ck_assert_int_eq(img.width, 32);
    ck_assert_int_eq(img.height, 32);
    for (int p = 0; p < 32 * 32; p++)
      for (int c = 0; c < 3; c++)
        ck_assert_msg(img.rgba[4 * p + c] == it->rgb[3 * p + c], "%s pixel %d: %d vs %d", it->name,
                      p, img.rgba[4 * p + c], it->rgb[3 * p + c]);
    gm_image_free(&img);
  }
  /* Codepoint names where emoji-test.txt agrees: grinning face is 1f600.png. */
  char f[1200];
  snprintf(f, sizeof f, "%s/1f600.png", dir);
  ck_assert_msg(access(f, R_OK) == 0, "no %s", f);
  gm_dataset_destroy(ds);
  gm_registry_destroy(reg);
}
END_TEST

START_TEST(kaggle_folder_loads_through_the_command_with_skip_bad) {
  /* A Kaggle folder with one good row (a 2x2 PNG) and one row of bad base64. */
  char dir[1100], path[1200];
  snprintf(dir, sizeof dir, "%s/kaggle", gmt_tmpdir());
  ck_assert_int_eq(mkdir(dir, 0777), 0);
  snprintf(path, sizeof path, "%s/px.png", gmt_tmpdir());
  const uint8_t px[12] = {255, 0, 0, 255, 0, 0, 255, 0, 0, 255, 0, 0};
  gm_error err = {0};
  gmt_ok(gm_png_write(path, px, 2, 2, 3, &err), &err);
  char *png = gmt_slurp(path, NULL); /* binary: use the file size, not strlen */
  ck_assert_ptr_nonnull(png);
  struct stat st;
  stat(path, &st);
  static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  char *b64 = malloc((size_t)st.st_size * 2 + 8);
  size_t k = 0;
  const uint8_t *d = (const uint8_t *)png;
  for (long i = 0; i < st.st_size; i += 3) {
    uint32_t v = (uint32_t)d[i] << 16 | (i + 1 < st.st_size ? (uint32_t)d[i + 1] << 8 : 0) |
                 (i + 2 < st.st_size ? d[i + 2] : 0);
    b64[k++] = al[v >> 18 & 63];
    b64[k++] = al[v >> 12 & 63];
    b64[k++] = i + 1 < st.st_size ? al[v >> 6 & 63] : '=';
    b64[k++] = i + 2 < st.st_size ? al[v & 63] : '=';
  }
  b64[k] = '\0';
  snprintf(path, sizeof path, "%s/full_emoji.csv", dir);
  FILE *f = fopen(path, "w");
  fprintf(f, "#,emoji,unicode,name,Apple,Google\n"
             "1,x,U+1F600,grinning face,\"data:image/png;base64,%s\",-\n"
             "2,x,U+1F609,winking face,\"data:image/png;base64,!%s\",-\n",
          b64, b64);
  fclose(f);
  free(png);
  free(b64);

  char args[2048];
  snprintf(args, sizeof args, "--data '%s' --json", dir);
  gmt_run_result r = run(NULL, args);
  ck_assert_int_eq(r.code, 1);
  ck_assert_msg(strstr(r.err, "full_emoji.csv:3") && strstr(r.err, "bad character '!'"), "%s",
                r.err);
  gmt_run_free(&r);
  snprintf(args, sizeof args, "--data '%s' --skip-bad --vendor apple --json", dir);
  r = run(NULL, args);
  ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
  ck_assert_int_eq(count_of(r.out), 1);
  ck_assert_msg(strstr(r.out, "\"loader\":\t\"kaggle\"") && strstr(r.out, "\"skipped\":\t1"), "%s",
                r.out);
  ck_assert_msg(strstr(r.err, "skipped 1 malformed record") && strstr(r.err, "full_emoji.csv:3"),
                "%s", r.err);
  gmt_run_free(&r);
}
END_TEST

START_TEST(unknown_sources_fail_and_bad_options_are_usage_errors) {
  gmt_run_result r = run(NULL, "--data /no/such/emoji");
  ck_assert_int_eq(r.code, 1);
  ck_assert_msg(strstr(r.err, "/no/such/emoji") && strstr(r.err, "no loader"), "%s", r.err);
  gmt_run_free(&r);

  r = run("GM_NOTO_FONT=/no/such/font.ttf", "--data noto");
  ck_assert_int_eq(r.code, 1);
  ck_assert_msg(strstr(r.err, "/no/such/font.ttf"), "%s", r.err);
  gmt_run_free(&r);

  const char *usage[] = {"--subset hands", "--limit many", "--size 0", "--background red",
                         "--heldout 2", "--frobnicate", "stray-operand", "--match",
                         "--match '(' --limit 1"};
  for (size_t i = 0; i < sizeof usage / sizeof usage[0]; i++) {
    r = run(NULL, usage[i]);
    ck_assert_msg(r.code == 2, "%s: exit %d (%s)", usage[i], r.code, r.err);
    ck_assert_msg(strstr(r.err, "genmoji: dataset:"), "%s: %s", usage[i], r.err);
    gmt_run_free(&r);
  }
  r = run(NULL, "--help");
  ck_assert_int_eq(r.code, 0);
  ck_assert_msg(strstr(r.out, "--data SRC") && strstr(r.out, "--export DIR"), "%s", r.out);
  gmt_run_free(&r);
}
END_TEST


/* File names are bytes: a PNG whose name is not UTF-8 (0xff, a lone continuation byte, a
 * truncated sequence) still gives valid JSON, the bad bytes shown as U+FFFD. */
START_TEST(json_is_valid_utf8_whatever_the_file_names) {
  const char *dir = gmt_path_in("odd-names");
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s' && cp '%s/apple.png' '%s/' && "
           "cp '%s/banana.png' \"%s/x$(printf '\\377')y.png\" && "
           "cp '%s/cherry.png' \"%s/$(printf 'caf\\303\\251-\\200-\\342\\202')z.png\"",
           dir, dir, gmt_fruit_pictures(), dir, gmt_fruit_pictures(), dir, gmt_fruit_pictures(),
           dir);
  ck_assert_int_eq(system(cmd), 0);
  char args[4200];
  snprintf(args, sizeof args, "--json --data '%s'", dir);
  gmt_run_result r = run(NULL, args);
  ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
  ck_assert_msg(gmt_valid_utf8(r.out, strlen(r.out)),
                "--json output is not valid UTF-8: %s", r.out);
  cJSON *o = cJSON_Parse(r.out);
  ck_assert_msg(cJSON_IsObject(o), "not JSON: %s", r.out);
  ck_assert_int_eq((int)gmt_json_num(o, "count"), 3);
  int replaced = 0, kept = 0;
  const cJSON *img;
  cJSON_ArrayForEach(img, gmt_json_at(o, "images")) {
    const char *name = gmt_json_str(img, "name"), *source = gmt_json_str(img, "source");
    /* x<ff>y: one U+FFFD; café-<80>-<e2 82>z: é kept, then one U+FFFD per bad part */
    if (strcmp(name, "x\xef\xbf\xbdy") == 0) replaced++;
    if (strcmp(name, "caf\xc3\xa9-\xef\xbf\xbd-\xef\xbf\xbdz") == 0) kept++;
    ck_assert_msg(strstr(source, "odd-names/"), "source %s", source);
  }
  ck_assert_msg(replaced == 1 && kept == 1, "names: %s", r.out);
  cJSON_Delete(o);
  gmt_run_free(&r);
}
END_TEST

static Suite *make_suite(void) {
  Suite *s = suite_create("cmd_dataset");
  TCase *tc = tcase_create("cli");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, noto_yellow_faces_are_at_least_85_and_the_grid_holds_them);
  tcase_add_test(tc, json_lists_count_source_loader_and_each_image);
  tcase_add_test(tc, export_then_reload_gives_the_same_names_and_pixels);
  tcase_add_test(tc, kaggle_folder_loads_through_the_command_with_skip_bad);
  tcase_add_test(tc, unknown_sources_fail_and_bad_options_are_usage_errors);
  tcase_add_test(tc, json_is_valid_utf8_whatever_the_file_names);
  tcase_add_test(tc, json_gives_each_image_its_cldr_text);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return gmt_run(make_suite()); }
