/* The own GEMM backend: kernels/gemm.cl built as a program of its own, with tile sizes
 * for this device as -D defines (the device's main program never sees them), and the
 * launches of its kernels (nn, tn, nt, tt, and nn with an implicit im2col operand as B or
 * as A). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gemm_backend.h"

enum { K_NN, K_TN, K_NT, K_TT, K_NN_CONV, K_CONV_WGRAD, K_COUNT };
static const char *const kernel_names[K_COUNT] = {
    "gemm_nn", "gemm_tn", "gemm_nt", "gemm_tt", "gemm_nn_conv", "gemm_conv_wgrad"};

/* Work-items per group along the row tiles: a group walks down the rows of one column
 * panel. One fixed size, so PoCL compiles each kernel once. */
#define GROUP_ROWS 8

struct gm__gemm_own {
  cl_program program;
  cl_kernel kernels[K_COUNT];
  int vw, rm, dm, dn, kc;
  char about[128];
};

static const struct gm__kernel_source *source(const char *name) {
  for (int i = 0; i < gm__kernel_source_count; i++)
    if (strcmp(gm__kernel_sources[i].name, name) == 0) return &gm__kernel_sources[i];
  return NULL;
}

/* Tile sizes from the device: vectors as wide as its preferred float width (4..16), and
 * as many accumulators as fit its vector registers: with 16-float vectors (AVX-512, 32
 * registers) a 12x32 tile for nn/tn (24 accumulators) and a 4x8 dot tile for nt, the
 * fastest of the sizes measured on PoCL (docs/performance.md); narrower vectors mean
 * x86 with 16 registers, so 6 rows (12 accumulators) and a 2x4 dot tile. k goes in
 * chunks of 256 (measured too). GM_GEMM_OWN_TILES="VW,RM,DM,DN[,KC]" overrides them, for
 * measuring others. */
static void pick_tiles(gm__gemm_own *own, const gm_device *dev) {
  unsigned pw = dev->info.preferred_vector_width_float;
  own->vw = pw >= 16 ? 16 : pw >= 8 ? 8 : 4;
  own->rm = own->vw == 16 ? 12 : 6;
  own->dm = own->vw == 16 ? 4 : 2;
  own->dn = own->vw == 16 ? 8 : 4;
  own->kc = 256;
  const char *env = getenv("GM_GEMM_OWN_TILES");
  int v[5], got = env ? sscanf(env, "%d,%d,%d,%d,%d", &v[0], &v[1], &v[2], &v[3], &v[4]) : 0;
  if (got >= 4 && (v[0] == 4 || v[0] == 8 || v[0] == 16) && v[1] >= 1 && v[1] <= 32 &&
      v[2] >= 1 && v[2] <= 8 && v[3] >= 1 && v[3] <= 8 && (got == 4 || v[4] >= 1)) {
    own->vw = v[0];
    own->rm = v[1];
    own->dm = v[2];
    own->dn = v[3];
    if (got == 5) own->kc = v[4];
  }
  own->kc = (own->kc + own->vw - 1) / own->vw * own->vw;  /* whole vectors per chunk */
}

static int build(gm__gemm_own *own, gm_device *dev, gm_error *err) {
  const struct gm__kernel_source *prelude = source("common"), *body = source("gemm");
  if (!prelude || !body)
    return gm_error_set(err, GM_ENOTFOUND, "gemm own: kernels/gemm.cl is not embedded");
  const char *texts[2] = {prelude->text, body->text};
  size_t lens[2] = {prelude->len, body->len};
  char options[256];
  snprintf(options, sizeof options, "%s -D GM_GEMM_OWN -D GM_VW=%d -D GM_RM=%d -D GM_DM=%d "
           "-D GM_DN=%d -D GM_KC=%d", gm__build_options(), own->vw, own->rm, own->dm, own->dn,
           own->kc);
  cl_int cl = CL_SUCCESS;
  own->program = clCreateProgramWithSource(dev->ctx, 2, texts, lens, &cl);
  if (cl != CL_SUCCESS)
    return gm__cl_fail(err, GM_EBUILD, cl, "clCreateProgramWithSource", "gemm own");
  cl = clBuildProgram(own->program, 1, &dev->id, options, NULL, NULL);
  if (cl != CL_SUCCESS) {
    size_t log_len = 0;
    clGetProgramBuildInfo(own->program, dev->id, CL_PROGRAM_BUILD_LOG, 0, NULL, &log_len);
    char *log = malloc(log_len + 1);
    if (log) {
      clGetProgramBuildInfo(own->program, dev->id, CL_PROGRAM_BUILD_LOG, log_len, log, NULL);
      log[log_len] = '\0';
    }
    gm_error_set(err, GM_EBUILD, "clBuildProgram (kernels/gemm.cl with %s on %s): %s (%d); "
                 "build log:\n%s", options, dev->info.name, gm__cl_err_name(cl), (int)cl,
                 log ? log : "(unavailable)");
    free(log);
    return GM_EBUILD;
  }
  for (int i = 0; i < K_COUNT; i++) {
    own->kernels[i] = clCreateKernel(own->program, kernel_names[i], &cl);
    if (cl != CL_SUCCESS) return gm__cl_fail(err, GM_EBUILD, cl, "clCreateKernel", kernel_names[i]);
  }
  return 0;
}

