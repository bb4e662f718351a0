/* KID, Frechet distance and precision / recall between feature sets (see quality.h). */
#include "genmoji/quality.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- KID ---- */

static uint64_t splitmix64(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* The first m entries of idx[0..n) become a uniform draw without replacement. */
static void draw(int *idx, int n, int m, uint64_t *s) {
  for (int i = 0; i < n; i++) idx[i] = i;
  for (int i = 0; i < m; i++) {
    int j = i + (int)(splitmix64(s) % (uint64_t)(n - i));
    int t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
}

static double cubic_kernel(const float *x, const float *y, int d) {
  double dot = 0;
  for (int i = 0; i < d; i++) dot += (double)x[i] * (double)y[i];
  double k = dot / d + 1.0;
  return k * k * k;
}

int gm_kid(const float *a, int na, const float *b, int nb, int d, int subsets, int subset_size,
           uint64_t seed, gm_kid_result *out, gm_error *err) {
  memset(out, 0, sizeof *out);
  int m = subset_size < na ? subset_size : na;
  if (nb < m) m = nb;
  if (d < 1 || subsets < 1 || m < 2)
    return gm_error_set(err, GM_EINVAL,
                        "kid: needs d >= 1, subsets >= 1 and subsets of at least 2 rows "
                        "(d %d, subsets %d, rows %d and %d, subset size %d)",
                        d, subsets, na, nb, subset_size);
  int *ia = malloc((size_t)na * sizeof *ia), *ib = malloc((size_t)nb * sizeof *ib);
  double *v = malloc((size_t)subsets * sizeof *v);
  if (!ia || !ib || !v) {
    free(ia);
    free(ib);
    free(v);
    return gm_error_set(err, GM_ENOMEM, "kid: out of memory");
  }
  uint64_t s = seed;
  double mean = 0;
  for (int t = 0; t < subsets; t++) {
    draw(ia, na, m, &s);
    draw(ib, nb, m, &s);
    double kaa = 0, kbb = 0, kab = 0;
    for (int i = 0; i < m; i++) {
      const float *ai = a + (size_t)ia[i] * d, *bi = b + (size_t)ib[i] * d;
      for (int j = i + 1; j < m; j++) {
        kaa += cubic_kernel(ai, a + (size_t)ia[j] * d, d);
        kbb += cubic_kernel(bi, b + (size_t)ib[j] * d, d);
      }
      for (int j = 0; j < m; j++) kab += cubic_kernel(ai, b + (size_t)ib[j] * d, d);
    }
    v[t] = 2 * kaa / ((double)m * (m - 1)) + 2 * kbb / ((double)m * (m - 1)) -
           2 * kab / ((double)m * m);
    mean += v[t];
  }
  mean /= subsets;
  double var = 0;
  for (int t = 0; t < subsets; t++) var += (v[t] - mean) * (v[t] - mean);
  out->kid = mean;
  out->stderr_kid = subsets > 1 ? sqrt(var / (subsets - 1)) / sqrt((double)subsets) : 0.0;
  out->subsets = subsets;
  out->subset_size = m;
  free(ia);
  free(ib);
  free(v);
  return 0;
}

/* ---- Frechet distance ---- */

/* Eigenvalues w and eigenvectors (columns of v) of the symmetric d x d matrix a, by
 * cyclic Jacobi rotations; a is destroyed. */
static void jacobi_eigen(double *a, int d, double *w, double *v) {
  for (int i = 0; i < d * d; i++) v[i] = 0;
  for (int i = 0; i < d; i++) v[i * d + i] = 1;
  for (int sweep = 0; sweep < 100; sweep++) {
    double off = 0, norm = 0;
    for (int i = 0; i < d; i++)
      for (int j = 0; j < d; j++) {
        norm += a[i * d + j] * a[i * d + j];
        if (i != j) off += a[i * d + j] * a[i * d + j];
      }
    if (off <= 1e-30 * norm || off == 0) break;
    for (int p = 0; p < d; p++)
      for (int q = p + 1; q < d; q++) {
        double apq = a[p * d + q];
        if (fabs(apq) < 1e-300) continue;
        double theta = (a[q * d + q] - a[p * d + p]) / (2 * apq);
        double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1));
        double c = 1 / sqrt(t * t + 1), s = t * c;
        for (int k = 0; k < d; k++) {  /* columns p, q */
          double akp = a[k * d + p], akq = a[k * d + q];
          a[k * d + p] = c * akp - s * akq;
          a[k * d + q] = s * akp + c * akq;
        }
        for (int k = 0; k < d; k++) {  /* rows p, q */
          double apk = a[p * d + k], aqk = a[q * d + k];
          a[p * d + k] = c * apk - s * aqk;
          a[q * d + k] = s * apk + c * aqk;
        }
        for (int k = 0; k < d; k++) {
          double vkp = v[k * d + p], vkq = v[k * d + q];
          v[k * d + p] = c * vkp - s * vkq;
          v[k * d + q] = s * vkp + c * vkq;
        }
      }
  }
  for (int i = 0; i < d; i++) w[i] = a[i * d + i];
}

