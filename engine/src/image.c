/* PNG in and out through libpng: every input colour type and depth to RGBA8, atomic
 * RGB/RGBA writes (temp file, fsync, rename) and nearest-neighbour contact-sheet grids.
 * libpng reports errors by longjmp; each entry point owns one setjmp and frees
 * everything it allocated on that path. */
#include <errno.h>
#include <fcntl.h>
#include <png.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "genmoji/image.h"

/* A PNG file larger than this is not an image we would accept anyway. */
#define MAX_PNG_FILE_BYTES ((size_t)256 << 20)
/* Ancillary chunks (text, ICC profiles, sPLT) an emoji PNG could plausibly carry. */
#define MAX_CHUNK_BYTES ((png_alloc_size_t)4 << 20)
#define MAX_ANCILLARY_CHUNKS 256
/* Any one allocation libpng makes while decoding an image we accept is far below this. */
#define MAX_LIBPNG_ALLOC ((png_alloc_size_t)16 << 20)
/* Grids and written images: a sanity bound well inside what PNG allows. */
#define MAX_WRITE_SIDE 65535

/* The read or write side of one libpng call: the memory being read, or the FILE being
 * written, plus the last message libpng gave before it jumped. */
typedef struct png_io {
  const uint8_t *data;
  size_t len, pos;
  FILE *file;
  int write_errno;
  char msg[256];
} png_io;

static void on_png_error(png_structp png, png_const_charp msg) {
  png_io *io = png_get_error_ptr(png);
  snprintf(io->msg, sizeof io->msg, "%s", msg ? msg : "libpng error");
  png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg) {
  /* The library never prints; a warning changes nothing we return. */
  (void)png;
  (void)msg;
}

/* libpng's own allocations while reading. It sizes some chunk buffers from the length a
 * chunk declares and only warns when that length is over the chunk limit, so a few bytes
 * could cost hundreds of megabytes; refusing here makes it skip or fail the chunk. */
static png_voidp capped_malloc(png_structp png, png_alloc_size_t size) {
  (void)png;
  return size <= MAX_LIBPNG_ALLOC ? malloc(size) : NULL;
}

static void plain_free(png_structp png, png_voidp p) {
  (void)png;
  free(p);
}

static void read_from_memory(png_structp png, png_bytep dst, size_t n) {
  png_io *io = png_get_io_ptr(png);
  if (n > io->len - io->pos) png_error(png, "unexpected end of data (truncated file)");
  memcpy(dst, io->data + io->pos, n);
  io->pos += n;
}

