/* KID, Frechet distance and precision / recall: hand-computed values, closed forms,
 * invariances, and the behaviour the sample-quality metrics rely on (a set against a
 * second draw of itself, collapsed and noised sets). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "genmoji/quality.h"
#include "testlib.h"

START_TEST(kid_of_a_hand_computed_pair) {
  /* d = 1, a = {0, 1}, b = {1, 2}, k(x, y) = (x y + 1)^3:
   * aa: k(0, 1) = 1, mean over i != j = 1; bb: k(1, 2) = 27; ab: 1 + 1 + 8 + 27 = 37,
   * 2 * 37 / 4 = 18.5; MMD^2 = 1 + 27 - 18.5 = 9.5 */
  const float a[] = {0, 1}, b[] = {1, 2};
  gm_kid_result r;
  gm_error err = {0};
  gmt_ok(gm_kid(a, 2, b, 2, 1, 1, 2, 1, &r, &err), &err);
  ck_assert_double_eq_tol(r.kid, 9.5, 1e-12);
  ck_assert_double_eq(r.stderr_kid, 0.0);
  ck_assert_int_eq(r.subset_size, 2);
  /* with every row in every subset, the subsets agree: the standard error is 0 */
  gmt_ok(gm_kid(a, 2, b, 2, 1, 5, 100, 1, &r, &err), &err);
  ck_assert_double_eq_tol(r.kid, 9.5, 1e-12);
  ck_assert_double_eq_tol(r.stderr_kid, 0.0, 1e-12);
  /* d = 2 scales the dot product: a = {(0,0), (2,0)}, b = {(2,0), (2,2)}:
   * aa: k = (0/2 + 1)^3 = 1; bb: (4/2 + 1)^3 = 27; ab: 1 + 1 + (4/2+1)^3 + (4/2+1)^3 = 56,
   * 2 * 56 / 4 = 28; MMD^2 = 1 + 27 - 28 = 0 */
  const float a2[] = {0, 0, 2, 0}, b2[] = {2, 0, 2, 2};
  gmt_ok(gm_kid(a2, 2, b2, 2, 2, 1, 2, 1, &r, &err), &err);
  ck_assert_double_eq_tol(r.kid, 0.0, 1e-12);
}
END_TEST

static void gaussian_rows(gmt_rng *g, float *x, int n, int d, float shift, float scale) {
  for (int i = 0; i < n * d; i++) {
    /* Box-Muller from two uniforms in (0, 1] */
    double u1 = 1.0 - gmt_uniform(g, 0, 1), u2 = gmt_uniform(g, 0, 1);
    x[i] = shift + scale * (float)(sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2));
  }
}

START_TEST(kid_of_two_draws_of_one_distribution_is_zero_within_its_error) {
  enum { N = 400, D = 16 };
  float *a = malloc(N * D * sizeof *a), *b = malloc(N * D * sizeof *b);
  float *c = malloc(N * D * sizeof *c);
  gmt_rng g;
  gmt_rng_seed(&g, 5);
  gaussian_rows(&g, a, N, D, 0, 1);
  gaussian_rows(&g, b, N, D, 0, 1);
  gaussian_rows(&g, c, N, D, 0.5f, 1);
  gm_kid_result same, shifted;
  gm_error err = {0};
  gmt_ok(gm_kid(a, N, b, N, D, 20, 100, 9, &same, &err), &err);
  ck_assert_msg(same.stderr_kid > 0, "no spread over subsets");
  ck_assert_msg(fabs(same.kid) < 3 * same.stderr_kid, "kid %g, stderr %g", same.kid,
                same.stderr_kid);
  gmt_ok(gm_kid(a, N, c, N, D, 20, 100, 9, &shifted, &err), &err);
  ck_assert_msg(shifted.kid > 10 * shifted.stderr_kid && shifted.kid > same.kid + 0.1,
                "shifted kid %g (stderr %g) vs same %g", shifted.kid, shifted.stderr_kid,
                same.kid);
  /* the same seed, the same subsets */
  gm_kid_result again;
  gmt_ok(gm_kid(a, N, c, N, D, 20, 100, 9, &again, &err), &err);
  ck_assert_double_eq(again.kid, shifted.kid);
  free(a);
  free(b);
  free(c);
}
END_TEST

