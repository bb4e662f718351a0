/* The notoemoji loader: a synthetic CBDT font (every index and glyph format) decoded
 * pixel for pixel, damaged copies of it and of the real Noto Color Emoji refused with
 * errors naming the file and table, seeded random mutations that must never crash, and
 * the counts on the system font when it is installed. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz/synth_sfnt.h"
#include "testlib.h"


static const gm_loader_vtable *loader(void) {
  static const gm_loader_vtable *vt;
  if (vt) return vt;
  void *h = dlopen(GM_BUILD_PLUGIN_DIR "/gm_notoemoji.so", RTLD_NOW | RTLD_LOCAL);
  ck_assert_msg(h != NULL, "dlopen: %s", dlerror());
  gm_plugin_entry_fn entry = (gm_plugin_entry_fn)dlsym(h, GM_PLUGIN_ENTRY_SYMBOL);
  ck_assert_ptr_nonnull(entry);
  const gm_plugin *p = entry();
  ck_assert_str_eq(p->kind, GM_PLUGIN_KIND_LOADER);
  ck_assert_str_eq(p->name, "notoemoji");
  vt = p->vtable;
  return vt;
}

/* Declares `char var[]` holding a path in the test's temporary folder. */
#define TMP_PATH(var, name) \
  char var[1200];           \
  snprintf(var, sizeof var, "%s/%s", gmt_tmpdir(), name)

static void write_bytes(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_uint_eq(fwrite(data, 1, len, f), len);
  fclose(f);
}

static uint8_t *read_bytes(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  ck_assert_ptr_nonnull(f);
  fseek(f, 0, SEEK_END);
  *len = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = malloc(*len ? *len : 1);
  ck_assert_uint_eq(fread(b, 1, *len, f), *len);
  fclose(f);
  return b;
}

static const char emoji_text[] =
    "# group: Smileys & Emotion\n"
    "# subgroup: face-smiling\n"
    "1F600 ; fully-qualified # 😀 E1.0 grinning face\n"
    "1F601 ; fully-qualified # 😁 E0.6 beaming face with smiling eyes\n"
    "1F603 ; fully-qualified # 😃 E0.6 grinning face with big eyes\n"
    "# subgroup: face-affection\n"
    "263A FE0F ; fully-qualified # ☺️ E0.6 smiling face\n"
    "263A ; unqualified # ☺ E0.6 smiling face\n"
    "2639 FE0F ; fully-qualified # ☹️ E0.7 frowning face\n"
    "1F60A ; fully-qualified # 😊 E0.6 smiling face with smiling eyes\n"
    "1F60D ; fully-qualified # 😍 E0.6 smiling face with heart-eyes\n"
    "# subgroup: family\n"
    "1F468 200D 1F469 ; fully-qualified # 👨‍👩 E2.0 couple\n"
    "# subgroup: heart\n"
    "2764 FE0F ; fully-qualified # ❤️ E0.6 red heart\n"
    "# subgroup: face-costume\n"
    "1F47B ; fully-qualified # 👻 E0.6 ghost\n";

/* Glyph g's bitmap: a 3x2 RGBA image whose pixels encode g, so a mix-up shows. */
static uint8_t glyph_png[SYNTH_MAX_GLYPHS][512];
static size_t glyph_png_len[SYNTH_MAX_GLYPHS];

static void glyph_pixel(int g, int i, uint8_t px[4]) {
  px[0] = (uint8_t)(g * 20), px[1] = (uint8_t)(i * 30), px[2] = (uint8_t)(255 - g), px[3] = (uint8_t)(100 + i);
}

static void make_glyph_pngs(void) {
  if (glyph_png_len[1]) return;
  for (int g = 1; g < SYNTH_MAX_GLYPHS; g++) {
    uint8_t px[6 * 4];
    for (int i = 0; i < 6; i++) glyph_pixel(g, i, px + 4 * i);
    TMP_PATH(path, "glyph.png");
    gm_error err = {0};
    gmt_ok(gm_png_write(path, px, 3, 2, 4, &err), &err);
    size_t len;
    uint8_t *b = read_bytes(path, &len);
    ck_assert_uint_le(len, sizeof glyph_png[0]);
    memcpy(glyph_png[g], b, len);
    glyph_png_len[g] = len;
    free(b);
  }
}

