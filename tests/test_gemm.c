/* The GEMM entry point against a plain C reference in double on random data: odd sizes,
 * 1xN and Nx1, every transpose combination, alpha/beta, padded leading dimensions,
 * offsets and strided batches; on the backend the engine picks, and on every backend
 * (clblast, own, native) in turn. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm_backend.h"
#include "testlib.h"

typedef struct shape {
  int m, n, k, ta, tb, batch;
  float alpha, beta;
  int pad;  /* extra columns in every leading dimension, and an element offset */
} shape;

static void ref_gemm(const shape *s, const float *A, size_t lda, const float *B, size_t ldb,
                     float *C, size_t ldc) {
  for (int i = 0; i < s->m; i++)
    for (int j = 0; j < s->n; j++) {
      double acc = 0;
      for (int p = 0; p < s->k; p++) {
        double a = s->ta ? A[(size_t)p * lda + i] : A[(size_t)i * lda + p];
        double b = s->tb ? B[(size_t)j * ldb + p] : B[(size_t)p * ldb + j];
        acc += a * b;
      }
      C[(size_t)i * ldc + j] = (float)(s->alpha * acc + s->beta * C[(size_t)i * ldc + j]);
    }
}

/* backend: a gm__gemm_backend, or -1 for the engine's choice. */
static void run_shape(const shape *s, int backend) {
  gm_error err = {0};
  gm_device *dev = gmt_device();
  size_t arows = s->ta ? s->k : s->m, acols = s->ta ? s->m : s->k;
  size_t brows = s->tb ? s->n : s->k, bcols = s->tb ? s->k : s->n;
  size_t lda = acols + s->pad, ldb = bcols + s->pad, ldc = s->n + s->pad;
  size_t off = s->pad;
  size_t sa = arows * lda + 3, sb = brows * ldb + 5, sc = s->m * ldc + 7;
  size_t na = off + sa * s->batch, nb = off + sb * s->batch, nc = off + sc * s->batch;
  float *A = malloc(na * 4), *B = malloc(nb * 4), *C = malloc(nc * 4), *R = malloc(nc * 4);
  gmt_rng r;
  gmt_rng_seed(&r, (uint64_t)(s->m * 131 + s->n * 17 + s->k * 7 + s->ta * 3 + s->tb + s->batch));
  gmt_fill_uniform(&r, A, na, -1, 1);
  gmt_fill_uniform(&r, B, nb, -1, 1);
  gmt_fill_uniform(&r, C, nc, -1, 1);
  memcpy(R, C, nc * 4);
  gm_tensor *ta = gmt_tensor_from(1, GM_SHAPE((int64_t)na), A);
  gm_tensor *tb = gmt_tensor_from(1, GM_SHAPE((int64_t)nb), B);
  gm_tensor *tc = gmt_tensor_from(1, GM_SHAPE((int64_t)nc), C);
  gm__gemm_desc d = {.trans_a = s->ta, .trans_b = s->tb, .m = s->m, .n = s->n, .k = s->k,
                     .alpha = s->alpha, .beta = s->beta, .a = gm__mem(ta), .b = gm__mem(tb),
                     .c = gm__mem(tc), .a_off = off, .b_off = off, .c_off = off, .lda = lda,
                     .ldb = ldb, .ldc = ldc, .batch = s->batch, .stride_a = sa,
                     .stride_b = sb, .stride_c = sc};
  gmt_ok(gm__gemm_with(dev, backend, &d, &err), &err);
  for (int b = 0; b < s->batch; b++)
    ref_gemm(s, A + off + b * sa, lda, B + off + b * sb, ldb, R + off + b * sc, ldc);
  float *got = gmt_read(tc);
  char what[160];
  snprintf(what, sizeof what,
           "gemm (%s) m=%d n=%d k=%d ta=%d tb=%d batch=%d alpha=%g beta=%g pad=%d",
           backend < 0 ? "default" : gm__gemm_backend_name(backend), s->m, s->n, s->k, s->ta,
           s->tb, s->batch, s->alpha, s->beta, s->pad);
  /* Everything outside the C matrices (padding, gaps) must be untouched too. */
  gmt_assert_close(got, R, nc, 1e-4, 1e-5 * s->k, what);
  free(got);
  free(A);
  free(B);
  free(C);
  free(R);
  gm_tensor_destroy(ta);
  gm_tensor_destroy(tb);
  gm_tensor_destroy(tc);
}

