/* The kaggle loader: its CSV reader, base64 and cell parsers (compiled in from the
 * plugin's source), and the plugin itself on Kaggle-layout folders this test builds from
 * real PNGs: full_emoji.csv with data URIs, its error and skip-bad paths, and the
 * image/<Vendor>/<n>.png layout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "testlib.h"

/* The parsers are internal to the plugin: build them into this test directly. */
#include "../loaders/kaggle/kaggle_csv.c"

/* ---- helpers ---- */

static kaggle__csv g_csv; /* 64 KiB buffer: not on the stack */

static void csv_mem(const char *text) { kaggle__csv_init_mem(&g_csv, text, strlen(text), "t.csv"); }

/* Reads the next record and checks it has exactly these fields (NULL-terminated list). */
static void expect_record(long line, const char *const *want) {
  gm_error err = {0};
  int rc = kaggle__csv_next(&g_csv, &err);
  ck_assert_msg(rc == 1, "want a record at line %ld, got %d (%s)", line, rc, err.msg);
  ck_assert_int_eq(g_csv.line, line);
  int n = 0;
  while (want[n]) n++;
  ck_assert_int_eq(g_csv.n_fields, n);
  for (int i = 0; i < n; i++) {
    ck_assert_str_eq(g_csv.fields[i], want[i]);
    ck_assert_uint_eq(g_csv.lens[i], strlen(want[i]));
  }
}

static void expect_end(void) {
  gm_error err = {0};
  ck_assert_int_eq(kaggle__csv_next(&g_csv, &err), 0);
  kaggle__csv_close(&g_csv);
}

/* Expects a malformed record whose message contains both fragments. */
static void expect_error(const char *frag1, const char *frag2) {
  gm_error err = {0};
  int rc = kaggle__csv_next(&g_csv, &err);
  ck_assert_int_eq(rc, GM_EFORMAT);
  ck_assert_msg(strstr(err.msg, frag1) && strstr(err.msg, frag2),
                "message \"%s\" lacks \"%s\" or \"%s\"", err.msg, frag1, frag2);
}

#define REC(line, ...) expect_record(line, (const char *const[]){__VA_ARGS__, NULL})

static char *b64_encode(const uint8_t *data, size_t n) {
  static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  char *out = malloc(4 * ((n + 2) / 3) + 1);
  ck_assert_ptr_nonnull(out);
  size_t k = 0;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)data[i] << 16;
    if (i + 1 < n) v |= (uint32_t)data[i + 1] << 8;
    if (i + 2 < n) v |= data[i + 2];
    out[k++] = al[v >> 18 & 63];
    out[k++] = al[v >> 12 & 63];
    out[k++] = i + 1 < n ? al[v >> 6 & 63] : '=';
    out[k++] = i + 2 < n ? al[v & 63] : '=';
  }
  out[k] = '\0';
  return out;
}

static uint8_t *read_all(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  ck_assert_ptr_nonnull(f);
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *buf = malloc((size_t)len + 1);
  ck_assert_ptr_nonnull(buf);
  ck_assert_uint_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
  fclose(f);
  *n = (size_t)len;
  return buf;
}

/* A w x h PNG of one opaque colour, written with gm_png_write and read back as bytes. */
static uint8_t *solid_png(int w, int h, uint8_t r, uint8_t g, uint8_t b, size_t *n) {
  uint8_t *px = malloc((size_t)w * (size_t)h * 4);
  for (int i = 0; i < w * h; i++) {
    px[4 * i] = r;
    px[4 * i + 1] = g;
    px[4 * i + 2] = b;
    px[4 * i + 3] = 255;
  }
  char path[1100];
  snprintf(path, sizeof path, "%s/solid.png", gmt_tmpdir());
  gm_error err = {0};
  gmt_ok(gm_png_write(path, px, w, h, 4, &err), &err);
  free(px);
  return read_all(path, n);
}

