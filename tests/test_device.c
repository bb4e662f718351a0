/* Device listing and selection: by default, by index, by name substring, and the errors
 * for a bad index or a name that matches nothing. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "testlib.h"

START_TEST(device_list_finds_at_least_one_device) {
  gm_error err = {0};
  gm_device_info *list = NULL;
  int n = 0;
  gmt_ok(gm_device_list(&list, &n, &err), &err);
  ck_assert_int_ge(n, 1);
  for (int i = 0; i < n; i++) {
    ck_assert_int_eq(list[i].global_index, i);
    ck_assert_str_ne(list[i].name, "");
    ck_assert_uint_gt(list[i].compute_units, 0);
    ck_assert_uint_gt(list[i].global_mem_bytes, 0);
    ck_assert_uint_gt(list[i].max_work_group_size, 0);
  }
  free(list);
}
END_TEST

START_TEST(default_selection_prefers_a_gpu) {
  gm_device_info list[3] = {0};
  list[0].type = GM_DEVICE_CPU;
  list[1].type = GM_DEVICE_GPU;
  list[2].type = GM_DEVICE_GPU;
  gm_error err = {0};
  unsetenv("GM_DEVICE");
  ck_assert_int_eq(gm_device_select(list, 3, NULL, &err), 1);
  list[1].type = GM_DEVICE_CPU;
  list[2].type = GM_DEVICE_ACCELERATOR;
  ck_assert_int_eq(gm_device_select(list, 3, "", &err), 0);
}
END_TEST

START_TEST(selection_by_index_and_substring) {
  gm_device_info list[2] = {0};
  strcpy(list[0].platform_name, "Portable Computing Language");
  strcpy(list[0].name, "pthread-skylake");
  strcpy(list[1].platform_name, "NVIDIA CUDA");
  strcpy(list[1].name, "NVIDIA H100");
  gm_error err = {0};
  ck_assert_int_eq(gm_device_select(list, 2, "1", &err), 1);
  ck_assert_int_eq(gm_device_select(list, 2, "0", &err), 0);
  ck_assert_int_eq(gm_device_select(list, 2, "h100", &err), 1);
  ck_assert_int_eq(gm_device_select(list, 2, "portable", &err), 0);
}
END_TEST

START_TEST(bad_index_names_what_was_found) {
  gm_device_info list[1] = {0};
  strcpy(list[0].platform_name, "Portable Computing Language");
  strcpy(list[0].name, "pthread-cpu");
  gm_error err = {0};
  int rc = gm_device_select(list, 1, "7", &err);
  ck_assert_int_eq(rc, GM_ENOTFOUND);
  ck_assert_ptr_nonnull(strstr(err.msg, "7"));
  ck_assert_ptr_nonnull(strstr(err.msg, "pthread-cpu"));
}
END_TEST

START_TEST(bad_substring_names_what_was_found) {
  gm_error err = {0};
  gm_device *dev = NULL;
  int rc = gm_device_create(&dev, "no-such-device-anywhere", &err);
  ck_assert_int_eq(rc, GM_ENOTFOUND);
  ck_assert_ptr_null(dev);
  ck_assert_ptr_nonnull(strstr(err.msg, "no-such-device-anywhere"));
  ck_assert_ptr_nonnull(strstr(err.msg, "found"));
}
END_TEST

START_TEST(env_gm_device_selects_when_no_flag) {
  gm_device_info list[2] = {0};
  strcpy(list[0].name, "first");
  strcpy(list[1].name, "second");
  gm_error err = {0};
  setenv("GM_DEVICE", "second", 1);
  ck_assert_int_eq(gm_device_select(list, 2, NULL, &err), 1);
  ck_assert_int_eq(gm_device_select(list, 2, "first", &err), 0);  /* the flag wins */
  setenv("GM_DEVICE", "5", 1);
  ck_assert_int_eq(gm_device_select(list, 2, NULL, &err), GM_ENOTFOUND);
  ck_assert_ptr_nonnull(strstr(err.msg, "GM_DEVICE"));
  unsetenv("GM_DEVICE");
}
END_TEST

