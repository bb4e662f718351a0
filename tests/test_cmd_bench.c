/* `genmoji bench ops` end to end, through the built executable, on the smallest study layer
 * (the U-Net's 1x1 output conv) at batch 1: the JSON rows and their fields, GFLOP/s that
 * agree with the sizes and times, one row per backend with --backends and the engine's
 * choice marked, the text table, and the usage exits. `genmoji bench models` on the seed
 * PixelCNN at tiny settings: the JSON Lines header and rows with their fields, the table,
 * and its usage exits. No speed is asserted. */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "clitest.h"

#define SMALL "--match unet.output --batch 1 --repeat 1"

/* Runs "genmoji bench args" with stdout and stderr captured. */
static gmt_run_result run(const char *args) { return gmt_genmoji(NULL, "bench %s", args); }

static int is_backend(const char *s) {
  return !strcmp(s, "clblast") || !strcmp(s, "own") || !strcmp(s, "native");
}

/* Parses r's stdout and returns its "rows" (root in *root, for cJSON_Delete). */
static const cJSON *rows_of(const gmt_run_result *r, cJSON **root) {
  ck_assert_msg(r->code == 0, "exit %d, stderr: %s", r->code, r->err);
  *root = cJSON_Parse(r->out);
  ck_assert_msg(*root != NULL, "stdout is not JSON: %.300s", r->out);
  const cJSON *dev = cJSON_GetObjectItemCaseSensitive(*root, "device");
  ck_assert_msg(cJSON_IsObject(dev), "no \"device\" object");
  ck_assert_str_ne(gmt_json_str(dev, "name"), "");
  ck_assert_str_ne(gmt_json_str(*root, "gemm_backends"), "");
  const cJSON *rows = cJSON_GetObjectItemCaseSensitive(*root, "rows");
  ck_assert_msg(cJSON_IsArray(rows), "no \"rows\" array");
  return rows;
}

START_TEST(bench_ops_json_rows_name_the_gemms_and_the_layer_passes) {
  gmt_run_result r = run("ops --json " SMALL);
  cJSON *root;
  const cJSON *rows = rows_of(&r, &root), *row;
  int gemms = 0, convs = 0, seen_pass[3] = {0};
  cJSON_ArrayForEach(row, rows) {
    const char *op = gmt_json_str(row, "op");
    ck_assert_msg(is_backend(gmt_json_str(row, "backend")), "backend %s", gmt_json_str(row, "backend"));
    ck_assert_int_eq((int)gmt_json_num(row, "batch"), 1);
    ck_assert_msg(gmt_json_num(row, "ms") > 0 && gmt_json_num(row, "ms_min") <= gmt_json_num(row, "ms"), "times");
    if (strcmp(op, "gemm") == 0) {
      double m = gmt_json_num(row, "m"), n = gmt_json_num(row, "n"), k = gmt_json_num(row, "k");
      const char *pass = gmt_json_str(row, "pass");
      /* unet.output: conv 1x1 67 -> 3 on 32x32, so M = 3, N = 1024, K = 67 */
      int which = !strcmp(pass, "forward") ? 0 : !strcmp(pass, "backward_w") ? 1 : 2;
      static const double want_mnk[3][3] = {{3, 1024, 67}, {3, 67, 1024}, {67, 1024, 3}};
      ck_assert_msg(m == want_mnk[which][0] && n == want_mnk[which][1] &&
                        k == want_mnk[which][2], "%s: m=%g n=%g k=%g", pass, m, n, k);
      seen_pass[which]++;
      double want = 2 * m * n * k / (gmt_json_num(row, "ms") * 1e6);
      ck_assert_msg(fabs(gmt_json_num(row, "gflops") - want) <= 1e-6 * want, "gflops %g, sizes say %g",
                    gmt_json_num(row, "gflops"), want);
      gemms++;
    } else {
      ck_assert_str_eq(op, "conv2d");
      ck_assert_str_eq(gmt_json_str(row, "layer"), "unet.output");
      const char *pass = gmt_json_str(row, "pass");
      ck_assert_msg(!strcmp(pass, "forward") || !strcmp(pass, "backward"), "pass %s", pass);
      convs++;
    }
  }
  ck_assert_int_eq(gemms, 3);
  ck_assert(seen_pass[0] == 1 && seen_pass[1] == 1 && seen_pass[2] == 1);
  ck_assert_int_eq(convs, 2);
  cJSON_Delete(root);
  gmt_run_free(&r);
}
END_TEST

