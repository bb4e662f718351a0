/* blas_gemm: times the host's BLAS (cblas_sgemm) on the GEMMs that `genmoji bench ops`
 * times (the same list, cli/frontend/bench_layers.h), the same way (one warm-up, then the
 * median of N runs on packed random matrices), so the two tables compare row for row in
 * one session. A benchmark for docs/performance.md, built only when a CBLAS is found.
 *
 *   blas_gemm [--batch N] [--repeat N] [--match TEXT] [--json]
 *
 * OpenBLAS's thread count follows OPENBLAS_NUM_THREADS (default: every core). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "../cli/frontend/bench_layers.h"

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static float *random_matrix(size_t n, unsigned *state) {
  float *p = malloc(n * sizeof *p);
  if (!p) return NULL;
  for (size_t i = 0; i < n; i++) {
    *state = *state * 1664525u + 1013904223u;
    p[i] = (float)(*state >> 8) / 8388608.0f - 1.0f;
  }
  return p;
}

/* Median milliseconds of repeat runs of g, after one warm-up, and the fastest run into
 * *fastest; < 0 when out of memory. */
static double time_gemm(const gm_cli_gemm *g, int repeat, double *fastest) {
  unsigned state = 1;
  size_t m = (size_t)g->m, n = (size_t)g->n, k = (size_t)g->k;
  float *a = random_matrix(m * k, &state), *b = random_matrix(k * n, &state);
  float *c = random_matrix(m * n, &state);
  double *ms = calloc((size_t)repeat, sizeof *ms), median = -1;
  if (a && b && c && ms) {
    for (int i = -1; i < repeat; i++) {
      double t0 = now_ms();
      cblas_sgemm(CblasRowMajor, g->trans_a ? CblasTrans : CblasNoTrans,
                  g->trans_b ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k, 1.0f, a,
                  (int)(g->trans_a ? m : k), b, (int)(g->trans_b ? k : n), 0.0f, c, (int)n);
      if (i >= 0) ms[i] = now_ms() - t0;
    }
    qsort(ms, (size_t)repeat, sizeof *ms, cmp_double);
    median = repeat % 2 ? ms[repeat / 2] : 0.5 * (ms[repeat / 2 - 1] + ms[repeat / 2]);
    *fastest = ms[0];
  }
  free(a);
  free(b);
  free(c);
  free(ms);
  return median;
}

int main(int argc, char **argv) {
  int batch = 8, repeat = 3, json = 0;
  const char *match = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc) batch = atoi(argv[++i]);
    else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc) repeat = atoi(argv[++i]);
    else if (strcmp(argv[i], "--match") == 0 && i + 1 < argc) match = argv[++i];
    else if (strcmp(argv[i], "--json") == 0) json = 1;
    else {
      fprintf(stderr, "usage: blas_gemm [--batch N] [--repeat N] [--match TEXT] [--json]\n");
      return 2;
    }
  }
  if (batch < 1 || repeat < 1) {
    fprintf(stderr, "blas_gemm: --batch and --repeat must be positive\n");
    return 2;
  }
  gm_cli_gemm g[3 * GM_CLI_LAYER_COUNT];
  int count = gm_cli_study_gemms(batch, match, g);
  if (json) printf("{\"blas\": \"cblas_sgemm\", \"repeat\": %d, \"rows\": [", repeat);
  else
    printf("%-20s %-10s %-2s %5s %6s %6s %6s %-7s %9s %8s\n", "gemm of layer", "pass", "op",
           "batch", "m", "n", "k", "backend", "ms", "GFLOP/s");
  for (int i = 0; i < count; i++) {
    double ms_min = 0, ms = time_gemm(&g[i], repeat, &ms_min);
    if (ms < 0) {
      fprintf(stderr, "blas_gemm: out of memory\n");
      return 1;
    }
    double gflops = 2.0 * (double)g[i].m * (double)g[i].n * (double)g[i].k / (ms * 1e6);
    if (json)
      printf("%s\n  {\"op\": \"gemm\", \"layer\": \"%s\", \"pass\": \"%s\", \"trans\": \"%s\", "
             "\"m\": %lld, \"n\": %lld, \"k\": %lld, \"batch\": %d, \"backend\": \"blas\", "
             "\"ms\": %.4f, \"ms_min\": %.4f, \"gflops\": %.2f}", i ? "," : "", g[i].layer,
             g[i].pass, gm_cli_gemm_op(&g[i]), (long long)g[i].m, (long long)g[i].n,
             (long long)g[i].k, batch, ms, ms_min, gflops);
    else
      printf("%-20s %-10s %-2s %5d %6lld %6lld %6lld %-7s %9.3f %8.1f\n", g[i].layer, g[i].pass,
             gm_cli_gemm_op(&g[i]), batch, (long long)g[i].m, (long long)g[i].n,
             (long long)g[i].k, "blas", ms, gflops);
    fflush(stdout);
  }
  if (json) printf("\n]}\n");
  return 0;
}
