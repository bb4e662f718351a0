/* The native GEMM backend: on a CPU device that runs native kernels (PoCL's does), the
 * host's BLAS computes the product inside clEnqueueNativeKernel, so it runs in queue
 * order on the buffers' own memory like any other command. The BLAS is found with dlopen
 * at run time: genmoji never depends on one.
 *
 * Which pointer belongs to which buffer: the specification pairs mem_list[i] with
 * args_mem_loc[i], but PoCL 3.1 fills the slots in the order of the buffers' creation,
 * whatever the list's order. So before the GEMM's own native kernel, one small native
 * kernel per buffer (a single buffer cannot be mispaired) notes the pointer it is handed;
 * the GEMM kernel then finds each buffer's pointer among those it is handed by value, and
 * only dereferences pointers handed to itself. */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm_backend.h"

/* CBLAS's enum values, so that no cblas.h is needed at build time. */
enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };

typedef void (*sgemm_fn)(int order, int ta, int tb, int m, int n, int k, float alpha,
                         const float *a, int lda, const float *b, int ldb, float beta,
                         float *c, int ldc);
typedef char *(*config_fn)(void);

struct gm__gemm_native {
  void *lib;
  sgemm_fn sgemm;
  int optimised;
  int mismatches;  /* GEMM kernels that could not match their buffers (set on a worker) */
  char about[160];
};

/* One GEMM (or the self-test) in flight: written by the host, then by the capture
 * kernels, read and freed by the work kernel; the queue's order makes it one at a time. */
typedef struct native_job {
  gm__gemm_native *nat;
  int unique;                 /* distinct buffers, 1..3 */
  float *seen[3];             /* the pointer each capture kernel was handed */
  void (*work)(const struct native_job *job, float *const *ptr);
  int ia, ib, ic;             /* which distinct buffer holds A, B and C */
  int ta, tb, m, n, k, lda, ldb, ldc;
  float alpha, beta;
  size_t a_off, b_off, c_off, batch, stride_a, stride_b, stride_c;
  int *probe_ok;              /* self-test only */
} native_job;

typedef union mem_arg {
  cl_mem handle;  /* as enqueued */
  float *ptr;     /* as the kernel sees it */
} mem_arg;

typedef struct capture_args {
  mem_arg mem;
  native_job *job;
  int slot;
} capture_args;

typedef struct work_args {
  mem_arg mem[3];
  native_job *job;
} work_args;

static void run_capture(void *args) {
  const capture_args *c = args;
  c->job->seen[c->slot] = c->mem.ptr;
}

static void run_work(void *args) {
  const work_args *w = args;
  native_job *job = w->job;
  float *ptr[3] = {NULL, NULL, NULL};
  int matched = 0;
  for (int u = 0; u < job->unique; u++)
    for (int s = 0; s < job->unique && !ptr[u]; s++)
      if (w->mem[s].ptr == job->seen[u]) ptr[u] = w->mem[s].ptr;
  for (int u = 0; u < job->unique; u++) matched += ptr[u] != NULL;
  if (matched == job->unique)
    job->work(job, ptr);
  else
    __atomic_add_fetch(&job->nat->mismatches, 1, __ATOMIC_RELAXED);
  free(job);
}

static void work_gemm(const native_job *j, float *const *ptr) {
  const float *a = ptr[j->ia] + j->a_off, *b = ptr[j->ib] + j->b_off;
  float *c = ptr[j->ic] + j->c_off;
  for (size_t i = 0; i < j->batch; i++)
    j->nat->sgemm(ROW_MAJOR, j->ta ? TRANS : NO_TRANS, j->tb ? TRANS : NO_TRANS, j->m, j->n,
                  j->k, j->alpha, a + i * j->stride_a, j->lda,
                  b + i * j->stride_b, j->ldb, j->beta, c + i * j->stride_c, j->ldc);
}

