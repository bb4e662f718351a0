/* The dataset layer: exact area resize, compositing and padding against references; the
 * filters, the limit and the held-out split on a loader defined here; the yellow filter
 * on named emojis of the real Noto font; loader discovery; batches on the device for each
 * pixel map, with flips. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dataset_internal.h"
#include "testlib.h"

/* ---- resize, composite, pad ---- */

/* The double-precision box filter: output pixel i covers [i*s/d, (i+1)*s/d). */
static double box_reference(const uint8_t *src, int s, int d, int xo, int yo, int c) {
  double scale = (double)s / d, sum = 0;
  double x0 = xo * scale, x1 = (xo + 1) * scale, y0 = yo * scale, y1 = (yo + 1) * scale;
  for (int y = (int)floor(y0); y < s && y < y1; y++) {
    double wy = fmin(y1, y + 1.0) - fmax(y0, (double)y);
    if (wy <= 0) continue;
    for (int x = (int)floor(x0); x < s && x < x1; x++) {
      double wx = fmin(x1, x + 1.0) - fmax(x0, (double)x);
      if (wx > 0) sum += wx * wy * src[3 * (y * s + x) + c];
    }
  }
  return sum / (scale * scale);
}

static void check_against_reference(int s, int d, uint64_t seed) {
  gmt_rng rng;
  gmt_rng_seed(&rng, seed);
  uint8_t *src = malloc(3 * (size_t)s * s), *dst = malloc(3 * (size_t)d * d);
  for (int i = 0; i < 3 * s * s; i++) src[i] = (uint8_t)gmt_uniform(&rng, 0, 256);
  gm_error err = {0};
  gmt_ok(gm__resize_area(dst, d, src, s, &err), &err);
  for (int y = 0; y < d; y++)
    for (int x = 0; x < d; x++)
      for (int c = 0; c < 3; c++) {
        double v = box_reference(src, s, d, x, y, c);
        int got = dst[3 * (y * d + x) + c], want = (int)floor(v + 0.5);
        /* A tie (exactly .5) rounds up; allow the reference's last-bit doubt there only. */
        int tie = fabs(v - floor(v) - 0.5) < 1e-9;
        ck_assert_msg(got == want || (tie && abs(got - want) <= 1),
                      "%d -> %d at (%d, %d, %d): got %d, reference %.6f", s, d, x, y, c, got, v);
      }
  free(src);
  free(dst);
}

START_TEST(resize_64_to_32_of_a_gradient_is_exact) {
  uint8_t src[64 * 64 * 3], dst[32 * 32 * 3];
  for (int y = 0; y < 64; y++)
    for (int x = 0; x < 64; x++) {
      uint8_t *p = src + 3 * (y * 64 + x);
      p[0] = (uint8_t)(2 * x + 2 * y);
      p[1] = (uint8_t)(4 * x);
      p[2] = (uint8_t)(252 - 4 * y);
    }
  gm_error err = {0};
  gmt_ok(gm__resize_area(dst, 32, src, 64, &err), &err);
  /* A 2x2 block starting at (2i, 2j) averages to 4i + 4j + 2, 8i + 2 and 250 - 8j. */
  for (int j = 0; j < 32; j++)
    for (int i = 0; i < 32; i++) {
      const uint8_t *p = dst + 3 * (j * 32 + i);
      ck_assert_int_eq(p[0], 4 * i + 4 * j + 2);
      ck_assert_int_eq(p[1], 8 * i + 2);
      ck_assert_int_eq(p[2], 250 - 8 * j);
    }
}
END_TEST

START_TEST(resize_of_checkerboards_is_flat_grey) {
  /* 3x3 -> 1: five white and four black pixels, 255 * 5 / 9 = 141.67. */
  uint8_t src3[27], one[3];
  for (int i = 0; i < 9; i++) memset(src3 + 3 * i, (i % 2 == 0) ? 255 : 0, 3);
  gm_error err = {0};
  gmt_ok(gm__resize_area(one, 1, src3, 3, &err), &err);
  ck_assert_int_eq(one[0], 142);
  ck_assert_int_eq(one[2], 142);
  /* 1-pixel checkerboard 96 -> 32: every 3x3 block is 5:4 or 4:5 white, alternating. */
  static uint8_t src[96 * 96 * 3], dst[32 * 32 * 3];
  for (int y = 0; y < 96; y++)
    for (int x = 0; x < 96; x++) memset(src + 3 * (y * 96 + x), ((x + y) % 2) ? 0 : 255, 3);
  gmt_ok(gm__resize_area(dst, 32, src, 96, &err), &err);
  for (int j = 0; j < 32; j++)
    for (int i = 0; i < 32; i++)
      ck_assert_int_eq(dst[3 * (j * 32 + i)], (i + j) % 2 ? 113 : 142);
  /* 64 -> 32: every 2x2 block is 127.5, which rounds half up. */
  static uint8_t s64[64 * 64 * 3];
  for (int y = 0; y < 64; y++)
    for (int x = 0; x < 64; x++) memset(s64 + 3 * (y * 64 + x), ((x + y) % 2) ? 0 : 255, 3);
  gmt_ok(gm__resize_area(dst, 32, s64, 64, &err), &err);
  for (int i = 0; i < 32 * 32 * 3; i++) ck_assert_int_eq(dst[i], 128);
}
END_TEST

