/* The survey's statistics (stats.h). */
#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void gm_survey_wilson(int k, int n, double z, double *lo, double *hi) {
  if (n <= 0) {
    *lo = 0.0;
    *hi = 1.0;
    return;
  }
  double p = (double)k / n, z2 = z * z;
  double den = 1.0 + z2 / n;
  double mid = (p + z2 / (2.0 * n)) / den;
  double half = z * sqrt(p * (1.0 - p) / n + z2 / (4.0 * (double)n * n)) / den;
  /* at k = 0 (k = n) the centre equals the half-width in exact arithmetic: the end is 0
   * (1) exactly, not the rounding residue of the subtraction */
  *lo = k <= 0 || mid - half < 0.0 ? 0.0 : mid - half;
  *hi = k >= n || mid + half > 1.0 ? 1.0 : mid + half;
}

/* log (C(n, i) / 2^n) */
static double log_pmf_half(int i, int n) {
  return lgamma(n + 1.0) - lgamma(i + 1.0) - lgamma(n - i + 1.0) - n * log(2.0);
}

double gm_survey_binomial_p(int k, int n) {
  if (n <= 0) return 1.0;
  if (k < 0) k = 0;
  if (k > n) k = n;
  /* p = 1/2 is symmetric: the outcomes no more likely than k are the two tails from
   * min(k, n - k) outwards; at the mode every outcome counts */
  int m = k < n - k ? k : n - k;
  if (2 * m == n) return 1.0;
  double tail = 0.0;
  for (int i = 0; i <= m; i++) tail += exp(log_pmf_half(i, n));
  double p = 2.0 * tail;
  return p > 1.0 ? 1.0 : p;
}

int gm_survey_bradley_terry(int n, const double *wins, double prior, int max_iter, double tol,
                            double *strength) {
  double *w = malloc(sizeof *w * (size_t)n * (size_t)n);
  double *p = malloc(sizeof *p * (size_t)n), *next = malloc(sizeof *next * (size_t)n);
  int *seen = calloc((size_t)n, sizeof *seen);
  int it = -1;
  if (!w || !p || !next || !seen) goto done;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) {
      double a = i == j ? 0 : wins[i * n + j], b = i == j ? 0 : wins[j * n + i];
      int compared = a + b > 0;
      w[i * n + j] = a + (compared ? prior : 0);
      if (compared) seen[i] = 1;
    }
  for (int i = 0; i < n; i++) p[i] = 1.0;
  for (int k = 0; k < max_iter; k++) {
    double log_sum = 0;
    int m = 0;
    for (int i = 0; i < n; i++) {
      if (!seen[i]) continue;
      double won = 0, den = 0;
      for (int j = 0; j < n; j++) {
        if (j == i || !seen[j]) continue;
        double nij = w[i * n + j] + w[j * n + i];
        won += w[i * n + j];
        if (nij > 0) den += nij / (p[i] + p[j]);
      }
      next[i] = den > 0 ? won / den : p[i];
      if (next[i] > 0) {
        log_sum += log(next[i]);
        m++;
      }
    }
    double g = m ? exp(log_sum / m) : 1.0, moved = 0;
    for (int i = 0; i < n; i++) {
      if (!seen[i]) continue;
      next[i] /= g;
      double d = fabs(log(next[i]) - log(p[i]));
      if (!(d <= moved)) moved = d; /* NAN or inf (a strength went to 0) counts as moving */
      p[i] = next[i];
    }
    if (moved <= tol) {
      it = k + 1;
      break;
    }
  }
  double mean = 0;
  int m = 0;
  for (int i = 0; i < n; i++)
    if (seen[i]) {
      strength[i] = log(p[i]);
      if (isfinite(strength[i])) mean += strength[i], m++;
    } else {
      strength[i] = NAN;
    }
  for (int i = 0; i < n && m; i++)
    if (seen[i]) strength[i] -= mean / m;
done:
  if (!w || !p || !next || !seen)
    for (int i = 0; i < n; i++) strength[i] = NAN;
  free(w);
  free(p);
  free(next);
  free(seen);
  return it;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

double gm_survey_quantile(double *v, int n, double q) {
  if (n <= 0) return NAN;
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  double h = (n - 1) * q;
  int lo = (int)floor(h);
  if (lo >= n - 1) return v[n - 1];
  return v[lo] + (h - lo) * (v[lo + 1] - v[lo]);
}

/* splitmix64 of a counter: the u-th draw of resample r depends on (seed, r, u) only */
static uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

int gm_survey_bootstrap(int n_units, int reps, uint64_t seed, gm_survey_statistic stat, void *ctx,
                        double *lo, double *hi) {
  *lo = *hi = NAN;
  if (n_units <= 0 || reps <= 0) return 0;
  int *weight = malloc(sizeof *weight * (size_t)n_units);
  double *v = malloc(sizeof *v * (size_t)reps);
  int got = 0;
  if (!weight || !v) goto done;
  for (int r = 0; r < reps; r++) {
    memset(weight, 0, sizeof *weight * (size_t)n_units);
    for (int u = 0; u < n_units; u++) {
      uint64_t x = mix(seed ^ mix(((uint64_t)r << 32) | (uint32_t)u));
      int k = (int)((double)(x >> 11) * (1.0 / 9007199254740992.0) * n_units);
      weight[k < n_units ? k : n_units - 1]++;
    }
    double s = stat(weight, n_units, ctx);
    if (isfinite(s)) v[got++] = s;
  }
  if (got) {
    *lo = gm_survey_quantile(v, got, 0.025);
    *hi = gm_survey_quantile(v, got, 0.975);
  }
done:
  free(weight);
  free(v);
  return got;
}