int gm_frechet_from_stats(const double *mu_a, const double *cov_a, const double *mu_b,
                          const double *cov_b, int d, double *fd, gm_error *err) {
  if (d < 1) return gm_error_set(err, GM_EINVAL, "frechet distance: d %d must be >= 1", d);
  size_t dd = (size_t)d * d;
  double *work = malloc(dd * sizeof *work), *vec = malloc(dd * sizeof *vec);
  double *root = malloc(dd * sizeof *root), *tmp = malloc(dd * sizeof *tmp);
  double *w = malloc((size_t)d * sizeof *w);
  if (!work || !vec || !root || !tmp || !w) {
    free(work), free(vec), free(root), free(tmp), free(w);
    return gm_error_set(err, GM_ENOMEM, "frechet distance: out of memory");
  }
  /* root = S_a^1/2 = V diag(sqrt(max(w, 0))) V^T */
  memcpy(work, cov_a, dd * sizeof *work);
  jacobi_eigen(work, d, w, vec);
  for (int i = 0; i < d; i++)
    for (int j = 0; j < d; j++) {
      double s = 0;
      for (int k = 0; k < d; k++) s += vec[i * d + k] * sqrt(fmax(w[k], 0)) * vec[j * d + k];
      root[i * d + j] = s;
    }
  /* work = root S_b root, symmetrised against rounding */
  for (int i = 0; i < d; i++)
    for (int j = 0; j < d; j++) {
      double s = 0;
      for (int k = 0; k < d; k++) s += root[i * d + k] * cov_b[k * d + j];
      tmp[i * d + j] = s;
    }
  for (int i = 0; i < d; i++)
    for (int j = 0; j < d; j++) {
      double s = 0;
      for (int k = 0; k < d; k++) s += tmp[i * d + k] * root[k * d + j];
      work[i * d + j] = s;
    }
  for (int i = 0; i < d; i++)
    for (int j = i + 1; j < d; j++) work[i * d + j] = work[j * d + i] = 0.5 * (work[i * d + j] + work[j * d + i]);
  jacobi_eigen(work, d, w, vec);
  double tr_root = 0, tr = 0, dmu = 0;
  for (int i = 0; i < d; i++) {
    tr_root += sqrt(fmax(w[i], 0));
    tr += cov_a[i * d + i] + cov_b[i * d + i];
    dmu += (mu_a[i] - mu_b[i]) * (mu_a[i] - mu_b[i]);
  }
  *fd = dmu + tr - 2 * tr_root;
  free(work), free(vec), free(root), free(tmp), free(w);
  return 0;
}