START_TEST(resize_with_fractional_coverage_matches_a_double_reference) {
  check_against_reference(72, 32, 1);  /* 2.25 source pixels per output pixel */
  check_against_reference(50, 32, 2);  /* 1.5625 */
  check_against_reference(33, 32, 3);  /* just over 1 */
  check_against_reference(136, 32, 4); /* Noto's 136 after padding */
  check_against_reference(20, 32, 5);  /* upscaling: each output pixel inside one or two */
  check_against_reference(7, 3, 6);
  check_against_reference(1, 4, 7);
}
END_TEST

START_TEST(composite_over_black_and_over_a_colour_rounds) {
  const uint8_t rgba[] = {200, 100, 50, 0, 200, 100, 50, 128, 200, 100, 50, 255, 255, 255, 255, 1};
  const uint8_t black[3] = {0, 0, 0}, teal[3] = {10, 128, 130};
  const uint8_t *bgs[] = {black, teal};
  for (int k = 0; k < 2; k++) {
    uint8_t rgb[12];
    gm__composite(rgb, rgba, 4, 1, bgs[k]);
    for (int i = 0; i < 4; i++)
      for (int c = 0; c < 3; c++) {
        double a = rgba[4 * i + 3] / 255.0;
        int want = (int)floor(rgba[4 * i + c] * a + bgs[k][c] * (1 - a) + 0.5);
        ck_assert_msg(rgb[3 * i + c] == want, "bg %d pixel %d channel %d: got %d want %d", k, i, c,
                      rgb[3 * i + c], want);
      }
  }
  /* Spot values: half-transparent (200, 100, 50) over black. */
  uint8_t rgb[3];
  gm__composite(rgb, rgba + 4, 1, 1, black);
  ck_assert_int_eq(rgb[0], 100); /* 200 * 128 / 255 = 100.39 */
  ck_assert_int_eq(rgb[1], 50);  /* 50.20 */
  ck_assert_int_eq(rgb[2], 25);  /* 25.10 */
}
END_TEST

START_TEST(pad_to_square_centres_with_the_background) {
  const uint8_t bg[3] = {1, 2, 3};
  uint8_t wide[4 * 2 * 3], sq[5 * 5 * 3];
  memset(wide, 200, sizeof wide);
  gm__pad_square(sq, wide, 4, 2, bg); /* 4x2 -> 4x4: rows 1 and 2 */
  for (int y = 0; y < 4; y++)
    for (int x = 0; x < 4; x++)
      ck_assert_int_eq(sq[3 * (y * 4 + x) + 2], (y == 1 || y == 2) ? 200 : 3);
  uint8_t tall[2 * 3 * 3];
  memset(tall, 77, sizeof tall);
  gm__pad_square(sq, tall, 2, 3, bg); /* 2x3 -> 3x3: the odd column goes right */
  for (int y = 0; y < 3; y++)
    for (int x = 0; x < 3; x++) ck_assert_int_eq(sq[3 * (y * 3 + x)], x < 2 ? 77 : 1);
  uint8_t flat[5 * 2 * 3];
  memset(flat, 9, sizeof flat);
  gm__pad_square(sq, flat, 5, 2, bg); /* 5x2 -> 5x5: one row above, two below */
  for (int y = 0; y < 5; y++) ck_assert_int_eq(sq[3 * (y * 5 + 2) + 1], (y == 1 || y == 2) ? 9 : 2);
}
END_TEST

