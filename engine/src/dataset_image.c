/* Dataset preprocessing: composite RGBA over a background, pad to a square, and resize
 * by exact area averaging (a box filter with fractional coverage, not bilinear). */
#include <stdlib.h>
#include <string.h>

#include "dataset_internal.h"

void gm__composite(uint8_t *rgb, const uint8_t *rgba, int w, int h, const uint8_t bg[3]) {
  size_t n = (size_t)w * (size_t)h;
  for (size_t i = 0; i < n; i++) {
    unsigned a = rgba[4 * i + 3];
    for (int c = 0; c < 3; c++) {
      /* x / 255 rounded: 255 is odd, so there are no ties. */
      unsigned x = rgba[4 * i + c] * a + bg[c] * (255u - a);
      rgb[3 * i + c] = (uint8_t)((x + 127u) / 255u);
    }
  }
}

void gm__pad_square(uint8_t *square, const uint8_t *rgb, int w, int h, const uint8_t bg[3]) {
  int s = w > h ? w : h, ox = (s - w) / 2, oy = (s - h) / 2;
  for (size_t i = 0; i < (size_t)s * (size_t)s; i++) memcpy(square + 3 * i, bg, 3);
  for (int y = 0; y < h; y++)
    memcpy(square + 3 * ((size_t)(y + oy) * (size_t)s + (size_t)ox), rgb + 3 * (size_t)y * (size_t)w,
           3 * (size_t)w);
}

/* Output pixel i covers [i*s, (i+1)*s) and source pixel j covers [j*d, (j+1)*d), both in
 * units of 1/d source pixels, so every overlap is an integer and the weights of one
 * output pixel sum to s. */
typedef struct span {
  int first, count;
  int off;                  /* into the weight array */
} span;

static int make_spans(span *sp, int **weights, int d, int s) {
  int *w = malloc(sizeof *w * (size_t)(d + s));   /* each pair (i, j) that overlaps */
  if (!w) return -1;
  int k = 0;
  for (int i = 0; i < d; i++) {
    long lo = (long)i * s, hi = (long)(i + 1) * s;
    int first = (int)(lo / d), last = (int)((hi - 1) / d);
    sp[i].first = first;
    sp[i].count = last - first + 1;
    sp[i].off = k;
    for (int j = first; j <= last; j++) {
      long a = (long)j * d > lo ? (long)j * d : lo;
      long b = (long)(j + 1) * d < hi ? (long)(j + 1) * d : hi;
      w[k++] = (int)(b - a);
    }
  }
  *weights = w;
  return 0;
}

int gm__resize_area(uint8_t *dst, int d, const uint8_t *src, int s, gm_error *err) {
  if (d <= 0 || s <= 0 || s > 65536 || d > 65536)
    return gm_error_set(err, GM_EINVAL, "resize: bad sizes %d -> %d", s, d);
  span *sp = malloc(sizeof *sp * (size_t)d);
  int *w = NULL;
  uint32_t *rows = malloc(sizeof *rows * (size_t)s * (size_t)d * 3); /* (s, d, 3) */
  if (!sp || !rows || make_spans(sp, &w, d, s)) {
    free(sp);
    free(rows);
    return gm_error_set(err, GM_ENOMEM, "resize: out of memory for %d -> %d", s, d);
  }
  /* Horizontal pass: each row's sums stay below s * 255. */
  for (int y = 0; y < s; y++) {
    const uint8_t *in = src + 3 * (size_t)y * (size_t)s;
    uint32_t *out = rows + 3 * (size_t)y * (size_t)d;
    for (int i = 0; i < d; i++) {
      uint32_t acc[3] = {0, 0, 0};
      for (int k = 0; k < sp[i].count; k++) {
        const uint8_t *p = in + 3 * (size_t)(sp[i].first + k);
        uint32_t wt = (uint32_t)w[sp[i].off + k];
        for (int c = 0; c < 3; c++) acc[c] += wt * p[c];
      }
      memcpy(out + 3 * (size_t)i, acc, sizeof acc);
    }
  }
  /* Vertical pass and the division by s*s, rounded half up. */
  uint64_t den = (uint64_t)s * (uint64_t)s;
  for (int yo = 0; yo < d; yo++) {
    for (int i = 0; i < d; i++) {
      uint64_t acc[3] = {0, 0, 0};
      for (int k = 0; k < sp[yo].count; k++) {
        const uint32_t *p = rows + 3 * ((size_t)(sp[yo].first + k) * (size_t)d + (size_t)i);
        uint64_t wt = (uint64_t)w[sp[yo].off + k];
        for (int c = 0; c < 3; c++) acc[c] += wt * p[c];
      }
      for (int c = 0; c < 3; c++)
        dst[3 * ((size_t)yo * (size_t)d + (size_t)i) + c] = (uint8_t)((2 * acc[c] + den) / (2 * den));
    }
  }
  free(sp);
  free(w);
  free(rows);
  return 0;
}

int gm__preprocess(uint8_t *rgb, int size, const uint8_t *rgba, int w, int h,
                   const uint8_t bg[3], gm_error *err) {
  if (w <= 0 || h <= 0 || w > 65536 || h > 65536 || !rgba)
    return gm_error_set(err, GM_EINVAL, "preprocess: bad image %dx%d", w, h);
  int s = w > h ? w : h;
  uint8_t *flat = malloc(3 * (size_t)w * (size_t)h);
  uint8_t *square = malloc(3 * (size_t)s * (size_t)s);
  if (!flat || !square) {
    free(flat);
    free(square);
    return gm_error_set(err, GM_ENOMEM, "preprocess: out of memory for %dx%d", w, h);
  }
  gm__composite(flat, rgba, w, h, bg);
  gm__pad_square(square, flat, w, h, bg);
  int rc = gm__resize_area(rgb, size, square, s, err);
  free(flat);
  free(square);
  return rc;
}
