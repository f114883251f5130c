#include "ops/gemm_kernel.h"

#include <algorithm>
#include <vector>

namespace infera {

namespace {

// Block sizes: a kBlockK x kBlockN panel of B (256 KiB of floats) stays in L2 while every row of A passes over it;
// the kRows rows of C being updated (4 KiB) stay in L1.
constexpr int64_t kBlockK = 256;
constexpr int64_t kBlockN = 256;
constexpr int64_t kRows = 4;

// C[rows, 0..n) += A[rows, 0..k) * B[0..k, 0..n) for up to kRows rows, with A already scaled by alpha. Four rows
// share each load of B; the remainder rows take the simple path.
template <class T>
void update_rows(int64_t rows, int64_t n, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb, T* c,
                 int64_t ldc) {
  T* __restrict c0 = c;
  T* __restrict c1 = rows > 1 ? c + ldc : nullptr;
  T* __restrict c2 = rows > 2 ? c + 2 * ldc : nullptr;
  T* __restrict c3 = rows > 3 ? c + 3 * ldc : nullptr;
  for (int64_t p = 0; p < k; ++p) {
    const T* __restrict brow = b + p * ldb;
    const T a0 = a[p];
    if (rows == kRows) {
      const T a1 = a[lda + p], a2 = a[2 * lda + p], a3 = a[3 * lda + p];
      for (int64_t j = 0; j < n; ++j) {
        const T bv = brow[j];
        c0[j] += a0 * bv;
        c1[j] += a1 * bv;
        c2[j] += a2 * bv;
        c3[j] += a3 * bv;
      }
    } else {
      for (int64_t j = 0; j < n; ++j) c0[j] += a0 * brow[j];
      if (c1) {
        const T a1 = a[lda + p];
        for (int64_t j = 0; j < n; ++j) c1[j] += a1 * brow[j];
      }
      if (c2) {
        const T a2 = a[2 * lda + p];
        for (int64_t j = 0; j < n; ++j) c2[j] += a2 * brow[j];
      }
    }
  }
}

// Row-major copy of the transpose of `rows` x `cols` matrix src (leading dim ld), optionally scaled.
template <class T>
std::vector<T> transposed(const T* src, int64_t rows, int64_t cols, int64_t ld, T scale) {
  std::vector<T> out(size_t(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t col = 0; col < cols; ++col) out[size_t(col * rows + r)] = scale * src[r * ld + col];
  return out;
}

}  // namespace

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i) {
    T* row = c + i * ldc;
    if (beta == T(0))
      std::fill(row, row + n, T(0));
    else if (beta != T(1))
      for (int64_t j = 0; j < n; ++j) row[j] *= beta;
  }
  if (m == 0 || n == 0 || k == 0 || alpha == T(0)) return;

  // Bring op(A) (scaled by alpha) and op(B) to plain row-major layout so the inner loop reads rows of B.
  std::vector<T> a_buf, b_buf;
  if (trans_a) {
    a_buf = transposed(a, k, m, lda, alpha);
    a = a_buf.data();
    lda = k;
  } else if (alpha != T(1)) {
    a_buf.resize(size_t(m * k));
    for (int64_t i = 0; i < m; ++i)
      for (int64_t p = 0; p < k; ++p) a_buf[size_t(i * k + p)] = alpha * a[i * lda + p];
    a = a_buf.data();
    lda = k;
  }
  if (trans_b) {
    b_buf = transposed(b, n, k, ldb, T(1));
    b = b_buf.data();
    ldb = n;
  }

  for (int64_t j0 = 0; j0 < n; j0 += kBlockN) {
    const int64_t nb = std::min(kBlockN, n - j0);
    for (int64_t p0 = 0; p0 < k; p0 += kBlockK) {
      const int64_t kb = std::min(kBlockK, k - p0);
      for (int64_t i = 0; i < m; i += kRows)
        update_rows(std::min(kRows, m - i), nb, kb, a + i * lda + p0, lda, b + p0 * ldb + j0, ldb,
                    c + i * ldc + j0, ldc);
    }
  }
}

#define INFERA_INSTANTIATE_GEMM(T)                                                                            \
  template void gemm<T>(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*, int64_t, T, T*, \
                        int64_t);
INFERA_INSTANTIATE_GEMM(float)
INFERA_INSTANTIATE_GEMM(double)
INFERA_INSTANTIATE_GEMM(int32_t)
INFERA_INSTANTIATE_GEMM(int64_t)
INFERA_INSTANTIATE_GEMM(uint32_t)
INFERA_INSTANTIATE_GEMM(uint64_t)
#undef INFERA_INSTANTIATE_GEMM

}  // namespace infera
