/* The statistics of `genmoji survey results` (plugins/survey/stats.h) against values
 * computed independently of stats.c: Wilson score intervals against the closed form
 * (worked to 40 digits with Python's decimal), exact two-sided binomial p-values against
 * sums of binomial coefficients (Python's fractions), Bradley-Terry strengths against data
 * that is exactly consistent with known strengths, against the likelihood equations and
 * against a Newton solution, type-7 quantiles by hand, and the percentile bootstrap's
 * determinism, resample weights and agreement with the normal approximation. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"
#include "testlib.h"

/* ---- Wilson score intervals ---- */

/* The closed form, for the cases below: with p = k/n, z = GM_SURVEY_Z95,
 *   centre = (p + z^2 / 2n) / (1 + z^2 / n),
 *   half   = z sqrt(p (1 - p) / n + z^2 / 4n^2) / (1 + z^2 / n).
 * The expected values were worked with Python's decimal module at 40 digits. */

START_TEST(wilson_of_eight_in_ten_matches_the_closed_form) {
  /* z^2 = 3.841459; 1 + z^2/10 = 1.3841459; centre = (0.8 + 0.19207297) / 1.3841459
   * = 0.71674016; half = 1.959964 sqrt(0.016 + 0.00960365) / 1.3841459 = 0.22657768;
   * [0.49016247153664174, 0.94331784854562474] */
  double lo, hi;
  gm_survey_wilson(8, 10, GM_SURVEY_Z95, &lo, &hi);
  ck_assert_double_eq_tol(lo, 0.4902, 5e-5);
  ck_assert_double_eq_tol(hi, 0.9433, 5e-5);
  ck_assert_double_eq_tol(lo, 0.49016247153664174, 1e-12);
  ck_assert_double_eq_tol(hi, 0.94331784854562474, 1e-12);
}
END_TEST

START_TEST(wilson_of_none_and_of_all_reach_the_ends) {
  /* k = 0: p = 0, so half = z * (z / 2n) / den = centre: lo = 0 exactly (clamped),
   * hi = 2 centre = (z^2 / n) / (1 + z^2 / n) = 0.38414593 / 1.38414593 = 0.27753279986288920 */
  double lo, hi;
  gm_survey_wilson(0, 10, GM_SURVEY_Z95, &lo, &hi);
  ck_assert_double_eq(lo, 0.0);
  ck_assert_double_eq_tol(hi, 0.2775, 5e-5);
  ck_assert_double_eq_tol(hi, 0.27753279986288920, 1e-12);
  /* k = n is the mirror image: [1 - 0.27753279986288920, 1] */
  gm_survey_wilson(10, 10, GM_SURVEY_Z95, &lo, &hi);
  ck_assert_double_eq_tol(lo, 0.72246720013711080, 1e-12);
  ck_assert_double_eq_tol(hi, 1.0, 1e-15);
  ck_assert_msg(hi <= 1.0, "hi %.17g above 1", hi);
  /* n = 0: no information, the whole of [0, 1] */
  gm_survey_wilson(0, 0, GM_SURVEY_Z95, &lo, &hi);
  ck_assert_double_eq(lo, 0.0);
  ck_assert_double_eq(hi, 1.0);
}
END_TEST

