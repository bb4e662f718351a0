/* The device RNG against Random123's known answers and a host reference of the documented
 * mapping; reproducibility across runs, splits and launch shapes; the distributions of
 * normal and categorical draws; initialisation and fan-in (dropout: test_ops_dropout.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "testlib.h"

/* ---- host references of the documented mapping ---- */

static void ref_block(uint64_t seed, uint64_t stream, uint64_t block, uint32_t out[4]) {
  uint32_t ctr[4] = {(uint32_t)block, (uint32_t)(block >> 32), (uint32_t)stream,
                     (uint32_t)(stream >> 32)};
  uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
  gm_philox4x32_10(ctr, key, out);
}

static float ref_uniform(uint32_t x, float lo, float hi) {
  float v = fmaf(hi - lo, gmt_rng_unit(x), lo);
  return (v >= hi && hi > lo) ? nextafterf(hi, lo) : v;
}

static double ref_normal(const gm_rng *r, size_t i) {
  uint32_t b[4];
  ref_block(r->seed, r->stream, r->offset + i / 4, b);
  int lane = (int)(i % 4), first = lane & ~1;
  double u1 = ((double)(b[first] >> 8) + 1.0) * 0x1.0p-24;
  double u2 = (double)(b[first + 1] >> 8) * 0x1.0p-24;
  double rad = sqrt(-2.0 * log(u1)), th = 6.283185307179586 * u2;
  return lane & 1 ? rad * sin(th) : rad * cos(th);
}

/* A fresh draw of n uniforms in [lo, hi) from r, read back (caller frees). */
static float *draw_uniform(gm_rng *r, int64_t n, float lo, float hi) {
  gm_error err = {0};
  gm_tensor *t = gmt_new_f32(n);
  gmt_ok(gm_rng_uniform(t, r, lo, hi, &err), &err);
  float *h = gmt_read(t);
  gm_tensor_destroy(t);
  return h;
}

static float *draw_normal(gm_rng *r, int64_t n, float mean, float std) {
  gm_error err = {0};
  gm_tensor *t = gmt_new_f32(n);
  gmt_ok(gm_rng_normal(t, r, mean, std, &err), &err);
  float *h = gmt_read(t);
  gm_tensor_destroy(t);
  return h;
}

/* ---- Philox ---- */

