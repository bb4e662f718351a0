/* GEMM backends behind gm__gemm (gemm.c). Each takes a validated description. */
#ifndef GM_GEMM_BACKEND_H
#define GM_GEMM_BACKEND_H

#include "internal.h"

int gm__gemm_clblast(gm_device *dev, const gm__gemm_desc *d, gm_error *err);

#endif
