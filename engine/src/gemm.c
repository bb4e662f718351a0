/* The one GEMM entry point. It validates the description and picks a backend per device
 * and shape; callers never name the backend. Today every shape goes to CLBlast
 * (gemm_clblast.c); own kernels can be added as further backends here. */
#include <stdio.h>

#include "gemm_backend.h"

static int check_desc(const gm__gemm_desc *d, gm_error *err) {
  size_t a_cols = d->trans_a ? d->m : d->k;   /* stored row length of A */
  size_t b_cols = d->trans_b ? d->k : d->n;
  if (d->lda < (a_cols ? a_cols : 1) || d->ldb < (b_cols ? b_cols : 1) ||
      d->ldc < (d->n ? d->n : 1))
    return gm_error_set(err, GM_EINVAL,
                        "gemm %zux%zux%zu: leading dimensions lda=%zu ldb=%zu ldc=%zu are "
                        "smaller than the rows they stride (%zu, %zu, %zu)",
                        d->m, d->n, d->k, d->lda, d->ldb, d->ldc, a_cols, b_cols, d->n);
  if (d->batch == 0) return gm_error_set(err, GM_EINVAL, "gemm: batch of 0");
  return 0;
}

int gm__gemm(gm_device *dev, const gm__gemm_desc *d, gm_error *err) {
  int rc = check_desc(d, err);
  if (rc) return rc;
  if (d->m == 0 || d->n == 0) return 0;
  return gm__gemm_clblast(dev, d, err);
}