START_TEST(bench_ops_backends_times_each_backend_and_marks_the_default) {
  gmt_run_result r = run("ops --json --only gemm --backends own,clblast " SMALL);
  cJSON *root;
  const cJSON *rows = rows_of(&r, &root), *row;
  int count = 0, defaults = 0, own = 0;
  cJSON_ArrayForEach(row, rows) {
    ck_assert_str_eq(gmt_json_str(row, "op"), "gemm");
    own += !strcmp(gmt_json_str(row, "backend"), "own");
    defaults += cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(row, "default"));
    count++;
  }
  ck_assert_int_eq(count, 6);
  ck_assert_int_eq(own, 3);
  /* each GEMM's default is one of the two timed here unless the engine picks native */
  ck_assert_msg(defaults == 3 || defaults == 0, "%d rows marked default", defaults);
  cJSON_Delete(root);
  gmt_run_free(&r);
}
END_TEST

START_TEST(bench_ops_prints_a_table_with_the_device) {
  gmt_run_result r = run("ops " SMALL);
  ck_assert_msg(r.code == 0, "exit %d, stderr: %s", r.code, r.err);
  ck_assert_msg(strncmp(r.out, "device: ", 8) == 0, "no device line: %.200s", r.out);
  ck_assert_ptr_nonnull(strstr(r.out, "gemm backends: "));
  ck_assert_ptr_nonnull(strstr(r.out, "GFLOP/s"));
  ck_assert_ptr_nonnull(strstr(r.out, "backward ms"));
  ck_assert_ptr_nonnull(strstr(r.out, "unet.output"));
  gmt_run_free(&r);
}
END_TEST

/* ---- bench models ---- */

#define TINY "--model pixelcnn --preset seed --batch 2 --sample-batch 1,2 --seconds 0.1"

/* Parses r's stdout as JSON Lines: the header's object, then the rows into an array. */
static cJSON *lines_of(const gmt_run_result *r, cJSON **header) {
  ck_assert_msg(r->code == 0, "exit %d, stderr: %s", r->code, r->err);
  cJSON *rows = cJSON_CreateArray();
  *header = NULL;
  int n = 0;
  for (const char *line = r->out; *line;) {
    const char *end = strchr(line, '\n');
    ck_assert_msg(end != NULL, "line %d does not end in a newline: %.200s", n + 1, line);
    cJSON *o = cJSON_ParseWithLength(line, (size_t)(end - line));
    ck_assert_msg(cJSON_IsObject(o), "line %d is not a JSON object: %.*s", n + 1,
                  (int)(end - line), line);
    if (n++ == 0) *header = o;
    else cJSON_AddItemToArray(rows, o);
    line = end + 1;
  }
  ck_assert_msg(*header != NULL, "no output");
  return rows;
}

START_TEST(bench_models_json_lines_have_a_header_then_train_and_sampler_rows) {
  gmt_run_result r = run("models --json " TINY);
  cJSON *header;
  cJSON *rows = lines_of(&r, &header), *row;
  const cJSON *h = cJSON_GetObjectItemCaseSensitive(header, "header");
  ck_assert_msg(cJSON_IsObject(h), "the first line is not {\"header\": {...}}");
  const cJSON *dev = cJSON_GetObjectItemCaseSensitive(h, "device");
  ck_assert_msg(cJSON_IsObject(dev), "no device in the header");
  ck_assert_str_ne(gmt_json_str(dev, "name"), "");
  ck_assert_str_ne(gmt_json_str(dev, "driver_version"), "");
  ck_assert_str_ne(gmt_json_str(h, "gemm_backends"), "");
  ck_assert_str_ne(gmt_json_str(h, "genmoji"), "");
  int train = 0, sampled[2][2] = {{0}};
  cJSON_ArrayForEach(row, rows) {
    ck_assert_str_eq(gmt_json_str(row, "model"), "pixelcnn");
    ck_assert_str_eq(gmt_json_str(row, "preset"), "seed");
    int batch = (int)gmt_json_num(row, "batch");
    if (!cJSON_GetObjectItemCaseSensitive(row, "sampler")) {
      ck_assert_int_eq(batch, 2);
      ck_assert_msg(gmt_json_num(row, "train_images_per_s") > 0, "images/s %g",
                    gmt_json_num(row, "train_images_per_s"));
      ck_assert_msg(gmt_json_num(row, "peak_bytes") >= 4.0 * 738288, "peak %g", gmt_json_num(row, "peak_bytes"));
      ck_assert_int_eq((int)gmt_json_num(row, "params"), 738288);
      ck_assert_msg(gmt_json_num(row, "steps") >= 3, "steps %g", gmt_json_num(row, "steps"));
      double mean = gmt_json_num(row, "steps") * 2 / gmt_json_num(row, "seconds");
      ck_assert_msg(fabs(gmt_json_num(row, "mean_images_per_s") - mean) <= 1e-6 * mean,
                    "mean images/s %g, steps and seconds say %g", gmt_json_num(row, "mean_images_per_s"),
                    mean);
      double median = 2 / gmt_json_num(row, "step_seconds");
      ck_assert_msg(fabs(gmt_json_num(row, "train_images_per_s") - median) <= 1e-6 * median,
                    "images/s %g, the median step says %g", gmt_json_num(row, "train_images_per_s"),
                    median);
      train++;
      continue;
    }
    const char *sampler = gmt_json_str(row, "sampler");
    int which = !strcmp(sampler, "cached") ? 0 : !strcmp(sampler, "naive") ? 1 : -1;
    ck_assert_msg(which >= 0, "sampler %s", sampler);
    ck_assert_msg(batch == 1 || batch == 2, "sample batch %d", batch);
    sampled[which][batch - 1]++;
    ck_assert_msg(gmt_json_num(row, "seconds_per_image") > 0, "s/image %g", gmt_json_num(row, "seconds_per_image"));
    ck_assert_int_eq((int)gmt_json_num(row, "steps"), 1024);  /* pixels of a 32x32 image */
    const cJSON *units = cJSON_GetObjectItemCaseSensitive(row, "timed_units");
    ck_assert_msg(cJSON_GetArraySize(units) == 2, "timed_units is not [a, b]");
    double a = cJSON_GetArrayItem(units, 0)->valuedouble;
    double b = cJSON_GetArrayItem(units, 1)->valuedouble;
    ck_assert_msg(a == 1 && b > a && b <= 1024, "timed units %g..%g", a, b);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(row, "extrapolated")) == (b < 1024));
    /* naive: one full pass per pixel; cached: about one pass's work in all */
    double evals = gmt_json_num(row, "evaluations_per_image");
    if (which == 1) ck_assert_double_eq_tol(evals, 1024, 1e-6);
    else ck_assert_msg(evals > 0.5 && evals < 4, "cached evaluations per image %g", evals);
  }
  ck_assert_int_eq(train, 1);
  for (int s = 0; s < 2; s++)
    for (int b = 0; b < 2; b++)
      ck_assert_msg(sampled[s][b] == 1, "sampler %d, batch %d: %d rows", s, b + 1, sampled[s][b]);
  cJSON_Delete(header);
  cJSON_Delete(rows);
  gmt_run_free(&r);
}
END_TEST