static const shape shapes[] = {
    {1, 1, 1, 0, 0, 1, 1, 0, 0},       {1, 37, 5, 0, 0, 1, 1, 0, 0},
    {37, 1, 5, 0, 0, 1, 1, 0, 0},      {1, 1, 64, 0, 1, 1, 1, 0, 0},
    {7, 13, 11, 0, 0, 1, 1, 0, 0},     {7, 13, 11, 1, 0, 1, 1, 0, 0},
    {7, 13, 11, 0, 1, 1, 1, 0, 0},     {7, 13, 11, 1, 1, 1, 1, 0, 0},
    {64, 64, 64, 0, 0, 1, 1, 0, 0},    {65, 63, 67, 0, 0, 1, 1, 0, 0},
    {64, 256, 576, 0, 0, 1, 1, 0, 0},  {64, 1024, 27, 0, 0, 1, 1, 0, 0},
    {48, 1024, 64, 0, 0, 1, 1, 0, 0},  {64, 576, 256, 0, 1, 1, 1, 0, 0},
    {576, 256, 64, 1, 0, 1, 1, 0, 0},  {33, 17, 9, 0, 0, 1, 0.5f, 2.0f, 0},
    {33, 17, 9, 1, 1, 1, -1.5f, 0.25f, 0}, {19, 23, 29, 0, 0, 1, 1, 1, 3},
    {19, 23, 29, 1, 1, 1, 2, -1, 5},   {16, 16, 16, 0, 0, 4, 1, 0, 0},
    {5, 9, 7, 1, 0, 3, 1, 1, 2},       {3, 129, 31, 0, 1, 8, 0.5f, 0.5f, 1},
    {128, 3, 200, 0, 0, 2, 1, 0, 0},   {2, 2, 2000, 1, 1, 1, 1, 0, 0},
};

/* A small-shapes run (gmt_small_shapes) caps the big products at 64 x 96 x 300: still
 * full and partial tiles, and K past the own kernels' 256-deep chunks. */
static shape small(const shape *s) {
  shape t = *s;
  if (!gmt_small_shapes() || (size_t)s->m * s->n * s->k * s->batch < 200000) return t;
  if (t.m > 64) t.m = 64;
  if (t.n > 96) t.n = 96;
  if (t.k > 300) t.k = 300;
  return t;
}

START_TEST(gemm_matches_reference) {
  shape s = small(&shapes[_i]);
  run_shape(&s, -1);
}
END_TEST

/* Every shape on backend _i. The native backend needs a CPU device that runs native
 * kernels and a BLAS: where it cannot be created, the test checks that it says so with
 * GM_EUNSUPPORTED and a reason, and runs nothing. */
START_TEST(gemm_backend_matches_reference_on_every_shape) {
  if (_i == GM__GEMM_NATIVE) {
    gm_error err = {0};
    gm__gemm_native *nat = NULL;
    int rc = gm__gemm_native_create(&nat, gmt_device(), &err);
    gm__gemm_native_destroy(nat);
    if (rc) {
      ck_assert_int_eq(rc, GM_EUNSUPPORTED);
      ck_assert_msg(err.msg[0] != '\0', "no reason given");
      fprintf(stderr, "gemm native backend unavailable here: %s\n", err.msg);
      return;
    }
  }
  for (size_t i = 0; i < GM__COUNT(shapes); i++) {
    shape s = small(&shapes[i]);
    run_shape(&s, _i);
  }
}
END_TEST

START_TEST(gemm_rejects_short_leading_dimensions) {
  gm_error err = {0};
  gm__gemm_desc d = {.m = 4, .n = 4, .k = 4, .lda = 3, .ldb = 4, .ldc = 4, .batch = 1};
  ck_assert_int_eq(gm__gemm(gmt_device(), &d, &err), GM_EINVAL);
  ck_assert_ptr_nonnull(strstr(err.msg, "lda=3"));
}
END_TEST

int main(void) {
  Suite *s = suite_create("gemm");
  TCase *tc = tcase_create("gemm");
  tcase_add_loop_test(tc, gemm_matches_reference, 0, (int)GM__COUNT(shapes));
  tcase_add_loop_test(tc, gemm_backend_matches_reference_on_every_shape, 0, GM__GEMM_BACKENDS);
  tcase_add_test(tc, gemm_rejects_short_leading_dimensions);
  suite_add_tcase(s, tc);
  return gmt_run(s);
}