/* "data:image/png;base64,..." of a solid PNG (caller frees). */
static char *png_uri(int w, int h, uint8_t r, uint8_t g, uint8_t b) {
  size_t n;
  uint8_t *png = solid_png(w, h, r, g, b, &n);
  char *b64 = b64_encode(png, n);
  free(png);
  char *uri = malloc(strlen(b64) + 32);
  sprintf(uri, "data:image/png;base64,%s", b64);
  free(b64);
  return uri;
}

static const char k_header[] =
    "#,emoji,unicode,name,Apple,Google,Facebook,Windows,Twitter,JoyPixels,Samsung,Gmail,"
    "SoftBank,DoCoMo,KDDI";

/* A fresh folder under the test's temp dir. */
static const char *fresh_dir(const char *name) {
  static char path[1100];
  snprintf(path, sizeof path, "%s/%s", gmt_tmpdir(), name);
  ck_assert_msg(mkdir(path, 0777) == 0, "mkdir %s", path);
  return path;
}

static void write_text(const char *dir, const char *name, const char *text) {
  char path[1300];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
}

/* A data row: #, emoji, unicode, name, then the Apple and Google cells and dashes. An
 * image cell holds a comma ("data:image/png;base64,"), so it is quoted as in the real file. */
static void append_row(char **csv, const char *num, const char *unicode, const char *name,
                       const char *apple, const char *google, const char *eol) {
  size_t need = strlen(*csv) + strlen(unicode) + strlen(name) + strlen(apple) + strlen(google) +
                strlen(num) + 64;
  *csv = realloc(*csv, need);
  const char *qa = strchr(apple, ',') ? "\"" : "", *qg = strchr(google, ',') ? "\"" : "";
  sprintf(*csv + strlen(*csv), "%s,x,%s,%s,%s%s%s,%s%s%s,-,-,-,-,-,-,-,-,-%s", num, unicode, name,
          qa, apple, qa, qg, google, qg, eol);
}

static gm_registry *g_reg;

static const gm_loader_vtable *kaggle_vtable(void) {
  if (!g_reg) {
    gm_error err = {0};
    const char *dirs[] = {GM_BUILD_PLUGIN_DIR};
    gmt_ok(gm_registry_create(&g_reg, dirs, 1, &err), &err);
  }
  const gm_plugin_record *r = gm_registry_find(g_reg, GM_PLUGIN_KIND_LOADER, "kaggle");
  ck_assert_msg(r != NULL, "the kaggle plugin is not in %s", GM_BUILD_PLUGIN_DIR);
  return r->vtable;
}

typedef struct loaded {
  int n;
  gm_image img[16];
  int skipped;
  char first_skip[GM_ERROR_MSG_MAX];
} loaded;

/* Opens and reads a source to the end: 0, or the failing code with its message in err. */
static int load(const char *source, const gm_kv *opts, int n_opts, loaded *out, gm_error *err) {
  const gm_loader_vtable *v = kaggle_vtable();
  memset(out, 0, sizeof *out);
  void *st = NULL;
  int rc = v->open(&st, source, opts, n_opts, err);
  if (rc) return rc;
  for (;;) {
    ck_assert_int_lt(out->n, 16);
    rc = v->next(st, &out->img[out->n], err);
    if (rc != 1) break;
    out->n++;
  }
  ck_assert_ptr_nonnull(v->skipped);
  out->skipped = v->skipped(st, out->first_skip, sizeof out->first_skip);
  v->close(st);
  return rc;
}

static void free_loaded(loaded *l) {
  for (int i = 0; i < l->n; i++) free(l->img[i].rgba);
  l->n = 0;
}

static void expect_pixel(const gm_image *img, int w, int h, uint8_t r, uint8_t g, uint8_t b) {
  ck_assert_int_eq(img->width, w);
  ck_assert_int_eq(img->height, h);
  for (int i = 0; i < w * h; i++) {
    const uint8_t *p = img->rgba + 4 * i;
    ck_assert_msg(p[0] == r && p[1] == g && p[2] == b && p[3] == 255,
                  "%s pixel %d: %d,%d,%d,%d, want %d,%d,%d,255", img->name, i, p[0], p[1], p[2],
                  p[3], r, g, b);
  }
}