/* Glyphs 1..8 in five index subtables (formats 1, 3, 2, 4, 5); glyph 4 is mapped but
 * has no bitmap. */
static uint8_t *build_font(int cmap12, size_t *len, synth_marks *m) {
  make_glyph_pngs();
  synth_font sf = {.n_glyphs = 9, .cmap12 = cmap12, .n_subs = 5,
                   .cp = {0, 0x1F600, 0x1F603, 0x263A, 0x2639, 0x1F60A, 0x1F60D, 0x2764, 0x1F47B},
                   .subs = {{1, 17, 1, 2}, {3, 18, 3, 4}, {2, 19, 5, 6}, {4, 17, 7, 7}, {5, 18, 8, 8}}};
  for (int g = 1; g < 9; g++)
    if (g != 4) sf.png[g] = glyph_png[g], sf.png_len[g] = glyph_png_len[g];
  return synth_sfnt(&sf, len, m);
}

typedef struct run_result {
  int rc, count, faces;
  int glyph_of[32];     /* which synthetic glyph each image came from (decoded from pixels) */
  char names[32][128];
} run_result;

/* Opens font_path and reads every image; rc is the first error (open or next) or 0. */
static run_result run(const char *font_path, const char *emoji_test, gm_error *err) {
  run_result r = {0};
  gm_kv opt = {"emoji-test", emoji_test};
  void *st = NULL;
  r.rc = loader()->open(&st, font_path, &opt, emoji_test ? 1 : 0, err);
  if (r.rc) return r;
  gm_image img;
  int rc;
  while ((rc = loader()->next(st, &img, err)) == 1) {
    if (r.count < 32) {
      r.glyph_of[r.count] = img.width == 3 ? img.rgba[0] / 20 : -1;
      snprintf(r.names[r.count], sizeof r.names[0], "%s", img.name);
    }
    r.faces += !strncmp(img.subgroup, "face-", 5);
    r.count++;
    free(img.rgba);
  }
  r.rc = rc;
  loader()->close(st);
  return r;
}

START_TEST(synthetic_font_yields_every_index_and_glyph_format_in_emoji_test_order) {
  size_t len;
  synth_marks m;
  uint8_t *font = build_font(1, &len, &m);
  TMP_PATH(path, "synth.ttf");
  TMP_PATH(names, "emoji-test.txt");
  write_bytes(path, font, len);
  write_bytes(names, emoji_text, strlen(emoji_text));
  ck_assert_int_eq(loader()->probe(path), 1);
  gm_error err = {0};
  void *st;
  gm_kv opt = {"emoji-test", names};
  gmt_ok(loader()->open(&st, path, &opt, 1, &err), &err);
  static const struct { int glyph; const char *name, *subgroup; int n_cps; } want[] = {
      {1, "grinning face", "face-smiling", 1},   {2, "grinning face with big eyes", "face-smiling", 1},
      {3, "smiling face", "face-affection", 2},  {5, "smiling face with smiling eyes", "face-affection", 1},
      {6, "smiling face with heart-eyes", "face-affection", 1}, {7, "red heart", "heart", 2},
      {8, "ghost", "face-costume", 1}};
  gm_image img;
  for (size_t k = 0; k < sizeof want / sizeof *want; k++) {
    ck_assert_int_eq(loader()->next(st, &img, &err), 1);
    ck_assert_str_eq(img.name, want[k].name);
    ck_assert_str_eq(img.subgroup, want[k].subgroup);
    ck_assert_str_eq(img.group, "Smileys & Emotion");
    ck_assert_int_eq(img.n_codepoints, want[k].n_cps);
    char source[64];
    snprintf(source, sizeof source, "synth.ttf glyph %d", want[k].glyph);
    ck_assert_str_eq(img.source, source);
    ck_assert_int_eq(img.width, 3);
    ck_assert_int_eq(img.height, 2);
    for (int i = 0; i < 6; i++) {
      uint8_t px[4];
      glyph_pixel(want[k].glyph, i, px);
      ck_assert_mem_eq(img.rgba + 4 * i, px, 4);
    }
    free(img.rgba);
  }
  ck_assert_int_eq(loader()->next(st, &img, &err), 0);
  loader()->close(st);
  free(font);
}
END_TEST

