/* The host metrics behind `genmoji compare` (cli/frontend/compare/image_metrics.c) on
 * hand-made image sets with answers worked out by hand: the histogram baseline, background masking, colour statistics, the
 * histogram distances, nearest neighbours, near-copy shares and mean pairwise distance. */
#include <math.h>
#include <string.h>

#include "image_metrics.h"
#include "testlib.h"

#define SIDE 4
#define PIX (SIDE * SIDE)
#define LEN (3 * PIX)

static void fill(uint8_t *img, uint8_t r, uint8_t g, uint8_t b) {
  for (int i = 0; i < PIX; i++) {
    img[3 * i] = r;
    img[3 * i + 1] = g;
    img[3 * i + 2] = b;
  }
}

static void assert_near(double got, double want, double tol, const char *what) {
  ck_assert_msg(fabs(got - want) <= tol, "%s: got %.9g, want %.9g", what, got, want);
}

START_TEST(quantize16_keeps_the_top_four_bits_on_the_0_255_scale) {
  const uint8_t src[] = {0, 15, 16, 31, 128, 240, 255};
  const uint8_t want[] = {0, 0, 17, 17, 136, 255, 255};
  uint8_t dst[sizeof src];
  gm_metrics_quantize16(dst, src, sizeof src);
  ck_assert_mem_eq(dst, want, sizeof want);
  gm_metrics_quantize16(dst, dst, sizeof dst); /* idempotent, in place */
  ck_assert_mem_eq(dst, want, sizeof want);
}
END_TEST

START_TEST(histogram_baseline_matches_add_one_smoothing_by_hand) {
  /* training: R all level 0, G all level 1, B all level 15 */
  uint8_t train[LEN], same[LEN], other[LEN];
  fill(train, 0, 16, 255);
  fill(same, 5, 20, 250);     /* the same levels */
  fill(other, 100, 100, 100); /* level 6 everywhere: unseen in every channel */
  const uint8_t *tr[] = {train};
  const uint8_t *te[] = {same};
  double seen = -log2((PIX + 1.0) / (PIX + 16.0)), unseen = log2(PIX + 16.0);
  assert_near(gm_metrics_histogram_bpd(tr, 1, te, 1, LEN), seen, 1e-12, "seen levels");
  te[0] = other;
  assert_near(gm_metrics_histogram_bpd(tr, 1, te, 1, LEN), unseen, 1e-12, "unseen levels");
  /* one test image each: the mean over subpixels */
  const uint8_t *both[] = {same, other};
  assert_near(gm_metrics_histogram_bpd(tr, 1, both, 2, LEN), 0.5 * (seen + unseen), 1e-12,
              "mean of both");
  ck_assert(isnan(gm_metrics_histogram_bpd(tr, 0, te, 1, LEN)));
  ck_assert(isnan(gm_metrics_histogram_bpd(tr, 1, te, 0, LEN)));
}
END_TEST

START_TEST(histogram_baseline_of_uniform_training_levels_is_four_bits) {
  /* 16 training images, image k all level k: every level equally often, so the smoothed
   * model is uniform whatever the test image is */
  uint8_t imgs[16][LEN];
  const uint8_t *tr[16];
  for (int k = 0; k < 16; k++) {
    fill(imgs[k], (uint8_t)(16 * k), (uint8_t)(16 * k + 5), (uint8_t)(16 * k + 15));
    tr[k] = imgs[k];
  }
  uint8_t test[LEN];
  for (int i = 0; i < LEN; i++) test[i] = (uint8_t)(i * 37);
  const uint8_t *te[] = {test};
  assert_near(gm_metrics_histogram_bpd(tr, 16, te, 1, LEN), 4.0, 1e-12, "uniform");
}
END_TEST

