/* Timing helpers behind `genmoji bench` (see bench.h): medians of warm repetitions, each
 * bracketed by gm_device_finish so that a time covers the device's work and no more. */
#include <stdlib.h>
#include <time.h>

#include "gemm_backend.h"

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void summarise(double *ms, int n, gm_bench_timing *out) {
  qsort(ms, (size_t)n, sizeof *ms, cmp_double);
  out->ms = n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
  out->ms_min = ms[0];
}

static int filled(gm_tensor **t, gm_device *dev, int ndim, const int64_t *shape,
                  gm_rng *r, gm_error *err) {
  int rc = gm_tensor_create(t, dev, GM_F32, ndim, shape, err);
  if (rc == 0) rc = gm_rng_uniform(*t, r, -1.0f, 1.0f, err);
  if (rc) {
    gm_tensor_destroy(*t);
    *t = NULL;
  }
  return rc;
}

int gm_bench_gemm(gm_device *dev, const char *backend, int trans_a, int trans_b, int64_t m,
                  int64_t n, int64_t k, int repeat, gm_bench_timing *out, gm_error *err) {
  if (repeat < 1 || m < 1 || n < 1 || k < 1)
    return gm_error_set(err, GM_EINVAL, "bench gemm %lldx%lldx%lld: sizes and repeat (%d) must "
                        "be positive", (long long)m, (long long)n, (long long)k, repeat);
  int which = backend ? gm__gemm_backend_parse(backend) : -1;
  if (backend && which < 0)
    return gm_error_set(err, GM_EINVAL, "bench gemm: unknown backend '%s' (clblast, own or "
                        "native)", backend);
  double *ms = calloc((size_t)repeat, sizeof *ms);
  if (!ms) return gm_error_set(err, GM_ENOMEM, "bench gemm: out of memory");
  gm_tensor *a = NULL, *b = NULL, *c = NULL;
  gm_rng r;
  gm_rng_init(&r, 1, 0);
  int rc = filled(&a, dev, 1, GM_SHAPE(m * k), &r, err);
  if (rc == 0) rc = filled(&b, dev, 1, GM_SHAPE(k * n), &r, err);
  if (rc == 0) rc = filled(&c, dev, 1, GM_SHAPE(m * n), &r, err);
  gm__gemm_desc d = {.trans_a = trans_a, .trans_b = trans_b, .m = (size_t)m, .n = (size_t)n,
                     .k = (size_t)k, .alpha = 1.0f, .beta = 0.0f,
                     .lda = (size_t)(trans_a ? m : k), .ldb = (size_t)(trans_b ? k : n),
                     .ldc = (size_t)n, .batch = 1};
  if (rc == 0) {
    d.a = gm__mem(a), d.b = gm__mem(b), d.c = gm__mem(c);
    d.a_off = a->offset, d.b_off = b->offset, d.c_off = c->offset;
    rc = gm__gemm_with(dev, which, &d, err);  /* warm-up: kernel builds, first touches */
  }
  for (int i = 0; rc == 0 && i < repeat; i++) {
    rc = gm_device_finish(dev, err);
    double t0 = now_ms();
    if (rc == 0) rc = gm__gemm_with(dev, which, &d, err);
    if (rc == 0) rc = gm_device_finish(dev, err);
    ms[i] = now_ms() - t0;
  }
  if (rc == 0) summarise(ms, repeat, out);
  gm_tensor_destroy(a);
  gm_tensor_destroy(b);
  gm_tensor_destroy(c);
  free(ms);
  return rc;
}

/* The layer's parameters and input. */
typedef struct layer_tensors {
  gm_tensor *x, *w, *bias, *mask;
} layer_tensors;

static void layer_free(layer_tensors *t) {
  gm_tensor_destroy(t->x);
  gm_tensor_destroy(t->w);
  gm_tensor_destroy(t->bias);
  gm_tensor_destroy(t->mask);
}

