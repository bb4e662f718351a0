/* The CLBlast GEMM backend, bound to the device's own queue. */
#include <clblast_c.h>
#include <stdio.h>

#include "gemm_backend.h"

static int fail(gm_error *err, CLBlastStatusCode st, const gm__gemm_desc *d) {
  return gm_error_set(err, GM_EGEMM,
                      "CLBlast %s (m=%zu n=%zu k=%zu batch=%zu transA=%d transB=%d): status %d",
                      d->batch > 1 ? "SgemmStridedBatched" : "Sgemm", d->m, d->n, d->k, d->batch,
                      d->trans_a, d->trans_b, (int)st);
}

int gm__gemm_clblast(gm_device *dev, const gm__gemm_desc *d, gm_error *err) {
  CLBlastTranspose ta = d->trans_a ? CLBlastTransposeYes : CLBlastTransposeNo;
  CLBlastTranspose tb = d->trans_b ? CLBlastTransposeYes : CLBlastTransposeNo;
  CLBlastStatusCode st;
  dev->clblast_used = 1;
  if (d->batch == 1) {
    st = CLBlastSgemm(CLBlastLayoutRowMajor, ta, tb, d->m, d->n, d->k, d->alpha, d->a, d->a_off,
                      d->lda, d->b, d->b_off, d->ldb, d->beta, d->c, d->c_off, d->ldc,
                      &dev->queue, NULL);
  } else {
    st = CLBlastSgemmStridedBatched(CLBlastLayoutRowMajor, ta, tb, d->m, d->n, d->k, d->alpha,
                                    d->a, d->a_off, d->lda, d->stride_a, d->b, d->b_off, d->ldb,
                                    d->stride_b, d->beta, d->c, d->c_off, d->ldc, d->stride_c,
                                    d->batch, &dev->queue, NULL);
  }
  if (st != CLBlastSuccess) return fail(err, st, d);
  return 0;
}

/* CLBlast keeps the programs it compiled in a process-wide cache until exit, and releasing
 * them then, after the context is gone, is undefined (Oclgrind aborts in clReleaseProgram).
 * The cache has no per-context clear, so this empties all of it: another open device that
 * uses CLBlast only compiles its kernels again. */
void gm__gemm_clblast_release(gm_device *dev) {
  if (!dev->clblast_used) return;
  CLBlastClearCache();
  dev->clblast_used = 0;
}