/* The mean (d) and unbiased covariance (d x d) of n rows. */
static void moments(const float *x, int n, int d, double *mu, double *cov) {
  for (int j = 0; j < d; j++) {
    double s = 0;
    for (int i = 0; i < n; i++) s += x[(size_t)i * d + j];
    mu[j] = s / n;
  }
  for (int j = 0; j < d; j++)
    for (int k = j; k < d; k++) {
      double s = 0;
      for (int i = 0; i < n; i++)
        s += (x[(size_t)i * d + j] - mu[j]) * (x[(size_t)i * d + k] - mu[k]);
      cov[j * d + k] = cov[k * d + j] = s / (n - 1);
    }
}

int gm_frechet_distance(const float *a, int na, const float *b, int nb, int d, double *fd,
                        gm_error *err) {
  if (na < 2 || nb < 2 || d < 1)
    return gm_error_set(err, GM_EINVAL,
                        "frechet distance: needs 2 rows in each set and d >= 1 (%d, %d, d %d)",
                        na, nb, d);
  size_t dd = (size_t)d * d;
  double *mu_a = malloc((size_t)d * sizeof(double)), *mu_b = malloc((size_t)d * sizeof(double));
  double *ca = malloc(dd * sizeof(double)), *cb = malloc(dd * sizeof(double));
  int rc;
  if (!mu_a || !mu_b || !ca || !cb) {
    rc = gm_error_set(err, GM_ENOMEM, "frechet distance: out of memory");
  } else {
    moments(a, na, d, mu_a, ca);
    moments(b, nb, d, mu_b, cb);
    rc = gm_frechet_from_stats(mu_a, ca, mu_b, cb, d, fd, err);
  }
  free(mu_a), free(mu_b), free(ca), free(cb);
  return rc;
}

/* ---- precision and recall ---- */

static double dist2(const float *x, const float *y, int d) {
  double s = 0;
  for (int i = 0; i < d; i++) {
    double t = (double)x[i] - (double)y[i];
    s += t * t;
  }
  return s;
}

/* radius2[i] = squared distance from row i to its k-th nearest other row of x. */
static void knn_radii(const float *x, int n, int d, int k, double *radius2, double *best) {
  for (int i = 0; i < n; i++) {
    int have = 0;  /* best[0..have) ascending: the k smallest so far */
    for (int j = 0; j < n; j++) {
      if (j == i) continue;
      double r = dist2(x + (size_t)i * d, x + (size_t)j * d, d);
      if (have == k && r >= best[k - 1]) continue;
      int p = have < k ? have++ : k - 1;
      while (p > 0 && best[p - 1] > r) {
        best[p] = best[p - 1];
        p--;
      }
      best[p] = r;
    }
    radius2[i] = best[k - 1];
  }
}

/* The share of rows of q inside at least one ball (centre row of x, radius2). */
static double coverage(const float *x, int n, const double *radius2, const float *q, int nq,
                       int d) {
  int inside = 0;
  for (int i = 0; i < nq; i++)
    for (int j = 0; j < n; j++)
      if (dist2(q + (size_t)i * d, x + (size_t)j * d, d) <= radius2[j]) {
        inside++;
        break;
      }
  return (double)inside / nq;
}

int gm_precision_recall(const float *real, int n_real, const float *gen, int n_gen, int d,
                        int k, double *precision, double *recall, gm_error *err) {
  if (k < 1 || n_real <= k || n_gen <= k || d < 1)
    return gm_error_set(err, GM_EINVAL,
                        "precision/recall: needs k >= 1 and more than k rows in each set "
                        "(k %d, %d real, %d generated, d %d)", k, n_real, n_gen, d);
  double *rr = malloc((size_t)n_real * sizeof *rr), *rg = malloc((size_t)n_gen * sizeof *rg);
  double *best = malloc((size_t)k * sizeof *best);
  if (!rr || !rg || !best) {
    free(rr), free(rg), free(best);
    return gm_error_set(err, GM_ENOMEM, "precision/recall: out of memory");
  }
  knn_radii(real, n_real, d, k, rr, best);
  knn_radii(gen, n_gen, d, k, rg, best);
  *precision = coverage(real, n_real, rr, gen, n_gen, d);
  *recall = coverage(gen, n_gen, rg, real, n_real, d);
  free(rr), free(rg), free(best);
  return 0;
}