START_TEST(format_4_cmap_alone_maps_the_bmp_codepoints) {
  size_t len;
  synth_marks m;
  uint8_t *font = build_font(0, &len, &m);
  TMP_PATH(path, "synth4.ttf");
  TMP_PATH(names, "emoji-test4.txt");
  write_bytes(path, font, len);
  write_bytes(names, emoji_text, strlen(emoji_text));
  gm_error err = {0};
  run_result r = run(path, names, &err);
  gmt_ok(r.rc, &err);
  ck_assert_int_eq(r.count, 2);
  ck_assert_int_eq(r.glyph_of[0], 3);   /* 263A: a direct idDelta segment */
  ck_assert_int_eq(r.glyph_of[1], 7);   /* 2764: through glyphIdArray */
  free(font);
}
END_TEST

/* Damages a copy of font with fn, and checks the loader fails naming the file and `want`. */
static void expect_damage_refused(const uint8_t *font, size_t len, void (*damage)(uint8_t *, size_t, const synth_marks *),
                                  const synth_marks *m, const char *names, const char *want, const char *label) {
  uint8_t *copy = malloc(len);
  memcpy(copy, font, len);
  damage(copy, len, m);
  TMP_PATH(path, "damaged.ttf");
  write_bytes(path, copy, len);
  gm_error err = {0};
  run_result r = run(path, names, &err);
  ck_assert_msg(r.rc == GM_EFORMAT, "%s: got %s: %s", label, gm_err_name(r.rc), err.msg);
  ck_assert_msg(strstr(err.msg, "damaged.ttf") && strstr(err.msg, want), "%s: message lacks the file or '%s': %s",
                label, want, err.msg);
  free(copy);
}

static void put32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v; }
static void put16(uint8_t *p, unsigned v) { p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v; }
static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

static void cblc_offset_past_end(uint8_t *f, size_t len, const synth_marks *m) { put32(f + m->dir_record[1] + 8, (uint32_t)len + 8); }
static void cbdt_length_past_end(uint8_t *f, size_t len, const synth_marks *m) { put32(f + m->dir_record[0] + 12, (uint32_t)len); }
static void few_glyphs(uint8_t *f, size_t len, const synth_marks *m) { put16(f + m->num_glyphs, 3); }
static void no_glyphs(uint8_t *f, size_t len, const synth_marks *m) { put16(f + m->num_glyphs, 0); }
static void huge_num_sizes(uint8_t *f, size_t len, const synth_marks *m) { put32(f + m->num_sizes, 0x7FFFFFFFu); }
static void huge_subtable_count(uint8_t *f, size_t len, const synth_marks *m) { put32(f + m->strike_array_off + 8, 0x10000000u); }
static void image_data_past_cbdt(uint8_t *f, size_t len, const synth_marks *m) { put32(f + m->image_data_off[0], 0xFFFFFF00u); }
static void image_data_format2_past(uint8_t *f, size_t len, const synth_marks *m) { put32(f + m->image_data_off[2], 0x7FFFFFF0u); }
static void huge_cmap_groups(uint8_t *f, size_t len, const synth_marks *m) { put32(f + m->cmap12_groups, 0x40000000u); }
static void png_length_overruns(uint8_t *f, size_t len, const synth_marks *m) { put32(f + m->png_len_field, 0x00FFFFFFu); }
static void png_bytes_corrupt(uint8_t *f, size_t len, const synth_marks *m) { f[m->png_data + 20] ^= 0xFF; }
static void not_sfnt(uint8_t *f, size_t len, const synth_marks *m) { put32(f, 0x12345678u); }

