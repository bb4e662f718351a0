/* Sample-quality metrics on the host: the histogram baseline in bits/dim, colour
 * histograms and their distances, nearest neighbours and mean pairwise distances of RGB8
 * image sets. See image_metrics.h for the definitions. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image_metrics.h"

#define LEVELS 16

void gm_metrics_quantize16(uint8_t *dst, const uint8_t *src, size_t n) {
  for (size_t i = 0; i < n; i++) dst[i] = (uint8_t)((src[i] >> 4) * 17);
}

double gm_metrics_histogram_bpd(const uint8_t *const *train, int n_train,
                                const uint8_t *const *test, int n_test, size_t len) {
  if (n_train <= 0 || n_test <= 0 || len < 3) return NAN;
  size_t pixels = len / 3;
  double count[3][LEVELS] = {{0}};
  for (int k = 0; k < n_train; k++)
    for (size_t i = 0; i < pixels * 3; i++) count[i % 3][train[k][i] >> 4] += 1;
  double logp[3][LEVELS];
  double denom = (double)pixels * n_train + LEVELS;
  for (int c = 0; c < 3; c++)
    for (int l = 0; l < LEVELS; l++) logp[c][l] = log2((count[c][l] + 1) / denom);
  double sum = 0;
  for (int k = 0; k < n_test; k++)
    for (size_t i = 0; i < pixels * 3; i++) sum -= logp[i % 3][test[k][i] >> 4];
  return sum / ((double)n_test * (double)(pixels * 3));
}

static int is_background(const uint8_t *px, const uint8_t bg[3], int bg_levels) {
  for (int c = 0; c < 3; c++)
    if (abs((px[c] >> 4) - (bg[c] >> 4)) > bg_levels) return 0;
  return 1;
}

void gm_colour_stats_compute(gm_colour_stats *out, const uint8_t *const *images, int n, size_t len,
                             const uint8_t bg[3], int bg_levels) {
  memset(out, 0, sizeof *out);
  double sum[3] = {0}, sq[3] = {0};
  size_t pixels = len / 3;
  for (int k = 0; k < n; k++)
    for (size_t i = 0; i < pixels; i++) {
      const uint8_t *px = images[k] + 3 * i;
      out->total++;
      if (is_background(px, bg, bg_levels)) continue;
      out->pixels++;
      out->hist[(px[0] >> 4) * 256 + (px[1] >> 4) * 16 + (px[2] >> 4)] += 1;
      for (int c = 0; c < 3; c++) {
        sum[c] += px[c];
        sq[c] += (double)px[c] * px[c];
      }
    }
  for (int c = 0; c < 3; c++) {
    if (out->pixels == 0) {
      out->mean[c] = out->std[c] = NAN;
      continue;
    }
    double m = sum[c] / (double)out->pixels, var = sq[c] / (double)out->pixels - m * m;
    out->mean[c] = m;
    out->std[c] = sqrt(var > 0 ? var : 0);
  }
  if (out->pixels > 0)
    for (int b = 0; b < GM_COLOUR_BINS; b++) out->hist[b] /= (double)out->pixels;
}

static double total(const double *p, int bins) {
  double s = 0;
  for (int i = 0; i < bins; i++) s += p[i];
  return s;
}

double gm_metrics_js_bits(const double *p, const double *q, int bins) {
  double sp = total(p, bins), sq = total(q, bins);
  if (!(sp > 0) || !(sq > 0)) return NAN;
  double js = 0;
  for (int i = 0; i < bins; i++) {
    double a = p[i] / sp, b = q[i] / sq, m = 0.5 * (a + b);
    if (a > 0) js += 0.5 * a * log2(a / m);
    if (b > 0) js += 0.5 * b * log2(b / m);
  }
  return js < 0 ? 0 : js > 1 ? 1 : js; /* rounding can step just outside [0, 1] */
}

double gm_metrics_tv(const double *p, const double *q, int bins) {
  double sp = total(p, bins), sq = total(q, bins);
  if (!(sp > 0) || !(sq > 0)) return NAN;
  double d = 0;
  for (int i = 0; i < bins; i++) d += fabs(p[i] / sp - q[i] / sq);
  return 0.5 * d;
}

double gm_metrics_rms(const uint8_t *a, const uint8_t *b, size_t len) {
  if (len == 0) return 0;
  uint64_t s = 0;
  for (size_t i = 0; i < len; i++) {
    int d = (int)a[i] - (int)b[i];
    s += (uint64_t)(d * d);
  }
  return sqrt((double)s / (double)len);
}

void gm_metrics_nearest(const uint8_t *const *queries, int n_queries, const uint8_t *const *refs,
                        int n_refs, size_t len, int skip_same, double *dist, int *idx) {
  for (int i = 0; i < n_queries; i++) {
    double best = INFINITY;
    int at = -1;
    for (int j = 0; j < n_refs; j++) {
      if (skip_same && i == j) continue;
      double d = gm_metrics_rms(queries[i], refs[j], len);
      if (d < best) {
        best = d;
        at = j;
      }
    }
    dist[i] = at < 0 ? NAN : best;
    idx[i] = at;
  }
}

double gm_metrics_mean_pairwise(const uint8_t *const *images, int n, size_t len) {
  if (n < 2) return NAN;
  double s = 0;
  for (int i = 0; i < n; i++)
    for (int j = i + 1; j < n; j++) s += gm_metrics_rms(images[i], images[j], len);
  return s / ((double)n * (n - 1) / 2);
}

double gm_metrics_share_below(const double *values, int n, double threshold) {
  if (n <= 0) return NAN;
  int k = 0;
  for (int i = 0; i < n; i++) k += values[i] < threshold;
  return (double)k / n;
}

/* Insertion sort: the sets are small (samples, at most a few thousand). */
void gm_metrics_argsort(const double *dist, int n, int *order) {
  for (int i = 0; i < n; i++) order[i] = i;
  for (int i = 1; i < n; i++) {
    int v = order[i], j = i;
    while (j > 0) {
      double a = dist[order[j - 1]], b = dist[v];
      int after = isnan(a) ? !isnan(b) : (!isnan(b) && a > b);
      if (!after) break;
      order[j] = order[j - 1];
      j--;
    }
    order[j] = v;
  }
}