START_TEST(preprocess_composites_pads_and_resizes_in_that_order) {
  /* 4x2, left half opaque red, right half transparent, over white, to 2x2: the top row
   * averages the image, the bottom row too (rows 1-2 of the 4x4 square are image). */
  uint8_t rgba[4 * 2 * 4];
  for (int i = 0; i < 8; i++) {
    uint8_t *p = rgba + 4 * i;
    int left = (i % 4) < 2;
    p[0] = 255;
    p[1] = p[2] = 0;
    p[3] = left ? 255 : 0;
  }
  const uint8_t white[3] = {255, 255, 255};
  uint8_t out[2 * 2 * 3];
  gm_error err = {0};
  gmt_ok(gm__preprocess(out, 2, rgba, 4, 2, white, &err), &err);
  /* Square rows: 0 white, 1-2 image, 3 white. Output (0,0) covers square rows 0-1, cols
   * 0-1: two white, two red -> (255, 128, 128) after rounding 127.5 up. */
  ck_assert_int_eq(out[0], 255);
  ck_assert_int_eq(out[1], 128);
  ck_assert_int_eq(out[2], 128);
  /* Output (1,0) covers cols 2-3: transparent over white and white -> white. */
  ck_assert_int_eq(out[3 + 1], 255);
  ck_assert_int_eq(gm__preprocess(out, 2, rgba, 0, 2, white, &err), GM_EINVAL);
}
END_TEST

/* ---- the split ---- */

START_TEST(split_hash_is_fnv1a_64_and_stable) {
  ck_assert_uint_eq(gm_dataset_name_hash(""), 0xcbf29ce484222325ull);
  ck_assert_uint_eq(gm_dataset_name_hash("a"), 0xaf63dc4c8601ec8cull);
  ck_assert_uint_eq(gm_dataset_name_hash("foobar"), 0x85944171f73967e8ull);
  ck_assert_uint_eq(gm_dataset_name_hash("grinning face"), 0x588070a89b22f25aull);
  /* mix64(hash) / 2^64: grinning face 0.0707, smiling face with halo 0.09989, yawning
   * face 0.2027, winking face 0.2441, pensive face 0.9773. */
  ck_assert_int_eq(gm_dataset_is_heldout("grinning face", 0.1), 1);
  ck_assert_int_eq(gm_dataset_is_heldout("grinning face", 0.07), 0);
  ck_assert_int_eq(gm_dataset_is_heldout("smiling face with halo", 0.1), 1);
  ck_assert_int_eq(gm_dataset_is_heldout("smiling face with halo", 0.0998), 0);
  ck_assert_int_eq(gm_dataset_is_heldout("yawning face", 0.2), 0);
  ck_assert_int_eq(gm_dataset_is_heldout("yawning face", 0.21), 1);
  ck_assert_int_eq(gm_dataset_is_heldout("winking face", 0.24), 0);
  ck_assert_int_eq(gm_dataset_is_heldout("winking face", 0.25), 1);
  ck_assert_int_eq(gm_dataset_is_heldout("pensive face", 0.9), 0);
  ck_assert_int_eq(gm_dataset_is_heldout("winking face", 0.0), 0);
  ck_assert_int_eq(gm_dataset_is_heldout("", 1.0), 1);
}
END_TEST

START_TEST(split_spreads_names_that_differ_only_at_the_end) {
  /* 100 names img00..img99 at a 0.25 share: 16 held out (plain FNV-1a put all 100 there). */
  int held = 0;
  for (int i = 0; i < 100; i++) {
    char name[16];
    snprintf(name, sizeof name, "img%02d", i);
    held += gm_dataset_is_heldout(name, 0.25);
  }
  ck_assert_int_eq(held, 16);
}
END_TEST

/* ---- a loader defined here ---- */

typedef struct fake_spec {
  const char *name, *subgroup;
  int w, h;
  uint8_t r, g, b, a;
} fake_spec;

static const fake_spec k_fake[] = {
    {"grinning face", "face-smiling", 8, 8, 250, 200, 40, 255},
    {"red apple", "food-fruit", 8, 8, 220, 30, 30, 255},
    {"winking face", "face-smiling", 6, 4, 250, 200, 40, 200},
    {"clown face", "face-costume", 8, 8, 240, 240, 240, 255},
    {"pensive face", "face-concerned", 8, 8, 250, 200, 40, 255},
    {"smiling face with halo", "face-smiling", 8, 8, 250, 200, 40, 255},
    {"ghost", "face-costume", 5, 5, 250, 250, 250, 255},
};
#define N_FAKE ((int)(sizeof k_fake / sizeof k_fake[0]))

typedef struct fake_state {
  int next;
  int fail_at;   /* -1: never; else next() fails at this index */
} fake_state;

static int g_fake_open_fail, g_fake_fail_at = -1, g_fake_gradient, g_fake_open_count;

static int fake_probe(const char *source) { return strcmp(source, "fake") == 0; }

static int fake_open(void **state, const char *source, const gm_kv *opts, int n_opts,
                     gm_error *err) {
  if (g_fake_open_fail) return gm_error_set(err, GM_EIO, "%s: the fake source is broken", source);
  fake_state *s = calloc(1, sizeof *s);
  s->fail_at = g_fake_fail_at;
  g_fake_open_count++;
  *state = s;
  return 0;
}