static void expect_msg(const gm_error *err, const char *a, const char *b) {
  ck_assert_msg(strstr(err->msg, a) && strstr(err->msg, b), "message \"%s\" lacks \"%s\" or \"%s\"",
                err->msg, a, b);
}

/* ---- the CSV reader ---- */

START_TEST(csv_reads_quotes_doubled_quotes_commas_and_newlines_in_fields) {
  csv_mem("a,\"b,c\",\"say \"\"hi\"\"\",\"two\nlines\"\nx,,\"\",z\n");
  REC(1, "a", "b,c", "say \"hi\"", "two\nlines");
  REC(3, "x", "", "", "z");
  expect_end();
}
END_TEST

START_TEST(csv_accepts_crlf_lf_and_a_missing_final_newline) {
  csv_mem("h1,h2\r\n1,\"a\r\nb\"\r\n2,c\n3,d");
  REC(1, "h1", "h2");
  REC(2, "1", "a\r\nb");
  REC(4, "2", "c");
  REC(5, "3", "d");
  expect_end();
}
END_TEST

START_TEST(csv_skips_blank_lines_but_counts_them) {
  csv_mem("a\n\n\r\nb\n\n");
  REC(1, "a");
  REC(4, "b");
  expect_end();
}
END_TEST

START_TEST(csv_reports_an_unterminated_quote_at_eof_with_its_line) {
  csv_mem("h\nok\n1,\"never closed\nmore\n");
  REC(1, "h");
  REC(2, "ok");
  expect_error("t.csv:3:", "unterminated");
  expect_end();
}
END_TEST

START_TEST(csv_reports_text_after_a_closing_quote_and_goes_on_at_the_next_line) {
  csv_mem("h\n\"a\"b,c\nd,e\n1,x\"y\n2\n");
  REC(1, "h");
  expect_error("t.csv:2:", "after the closing quote");
  REC(3, "d", "e");
  expect_error("t.csv:4:", "stray quote");
  REC(5, "2");
  expect_end();
}
END_TEST

START_TEST(csv_reads_records_across_file_buffer_boundaries) {
  /* A 200 kB field and a quote pair split by the 64 kB read buffer. */
  char path[1100];
  snprintf(path, sizeof path, "%s/big.csv", gmt_tmpdir());
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  fputs("a,\"", f);
  /* The doubled quote of i = 65534 sits at file offsets 131071 and 131072. */
  for (int i = 0; i < 200000; i++) fputc(i == 65534 ? '"' : 'x', f), fputc(i == 65534 ? '"' : 'y', f);
  fputs("\"\r\nb,c\r\n", f);
  fclose(f);
  f = fopen(path, "rb");
  kaggle__csv_init_file(&g_csv, f, path);
  gm_error err = {0};
  ck_assert_int_eq(kaggle__csv_next(&g_csv, &err), 1);
  ck_assert_int_eq(g_csv.n_fields, 2);
  ck_assert_uint_eq(g_csv.lens[1], 400000 - 1);
  ck_assert_int_eq(g_csv.fields[1][65534 * 2 - 1], 'y');
  ck_assert_int_eq(g_csv.fields[1][65534 * 2], '"');
  ck_assert_int_eq(g_csv.fields[1][65534 * 2 + 1], 'x');
  REC(2, "b", "c");
  expect_end();
  fclose(f);
}
END_TEST

/* ---- base64 and cells ---- */

static void b64_ok(const char *in, const char *want) {
  uint8_t *out = NULL;
  size_t n = 99;
  gm_error err = {0};
  gmt_ok(kaggle__base64_decode(in, strlen(in), &out, &n, &err), &err);
  ck_assert_uint_eq(n, strlen(want));
  ck_assert_int_eq(memcmp(out, want, n), 0);
  free(out);
}

static void b64_bad(const char *in, const char *frag) {
  uint8_t *out = NULL;
  size_t n = 0;
  gm_error err = {0};
  ck_assert_int_eq(kaggle__base64_decode(in, strlen(in), &out, &n, &err), GM_EFORMAT);
  ck_assert_msg(strstr(err.msg, frag), "\"%s\": message \"%s\" lacks \"%s\"", in, err.msg, frag);
  ck_assert_ptr_null(out);
}

