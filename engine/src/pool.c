/* The device buffer pool: requests are rounded up to a size class (quarter steps between
 * powers of two) and returned buffers wait on a free list per class, so a steady
 * training loop stops calling clCreateBuffer after its first step. */
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

size_t gm__pool_class_size(size_t bytes, int *cls) {
  if (bytes <= 256) {
    *cls = 0;
    return 256;
  }
  int e = 0;
  while (((size_t)1 << (e + 1)) < bytes) e++;   /* 2^e < bytes <= 2^(e+1) */
  size_t base = (size_t)1 << e, step = base / 4;
  size_t k = (bytes - base + step - 1) / step;  /* 1..4 */
  *cls = 4 * e + (int)k;
  return base + k * step;
}

static void note_peak(gm__pool *p) {
  uint64_t total = p->stats.bytes_in_use + p->stats.bytes_cached;
  if (total > p->stats.peak_bytes) p->stats.peak_bytes = total;
}

int gm__pool_alloc(gm_device *dev, size_t bytes, struct gm__buffer **out, gm_error *err) {
  gm__pool *p = &dev->pool;
  int cls = 0;
  size_t size = gm__pool_class_size(bytes, &cls);
  if (cls >= GM__POOL_CLASSES || size > dev->info.max_alloc_bytes)
    return gm_error_set(err, GM_ENOMEM,
                        "buffer of %zu bytes exceeds the device's largest allocation (%llu) on %s",
                        bytes, (unsigned long long)dev->info.max_alloc_bytes, dev->info.name);
  struct gm__buffer *b = p->free_list[cls];
  if (b) {
    p->free_list[cls] = b->next;
    p->stats.bytes_cached -= b->bytes;
    p->stats.bytes_in_use += b->bytes;
    p->stats.reuses++;
    b->next = NULL;
    *out = b;
    return 0;
  }
  b = calloc(1, sizeof *b);
  if (!b) return gm_error_set(err, GM_ENOMEM, "buffer pool: out of host memory");
  cl_int cl = CL_SUCCESS;
  b->mem = clCreateBuffer(dev->ctx, CL_MEM_READ_WRITE, size, NULL, &cl);
  if (cl != CL_SUCCESS) {
    free(b);
    /* Give the cache back to the driver once and try again before failing. */
    if (p->stats.bytes_cached > 0) {
      gm_device_trim(dev);
      return gm__pool_alloc(dev, bytes, out, err);
    }
    char what[64];
    snprintf(what, sizeof what, "%zu bytes", size);
    return gm__cl_fail(err, GM_ENOMEM, cl, "clCreateBuffer", what);
  }
  b->bytes = size;
  b->cls = cls;
  p->stats.bytes_in_use += size;
  p->stats.allocations++;
  note_peak(p);
  *out = b;
  return 0;
}

void gm__pool_release(gm_device *dev, struct gm__buffer *b) {
  if (!b) return;
  gm__pool *p = &dev->pool;
  p->stats.bytes_in_use -= b->bytes;
  p->stats.bytes_cached += b->bytes;
  b->next = p->free_list[b->cls];
  p->free_list[b->cls] = b;
}

void gm_device_trim(gm_device *dev) {
  gm__pool *p = &dev->pool;
  for (int c = 0; c < GM__POOL_CLASSES; c++) {
    struct gm__buffer *b = p->free_list[c];
    while (b) {
      struct gm__buffer *next = b->next;
      clReleaseMemObject(b->mem);
      p->stats.bytes_cached -= b->bytes;
      free(b);
      b = next;
    }
    p->free_list[c] = NULL;
  }
}

void gm__pool_close(gm_device *dev) { gm_device_trim(dev); }

void gm_device_mem_stats(const gm_device *dev, gm_mem_stats *out) { *out = dev->pool.stats; }

void gm_device_mem_reset_peak(gm_device *dev) {
  gm__pool *p = &dev->pool;
  p->stats.peak_bytes = p->stats.bytes_in_use + p->stats.bytes_cached;
}
