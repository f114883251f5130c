// Small pieces that many operators share: broadcasting, axis normalisation, common shape rules.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "core/dispatch.h"
#include "ops/op.h"

namespace infera {

// Multidirectional (numpy) broadcasting of any number of shapes; fails with the node's label on mismatch.
Shape broadcast_shapes(const OpContext& ctx, const std::vector<Shape>& shapes);

// Strides (in elements) of `in` seen through a broadcast to `out`: 0 along broadcast dimensions.
std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out);

// Walks every element of out_shape, calling fn(out_index, offsets) where offsets[k] indexes input k broadcast to
// out_shape. The innermost dimension runs as a plain strided loop; inputs that match the output shape exactly
// share one flat loop. K is the number of inputs (offsets live in a fixed-size array).
template <size_t K, class F>
void broadcast_loop(const Shape& out_shape, const std::array<Shape, K>& in_shapes, F&& fn) {
  const int64_t n = shape_numel(out_shape);
  if (n == 0) return;
  std::array<int64_t, K> off{};
  bool same = true;
  for (const Shape& s : in_shapes) same = same && s == out_shape;
  if (same || out_shape.empty()) {
    for (int64_t i = 0; i < n; ++i) {
      off.fill(i);
      fn(i, off);
    }
    return;
  }
  const size_t r = out_shape.size();
  std::array<std::vector<int64_t>, K> strides;
  for (size_t k = 0; k < K; ++k) strides[k] = broadcast_strides(in_shapes[k], out_shape);
  const int64_t inner = out_shape[r - 1];
  std::array<int64_t, K> inner_stride;
  for (size_t k = 0; k < K; ++k) inner_stride[k] = strides[k][r - 1];
  std::vector<int64_t> counter(r, 0);
  std::array<int64_t, K> base{};
  for (int64_t i = 0; i < n; i += inner) {
    off = base;
    for (int64_t j = 0; j < inner; ++j) {
      fn(i + j, off);
      for (size_t k = 0; k < K; ++k) off[k] += inner_stride[k];
    }
    for (size_t d = r - 1; d-- > 0;) {  // odometer over the outer dimensions
      ++counter[d];
      for (size_t k = 0; k < K; ++k) base[k] += strides[k][d];
      if (counter[d] < out_shape[d]) break;
      for (size_t k = 0; k < K; ++k) base[k] -= strides[k][d] * counter[d];
      counter[d] = 0;
    }
  }
}

// Value conversion between element types with ONNX Cast semantics: float to integer truncates toward zero (NaN gives
// 0, out-of-range values saturate instead of being undefined behaviour), anything to bool is "!= 0", 16-bit floats go
// via float. Also the one way a double result (reductions, resize) is stored as an element type.
template <class To, class From>
To convert(From v) {
  if constexpr (std::is_same_v<To, From>) {
    return v;
  } else if constexpr (std::is_same_v<To, bool>) {
    return compute_t<From>(v) != 0;
  } else if constexpr (std::is_same_v<From, bool>) {
    return To(compute_t<To>(v ? 1 : 0));
  } else if constexpr (std::is_integral_v<To> && is_float_v<From>) {
    const double d = double(compute_t<From>(v));
    if (std::isnan(d)) return 0;
    // hi is the first value past the range (a power of two, exact in double).
    constexpr double hi = double(std::numeric_limits<To>::max()) + 1.0;
    constexpr double lo = double(std::numeric_limits<To>::min());
    if (d >= hi) return std::numeric_limits<To>::max();
    if (d <= lo) return std::numeric_limits<To>::min();
    return To(d);
  } else if constexpr (std::is_same_v<To, float16> || std::is_same_v<To, bfloat16>) {
    return To(float(compute_t<From>(v)));
  } else {
    return To(compute_t<From>(v));
  }
}

// Maps a possibly negative axis into [0, rank); fails when out of range (always, for rank 0).
int normalize_axis(const OpContext& ctx, int64_t axis, int rank);
std::vector<int> normalize_axes(const OpContext& ctx, const std::vector<int64_t>& axes, int rank);

// a + b and a * b for sizes computed from attributes and input values, failing the node instead of overflowing.
int64_t checked_add(const OpContext& ctx, int64_t a, int64_t b);
int64_t checked_mul(const OpContext& ctx, int64_t a, int64_t b);

// Row-major strides of a shape.
std::vector<int64_t> contiguous_strides(const Shape& shape);

// Shape rule "output 0 has input 0's type and shape".
bool infer_same_as_input(OpContext& ctx);

// Integer list from an optional input (e.g. axes, shape); empty when the input is absent. Returns false when the
// input is present but its value is not known yet (static inference).
bool int_list_input(const OpContext& ctx, int i, std::vector<int64_t>& out);

}  // namespace infera