/* Fills each image with its spec's colour, or with the gradient (60x, 60y, 255-60x) when
 * g_fake_gradient is set (for batches). */
static int fake_next(void *state, gm_image *img, gm_error *err) {
  fake_state *s = state;
  if (s->next == s->fail_at) return gm_error_set(err, GM_EFORMAT, "fake:%d: broken image", s->next);
  if (s->next >= N_FAKE) return 0;
  const fake_spec *f = &k_fake[s->next];
  memset(img, 0, sizeof *img);
  int w = g_fake_gradient ? 4 : f->w, h = g_fake_gradient ? 4 : f->h;
  img->width = w;
  img->height = h;
  img->rgba = malloc((size_t)w * h * 4);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      uint8_t *p = img->rgba + 4 * (y * w + x);
      if (g_fake_gradient) {
        p[0] = (uint8_t)(60 * x + s->next);
        p[1] = (uint8_t)(60 * y);
        p[2] = (uint8_t)(255 - 60 * x);
        p[3] = 255;
      } else {
        p[0] = f->r, p[1] = f->g, p[2] = f->b, p[3] = f->a;
      }
    }
  snprintf(img->name, sizeof img->name, "%s", f->name);
  snprintf(img->subgroup, sizeof img->subgroup, "%s", f->subgroup);
  snprintf(img->group, sizeof img->group, "test");
  img->codepoints[0] = 0xE000 + (uint32_t)s->next;
  img->n_codepoints = 1;
  snprintf(img->source, sizeof img->source, "fake#%d", s->next);
  s->next++;
  return 1;
}

static void fake_close(void *state) { free(state); }

static int fake_skipped(void *state, char *msg, size_t n) {
  snprintf(msg, n, "fake:99: skipped for the test");
  return 3;
}

static const gm_loader_vtable k_fake_loader = {
    .size = sizeof(gm_loader_vtable),
    .probe = fake_probe,
    .open = fake_open,
    .next = fake_next,
    .close = fake_close,
    .skipped = fake_skipped,
};

static gm_dataset *load_fake(const gm_dataset_options *o) {
  gm_dataset *d = NULL;
  gm_error err = {0};
  gmt_ok(gm_dataset_load(&d, &k_fake_loader, "fake", NULL, 0, o, &err), &err);
  return d;
}

static void expect_names(const gm_dataset *d, const char *const *names) {
  int n = 0;
  while (names[n]) n++;
  ck_assert_int_eq(gm_dataset_count(d), n);
  for (int i = 0; i < n; i++) ck_assert_str_eq(gm_dataset_get(d, i)->name, names[i]);
}
#define NAMES(d, ...) expect_names(d, (const char *const[]){__VA_ARGS__, NULL})

START_TEST(load_keeps_loader_order_and_marks_the_heldout_split) {
  gm_dataset *d = load_fake(NULL);
  NAMES(d, "grinning face", "red apple", "winking face", "clown face", "pensive face",
        "smiling face with halo", "ghost");
  ck_assert_int_eq(gm_dataset_size(d), 32);
  int idx[8];
  ck_assert_int_eq(gm_dataset_split(d, 1, idx, 8), 2);
  ck_assert_int_eq(idx[0], 0); /* grinning face */
  ck_assert_int_eq(idx[1], 5); /* smiling face with halo */
  ck_assert_int_eq(gm_dataset_split(d, 0, idx, 8), 5);
  ck_assert_int_eq(idx[4], 6);
  ck_assert_int_eq(gm_dataset_split(d, -1, NULL, 0), 7);
  ck_assert_int_eq(gm_dataset_split(d, 0, idx, 2), 5); /* the count, though 2 written */
  const gm_dataset_item *it = gm_dataset_get(d, 2);
  ck_assert_str_eq(it->subgroup, "face-smiling");
  ck_assert_str_eq(it->source, "fake#2");
  ck_assert_int_eq(it->n_codepoints, 1);
  ck_assert_uint_eq(it->codepoints[0], 0xE002);
  ck_assert_ptr_null(gm_dataset_get(d, 7));
  const char *first;
  ck_assert_int_eq(gm_dataset_skipped(d, &first), 3);
  ck_assert_str_eq(first, "fake:99: skipped for the test");
  gm_dataset_destroy(d);
}
END_TEST