static int layer_make(gm_device *dev, const gm_bench_conv *l, int batch, layer_tensors *t,
                      gm_error *err) {
  gm_rng r;
  gm_rng_init(&r, 2, 0);
  int k = l->kind == GM_BENCH_CONV_T2X2 ? 2 : l->kernel;
  const int64_t *wshape = l->kind == GM_BENCH_CONV_T2X2 ? GM_SHAPE(l->cin, l->cout, 2, 2)
                                                         : GM_SHAPE(l->cout, l->cin, k, k);
  int rc = filled(&t->x, dev, 4, GM_SHAPE(batch, l->cin, l->h, l->w), &r, err);
  if (rc == 0) rc = filled(&t->w, dev, 4, wshape, &r, err);
  if (rc == 0 && l->bias) rc = filled(&t->bias, dev, 1, GM_SHAPE(l->cout), &r, err);
  if (rc == 0 && l->kind == GM_BENCH_CONV2D && l->mask != GM_MASK_NONE) {
    rc = gm_tensor_create(&t->mask, dev, GM_F32, 4, wshape, err);
    if (rc == 0) rc = gm_conv_mask_fill(t->mask, l->mask, 0, err);
  }
  if (rc == 0) rc = gm_tensor_set_requires_grad(t->x, l->input_grad, err);
  if (rc == 0) rc = gm_tensor_set_requires_grad(t->w, 1, err);
  if (rc == 0 && t->bias) rc = gm_tensor_set_requires_grad(t->bias, 1, err);
  return rc;
}

static int layer_forward(const gm_bench_conv *l, layer_tensors *t, gm_tensor **y,
                         gm_error *err) {
  if (l->kind == GM_BENCH_CONV_T2X2) return gm_conv_transpose2x2(y, t->x, t->w, t->bias, err);
  /* masked as the PixelCNN runs it: positions after the mask's last open one skipped */
  int taps = t->mask ? gm_conv_mask_taps(l->mask, 0, l->kernel, l->kernel) : 0;
  gm_conv2d_opts o = {.stride = l->stride, .pad_h = l->pad, .pad_w = l->pad, .taps = taps};
  return gm_conv2d(y, t->x, t->w, t->bias, t->mask, &o, err);
}

/* One forward and one backward, each timed into fwd/bwd. */
static int layer_step(gm_device *dev, const gm_bench_conv *l, layer_tensors *t, double *fwd,
                      double *bwd, gm_error *err) {
  gm_tensor *y = NULL, *dy = NULL;
  int rc = gm_device_finish(dev, err);
  double t0 = now_ms();
  if (rc == 0) rc = layer_forward(l, t, &y, err);
  if (rc == 0) rc = gm_device_finish(dev, err);
  *fwd = now_ms() - t0;
  if (rc == 0) rc = gm__grad(y, &dy, err);
  if (rc == 0) rc = gm_tensor_fill(dy, 1.0, err);
  if (rc == 0) rc = gm_device_finish(dev, err);
  t0 = now_ms();
  if (rc == 0) rc = gm__backward_seeded(y, err);
  if (rc == 0) rc = gm_device_finish(dev, err);
  *bwd = now_ms() - t0;
  gm_tape_reset(dev);
  return rc;
}

int gm_bench_conv_layer(gm_device *dev, const gm_bench_conv *layer, int batch, int repeat,
                        gm_bench_timing *forward, gm_bench_timing *backward, gm_error *err) {
  if (repeat < 1 || batch < 1)
    return gm_error_set(err, GM_EINVAL, "bench conv: batch (%d) and repeat (%d) must be "
                        "positive", batch, repeat);
  double *ms = calloc(2 * (size_t)repeat, sizeof *ms);
  if (!ms) return gm_error_set(err, GM_ENOMEM, "bench conv: out of memory");
  layer_tensors t = {0};
  int prev = gm_grad_enable(dev, 1);
  int rc = layer_make(dev, layer, batch, &t, err);
  double warm_f, warm_b;
  if (rc == 0) rc = layer_step(dev, layer, &t, &warm_f, &warm_b, err);
  for (int i = 0; rc == 0 && i < repeat; i++)
    rc = layer_step(dev, layer, &t, &ms[i], &ms[repeat + i], err);
  if (rc == 0) {
    summarise(ms, repeat, forward);
    summarise(ms + repeat, repeat, backward);
  }
  gm_grad_enable(dev, prev);
  layer_free(&t);
  free(ms);
  return rc;
}