START_TEST(colour_stats_skip_background_and_average_the_rest) {
  /* half the pixels black (background), a quarter (240, 200, 0), a quarter (200, 160, 40);
   * a near-black (16, 16, 16) pixel is within one level of black, so background too */
  uint8_t img[LEN];
  fill(img, 0, 0, 0);
  for (int i = 0; i < PIX / 2; i++) {
    uint8_t *px = img + 3 * i;
    int a = i % 2 == 0;
    px[0] = a ? 240 : 200;
    px[1] = a ? 200 : 160;
    px[2] = a ? 0 : 40;
  }
  img[3 * (PIX - 1)] = img[3 * (PIX - 1) + 1] = img[3 * (PIX - 1) + 2] = 16;
  const uint8_t *set[] = {img};
  const uint8_t black[3] = {0, 0, 0};
  gm_colour_stats s;
  gm_colour_stats_compute(&s, set, 1, LEN, black, 1);
  ck_assert_int_eq(s.total, PIX);
  ck_assert_int_eq(s.pixels, PIX / 2);
  assert_near(s.mean[0], 220, 1e-12, "mean R");
  assert_near(s.mean[1], 180, 1e-12, "mean G");
  assert_near(s.mean[2], 20, 1e-12, "mean B");
  for (int c = 0; c < 3; c++) assert_near(s.std[c], 20, 1e-9, "std");
  assert_near(s.hist[15 * 256 + 12 * 16 + 0], 0.5, 1e-15, "bin of (240, 200, 0)");
  assert_near(s.hist[12 * 256 + 10 * 16 + 2], 0.5, 1e-15, "bin of (200, 160, 40)");
  /* two levels away from black is foreground */
  fill(img, 32, 0, 0);
  gm_colour_stats_compute(&s, set, 1, LEN, black, 1);
  ck_assert_int_eq(s.pixels, PIX);
  /* nothing but background: no histogram, no means */
  fill(img, 10, 20, 5);
  gm_colour_stats_compute(&s, set, 1, LEN, black, 1);
  ck_assert_int_eq(s.pixels, 0);
  ck_assert(isnan(s.mean[0]) && isnan(s.std[2]));
  /* another background colour */
  const uint8_t white[3] = {255, 255, 255};
  fill(img, 250, 250, 240);
  gm_colour_stats_compute(&s, set, 1, LEN, white, 1);
  ck_assert_int_eq(s.pixels, 0);
}
END_TEST

START_TEST(identical_sets_have_colour_distance_zero_and_disjoint_ones_the_maximum) {
  uint8_t b[LEN], c[LEN];
  fill(b, 240, 200, 0);
  for (int i = 0; i < PIX / 2; i++) b[3 * i + 2] = 100;
  memcpy(c, b, sizeof c);
  const uint8_t *sa[] = {b}, *sc[] = {c};
  const uint8_t black[3] = {0, 0, 0};
  gm_colour_stats x, y;
  gm_colour_stats_compute(&x, sa, 1, LEN, black, 1);
  gm_colour_stats_compute(&y, sc, 1, LEN, black, 1);
  assert_near(gm_metrics_js_bits(x.hist, y.hist, GM_COLOUR_BINS), 0, 1e-15, "JS same");
  assert_near(gm_metrics_tv(x.hist, y.hist, GM_COLOUR_BINS), 0, 1e-15, "TV same");
  fill(c, 0, 100, 255); /* no colour in common with b */
  gm_colour_stats_compute(&y, sc, 1, LEN, black, 1);
  assert_near(gm_metrics_js_bits(x.hist, y.hist, GM_COLOUR_BINS), 1, 1e-12, "JS disjoint");
  assert_near(gm_metrics_tv(x.hist, y.hist, GM_COLOUR_BINS), 1, 1e-12, "TV disjoint");
}
END_TEST

START_TEST(distances_of_partly_overlapping_distributions_match_by_hand) {
  const double p[] = {1, 0}, q[] = {0.5, 0.5};
  /* JS = 1/2 [1 log2(1/0.75)] + 1/2 [0.5 log2(0.5/0.75) + 0.5 log2(0.5/0.25)] */
  double want = 0.5 * log2(4.0 / 3.0) + 0.5 * (0.5 * log2(2.0 / 3.0) + 0.5);
  assert_near(gm_metrics_js_bits(p, q, 2), want, 1e-12, "JS");
  assert_near(gm_metrics_tv(p, q, 2), 0.5, 1e-12, "TV");
  /* unnormalised inputs are normalised first */
  const double p2[] = {4, 0}, q2[] = {3, 3};
  assert_near(gm_metrics_js_bits(p2, q2, 2), want, 1e-12, "JS of counts");
  const double z[] = {0, 0};
  ck_assert(isnan(gm_metrics_js_bits(p, z, 2)) && isnan(gm_metrics_tv(z, q, 2)));
}
END_TEST

START_TEST(rms_is_per_subpixel_on_the_0_255_scale) {
  uint8_t a[LEN], b[LEN];
  fill(a, 0, 0, 0);
  fill(b, 10, 10, 10);
  assert_near(gm_metrics_rms(a, b, LEN), 10, 1e-12, "constant 10");
  fill(b, 0, 0, 0);
  b[0] = 255; /* one subpixel of 48 */
  assert_near(gm_metrics_rms(a, b, LEN), 255 / sqrt(LEN), 1e-12, "one subpixel");
  assert_near(gm_metrics_rms(b, a, LEN), gm_metrics_rms(a, b, LEN), 0, "symmetric");
}
END_TEST

