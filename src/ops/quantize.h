// Pieces shared by the quantized operators (QuantizeLinear, QLinear*, MatMulInteger, ConvInteger): the quantized
// element types, reading scales and zero points, and the choice of an accumulator wide enough for an integer dot
// product. The conversions themselves (quantize_round, 8-bit floats, int4) are in quant/formats.h.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "ops/helpers.h"
#include "quant/formats.h"

namespace infera {

// Default-domain ops that only move or select values (MaxPool, Reshape, Flatten, Transpose, Squeeze, Unsqueeze):
// with one quantization on input and output they run on the quantized bytes, so the quantizer gives their output
// its input's quantization and QDQ fusion drops the pair around them.
inline bool moves_values_only(const std::string& op) {
  return op == "MaxPool" || op == "Reshape" || op == "Flatten" || op == "Transpose" || op == "Squeeze" ||
         op == "Unsqueeze";
}

// The 8-bit quantized element types, for kernels that work through a 256-entry lookup table.
template <class F>
decltype(auto) visit_quantized8(DType t, F&& f) {
  switch (t) {
    case DType::Int8:
      return f(TypeTag<int8_t>{});
    case DType::UInt8:
      return f(TypeTag<uint8_t>{});
    default:
      unsupported_dtype(t, "this operation (int8, uint8)");
  }
}

// Every element as double (scales), or as int64 (zero points).
inline std::vector<double> double_values(const Tensor& t) {
  std::vector<double> v(size_t(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) v[size_t(i)] = t.as_double(i);
  return v;
}

// A per-tensor scale / zero point: input i must hold exactly one element. An absent zero point is 0.
inline void check_scalar_param(const OpContext& ctx, int i, const char* what) {
  if (!ctx.has_input(i)) return;
  if (shape_numel(ctx.shape(i)) != 1)
    ctx.fail(std::string(what) + " must hold one value (per-tensor), got shape " + shape_str(ctx.shape(i)));
}
inline float scalar_scale(const OpContext& ctx, int i) { return float(ctx.input(i).as_double(0)); }
inline int64_t scalar_zero_point(const OpContext& ctx, int i) { return ctx.has_input(i) ? ctx.input(i).as_int(0) : 0; }

// Calls f(TypeTag<Acc>) with an accumulator that cannot overflow on a dot product of length k between values of
// at most 255 in magnitude (8-bit data minus an 8-bit zero point): int32 when it fits, int64 otherwise.
template <class F>
void with_accumulator(int64_t k, F&& f) {
  constexpr int64_t kMaxProduct = 255 * 255;
  if (k <= std::numeric_limits<int32_t>::max() / kMaxProduct)
    f(TypeTag<int32_t>{});
  else
    f(TypeTag<int64_t>{});
}

}  // namespace infera
