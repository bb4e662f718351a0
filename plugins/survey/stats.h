/* The statistics of `genmoji survey results`, as plain functions on counts so that each is
 * tested on its own (tests/test_survey_stats.c): Wilson score intervals, the exact
 * two-sided binomial test against 1/2, Bradley-Terry strengths by the MM algorithm
 * (Hunter 2004), and percentile bootstrap intervals over resampled units (participants). */
#ifndef GM_SURVEY_STATS_H
#define GM_SURVEY_STATS_H

#include <stdint.h>

/* z of a two-sided 95% interval */
#define GM_SURVEY_Z95 1.959963984540054

/* The Wilson score interval for k successes in n trials at the z given (GM_SURVEY_Z95 for
 * 95%). n == 0 gives [0, 1]. */
void gm_survey_wilson(int k, int n, double z, double *lo, double *hi);

/* The exact two-sided binomial test of k successes in n against p = 1/2: the summed
 * probability of every outcome no more likely than k. n == 0 gives 1. */
double gm_survey_binomial_p(int k, int n);

/* Bradley-Terry strengths of n items from wins[i * n + j] (how often i was preferred to j;
 * ties count half to each side before the call): the maximum-likelihood p_i with
 * P(i beats j) = p_i / (p_i + p_j), found by the MM iteration
 *     p_i <- W_i / sum_{j != i} (n_ij / (p_i + p_j)),
 * normalised to a geometric mean of 1 after each step, until no log p_i moves by more
 * than tol. strength[i] = log p_i (mean 0 over the items that have comparisons). An item
 * never compared gets NAN. An item that never won (or never lost) has no finite
 * maximum-likelihood strength; like most tools this adds `prior` pseudo-wins each way
 * between every compared pair first (0.5 is a common choice; 0 takes the data as they
 * are). Returns the iterations used, or -1 when max_iter was reached first. */
int gm_survey_bradley_terry(int n, const double *wins, double prior, int max_iter, double tol,
                            double *strength);

/* A statistic of a resample: weight[u] is how many times unit u was drawn (0..n_units);
 * returns the statistic, or NAN when it is not defined for that resample. */
typedef double (*gm_survey_statistic)(const int *weight, int n_units, void *ctx);

/* The percentile bootstrap: `reps` resamples of the n_units units with replacement (a
 * counter-based generator from seed: the same seed, the same interval), the statistic of
 * each, and its 2.5th and 97.5th percentiles (linear interpolation between order
 * statistics) over the resamples where it is defined. Both are NAN when none is, or
 * n_units == 0. Returns the number of resamples that counted. */
int gm_survey_bootstrap(int n_units, int reps, uint64_t seed, gm_survey_statistic stat, void *ctx,
                        double *lo, double *hi);

/* The q-quantile (0..1) of v[0..n) by linear interpolation between order statistics (the
 * "type 7" definition of R and numpy); sorts v in place. NAN for n == 0. */
double gm_survey_quantile(double *v, int n, double q);

#endif