START_TEST(load_preprocesses_each_image) {
  gm_dataset_options o;
  gm_dataset_options_init(&o);
  o.size = 6;
  o.background[0] = 0;
  o.background[1] = 0;
  o.background[2] = 255;
  gm_dataset *d = load_fake(&o);
  /* winking face: 6x4 of (250, 200, 40, 200) over blue, padded to 6x6: rows 0 and 5 blue. */
  const uint8_t *rgb = gm_dataset_get(d, 2)->rgb;
  const uint8_t want[3] = {196, 157, 86}; /* 250*200/255, 200*200/255, 40*200/255 + 55 */
  for (int y = 0; y < 6; y++)
    for (int x = 0; x < 6; x++)
      for (int c = 0; c < 3; c++) {
        int w = (y == 0 || y == 5) ? (c == 2 ? 255 : 0) : want[c];
        ck_assert_msg(rgb[3 * (y * 6 + x) + c] == w, "(%d, %d, %d): got %d want %d", x, y, c,
                      rgb[3 * (y * 6 + x) + c], w);
      }
  gm_dataset_destroy(d);
}
END_TEST

START_TEST(filters_subset_match_yellow_and_limit_combine) {
  gm_dataset_options o;
  gm_dataset_options_init(&o);
  o.subset = "faces";
  gm_dataset *d = load_fake(&o);
  NAMES(d, "grinning face", "winking face", "clown face", "pensive face", "smiling face with halo",
        "ghost");
  gm_dataset_destroy(d);

  o.yellow = 1;
  d = load_fake(&o);
  NAMES(d, "grinning face", "winking face", "pensive face", "smiling face with halo");
  gm_dataset_destroy(d);

  o.match = "^(GRINNING|smiling) .*face";
  d = load_fake(&o);
  NAMES(d, "grinning face", "smiling face with halo");
  gm_dataset_destroy(d);

  gm_dataset_options_init(&o);
  o.match = "face";
  o.limit = 3; /* the first three that pass, in loader order */
  d = load_fake(&o);
  NAMES(d, "grinning face", "winking face", "clown face");
  gm_dataset_destroy(d);

  o.match = "apple";
  o.limit = 0;
  d = load_fake(&o);
  NAMES(d, "red apple");
  gm_dataset_destroy(d);

  o.match = "no such name";
  d = load_fake(&o);
  ck_assert_int_eq(gm_dataset_count(d), 0);
  gm_dataset_destroy(d);
}
END_TEST

START_TEST(bad_options_and_loader_failures_are_errors) {
  gm_dataset_options o;
  gm_dataset *d = (gm_dataset *)1;
  gm_error err = {0};
  gm_dataset_options_init(&o);
  o.subset = "hands";
  ck_assert_int_eq(gm_dataset_load(&d, &k_fake_loader, "fake", NULL, 0, &o, &err), GM_EINVAL);
  ck_assert_ptr_null(d);
  ck_assert_msg(strstr(err.msg, "hands"), "%s", err.msg);
  gm_dataset_options_init(&o);
  o.size = 0;
  ck_assert_int_eq(gm_dataset_load(&d, &k_fake_loader, "fake", NULL, 0, &o, &err), GM_EINVAL);
  gm_dataset_options_init(&o);
  o.heldout = 1.5;
  ck_assert_int_eq(gm_dataset_load(&d, &k_fake_loader, "fake", NULL, 0, &o, &err), GM_EINVAL);
  gm_dataset_options_init(&o);
  o.match = "(unclosed";
  ck_assert_int_eq(gm_dataset_load(&d, &k_fake_loader, "fake", NULL, 0, &o, &err), GM_EINVAL);
  ck_assert_msg(strstr(err.msg, "(unclosed"), "%s", err.msg);

  g_fake_open_fail = 1;
  ck_assert_int_eq(gm_dataset_load(&d, &k_fake_loader, "fake", NULL, 0, NULL, &err), GM_EIO);
  ck_assert_msg(strstr(err.msg, "fake: the fake source is broken"), "%s", err.msg);
  g_fake_open_fail = 0;

  g_fake_fail_at = 3;
  ck_assert_int_eq(gm_dataset_load(&d, &k_fake_loader, "fake", NULL, 0, NULL, &err), GM_EFORMAT);
  ck_assert_msg(strstr(err.msg, "fake:3: broken image"), "%s", err.msg);
  ck_assert_ptr_null(d);
  /* With a limit reached first, the broken image is never read. */
  gm_dataset_options_init(&o);
  o.limit = 2;
  gmt_ok(gm_dataset_load(&d, &k_fake_loader, "fake", NULL, 0, &o, &err), &err);
  ck_assert_int_eq(gm_dataset_count(d), 2);
  gm_dataset_destroy(d);
  g_fake_fail_at = -1;
}
END_TEST

/* Each image's text comes from the CLDR folder of the options (fake images carry
 * codepoints U+E000 + their index), else its name; a folder that was asked for must
 * exist, and a broken file is an error naming it. */