START_TEST(bench_models_prints_tables_with_the_device) {
  gmt_run_result r = run("models --only sample --sample-batch 1 --model pixelcnn --preset gated "
                     "--seconds 0.1");
  ck_assert_msg(r.code == 0, "exit %d, stderr: %s", r.code, r.err);
  ck_assert_msg(strncmp(r.out, "device: ", 8) == 0, "no device line: %.200s", r.out);
  ck_assert_ptr_nonnull(strstr(r.out, "gemm backends: "));
  ck_assert_ptr_nonnull(strstr(r.out, "s/image"));
  ck_assert_ptr_nonnull(strstr(r.out, "cached"));
  ck_assert_ptr_nonnull(strstr(r.out, "naive"));
  ck_assert_ptr_null(strstr(r.out, "peak memory"));  /* --only sample: no training table */
  gmt_run_free(&r);
}
END_TEST

static const char *const bad_args[] = {
    "", "ops --batch 0", "ops --repeat x", "ops --only all", "ops --backends gpu",
    "ops extra", "--json models", "models --model nosuch", "models --preset nosuch",
    "models --model pixelcnn --preset unet", "models --batch 0", "models --sample-batch x",
    "models --seconds 0", "models --only eval", "models extra", "models --bogus",
};

START_TEST(bench_usage_errors_exit_2_with_a_message) {
  gmt_run_result r = run(bad_args[_i]);
  ck_assert_msg(r.code == 2, "'bench %s': exit %d", bad_args[_i], r.code);
  ck_assert_msg(strstr(r.err, "genmoji: bench: ") == r.err, "'bench %s': stderr %s",
                bad_args[_i], r.err);
  ck_assert_str_eq(r.out, "");
  gmt_run_free(&r);
}
END_TEST

int main(void) {
  Suite *s = suite_create("cmd_bench");
  TCase *tc = tcase_create("cmd_bench");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, bench_ops_json_rows_name_the_gemms_and_the_layer_passes);
  tcase_add_test(tc, bench_ops_backends_times_each_backend_and_marks_the_default);
  tcase_add_test(tc, bench_ops_prints_a_table_with_the_device);
  tcase_add_test(tc, bench_models_json_lines_have_a_header_then_train_and_sampler_rows);
  tcase_add_test(tc, bench_models_prints_tables_with_the_device);
  tcase_add_loop_test(tc, bench_usage_errors_exit_2_with_a_message, 0,
                      (int)(sizeof bad_args / sizeof bad_args[0]));
  suite_add_tcase(s, tc);
  return gmt_run(s);
}
