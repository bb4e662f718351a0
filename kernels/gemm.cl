/* genmoji's own GEMM kernels, written for CPU devices (PoCL): C = alpha op(A) op(B) + beta C,
 * row-major, batch in the third range dimension. Each work-item holds a register tile of C
 * in explicit vectors of GM_VW floats, so the code is vector code whatever the work-group
 * vectoriser does. gemm_own.c builds this file as its own program with the tile sizes as
 * -D defines; the device's main program skips it (GM_GEMM_OWN unset). */
#ifdef GM_GEMM_OWN

#ifndef GM_VW
#define GM_VW 16 /* floats per vector: 4, 8 or 16 */
#endif
#ifndef GM_RM
#define GM_RM 8  /* rows of the gemm_nn/gemm_tn tile (its columns: 2 * GM_VW) */
#endif
#ifndef GM_DM
#define GM_DM 4  /* rows and columns of the gemm_nt dot-product tile */
#endif
#ifndef GM_DN
#define GM_DN 4
#endif
#ifndef GM_KC
#define GM_KC 256 /* k steps per chunk between barriers in gemm_nn/gemm_tn */
#endif

#define GM_CAT_(a, b) a##b
#define GM_CAT(a, b) GM_CAT_(a, b)
typedef GM_CAT(float, GM_VW) gm_floatv;
#define GM_VLOAD(p) GM_CAT(vload, GM_VW)(0, (p))
#define GM_VSTORE(v, p) GM_CAT(vstore, GM_VW)((v), 0, (p))

/* The first count (< GM_VW) floats at p, zeros after: no read past a matrix's end. */
inline gm_floatv gemm_load_part(const __global float *p, int count) {
  float t[GM_VW];
  for (int l = 0; l < GM_VW; l++) t[l] = l < count ? p[l] : 0.0f;
  return GM_VLOAD(t);
}

inline gm_floatv gemm_load(const __global float *p, int count) {
  return count >= GM_VW ? GM_VLOAD(p) : gemm_load_part(p, count);
}

/* c[0..count) = alpha v + beta c (c is not read when beta is 0, as in BLAS). */
inline void gemm_store(__global float *c, gm_floatv v, int count, float alpha, float beta) {
  if (count <= 0) return;
  if (count >= GM_VW) {
    gm_floatv r = alpha * v;
    if (beta != 0.0f) r += beta * GM_VLOAD(c);
    GM_VSTORE(r, c);
    return;
  }
  float t[GM_VW];
  GM_VSTORE(v, t);
  for (int l = 0; l < count; l++) c[l] = alpha * t[l] + (beta != 0.0f ? beta * c[l] : 0.0f);
}

inline float gemm_hsum(gm_floatv v) {
#if GM_VW == 16
  float8 h = v.lo + v.hi;
  float4 q = h.lo + h.hi;
#elif GM_VW == 8
  float4 q = v.lo + v.hi;
#else
  float4 q = v;
#endif
  float2 d = q.lo + q.hi;
  return d.x + d.y;
}

#define GM_GEMM_ARGS                                                                     \
  const int m, const int n, const int k, const float alpha, const float beta,           \
      __global const float *a, const ulong a_off, const int lda, const ulong stride_a,  \
      __global const float *b, const ulong b_off, const int ldb, const ulong stride_b,  \
      __global float *c, const ulong c_off, const int ldc, const ulong stride_c

/* The k steps p0..p1 of a GM_GEMM_TILE work-item; LOAD0 and LOAD1 fetch the two vectors
 * of row p of B at bp. */
#define GM_TILE_STEPS(p0, p1, A_AT, LOAD0, LOAD1)                                        \
  for (int p = (p0); p < (p1); p++) {                                                    \
    const __global float *bp = b + (size_t)p * ldb + j0;                                 \
    const gm_floatv b0 = LOAD0, b1 = LOAD1;                                              \
    _Pragma("unroll") for (int r = 0; r < GM_RM; r++) {                                  \
      const gm_floatv av = (gm_floatv)(A_AT(rows[r], p));                                \
      acc0[r] = fma(av, b0, acc0[r]);                                                    \
      acc1[r] = fma(av, b1, acc1[r]);                                                    \
    }                                                                                    \
  }

