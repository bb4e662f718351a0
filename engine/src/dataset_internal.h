/* Internal pieces of the dataset layer (dataset*.c), visible to the tests: the image
 * preprocessing steps and the filters. */
#ifndef GM_DATASET_INTERNAL_H
#define GM_DATASET_INTERNAL_H

#include <stdint.h>
#include "genmoji/error.h"

/* rgb (w, h, 3) <- rgba (w, h, 4) composited over bg with straight alpha, rounded. */
void gm__composite(uint8_t *rgb, const uint8_t *rgba, int w, int h, const uint8_t bg[3]);
/* square (s, s, 3) with s = max(w, h) <- rgb (w, h, 3) centred (left/top get the smaller
 * half of an odd margin), the margin filled with bg. */
void gm__pad_square(uint8_t *square, const uint8_t *rgb, int w, int h, const uint8_t bg[3]);
/* dst (d, d, 3) <- src (s, s, 3) by exact area averaging: each output pixel is the mean of
 * the source area it covers, fractional pixels weighted by their covered share, computed
 * in integers and rounded half up. */
int gm__resize_area(uint8_t *dst, int d, const uint8_t *src, int s, gm_error *err);
/* The three above in order into rgb (size, size, 3). */
int gm__preprocess(uint8_t *rgb, int size, const uint8_t *rgba, int w, int h,
                   const uint8_t bg[3], gm_error *err);

/* The yellow test's two numbers (see dataset_filter.c): the yellow share of the coloured
 * opaque pixels and of all opaque pixels, each 0 when there are none. */
void gm__yellow_shares(const uint8_t *rgba, int w, int h, double *of_coloured,
                       double *of_opaque);
/* 1 when the image passes the yellow filter. */
int gm__is_yellow(const uint8_t *rgba, int w, int h);

#endif