START_TEST(frechet_distance_closed_forms_and_symmetry) {
  gm_error err = {0};
  double fd;
  /* commuting (diagonal) covariances: |dmu|^2 + sum (sqrt(l_a) - sqrt(l_b))^2 */
  const double mu_a[3] = {0, 1, 2}, mu_b[3] = {1, 1, 0};
  const double ca[9] = {4, 0, 0, 0, 1, 0, 0, 0, 9}, cb[9] = {1, 0, 0, 0, 1, 0, 0, 0, 16};
  gmt_ok(gm_frechet_from_stats(mu_a, ca, mu_b, cb, 3, &fd, &err), &err);
  ck_assert_double_eq_tol(fd, 1 + 4 + (2 - 1) * (2 - 1) + 0 + (3 - 4) * (3 - 4), 1e-9);
  /* rotating both covariances by one rotation changes nothing (45 degrees in axes 0, 1) */
  double r = sqrt(0.5), R[9] = {r, -r, 0, r, r, 0, 0, 0, 1}, ra[9], rb[9];
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 3; j++) {
      double sa = 0, sb = 0;
      for (int k = 0; k < 3; k++)
        for (int l = 0; l < 3; l++) {
          sa += R[i * 3 + k] * ca[k * 3 + l] * R[j * 3 + l];
          sb += R[i * 3 + k] * cb[k * 3 + l] * R[j * 3 + l];
        }
      ra[i * 3 + j] = sa;
      rb[i * 3 + j] = sb;
    }
  double fd_rot;
  gmt_ok(gm_frechet_from_stats(mu_a, ra, mu_b, rb, 3, &fd_rot, &err), &err);
  ck_assert_double_eq_tol(fd_rot, fd, 1e-9);
  /* non-commuting: 2x2 with S_a = diag(4, 1), S_b = [[2, 1], [1, 2]]:
   * S_a^1/2 S_b S_a^1/2 = [[8, 2], [2, 2]], eigenvalues 5 +- sqrt(13),
   * tr sqrt = sqrt(5 + sqrt 13) + sqrt(5 - sqrt 13) = sqrt(10 + 2 sqrt(25 - 13)) */
  const double z[2] = {0, 0}, sa2[4] = {4, 0, 0, 1}, sb2[4] = {2, 1, 1, 2};
  gmt_ok(gm_frechet_from_stats(z, sa2, z, sb2, 2, &fd, &err), &err);
  ck_assert_double_eq_tol(fd, 5 + 4 - 2 * sqrt(10 + 2 * sqrt(12.0)), 1e-9);
  double fd_swap;
  gmt_ok(gm_frechet_from_stats(z, sb2, z, sa2, 2, &fd_swap, &err), &err);
  ck_assert_double_eq_tol(fd_swap, fd, 1e-9);
  /* a distribution against itself */
  gmt_ok(gm_frechet_from_stats(mu_a, ra, mu_a, ra, 3, &fd, &err), &err);
  ck_assert_double_eq_tol(fd, 0, 1e-9);
}
END_TEST

START_TEST(frechet_distance_of_sets_uses_unbiased_moments) {
  /* a = {(0, 0), (2, 0), (0, 2), (2, 2)}: mean (1, 1), covariance 4/3 I;
   * b = a + (3, 0): the same covariance, so FD = |(3, 0)|^2 = 9 */
  const float a[] = {0, 0, 2, 0, 0, 2, 2, 2}, b[] = {3, 0, 5, 0, 3, 2, 5, 2};
  double fd;
  gm_error err = {0};
  gmt_ok(gm_frechet_distance(a, 4, b, 4, 2, &fd, &err), &err);
  ck_assert_double_eq_tol(fd, 9, 1e-9);
  /* b = a scaled by 2 about its mean: covariance 16/3 I; FD = 2 (sqrt(16/3) - sqrt(4/3))^2 */
  const float c[] = {-1, -1, 3, -1, -1, 3, 3, 3};
  gmt_ok(gm_frechet_distance(a, 4, c, 4, 2, &fd, &err), &err);
  double s = sqrt(16.0 / 3) - sqrt(4.0 / 3);
  ck_assert_double_eq_tol(fd, 2 * s * s, 1e-9);
  ck_assert_int_eq(gm_frechet_distance(a, 1, c, 4, 2, &fd, &err), GM_EINVAL);
}
END_TEST