START_TEST(images_get_their_cldr_text_else_their_name) {
  char dir[1200], path[1400];
  snprintf(dir, sizeof dir, "%s/cldr", gmt_tmpdir());
  mkdir(dir, 0755);
  snprintf(path, sizeof path, "%s/annotations", dir);
  mkdir(path, 0755);
  snprintf(path, sizeof path, "%s/annotations/en.xml", dir);
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  fputs("<?xml version=\"1.0\"?>\n<ldml><annotations>\n"
        "<annotation cp=\"&#xE000;\">face | grin | grinning face</annotation>\n"
        "<annotation cp=\"&#xE000;\" type=\"tts\">grinning face</annotation>\n"
        "<annotation cp=\"&#xE002;\" type=\"tts\">a wink</annotation>\n"
        "</annotations></ldml>\n", f);
  fclose(f);
  gm_dataset_options o;
  gm_dataset_options_init(&o);
  o.cldr_dir = dir;
  gm_dataset *d = load_fake(&o);
  ck_assert_str_eq(gm_dataset_get(d, 0)->text, "face | grin | grinning face");
  ck_assert_int_eq(gm_dataset_get(d, 0)->text_cldr, 1);
  ck_assert_str_eq(gm_dataset_get(d, 1)->text, "red apple");
  ck_assert_int_eq(gm_dataset_get(d, 1)->text_cldr, 0);
  ck_assert_str_eq(gm_dataset_get(d, 2)->text, "a wink");
  const char *src, *note;
  ck_assert_int_eq(gm_dataset_text_source(d, &src, &note), 2);
  ck_assert_str_eq(src, dir);
  ck_assert_str_eq(note, "");
  gm_dataset_destroy(d);

  gm_error err = {0};
  int opened = g_fake_open_count;  /* the text is read before the loader is opened */
  f = fopen(path, "wb");
  fputs("<?xml version=\"1.0\"?>\n<ldml><annotations>\n<annotation cp=\"x\">", f);
  fclose(f);
  d = (gm_dataset *)1;
  ck_assert_int_eq(gm_dataset_load(&d, &k_fake_loader, "fake", NULL, 0, &o, &err), GM_EFORMAT);
  ck_assert_ptr_null(d);
  ck_assert_msg(strstr(err.msg, "images' text") && strstr(err.msg, path), "%s", err.msg);
  snprintf(path, sizeof path, "%s/none", dir);
  o.cldr_dir = path;
  ck_assert_int_eq(gm_dataset_load(&d, &k_fake_loader, "fake", NULL, 0, &o, &err), GM_ENOTFOUND);
  ck_assert_msg(strstr(err.msg, "none/annotations/en.xml"), "%s", err.msg);
  ck_assert_int_eq(g_fake_open_count, opened);
}
END_TEST

/* ---- batches ---- */

START_TEST(batch_maps_pixels_and_flips_on_the_device) {
  gm_dataset_options o;
  gm_dataset_options_init(&o);
  o.size = 4;
  g_fake_gradient = 1;
  gm_dataset *d = load_fake(&o);
  g_fake_gradient = 0;
  /* Image k, pixel (x, y) = (60x + k, 60y, 255 - 60x). */
  const int idx[3] = {5, 0, 5};
  const uint8_t flip[3] = {1, 0, 0};
  gm_tensor *t = gmt_tensor_from(4, GM_SHAPE(3, 3, 4, 4), NULL);
  gm_error err = {0};
  const gm_pixel_map maps[] = {GM_PIXELS_UNIT, GM_PIXELS_SIGNED, GM_PIXELS_Q16};
  for (int m = 0; m < 3; m++) {
    gmt_ok(gm_dataset_batch(d, idx, 3, flip, maps[m], t, &err), &err);
    float *got = gmt_read(t), want[3 * 3 * 16];
    for (int b = 0; b < 3; b++)
      for (int c = 0; c < 3; c++)
        for (int y = 0; y < 4; y++)
          for (int x = 0; x < 4; x++) {
            int sx = flip[b] ? 3 - x : x, k = idx[b];
            int v = c == 0 ? 60 * sx + k : c == 1 ? 60 * y : 255 - 60 * sx;
            float f = maps[m] == GM_PIXELS_UNIT     ? (float)(v / 255.0)
                      : maps[m] == GM_PIXELS_SIGNED ? (float)(v / 127.5 - 1.0)
                                                    : (float)(v >> 4);
            want[((b * 3 + c) * 4 + y) * 4 + x] = f;
          }
    gmt_assert_close(got, want, 3 * 3 * 16, 0, 1e-7, "batch");
    free(got);
  }
  /* Spot checks in plain numbers: image 5 flipped, red at x = 0 comes from x = 3. */
  gmt_ok(gm_dataset_batch(d, idx, 3, flip, GM_PIXELS_Q16, t, &err), &err);
  float *got = gmt_read(t);
  ck_assert_float_eq(got[0], 11.0f);          /* red at x = 3: 185 >> 4 */
  ck_assert_float_eq(got[2 * 16 + 0], 4.0f);  /* blue at x = 3: 75 >> 4 */
  free(got);
  gmt_ok(gm_dataset_batch(d, idx, 3, NULL, GM_PIXELS_SIGNED, t, &err), &err);
  got = gmt_read(t);
  ck_assert_float_eq(got[2 * 16 + 0], 1.0f);      /* image 5, blue at x = 0: 255 -> 1 */
  ck_assert_float_eq(got[1 * 16 + 0], -1.0f);     /* green at y = 0: 0 -> -1 */
  free(got);
  gm_tensor_destroy(t);
  gm_dataset_destroy(d);
}
END_TEST