START_TEST(wilson_of_a_large_sample_matches_the_closed_form) {
  /* 500 / 1000: p = 1/2, centre exactly 1/2; half = z sqrt(1/4000 + z^2/4e6) / (1 + z^2/1000)
   * = 1.959964 * 0.0158233 / 1.00384146 = 0.03093039963189582:
   * [0.46906960036810418, 0.53093039963189582] */
  double lo, hi;
  gm_survey_wilson(500, 1000, GM_SURVEY_Z95, &lo, &hi);
  ck_assert_double_eq_tol(lo, 0.46906960036810418, 1e-12);
  ck_assert_double_eq_tol(hi, 0.53093039963189582, 1e-12);
  /* and the same closed form written out here */
  double z = GM_SURVEY_Z95, n = 1000, p = 0.5, den = 1 + z * z / n;
  double mid = (p + z * z / (2 * n)) / den;
  double half = z * sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den;
  ck_assert_double_eq_tol(lo, mid - half, 1e-12);
  ck_assert_double_eq_tol(hi, mid + half, 1e-12);
  /* an odd one: 1 / 3 -> [0.06149194472039624, 0.79234039919795225] */
  gm_survey_wilson(1, 3, GM_SURVEY_Z95, &lo, &hi);
  ck_assert_double_eq_tol(lo, 0.06149194472039624, 1e-12);
  ck_assert_double_eq_tol(hi, 0.79234039919795225, 1e-12);
}
END_TEST

START_TEST(wilson_contains_the_observed_proportion_on_a_grid) {
  /* for every n in 1..80 and k in 0..n: 0 <= lo <= k/n <= hi <= 1, and the interval of
   * n - k is the mirror image of that of k (lo(k) = 1 - hi(n - k)). At k = 0 the closed
   * form's lower end is 0 exactly (centre = half) and at k = n its upper end is 1, so the
   * ends must not round to just inside p = 0 or p = 1. */
  for (int n = 1; n <= 80; n++)
    for (int k = 0; k <= n; k++) {
      double lo, hi, mlo, mhi, p = (double)k / n;
      gm_survey_wilson(k, n, GM_SURVEY_Z95, &lo, &hi);
      ck_assert_msg(0.0 <= lo && lo <= p && p <= hi && hi <= 1.0,
                    "%d/%d: [%.17g, %.17g] vs p %.17g", k, n, lo, hi, p);
      gm_survey_wilson(n - k, n, GM_SURVEY_Z95, &mlo, &mhi);
      ck_assert_msg(fabs(lo - (1 - mhi)) < 1e-12 && fabs(hi - (1 - mlo)) < 1e-12,
                    "%d/%d: [%.17g, %.17g] is not the mirror of [%.17g, %.17g]", k, n, lo, hi,
                    mlo, mhi);
    }
}
END_TEST

/* ---- the exact binomial test against 1/2 ---- */

START_TEST(binomial_p_of_hand_computed_cases) {
  /* 2 of 10: P(X <= 2) = (C(10,0) + C(10,1) + C(10,2)) / 2^10 = (1 + 10 + 45) / 1024 = 56/1024,
   * both tails 112 / 1024 = 0.109375 */
  ck_assert_double_eq_tol(gm_survey_binomial_p(2, 10), 112.0 / 1024.0, 1e-12);
  ck_assert_double_eq_tol(gm_survey_binomial_p(2, 10), 0.109375, 1e-12);
  /* 0 of 5: 2 * 1/32 = 0.0625 */
  ck_assert_double_eq_tol(gm_survey_binomial_p(0, 5), 0.0625, 1e-12);
  /* 7 of 20: sum_{i<=7} C(20,i) = 1 + 20 + 190 + 1140 + 4845 + 15504 + 38760 + 77520
   * = 137980; p = 2 * 137980 / 2^20 = 0.26317596435546875 */
  ck_assert_double_eq_tol(gm_survey_binomial_p(7, 20), 2.0 * 137980.0 / 1048576.0, 1e-12);
  /* 10 of 10: 2 / 1024 */
  ck_assert_double_eq_tol(gm_survey_binomial_p(10, 10), 2.0 / 1024.0, 1e-12);
}
END_TEST

