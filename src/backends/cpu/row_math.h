// Row primitives shared by softmax, normalisation, reductions and attention: maximum and sum of a row with 16
// independent partial results (so that g++ vectorises them without reassociating: the order is fixed, the result
// the same on every run), and the softmax of rows.
#pragma once

#include <cstdint>
#include <limits>

#include "backends/cpu/cpu_kernel.h"
#include "backends/cpu/vec_math.h"

namespace infera::cpu {

inline constexpr int kLanes = 16;
// 16 floats as one value: one zmm register under AVX-512, two ymm under AVX2, four xmm in the portable build.
using Lanes = float __attribute__((vector_size(kLanes * sizeof(float))));

// The largest element, NaN ignored (a NaN-propagating select in the vector loop compiles to far slower code). A
// softmax needs no more: a NaN reaches every output through the sum.
INFERA_CPU_INLINE float row_max(const float* x, int64_t n) {
  float m = -std::numeric_limits<float>::infinity();
  int64_t i = 0;
  if (n >= kLanes) {
    Lanes acc;
    __builtin_memcpy(&acc, x, sizeof(acc));
    for (i = kLanes; i + kLanes <= n; i += kLanes) {
      Lanes v;
      __builtin_memcpy(&v, x + i, sizeof(v));
      acc = v > acc ? v : acc;
    }
    for (int l = 0; l < kLanes; ++l) m = acc[l] > m ? acc[l] : m;
  }
  for (; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}

// Sum of (x - shift)^2 when `square`, else of x - shift.
template <bool square>
INFERA_CPU_INLINE float row_sum_of(const float* x, int64_t n, float shift) {
  Lanes acc = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    Lanes v;
    __builtin_memcpy(&v, x + i, sizeof(v));
    v -= shift;
    acc += square ? v * v : v;
  }
  float s = 0;
  for (int l = 0; l < kLanes; ++l) s += acc[l];
  for (; i < n; ++i) s += square ? (x[i] - shift) * (x[i] - shift) : x[i] - shift;
  return s;
}

INFERA_CPU_INLINE float row_sum(const float* x, int64_t n) { return row_sum_of<false>(x, n, 0.0f); }
INFERA_CPU_INLINE float row_squared_deviation(const float* x, int64_t n, float mean) {
  return row_sum_of<true>(x, n, mean);
}

// The largest element with NaN winning, as in the reference (numpy) reductions. A NaN makes the row's sum NaN, so
// only rows whose sum is NaN (NaN, or inf and -inf together) are searched for one.
INFERA_CPU_INLINE float row_max_nan(const float* x, int64_t n) {
  const float sum = row_sum(x, n);
  if (sum == sum) return row_max(x, n);
  for (int64_t i = 0; i < n; ++i)
    if (x[i] != x[i]) return x[i];
  return row_max(x, n);
}

// y_r = softmax(scale * x_r + mask_r) for `rows` rows of n elements (x and y rows n apart; y may be x). The mask is
// optional: row r reads mask[r * mask_row_stride + j * mask_step].
using SoftmaxRowsFn = void (*)(const float* x, float* y, int64_t rows, int64_t n, float scale, const float* mask,
                               int64_t mask_row_stride, int64_t mask_step);
SoftmaxRowsFn softmax_rows_fn(Isa isa);

}  // namespace infera::cpu