/* Asks libpng for RGBA8 whatever the input holds. */
static void request_rgba8(png_structp png, png_infop info) {
  int depth = png_get_bit_depth(png, info);
  int ctype = png_get_color_type(png, info);
  int has_trns = png_get_valid(png, info, PNG_INFO_tRNS) != 0;
  if (ctype == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (ctype == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (has_trns) png_set_tRNS_to_alpha(png);
  if (depth == 16) png_set_scale_16(png);
  if (ctype == PNG_COLOR_TYPE_GRAY || ctype == PNG_COLOR_TYPE_GRAY_ALPHA)
    png_set_gray_to_rgb(png);
  if (!(ctype & PNG_COLOR_MASK_ALPHA) && !has_trns) png_set_add_alpha(png, 0xff, PNG_FILLER_AFTER);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
}

/* Outcomes of one libpng run besides 0; the caller turns them into messages. */
enum { DECODE_CORRUPT = 1, DECODE_TOO_BIG = 2, DECODE_NOMEM = 3 };

/* Runs libpng over io->data. The setjmp lives here, apart from the caller's arguments,
 * so that nothing the error path reads is a local changed after setjmp. */
static int decode_rgba8(png_io *io, gm_image *out, png_uint_32 *w_out, png_uint_32 *h_out) {
  png_structp png = png_create_read_struct_2(PNG_LIBPNG_VER_STRING, io, on_png_error, on_png_warning, NULL,
                                             capped_malloc, plain_free);
  if (!png) return DECODE_NOMEM;
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_read_struct(&png, NULL, NULL);
    return DECODE_NOMEM;
  }
  uint8_t *volatile pixels = NULL;
  png_bytep *volatile rows = NULL;
  if (setjmp(png_jmpbuf(png))) {
    free(pixels);
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    return DECODE_CORRUPT;
  }
  png_set_read_fn(png, io, read_from_memory);
  /* Bounds what decompressing a text or ICC profile chunk may produce. */
  png_set_chunk_malloc_max(png, MAX_CHUNK_BYTES);
  png_set_chunk_cache_max(png, MAX_ANCILLARY_CHUNKS);
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
  /* Fuzzers mutate bytes without fixing checksums; let them reach the decoding. */
  png_set_crc_action(png, PNG_CRC_QUIET_USE, PNG_CRC_QUIET_USE);
#ifdef PNG_IGNORE_ADLER32
  png_set_option(png, PNG_IGNORE_ADLER32, PNG_OPTION_ON);
#endif
#endif
  png_read_info(png, info);
  png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
  *w_out = w;
  *h_out = h;
  if (w == 0 || h == 0 || w > GM_PNG_MAX_SIDE || h > GM_PNG_MAX_SIDE) {
    png_destroy_read_struct(&png, &info, NULL);
    return DECODE_TOO_BIG;
  }
  request_rgba8(png, info);
  if (png_get_rowbytes(png, info) != (size_t)w * 4) png_error(png, "unexpected row layout after conversion");
  pixels = malloc((size_t)w * h * 4);
  rows = malloc((size_t)h * sizeof *rows);
  if (!pixels || !rows) png_error(png, "out of memory");
  for (png_uint_32 y = 0; y < h; y++) rows[y] = pixels + (size_t)y * w * 4;
  png_read_image(png, rows);
  png_read_end(png, NULL);
  png_destroy_read_struct(&png, &info, NULL);
  free(rows);
  out->width = (int)w;
  out->height = (int)h;
  out->rgba = pixels;
  return 0;
}

int gm_png_decode(const void *data, size_t len, const char *what, gm_image *out, gm_error *err) {
  if (!what) what = "PNG data";
  if (!out || (!data && len)) return gm_error_set(err, GM_EINVAL, "%s: no data or no image to fill", what);
  if (len < 8 || png_sig_cmp((png_const_bytep)data, 0, 8))
    return gm_error_set(err, GM_EFORMAT, "%s: not a PNG file (bad signature)", what);
  png_io io = {.data = data, .len = len};
  png_uint_32 w = 0, h = 0;
  switch (decode_rgba8(&io, out, &w, &h)) {
  case 0: return 0;
  case DECODE_NOMEM: return gm_error_set(err, GM_ENOMEM, "%s: cannot create a PNG reader", what);
  case DECODE_TOO_BIG:
    return gm_error_set(err, GM_EFORMAT, "%s: image is %lux%lu; at most %dx%d is accepted", what,
                        (unsigned long)w, (unsigned long)h, GM_PNG_MAX_SIDE, GM_PNG_MAX_SIDE);
  default: return gm_error_set(err, GM_EFORMAT, "%s: corrupt PNG: %s", what, io.msg);
  }
}

/* Reads a whole regular file into memory, at most `max` bytes. */
static int slurp(const char *path, size_t max, uint8_t **data, size_t *len, gm_error *err) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return gm_error_set(err, errno == ENOENT ? GM_ENOTFOUND : GM_EIO, "%s: cannot open: %s", path,
                        strerror(errno));
  struct stat st;
  if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
    fclose(f);
    return gm_error_set(err, GM_EIO, "%s: not a regular file", path);
  }
  if ((unsigned long long)st.st_size > max) {
    fclose(f);
    return gm_error_set(err, GM_EFORMAT, "%s: %lld bytes is too large", path, (long long)st.st_size);
  }
  size_t n = (size_t)st.st_size;
  uint8_t *buf = malloc(n ? n : 1);
  if (!buf) {
    fclose(f);
    return gm_error_set(err, GM_ENOMEM, "%s: out of memory for %zu bytes", path, n);
  }
  size_t got = fread(buf, 1, n, f);
  int rd_err = ferror(f);
  fclose(f);
  if (got != n || rd_err) {
    free(buf);
    return gm_error_set(err, GM_EIO, "%s: read error", path);
  }
  *data = buf;
  *len = n;
  return 0;
}

int gm_png_read(const char *path, gm_image *out, gm_error *err) {
  if (!path || !out) return gm_error_set(err, GM_EINVAL, "gm_png_read: no path or no image");
  uint8_t *data = NULL;
  size_t len = 0;
  int rc = slurp(path, MAX_PNG_FILE_BYTES, &data, &len, err);
  if (rc) return rc;
  rc = gm_png_decode(data, len, path, out, err);
  free(data);
  return rc;
}