/* op(B) = B: a work-item computes GM_RM rows by 2 GM_VW columns of C, broadcasting one
 * element of op(A) per row against two vectors of a row of B. Range: (column tiles,
 * row tiles, batch); a work-group runs down the rows of one column tile. k is walked in
 * chunks of GM_KC with a barrier after each: PoCL then runs every work-item of the group
 * over one chunk before the next, so the chunk of the B panel they share and the chunk
 * of A stay in cache. Loop bounds are the same in every work-item; those past the last
 * row only keep the barriers company. */
#define GM_GEMM_TILE(name, A_AT)                                                         \
  __kernel void name(GM_GEMM_ARGS) {                                                     \
    const int j0 = (int)get_global_id(0) * 2 * GM_VW, i0 = (int)get_global_id(1) * GM_RM; \
    const int active = i0 < m && j0 < n;                                                 \
    const size_t bi = get_global_id(2);                                                  \
    a += a_off + bi * stride_a;                                                          \
    b += b_off + bi * stride_b;                                                          \
    c += c_off + bi * stride_c;                                                          \
    const int cols = active ? min(n - j0, 2 * GM_VW) : 0;                                \
    int rows[GM_RM];                                                                     \
    gm_floatv acc0[GM_RM], acc1[GM_RM];                                                  \
    _Pragma("unroll") for (int r = 0; r < GM_RM; r++) {                                  \
      rows[r] = min(i0 + r, m - 1);                                                      \
      acc0[r] = (gm_floatv)0.0f;                                                         \
      acc1[r] = (gm_floatv)0.0f;                                                         \
    }                                                                                    \
    for (int p0 = 0; p0 < k; p0 += GM_KC) {                                              \
      const int p1 = min(k, p0 + GM_KC);                                                 \
      if (cols == 2 * GM_VW)                                                             \
        GM_TILE_STEPS(p0, p1, A_AT, GM_VLOAD(bp), GM_VLOAD(bp + GM_VW))                  \
      else if (cols > 0)                                                                 \
        GM_TILE_STEPS(p0, p1, A_AT, gemm_load(bp, cols), gemm_load(bp + GM_VW, cols - GM_VW)) \
      barrier(CLK_LOCAL_MEM_FENCE);                                                      \
    }                                                                                    \
    if (!active) return;                                                                 \
    _Pragma("unroll") for (int r = 0; r < GM_RM; r++) {                                  \
      if (i0 + r >= m) break;                                                            \
      __global float *cr = c + (size_t)(i0 + r) * ldc + j0;                              \
      gemm_store(cr, acc0[r], cols, alpha, beta);                                        \
      gemm_store(cr + GM_VW, acc1[r], cols - GM_VW, alpha, beta);                        \
    }                                                                                    \
  }

#define GM_A_ROWMAJOR(i, p) a[(size_t)(i) * lda + (p)]
#define GM_A_TRANSPOSED(i, p) a[(size_t)(p) * lda + (i)]
GM_GEMM_TILE(gemm_nn, GM_A_ROWMAJOR)
GM_GEMM_TILE(gemm_tn, GM_A_TRANSPOSED)

/* op(A) = A, op(B) = B^T: both operands run along k in memory, so a work-item computes a
 * GM_DM x GM_DN tile of C as dot products of GM_VW-float vectors, summed across the
 * vector at the end. Range: (column tiles, row tiles, batch). Unlike GM_GEMM_TILE it
 * walks k in one go, since its 32 accumulators would be saved at every barrier of a
 * chunked loop (docs/performance.md has the measurement). */