START_TEST(base64_decodes_the_rfc4648_vectors) {
  b64_ok("", "");
  b64_ok("Zg==", "f");
  b64_ok("Zm8=", "fo");
  b64_ok("Zm9v", "foo");
  b64_ok("Zm9vYg==", "foob");
  b64_ok("Zm9vYmE=", "fooba");
  b64_ok("Zm9vYmFy", "foobar");
  b64_ok("+/+/", "\xfb\xff\xbf");
}
END_TEST

START_TEST(base64_rejects_bad_characters_padding_and_truncation) {
  b64_bad("Zm9v*mFy", "bad character '*' at offset 4");
  b64_bad("Zm9v Zg==", "bad character ' ' at offset 4");
  b64_bad("Zm9vYmF\n", "0x0a at offset 7");
  b64_bad("Zm-v", "'-'");           /* the URL-safe alphabet is not RFC 4648 section 4 */
  b64_bad("Zm9vYmE", "not a multiple of 4");
  b64_bad("Zm9vY", "not a multiple of 4");
  b64_bad("Zg=", "not a multiple of 4");
  b64_bad("Z===", "padding characters");
  b64_bad("Zg=a", "padding '=' at offset 2");
  b64_bad("Zh==", "stray bits");
  b64_bad("Zm9=", "stray bits");
  b64_bad("====", "padding characters");
}
END_TEST

START_TEST(cells_parse_codepoint_lists_and_data_uris) {
  uint32_t cps[16];
  int n = 0;
  gm_error err = {0};
  gmt_ok(kaggle__codepoints("U+1F600", cps, 16, &n, &err), &err);
  ck_assert_int_eq(n, 1);
  ck_assert_uint_eq(cps[0], 0x1F600);
  gmt_ok(kaggle__codepoints("U+1F468  U+200D u+1f469 ", cps, 16, &n, &err), &err);
  ck_assert_int_eq(n, 3);
  ck_assert_uint_eq(cps[1], 0x200D);
  ck_assert_uint_eq(cps[2], 0x1F469);
  ck_assert_int_eq(kaggle__codepoints("", cps, 16, &n, &err), GM_EFORMAT);
  ck_assert_int_eq(kaggle__codepoints("1F600", cps, 16, &n, &err), GM_EFORMAT);
  ck_assert_int_eq(kaggle__codepoints("U+", cps, 16, &n, &err), GM_EFORMAT);
  ck_assert_int_eq(kaggle__codepoints("U+110000", cps, 16, &n, &err), GM_EFORMAT);
  ck_assert_int_eq(kaggle__codepoints("U+1F600x", cps, 16, &n, &err), GM_EFORMAT);
  ck_assert_int_eq(kaggle__codepoints("U+1 U+2 U+3", cps, 2, &n, &err), GM_EFORMAT);

  const char *b64;
  size_t len;
  ck_assert_int_eq(kaggle__data_uri("-", 1, &b64, &len, &err), 1);
  ck_assert_int_eq(kaggle__data_uri("", 0, &b64, &len, &err), 1);
  const char uri[] = "data:image/png;base64,Zm9v";
  ck_assert_int_eq(kaggle__data_uri(uri, strlen(uri), &b64, &len, &err), 0);
  ck_assert_uint_eq(len, 4);
  ck_assert_int_eq(strncmp(b64, "Zm9v", 4), 0);
  ck_assert_int_eq(kaggle__data_uri("data:image/gif;base64,Zm9v", 26, &b64, &len, &err),
                   GM_EFORMAT);
  ck_assert_msg(strstr(err.msg, "data:image/gif"), "%s", err.msg);
}
END_TEST

/* ---- the plugin on full_emoji.csv ---- */

/* Rows 2..: grinning face (Apple red 4x4, Google green 3x5); a name with a comma and
 * quotes (Apple blue 2x2); a ZWJ family with an embedded newline in its name and no Apple
 * image (Google white 1x1); then a row with CRLF (Apple grey 5x3). */
