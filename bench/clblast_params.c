/* clblast_params: times CLBlast's SGEMM on one row-major problem with its default Xgemm
 * parameters, or with a parameter set given on the command line (CLBlastOverrideParameters),
 * on the first OpenCL device (env GM_DEVICE is not read: use OCL_ICD_VENDORS or a
 * single-platform machine). It prints the first call (which compiles the kernels) and
 * `repeat` more. The measurement behind "CLBlast tuned parameters" in docs/performance.md.
 *
 *   clblast_params M N K TRANS_A TRANS_B [REPEAT [GEMMK KREG KWG KWI MDIMA MDIMC MWG NDIMB
 *                  NDIMC NWG SA SB STRM STRN VWM VWN]] */
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <clblast_c.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static const char *param_names[16] = {"GEMMK", "KREG", "KWG",  "KWI", "MDIMA", "MDIMC",
                                      "MWG",   "NDIMB", "NDIMC", "NWG", "SA",    "SB",
                                      "STRM",  "STRN", "VWM",  "VWN"};

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static cl_mem filled(cl_context ctx, size_t n) {
  float *h = malloc(n * sizeof *h);
  if (!h) return NULL;
  for (size_t i = 0; i < n; i++) h[i] = (float)(i % 7) * 0.125f - 0.375f;
  cl_int e;
  cl_mem m = clCreateBuffer(ctx, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, n * sizeof *h, h, &e);
  free(h);
  return e == CL_SUCCESS ? m : NULL;
}

int main(int argc, char **argv) {
  if (argc != 6 && argc != 7 && argc != 23) {
    fprintf(stderr, "usage: clblast_params M N K TRANS_A TRANS_B [REPEAT [16 Xgemm "
                    "parameters]]\n");
    return 2;
  }
  size_t m = strtoul(argv[1], NULL, 10), n = strtoul(argv[2], NULL, 10);
  size_t k = strtoul(argv[3], NULL, 10);
  int ta = atoi(argv[4]), tb = atoi(argv[5]), repeat = argc > 6 ? atoi(argv[6]) : 3;
  cl_platform_id platform;
  cl_device_id dev;
  cl_int e = clGetPlatformIDs(1, &platform, NULL);
  if (e == CL_SUCCESS) e = clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 1, &dev, NULL);
  if (e != CL_SUCCESS) {
    fprintf(stderr, "clblast_params: no OpenCL device (%d)\n", e);
    return 1;
  }
  cl_context ctx = clCreateContext(NULL, 1, &dev, NULL, NULL, &e);
  cl_command_queue q = clCreateCommandQueue(ctx, dev, 0, &e);
  cl_mem a = filled(ctx, m * k), b = filled(ctx, k * n), c = filled(ctx, m * n);
  if (!a || !b || !c) {
    fprintf(stderr, "clblast_params: cannot allocate the matrices\n");
    return 1;
  }
  if (argc == 23) {
    size_t values[16];
    for (int i = 0; i < 16; i++) values[i] = strtoul(argv[7 + i], NULL, 10);
    CLBlastStatusCode st =
        CLBlastOverrideParameters(dev, "Xgemm", CLBlastPrecisionSingle, 16, param_names, values);
    if (st != CLBlastSuccess) {
      fprintf(stderr, "clblast_params: CLBlastOverrideParameters: status %d\n", (int)st);
      return 1;
    }
  }
  for (int i = -1; i < repeat; i++) {
    double t0 = now_ms();
    CLBlastStatusCode st = CLBlastSgemm(
        CLBlastLayoutRowMajor, ta ? CLBlastTransposeYes : CLBlastTransposeNo,
        tb ? CLBlastTransposeYes : CLBlastTransposeNo, m, n, k, 1.0f, a, 0, ta ? m : k, b, 0,
        tb ? k : n, 0.0f, c, 0, n, &q, NULL);
    clFinish(q);
    double ms = now_ms() - t0;
    if (st != CLBlastSuccess) {
      fprintf(stderr, "clblast_params: CLBlastSgemm: status %d\n", (int)st);
      return 1;
    }
    printf("%s %.1f ms %.1f GFLOP/s\n", i < 0 ? "first" : "run  ", ms,
           2.0 * (double)m * (double)n * (double)k / (ms * 1e6));
  }
  clReleaseMemObject(a);
  clReleaseMemObject(b);
  clReleaseMemObject(c);
  CLBlastClearCache(); /* its cached programs hold ctx: release them before it */
  clReleaseCommandQueue(q);
  clReleaseContext(ctx);
  return 0;
}