START_TEST(binomial_p_is_one_at_the_mode_and_for_no_trials) {
  /* 5 of 10 is the most likely outcome: every outcome is no more likely, p = 1 */
  ck_assert_double_eq_tol(gm_survey_binomial_p(5, 10), 1.0, 1e-12);
  /* n odd, 4 or 5 of 9: both tails are the whole distribution, 2 * 256/512 = 1 */
  ck_assert_double_eq_tol(gm_survey_binomial_p(4, 9), 1.0, 1e-12);
  ck_assert_double_eq_tol(gm_survey_binomial_p(5, 9), 1.0, 1e-12);
  /* 0 of 1: both outcomes have probability 1/2, p = 1 */
  ck_assert_double_eq_tol(gm_survey_binomial_p(0, 1), 1.0, 1e-12);
  ck_assert_double_eq(gm_survey_binomial_p(0, 0), 1.0);
  /* never above 1 anywhere */
  for (int n = 1; n <= 60; n++)
    for (int k = 0; k <= n; k++) {
      double p = gm_survey_binomial_p(k, n);
      ck_assert_msg(p > 0 && p <= 1.0, "p(%d, %d) = %.17g", k, n, p);
    }
}
END_TEST

START_TEST(binomial_p_is_symmetric_in_successes_and_failures) {
  /* p = 1/2: k successes and n - k successes are equally extreme */
  for (int n = 1; n <= 60; n++)
    for (int k = 0; k <= n; k++)
      ck_assert_msg(fabs(gm_survey_binomial_p(k, n) - gm_survey_binomial_p(n - k, n)) < 1e-14,
                    "p(%d, %d) != p(%d, %d)", k, n, n - k, n);
}
END_TEST

START_TEST(binomial_p_of_a_large_sample_matches_an_exact_sum) {
  /* 30 of 100: sum_{i<=30} C(100, i) = 49756171168061176633478360 (Python's math.comb),
   * p = 2 * that / 2^100 = 6219521396007647079184795 / 2^96 = 7.85013964559367e-05 */
  double p = gm_survey_binomial_p(30, 100);
  ck_assert_msg(fabs(p - 7.85013964559367e-05) <= 1e-10 * 7.85013964559367e-05,
                "p(30, 100) = %.17g", p);
  /* 40 of 100: 0.05688793364098079 (the same exact sum to i = 40) */
  p = gm_survey_binomial_p(40, 100);
  ck_assert_msg(fabs(p - 0.05688793364098079) <= 1e-10 * 0.05688793364098079,
                "p(40, 100) = %.17g", p);
}
END_TEST

/* ---- Bradley-Terry ---- */

START_TEST(bradley_terry_of_two_items_is_the_log_odds) {
  /* i beat j 3 times, j beat i once: the likelihood p_i^3 p_j / (p_i + p_j)^4 is largest at
   * p_i / p_j = 3, so strength[0] - strength[1] = ln 3 and, with mean 0, +-ln(3)/2 */
  const double wins[4] = {0, 3, 1, 0};
  double s[2];
  int it = gm_survey_bradley_terry(2, wins, 0.0, 1000, 1e-12, s);
  ck_assert_int_gt(it, 0);
  ck_assert_double_eq_tol(s[0] - s[1], log(3.0), 1e-9);
  ck_assert_double_eq_tol(s[0] + s[1], 0.0, 1e-12);
  ck_assert_double_eq_tol(s[0], 0.5 * log(3.0), 1e-9);
}
END_TEST

START_TEST(bradley_terry_recovers_strengths_the_data_are_consistent_with) {
  /* p = (4, 2, 1), wins[i][j] = 30 p_i / (p_i + p_j): W_i = sum_j n_ij p_i / (p_i + p_j)
   * holds exactly at p, so p is the maximum-likelihood answer. log p minus its mean
   * (ln 4 + ln 2 + 0) / 3 = ln 2 is (ln 2, 0, -ln 2). */
  const double p[3] = {4, 2, 1};
  double wins[9] = {0}, s[3];
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 3; j++)
      if (i != j) wins[i * 3 + j] = 30.0 * p[i] / (p[i] + p[j]);
  int it = gm_survey_bradley_terry(3, wins, 0.0, 10000, 1e-12, s);
  ck_assert_int_gt(it, 0);
  ck_assert_double_eq_tol(s[0], log(2.0), 1e-6);
  ck_assert_double_eq_tol(s[1], 0.0, 1e-6);
  ck_assert_double_eq_tol(s[2], -log(2.0), 1e-6);
}
END_TEST

