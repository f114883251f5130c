// Shared pieces of the elementwise operator families (unary, activation, binary, logical, variadic, cast):
// dtype checks for infer(), value conversion between element types, and tight elementwise loops.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "ops/helpers.h"

namespace infera {

// Sets of element types an operator accepts.
enum TypeSet : unsigned {
  kFloatTypes = 1,
  kSignedTypes = 2,
  kUnsignedTypes = 4,
  kBoolType = 8,
  kIntegerTypes = kSignedTypes | kUnsignedTypes,
  kSignedNumericTypes = kFloatTypes | kSignedTypes,
  kNumericTypes = kFloatTypes | kIntegerTypes,
  kAllTypes = kNumericTypes | kBoolType,
};

inline bool dtype_in(DType t, unsigned set) {
  if (t == DType::Bool) return set & kBoolType;
  if (dtype_is_float(t)) return set & kFloatTypes;
  if (dtype_is_integer(t)) return set & (dtype_is_signed(t) ? kSignedTypes : kUnsignedTypes);
  return false;
}

inline void require_dtype(const OpContext& ctx, int i, unsigned set) {
  if (!dtype_in(ctx.dtype(i), set))
    ctx.fail("input " + std::to_string(i) + " has unsupported type " + std::string(dtype_name(ctx.dtype(i))));
}

inline void require_same_dtype(const OpContext& ctx, int i, int j) {
  if (ctx.dtype(i) != ctx.dtype(j))
    ctx.fail("input types differ: " + std::string(dtype_name(ctx.dtype(i))) + " and " +
             std::string(dtype_name(ctx.dtype(j))));
}

// Shape rule of one-input elementwise ops: output 0 like input 0, whose type must be in Set.
template <unsigned Set>
bool infer_unary(OpContext& ctx) {
  require_dtype(ctx, 0, Set);
  return infer_same_as_input(ctx);
}

// The shape input i of a two-input broadcasting op is read as. Before opset 7 only the second input broadcasts, when
// the `broadcast` attribute is set, with its dimensions aligned at `axis` of the first input (trailing dimensions
// when `axis` is absent, which is numpy's rule too).
inline Shape operand_shape(const OpContext& ctx, int i) {
  const Shape& s = ctx.shape(i);
  if (i != 1 || ctx.opset() >= 7 || ctx.node().attr_int("broadcast", 0) == 0 || !ctx.node().has_attr("axis"))
    return s;
  const int rank = ctx.rank(0), n = int(s.size());
  const int axis = normalize_axis(ctx, ctx.node().attr_int("axis", 0), rank);
  if (axis + n > rank) ctx.fail("broadcast axis " + std::to_string(axis) + " leaves no room for input 1");
  Shape aligned(size_t(rank), 1);
  std::copy(s.begin(), s.end(), aligned.begin() + axis);
  return aligned;
}

// Output shape of a two-input broadcasting op.
inline Shape binary_output_shape(const OpContext& ctx) {
  return broadcast_shapes(ctx, {operand_shape(ctx, 0), operand_shape(ctx, 1)});
}

// Value conversion with ONNX Cast semantics: float to integer truncates toward zero (NaN gives 0, out-of-range
// values saturate instead of being undefined behaviour), anything to bool is "!= 0", 16-bit floats go via float.
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

// y[i] = fn(x[i]) over tensors of the same element count; fn receives and returns compute_t<T> (or anything
// convertible to T through convert()).
template <class T, class Fn>
void map_elements(const Tensor& x, Tensor& y, Fn&& fn) {
  const T* px = x.data<T>();
  T* py = y.data<T>();
  const int64_t n = x.numel();
  for (int64_t i = 0; i < n; ++i) py[i] = convert<T>(fn(compute_t<T>(px[i])));
}

// The type dispatchers as objects, for the generic loops that take one.
inline constexpr auto float_visitor = [](DType t, auto&& f) { return visit_float(t, f); };
inline constexpr auto integer_visitor = [](DType t, auto&& f) { return visit_integer(t, f); };
inline constexpr auto numeric_visitor = [](DType t, auto&& f) { return visit_numeric(t, f); };

// Output 0 = fn(input 0) elementwise, for the input types of `visit`.
template <class Visit, class Fn>
void map_input(OpContext& ctx, Visit visit, Fn&& fn) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  visit(x.dtype(), [&](auto tag) { map_elements<typename decltype(tag)::type>(x, y, fn); });
}

template <class Fn>
void map_float(OpContext& ctx, Fn&& fn) {
  map_input(ctx, float_visitor, fn);
}

// Walks every element of out_shape, calling fn(out_index, offsets) where offsets[k] indexes input k broadcast to
// out_shape. The innermost dimension runs as a plain strided loop; inputs that match the output shape exactly
// share one flat loop.
template <size_t K, class F>
void broadcast_loop(const Shape& out_shape, const std::array<Shape, K>& in_shapes, F&& fn) {
  const int64_t n = shape_numel(out_shape);
  if (n == 0) return;
  std::array<int64_t, K> off{};
  bool same = true;
  for (const Shape& s : in_shapes) same = same && s == out_shape;
  if (same) {
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

// Calls fn(out_index, offset_a, offset_b) for every element of output 0 of a two-input broadcasting op.
template <class F>
void binary_loop(OpContext& ctx, F&& fn) {
  broadcast_loop<2>(ctx.output(0).shape(), {operand_shape(ctx, 0), operand_shape(ctx, 1)},
                    [&](int64_t i, const std::array<int64_t, 2>& off) { fn(i, off[0], off[1]); });
}

}  // namespace infera
