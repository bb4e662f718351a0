/* OpenCL platforms and devices: listing, selection by index or name, and the open
 * device (context, in-order queue, work-group sizes chosen from the device's limits). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm_backend.h"
#include "internal.h"

#define INSTALL_HINT                                                                   \
  "Install an OpenCL driver: on Debian `apt-get install pocl-opencl-icd` for the CPU, " \
  "or your GPU vendor's ICD (nvidia-opencl-icd, mesa-opencl-icd, intel-opencl-icd). "  \
  "An installed but unregistered driver can be named with OCL_ICD_VENDORS=<folder of "  \
  ".icd files>."

const char *gm_device_type_name(gm_device_type t) {
  switch (t) {
  case GM_DEVICE_CPU: return "CPU";
  case GM_DEVICE_GPU: return "GPU";
  case GM_DEVICE_ACCELERATOR: return "accelerator";
  default: return "other";
  }
}

static void get_str(cl_device_id d, cl_device_info what, char *buf, size_t n) {
  buf[0] = '\0';
  if (clGetDeviceInfo(d, what, n, buf, NULL) != CL_SUCCESS) buf[0] = '\0';
  buf[n - 1] = '\0';
}

static void fill_info(gm_device_info *in, cl_platform_id p, cl_device_id d) {
  clGetPlatformInfo(p, CL_PLATFORM_NAME, sizeof in->platform_name, in->platform_name, NULL);
  clGetPlatformInfo(p, CL_PLATFORM_VERSION, sizeof in->platform_version,
                    in->platform_version, NULL);
  in->platform_name[sizeof in->platform_name - 1] = '\0';
  in->platform_version[sizeof in->platform_version - 1] = '\0';
  get_str(d, CL_DEVICE_NAME, in->name, sizeof in->name);
  get_str(d, CL_DEVICE_VENDOR, in->vendor, sizeof in->vendor);
  get_str(d, CL_DEVICE_VERSION, in->version, sizeof in->version);
  get_str(d, CL_DRIVER_VERSION, in->driver_version, sizeof in->driver_version);
  cl_device_type t = 0;
  clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof t, &t, NULL);
  in->type = (t & CL_DEVICE_TYPE_GPU)           ? GM_DEVICE_GPU
             : (t & CL_DEVICE_TYPE_CPU)         ? GM_DEVICE_CPU
             : (t & CL_DEVICE_TYPE_ACCELERATOR) ? GM_DEVICE_ACCELERATOR
                                                : GM_DEVICE_OTHER;
  cl_uint u = 0;
  cl_ulong ul = 0;
  size_t sz = 0;
  clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof u, &u, NULL);
  in->compute_units = u;
  clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof ul, &ul, NULL);
  in->global_mem_bytes = ul;
  ul = 0;
  clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_SIZE, sizeof ul, &ul, NULL);
  in->local_mem_bytes = ul;
  ul = 0;
  clGetDeviceInfo(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof ul, &ul, NULL);
  in->max_alloc_bytes = ul;
  clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof sz, &sz, NULL);
  in->max_work_group_size = sz;
  u = 0;
  clGetDeviceInfo(d, CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT, sizeof u, &u, NULL);
  in->preferred_vector_width_float = u;
  u = 0;
  clGetDeviceInfo(d, CL_DEVICE_MEM_BASE_ADDR_ALIGN, sizeof u, &u, NULL);
  in->mem_base_addr_align_bits = u;
}

/* Walks every platform and device; ids (optional) receive the handles. */
static int enumerate(gm_device_info **out, cl_platform_id **pids, cl_device_id **dids,
                     int *count, gm_error *err) {
  *out = NULL;
  *count = 0;
  cl_uint np = 0;
  cl_int cl = clGetPlatformIDs(0, NULL, &np);
  if (cl == -1001 || (cl == CL_SUCCESS && np == 0))
    return gm_error_set(err, GM_ENODEVICE, "no OpenCL platform found (clGetPlatformIDs: %s). %s",
                        cl == CL_SUCCESS ? "0 platforms" : gm__cl_err_name(cl), INSTALL_HINT);
  if (cl != CL_SUCCESS) return gm__cl_fail(err, GM_EOPENCL, cl, "clGetPlatformIDs", NULL);
  cl_platform_id *plats = calloc(np, sizeof *plats);
  if (!plats) return gm_error_set(err, GM_ENOMEM, "device list: out of memory");
  clGetPlatformIDs(np, plats, NULL);
  int cap = 8, n = 0;
  gm_device_info *list = calloc((size_t)cap, sizeof *list);
  cl_platform_id *pl = calloc((size_t)cap, sizeof *pl);
  cl_device_id *dl = calloc((size_t)cap, sizeof *dl);
  int rc = 0;
  if (!list || !pl || !dl) {
    rc = gm_error_set(err, GM_ENOMEM, "device list: out of memory");
    goto done;
  }
  for (cl_uint p = 0; p < np; p++) {
    cl_uint nd = 0;
    if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 0, NULL, &nd) != CL_SUCCESS || nd == 0)
      continue;
    cl_device_id *devs = calloc(nd, sizeof *devs);
    if (!devs) {
      rc = gm_error_set(err, GM_ENOMEM, "device list: out of memory");
      goto done;
    }
    clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, nd, devs, NULL);
    for (cl_uint d = 0; d < nd; d++) {
      if (n == cap) {
        cap *= 2;
        gm_device_info *l2 = realloc(list, (size_t)cap * sizeof *list);
        if (l2) list = l2;
        cl_platform_id *p2 = realloc(pl, (size_t)cap * sizeof *pl);
        if (p2) pl = p2;
        cl_device_id *d2 = realloc(dl, (size_t)cap * sizeof *dl);
        if (d2) dl = d2;
        if (!l2 || !p2 || !d2) {
          free(devs);
          rc = gm_error_set(err, GM_ENOMEM, "device list: out of memory");
          goto done;
        }
      }
      memset(&list[n], 0, sizeof list[n]);
      fill_info(&list[n], plats[p], devs[d]);
      list[n].platform_index = (int)p;
      list[n].device_index = (int)d;
      list[n].global_index = n;
      pl[n] = plats[p];
      dl[n] = devs[d];
      n++;
    }
    free(devs);
  }
  if (n == 0)
    rc = gm_error_set(err, GM_ENODEVICE, "%u OpenCL platform(s) but no device. %s", np,
                      INSTALL_HINT);