START_TEST(philox_matches_random123_known_answers) {
  /* Random123's kat_vectors for philox4x32 with 10 rounds. */
  static const uint32_t kat[3][10] = {
      {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
      {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d,
       0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
      {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09,
       0x94fdcceb, 0x5001e420, 0x24126ea1},
  };
  for (int k = 0; k < 3; k++) {
    uint32_t out[4];
    gm_philox4x32_10(&kat[k][0], &kat[k][4], out);
    for (int i = 0; i < 4; i++)
      ck_assert_msg(out[i] == kat[k][6 + i], "vector %d word %d: got %08x, want %08x", k, i,
                    out[i], kat[k][6 + i]);
  }
}
END_TEST

START_TEST(uniform_on_device_equals_host_reference_bit_for_bit) {
  /* Seed and stream with both halves set, a nonzero offset and a length that is not a
   * multiple of 4, so every part of the counter layout is exercised. */
  const float ranges[][2] = {{0, 1}, {-0.125f, 0.125f}, {-3, 7}, {2, 2}};
  for (size_t k = 0; k < GM__COUNT(ranges); k++) {
    gm_rng r;
    gm_rng_init(&r, 0x0123456789abcdefull, 0xfedcba9876543210ull);
    r.offset = 0xffffffffull - 3;  /* the block counter carries into its high word */
    gm_rng at = r;
    const int64_t n = 1001;
    float *got = draw_uniform(&r, n, ranges[k][0], ranges[k][1]);
    ck_assert_uint_eq(r.offset, at.offset + 251);
    for (int64_t i = 0; i < n; i++) {
      float want = ref_uniform(gmt_rng_word(&at, (size_t)i), ranges[k][0], ranges[k][1]);
      ck_assert_msg(memcmp(&got[i], &want, 4) == 0, "range %zu element %lld: got %.9g, want %.9g",
                    k, (long long)i, (double)got[i], (double)want);
      ck_assert(got[i] >= ranges[k][0]);
      ck_assert(got[i] < ranges[k][1] || ranges[k][0] == ranges[k][1]);
    }
    free(got);
  }
}
END_TEST

START_TEST(uniform_never_reaches_the_upper_bound) {
  /* The largest 24-bit fraction times a range that rounds up lands on hi; it must not. */
  uint32_t top = 0xffffff00u;
  float lo = 1.0f, hi = 1.0f + 0x1.0p-20f;
  ck_assert(fmaf(hi - lo, gmt_rng_unit(top), lo) == hi);
  ck_assert(ref_uniform(top, lo, hi) < hi);
  /* And the device agrees on a long draw over that narrow range. */
  gm_rng r;
  gm_rng_init(&r, 7, 0);
  float *v = draw_uniform(&r, 1 << 16, lo, hi);
  for (int i = 0; i < 1 << 16; i++) ck_assert(v[i] >= lo && v[i] < hi);
  free(v);
}
END_TEST

/* ---- reproducibility ---- */

static void assert_same(const float *a, const float *b, size_t n, const char *what) {
  for (size_t i = 0; i < n; i++)
    ck_assert_msg(memcmp(&a[i], &b[i], 4) == 0, "%s: element %zu: %.9g vs %.9g", what, i,
                  (double)a[i], (double)b[i]);
}

START_TEST(same_stream_gives_same_numbers_across_runs_and_splits) {
  const int64_t n = 4096;
  gm_rng r1, r2, r3;
  gm_rng_init(&r1, 42, 3);
  gm_rng_init(&r2, 42, 3);
  gm_rng_init(&r3, 42, 3);
  float *a = draw_uniform(&r1, n, -1, 1), *b = draw_uniform(&r2, n, -1, 1);
  assert_same(a, b, (size_t)n, "two runs");
  float *h1 = draw_uniform(&r3, n / 2, -1, 1), *h2 = draw_uniform(&r3, n - n / 2, -1, 1);
  assert_same(a, h1, (size_t)(n / 2), "first half of a split draw");
  assert_same(a + n / 2, h2, (size_t)(n - n / 2), "second half of a split draw");
  ck_assert_uint_eq(r3.offset, r1.offset);

  /* The same for normals. */
  gm_rng_init(&r1, 42, 4);
  gm_rng_init(&r3, 42, 4);
  float *na = draw_normal(&r1, n, 0, 1);
  float *n1 = draw_normal(&r3, n / 2, 0, 1), *n2 = draw_normal(&r3, n - n / 2, 0, 1);
  assert_same(na, n1, (size_t)(n / 2), "normal split, first half");
  assert_same(na + n / 2, n2, (size_t)(n - n / 2), "normal split, second half");
  free(a);
  free(b);
  free(h1);
  free(h2);
  free(na);
  free(n1);
  free(n2);
}
END_TEST

START_TEST(a_split_off_a_block_boundary_skips_the_unused_lanes) {
  /* Draws of 6 then 8 use blocks 0-1 and 2-3: the lanes 6 and 7 of block 1 are skipped. */
  gm_rng r1, r2;
  gm_rng_init(&r1, 9, 1);
  gm_rng_init(&r2, 9, 1);
  float *whole = draw_uniform(&r1, 16, 0, 1);
  float *a = draw_uniform(&r2, 6, 0, 1), *b = draw_uniform(&r2, 8, 0, 1);
  assert_same(whole, a, 6, "first draw");
  assert_same(whole + 8, b, 8, "second draw starts at the next block");
  ck_assert_uint_eq(r2.offset, 4);
  free(whole);
  free(a);
  free(b);
}
END_TEST

START_TEST(results_do_not_depend_on_the_work_group_size) {
  gm_error err = {0};
  gm_device *dev = gmt_device();
  size_t keep = dev->wg1d;
  const size_t sizes[] = {1, 8, 64};
  const int64_t n = 3001, rows = 777, k = 7;
  float *u[3], *z[3], *d[3];
  int32_t *c[3];
  gmt_rng hr;
  gmt_rng_seed(&hr, 5);
  float *hl = malloc((size_t)(rows * k) * 4), *hx = malloc((size_t)n * 4);
  gmt_fill_uniform(&hr, hl, (size_t)(rows * k), -2, 2);
  gmt_fill_uniform(&hr, hx, (size_t)n, -2, 2);
  gm_tensor *logits = gmt_tensor_from(2, GM_SHAPE(rows, k), hl);
  gm_tensor *x = gmt_tensor_from(1, GM_SHAPE(n), hx), *out;
  gmt_ok(gm_tensor_create(&out, dev, GM_I32, 1, GM_SHAPE(rows), &err), &err);
  for (int s = 0; s < 3; s++) {
    dev->wg1d = sizes[s];
    gm_rng r;
    gm_rng_init(&r, 1234, 77);
    u[s] = draw_uniform(&r, n, 0, 1);
    z[s] = draw_normal(&r, n, 0, 1);
    gmt_ok(gm_rng_categorical(out, logits, 0.7f, &r, &err), &err);
    c[s] = malloc((size_t)rows * 4);
    gmt_ok(gm_tensor_read(out, c[s], (size_t)rows * 4, &err), &err);
    gm_tensor *y;
    gmt_ok(gm_dropout(&y, x, 0.4f, &r, &err), &err);
    d[s] = gmt_read(y);
    gm_tape_reset(dev);
  }
  dev->wg1d = keep;
  for (int s = 1; s < 3; s++) {
    assert_same(u[0], u[s], (size_t)n, "uniform");
    assert_same(z[0], z[s], (size_t)n, "normal");
    assert_same(d[0], d[s], (size_t)n, "dropout");
    ck_assert_mem_eq(c[0], c[s], (size_t)rows * 4);
  }
  for (int s = 0; s < 3; s++) {
    free(u[s]);
    free(z[s]);
    free(c[s]);
    free(d[s]);
  }
  free(hl);
  free(hx);
  gm_tensor_destroy(logits);
  gm_tensor_destroy(x);
  gm_tensor_destroy(out);
}
END_TEST

START_TEST(different_streams_and_seeds_differ) {
  const int64_t n = 4096;
  gm_rng a, b, c;
  gm_rng_init(&a, 42, 0);
  gm_rng_init(&b, 42, 1);
  gm_rng_init(&c, 43, 0);
  float *x = draw_uniform(&a, n, 0, 1), *y = draw_uniform(&b, n, 0, 1), *z = draw_uniform(&c, n, 0, 1);
  int same_stream = 0, same_seed = 0;
  for (int64_t i = 0; i < n; i++) {
    same_stream += x[i] == y[i];
    same_seed += x[i] == z[i];
  }
  /* Independent 24-bit values coincide with probability 2^-24 each. */
  ck_assert_int_le(same_stream, 2);
  ck_assert_int_le(same_seed, 2);
  free(x);
  free(y);
  free(z);
}
END_TEST

/* ---- distributions ---- */

START_TEST(normal_has_mean_zero_and_variance_one) {
  const int64_t n = 1000000;
  gm_rng r;
  gm_rng_init(&r, 2024, 0);
  float *z = draw_normal(&r, n, 0, 1);
  double s = 0, s2 = 0;
  for (int64_t i = 0; i < n; i++) {
    s += z[i];
    s2 += (double)z[i] * z[i];
  }
  double mean = s / n, var = s2 / n - mean * mean;
  ck_assert_msg(fabs(mean) < 0.01, "mean %g", mean);
  ck_assert_msg(fabs(var - 1) < 0.01, "variance %g", var);
  free(z);
}
END_TEST

START_TEST(normal_follows_the_documented_box_muller_mapping) {
  /* Device log/cos/sin are within a few ulp of the host's: the values agree closely. */
  gm_rng r;
  gm_rng_init(&r, 0xabcdef, 12);
  r.offset = 100;
  gm_rng at = r;
  const int64_t n = 2003;
  float *z = draw_normal(&r, n, 0.5f, 2.0f);
  ck_assert_uint_eq(r.offset, at.offset + 501);
  for (int64_t i = 0; i < n; i++) {
    double want = 0.5 + 2.0 * ref_normal(&at, (size_t)i);
    ck_assert_msg(fabs(z[i] - want) <= 1e-5 + 1e-5 * fabs(want), "element %lld: got %.9g, want %.9g",
                  (long long)i, (double)z[i], want);
  }
  free(z);
}
END_TEST

static void check_categorical(float temperature) {
  gm_error err = {0};
  gm_device *dev = gmt_device();
  const float l[5] = {1.0f, -0.5f, 2.0f, 0.0f, 0.3f};
  const int64_t rows = 100000, k = 5;
  float *hl = malloc((size_t)(rows * k) * 4);
  for (int64_t i = 0; i < rows; i++) memcpy(hl + i * k, l, sizeof l);
  gm_tensor *logits = gmt_tensor_from(2, GM_SHAPE(rows, k), hl), *out;
  gmt_ok(gm_tensor_create(&out, dev, GM_I32, 1, GM_SHAPE(rows), &err), &err);
  gm_rng r;
  gm_rng_init(&r, 77, (uint64_t)(temperature * 100));
  gmt_ok(gm_rng_categorical(out, logits, temperature, &r, &err), &err);
  ck_assert_uint_eq(r.offset, 25000);
  int32_t *c = malloc((size_t)rows * 4);
  gmt_ok(gm_tensor_read(out, c, (size_t)rows * 4, &err), &err);
  double count[5] = {0}, p[5], total = 0;
  for (int64_t i = 0; i < rows; i++) {
    ck_assert_int_ge(c[i], 0);
    ck_assert_int_lt(c[i], k);
    count[c[i]]++;
  }
  for (int j = 0; j < 5; j++) total += p[j] = exp(l[j] / temperature);
  for (int j = 0; j < 5; j++)
    ck_assert_msg(fabs(count[j] / rows - p[j] / total) < 0.01,
                  "T = %g class %d: frequency %g, softmax %g", (double)temperature, j,
                  count[j] / rows, p[j] / total);
  free(hl);
  free(c);
  gm_tensor_destroy(logits);
  gm_tensor_destroy(out);
}

START_TEST(categorical_frequencies_match_the_softmax) {
  check_categorical(1.0f);
  check_categorical(0.5f);
}
END_TEST

START_TEST(categorical_never_picks_a_class_without_mass) {
  gm_error err = {0};
  gm_device *dev = gmt_device();
  const int64_t rows = 4096;
  float *hl = malloc((size_t)rows * 3 * 4);
  for (int64_t i = 0; i < rows; i++) {
    hl[3 * i] = -INFINITY;
    hl[3 * i + 1] = (float)(i % 5);
    hl[3 * i + 2] = -INFINITY;
  }
  gm_tensor *logits = gmt_tensor_from(2, GM_SHAPE(rows, 3), hl), *out;
  gmt_ok(gm_tensor_create(&out, dev, GM_I32, 1, GM_SHAPE(rows), &err), &err);
  gm_rng r;
  gm_rng_init(&r, 3, 3);
  gmt_ok(gm_rng_categorical(out, logits, 0.25f, &r, &err), &err);
  int32_t *c = malloc((size_t)rows * 4);
  gmt_ok(gm_tensor_read(out, c, (size_t)rows * 4, &err), &err);
  for (int64_t i = 0; i < rows; i++) ck_assert_int_eq(c[i], 1);
  free(hl);
  free(c);
  gm_tensor_destroy(logits);
  gm_tensor_destroy(out);
}
END_TEST

START_TEST(bad_rng_arguments_are_refused) {
  gm_error err = {0};
  gm_device *dev = gmt_device();
  gm_rng r;
  gm_rng_init(&r, 1, 1);
  gm_tensor *f = gmt_new_f32(8), *i8, *i7, *l;
  gmt_ok(gm_tensor_create(&i8, dev, GM_I32, 1, GM_SHAPE(8), &err), &err);
  gmt_ok(gm_tensor_create(&i7, dev, GM_I32, 1, GM_SHAPE(7), &err), &err);
  gmt_ok(gm_tensor_create(&l, dev, GM_F32, 2, GM_SHAPE(8, 4), &err), &err);
  ck_assert_int_eq(gm_rng_uniform(i8, &r, 0, 1, &err), GM_EDTYPE);
  ck_assert_int_eq(gm_rng_uniform(f, &r, 1, 0, &err), GM_ERANGE);
  ck_assert_int_eq(gm_rng_normal(f, &r, 0, -1, &err), GM_ERANGE);
  ck_assert_int_eq(gm_rng_categorical(i8, l, 0.0f, &r, &err), GM_ERANGE);
  ck_assert_int_eq(gm_rng_categorical(i7, l, 1.0f, &r, &err), GM_ESHAPE);
  ck_assert_ptr_nonnull(strstr(err.msg, "(7)"));
  ck_assert_ptr_nonnull(strstr(err.msg, "(8, 4)"));
  ck_assert_int_eq(gm_rng_categorical(f, l, 1.0f, &r, &err), GM_EDTYPE);
  ck_assert_int_eq(gm_init_uniform(f, -1, &r, &err), GM_ERANGE);
  ck_assert_uint_eq(r.offset, 0);  /* nothing was drawn */
  gm_tensor_destroy(f);
  gm_tensor_destroy(i8);
  gm_tensor_destroy(i7);
  gm_tensor_destroy(l);
}
END_TEST

/* ---- initialisation ---- */

START_TEST(init_uniform_respects_bounds_mean_and_variance) {
  gm_error err = {0};
  gm_tensor *w;
  gmt_ok(gm_tensor_create(&w, gmt_device(), GM_F32, 4, GM_SHAPE(64, 64, 7, 7), &err), &err);
  double bound = 1.0 / sqrt((double)gm_fan_in(w));
  gm_rng r;
  gm_rng_init(&r, 11, 0);
  gmt_ok(gm_init_uniform(w, (float)bound, &r, &err), &err);
  float *v = gmt_read(w);
  double s = 0, s2 = 0;
  int64_t n = w->numel;
  for (int64_t i = 0; i < n; i++) {
    ck_assert(v[i] >= -(float)bound && v[i] < (float)bound);
    s += v[i];
    s2 += (double)v[i] * v[i];
  }
  double mean = s / n, var = s2 / n - mean * mean, want = bound * bound / 3;
  ck_assert_msg(fabs(mean) < 0.01 * bound, "mean %g (bound %g)", mean, bound);
  ck_assert_msg(fabs(var - want) < 0.01 * want, "variance %g, want %g", var, want);
  free(v);
  gm_tensor_destroy(w);
}
END_TEST

START_TEST(fan_in_follows_pytorch_for_linear_conv_and_conv_transpose) {
  gm_tensor t = {0};
  t.ndim = 2;
  memcpy(t.shape, (int64_t[]){10, 64}, 2 * sizeof(int64_t));  /* linear (out, in) */
  ck_assert_int_eq(gm_fan_in(&t), 64);
  t.ndim = 4;
  memcpy(t.shape, (int64_t[]){32, 3, 7, 7}, 4 * sizeof(int64_t));  /* conv (out, in, kh, kw) */
  ck_assert_int_eq(gm_fan_in(&t), 147);
  memcpy(t.shape, (int64_t[]){64, 32, 2, 2}, 4 * sizeof(int64_t));  /* convT (in, out, kh, kw) */
  ck_assert_int_eq(gm_fan_in(&t), 128);
  t.ndim = 1;
  ck_assert_int_eq(gm_fan_in(&t), GM_EINVAL);
}
END_TEST

START_TEST(init_default_draws_weight_then_bias_with_one_bound) {
  gm_error err = {0};
  gm_device *dev = gmt_device();
  gm_tensor *w, *b;
  gmt_ok(gm_tensor_create(&w, dev, GM_F32, 4, GM_SHAPE(64, 32, 2, 2), &err), &err);  /* convT */
  gmt_ok(gm_tensor_create(&b, dev, GM_F32, 1, GM_SHAPE(32), &err), &err);
  gm_rng r, at;
  gm_rng_init(&r, 21, 2);
  at = r;
  gmt_ok(gm_init_default(w, b, &r, &err), &err);
  float bound = (float)(1.0 / sqrt(128.0));
  float *hw = gmt_read(w), *hb = gmt_read(b);
  for (int64_t i = 0; i < w->numel; i++) {
    float want = ref_uniform(gmt_rng_word(&at, (size_t)i), -bound, bound);
    ck_assert_mem_eq(&hw[i], &want, 4);
  }
  at.offset += (uint64_t)(w->numel + 3) / 4;
  for (int64_t i = 0; i < b->numel; i++) {
    float want = ref_uniform(gmt_rng_word(&at, (size_t)i), -bound, bound);
    ck_assert_mem_eq(&hb[i], &want, 4);
  }
  ck_assert_uint_eq(r.offset, at.offset + 8);
  gm_tensor *v;
  gmt_ok(gm_tensor_create(&v, dev, GM_F32, 1, GM_SHAPE(5), &err), &err);
  ck_assert_int_eq(gm_init_default(v, NULL, &r, &err), GM_ESHAPE);
  free(hw);
  free(hb);
  gm_tensor_destroy(w);
  gm_tensor_destroy(b);
  gm_tensor_destroy(v);
}
END_TEST

int main(void) {
  Suite *s = suite_create("rng");
  TCase *tc = tcase_create("philox");
  tcase_add_test(tc, philox_matches_random123_known_answers);
  tcase_add_test(tc, uniform_on_device_equals_host_reference_bit_for_bit);
  tcase_add_test(tc, uniform_never_reaches_the_upper_bound);
  tcase_add_test(tc, same_stream_gives_same_numbers_across_runs_and_splits);
  tcase_add_test(tc, a_split_off_a_block_boundary_skips_the_unused_lanes);
  tcase_add_test(tc, results_do_not_depend_on_the_work_group_size);
  tcase_add_test(tc, different_streams_and_seeds_differ);
  suite_add_tcase(s, tc);
  TCase *td = tcase_create("distributions");
  tcase_add_test(td, normal_has_mean_zero_and_variance_one);
  tcase_add_test(td, normal_follows_the_documented_box_muller_mapping);
  tcase_add_test(td, categorical_frequencies_match_the_softmax);
  tcase_add_test(td, categorical_never_picks_a_class_without_mass);
  tcase_add_test(td, bad_rng_arguments_are_refused);
  tcase_add_test(td, init_uniform_respects_bounds_mean_and_variance);
  tcase_add_test(td, fan_in_follows_pytorch_for_linear_conv_and_conv_transpose);
  tcase_add_test(td, init_default_draws_weight_then_bias_with_one_bound);
  suite_add_tcase(s, td);
  return gmt_run(s);
}
