/* Tensors and the buffer pool: round trips, fill, copy, reshape, views, arena tensors,
 * a second identical allocation that is served from the pool, and its peak restarted. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "testlib.h"

START_TEST(write_then_read_round_trips_f32_and_i32) {
  gm_error err = {0};
  gm_device *dev = gmt_device();
  const int64_t shapes[][5] = {{1}, {7}, {3, 5}, {2, 3, 4}, {2, 3, 4, 5}, {1, 2, 3, 4, 5}};
  const int ndims[] = {1, 1, 2, 3, 4, 5};
  gmt_rng r;
  gmt_rng_seed(&r, 1);
  for (size_t s = 0; s < GM__COUNT(ndims); s++) {
    gm_tensor *t;
    gmt_ok(gm_tensor_create(&t, dev, GM_F32, ndims[s], shapes[s], &err), &err);
    float *a = malloc(gm_tensor_bytes(t)), *b = malloc(gm_tensor_bytes(t));
    gmt_fill_uniform(&r, a, (size_t)t->numel, -3, 3);
    gmt_ok(gm_tensor_write(t, a, gm_tensor_bytes(t), &err), &err);
    gmt_ok(gm_tensor_read(t, b, gm_tensor_bytes(t), &err), &err);
    ck_assert_mem_eq(a, b, gm_tensor_bytes(t));
    free(a);
    free(b);
    gm_tensor_destroy(t);
  }
  gm_tensor *ti;
  gmt_ok(gm_tensor_create(&ti, dev, GM_I32, 2, GM_SHAPE(4, 4), &err), &err);
  int32_t iv[16], ov[16];
  for (int i = 0; i < 16; i++) iv[i] = i * 1000003 - 7;
  gmt_ok(gm_tensor_write(ti, iv, sizeof iv, &err), &err);
  gmt_ok(gm_tensor_read(ti, ov, sizeof ov, &err), &err);
  ck_assert_mem_eq(iv, ov, sizeof iv);
  gm_tensor_destroy(ti);
}
END_TEST

START_TEST(wrong_byte_count_is_refused) {
  gm_error err = {0};
  gm_tensor *t;
  gmt_ok(gm_tensor_create(&t, gmt_device(), GM_F32, 1, GM_SHAPE(10), &err), &err);
  float buf[11];
  ck_assert_int_eq(gm_tensor_write(t, buf, sizeof buf, &err), GM_EINVAL);
  ck_assert_int_eq(gm_tensor_read(t, buf, 4, &err), GM_EINVAL);
  gm_tensor_destroy(t);
}
END_TEST

START_TEST(bad_shapes_are_refused) {
  gm_error err = {0};
  gm_tensor *t = NULL;
  ck_assert_int_eq(gm_tensor_create(&t, gmt_device(), GM_F32, 6, GM_SHAPE(1, 1, 1, 1, 1, 1), &err),
                   GM_EINVAL);
  ck_assert_int_eq(gm_tensor_create(&t, gmt_device(), GM_F32, 2, GM_SHAPE(-1, 3), &err), GM_EINVAL);
  ck_assert_ptr_null(t);
}
END_TEST

/* Too many elements: the message names the shape and the limit, not one dimension (it was
 * "dimension 3 of size 256 is invalid" for a sampler's (20000, 3, 256, 256)). */
START_TEST(too_many_elements_name_the_limit_of_a_tensor) {
  gm_error err = {0};
  gm_tensor *t = NULL;
  ck_assert_int_eq(gm_tensor_create(&t, gmt_device(), GM_F32, 4, GM_SHAPE(20000, 3, 256, 256),
                                    &err), GM_ERANGE);
  ck_assert_ptr_null(t);
  ck_assert_msg(strstr(err.msg, "(20000, 3, 256, 256)") && strstr(err.msg, "3932160000") &&
                strstr(err.msg, "2^31 - 1 elements"), "%s", err.msg);
  /* the product of five large dimensions does not fit 64 bits either */
  ck_assert_int_eq(gm_tensor_create(&t, gmt_device(), GM_F32, 5,
                                    GM_SHAPE(1 << 20, 1 << 20, 1 << 20, 1 << 20, 1 << 20), &err),
                   GM_ERANGE);
  ck_assert_msg(strstr(err.msg, "2^31 - 1 elements"), "%s", err.msg);
}
END_TEST