START_TEST(open_device_reports_info_and_work_groups) {
  gm_device *dev = gmt_device();
  const gm_device_info *in = gm_device_get_info(dev);
  ck_assert_str_ne(in->name, "");
  ck_assert_uint_gt(dev->wg1d, 0);
  ck_assert_uint_le(dev->wg1d, in->max_work_group_size);
  ck_assert_uint_le(dev->wg2d[0] * dev->wg2d[1], in->max_work_group_size);
  gm_error err = {0};
  gmt_ok(gm_device_finish(dev, &err), &err);
}
END_TEST

START_TEST(kernel_lookup_by_name) {
  gm_device *dev = gmt_device();
  gm_error err = {0};
  cl_kernel k = NULL;
  gmt_ok(gm__kernel(dev, "tensor_fill_f32", &k, &err), &err);
  ck_assert_ptr_nonnull(k);
  int rc = gm__kernel(dev, "no_such_kernel", &k, &err);
  ck_assert_int_eq(rc, GM_ENOTFOUND);
  ck_assert_ptr_nonnull(strstr(err.msg, "no_such_kernel"));
}
END_TEST

START_TEST(failed_kernel_build_carries_the_build_log) {
  gm_device *dev = gmt_device();
  gm_error err = {0};
  const char *src = "__kernel void broken(__global float *x) { x[0] = undefined_name; }";
  size_t len = strlen(src);
  cl_program prog = NULL;
  int rc = gm__program_build(dev, 1, &src, &len, gm__build_options(), "test program", &prog, &err);
  ck_assert_int_eq(rc, GM_EBUILD);
  ck_assert_ptr_null(prog);
  ck_assert_ptr_nonnull(strstr(err.msg, "clBuildProgram (test program"));
  ck_assert_ptr_nonnull(strstr(err.msg, "CL_BUILD_PROGRAM_FAILURE"));
  ck_assert_msg(strstr(err.msg, "undefined_name") != NULL, "no build log in: %s", err.msg);
}
END_TEST

START_TEST(errors_have_names_and_messages) {
  ck_assert_str_eq(gm_err_name(GM_EINVAL), "GM_EINVAL");
  ck_assert_str_eq(gm_strerror(GM_ENODEVICE), "no OpenCL platform or device");
  ck_assert_str_eq(gm_strerror(12345), "unknown error");
  gm_error err = {0};
  ck_assert_int_eq(gm_error_set(&err, GM_EIO, "%s: cannot open", "x.png"), GM_EIO);
  gm_error_prefix(&err, "loading %s", "data");
  ck_assert_str_eq(err.msg, "loading data: x.png: cannot open");
  ck_assert_int_eq(err.code, GM_EIO);
  ck_assert_str_eq(gm__cl_err_name(CL_INVALID_KERNEL_NAME), "CL_INVALID_KERNEL_NAME");
}
END_TEST

int main(void) {
  Suite *s = suite_create("device");
  TCase *tc = tcase_create("device");
  tcase_add_test(tc, device_list_finds_at_least_one_device);
  tcase_add_test(tc, default_selection_prefers_a_gpu);
  tcase_add_test(tc, selection_by_index_and_substring);
  tcase_add_test(tc, bad_index_names_what_was_found);
  tcase_add_test(tc, bad_substring_names_what_was_found);
  tcase_add_test(tc, env_gm_device_selects_when_no_flag);
  tcase_add_test(tc, open_device_reports_info_and_work_groups);
  tcase_add_test(tc, kernel_lookup_by_name);
  tcase_add_test(tc, failed_kernel_build_carries_the_build_log);
  tcase_add_test(tc, errors_have_names_and_messages);
  suite_add_tcase(s, tc);
  return gmt_run(s);
}