START_TEST(bradley_terry_leaves_an_uncompared_item_out) {
  /* item 1 was never compared with anything: NAN; items 0 and 2 are the two-item case
   * above, +-ln(3)/2, as if item 1 did not exist */
  const double wins[9] = {0, 0, 3, /**/ 0, 0, 0, /**/ 1, 0, 0};
  double s[3];
  int it = gm_survey_bradley_terry(3, wins, 0.0, 1000, 1e-12, s);
  ck_assert_int_gt(it, 0);
  ck_assert_msg(isnan(s[1]), "uncompared item got %g", s[1]);
  ck_assert_double_eq_tol(s[0], 0.5 * log(3.0), 1e-9);
  ck_assert_double_eq_tol(s[2], -0.5 * log(3.0), 1e-9);
  /* with a prior too: it adds nothing between pairs never compared */
  it = gm_survey_bradley_terry(3, wins, 0.5, 1000, 1e-12, s);
  ck_assert_int_gt(it, 0);
  ck_assert_msg(isnan(s[1]), "uncompared item got %g with a prior", s[1]);
  /* 3.5 : 1.5 -> +-ln(3.5/1.5)/2 */
  ck_assert_double_eq_tol(s[0] - s[2], log(3.5 / 1.5), 1e-9);
  ck_assert_double_eq_tol(s[0] + s[2], 0.0, 1e-12);
}
END_TEST

START_TEST(bradley_terry_with_a_prior_keeps_an_unbeaten_item_finite) {
  /* item 0 never lost (3-0 against 1, 2-0 against 2); 1 beat 2 twice, 2 beat 1 once. With
   * prior 0.5 the counts are w01 = 3.5, w10 = 0.5, w02 = 2.5, w20 = 0.5, w12 = 2.5,
   * w21 = 1.5. Newton's method on the log-likelihood (Python, independent of the MM
   * iteration) gives strengths (1.2190477027293785, -0.43007681908288276,
   * -0.7889708836464955) with mean 0. */
  const double wins[9] = {0, 3, 2, /**/ 0, 0, 2, /**/ 0, 1, 0};
  double s[3];
  int it = gm_survey_bradley_terry(3, wins, 0.5, 10000, 1e-12, s);
  ck_assert_int_gt(it, 0);
  for (int i = 0; i < 3; i++) ck_assert_msg(isfinite(s[i]), "strength %d = %g", i, s[i]);
  ck_assert_msg(s[0] > s[1] && s[0] > s[2], "unbeaten item not first: %g %g %g", s[0], s[1],
                s[2]);
  ck_assert_double_eq_tol(s[0] + s[1] + s[2], 0.0, 1e-12);
  ck_assert_double_eq_tol(s[0], 1.2190477027293785, 1e-6);
  ck_assert_double_eq_tol(s[1], -0.43007681908288276, 1e-6);
  ck_assert_double_eq_tol(s[2], -0.7889708836464955, 1e-6);
  /* the likelihood equations W_i = sum_j n_ij p_i / (p_i + p_j) hold at the answer */
  const double w[9] = {0, 3.5, 2.5, /**/ 0.5, 0, 2.5, /**/ 0.5, 1.5, 0};
  for (int i = 0; i < 3; i++) {
    double won = 0, expect = 0;
    for (int j = 0; j < 3; j++) {
      if (j == i) continue;
      won += w[i * 3 + j];
      expect += (w[i * 3 + j] + w[j * 3 + i]) / (1 + exp(s[j] - s[i]));
    }
    ck_assert_msg(fabs(won - expect) < 1e-6, "item %d: won %g, expected %g", i, won, expect);
  }
}
END_TEST

