/* PNG in and out: every colour type and bit depth (fixtures written here with libpng
 * itself, expected RGBA8 computed independently), corrupt, truncated and oversized
 * files, write/read round trips, grid layout and the atomic write. */
#include <dirent.h>
#include <png.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testlib.h"

#define FW 7   /* odd sizes so sub-byte rows end mid-byte and every Adam7 pass is ragged */
#define FH 5

typedef struct fixture {
  const char *label;
  int ctype, depth, interlace;
  int trns;   /* palette: number of tRNS entries; grey/RGB: 1 = key colour from pixel (0,0) */
} fixture;

static int channels_of(int ctype) {
  switch (ctype) {
  case PNG_COLOR_TYPE_GRAY: case PNG_COLOR_TYPE_PALETTE: return 1;
  case PNG_COLOR_TYPE_GRAY_ALPHA: return 2;
  case PNG_COLOR_TYPE_RGB: return 3;
  default: return 4;
  }
}

static uint32_t sample_at(int x, int y, int c, int depth, int palette_size) {
  uint32_t h = (uint32_t)(x * 73856093) ^ (uint32_t)(y * 19349663) ^ (uint32_t)(c * 83492791);
  h = (h ^ (h >> 13)) * 0x5bd1e995u;
  h ^= h >> 15;
  if (palette_size) return h % (uint32_t)palette_size;
  return h & ((1u << depth) - 1);
}

static void put_sample(uint8_t *row, int index, int depth, uint32_t v) {
  if (depth == 16) {
    row[2 * index] = (uint8_t)(v >> 8);
    row[2 * index + 1] = (uint8_t)v;
  } else if (depth == 8) {
    row[index] = (uint8_t)v;
  } else {
    int bit = index * depth, shift = 8 - depth - bit % 8;
    row[bit / 8] |= (uint8_t)(v << shift);
  }
}

/* The 8-bit value a d-bit sample stands for: exact for 1/2/4 bits, rounded for 16. */
static uint8_t to8(uint32_t v, int depth) {
  if (depth == 16) return (uint8_t)((v * 255u + 32767u) / 65535u);
  return (uint8_t)(v * 255u / ((1u << depth) - 1));
}

/* Encodes rows with libpng itself (PLTE/tRNS as the fixture asks); a libpng error fails
 * the test through the setjmp, which lives here apart from the fixture's locals. */