__kernel void gemm_nt(GM_GEMM_ARGS) {
  const int j0 = (int)get_global_id(0) * GM_DN, i0 = (int)get_global_id(1) * GM_DM;
  if (i0 >= m || j0 >= n) return;
  const size_t bi = get_global_id(2);
  a += a_off + bi * stride_a;
  b += b_off + bi * stride_b;
  c += c_off + bi * stride_c;
  const __global float *ar[GM_DM], *br[GM_DN];
#pragma unroll
  for (int r = 0; r < GM_DM; r++) ar[r] = a + (size_t)min(i0 + r, m - 1) * lda;
#pragma unroll
  for (int s = 0; s < GM_DN; s++) br[s] = b + (size_t)min(j0 + s, n - 1) * ldb;
  gm_floatv acc[GM_DM][GM_DN];
#pragma unroll
  for (int r = 0; r < GM_DM; r++)
#pragma unroll
    for (int s = 0; s < GM_DN; s++) acc[r][s] = (gm_floatv)0.0f;
  const int kv = k / GM_VW * GM_VW;  /* the part that fills whole vectors */
  for (int p = 0; p < kv; p += GM_VW) {
    gm_floatv av[GM_DM], bv[GM_DN];
#pragma unroll
    for (int r = 0; r < GM_DM; r++) av[r] = GM_VLOAD(ar[r] + p);
#pragma unroll
    for (int s = 0; s < GM_DN; s++) bv[s] = GM_VLOAD(br[s] + p);
#pragma unroll
    for (int r = 0; r < GM_DM; r++)
#pragma unroll
      for (int s = 0; s < GM_DN; s++) acc[r][s] = fma(av[r], bv[s], acc[r][s]);
  }
#pragma unroll
  for (int r = 0; r < GM_DM; r++)
#pragma unroll
    for (int s = 0; s < GM_DN; s++) {
      if (i0 + r >= m || j0 + s >= n) continue;
      float sum = gemm_hsum(acc[r][s]);
      for (int q = kv; q < k; q++) sum = fma(ar[r][q], br[s][q], sum);
      __global float *cp = c + (size_t)(i0 + r) * ldc + j0 + s;
      *cp = alpha * sum + (beta != 0.0f ? beta * *cp : 0.0f);
    }
}

/* op(A) = A^T, op(B) = B^T: no operand is contiguous along a useful axis; one element of
 * C per work-item. The engine's ops never ask for it; it keeps the backend complete. */
__kernel void gemm_tt(GM_GEMM_ARGS) {
  const int j = (int)get_global_id(0), i = (int)get_global_id(1);
  if (i >= m || j >= n) return;
  const size_t bi = get_global_id(2);
  a += a_off + bi * stride_a;
  b += b_off + bi * stride_b;
  c += c_off + bi * stride_c;
  float sum = 0.0f;
  for (int p = 0; p < k; p++) sum = fma(a[(size_t)p * lda + i], b[(size_t)j * ldb + p], sum);
  __global float *cp = c + (size_t)i * ldc + j;
  *cp = alpha * sum + (beta != 0.0f ? beta * *cp : 0.0f);
}

/* ---- implicit-GEMM convolution (engine/src/ops_conv.c) ----
 * The B operand is the im2col matrix of a zero-padded image batch, read in place instead
 * of built: row r = ci * nt + t (channel ci, kernel tap t = ky * kw + kx, the first nt
 * taps in raster order), column j = b * pimg + oy * wo + ox, element
 *   src[ci * c_stride + base + ky * ky_step + kx * kx_step + b * s_bs + oy * s_rs + ox].
 * The padding makes every such address valid, so a row's GM_VW columns are one vector
 * load when wo is a multiple of GM_VW (the host checks). kx_step = 1, ky_step = s_rs
 * reads the taps of a forward convolution; -1 and -s_rs with base at the far corner
 * read them flipped (the input gradient). */
#define GM_CONV_SRC_ARGS                                                                  \
  __global const float *src, const ulong src_off, const int s_bs, const int s_rs,        \
      const int c_stride, const int base, const int ky_step, const int kx_step,          \
      const int nt, const int kw, const int wo, const int pimg

/* Offset of column j (a multiple of GM_VW) in a (b, oy, ox) layout with the given image
 * and row strides. */
inline int conv_col_offset(int j, int pimg, int wo, int bs, int rs) {
  int b = j / pimg, q = j - b * pimg, oy = q / wo;
  return b * bs + oy * rs + (q - oy * wo);
}

/* Channels c0..c1 of gemm_nn_conv's k steps (their nt taps each): row p = ci * nt + t
 * of the implicit operand, walked kernel row by kernel row so the innermost loop (along
 * a kernel row) has no branches. */