START_TEST(fill_sets_every_element) {
  gm_error err = {0};
  gm_tensor *t, *ti;
  gmt_ok(gm_tensor_create(&t, gmt_device(), GM_F32, 2, GM_SHAPE(33, 17), &err), &err);
  gmt_ok(gm_tensor_fill(t, 2.5, &err), &err);
  float *h = gmt_read(t);
  for (int i = 0; i < 33 * 17; i++) ck_assert_float_eq(h[i], 2.5f);
  free(h);
  gmt_ok(gm_tensor_create(&ti, gmt_device(), GM_I32, 1, GM_SHAPE(100), &err), &err);
  gmt_ok(gm_tensor_fill(ti, -4, &err), &err);
  int32_t hi[100];
  gmt_ok(gm_tensor_read(ti, hi, sizeof hi, &err), &err);
  for (int i = 0; i < 100; i++) ck_assert_int_eq(hi[i], -4);
  gm_tensor_destroy(t);
  gm_tensor_destroy(ti);
}
END_TEST

START_TEST(copy_and_reshape_keep_values) {
  gm_error err = {0};
  float a[24];
  for (int i = 0; i < 24; i++) a[i] = (float)i;
  gm_tensor *x = gmt_tensor_from(3, GM_SHAPE(2, 3, 4), a);
  gm_tensor *y;
  gmt_ok(gm_tensor_create(&y, gmt_device(), GM_F32, 2, GM_SHAPE(6, 4), &err), &err);
  gmt_ok(gm_tensor_copy(y, x, &err), &err);
  float *h = gmt_read(y);
  ck_assert_mem_eq(h, a, sizeof a);
  free(h);
  gmt_ok(gm_tensor_reshape(x, 2, GM_SHAPE(4, 6), &err), &err);
  ck_assert_int_eq(x->ndim, 2);
  ck_assert_int_eq(x->shape[0], 4);
  ck_assert_int_eq(gm_tensor_reshape(x, 2, GM_SHAPE(5, 5), &err), GM_ESHAPE);
  gm_tensor *z;
  gmt_ok(gm_tensor_create(&z, gmt_device(), GM_F32, 1, GM_SHAPE(23), &err), &err);
  ck_assert_int_eq(gm_tensor_copy(z, x, &err), GM_ESHAPE);
  gm_tensor_destroy(x);
  gm_tensor_destroy(y);
  gm_tensor_destroy(z);
}
END_TEST

START_TEST(views_share_the_buffer_at_an_offset) {
  gm_error err = {0};
  float a[10];
  for (int i = 0; i < 10; i++) a[i] = (float)i;
  gm_tensor *base = gmt_tensor_from(1, GM_SHAPE(10), a);
  gm_tensor *v;
  gmt_ok(gm_tensor_view(&v, base, 4, 2, GM_SHAPE(2, 3), &err), &err);
  float *h = gmt_read(v);
  for (int i = 0; i < 6; i++) ck_assert_float_eq(h[i], (float)(4 + i));
  free(h);
  gmt_ok(gm_tensor_fill(v, -1, &err), &err);
  h = gmt_read(base);
  for (int i = 0; i < 10; i++) ck_assert_float_eq(h[i], (i >= 4) ? -1.0f : (float)i);
  free(h);
  gm_tensor *bad = NULL;
  ck_assert_int_eq(gm_tensor_view(&bad, base, 8, 1, GM_SHAPE(3), &err), GM_ESHAPE);
  gm_tensor_destroy(v);
  gm_tensor_destroy(base);
}
END_TEST

START_TEST(second_identical_allocation_does_not_grow_the_pool) {
  gm_error err = {0};
  gm_device *dev = gmt_device();
  gm_tensor *t;
  gmt_ok(gm_tensor_create(&t, dev, GM_F32, 2, GM_SHAPE(123, 457), &err), &err);
  gm_tensor_destroy(t);
  gm_mem_stats before, after;
  gm_device_mem_stats(dev, &before);
  gmt_ok(gm_tensor_create(&t, dev, GM_F32, 2, GM_SHAPE(123, 457), &err), &err);
  gm_device_mem_stats(dev, &after);
  ck_assert_uint_eq(after.allocations, before.allocations);
  ck_assert_uint_eq(after.peak_bytes, before.peak_bytes);
  ck_assert_uint_eq(after.reuses, before.reuses + 1);
  ck_assert_uint_eq(after.bytes_in_use, before.bytes_in_use + t->buf->bytes);
  gm_tensor_destroy(t);
  gm_device_trim(dev);
  gm_device_mem_stats(dev, &after);
  ck_assert_uint_eq(after.bytes_cached, 0);
}
END_TEST