done:
  free(plats);
  if (rc) {
    free(list);
    free(pl);
    free(dl);
    return rc;
  }
  *out = list;
  *count = n;
  if (pids) *pids = pl; else free(pl);
  if (dids) *dids = dl; else free(dl);
  return 0;
}

int gm_device_list(gm_device_info **out, int *count, gm_error *err) {
  return enumerate(out, NULL, NULL, count, err);
}

static int ci_contains(const char *hay, const char *needle) {
  size_t n = strlen(needle);
  for (const char *h = hay; *h; h++) {
    size_t i = 0;
    while (i < n && h[i] && tolower((unsigned char)h[i]) == tolower((unsigned char)needle[i]))
      i++;
    if (i == n) return 1;
  }
  return n == 0;
}

static void describe(const gm_device_info *list, int count, char *buf, size_t n) {
  size_t used = 0;
  buf[0] = '\0';
  for (int i = 0; i < count && used + 1 < n; i++) {
    int w = snprintf(buf + used, n - used, "%s[%d] %s / %s (%s)", i ? "; " : "", i,
                     list[i].platform_name, list[i].name, gm_device_type_name(list[i].type));
    if (w < 0) break;
    used += (size_t)w;
  }
}

int gm_device_select(const gm_device_info *list, int count, const char *selector,
                     gm_error *err) {
  const char *from = "--device";
  if (!selector || !*selector) {
    selector = getenv("GM_DEVICE");
    from = "GM_DEVICE";
  }
  if (!selector || !*selector) {
    for (int i = 0; i < count; i++)
      if (list[i].type == GM_DEVICE_GPU) return i;
    if (count > 0) return 0;
    return gm_error_set(err, GM_ENODEVICE, "no OpenCL device. %s", INSTALL_HINT);
  }
  char found[2048];
  describe(list, count, found, sizeof found);
  const char *s = selector;
  while (*s && isdigit((unsigned char)*s)) s++;
  if (*s == '\0') {
    long idx = strtol(selector, NULL, 10);
    if (idx >= 0 && idx < count) return (int)idx;
    return gm_error_set(err, GM_ENOTFOUND, "%s %s: no device with that index; found %d: %s",
                        from, selector, count, found);
  }
  for (int i = 0; i < count; i++) {
    char hay[600];
    snprintf(hay, sizeof hay, "%s / %s / %s", list[i].platform_name, list[i].name,
             list[i].vendor);
    if (ci_contains(hay, selector)) return i;
  }
  return gm_error_set(err, GM_ENOTFOUND, "%s '%s': no device name matches; found %d: %s", from,
                      selector, count, found);
}