/* Slot of handle among the job's distinct buffers, added if new. */
static int slot_of(cl_mem *handles, int *unique, cl_mem h) {
  for (int i = 0; i < *unique; i++)
    if (handles[i] == h) return i;
  handles[*unique] = h;
  return (*unique)++;
}

/* Enqueues the capture kernels and the work kernel of job over handles[0..unique). The
 * job belongs to the queue once this returns 0. */
static int enqueue_job(gm_device *dev, native_job *job, const cl_mem *handles,
                       const char *what, gm_error *err) {
  cl_int cl = CL_SUCCESS;
  for (int u = 0; u < job->unique && cl == CL_SUCCESS; u++) {
    capture_args c = {.mem.handle = handles[u], .job = job, .slot = u};
    const void *loc = &c.mem;
    cl = clEnqueueNativeKernel(dev->queue, run_capture, &c, sizeof c, 1, &handles[u], &loc, 0,
                               NULL, NULL);
  }
  if (cl == CL_SUCCESS) {
    work_args w = {.job = job};
    const void *loc[3];
    for (int u = 0; u < job->unique; u++) {
      w.mem[u].handle = handles[u];
      loc[u] = &w.mem[u];
    }
    cl = clEnqueueNativeKernel(dev->queue, run_work, &w, sizeof w, (cl_uint)job->unique,
                               handles, loc, 0, NULL, NULL);
  }
  if (cl != CL_SUCCESS) {
    clFinish(dev->queue);  /* capture kernels already queued still write into job */
    free(job);
    return gm__cl_fail(err, GM_EGEMM, cl, "clEnqueueNativeKernel", what);
  }
  return 0;
}

static void work_probe(const native_job *j, float *const *ptr) {
  int ok = 1;
  for (int u = 0; u < j->unique; u++) ok &= ptr[u][0] == (float)u;
  *j->probe_ok = ok;
}

/* Runs the mechanism once on three buffers, created holding 2, 0, 1 and listed in the
 * order 0, 1, 2 (not their creation order), and checks that each pointer leads to its
 * own buffer. */
static int self_test(gm__gemm_native *nat, gm_device *dev, gm_error *err) {
  cl_mem bufs[3] = {NULL, NULL, NULL};
  int rc = 0, ok = 0;
  for (int i = 0; i < 3 && rc == 0; i++) {
    float mark = (float)((i + 2) % 3);
    cl_int cl;
    bufs[i] = clCreateBuffer(dev->ctx, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, sizeof mark,
                             &mark, &cl);
    if (cl != CL_SUCCESS)
      rc = gm__cl_fail(err, GM_EOPENCL, cl, "clCreateBuffer", "gemm native test");
  }
  native_job *job = rc ? NULL : calloc(1, sizeof *job);
  if (rc == 0 && !job) rc = gm_error_set(err, GM_ENOMEM, "gemm native: out of memory");
  if (rc == 0) {
    *job = (native_job){.nat = nat, .unique = 3, .work = work_probe, .probe_ok = &ok};
    cl_mem holding[3] = {bufs[1], bufs[2], bufs[0]};  /* holding[u] holds u */
    rc = enqueue_job(dev, job, holding, "self-test", err);
    if (rc == 0) clFinish(dev->queue);
  }
  for (int i = 0; i < 3; i++)
    if (bufs[i]) clReleaseMemObject(bufs[i]);
  if (rc == 0 && (!ok || nat->mismatches))
    rc = gm_error_set(err, GM_EUNSUPPORTED, "gemm native: the pointers a native kernel is "
                      "handed on %s do not lead to its buffers", dev->info.name);
  return rc;
}

static int device_runs_native(gm_device *dev) {
  cl_device_exec_capabilities caps = 0;
  if (dev->info.type != GM_DEVICE_CPU) return 0;
  if (clGetDeviceInfo(dev->id, CL_DEVICE_EXECUTION_CAPABILITIES, sizeof caps, &caps, NULL) !=
      CL_SUCCESS)
    return 0;
  return (caps & CL_EXEC_NATIVE_KERNEL) != 0;
}