int gm__gemm_own_create(gm__gemm_own **out, gm_device *dev, gm_error *err) {
  gm__gemm_own *own = calloc(1, sizeof *own);
  *out = NULL;
  if (!own) return gm_error_set(err, GM_ENOMEM, "gemm own: out of memory");
  pick_tiles(own, dev);
  snprintf(own->about, sizeof own->about, "float%d tiles %dx%d (nn, tn) and %dx%d (nt), k in "
           "chunks of %d", own->vw, own->rm, 2 * own->vw, own->dm, own->dn, own->kc);
  int rc = build(own, dev, err);
  if (rc) {
    gm__gemm_own_destroy(own);
    return rc;
  }
  *out = own;
  return 0;
}

void gm__gemm_own_destroy(gm__gemm_own *own) {
  if (!own) return;
  for (int i = 0; i < K_COUNT; i++)
    if (own->kernels[i]) clReleaseKernel(own->kernels[i]);
  if (own->program) clReleaseProgram(own->program);
  free(own);
}

const char *gm__gemm_own_describe(const gm__gemm_own *own) { return own->about; }

static size_t round_up(size_t x, size_t to) { return (x + to - 1) / to * to; }

int gm__gemm_own_run(gm__gemm_own *own, gm_device *dev, const gm__gemm_desc *d, gm_error *err) {
  if (d->m > INT32_MAX || d->n > INT32_MAX || d->k > INT32_MAX || d->lda > INT32_MAX ||
      d->ldb > INT32_MAX || d->ldc > INT32_MAX)
    return gm_error_set(err, GM_ERANGE, "gemm own %zux%zux%zu: sizes beyond 2^31", d->m, d->n,
                        d->k);
  int which = d->trans_b ? (d->trans_a ? K_TT : K_NT) : (d->trans_a ? K_TN : K_NN);
  cl_kernel kern = own->kernels[which];
  size_t tile_rows, tile_cols;
  switch (which) {
  case K_NN:
  case K_TN: tile_rows = (size_t)own->rm, tile_cols = 2 * (size_t)own->vw; break;
  case K_NT: tile_rows = (size_t)own->dm, tile_cols = (size_t)own->dn; break;
  default: tile_rows = tile_cols = 1; break;
  }
  cl_int m = (cl_int)d->m, n = (cl_int)d->n, k = (cl_int)d->k;
  cl_ulong offs[3] = {d->a_off, d->b_off, d->c_off};
  cl_ulong strides[3] = {d->stride_a, d->stride_b, d->stride_c};
  cl_int lds[3] = {(cl_int)d->lda, (cl_int)d->ldb, (cl_int)d->ldc};
  cl_mem mems[3] = {d->a, d->b, d->c};
  struct { size_t size; const void *value; } args[17] = {
      {sizeof m, &m}, {sizeof n, &n}, {sizeof k, &k}, {sizeof d->alpha, &d->alpha},
      {sizeof d->beta, &d->beta}};
  for (int i = 0; i < 3; i++) {
    args[5 + 4 * i].size = sizeof mems[i], args[5 + 4 * i].value = &mems[i];
    args[6 + 4 * i].size = sizeof offs[i], args[6 + 4 * i].value = &offs[i];
    args[7 + 4 * i].size = sizeof lds[i], args[7 + 4 * i].value = &lds[i];
    args[8 + 4 * i].size = sizeof strides[i], args[8 + 4 * i].value = &strides[i];
  }
  cl_int cl = CL_SUCCESS;
  for (cl_uint i = 0; i < 17 && cl == CL_SUCCESS; i++)
    cl = clSetKernelArg(kern, i, args[i].size, args[i].value);
  if (cl != CL_SUCCESS)
    return gm__cl_fail(err, GM_EGEMM, cl, "clSetKernelArg", kernel_names[which]);
  size_t local[3] = {1, which == K_TT ? 1 : GROUP_ROWS, 1};
  if (which == K_TT) local[0] = GROUP_ROWS;
  size_t global[3] = {round_up((d->n + tile_cols - 1) / tile_cols, local[0]),
                      round_up((d->m + tile_rows - 1) / tile_rows, local[1]), d->batch};
  cl = clEnqueueNDRangeKernel(dev->queue, kern, 3, NULL, global, local, 0, NULL, NULL);
  if (cl != CL_SUCCESS) return gm__cl_fail(err, GM_EGEMM, cl, "clEnqueueNDRangeKernel",
                                           kernel_names[which]);
  return 0;
}

