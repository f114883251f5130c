// The one dense matrix product behind MatMul, Gemm and Conv (im2col + GEMM): plain C++ that the compiler
// vectorizes, blocked for cache. Instantiated for float, double and the 32/64-bit integer types.
#pragma once

#include <cstdint>
#include <type_traits>
#include <vector>

#include "core/dispatch.h"

namespace infera {

// C (m x n) = alpha * op(A) * op(B) + beta * C, all row-major. op(A) is m x k: A is m x k (lda >= k), or k x m
// (lda >= m) when trans_a. op(B) is k x n: B is k x n (ldb >= n), or n x k (ldb >= k) when trans_b.
// beta == 0 overwrites C without reading it (NaNs in C do not propagate).
template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

// n elements of T seen as the compute type (float for float16/bfloat16), which is what gemm accepts: the
// original storage when T already is the compute type, a converted copy otherwise.
template <class T>
class ComputeInput {
 public:
  using C = compute_t<T>;
  ComputeInput(const T* p, int64_t n) {
    if constexpr (std::is_same_v<T, C>) {
      ptr_ = p;
    } else {
      buf_.assign(p, p + n);
      ptr_ = buf_.data();
    }
  }
  const C* data() const { return ptr_; }

 private:
  std::vector<C> buf_;
  const C* ptr_ = nullptr;
};

// Lets fn(C* y) produce n elements of the compute type for the T storage `out`: directly when T is the compute
// type, through a buffer that is converted afterwards otherwise. The buffer starts as a copy of out.
template <class T, class Fn>
void write_as_compute(T* out, int64_t n, Fn&& fn) {
  using C = compute_t<T>;
  if constexpr (std::is_same_v<T, C>) {
    fn(out);
  } else {
    std::vector<C> buf(out, out + n);
    fn(buf.data());
    for (int64_t i = 0; i < n; ++i) out[i] = T(buf[size_t(i)]);
  }
}

}  // namespace infera