static const char *good_fixture(const char *name) {
  const char *dir = fresh_dir(name);
  char *red = png_uri(4, 4, 255, 0, 0), *green = png_uri(3, 5, 0, 255, 0);
  char *blue = png_uri(2, 2, 0, 0, 255), *white = png_uri(1, 1, 255, 255, 255);
  char *grey = png_uri(5, 3, 128, 128, 128);
  char *csv = strdup(k_header);
  csv = realloc(csv, strlen(csv) + 2);
  strcat(csv, "\n");
  append_row(&csv, "1", "U+1F600", "grinning face", red, green, "\n");
  append_row(&csv, "2", "U+263A", "\"smiling, \"\"quoted\"\" face\"", blue, "-", "\n");
  append_row(&csv, "3", "U+1F468 U+200D U+1F469 U+200D U+1F467", "\"family:\nman, woman, girl\"",
             "-", white, "\n");
  append_row(&csv, "4", "U+1F609", "\"winking face\"", grey, "-", "\r\n");
  write_text(dir, "full_emoji.csv", csv);
  free(csv);
  free(red);
  free(green);
  free(blue);
  free(white);
  free(grey);
  return dir;
}

START_TEST(kaggle_reads_the_apple_column_with_names_groups_and_lines) {
  const char *dir = good_fixture("good");
  loaded l;
  gm_error err = {0};
  gmt_ok(load(dir, NULL, 0, &l, &err), &err);
  ck_assert_int_eq(l.n, 3);
  ck_assert_int_eq(l.skipped, 0);

  ck_assert_str_eq(l.img[0].name, "grinning face");
  ck_assert_int_eq(l.img[0].n_codepoints, 1);
  ck_assert_uint_eq(l.img[0].codepoints[0], 0x1F600);
  ck_assert_str_eq(l.img[0].group, "Smileys & Emotion");
  ck_assert_str_eq(l.img[0].subgroup, "face-smiling");
  ck_assert_msg(strstr(l.img[0].source, "full_emoji.csv:2#Apple"), "%s", l.img[0].source);
  expect_pixel(&l.img[0], 4, 4, 255, 0, 0);

  ck_assert_str_eq(l.img[1].name, "smiling, \"quoted\" face");
  ck_assert_str_eq(l.img[1].subgroup, "face-affection"); /* 263A found as 263A FE0F */
  expect_pixel(&l.img[1], 2, 2, 0, 0, 255);

  /* The family row (lines 4-5) has no Apple image; the CRLF row starts on line 6. */
  ck_assert_str_eq(l.img[2].name, "winking face");
  ck_assert_msg(strstr(l.img[2].source, "full_emoji.csv:6#Apple"), "%s", l.img[2].source);
  expect_pixel(&l.img[2], 5, 3, 128, 128, 128);
  free_loaded(&l);
}
END_TEST

START_TEST(kaggle_vendor_option_picks_another_column_case_insensitively) {
  const char *dir = good_fixture("google");
  loaded l;
  gm_error err = {0};
  gm_kv opts[] = {{"vendor", "google"}};
  gmt_ok(load(dir, opts, 1, &l, &err), &err);
  ck_assert_int_eq(l.n, 2);
  expect_pixel(&l.img[0], 3, 5, 0, 255, 0);
  ck_assert_str_eq(l.img[1].name, "family:\nman, woman, girl");
  ck_assert_int_eq(l.img[1].n_codepoints, 5);
  ck_assert_str_eq(l.img[1].subgroup, "family");
  ck_assert_msg(strstr(l.img[1].source, "full_emoji.csv:4#Google"), "%s", l.img[1].source);
  expect_pixel(&l.img[1], 1, 1, 255, 255, 255);
  free_loaded(&l);
}
END_TEST