static void encode_fixture(const char *path, const fixture *fx, png_bytep *rows, const png_color *pal,
                           int palette_size, const png_byte *pal_alpha, const uint32_t key[3]) {
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png_create_info_struct(png);
  ck_assert(png && info);
  ck_assert_int_eq(setjmp(png_jmpbuf(png)), 0);
  png_init_io(png, f);
  png_set_IHDR(png, info, FW, FH, fx->depth, fx->ctype,
               fx->interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  if (pal) png_set_PLTE(png, info, pal, palette_size);
  if (pal && fx->trns) png_set_tRNS(png, info, pal_alpha, fx->trns, NULL);
  if (!pal && fx->trns) {
    png_color_16 tc = {.gray = (png_uint_16)key[0], .red = (png_uint_16)key[0], .green = (png_uint_16)key[1],
                       .blue = (png_uint_16)key[2]};
    png_set_tRNS(png, info, NULL, 0, &tc);
  }
  png_write_info(png, info);
  if (fx->interlace) png_set_interlace_handling(png);
  png_write_image(png, rows);
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  fclose(f);
}

/* Writes fx as a FW x FH PNG with libpng and fills want (FW * FH * 4) with its RGBA8. */
static void write_fixture(const char *path, const fixture *fx, uint8_t *want) {
  int ch = channels_of(fx->ctype);
  const int palette_size =
      fx->ctype == PNG_COLOR_TYPE_PALETTE ? (fx->depth >= 5 ? 20 : (1 << fx->depth)) : 0;
  png_color pal[20];
  png_byte pal_alpha[20];
  for (int i = 0; i < 20; i++) {
    pal[i] = (png_color){(png_byte)(i * 12 + 3), (png_byte)(250 - i * 11), (png_byte)(i * 37 % 256)};
    pal_alpha[i] = (png_byte)(i * 13);
  }
  uint32_t key[3];
  for (int c = 0; c < 3; c++) key[c] = sample_at(0, 0, c, fx->depth, 0);
  size_t rowbytes = ((size_t)FW * ch * fx->depth + 7) / 8;
  uint8_t *data = calloc(FH, rowbytes);
  png_bytep rows[FH];
  for (int y = 0; y < FH; y++) {
    rows[y] = data + y * rowbytes;
    for (int x = 0; x < FW; x++) {
      uint32_t s[4];
      for (int c = 0; c < ch; c++) {
        s[c] = sample_at(x, y, c, fx->depth, palette_size);
        put_sample(rows[y], x * ch + c, fx->depth, s[c]);
      }
      uint8_t *w = want + (y * FW + x) * 4;
      if (palette_size) {
        w[0] = pal[s[0]].red, w[1] = pal[s[0]].green, w[2] = pal[s[0]].blue;
        w[3] = (int)s[0] < fx->trns ? pal_alpha[s[0]] : 255;
      } else if (ch <= 2) {
        w[0] = w[1] = w[2] = to8(s[0], fx->depth);
        w[3] = ch == 2 ? to8(s[1], fx->depth) : (fx->trns && s[0] == key[0]) ? 0 : 255;
      } else {
        for (int c = 0; c < 3; c++) w[c] = to8(s[c], fx->depth);
        int keyed = fx->trns && s[0] == key[0] && s[1] == key[1] && s[2] == key[2];
        w[3] = ch == 4 ? to8(s[3], fx->depth) : keyed ? 0 : 255;
      }
    }
  }
  encode_fixture(path, fx, rows, palette_size ? pal : NULL, palette_size, pal_alpha, key);
  free(data);
}

static const fixture fixtures[] = {
    {"palette 8-bit", PNG_COLOR_TYPE_PALETTE, 8, 0, 0},
    {"palette 8-bit + tRNS", PNG_COLOR_TYPE_PALETTE, 8, 0, 11},
    {"palette 2-bit + tRNS", PNG_COLOR_TYPE_PALETTE, 2, 0, 3},
    {"palette 4-bit interlaced", PNG_COLOR_TYPE_PALETTE, 4, 1, 5},
    {"grey 1-bit", PNG_COLOR_TYPE_GRAY, 1, 0, 0},
    {"grey 2-bit", PNG_COLOR_TYPE_GRAY, 2, 0, 0},
    {"grey 4-bit", PNG_COLOR_TYPE_GRAY, 4, 0, 0},
    {"grey 8-bit", PNG_COLOR_TYPE_GRAY, 8, 0, 0},
    {"grey 16-bit", PNG_COLOR_TYPE_GRAY, 16, 0, 0},
    {"grey 8-bit + tRNS", PNG_COLOR_TYPE_GRAY, 8, 0, 1},
    {"grey 1-bit interlaced", PNG_COLOR_TYPE_GRAY, 1, 1, 0},
    {"grey+alpha 8-bit", PNG_COLOR_TYPE_GRAY_ALPHA, 8, 0, 0},
    {"grey+alpha 16-bit", PNG_COLOR_TYPE_GRAY_ALPHA, 16, 0, 0},
    {"RGB 8-bit", PNG_COLOR_TYPE_RGB, 8, 0, 0},
    {"RGB 16-bit", PNG_COLOR_TYPE_RGB, 16, 0, 0},
    {"RGB 8-bit + tRNS", PNG_COLOR_TYPE_RGB, 8, 0, 1},
    {"RGB 8-bit interlaced", PNG_COLOR_TYPE_RGB, 8, 1, 0},
    {"RGBA 8-bit", PNG_COLOR_TYPE_RGB_ALPHA, 8, 0, 0},
    {"RGBA 16-bit", PNG_COLOR_TYPE_RGB_ALPHA, 16, 0, 0},
    {"RGBA 16-bit interlaced", PNG_COLOR_TYPE_RGB_ALPHA, 16, 1, 0},
};

static void fixture_path(char *buf, size_t n, const char *name) {
  snprintf(buf, n, "%s/%s", gmt_tmpdir(), name);
}

START_TEST(every_colour_type_and_depth_decodes_to_rgba8) {
  for (size_t i = 0; i < sizeof fixtures / sizeof *fixtures; i++) {
    const fixture *fx = &fixtures[i];
    char path[1200], name[64];
    snprintf(name, sizeof name, "fixture-%02zu.png", i);
    fixture_path(path, sizeof path, name);
    uint8_t want[FW * FH * 4];
    write_fixture(path, fx, want);
    gm_error err = {0};
    gm_image img = {0};
    int rc = gm_png_read(path, &img, &err);
    ck_assert_msg(rc == 0, "%s: %s", fx->label, err.msg);
    ck_assert_int_eq(img.width, FW);
    ck_assert_int_eq(img.height, FH);
    for (int p = 0; p < FW * FH * 4; p++)
      ck_assert_msg(img.rgba[p] == want[p], "%s: pixel (%d,%d) channel %d: got %u, want %u", fx->label,
                    p / 4 % FW, p / 4 / FW, p % 4, img.rgba[p], want[p]);
    gm_image_free(&img);
    ck_assert_ptr_null(img.rgba);
  }
}
END_TEST

static uint8_t *read_all(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  ck_assert_ptr_nonnull(f);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *buf = malloc((size_t)n + 1);
  ck_assert_int_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *len = (size_t)n;
  return buf;
}

static void write_all(const char *path, const uint8_t *data, size_t len) {
  FILE *f = fopen(path, "wb");
  ck_assert_ptr_nonnull(f);
  ck_assert_int_eq(fwrite(data, 1, len, f), len);
  fclose(f);
}

/* Decoding `path` fails with `code` and a message that names the file. */
static void assert_refused(const char *path, int code, const char *label) {
  gm_error err = {0};
  gm_image img = {0};
  int rc = gm_png_read(path, &img, &err);
  ck_assert_msg(rc == code, "%s: got %s (%s), want %s", label, gm_err_name(rc), err.msg, gm_err_name(code));
  ck_assert_msg(strstr(err.msg, path) != NULL, "%s: message does not name the file: %s", label, err.msg);
  ck_assert_ptr_null(img.rgba);
}

static void make_valid(const char *name, char *path, size_t n, uint8_t **data, size_t *len) {
  fixture_path(path, n, name);
  uint8_t want[FW * FH * 4];
  write_fixture(path, &fixtures[17], want);   /* RGBA 8-bit */
  *data = read_all(path, len);
}

START_TEST(truncated_files_are_errors_naming_the_file) {
  char path[1200], cut[1200];
  uint8_t *data;
  size_t len;
  make_valid("whole.png", path, sizeof path, &data, &len);
  fixture_path(cut, sizeof cut, "cut.png");
  const size_t at[] = {0, 4, 8, 12, 20, 33, 40, len / 2, len - 13, len - 1};
  for (size_t i = 0; i < sizeof at / sizeof *at; i++) {
    char label[64];
    snprintf(label, sizeof label, "cut at %zu of %zu", at[i], len);
    write_all(cut, data, at[i]);
    assert_refused(cut, GM_EFORMAT, label);
  }
  /* After IHDR, a text chunk that claims 160 MB and stops: refused, not allocated. */
  uint8_t claim[33 + 12];
  memcpy(claim, data, 33);
  memcpy(claim + 33, "\x0a\x00\x00\x08zTXtabcd", 12);
  write_all(cut, claim, sizeof claim);
  assert_refused(cut, GM_EFORMAT, "huge zTXt claim");
  free(data);
}
END_TEST

START_TEST(corrupt_bytes_are_errors_naming_the_file) {
  char path[1200], bad[1200];
  uint8_t *data;
  size_t len;
  make_valid("whole2.png", path, sizeof path, &data, &len);
  fixture_path(bad, sizeof bad, "bad.png");
  /* 16..32: IHDR fields; 33 on: the IDAT chunk (CRC mismatch or a broken zlib stream). */
  const size_t at[] = {1, 12, 16, 20, 24, 25, 29, 37, 45, len - 20, len - 5};
  for (size_t i = 0; i < sizeof at / sizeof *at; i++) {
    uint8_t *copy = malloc(len);
    memcpy(copy, data, len);
    copy[at[i]] ^= 0x5a;
    write_all(bad, copy, len);
    char label[64];
    snprintf(label, sizeof label, "byte %zu flipped", at[i]);
    assert_refused(bad, GM_EFORMAT, label);
    free(copy);
  }
  free(data);
}
END_TEST

START_TEST(not_a_png_and_missing_files_are_errors) {
  char path[1200];
  fixture_path(path, sizeof path, "text.png");
  const char *text = "this is not a PNG file at all\n";
  write_all(path, (const uint8_t *)text, strlen(text));
  assert_refused(path, GM_EFORMAT, "text");
  fixture_path(path, sizeof path, "empty.png");
  write_all(path, (const uint8_t *)"", 0);
  assert_refused(path, GM_EFORMAT, "empty");
  fixture_path(path, sizeof path, "no-such-file.png");
  assert_refused(path, GM_ENOTFOUND, "missing");
  assert_refused(gmt_tmpdir(), GM_EIO, "a folder");
}
END_TEST

START_TEST(images_over_4096_pixels_a_side_are_refused) {
  char path[1200];
  fixture_path(path, sizeof path, "wide.png");
  uint8_t *row = calloc(5000, 3);
  ck_assert_int_eq(gm_png_write(path, row, 5000, 1, 3, NULL), 0);
  gm_error err = {0};
  gm_image img = {0};
  ck_assert_int_eq(gm_png_read(path, &img, &err), GM_EFORMAT);
  ck_assert_msg(strstr(err.msg, path) && strstr(err.msg, "5000x1"), "%s", err.msg);
  fixture_path(path, sizeof path, "edge.png");
  uint8_t *tall = calloc(4096, 3);
  ck_assert_int_eq(gm_png_write(path, tall, 1, 4096, 3, NULL), 0);
  gmt_ok(gm_png_read(path, &img, &err), &err);
  ck_assert_int_eq(img.height, 4096);
  gm_image_free(&img);
  free(row);
  free(tall);
}
END_TEST

START_TEST(decode_from_memory_names_the_source) {
  gm_error err = {0};
  gm_image img = {0};
  const uint8_t junk[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R', 1};
  ck_assert_int_eq(gm_png_decode(junk, sizeof junk, "font.ttf glyph 12", &img, &err), GM_EFORMAT);
  ck_assert_msg(strstr(err.msg, "font.ttf glyph 12") != NULL, "%s", err.msg);
  strcpy(img.name, "kept");
  char path[1200];
  uint8_t *data;
  size_t len;
  make_valid("mem.png", path, sizeof path, &data, &len);
  gmt_ok(gm_png_decode(data, len, "memory", &img, &err), &err);
  ck_assert_str_eq(img.name, "kept");
  ck_assert_int_eq(img.width, FW);
  gm_image_free(&img);
  free(data);
}
END_TEST

START_TEST(write_then_read_round_trips_rgb_and_rgba) {
  gmt_rng r;
  gmt_rng_seed(&r, 7);
  for (int ch = 3; ch <= 4; ch++) {
    const int w = 13, h = 9;
    uint8_t px[13 * 9 * 4];
    for (int i = 0; i < w * h * ch; i++) px[i] = (uint8_t)gmt_uniform(&r, 0, 256);
    char path[1200];
    fixture_path(path, sizeof path, ch == 3 ? "rt3.png" : "rt4.png");
    gm_error err = {0};
    gmt_ok(gm_png_write(path, px, w, h, ch, &err), &err);
    gm_image img = {0};
    gmt_ok(gm_png_read(path, &img, &err), &err);
    ck_assert_int_eq(img.width, w);
    ck_assert_int_eq(img.height, h);
    for (int i = 0; i < w * h; i++) {
      for (int c = 0; c < 3; c++) ck_assert_uint_eq(img.rgba[4 * i + c], px[ch * i + c]);
      ck_assert_uint_eq(img.rgba[4 * i + 3], ch == 4 ? px[4 * i + 3] : 255);
    }
    gm_image_free(&img);
  }
}
END_TEST

START_TEST(bad_write_arguments_are_refused) {
  uint8_t px[16] = {0};
  gm_error err = {0};
  char path[1200];
  fixture_path(path, sizeof path, "args.png");
  ck_assert_int_eq(gm_png_write(path, px, 2, 2, 2, &err), GM_EINVAL);
  ck_assert_int_eq(gm_png_write(path, px, 0, 2, 4, &err), GM_ERANGE);
  ck_assert_int_eq(gm_png_write(path, NULL, 2, 2, 4, &err), GM_EINVAL);
  ck_assert_int_eq(access(path, F_OK), -1);
}
END_TEST

START_TEST(grid_places_upscaled_cells_between_one_pixel_gaps) {
  enum { W = 2, H = 3, N = 3, COLS = 2, UP = 3 };
  uint8_t cells[N][W * H * 4];
  const uint8_t *ptrs[N];
  for (int i = 0; i < N; i++) {
    for (int p = 0; p < W * H; p++) {
      cells[i][4 * p] = (uint8_t)(100 + i);
      cells[i][4 * p + 1] = (uint8_t)(p % W * 50);
      cells[i][4 * p + 2] = (uint8_t)(p / W * 50);
      cells[i][4 * p + 3] = (uint8_t)(200 + p);
    }
    ptrs[i] = cells[i];
  }
  char path[1200];
  fixture_path(path, sizeof path, "grid.png");
  gm_error err = {0};
  gmt_ok(gm_png_write_grid(path, ptrs, N, W, H, 4, COLS, UP, &err), &err);
  gm_image img = {0};
  gmt_ok(gm_png_read(path, &img, &err), &err);
  const int cw = W * UP, chh = H * UP;
  ck_assert_int_eq(img.width, COLS * cw + COLS - 1);
  ck_assert_int_eq(img.height, 2 * chh + 1);
  for (int y = 0; y < img.height; y++) {
    for (int x = 0; x < img.width; x++) {
      const uint8_t *got = img.rgba + 4 * (y * img.width + x);
      int gx = x / (cw + 1), gy = y / (chh + 1), ix = x % (cw + 1), iy = y % (chh + 1);
      int i = gy * COLS + gx;
      uint8_t want[4] = {0x30, 0x30, 0x30, 0xff};
      if (ix < cw && iy < chh && i < N) memcpy(want, cells[i] + 4 * ((iy / UP) * W + ix / UP), 4);
      ck_assert_msg(!memcmp(got, want, 4), "grid pixel (%d,%d): got %u,%u,%u,%u want %u,%u,%u,%u", x, y,
                    got[0], got[1], got[2], got[3], want[0], want[1], want[2], want[3]);
    }
  }
  gm_image_free(&img);
  /* cols <= 0: ceil(sqrt(5)) = 3 columns, 2 rows; RGB sheets stay RGB-sized. */
  const uint8_t *five[5] = {cells[0], cells[1], cells[2], cells[0], cells[1]};
  uint8_t rgb[W * H * 3] = {0};
  const uint8_t *rgbs[5] = {rgb, rgb, rgb, rgb, rgb};
  gmt_ok(gm_png_write_grid(path, five, 5, W, H, 4, 0, 1, &err), &err);
  gmt_ok(gm_png_read(path, &img, &err), &err);
  ck_assert_int_eq(img.width, 3 * W + 2);
  ck_assert_int_eq(img.height, 2 * H + 1);
  gm_image_free(&img);
  gmt_ok(gm_png_write_grid(path, rgbs, 5, W, H, 3, 5, 2, &err), &err);
  gmt_ok(gm_png_read(path, &img, &err), &err);
  ck_assert_int_eq(img.width, 5 * 2 * W + 4);
  ck_assert_int_eq(img.height, 2 * H);
  ck_assert_uint_eq(img.rgba[4 * (2 * W)], 0x30);   /* the first gap column */
  ck_assert_uint_eq(img.rgba[0], 0);
  gm_image_free(&img);
  ck_assert_int_eq(gm_png_write_grid(path, five, 0, W, H, 4, 0, 1, &err), GM_EINVAL);
}
END_TEST

static int temp_files_left(const char *dir) {
  DIR *d = opendir(dir);
  int n = 0;
  for (struct dirent *de; d && (de = readdir(d));) n += strstr(de->d_name, ".tmp-") != NULL;
  if (d) closedir(d);
  return n;
}

START_TEST(failed_write_leaves_the_existing_file_intact) {
  char dir[1200], path[1300];
  fixture_path(dir, sizeof dir, "atomic");
  mkdir(dir, 0700);
  snprintf(path, sizeof path, "%s/keep.png", dir);
  uint8_t small[4 * 4 * 3] = {1, 2, 3};
  gm_error err = {0};
  gmt_ok(gm_png_write(path, small, 4, 4, 3, &err), &err);
  size_t before_len, after_len;
  uint8_t *before = read_all(path, &before_len);

  /* A file-size limit makes the write fail half-way, whoever runs the test (root too). */
  enum { BIG = 512 };
  uint8_t *noise = malloc(BIG * BIG * 3);
  gmt_rng r;
  gmt_rng_seed(&r, 3);
  for (int i = 0; i < BIG * BIG * 3; i++) noise[i] = (uint8_t)gmt_uniform(&r, 0, 256);
  struct rlimit old, lim;
  getrlimit(RLIMIT_FSIZE, &old);
  lim = old;
  lim.rlim_cur = 4096;
  void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
  ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
  int rc = gm_png_write(path, noise, BIG, BIG, 3, &err);
  setrlimit(RLIMIT_FSIZE, &old);
  signal(SIGXFSZ, old_handler);
  ck_assert_int_eq(rc, GM_EIO);
  ck_assert_msg(strstr(err.msg, path) != NULL, "%s", err.msg);
  uint8_t *after = read_all(path, &after_len);
  ck_assert_uint_eq(after_len, before_len);
  ck_assert_mem_eq(after, before, before_len);
  ck_assert_int_eq(temp_files_left(dir), 0);

  /* A folder that does not exist: the error names the path. */
  char nowhere[1400];
  snprintf(nowhere, sizeof nowhere, "%s/no/such/folder/x.png", dir);
  ck_assert_int_eq(gm_png_write(nowhere, small, 4, 4, 3, &err), GM_ENOTFOUND);
  ck_assert_msg(strstr(err.msg, nowhere) != NULL, "%s", err.msg);

  /* Replacing works and leaves no temp file behind. */
  gmt_ok(gm_png_write(path, noise, 16, 16, 3, &err), &err);
  gm_image img = {0};
  gmt_ok(gm_png_read(path, &img, &err), &err);
  ck_assert_int_eq(img.width, 16);
  gm_image_free(&img);
  ck_assert_int_eq(temp_files_left(dir), 0);
  free(before);
  free(after);
  free(noise);
}
END_TEST

int main(void) {
  Suite *s = suite_create("image");
  TCase *tc = tcase_create("png");
  tcase_add_test(tc, every_colour_type_and_depth_decodes_to_rgba8);
  tcase_add_test(tc, truncated_files_are_errors_naming_the_file);
  tcase_add_test(tc, corrupt_bytes_are_errors_naming_the_file);
  tcase_add_test(tc, not_a_png_and_missing_files_are_errors);
  tcase_add_test(tc, images_over_4096_pixels_a_side_are_refused);
  tcase_add_test(tc, decode_from_memory_names_the_source);
  tcase_add_test(tc, write_then_read_round_trips_rgb_and_rgba);
  tcase_add_test(tc, bad_write_arguments_are_refused);
  tcase_add_test(tc, grid_places_upscaled_cells_between_one_pixel_gaps);
  tcase_add_test(tc, failed_write_leaves_the_existing_file_intact);
  suite_add_tcase(s, tc);
  return gmt_run(s);
}