#define GM_CONV_STEPS(c0, c1, LOAD1)                                                      \
  for (int ci = (c0); ci < (c1); ci++) {                                                  \
    const __global float *sc = src + ci * c_stride + base;                                \
    for (int t = 0, ky = 0; t < nt; t += kw, ky++) {                                      \
      const __global float *sr = sc + ky * ky_step;                                       \
      const int row_taps = min(kw, nt - t), p0 = ci * nt + t;                             \
      for (int kx = 0; kx < row_taps; kx++) {                                             \
        const __global float *sp = sr + kx * kx_step;                                     \
        const gm_floatv b0 = GM_VLOAD(sp + col0), b1 = LOAD1;                             \
        _Pragma("unroll") for (int r = 0; r < GM_RM; r++) {                               \
          const gm_floatv av = (gm_floatv)(arow[r][p0 + kx]);                             \
          acc0[r] = fma(av, b0, acc0[r]);                                                 \
          acc1[r] = fma(av, b1, acc1[r]);                                                 \
        }                                                                                 \
      }                                                                                   \
    }                                                                                     \
  }

/* C = alpha A (m x k, row-major) B + beta C (+ bias[i] when has_bias) with B the
 * implicit im2col operand above (k = its rows, a multiple of nt; n = its columns, a
 * multiple of GM_VW; LOAD1 in GM_CONV_STEPS reads the tap's pointer sp), and C addressed
 * by column layout too: element (i, j) at c[i * c_rs + b * c_bs + q], j = b * pimg + q,
 * so a convolution writes (B, C, P) directly. The work-item tiles, range and k chunks of
 * gemm_nn. */