START_TEST(damaged_synthetic_fonts_are_errors_naming_file_and_table) {
  size_t len;
  synth_marks m;
  uint8_t *font = build_font(1, &len, &m);
  TMP_PATH(names, "emoji-test-d.txt");
  write_bytes(names, emoji_text, strlen(emoji_text));
  expect_damage_refused(font, len, cblc_offset_past_end, &m, names, "'CBLC'", "CBLC offset");
  expect_damage_refused(font, len, cbdt_length_past_end, &m, names, "'CBDT'", "CBDT length");
  expect_damage_refused(font, len, few_glyphs, &m, names, "numGlyphs is 3", "numGlyphs 3");
  expect_damage_refused(font, len, no_glyphs, &m, names, "maxp", "numGlyphs 0");
  expect_damage_refused(font, len, huge_num_sizes, &m, names, "numSizes", "numSizes");
  expect_damage_refused(font, len, huge_subtable_count, &m, names, "CBLC", "subtable count");
  expect_damage_refused(font, len, image_data_past_cbdt, &m, names, "CBDT: glyph 1", "imageDataOffset (format 1)");
  expect_damage_refused(font, len, image_data_format2_past, &m, names, "CBDT: glyph 5", "imageDataOffset (format 2)");
  expect_damage_refused(font, len, huge_cmap_groups, &m, names, "cmap", "numGroups");
  expect_damage_refused(font, len, png_length_overruns, &m, names, "overruns", "dataLen");
  expect_damage_refused(font, len, png_bytes_corrupt, &m, names, "glyph 1", "PNG bytes");
  expect_damage_refused(font, len, not_sfnt, &m, names, "not an sfnt font", "version");
  free(font);
}
END_TEST

START_TEST(every_truncation_of_the_synthetic_font_is_an_error) {
  size_t len;
  synth_marks m;
  uint8_t *font = build_font(1, &len, &m);
  TMP_PATH(names, "emoji-test-t.txt");
  TMP_PATH(path, "cut.ttf");
  write_bytes(names, emoji_text, strlen(emoji_text));
  for (size_t cut = 0; cut < len; cut++) {
    write_bytes(path, font, cut);
    gm_error err = {0};
    run_result r = run(path, names, &err);
    ck_assert_msg(r.rc == GM_EFORMAT, "cut at %zu of %zu: got %s: %s", cut, len, gm_err_name(r.rc), err.msg);
    ck_assert_msg(strstr(err.msg, path) != NULL, "cut at %zu: %s", cut, err.msg);
  }
  free(font);
}
END_TEST

/* Seeded random damage: whatever the loader says, it must not crash or leak (the
 * sanitizer build turns a bad read into a failure). */
START_TEST(random_byte_damage_never_crashes) {
  size_t len;
  synth_marks m;
  uint8_t *font = build_font(1, &len, &m);
  TMP_PATH(names, "emoji-test-r.txt");
  TMP_PATH(path, "mutant.ttf");
  write_bytes(names, emoji_text, strlen(emoji_text));
  gmt_rng r;
  gmt_rng_seed(&r, 42);
  uint8_t *copy = malloc(len);
  int refused = 0, ok = 0;
  for (int trial = 0; trial < 1500; trial++) {
    memcpy(copy, font, len);
    int flips = 1 + (int)gmt_uniform(&r, 0, 4);
    for (int k = 0; k < flips; k++) {
      size_t at = (size_t)gmt_uniform(&r, 0, (float)len);
      if (at >= len) at = len - 1;
      int mode = (int)gmt_uniform(&r, 0, 3);
      copy[at] = mode == 0 ? (uint8_t)gmt_uniform(&r, 0, 256) : mode == 1 ? 0xFF : (uint8_t)(copy[at] ^ 0x80);
    }
    write_bytes(path, copy, len);
    gm_error err = {0};
    run_result res = run(path, names, &err);
    ck_assert_msg(res.rc == 0 || res.rc == GM_EFORMAT || res.rc == GM_EUNSUPPORTED, "trial %d: %s: %s", trial,
                  gm_err_name(res.rc), err.msg);
    if (res.rc) refused++;
    else ok++;
  }
  printf("random damage: %d fonts refused, %d read\n", refused, ok);
  free(copy);
  free(font);
}
END_TEST