int gm__gemm_native_create(gm__gemm_native **out, gm_device *dev, gm_error *err) {
  static const char *const libs[] = {"libopenblas.so.0", "libblas.so.3"};
  *out = NULL;
  if (!device_runs_native(dev))
    return gm_error_set(err, GM_EUNSUPPORTED,
                        "gemm native: %s is not a CPU device that runs native kernels",
                        dev->info.name);
  for (size_t i = 0; i < GM__COUNT(libs); i++) {
    void *lib = dlopen(libs[i], RTLD_NOW | RTLD_LOCAL);
    if (!lib) continue;
    sgemm_fn fn;
    /* The POSIX way to turn dlsym's object pointer into a function pointer. */
    *(void **)&fn = dlsym(lib, "cblas_sgemm");
    if (!fn) {
      dlclose(lib);
      continue;
    }
    gm__gemm_native *nat = calloc(1, sizeof *nat);
    if (!nat) {
      dlclose(lib);
      return gm_error_set(err, GM_ENOMEM, "gemm native: out of memory");
    }
    nat->lib = lib;
    nat->sgemm = fn;
    config_fn config;
    *(void **)&config = dlsym(lib, "openblas_get_config");
    nat->optimised = config != NULL;
    snprintf(nat->about, sizeof nat->about, "%s (%s)", config ? config() : "cblas_sgemm",
             libs[i]);
    int rc = self_test(nat, dev, err);
    if (rc) {
      gm__gemm_native_destroy(nat);
      return rc;
    }
    *out = nat;
    return 0;
  }
  return gm_error_set(err, GM_EUNSUPPORTED,
                      "gemm native: no BLAS with cblas_sgemm found (tried libopenblas.so.0, "
                      "libblas.so.3)");
}

void gm__gemm_native_destroy(gm__gemm_native *nat) {
  if (!nat) return;
  dlclose(nat->lib);
  free(nat);
}

int gm__gemm_native_optimised(const gm__gemm_native *nat) { return nat->optimised; }

const char *gm__gemm_native_describe(const gm__gemm_native *nat) { return nat->about; }

int gm__gemm_native_fits(const gm__gemm_desc *d) {
  size_t most = (size_t)INT_MAX;
  return d->m <= most && d->n <= most && d->k <= most && d->lda <= most && d->ldb <= most &&
         d->ldc <= most;
}

int gm__gemm_native_run(gm__gemm_native *nat, gm_device *dev, const gm__gemm_desc *d,
                        gm_error *err) {
  char what[96];
  snprintf(what, sizeof what, "gemm %zux%zux%zu", d->m, d->n, d->k);
  if (__atomic_load_n(&nat->mismatches, __ATOMIC_RELAXED))
    return gm_error_set(err, GM_EGEMM, "%s: an earlier native GEMM on %s was handed pointers "
                        "that match none of its buffers and did not run (GM_GEMM=own avoids "
                        "the native backend)", what, dev->info.name);
  native_job *job = malloc(sizeof *job);
  if (!job) return gm_error_set(err, GM_ENOMEM, "%s: out of memory", what);
  *job = (native_job){
      .nat = nat, .work = work_gemm, .ta = d->trans_a, .tb = d->trans_b, .m = (int)d->m,
      .n = (int)d->n, .k = (int)d->k, .lda = (int)d->lda, .ldb = (int)d->ldb,
      .ldc = (int)d->ldc, .alpha = d->alpha, .beta = d->beta, .a_off = d->a_off,
      .b_off = d->b_off, .c_off = d->c_off, .batch = d->batch, .stride_a = d->stride_a,
      .stride_b = d->stride_b, .stride_c = d->stride_c};
  cl_mem handles[3];
  job->ia = slot_of(handles, &job->unique, d->a);
  job->ib = slot_of(handles, &job->unique, d->b);
  job->ic = slot_of(handles, &job->unique, d->c);
  return enqueue_job(dev, job, handles, what, err);
}