START_TEST(precision_and_recall_follow_coverage) {
  enum { N = 200, D = 8 };
  float *real = malloc(N * D * sizeof *real), *gen = malloc(N * D * sizeof *gen);
  gmt_rng g;
  gmt_rng_seed(&g, 11);
  gaussian_rows(&g, real, N, D, 0, 1);
  gaussian_rows(&g, gen, N, D, 0, 1);
  double p, r;
  gm_error err = {0};
  gmt_ok(gm_precision_recall(real, N, gen, N, D, 3, &p, &r, &err), &err);
  ck_assert_msg(p > 0.6 && r > 0.6, "same distribution: precision %g recall %g", p, r);
  /* half the generated rows far away: precision about halves, recall stays */
  float *half = malloc(N * D * sizeof *half);
  memcpy(half, gen, N * D * sizeof *half);
  for (int i = 0; i < N / 2; i++)
    for (int j = 0; j < D; j++) half[i * D + j] += 50;
  double p2, r2;
  gmt_ok(gm_precision_recall(real, N, half, N, D, 3, &p2, &r2, &err), &err);
  ck_assert_msg(p2 <= 0.5 + 1e-9 && p2 > 0.25 && p2 < p, "half far: precision %g (was %g)", p2, p);
  /* collapse to one row repeated (plus k others beside it so the radii are defined):
   * precision stays high, recall falls */
  float *one = malloc(N * D * sizeof *one);
  for (int i = 0; i < N; i++)
    for (int j = 0; j < D; j++) one[i * D + j] = real[j] + (i < 4 ? 0.01f * (float)i : 0.0f);
  double p3, r3;
  gmt_ok(gm_precision_recall(real, N, one, N, D, 3, &p3, &r3, &err), &err);
  ck_assert_msg(p3 > 0.9 && r3 < 0.05, "collapsed: precision %g recall %g", p3, r3);
  /* identical sets: everything is covered */
  gmt_ok(gm_precision_recall(real, N, real, N, D, 3, &p, &r, &err), &err);
  ck_assert_double_eq(p, 1.0);
  ck_assert_double_eq(r, 1.0);
  ck_assert_int_eq(gm_precision_recall(real, 3, real, N, D, 3, &p, &r, &err), GM_EINVAL);
  ck_assert_msg(strstr(err.msg, "more than k rows"), "%s", err.msg);
  free(real);
  free(gen);
  free(half);
  free(one);
}
END_TEST

START_TEST(kid_refuses_too_small_sets) {
  const float a[] = {0, 1};
  gm_kid_result r;
  gm_error err = {0};
  ck_assert_int_eq(gm_kid(a, 1, a, 2, 1, 1, 10, 0, &r, &err), GM_EINVAL);
  ck_assert_msg(strstr(err.msg, "at least 2 rows"), "%s", err.msg);
  ck_assert_int_eq(gm_kid(a, 2, a, 2, 1, 0, 10, 0, &r, &err), GM_EINVAL);
}
END_TEST

static Suite *make_suite(void) {
  Suite *s = suite_create("quality");
  TCase *tc = tcase_create("quality");
  tcase_add_test(tc, kid_of_a_hand_computed_pair);
  tcase_add_test(tc, kid_of_two_draws_of_one_distribution_is_zero_within_its_error);
  tcase_add_test(tc, frechet_distance_closed_forms_and_symmetry);
  tcase_add_test(tc, frechet_distance_of_sets_uses_unbiased_moments);
  tcase_add_test(tc, precision_and_recall_follow_coverage);
  tcase_add_test(tc, kid_refuses_too_small_sets);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return gmt_run(make_suite()); }