START_TEST(batch_rejects_wrong_shapes_dtypes_and_indices) {
  gm_dataset_options o;
  gm_dataset_options_init(&o);
  o.size = 4;
  gm_dataset *d = load_fake(&o);
  gm_error err = {0};
  const int idx[2] = {0, 1}, bad[2] = {0, 7};
  gm_tensor *t = gmt_tensor_from(4, GM_SHAPE(2, 3, 4, 4), NULL);
  ck_assert_int_eq(gm_dataset_batch(d, bad, 2, NULL, GM_PIXELS_UNIT, t, &err), GM_ERANGE);
  ck_assert_int_eq(gm_dataset_batch(d, idx, 1, NULL, GM_PIXELS_UNIT, t, &err), GM_ESHAPE);
  ck_assert_msg(strstr(err.msg, "(1, 3, 4, 4)"), "%s", err.msg);
  gm_tensor *w = gmt_tensor_from(4, GM_SHAPE(2, 3, 8, 8), NULL);
  ck_assert_int_eq(gm_dataset_batch(d, idx, 2, NULL, GM_PIXELS_UNIT, w, &err), GM_ESHAPE);
  gm_tensor *i32 = NULL;
  gmt_ok(gm_tensor_create(&i32, gmt_device(), GM_I32, 4, GM_SHAPE(2, 3, 4, 4), &err), &err);
  ck_assert_int_eq(gm_dataset_batch(d, idx, 2, NULL, GM_PIXELS_UNIT, i32, &err), GM_EDTYPE);
  gm_tensor_destroy(t);
  gm_tensor_destroy(w);
  gm_tensor_destroy(i32);
  gm_dataset_destroy(d);
}
END_TEST

/* ---- the real plugins ---- */



static const char *const k_keep[] = {
    "grinning face", "winking face", "face with tears of joy", "slightly smiling face",
    "smiling face with smiling eyes", "thinking face", "neutral face", "sleeping face",
    "pensive face", "face with open mouth", "upside-down face", "smiling face with halo",
    "nerd face", "zany face", NULL};
static const char *const k_drop[] = {
    "clown face", "ogre", "goblin", "ghost", "alien", "alien monster", "robot", "skull",
    "pile of poo", "smiling face with horns", "angry face with horns", "jack-o-lantern",
    "nauseated face", "cold face", "hot face", NULL};

static int listed(const char *const *list, const char *name) {
  for (int i = 0; list[i]; i++)
    if (strcmp(list[i], name) == 0) return i;
  return -1;
}

START_TEST(yellow_filter_keeps_round_yellow_faces_of_noto_and_drops_the_rest) {
  if (!gmt_have_noto(__func__)) return;
  const gm_plugin_record *r =
      gm_registry_find(gmt_build_registry(), GM_PLUGIN_KIND_LOADER, "notoemoji");
  ck_assert_ptr_nonnull(r);
  const gm_loader_vtable *v = r->vtable;
  void *st;
  gm_error err = {0};
  gmt_ok(v->open(&st, "noto", NULL, 0, &err), &err);
  int kept[32] = {0}, dropped[32] = {0}, seen_keep[32] = {0}, seen_drop[32] = {0};
  gm_image img;
  int rc;
  while ((rc = v->next(st, &img, &err)) == 1) {
    int k = listed(k_keep, img.name), dr = listed(k_drop, img.name);
    int y = gm__is_yellow(img.rgba, img.width, img.height);
    if (k >= 0) seen_keep[k] = 1, kept[k] = y;
    if (dr >= 0) seen_drop[dr] = 1, dropped[dr] = !y;
    free(img.rgba);
  }
  v->close(st);
  ck_assert_int_eq(rc, 0);
  for (int i = 0; k_keep[i]; i++) {
    ck_assert_msg(seen_keep[i], "%s is not in the font", k_keep[i]);
    ck_assert_msg(kept[i], "the yellow filter drops %s", k_keep[i]);
  }
  for (int i = 0; k_drop[i]; i++) {
    ck_assert_msg(seen_drop[i], "%s is not in the font", k_drop[i]);
    ck_assert_msg(dropped[i], "the yellow filter keeps %s", k_drop[i]);
  }

  gm_dataset_options o;
  gm_dataset_options_init(&o);
  o.subset = "faces";
  o.yellow = 1;
  gm_dataset *d = NULL;
  gmt_ok(gm_dataset_load(&d, v, "noto", NULL, 0, &o, &err), &err);
  ck_assert_msg(gm_dataset_count(d) >= 85, "only %d yellow faces", gm_dataset_count(d));
  for (int i = 0; i < gm_dataset_count(d); i++)
    ck_assert_msg(strncmp(gm_dataset_get(d, i)->subgroup, "face-", 5) == 0, "%s",
                  gm_dataset_get(d, i)->name);
  gm_dataset_destroy(d);
}
END_TEST