START_TEST(probe_options_and_missing_font_messages) {
  ck_assert_int_eq(loader()->probe("noto"), 1);
  ck_assert_int_eq(loader()->probe("notoemoji"), 1);
  ck_assert_int_eq(loader()->probe(""), 1);
  TMP_PATH(text, "plain.ttf");
  write_bytes(text, "not a font", 10);
  ck_assert_int_eq(loader()->probe(text), 0);
  TMP_PATH(missing_ttf, "missing.ttf");
  ck_assert_int_eq(loader()->probe(missing_ttf), 0);
  ck_assert_int_eq(loader()->probe(gmt_tmpdir()), 0);
  gm_error err = {0};
  void *st = (void *)1;
  gm_kv bad = {"vendor", "Apple"};
  ck_assert_int_eq(loader()->open(&st, "noto", &bad, 1, &err), GM_EINVAL);
  ck_assert_ptr_null(st);
  ck_assert_msg(strstr(err.msg, "vendor") != NULL, "%s", err.msg);
  const char *old = getenv("GM_NOTO_FONT");
  char *saved = old ? strdup(old) : NULL;
  TMP_PATH(missing, "NoSuchEmoji.ttf");
  setenv("GM_NOTO_FONT", missing, 1);
  ck_assert_int_eq(loader()->open(&st, "noto", NULL, 0, &err), GM_ENOTFOUND);
  ck_assert_msg(strstr(err.msg, missing) && strstr(err.msg, "fonts-noto-color-emoji"), "%s", err.msg);
  if (saved) setenv("GM_NOTO_FONT", saved, 1);
  else unsetenv("GM_NOTO_FONT");
  free(saved);
  ck_assert_int_eq(loader()->open(&st, text, NULL, 0, &err), GM_EFORMAT);
  ck_assert_msg(strstr(err.msg, text) != NULL, "%s", err.msg);
}
END_TEST

START_TEST(real_noto_font_yields_faces) {
  if (!gmt_require_file(__func__, GMT_NOTO_FONT, "fonts-noto-color-emoji") ||
      !gmt_require_file(__func__, GM_EMOJI_TEST_DEFAULT, "unicode-data"))
    return;
  ck_assert_int_eq(loader()->probe(GMT_NOTO_FONT), 1);
  gm_error err = {0};
  void *st;
  gmt_ok(loader()->open(&st, GMT_NOTO_FONT, NULL, 0, &err), &err);
  gm_image img;
  int rc, count = 0, faces = 0, single_faces = 0, found_grin = 0;
  while ((rc = loader()->next(st, &img, &err)) == 1) {
    count++;
    int face = !strncmp(img.subgroup, "face-", 5);
    faces += face;
    single_faces += face && img.n_codepoints == 1;
    if (img.n_codepoints == 1 && img.codepoints[0] == 0x1F600) {
      found_grin = 1;
      ck_assert_str_eq(img.name, "grinning face");
      ck_assert_int_eq(img.width, 136);
      ck_assert_int_eq(img.height, 128);
      const uint8_t *corner = img.rgba, *centre = img.rgba + 4 * (64 * 136 + 68);
      ck_assert_uint_eq(corner[3], 0);          /* transparent outside the face */
      ck_assert_uint_eq(centre[3], 255);
      ck_assert_msg(centre[0] > 200 && centre[1] > 150 && centre[2] < 120, "centre is not yellow: %u,%u,%u",
                    centre[0], centre[1], centre[2]);
      ck_assert_msg(strstr(img.source, "NotoColorEmoji.ttf glyph ") == img.source, "%s", img.source);
    }
    free(img.rgba);
  }
  gmt_ok(rc, &err);
  loader()->close(st);
  printf("%s: %d images, %d faces (%d single-codepoint, %d with U+FE0F)\n", GMT_NOTO_FONT, count,
         faces, single_faces,
         faces - single_faces);
  ck_assert(found_grin);
  ck_assert_int_ge(count, 1000);
  ck_assert_int_ge(single_faces, 100);
}
END_TEST

