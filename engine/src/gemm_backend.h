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
/* gm__gemm on a given backend (-1: the engine's choice), for benchmarks. */
int gm__gemm_with(gm_device *dev, int backend, const gm__gemm_desc *d, gm_error *err);

int gm__gemm_clblast(gm_device *dev, const gm__gemm_desc *d, gm_error *err);

/* The own kernels: a program of kernels/gemm.cl built on first use with tile sizes for
 * this device passed as -D defines (separate from the device's main program). */
typedef struct gm__gemm_own gm__gemm_own;
int gm__gemm_own_create(gm__gemm_own **out, gm_device *dev, gm_error *err);
void gm__gemm_own_destroy(gm__gemm_own *own);
int gm__gemm_own_run(gm__gemm_own *own, gm_device *dev, const gm__gemm_desc *d, gm_error *err);
/* "float16 tiles 12x32 (nn, tn) and 4x8 (nt)", for benchmark headers. */
const char *gm__gemm_own_describe(const gm__gemm_own *own);

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

#endif
