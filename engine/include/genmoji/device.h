/* OpenCL devices: listing, selection, and what the engine knows about the chosen one.
 * A gm_device owns the context, the in-order queue, the program built from the embedded
 * kernels (on first use), the buffer pool and the GEMM backend bound to that queue. */
#ifndef GENMOJI_DEVICE_H
#define GENMOJI_DEVICE_H

#include <stddef.h>
#include <stdint.h>
#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gm_device gm_device;

typedef enum gm_device_type {
  GM_DEVICE_CPU = 1,
  GM_DEVICE_GPU = 2,
  GM_DEVICE_ACCELERATOR = 3,
  GM_DEVICE_OTHER = 4
} gm_device_type;

typedef struct gm_device_info {
  int platform_index;          /* position in the platform list */
  int device_index;            /* position within its platform */
  int global_index;            /* position in the flat list that --device N uses */
  char platform_name[128];
  char platform_version[128];
  char name[256];
  char vendor[128];
  char version[128];           /* "OpenCL 3.0 PoCL ..." */
  char driver_version[128];
  gm_device_type type;
  uint32_t compute_units;
  uint64_t global_mem_bytes;
  uint64_t local_mem_bytes;
  uint64_t max_alloc_bytes;
  size_t max_work_group_size;
  uint32_t preferred_vector_width_float;
  uint32_t mem_base_addr_align_bits;
} gm_device_info;

/* Every device of every platform, in platform order. *out is malloc'd (free() it).
 * No platform at all is GM_ENODEVICE with a message that says how to install one. */
GM_API int gm_device_list(gm_device_info **out, int *count, gm_error *err);

/* Which entry of list a selector picks: NULL or "" means env GM_DEVICE, and if that is
 * unset too, the first GPU, else the first device. A selector of digits is an index into
 * the flat list; anything else is a case-insensitive substring of
 * "platform name / device name / vendor". Returns the index or a negative code. */
GM_API int gm_device_select(const gm_device_info *list, int count, const char *selector,
                            gm_error *err);

/* Opens the selected device (see gm_device_select). */
GM_API int gm_device_create(gm_device **out, const char *selector, gm_error *err);
GM_API void gm_device_destroy(gm_device *dev);
GM_API const gm_device_info *gm_device_get_info(const gm_device *dev);

/* Blocks until every queued command has finished. */
GM_API int gm_device_finish(gm_device *dev, gm_error *err);

typedef struct gm_mem_stats {
  uint64_t bytes_in_use;   /* handed out by the pool and not yet returned */
  uint64_t bytes_cached;   /* held in the pool's free lists */
  uint64_t peak_bytes;     /* highest bytes_in_use + bytes_cached so far */
  uint64_t allocations;    /* clCreateBuffer calls made by the pool */
  uint64_t reuses;         /* requests served from a free list */
} gm_mem_stats;

GM_API void gm_device_mem_stats(const gm_device *dev, gm_mem_stats *out);
/* Starts a new peak: peak_bytes becomes what the pool holds now (bytes_in_use +
 * bytes_cached), so that a later peak_bytes is the highest since this call. Trim first
 * to leave the cache out of it. */
GM_API void gm_device_mem_reset_peak(gm_device *dev);
/* Releases the pool's cached buffers back to the driver. */
GM_API void gm_device_trim(gm_device *dev);

/* "CPU", "GPU", ... */
GM_API const char *gm_device_type_name(gm_device_type t);

#ifdef __cplusplus
}
#endif
#endif
