/* GEMM backends behind gm__gemm (gemm.c), which validates a description, picks one per
 * device and shape, and hands it over with m, n, k >= 1. */
#ifndef GM_GEMM_BACKEND_H
#define GM_GEMM_BACKEND_H

#include "internal.h"

typedef enum gm__gemm_backend {
  GM__GEMM_CLBLAST,  /* CLBlast on the device's queue (gemm_clblast.c) */
  GM__GEMM_OWN,      /* genmoji's own kernels, kernels/gemm.cl (gemm_own.c) */
  GM__GEMM_NATIVE,   /* the host's BLAS in a native kernel on a CPU device (gemm_native.c) */
  GM__GEMM_BACKENDS
} gm__gemm_backend;

/* "clblast", "own", "native". */
const char *gm__gemm_backend_name(gm__gemm_backend b);
/* The backend a name spells, or -1. */
int gm__gemm_backend_parse(const char *name);
/* Makes a backend the device's choice for every GEMM, as GM_GEMM does (-1: back to the
 * rule); returns the previous setting. For tests that must reach one backend's paths
 * whatever the device. */
int gm__gemm_set_forced(gm_device *dev, int backend);
/* gm__gemm on a given backend (-1: the engine's choice), for benchmarks. */
int gm__gemm_with(gm_device *dev, int backend, const gm__gemm_desc *d, gm_error *err);

int gm__gemm_clblast(gm_device *dev, const gm__gemm_desc *d, gm_error *err);
/* Releases what CLBlast caches (its programs hold the device's context) if this device
 * used it; gm_device_destroy calls it before releasing the context. */
void gm__gemm_clblast_release(gm_device *dev);

/* The own kernels: a program of kernels/gemm.cl built on first use with tile sizes for
 * this device passed as -D defines (separate from the device's main program). */
typedef struct gm__gemm_own gm__gemm_own;
int gm__gemm_own_create(gm__gemm_own **out, gm_device *dev, gm_error *err);
void gm__gemm_own_destroy(gm__gemm_own *own);
int gm__gemm_own_run(gm__gemm_own *own, gm_device *dev, const gm__gemm_desc *d, gm_error *err);
/* "float16 tiles 12x32 (nn, tn) and 4x8 (nt)", for benchmark headers. */
const char *gm__gemm_own_describe(const gm__gemm_own *own);

/* The implicit im2col operand of the own kernels' convolution GEMMs (kernels/gemm.cl,
 * "implicit-GEMM convolution"): row r = ci * nt + t of tap t = ky * kw + kx, column
 * j = b * pimg + oy * wo + ox, element src[src_off + ci * c_stride + base + ky * ky_step +
 * kx * kx_step + b * s_bs + oy * s_rs + ox]; every such address inside src. */
typedef struct gm__conv_operand {
  cl_mem src;
  size_t src_off;
  int s_bs, s_rs, c_stride, base, ky_step, kx_step, nt, kw, wo, pimg;
} gm__conv_operand;

/* C (m x n) = alpha A (m x k, row-major, lda) op + beta C (+ bias[i] when bias), C's
 * element (i, j = b * pimg + q) at c[c_off + i * c_rs + b * c_bs + q]. n and wo are
 * multiples of the own kernels' vector width. */
int gm__gemm_own_conv_nn(gm__gemm_own *own, gm_device *dev, int m, int n, int k, float alpha,
                         float beta, cl_mem a, size_t a_off, int lda, const gm__conv_operand *op,
                         cl_mem bias, size_t bias_off, cl_mem c, size_t c_off, int c_rs, int c_bs,
                         gm_error *err);
/* C (m x n, row-major, ldc) = alpha op B + beta C, op (m x nb * pimg) as rows and B
 * (nb * pimg x n, row-major, ldb): a weight gradient transposed. Any wo. */
int gm__gemm_own_conv_wgrad(gm__gemm_own *own, gm_device *dev, int m, int n, int nb,
                            float alpha, float beta, const gm__conv_operand *op, cl_mem b,
                            size_t b_off, int ldb, cl_mem c, size_t c_off, int ldc,
                            gm_error *err);
/* The own kernels' vector width (the multiple wo and n must be). */
int gm__gemm_own_vector(const gm__gemm_own *own);

/* The native backend: a BLAS found at run time (dlopen) whose sgemm runs inside
 * clEnqueueNativeKernel, in queue order, on a CPU device that can run native kernels.
 * create fails with GM_EUNSUPPORTED and the reason when the device or the library is
 * not there. */
typedef struct gm__gemm_native gm__gemm_native;
int gm__gemm_native_create(gm__gemm_native **out, gm_device *dev, gm_error *err);
void gm__gemm_native_destroy(gm__gemm_native *nat);
/* 1 when the library is an optimised BLAS (OpenBLAS) rather than a reference one. */
int gm__gemm_native_optimised(const gm__gemm_native *nat);
/* 1 when the description fits the BLAS's 32-bit sizes. */
int gm__gemm_native_fits(const gm__gemm_desc *d);
int gm__gemm_native_run(gm__gemm_native *nat, gm_device *dev, const gm__gemm_desc *d,
                    gm_error *err);
/* "OpenBLAS 0.3.21 ... (libopenblas.so.0)". */
const char *gm__gemm_native_describe(const gm__gemm_native *nat);

/* The own kernels when this device's GEMMs run on them (the rule, or GM_GEMM=own),
 * built on first use; NULL otherwise (convolutions then build im2col columns). */
gm__gemm_own *gm__gemm_own_for_conv(gm_device *dev);

#endif