START_TEST(identical_sets_are_all_near_copies_at_distance_zero) {
  uint8_t imgs[3][LEN];
  const uint8_t *set[3];
  for (int k = 0; k < 3; k++) {
    fill(imgs[k], (uint8_t)(60 * k), 100, (uint8_t)(200 - 50 * k));
    set[k] = imgs[k];
  }
  double dist[3];
  int idx[3];
  gm_metrics_nearest(set, 3, set, 3, LEN, 0, dist, idx);
  for (int k = 0; k < 3; k++) {
    assert_near(dist[k], 0, 0, "distance to itself");
    ck_assert_int_eq(idx[k], k);
  }
  assert_near(gm_metrics_share_below(dist, 3, 8.0), 1, 0, "near-copy share");
}
END_TEST

START_TEST(nearest_finds_the_closest_reference_and_can_leave_one_out) {
  uint8_t r0[LEN], r1[LEN], r2[LEN], q0[LEN], q1[LEN];
  fill(r0, 0, 0, 0);
  fill(r1, 100, 100, 100);
  fill(r2, 200, 200, 200);
  fill(q0, 90, 90, 90);    /* 10 from r1 */
  fill(q1, 250, 250, 250); /* 50 from r2 */
  const uint8_t *refs[] = {r0, r1, r2}, *qs[] = {q0, q1};
  double dist[3];
  int idx[3];
  gm_metrics_nearest(qs, 2, refs, 3, LEN, 0, dist, idx);
  ck_assert_int_eq(idx[0], 1);
  ck_assert_int_eq(idx[1], 2);
  assert_near(dist[0], 10, 1e-12, "q0");
  assert_near(dist[1], 50, 1e-12, "q1");
  assert_near(gm_metrics_share_below(dist, 2, 20), 0.5, 0, "one of two below 20");
  /* leave one out within the references: each one's nearest other */
  gm_metrics_nearest(refs, 3, refs, 3, LEN, 1, dist, idx);
  ck_assert_int_eq(idx[0], 1);
  ck_assert_int_eq(idx[2], 1);
  assert_near(dist[0], 100, 1e-12, "r0 to r1");
  /* a single image has no other */
  gm_metrics_nearest(refs, 1, refs, 1, LEN, 1, dist, idx);
  ck_assert(isnan(dist[0]));
  ck_assert_int_eq(idx[0], -1);
  ck_assert(isnan(gm_metrics_share_below(dist, 0, 1)));
}
END_TEST

START_TEST(diversity_of_identical_images_is_zero_and_of_spread_ones_their_mean_gap) {
  uint8_t imgs[4][LEN];
  const uint8_t *set[4];
  for (int k = 0; k < 4; k++) {
    fill(imgs[k], 7, 7, 7);
    set[k] = imgs[k];
  }
  assert_near(gm_metrics_mean_pairwise(set, 4, LEN), 0, 0, "identical");
  for (int k = 0; k < 3; k++)
    fill(imgs[k], (uint8_t)(10 * k), (uint8_t)(10 * k), (uint8_t)(10 * k));
  /* pairs 10, 20, 10 */
  assert_near(gm_metrics_mean_pairwise(set, 3, LEN), 40.0 / 3.0, 1e-12, "0, 10, 20");
  ck_assert(isnan(gm_metrics_mean_pairwise(set, 1, LEN)));
}
END_TEST

START_TEST(argsort_orders_smallest_first_with_nans_last) {
  const double d[] = {3, NAN, 1, 2, 1};
  int order[5];
  gm_metrics_argsort(d, 5, order);
  const int want[] = {2, 4, 3, 0, 1};
  for (int i = 0; i < 5; i++) ck_assert_int_eq(order[i], want[i]);
}
END_TEST

static Suite *make_suite(void) {
  Suite *s = suite_create("metrics");
  TCase *tc = tcase_create("metrics");
  tcase_add_test(tc, quantize16_keeps_the_top_four_bits_on_the_0_255_scale);
  tcase_add_test(tc, histogram_baseline_matches_add_one_smoothing_by_hand);
  tcase_add_test(tc, histogram_baseline_of_uniform_training_levels_is_four_bits);
  tcase_add_test(tc, colour_stats_skip_background_and_average_the_rest);
  tcase_add_test(tc, identical_sets_have_colour_distance_zero_and_disjoint_ones_the_maximum);
  tcase_add_test(tc, distances_of_partly_overlapping_distributions_match_by_hand);
  tcase_add_test(tc, rms_is_per_subpixel_on_the_0_255_scale);
  tcase_add_test(tc, identical_sets_are_all_near_copies_at_distance_zero);
  tcase_add_test(tc, nearest_finds_the_closest_reference_and_can_leave_one_out);
  tcase_add_test(tc, diversity_of_identical_images_is_zero_and_of_spread_ones_their_mean_gap);
  tcase_add_test(tc, argsort_orders_smallest_first_with_nans_last);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) { return gmt_run(make_suite()); }