START_TEST(find_loader_asks_each_loader_and_names_them_when_none_fits) {
  gm_error err = {0};
  const gm_plugin_record *r = NULL;
  gmt_ok(gm_dataset_find_loader(gmt_build_registry(), "noto", &r, &err), &err);
  ck_assert_str_eq(r->name, "notoemoji");

  char dir[1100];
  snprintf(dir, sizeof dir, "%s/pngs", gmt_tmpdir());
  ck_assert_int_eq(mkdir(dir, 0777), 0);
  char png[1200];
  snprintf(png, sizeof png, "%s/1f600.png", dir);
  const uint8_t px[3] = {1, 2, 3};
  gmt_ok(gm_png_write(png, px, 1, 1, 3, &err), &err);
  gmt_ok(gm_dataset_find_loader(gmt_build_registry(), dir, &r, &err), &err);
  ck_assert_str_eq(r->name, "pngdir");

  snprintf(png, sizeof png, "%s/full_emoji.csv", dir); /* PNGs and a CSV: Kaggle layout */
  FILE *f = fopen(png, "w");
  fputs("#,emoji,unicode,name,Apple\n", f);
  fclose(f);
  gmt_ok(gm_dataset_find_loader(gmt_build_registry(), dir, &r, &err), &err);
  ck_assert_str_eq(r->name, "kaggle");

  ck_assert_int_eq(gm_dataset_find_loader(gmt_build_registry(), "/no/such/data", &r, &err),
                   GM_ENOTFOUND);
  ck_assert_ptr_null(r);
  ck_assert_msg(strstr(err.msg, "/no/such/data") && strstr(err.msg, "kaggle, notoemoji, pngdir"),
                "%s", err.msg);
}
END_TEST

static Suite *make_suite(void) {
  Suite *s = suite_create("dataset");
  TCase *tc = tcase_create("pixels");
  tcase_add_test(tc, resize_64_to_32_of_a_gradient_is_exact);
  tcase_add_test(tc, resize_of_checkerboards_is_flat_grey);
  tcase_add_test(tc, resize_with_fractional_coverage_matches_a_double_reference);
  tcase_add_test(tc, composite_over_black_and_over_a_colour_rounds);
  tcase_add_test(tc, pad_to_square_centres_with_the_background);
  tcase_add_test(tc, preprocess_composites_pads_and_resizes_in_that_order);
  suite_add_tcase(s, tc);
  tc = tcase_create("dataset");
  tcase_add_test(tc, split_hash_is_fnv1a_64_and_stable);
  tcase_add_test(tc, split_spreads_names_that_differ_only_at_the_end);
  tcase_add_test(tc, load_keeps_loader_order_and_marks_the_heldout_split);
  tcase_add_test(tc, load_preprocesses_each_image);
  tcase_add_test(tc, filters_subset_match_yellow_and_limit_combine);
  tcase_add_test(tc, bad_options_and_loader_failures_are_errors);
  tcase_add_test(tc, images_get_their_cldr_text_else_their_name);
  tcase_add_test(tc, batch_maps_pixels_and_flips_on_the_device);
  tcase_add_test(tc, batch_rejects_wrong_shapes_dtypes_and_indices);
  suite_add_tcase(s, tc);
  tc = tcase_create("plugins");
  tcase_add_test(tc, yellow_filter_keeps_round_yellow_faces_of_noto_and_drops_the_rest);
  tcase_add_test(tc, find_loader_asks_each_loader_and_names_them_when_none_fits);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  int rc = gmt_run(make_suite());
  gmt_build_registry_close();
  return rc;
}