START_TEST(kaggle_unknown_vendor_or_option_is_an_error_listing_the_choices) {
  const char *dir = good_fixture("vendors");
  loaded l;
  gm_error err = {0};
  gm_kv opts[] = {{"vendor", "Nokia"}};
  ck_assert_int_eq(load(dir, opts, 1, &l, &err), GM_EINVAL);
  expect_msg(&err, "\"Nokia\"", "Apple, Google, Facebook, Windows, Twitter, JoyPixels, Samsung, "
                                "Gmail, SoftBank, DoCoMo, KDDI");
  gm_kv bad[] = {{"colour", "red"}};
  ck_assert_int_eq(load(dir, bad, 1, &l, &err), GM_EINVAL);
  expect_msg(&err, "colour", "vendor, skip-bad");
  gm_kv flag[] = {{"skip-bad", "yes"}};
  ck_assert_int_eq(load(dir, flag, 1, &l, &err), GM_EINVAL);
  expect_msg(&err, "skip-bad", "0 or 1");
}
END_TEST

/* One bad row among good ones: the load fails naming the line, or with skip-bad=1 goes
 * on and counts it. */
static void bad_row_case(const char *name, const char *bad_row, const char *frag) {
  const char *dir = fresh_dir(name);
  char *red = png_uri(2, 2, 255, 0, 0);
  char *csv = strdup(k_header);
  csv = realloc(csv, strlen(csv) + 2);
  strcat(csv, "\n");
  append_row(&csv, "1", "U+1F600", "grinning face", red, "-", "\n");
  csv = realloc(csv, strlen(csv) + strlen(bad_row) + 2);
  strcat(csv, bad_row);
  append_row(&csv, "3", "U+1F609", "winking face", red, "-", "\n");
  write_text(dir, "full_emoji.csv", csv);
  free(csv);
  free(red);

  loaded l;
  gm_error err = {0};
  int rc = load(dir, NULL, 0, &l, &err);
  ck_assert_msg(rc < 0, "%s: the bad row was accepted", name);
  expect_msg(&err, "full_emoji.csv:3", frag);
  free_loaded(&l);

  gm_kv opts[] = {{"skip-bad", "1"}};
  gmt_ok(load(dir, opts, 1, &l, &err), &err);
  ck_assert_int_eq(l.n, 2);
  ck_assert_str_eq(l.img[1].name, "winking face");
  ck_assert_int_eq(l.skipped, 1);
  ck_assert_msg(strstr(l.first_skip, "full_emoji.csv:3") && strstr(l.first_skip, frag), "%s",
                l.first_skip);
  free_loaded(&l);
}

START_TEST(kaggle_bad_base64_fails_with_the_line_or_is_skipped) {
  bad_row_case("b64char", "2,x,U+1F603,big eyes,\"data:image/png;base64,iVBO*w0KGgo=\",-,-,-,-,-,-,-,-,-,-\n",
               "bad character '*'");
  bad_row_case("b64trunc", "2,x,U+1F603,big eyes,\"data:image/png;base64,iVBORw0KGg\",-,-,-,-,-,-,-,-,-,-\n",
               "not a multiple of 4");
  bad_row_case("b64pad", "2,x,U+1F603,big eyes,\"data:image/png;base64,iVBORw0KGgo==A=\",-,-,-,-,-,-,-,-,-,-\n",
               "padding");
}
END_TEST

START_TEST(kaggle_undecodable_png_or_bad_cells_fail_with_the_line_or_are_skipped) {
  /* "hello world!" is valid base64 but no PNG. */
  bad_row_case("notpng", "2,x,U+1F603,big eyes,\"data:image/png;base64,aGVsbG8gd29ybGQh\",-,-,-,-,-,-,-,-,-,-\n",
               "Apple column");
  bad_row_case("gif", "2,x,U+1F603,big eyes,\"data:image/gif;base64,aGVsbG8gd29ybGQh\",-,-,-,-,-,-,-,-,-,-\n",
               "data:image/png;base64");
  bad_row_case("unicode", "2,x,1F603,big eyes,-,-,-,-,-,-,-,-,-,-,-\n", "unicode column");
}
END_TEST

START_TEST(kaggle_ragged_rows_and_csv_syntax_errors_fail_with_the_line_or_are_skipped) {
  bad_row_case("short", "2,x,U+1F603,big eyes,-\n", "5 fields where the header has 15");
  bad_row_case("long", "2,x,U+1F603,big eyes,-,-,-,-,-,-,-,-,-,-,-,extra\n", "16 fields");
  bad_row_case("afterquote", "2,x,U+1F603,\"big\" eyes,-,-,-,-,-,-,-,-,-,-,-\n",
               "after the closing quote");
}
END_TEST