/* Work-group sizes from the device's limits: multiples of 8 for PoCL's vectoriser,
 * no more than the device allows, and a fixed small set so PoCL compiles few variants. */
static void choose_work_groups(gm_device *dev) {
  size_t maxwg = dev->info.max_work_group_size ? dev->info.max_work_group_size : 64;
  size_t want = dev->info.type == GM_DEVICE_GPU ? 256 : 64;
  while (want > maxwg && want > 1) want /= 2;
  dev->wg1d = want;
  size_t side = dev->info.type == GM_DEVICE_GPU ? 16 : 8;
  while (side * side > maxwg && side > 1) side /= 2;
  dev->wg2d[0] = side;
  dev->wg2d[1] = side;
}

int gm_device_create(gm_device **out, const char *selector, gm_error *err) {
  *out = NULL;
  gm_device_info *list = NULL;
  cl_platform_id *pl = NULL;
  cl_device_id *dl = NULL;
  int count = 0;
  int rc = enumerate(&list, &pl, &dl, &count, err);
  if (rc) return rc;
  int idx = gm_device_select(list, count, selector, err);
  if (idx < 0) {
    free(list);
    free(pl);
    free(dl);
    return idx;
  }
  gm_device *dev = calloc(1, sizeof *dev);
  if (!dev) {
    free(list);
    free(pl);
    free(dl);
    return gm_error_set(err, GM_ENOMEM, "device: out of memory");
  }
  dev->info = list[idx];
  dev->platform = pl[idx];
  dev->id = dl[idx];
  free(list);
  free(pl);
  free(dl);
  dev->tape.recording = 1;
  choose_work_groups(dev);

  cl_int cl = CL_SUCCESS;
  cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)dev->platform,
                                   0};
  dev->ctx = clCreateContext(props, 1, &dev->id, NULL, NULL, &cl);
  if (cl != CL_SUCCESS) {
    rc = gm__cl_fail(err, GM_EOPENCL, cl, "clCreateContext", dev->info.name);
    free(dev);
    return rc;
  }
  dev->queue = clCreateCommandQueue(dev->ctx, dev->id, 0, &cl);
  if (cl != CL_SUCCESS) {
    rc = gm__cl_fail(err, GM_EOPENCL, cl, "clCreateCommandQueue", dev->info.name);
    clReleaseContext(dev->ctx);
    free(dev);
    return rc;
  }
  *out = dev;
  return 0;
}

void gm_device_destroy(gm_device *dev) {
  if (!dev) return;
  if (dev->queue) clFinish(dev->queue);
  gm_tape_reset(dev);
  free(dev->tape.nodes);
  if (dev->gemm_free) dev->gemm_free(dev->gemm_state);
  gm__gemm_clblast_release(dev);
  for (int i = 0; i < dev->n_kernels; i++) clReleaseKernel(dev->kernels[i].kernel);
  free(dev->kernels);
  if (dev->program) clReleaseProgram(dev->program);
  gm__pool_close(dev);
  if (dev->queue) clReleaseCommandQueue(dev->queue);
  if (dev->ctx) clReleaseContext(dev->ctx);
  free(dev);
}

const gm_device_info *gm_device_get_info(const gm_device *dev) { return &dev->info; }

int gm_device_finish(gm_device *dev, gm_error *err) {
  cl_int cl = clFinish(dev->queue);
  if (cl != CL_SUCCESS) return gm__cl_fail(err, GM_EOPENCL, cl, "clFinish", dev->info.name);
  return 0;
}