START_TEST(reset_peak_starts_from_what_the_pool_holds_now) {
  gm_error err = {0};
  gm_device *dev = gmt_device();
  gm_tensor *big, *small;
  gmt_ok(gm_tensor_create(&big, dev, GM_F32, 1, GM_SHAPE(1 << 20), &err), &err);
  gm_tensor_destroy(big);
  gm_device_trim(dev);
  gm_mem_stats s;
  gm_device_mem_stats(dev, &s);
  ck_assert_uint_ge(s.peak_bytes, (uint64_t)4 << 20);
  gm_device_mem_reset_peak(dev);
  gm_device_mem_stats(dev, &s);
  ck_assert_uint_eq(s.peak_bytes, s.bytes_in_use + s.bytes_cached);
  uint64_t base = s.peak_bytes;
  gmt_ok(gm_tensor_create(&small, dev, GM_F32, 1, GM_SHAPE(1000), &err), &err);
  gm_device_mem_stats(dev, &s);
  ck_assert_uint_eq(s.peak_bytes, base + small->buf->bytes);
  gm_tensor_destroy(small);
  gm_device_mem_stats(dev, &s);
  ck_assert_uint_eq(s.peak_bytes, base + 4096);  /* 4000 bytes round up to the 4096 class */
  gm_device_trim(dev);
}
END_TEST

START_TEST(size_classes_round_up_by_at_most_a_quarter) {
  int cls = 0, prev = -1;
  for (size_t b = 1; b < (1u << 22); b = b * 3 / 2 + 1) {
    size_t s = gm__pool_class_size(b, &cls);
    ck_assert_uint_ge(s, b);
    if (b > 256) ck_assert_uint_le(s, b + b / 4 + 1);
    ck_assert_int_ge(cls, prev);
    prev = cls;
  }
  ck_assert_uint_eq(gm__pool_class_size(1024, &cls), 1024);
  ck_assert_uint_eq(gm__pool_class_size(1025, &cls), 1280);
}
END_TEST

START_TEST(tape_reset_returns_arena_tensors_to_the_pool) {
  gm_error err = {0};
  gm_device *dev = gmt_device();
  gm_tape_reset(dev);
  gm_mem_stats s0, s1, s2;
  gm_tensor *a, *v;
  gmt_ok(gm__tensor_temp(&a, dev, GM_F32, 1, GM_SHAPE(1000), &err), &err);
  gmt_ok(gm__tensor_temp_view(&v, a, 10, 1, GM_SHAPE(10), &err), &err);
  ck_assert_uint_eq(gm_tape_arena_count(dev), 2);
  gm_device_mem_stats(dev, &s0);
  gm_tape_reset(dev);
  gm_device_mem_stats(dev, &s1);
  ck_assert_uint_eq(gm_tape_arena_count(dev), 0);
  ck_assert_uint_lt(s1.bytes_in_use, s0.bytes_in_use);
  gmt_ok(gm__tensor_temp(&a, dev, GM_F32, 1, GM_SHAPE(1000), &err), &err);
  gm_device_mem_stats(dev, &s2);
  ck_assert_uint_eq(s2.allocations, s1.allocations);
  gm_tape_reset(dev);
}
END_TEST

int main(void) {
  Suite *s = suite_create("tensor");
  TCase *tc = tcase_create("tensor");
  tcase_add_test(tc, write_then_read_round_trips_f32_and_i32);
  tcase_add_test(tc, wrong_byte_count_is_refused);
  tcase_add_test(tc, bad_shapes_are_refused);
  tcase_add_test(tc, too_many_elements_name_the_limit_of_a_tensor);
  tcase_add_test(tc, fill_sets_every_element);
  tcase_add_test(tc, copy_and_reshape_keep_values);
  tcase_add_test(tc, views_share_the_buffer_at_an_offset);
  tcase_add_test(tc, second_identical_allocation_does_not_grow_the_pool);
  tcase_add_test(tc, reset_peak_starts_from_what_the_pool_holds_now);
  tcase_add_test(tc, size_classes_round_up_by_at_most_a_quarter);
  tcase_add_test(tc, tape_reset_returns_arena_tensors_to_the_pool);
  suite_add_tcase(s, tc);
  return gmt_run(s);
}