START_TEST(bradley_terry_reports_iterations_or_minus_one) {
  const double p[3] = {4, 2, 1};
  double wins[9] = {0}, s[3];
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 3; j++)
      if (i != j) wins[i * 3 + j] = 30.0 * p[i] / (p[i] + p[j]);
  /* from p = 1 the first step moves every log p_i by far more than 1e-12: one step is not
   * enough */
  ck_assert_int_eq(gm_survey_bradley_terry(3, wins, 0.0, 1, 1e-12, s), -1);
  /* with room it converges, in at most max_iter steps */
  int it = gm_survey_bradley_terry(3, wins, 0.0, 500, 1e-10, s);
  ck_assert_int_gt(it, 1);
  ck_assert_int_le(it, 500);
  /* evenly matched items are already at the answer (p = 1): the first step moves nothing */
  const double even[4] = {0, 2, 2, 0};
  double e[2];
  ck_assert_int_eq(gm_survey_bradley_terry(2, even, 0.0, 1, 1e-12, e), 1);
  ck_assert_double_eq_tol(e[0], 0.0, 1e-15);
  ck_assert_double_eq_tol(e[1], 0.0, 1e-15);
}
END_TEST

/* ---- type-7 quantiles ---- */

START_TEST(quantile_interpolates_between_order_statistics) {
  /* type 7: h = (n - 1) q, v[floor h] + (h - floor h) (v[floor h + 1] - v[floor h]).
   * {4, 1, 3, 2} sorted {1, 2, 3, 4}: q = 0.25 -> h = 0.75 -> 1 + 0.75 = 1.75;
   * q = 0.5 -> h = 1.5 -> 2.5; q = 0.9 -> h = 2.7 -> 3.7 */
  double v[4] = {4, 1, 3, 2};
  ck_assert_double_eq_tol(gm_survey_quantile(v, 4, 0.25), 1.75, 1e-12);
  /* sorted in place */
  ck_assert_double_eq(v[0], 1);
  ck_assert_double_eq(v[1], 2);
  ck_assert_double_eq(v[2], 3);
  ck_assert_double_eq(v[3], 4);
  ck_assert_double_eq_tol(gm_survey_quantile(v, 4, 0.5), 2.5, 1e-12);
  ck_assert_double_eq_tol(gm_survey_quantile(v, 4, 0.9), 3.7, 1e-12);
  /* {10, 20, 30, 40, 50}: q = 0.9 -> h = 3.6 -> 40 + 0.6 * 10 = 46 (numpy's default);
   * q = 0.025 -> h = 0.1 -> 11 */
  double u[5] = {50, 10, 40, 20, 30};
  ck_assert_double_eq_tol(gm_survey_quantile(u, 5, 0.9), 46.0, 1e-12);
  ck_assert_double_eq_tol(gm_survey_quantile(u, 5, 0.025), 11.0, 1e-12);
}
END_TEST

START_TEST(quantile_ends_and_degenerate_sizes) {
  double v[5] = {3, -1, 7, 2, 5};
  ck_assert_double_eq(gm_survey_quantile(v, 5, 0.0), -1.0);
  ck_assert_double_eq(gm_survey_quantile(v, 5, 1.0), 7.0);
  double one[1] = {42};
  ck_assert_double_eq(gm_survey_quantile(one, 1, 0.0), 42.0);
  ck_assert_double_eq(gm_survey_quantile(one, 1, 0.5), 42.0);
  ck_assert_double_eq(gm_survey_quantile(one, 1, 1.0), 42.0);
  double none[1] = {0};
  ck_assert_msg(isnan(gm_survey_quantile(none, 0, 0.5)), "n = 0 is not NAN");
}
END_TEST

/* ---- the percentile bootstrap ---- */

typedef struct mean_ctx {
  const double *x;
  int calls, bad_sum, bad_weight;
} mean_ctx;

