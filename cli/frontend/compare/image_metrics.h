/* Sample-quality metrics on the host, as `genmoji compare` reports them (image_metrics.c,
 * tested by tests/test_metrics.c): likelihood baselines, colour fidelity, novelty and diversity of sets of small RGB8
 * images. Every image is (S, S, 3) interleaved RGB8, `len` = 3 S S bytes; a set is an
 * array of pointers to such images. Nothing here touches a device.
 *
 *     uint8_t q[3 * 32 * 32];
 *     gm_metrics_quantize16(q, img, sizeof q);          // the models' 16 levels, q * 17
 *     double bpd = gm_metrics_histogram_bpd(train, n_train, held, n_held, len);
 *     gm_colour_stats a, b;
 *     gm_colour_stats_compute(&a, samples, n, len, bg, 1);
 *     gm_colour_stats_compute(&b, train, n_train, len, bg, 1);
 *     double js = gm_metrics_js_bits(a.hist, b.hist, GM_COLOUR_BINS);
 *     gm_metrics_nearest(samples, n, train, n_train, len, 0, dist, idx);
 *     double div = gm_metrics_mean_pairwise(samples, n, len);
 */
#ifndef GM_CLI_IMAGE_METRICS_H
#define GM_CLI_IMAGE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "genmoji/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The joint colour histogram: 16 levels per channel, bin (r >> 4) * 256 + (g >> 4) * 16
 * + (b >> 4). */
#define GM_COLOUR_BINS 4096

/* dst[i] = (src[i] >> 4) * 17: the 16 levels the models are scored on, shown back on the
 * 0..255 scale (PixelCNN's samples are already of this form). dst may equal src. */
void gm_metrics_quantize16(uint8_t *dst, const uint8_t *src, size_t n);

/* Bits per dimension on `test` of the independent per-channel model: for each channel a
 * 16-bin histogram of the levels v >> 4 over every pixel of `train`, with add-one
 * smoothing, p_c(l) = (count_c(l) + 1) / (pixels + 16); the value is the mean over
 * every subpixel of `test` of -log2 p_c(level). A uniform model gives exactly 4.
 * NAN when either set is empty. */
double gm_metrics_histogram_bpd(const uint8_t *const *train, int n_train,
                                       const uint8_t *const *test, int n_test, size_t len);

/* Colour statistics of the foreground of a set of images. A pixel is background when
 * each of its channels is within `bg_levels` 16-level steps of the background colour's:
 * |(v >> 4) - (bg >> 4)| <= bg_levels for R, G and B. */
typedef struct gm_colour_stats {
  double hist[GM_COLOUR_BINS]; /* normalised over foreground pixels (all 0 when none) */
  int64_t pixels;              /* foreground pixels */
  int64_t total;               /* all pixels */
  double mean[3], std[3];      /* per channel over the foreground, 0..255 (NAN when none) */
} gm_colour_stats;

void gm_colour_stats_compute(gm_colour_stats *out, const uint8_t *const *images, int n,
                                    size_t len, const uint8_t bg[3], int bg_levels);

/* Jensen-Shannon divergence of two distributions over `bins`, in bits: 0 for equal ones,
 * 1 for disjoint supports. NAN when either sums to 0. */
double gm_metrics_js_bits(const double *p, const double *q, int bins);
/* Total variation distance, half the L1 distance: 0 equal, 1 disjoint. NAN when either
 * sums to 0. */
double gm_metrics_tv(const double *p, const double *q, int bins);

/* Root mean square difference of two images, per subpixel, on the 0..255 scale. */
double gm_metrics_rms(const uint8_t *a, const uint8_t *b, size_t len);

/* For each query, the nearest reference by gm_metrics_rms: dist[i] and idx[i]. With
 * skip_same set (queries and refs the same set), reference i is not a candidate for query
 * i (leave one out); a query without candidates gets NAN and -1. */
void gm_metrics_nearest(const uint8_t *const *queries, int n_queries,
                               const uint8_t *const *refs, int n_refs, size_t len, int skip_same,
                               double *dist, int *idx);

/* The mean of gm_metrics_rms over every unordered pair of the set; NAN below 2 images. */
double gm_metrics_mean_pairwise(const uint8_t *const *images, int n, size_t len);

/* The share of values below threshold (0..1); NAN when n is 0. */
double gm_metrics_share_below(const double *values, int n, double threshold);

/* The order of dist[0..n) from smallest to largest (NANs last) into order[0..n). */
void gm_metrics_argsort(const double *dist, int n, int *order);

#ifdef __cplusplus
}
#endif
#endif