START_TEST(kaggle_unterminated_quote_at_eof_names_its_line) {
  const char *dir = fresh_dir("unterminated");
  char *red = png_uri(2, 2, 255, 0, 0);
  char *csv = strdup(k_header);
  csv = realloc(csv, strlen(csv) + 2);
  strcat(csv, "\n");
  append_row(&csv, "1", "U+1F600", "grinning face", red, "-", "\n");
  append_row(&csv, "2", "U+1F609", "\"winking face", red, "-", "\n");
  write_text(dir, "full_emoji.csv", csv);
  free(csv);
  free(red);
  loaded l;
  gm_error err = {0};
  ck_assert_int_eq(load(dir, NULL, 0, &l, &err), GM_EFORMAT);
  expect_msg(&err, "full_emoji.csv:3", "unterminated");
  free_loaded(&l);
  gm_kv opts[] = {{"skip-bad", "1"}};
  gmt_ok(load(dir, opts, 1, &l, &err), &err);
  ck_assert_int_eq(l.n, 1);
  ck_assert_int_eq(l.skipped, 1);
  free_loaded(&l);
}
END_TEST

START_TEST(kaggle_header_without_required_columns_or_empty_file_is_an_error) {
  const char *dir = fresh_dir("noheader");
  write_text(dir, "full_emoji.csv", "#,emoji,name,Apple\n1,x,grinning face,-\n");
  loaded l;
  gm_error err = {0};
  ck_assert_int_eq(load(dir, NULL, 0, &l, &err), GM_EFORMAT);
  expect_msg(&err, "full_emoji.csv:1", "\"unicode\"");
  dir = fresh_dir("empty");
  write_text(dir, "full_emoji.csv", "");
  ck_assert_int_eq(load(dir, NULL, 0, &l, &err), GM_EFORMAT);
  expect_msg(&err, "full_emoji.csv", "empty");
}
END_TEST

/* ---- the plugin on image/<Vendor>/<n>.png ---- */

static void write_png_file(const char *dir, const char *name, uint8_t grey) {
  size_t n;
  uint8_t *png = solid_png(2, 3, grey, grey, grey, &n);
  char path[1300];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  fwrite(png, 1, n, f);
  fclose(f);
  free(png);
}

START_TEST(kaggle_image_folders_are_read_in_numeric_order) {
  const char *root = fresh_dir("folders");
  char root_copy[1100], apple[1200], google[1200];
  snprintf(root_copy, sizeof root_copy, "%s", root);
  snprintf(apple, sizeof apple, "%s/image", root_copy);
  ck_assert_int_eq(mkdir(apple, 0777), 0);
  snprintf(google, sizeof google, "%s/image/Google", root_copy);
  ck_assert_int_eq(mkdir(google, 0777), 0);
  snprintf(apple, sizeof apple, "%s/image/Apple", root_copy);
  ck_assert_int_eq(mkdir(apple, 0777), 0);
  write_png_file(apple, "10.png", 10);
  write_png_file(apple, "2.png", 2);
  write_png_file(apple, "1.png", 1);
  write_png_file(apple, "notes.png", 99); /* not numbered: not part of the layout */
  write_png_file(google, "7.png", 7);

  const gm_loader_vtable *v = kaggle_vtable();
  ck_assert_int_eq(v->probe(root_copy), 1);
  loaded l;
  gm_error err = {0};
  gmt_ok(load(root_copy, NULL, 0, &l, &err), &err);
  ck_assert_int_eq(l.n, 3);
  const char *names[] = {"1", "2", "10"};
  const uint8_t greys[] = {1, 2, 10};
  for (int i = 0; i < 3; i++) {
    ck_assert_str_eq(l.img[i].name, names[i]);
    ck_assert_int_eq(l.img[i].n_codepoints, 0);
    expect_pixel(&l.img[i], 2, 3, greys[i], greys[i], greys[i]);
  }
  ck_assert_msg(strstr(l.img[2].source, "image/Apple/10.png"), "%s", l.img[2].source);
  free_loaded(&l);

  gm_kv opts[] = {{"vendor", "GOOGLE"}};
  gmt_ok(load(root_copy, opts, 1, &l, &err), &err);
  ck_assert_int_eq(l.n, 1);
  ck_assert_str_eq(l.img[0].name, "7");
  free_loaded(&l);

  gm_kv nokia[] = {{"vendor", "Nokia"}};
  ck_assert_int_eq(load(root_copy, nokia, 1, &l, &err), GM_EINVAL);
  expect_msg(&err, "Apple", "Google");

  /* A broken numbered PNG: an error naming it, or skipped and counted. */
  write_text(apple, "3.png", "not a png");
  ck_assert_int_lt(load(root_copy, NULL, 0, &l, &err), 0);
  expect_msg(&err, "3.png", "");
  free_loaded(&l);
  gm_kv skip[] = {{"skip-bad", "1"}};
  gmt_ok(load(root_copy, skip, 1, &l, &err), &err);
  ck_assert_int_eq(l.n, 3);
  ck_assert_int_eq(l.skipped, 1);
  free_loaded(&l);
}
END_TEST