static void write_to_file(png_structp png, png_bytep src, size_t n) {
  png_io *io = png_get_io_ptr(png);
  if (fwrite(src, 1, n, io->file) != n) {
    io->write_errno = errno;
    png_error(png, "write failed");
  }
}

static void flush_file(png_structp png) {
  png_io *io = png_get_io_ptr(png);
  if (fflush(io->file)) {
    io->write_errno = errno;
    png_error(png, "write failed");
  }
}

/* Encodes the pixels into an open file. */
static int encode_png(FILE *file, const char *path, const uint8_t *pixels, int width, int height,
                      int channels, gm_error *err) {
  png_io io = {.file = file};
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &io, on_png_error, on_png_warning);
  if (!png) return gm_error_set(err, GM_ENOMEM, "%s: cannot create a PNG writer", path);
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_write_struct(&png, NULL);
    return gm_error_set(err, GM_ENOMEM, "%s: cannot create a PNG writer", path);
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    if (io.write_errno)
      return gm_error_set(err, GM_EIO, "%s: cannot write: %s", path, strerror(io.write_errno));
    return gm_error_set(err, GM_EIO, "%s: cannot encode PNG: %s", path, io.msg);
  }
  png_set_write_fn(png, &io, write_to_file, flush_file);
  png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8,
               channels == 4 ? PNG_COLOR_TYPE_RGBA : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  size_t stride = (size_t)width * (size_t)channels;
  for (int y = 0; y < height; y++) png_write_row(png, pixels + (size_t)y * stride);
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  return 0;
}

/* Creates path.tmp-XXXXXX next to path with O_EXCL (mode 0666 less the umask, as a plain
 * file would get). Fills tmp (size >= strlen(path) + 16). */
static int create_temp(const char *path, char *tmp, size_t size, gm_error *err) {
  static atomic_uint counter;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  for (int attempt = 0; attempt < 64; attempt++) {
    unsigned mix = (unsigned)getpid() * 2654435761u ^ (unsigned)ts.tv_nsec ^
                   (atomic_fetch_add(&counter, 1u) * 40503u);
    snprintf(tmp, size, "%s.tmp-%06x", path, mix & 0xffffffu);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) return fd;
    if (errno != EEXIST)
      return gm_error_set(err, errno == ENOENT ? GM_ENOTFOUND : GM_EIO,
                          "%s: cannot create a temporary file in its folder: %s", path, strerror(errno));
  }
  return gm_error_set(err, GM_EIO, "%s: cannot find a free temporary name", path);
}