/* the weighted mean sum_u weight[u] x[u] / n_units, checking the weights on the way */
static double weighted_mean(const int *weight, int n_units, void *ctx) {
  mean_ctx *c = ctx;
  long total = 0;
  double s = 0;
  c->calls++;
  for (int u = 0; u < n_units; u++) {
    if (weight[u] < 0 || weight[u] > n_units) c->bad_weight++;
    total += weight[u];
    s += weight[u] * c->x[u];
  }
  if (total != n_units) c->bad_sum++;
  return s / n_units;
}

static double always_nan(const int *weight, int n_units, void *ctx) {
  (void)weight;
  (void)n_units;
  (*(int *)ctx)++;
  return NAN;
}

/* NAN unless unit 0 was drawn; counts the resamples where it was */
static double nan_without_unit_zero(const int *weight, int n_units, void *ctx) {
  (void)n_units;
  if (weight[0] == 0) return NAN;
  (*(int *)ctx)++;
  return (double)weight[0];
}

START_TEST(bootstrap_of_a_mean_brackets_it_and_resamples_every_unit_count) {
  /* x[u] = sqrt(u + 1), u < 40: distinct values, mean computed here */
  enum { N = 40, REPS = 1000 };
  double x[N], mean = 0;
  for (int u = 0; u < N; u++) mean += (x[u] = sqrt(u + 1.0));
  mean /= N;
  mean_ctx c = {x, 0, 0, 0};
  double lo, hi;
  int got = gm_survey_bootstrap(N, REPS, 7, weighted_mean, &c, &lo, &hi);
  ck_assert_int_eq(got, REPS);
  ck_assert_int_eq(c.calls, REPS);
  ck_assert_int_eq(c.bad_sum, 0);
  ck_assert_int_eq(c.bad_weight, 0);
  ck_assert_msg(lo <= mean && mean <= hi && lo < hi, "[%g, %g] misses the mean %g", lo, hi,
                mean);
  /* the interval lies within the range of the values */
  ck_assert_msg(lo >= x[0] && hi <= x[N - 1], "[%g, %g] outside the values", lo, hi);
}
END_TEST

START_TEST(bootstrap_is_determined_by_its_seed) {
  enum { N = 40, REPS = 500 };
  double x[N];
  for (int u = 0; u < N; u++) x[u] = sqrt(u + 1.0);
  mean_ctx c = {x, 0, 0, 0};
  double lo1, hi1, lo2, hi2, lo3, hi3;
  ck_assert_int_eq(gm_survey_bootstrap(N, REPS, 123, weighted_mean, &c, &lo1, &hi1), REPS);
  ck_assert_int_eq(gm_survey_bootstrap(N, REPS, 123, weighted_mean, &c, &lo2, &hi2), REPS);
  ck_assert_double_eq(lo1, lo2);
  ck_assert_double_eq(hi1, hi2);
  /* another seed, other resamples: with 40 distinct irrational values the percentiles
   * coincide only by accident */
  ck_assert_int_eq(gm_survey_bootstrap(N, REPS, 124, weighted_mean, &c, &lo3, &hi3), REPS);
  ck_assert_msg(lo3 != lo1 || hi3 != hi1, "seeds 123 and 124 gave the same [%.17g, %.17g]",
                lo1, hi1);
}
END_TEST

START_TEST(bootstrap_counts_only_defined_statistics) {
  double lo = 0, hi = 0;
  int calls = 0;
  /* never defined: none counted, both ends NAN, but every resample was tried */
  ck_assert_int_eq(gm_survey_bootstrap(10, 200, 1, always_nan, &calls, &lo, &hi), 0);
  ck_assert_int_eq(calls, 200);
  ck_assert_msg(isnan(lo) && isnan(hi), "[%g, %g] not NAN", lo, hi);
  /* no units: nothing to resample, the statistic is not called */
  calls = 0;
  lo = hi = 0;
  ck_assert_int_eq(gm_survey_bootstrap(0, 200, 1, always_nan, &calls, &lo, &hi), 0);
  ck_assert_int_eq(calls, 0);
  ck_assert_msg(isnan(lo) && isnan(hi), "[%g, %g] not NAN for no units", lo, hi);
  /* sometimes defined: counted are exactly the resamples where it was. Unit 0 of 5 is
   * missed with probability (4/5)^5 = 0.328, so of 1000 about 672 count */
  int defined = 0;
  int got = gm_survey_bootstrap(5, 1000, 3, nan_without_unit_zero, &defined, &lo, &hi);
  ck_assert_int_eq(got, defined);
  ck_assert_msg(got > 600 && got < 750, "%d of 1000 resamples drew unit 0", got);
  ck_assert_msg(lo >= 1 && lo <= hi && hi <= 5, "[%g, %g]", lo, hi);
}
END_TEST