START_TEST(kaggle_probe_accepts_only_the_kaggle_layout) {
  const gm_loader_vtable *v = kaggle_vtable();
  const char *dir = good_fixture("probe");
  char csv[1200];
  snprintf(csv, sizeof csv, "%s/full_emoji.csv", dir);
  ck_assert_int_eq(v->probe(dir), 1);
  ck_assert_int_eq(v->probe(csv), 1);
  ck_assert_int_eq(v->probe(fresh_dir("plain")), 0);
  ck_assert_int_eq(v->probe("/nonexistent/kaggle"), 0);
  ck_assert_int_eq(v->probe("noto"), 0);
  ck_assert_int_eq(v->probe(""), 0);
}
END_TEST

static Suite *make_suite(void) {
  Suite *s = suite_create("kaggle");
  TCase *tc = tcase_create("csv");
  tcase_add_test(tc, csv_reads_quotes_doubled_quotes_commas_and_newlines_in_fields);
  tcase_add_test(tc, csv_accepts_crlf_lf_and_a_missing_final_newline);
  tcase_add_test(tc, csv_skips_blank_lines_but_counts_them);
  tcase_add_test(tc, csv_reports_an_unterminated_quote_at_eof_with_its_line);
  tcase_add_test(tc, csv_reports_text_after_a_closing_quote_and_goes_on_at_the_next_line);
  tcase_add_test(tc, csv_reads_records_across_file_buffer_boundaries);
  tcase_add_test(tc, base64_decodes_the_rfc4648_vectors);
  tcase_add_test(tc, base64_rejects_bad_characters_padding_and_truncation);
  tcase_add_test(tc, cells_parse_codepoint_lists_and_data_uris);
  suite_add_tcase(s, tc);
  tc = tcase_create("loader");
  tcase_add_test(tc, kaggle_reads_the_apple_column_with_names_groups_and_lines);
  tcase_add_test(tc, kaggle_vendor_option_picks_another_column_case_insensitively);
  tcase_add_test(tc, kaggle_unknown_vendor_or_option_is_an_error_listing_the_choices);
  tcase_add_test(tc, kaggle_bad_base64_fails_with_the_line_or_is_skipped);
  tcase_add_test(tc, kaggle_undecodable_png_or_bad_cells_fail_with_the_line_or_are_skipped);
  tcase_add_test(tc, kaggle_ragged_rows_and_csv_syntax_errors_fail_with_the_line_or_are_skipped);
  tcase_add_test(tc, kaggle_unterminated_quote_at_eof_names_its_line);
  tcase_add_test(tc, kaggle_header_without_required_columns_or_empty_file_is_an_error);
  tcase_add_test(tc, kaggle_image_folders_are_read_in_numeric_order);
  tcase_add_test(tc, kaggle_probe_accepts_only_the_kaggle_layout);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  int rc = gmt_run(make_suite());
  gm_registry_destroy(g_reg);
  return rc;
}