/* Makes a rename durable; a folder that cannot be opened or synced is not an error. */
static void sync_parent(const char *path) {
  const char *slash = strrchr(path, '/');
  char dir[4096];
  if (!slash) snprintf(dir, sizeof dir, ".");
  else if (slash == path) snprintf(dir, sizeof dir, "/");
  else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
  int fd = open(dir, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  (void)fsync(fd);
  close(fd);
}

int gm_png_write(const char *path, const uint8_t *pixels, int width, int height, int channels,
                 gm_error *err) {
  if (!path || !pixels) return gm_error_set(err, GM_EINVAL, "gm_png_write: no path or no pixels");
  if (channels != 3 && channels != 4)
    return gm_error_set(err, GM_EINVAL, "%s: %d channels; 3 (RGB) or 4 (RGBA) can be written", path, channels);
  if (width < 1 || height < 1 || width > MAX_WRITE_SIDE || height > MAX_WRITE_SIDE)
    return gm_error_set(err, GM_ERANGE, "%s: cannot write a %dx%d image (1 to %d per side)", path, width,
                        height, MAX_WRITE_SIDE);
  size_t tmp_size = strlen(path) + 16;
  char *tmp = malloc(tmp_size);
  if (!tmp) return gm_error_set(err, GM_ENOMEM, "%s: out of memory", path);
  int fd = create_temp(path, tmp, tmp_size, err);
  if (fd < 0) {
    free(tmp);
    return fd;
  }
  FILE *f = fdopen(fd, "wb");
  if (!f) {
    int e = errno;
    close(fd);
    unlink(tmp);
    free(tmp);
    return gm_error_set(err, GM_EIO, "%s: cannot write: %s", path, strerror(e));
  }
  int rc = encode_png(f, path, pixels, width, height, channels, err);
  if (!rc && (fflush(f) || fsync(fd)))
    rc = gm_error_set(err, GM_EIO, "%s: cannot write: %s", path, strerror(errno));
  if (fclose(f) && !rc) rc = gm_error_set(err, GM_EIO, "%s: cannot write: %s", path, strerror(errno));
  if (!rc && rename(tmp, path))
    rc = gm_error_set(err, GM_EIO, "%s: cannot rename %s over it: %s", path, tmp, strerror(errno));
  if (rc) unlink(tmp);
  else sync_parent(path);
  free(tmp);
  return rc;
}

/* Copies one image into its cell, each source pixel as an upscale x upscale block. */
static void blit_upscaled(uint8_t *sheet, size_t sheet_stride, size_t x0, size_t y0,
                          const uint8_t *img, int width, int height, int channels, int upscale) {
  for (int y = 0; y < height; y++) {
    uint8_t *row = sheet + (y0 + (size_t)y * upscale) * sheet_stride + x0 * channels;
    for (int x = 0; x < width; x++) {
      const uint8_t *px = img + ((size_t)y * width + x) * channels;
      for (int u = 0; u < upscale; u++) memcpy(row + ((size_t)x * upscale + u) * channels, px, channels);
    }
    for (int v = 1; v < upscale; v++)
      memcpy(row + (size_t)v * sheet_stride, row, (size_t)width * upscale * channels);
  }
}

int gm_png_write_grid(const char *path, const uint8_t *const *images, int n, int width, int height,
                      int channels, int cols, int upscale, gm_error *err) {
  if (!path) return gm_error_set(err, GM_EINVAL, "gm_png_write_grid: no path");
  if (!images || n < 1) return gm_error_set(err, GM_EINVAL, "%s: a grid needs at least one image", path);
  if (channels != 3 && channels != 4)
    return gm_error_set(err, GM_EINVAL, "%s: %d channels; 3 (RGB) or 4 (RGBA) can be written", path, channels);
  if (width < 1 || height < 1 || upscale < 1 || upscale > MAX_WRITE_SIDE)
    return gm_error_set(err, GM_EINVAL, "%s: bad grid cell %dx%d or upscale %d", path, width, height, upscale);
  for (int i = 0; i < n; i++)
    if (!images[i]) return gm_error_set(err, GM_EINVAL, "%s: grid image %d is NULL", path, i);
  if (cols <= 0) {
    cols = 1;
    while ((long long)cols * cols < n) cols++;
  }
  if (cols > n) cols = n;
  int rows = (n + cols - 1) / cols;
  long long cell_w = (long long)width * upscale, cell_h = (long long)height * upscale;
  long long sheet_w = cols * cell_w + (cols - 1), sheet_h = rows * cell_h + (rows - 1);
  if (sheet_w > MAX_WRITE_SIDE || sheet_h > MAX_WRITE_SIDE)
    return gm_error_set(err, GM_ERANGE, "%s: a %d x %d grid of %dx%d images at x%d is %lldx%lld pixels, over %d",
                        path, cols, rows, width, height, upscale, sheet_w, sheet_h, MAX_WRITE_SIDE);
  size_t stride = (size_t)sheet_w * channels;
  uint8_t *sheet = malloc(stride * (size_t)sheet_h);
  if (!sheet) return gm_error_set(err, GM_ENOMEM, "%s: out of memory for a %lldx%lld grid", path, sheet_w, sheet_h);
  for (size_t i = 0; i < stride * (size_t)sheet_h; i += channels) {
    sheet[i] = sheet[i + 1] = sheet[i + 2] = GM_GRID_GAP_GREY;
    if (channels == 4) sheet[i + 3] = 0xff;
  }
  for (int i = 0; i < n; i++) {
    size_t x0 = (size_t)(i % cols) * (size_t)(cell_w + 1), y0 = (size_t)(i / cols) * (size_t)(cell_h + 1);
    blit_upscaled(sheet, stride, x0, y0, images[i], width, height, channels, upscale);
  }
  int rc = gm_png_write(path, sheet, (int)sheet_w, (int)sheet_h, channels, err);
  free(sheet);
  return rc;
}

void gm_image_free(gm_image *img) {
  if (!img) return;
  free(img->rgba);
  img->rgba = NULL;
}