START_TEST(bootstrap_of_a_proportion_matches_the_normal_approximation) {
  /* 300 units, 120 of them 1: p = 0.4, se = sqrt(0.4 * 0.6 / 300) = 0.028284;
   * p -+ 1.96 se = [0.344563, 0.455437]. The bootstrap's 2.5th and 97.5th percentiles of
   * the resampled proportion agree with it to well within 0.02 (its Monte Carlo error with
   * 4000 resamples is about 0.001). */
  enum { N = 300, REPS = 4000 };
  double x[N];
  for (int u = 0; u < N; u++) x[u] = u % 5 < 2 ? 1.0 : 0.0; /* 2 in 5: 120 ones */
  mean_ctx c = {x, 0, 0, 0};
  double lo, hi, p = 0.4, se = sqrt(p * (1 - p) / N);
  ck_assert_int_eq(gm_survey_bootstrap(N, REPS, 2024, weighted_mean, &c, &lo, &hi), REPS);
  ck_assert_int_eq(c.bad_sum, 0);
  ck_assert_double_eq_tol(lo, p - 1.96 * se, 0.02);
  ck_assert_double_eq_tol(hi, p + 1.96 * se, 0.02);
  ck_assert_double_eq_tol(lo, 0.3445628283549747, 0.02);
  ck_assert_double_eq_tol(hi, 0.45543717164502534, 0.02);
}
END_TEST

static Suite *make_suite(void) {
  Suite *s = suite_create("survey_stats");
  TCase *tc = tcase_create("survey_stats");
  tcase_add_test(tc, wilson_of_eight_in_ten_matches_the_closed_form);
  tcase_add_test(tc, wilson_of_none_and_of_all_reach_the_ends);
  tcase_add_test(tc, wilson_of_a_large_sample_matches_the_closed_form);
  tcase_add_test(tc, wilson_contains_the_observed_proportion_on_a_grid);
  tcase_add_test(tc, binomial_p_of_hand_computed_cases);
  tcase_add_test(tc, binomial_p_is_one_at_the_mode_and_for_no_trials);
  tcase_add_test(tc, binomial_p_is_symmetric_in_successes_and_failures);
  tcase_add_test(tc, binomial_p_of_a_large_sample_matches_an_exact_sum);
  tcase_add_test(tc, bradley_terry_of_two_items_is_the_log_odds);
  tcase_add_test(tc, bradley_terry_recovers_strengths_the_data_are_consistent_with);
  tcase_add_test(tc, bradley_terry_leaves_an_uncompared_item_out);
  tcase_add_test(tc, bradley_terry_with_a_prior_keeps_an_unbeaten_item_finite);
  tcase_add_test(tc, bradley_terry_reports_iterations_or_minus_one);
  tcase_add_test(tc, quantile_interpolates_between_order_statistics);
  tcase_add_test(tc, quantile_ends_and_degenerate_sizes);
  tcase_add_test(tc, bootstrap_of_a_mean_brackets_it_and_resamples_every_unit_count);
  tcase_add_test(tc, bootstrap_is_determined_by_its_seed);
  tcase_add_test(tc, bootstrap_counts_only_defined_statistics);
  tcase_add_test(tc, bootstrap_of_a_proportion_matches_the_normal_approximation);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return gmt_run(make_suite()); }
