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

// Calls fn(out_index, offset_a, offset_b) for every element of output 0 of a two-input broadcasting op.
template <class F>
void binary_loop(OpContext& ctx, F&& fn) {
  broadcast_loop<2>(ctx.output(0).shape(), {operand_shape(ctx, 0), operand_shape(ctx, 1)},
                    [&](int64_t i, const std::array<int64_t, 2>& off) { fn(i, off[0], off[1]); });
}

}  // namespace infera
