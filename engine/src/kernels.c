/* The embedded kernels: one program per device, built from the kernels/ folder (generated into
 * gm_kernels.c at build time) on first use, kernels looked up by name, and the launch
 * helpers that set arguments from gm__karg lists. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

const char *gm__build_options(void) {
  /* No -cl-fast-relaxed-math: results must match the CPU reference. */
  return "-cl-std=CL1.2";
}

static int cmp_entry(const void *a, const void *b) {
  return strcmp(((const gm__kernel_entry *)a)->name, ((const gm__kernel_entry *)b)->name);
}

int gm__program_build(gm_device *dev, int n, const char **texts, const size_t *lens,
                      const char *options, const char *what, cl_program *out, gm_error *err) {
  cl_int cl = CL_SUCCESS;
  cl_program prog = clCreateProgramWithSource(dev->ctx, (cl_uint)n, texts, lens, &cl);
  if (cl != CL_SUCCESS) return gm__cl_fail(err, GM_EBUILD, cl, "clCreateProgramWithSource", what);
  cl = clBuildProgram(prog, 1, &dev->id, options, NULL, NULL);
  if (cl != CL_SUCCESS) {
    size_t log_len = 0;
    clGetProgramBuildInfo(prog, dev->id, CL_PROGRAM_BUILD_LOG, 0, NULL, &log_len);
    char *log = malloc(log_len + 1);
    if (log) {
      clGetProgramBuildInfo(prog, dev->id, CL_PROGRAM_BUILD_LOG, log_len, log, NULL);
      log[log_len] = '\0';
    }
    gm_error_set(err, GM_EBUILD, "clBuildProgram (%s on %s): %s (%d); build log:\n%s", what,
                 dev->info.name, gm__cl_err_name(cl), (int)cl, log ? log : "(unavailable)");
    free(log);
    clReleaseProgram(prog);
    return GM_EBUILD;
  }
  *out = prog;
  return 0;
}

static int build_program(gm_device *dev, gm_error *err) {
  int n = gm__kernel_source_count;
  const char **texts = calloc((size_t)n, sizeof *texts);
  size_t *lens = calloc((size_t)n, sizeof *lens);
  if (!texts || !lens) {
    free(texts);
    free(lens);
    return gm_error_set(err, GM_ENOMEM, "kernel build: out of memory");
  }
  for (int i = 0; i < n; i++) {
    texts[i] = gm__kernel_sources[i].text;
    lens[i] = gm__kernel_sources[i].len;
  }
  cl_program prog = NULL;
  int rc = gm__program_build(dev, n, texts, lens, gm__build_options(), "genmoji kernels", &prog,
                             err);
  free(texts);
  free(lens);
  if (rc) return rc;
  cl_int cl;
  cl_uint nk = 0;
  cl = clCreateKernelsInProgram(prog, 0, NULL, &nk);
  cl_kernel *ks = nk ? calloc(nk, sizeof *ks) : NULL;
  gm__kernel_entry *entries = nk ? calloc(nk, sizeof *entries) : NULL;
  if (cl != CL_SUCCESS || (nk && (!ks || !entries))) {
    free(ks);
    free(entries);
    clReleaseProgram(prog);
    return gm__cl_fail(err, GM_EBUILD, cl, "clCreateKernelsInProgram", NULL);
  }
  if (nk) clCreateKernelsInProgram(prog, nk, ks, NULL);
  for (cl_uint i = 0; i < nk; i++) {
    entries[i].kernel = ks[i];
    clGetKernelInfo(ks[i], CL_KERNEL_FUNCTION_NAME, sizeof entries[i].name, entries[i].name,
                    NULL);
    entries[i].name[sizeof entries[i].name - 1] = '\0';
  }
  free(ks);
  qsort(entries, nk, sizeof *entries, cmp_entry);
  dev->program = prog;
  dev->kernels = entries;
  dev->n_kernels = (int)nk;
  return 0;
}

int gm__kernel(gm_device *dev, const char *name, cl_kernel *out, gm_error *err) {
  if (!dev->program) {
    int rc = build_program(dev, err);
    if (rc) return rc;
  }
  gm__kernel_entry key;
  snprintf(key.name, sizeof key.name, "%s", name);
  gm__kernel_entry *e = bsearch(&key, dev->kernels, (size_t)dev->n_kernels, sizeof key, cmp_entry);
  if (!e) return gm_error_set(err, GM_ENOTFOUND, "kernel '%s' is not in the genmoji program", name);
  *out = e->kernel;
  return 0;
}

static int set_args(cl_kernel k, const char *name, const gm__karg *args, int n_args,
                    gm_error *err) {
  cl_uint idx = 0;
  for (int i = 0; i < n_args; i++) {
    cl_int cl = CL_SUCCESS;
    const gm__karg *a = &args[i];
    switch (a->kind) {
    case GM__KA_TENSOR: {
      cl_mem m = gm__mem(a->v.t);
      cl_uint off = (cl_uint)a->v.t->offset;
      cl = clSetKernelArg(k, idx++, sizeof m, &m);
      if (cl == CL_SUCCESS) cl = clSetKernelArg(k, idx++, sizeof off, &off);
      break;
    }
    case GM__KA_MEM: cl = clSetKernelArg(k, idx++, sizeof a->v.m, &a->v.m); break;
    case GM__KA_I32: cl = clSetKernelArg(k, idx++, sizeof a->v.i, &a->v.i); break;
    case GM__KA_U32: cl = clSetKernelArg(k, idx++, sizeof a->v.u, &a->v.u); break;
    case GM__KA_F32: cl = clSetKernelArg(k, idx++, sizeof a->v.f, &a->v.f); break;
    case GM__KA_U64: cl = clSetKernelArg(k, idx++, sizeof a->v.u64, &a->v.u64); break;
    case GM__KA_LOCAL: cl = clSetKernelArg(k, idx++, a->v.local_bytes, NULL); break;
    }
    if (cl != CL_SUCCESS) {
      char what[96];
      snprintf(what, sizeof what, "%s argument %u", name, idx - 1);
      return gm__cl_fail(err, GM_EOPENCL, cl, "clSetKernelArg", what);
    }
  }
  return 0;
}

int gm__launch(gm_device *dev, const char *name, int dims, const size_t *global,
               const size_t *local, const gm__karg *args, int n_args, gm_error *err) {
  cl_kernel k;
  int rc = gm__kernel(dev, name, &k, err);
  if (rc) return rc;
  rc = set_args(k, name, args, n_args, err);
  if (rc) return rc;
  size_t g[3] = {1, 1, 1};
  for (int d = 0; d < dims; d++) {
    g[d] = global[d];
    if (g[d] == 0) return 0;  /* nothing to do */
    if (local) g[d] = (g[d] + local[d] - 1) / local[d] * local[d];
  }
  cl_int cl = clEnqueueNDRangeKernel(dev->queue, k, (cl_uint)dims, NULL, g, local, 0, NULL, NULL);
  if (cl != CL_SUCCESS) return gm__cl_fail(err, GM_EOPENCL, cl, "clEnqueueNDRangeKernel", name);
  return 0;
}

int gm__launch1d(gm_device *dev, const char *name, size_t n, const gm__karg *args,
                 int n_args, gm_error *err) {
  return gm__launch(dev, name, 1, &n, &dev->wg1d, args, n_args, err);
}

int gm__launch2d(gm_device *dev, const char *name, size_t n0, size_t n1,
                 const gm__karg *args, int n_args, gm_error *err) {
  size_t g[2] = {n0, n1};
  return gm__launch(dev, name, 2, g, dev->wg2d, args, n_args, err);
}