__kernel void gemm_nn_conv(const int m, const int n, const int k, const float alpha,
                           const float beta, __global const float *a, const ulong a_off,
                           const int lda, GM_CONV_SRC_ARGS, __global const float *bias,
                           const ulong bias_off, const int has_bias, __global float *c,
                           const ulong c_off, const int c_rs, const int c_bs) {
  const int j0 = (int)get_global_id(0) * 2 * GM_VW, i0 = (int)get_global_id(1) * GM_RM;
  const int active = i0 < m && j0 < n, two = active && j0 + GM_VW < n;
  a += a_off;
  src += src_off;
  c += c_off;
  bias += bias_off;
  const int col0 = active ? conv_col_offset(j0, pimg, wo, s_bs, s_rs) : 0;
  const int col1 = two ? conv_col_offset(j0 + GM_VW, pimg, wo, s_bs, s_rs) : 0;
  const __global float *arow[GM_RM];
  gm_floatv acc0[GM_RM], acc1[GM_RM];
#pragma unroll
  for (int r = 0; r < GM_RM; r++) {
    arow[r] = a + (size_t)min(i0 + r, m - 1) * lda;
    acc0[r] = (gm_floatv)0.0f;
    acc1[r] = (gm_floatv)0.0f;
  }
  /* k in chunks of whole channels, about GM_KC steps each, a barrier after each */
  const int channels = k / nt, chunk = max(1, GM_KC / nt);
  for (int c0 = 0; c0 < channels; c0 += chunk) {
    const int c1 = min(channels, c0 + chunk);
    if (two)
      GM_CONV_STEPS(c0, c1, GM_VLOAD(sp + col1))
    else if (active)
      GM_CONV_STEPS(c0, c1, (gm_floatv)0.0f)
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  if (!active) return;
  const int out0 = conv_col_offset(j0, pimg, wo, c_bs, wo);
  const int out1 = two ? conv_col_offset(j0 + GM_VW, pimg, wo, c_bs, wo) : 0;
#pragma unroll
  for (int r = 0; r < GM_RM; r++) {
    if (i0 + r >= m) break;
    const float add = has_bias ? bias[i0 + r] : 0.0f;
    __global float *cr = c + (size_t)(i0 + r) * c_rs;
    gemm_store(cr + out0, alpha * acc0[r] + add, GM_VW, 1.0f, beta);
    if (two) gemm_store(cr + out1, alpha * acc1[r] + add, GM_VW, 1.0f, beta);
  }
}

/* Offset of the implicit operand's row r (channel ci = r / nt, tap t = r % nt). */
inline int conv_row_offset(int r, int c_stride, int base, int ky_step, int kx_step, int nt,
                           int kw) {
  int ci = r / nt, t = r - ci * nt, ky = t / kw, kx = t - ky * kw;
  return ci * c_stride + base + ky * ky_step + kx * kx_step;
}

/* Output rows oy0..oy1 of image bi as k steps of gemm_conv_wgrad: position (oy, ox) is
 * row (bi * ho + oy) * wo + ox of B and column bi * s_bs + oy * s_rs + ox of the
 * implicit A, walked along the row without divisions. */
#define GM_WGRAD_STEPS(LOAD0, LOAD1)                                                      \
  for (int oy = oy0; oy < oy1; oy++) {                                                    \
    const int so = bi * s_bs + oy * s_rs;                                                 \
    const __global float *bp = bm + (size_t)((bi * ho + oy) * wo) * ldb + j0;             \
    for (int ox = 0; ox < wo; ox++, bp += ldb) {                                          \
      const gm_floatv b0 = LOAD0, b1 = LOAD1;                                             \
      _Pragma("unroll") for (int r = 0; r < GM_RM; r++) {                                 \
        const gm_floatv av = (gm_floatv)(src[arow[r] + so + ox]);                         \
        acc0[r] = fma(av, b0, acc0[r]);                                                   \
        acc1[r] = fma(av, b1, acc1[r]);                                                   \
      }                                                                                   \
    }                                                                                     \
  }

/* C (m x n, row-major, ldc) = alpha A B + beta C with A (m x k) the implicit operand
 * (its rows ci * nt + t, its k = nb * pimg columns the output positions) and B (k x n,
 * row-major, ldb): a convolution's weight gradient transposed, dW^T = columns dy^T, with
 * dy^T as B. Any wo: A is read one scalar at a time. The tiles and work-groups of
 * gemm_nn; k walked image by image in chunks of about GM_KC positions (whole output
 * rows), a barrier after each. */
__kernel void gemm_conv_wgrad(const int m, const int n, const int nb, const float alpha,
                              const float beta, GM_CONV_SRC_ARGS, __global const float *bm,
                              const ulong bm_off, const int ldb, __global float *c,
                              const ulong c_off, const int ldc) {
  const int j0 = (int)get_global_id(0) * 2 * GM_VW, i0 = (int)get_global_id(1) * GM_RM;
  const int active = i0 < m && j0 < n;
  const int cols = active ? min(n - j0, 2 * GM_VW) : 0;
  src += src_off;
  bm += bm_off;
  c += c_off;
  int arow[GM_RM];
  gm_floatv acc0[GM_RM], acc1[GM_RM];
#pragma unroll
  for (int r = 0; r < GM_RM; r++) {
    arow[r] = conv_row_offset(min(i0 + r, m - 1), c_stride, base, ky_step, kx_step, nt, kw);
    acc0[r] = (gm_floatv)0.0f;
    acc1[r] = (gm_floatv)0.0f;
  }
  const int ho = pimg / wo, chunk = max(1, GM_KC / wo);
  for (int bi = 0; bi < nb; bi++)
    for (int oy0 = 0; oy0 < ho; oy0 += chunk) {
      const int oy1 = min(ho, oy0 + chunk);
      if (cols == 2 * GM_VW)
        GM_WGRAD_STEPS(GM_VLOAD(bp), GM_VLOAD(bp + GM_VW))
      else if (cols > 0)
        GM_WGRAD_STEPS(gemm_load(bp, cols), gemm_load(bp + GM_VW, cols - GM_VW))
      barrier(CLK_LOCAL_MEM_FENCE);
    }
  if (!active) return;
#pragma unroll
  for (int r = 0; r < GM_RM; r++) {
    if (i0 + r >= m) break;
    __global float *cr = c + (size_t)(i0 + r) * ldc + j0;
    gemm_store(cr, acc0[r], cols, alpha, beta);
    gemm_store(cr + GM_VW, acc1[r], cols - GM_VW, alpha, beta);
  }
}

#endif