/* Reads the real font's directory to find a table, as a damaging test needs. */
static size_t table_record(const uint8_t *f, const char *tag) {
  unsigned n = (unsigned)f[4] << 8 | f[5];
  for (unsigned i = 0; i < n; i++)
    if (!memcmp(f + 12 + 16 * i, tag, 4)) return 12 + 16 * (size_t)i;
  ck_abort_msg("table %s not in the font", tag);
  return 0;
}

static void expect_real_refused(const uint8_t *copy, size_t len, const char *want, const char *label) {
  TMP_PATH(path, "DamagedNoto.ttf");
  write_bytes(path, copy, len);
  gm_error err = {0};
  run_result r = run(path, NULL, &err);
  unlink(path);
  ck_assert_msg(r.rc == GM_EFORMAT, "%s: got %s: %s", label, gm_err_name(r.rc), err.msg);
  ck_assert_msg(strstr(err.msg, "DamagedNoto.ttf") && strstr(err.msg, want), "%s: message lacks '%s': %s", label,
                want, err.msg);
}

START_TEST(damaged_copies_of_the_real_font_are_errors) {
  if (!gmt_require_file(__func__, GMT_NOTO_FONT, "fonts-noto-color-emoji") ||
      !gmt_require_file(__func__, GM_EMOJI_TEST_DEFAULT, "unicode-data"))
    return;
  size_t len;
  uint8_t *font = read_bytes(GMT_NOTO_FONT, &len);
  /* The file may end in padding after its last table; cut inside the tables. */
  size_t end = 0;
  for (unsigned i = 0, n = (unsigned)font[4] << 8 | font[5]; i < n; i++) {
    size_t e = (size_t)get32(font + 12 + 16 * i + 8) + get32(font + 12 + 16 * i + 12);
    if (e > end) end = e;
  }
  ck_assert_uint_le(end, len);
  const size_t cuts[] = {10, 100, 1000, len / 3, len / 2, end - 1000, end - 1};
  for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
    char label[64];
    snprintf(label, sizeof label, "truncated at %zu", cuts[i]);
    expect_real_refused(font, cuts[i], "DamagedNoto", label);
  }
  uint8_t *copy = malloc(len);
  size_t cbdt = table_record(font, "CBDT"), cblc = table_record(font, "CBLC"), maxp = table_record(font, "maxp");
  size_t cblc_off = get32(font + cblc + 8), maxp_off = get32(font + maxp + 8);

  memcpy(copy, font, len);
  put32(copy + cbdt + 8, (uint32_t)len + 64);
  expect_real_refused(copy, len, "'CBDT'", "CBDT offset past the end");

  memcpy(copy, font, len);
  put16(copy + maxp_off + 4, 10);
  expect_real_refused(copy, len, "numGlyphs is 10", "numGlyphs 10");

  memcpy(copy, font, len);
  put32(copy + cblc_off + 4, 0x00FFFFFFu);
  expect_real_refused(copy, len, "numSizes", "numSizes");

  /* The first index subtable of the first strike: its imageDataOffset into CBDT. */
  memcpy(copy, font, len);
  uint32_t array = get32(font + cblc_off + 8);
  uint32_t sub = array + get32(font + cblc_off + array + 4);
  put32(copy + cblc_off + sub + 4, 0xFFFFFF00u);
  expect_real_refused(copy, len, "CBDT: glyph", "CBDT glyph offset");
  free(copy);
  free(font);
}
END_TEST

int main(void) {
  Suite *s = suite_create("notoemoji");
  TCase *tc = tcase_create("cbdt");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, synthetic_font_yields_every_index_and_glyph_format_in_emoji_test_order);
  tcase_add_test(tc, format_4_cmap_alone_maps_the_bmp_codepoints);
  tcase_add_test(tc, damaged_synthetic_fonts_are_errors_naming_file_and_table);
  tcase_add_test(tc, every_truncation_of_the_synthetic_font_is_an_error);
  tcase_add_test(tc, random_byte_damage_never_crashes);
  tcase_add_test(tc, probe_options_and_missing_font_messages);
  tcase_add_test(tc, real_noto_font_yields_faces);
  tcase_add_test(tc, damaged_copies_of_the_real_font_are_errors);
  suite_add_tcase(s, tc);
  return gmt_run(s);
}
