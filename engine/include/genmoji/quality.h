/* Sample-quality statistics between two sets of feature vectors (engine/src/quality.c):
 * kernel inception distance (KID), Frechet distance (FD) and precision / recall. Each set
 * is n rows of d float32 features, row-major; sums run in double. The features come from
 * a feature network (for images: an emoji classifier's penultimate layer); these
 * functions do not care where they come from. */
#ifndef GENMOJI_QUALITY_H
#define GENMOJI_QUALITY_H

#include <stdint.h>
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gm_kid_result {
  double kid;        /* the mean over subsets of the unbiased MMD^2 estimate */
  double stderr_kid; /* its standard error: the subsets' standard deviation / sqrt(subsets) */
  int subsets;       /* subsets used */
  int subset_size;   /* m: rows drawn from each set per subset */
} gm_kid_result;

/* KID (Binkowski et al. 2018): the unbiased MMD^2 with the cubic polynomial kernel
 * k(x, y) = (x . y / d + 1)^3,
 *     MMD^2 = sum_{i != j} k(a_i, a_j) / (m (m - 1)) + sum_{i != j} k(b_i, b_j) / (m (m - 1))
 *             - 2 sum_{i, j} k(a_i, b_j) / m^2,
 * on `subsets` pairs of subsets of m = min(subset_size, na, nb) rows each, drawn without
 * replacement from seed (the same seed, the same subsets). Needs m >= 2 and subsets >= 1;
 * with one subset the standard error is 0. */
GM_API int gm_kid(const float *a, int na, const float *b, int nb, int d, int subsets,
                  int subset_size, uint64_t seed, gm_kid_result *out, gm_error *err);

/* The Frechet distance between Gaussians fitted to the two sets (FID's formula): the
 * means and the unbiased covariances, then
 *     |mu_a - mu_b|^2 + tr(S_a) + tr(S_b) - 2 tr((S_a^1/2 S_b S_a^1/2)^1/2),
 * the square roots by symmetric eigendecomposition (Jacobi; negative eigenvalues from
 * rounding count as 0). Needs at least 2 rows in each set. */
GM_API int gm_frechet_distance(const float *a, int na, const float *b, int nb, int d,
                               double *fd, gm_error *err);
/* The same from means (d) and covariances (d x d, symmetric) directly. */
GM_API int gm_frechet_from_stats(const double *mu_a, const double *cov_a, const double *mu_b,
                                 const double *cov_b, int d, double *fd, gm_error *err);

/* Improved precision and recall (Kynkaanniemi et al. 2019) with k nearest neighbours:
 * each real row's ball has the radius of its k-th nearest other real row; precision is the
 * share of generated rows inside at least one real ball, recall the share of real rows
 * inside at least one generated ball (radii from the generated set the same way). Needs
 * more than k rows in each set. Euclidean distances. */
GM_API int gm_precision_recall(const float *real, int n_real, const float *gen, int n_gen,
                               int d, int k, double *precision, double *recall, gm_error *err);

#ifdef __cplusplus
}
#endif
#endif