int gm__gemm_own_vector(const gm__gemm_own *own) { return own->vw; }

typedef struct arg {
  size_t size;
  const void *value;
} arg;

static int launch(gm__gemm_own *own, gm_device *dev, int which, const arg *args, int n_args,
                  size_t tiles_n, size_t tiles_m, gm_error *err) {
  cl_kernel kern = own->kernels[which];
  cl_int cl = CL_SUCCESS;
  for (int i = 0; i < n_args && cl == CL_SUCCESS; i++)
    cl = clSetKernelArg(kern, (cl_uint)i, args[i].size, args[i].value);
  if (cl != CL_SUCCESS)
    return gm__cl_fail(err, GM_EGEMM, cl, "clSetKernelArg", kernel_names[which]);
  size_t local[2] = {1, GROUP_ROWS};
  size_t global[2] = {tiles_n, round_up(tiles_m, GROUP_ROWS)};
  cl = clEnqueueNDRangeKernel(dev->queue, kern, 2, NULL, global, local, 0, NULL, NULL);
  if (cl != CL_SUCCESS)
    return gm__cl_fail(err, GM_EGEMM, cl, "clEnqueueNDRangeKernel", kernel_names[which]);
  return 0;
}

#define ARG(v) {sizeof(v), &(v)}
#define OPERAND_ARGS(o)                                                                   \
  ARG(o->src), ARG(src_off), ARG(o->s_bs), ARG(o->s_rs), ARG(o->c_stride), ARG(o->base),  \
      ARG(o->ky_step), ARG(o->kx_step), ARG(o->nt), ARG(o->kw), ARG(o->wo), ARG(o->pimg)

int gm__gemm_own_conv_nn(gm__gemm_own *own, gm_device *dev, int m, int n, int k, float alpha,
                         float beta, cl_mem a, size_t a_off, int lda, const gm__conv_operand *op,
                         cl_mem bias, size_t bias_off, cl_mem c, size_t c_off, int c_rs, int c_bs,
                         gm_error *err) {
  cl_ulong a_off_ = a_off, src_off = op->src_off, bias_off_ = bias_off, c_off_ = c_off;
  cl_int has_bias = bias != NULL;
  cl_mem bias_mem = bias ? bias : a;
  arg args[] = {ARG(m), ARG(n), ARG(k), ARG(alpha), ARG(beta), ARG(a), ARG(a_off_), ARG(lda),
                OPERAND_ARGS(op), ARG(bias_mem), ARG(bias_off_), ARG(has_bias), ARG(c),
                ARG(c_off_), ARG(c_rs), ARG(c_bs)};
  size_t tile_cols = 2 * (size_t)own->vw;
  return launch(own, dev, K_NN_CONV, args, (int)(sizeof args / sizeof args[0]),
                ((size_t)n + tile_cols - 1) / tile_cols,
                ((size_t)m + (size_t)own->rm - 1) / (size_t)own->rm, err);
}

int gm__gemm_own_conv_wgrad(gm__gemm_own *own, gm_device *dev, int m, int n, int nb,
                            float alpha, float beta, const gm__conv_operand *op, cl_mem b,
                            size_t b_off, int ldb, cl_mem c, size_t c_off, int ldc,
                            gm_error *err) {
  cl_ulong src_off = op->src_off, b_off_ = b_off, c_off_ = c_off;
  arg args[] = {ARG(m), ARG(n), ARG(nb), ARG(alpha), ARG(beta), OPERAND_ARGS(op), ARG(b),
                ARG(b_off_), ARG(ldb), ARG(c), ARG(c_off_), ARG(ldc)};
  size_t tile_cols = 2 * (size_t)own->vw;
  return launch(own, dev, K_CONV_WGRAD, args, (int)(sizeof args / sizeof args[0]),
                ((size_t)n + tile_cols - 1) / tile_cols,
                ((size_t)m + (size_t)own->rm - 1) / (size_t)own->rm, err);
}
