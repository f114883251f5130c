// Numeric formats below float32 and the one place where values are converted into and out of them:
//  - 8-bit floats (OCP 8-bit FP; ONNX FLOAT8E4M3FN, FLOAT8E4M3FNUZ, FLOAT8E5M2, FLOAT8E5M2FNUZ), rounded to
//    nearest even with ONNX's `saturate` rule (Cast / QuantizeLinear, opset 19);
//  - 4-bit integers (ONNX INT4, UINT4) and their packing, two per byte;
//  - integer quantization x / scale -> round half to even -> + zero point -> saturate, for int4 to int16.
// float16 and bfloat16 live in infera/dtype.h (core needs them for arithmetic); their rounding is tested with these.
//
// In a Tensor, int4 and uint4 take one byte per element (the value sign-extended, or zero-extended): every
// byte-addressed kernel (Transpose, Gather, Slice, the memory plan, views) then works on them unchanged. They are
// packed two per byte only in files (ONNX raw_data, written by the quantizer); kernels that want packed weights pack
// them when they prepare their weights.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <type_traits>

#include "core/dispatch.h"
#include "infera/dtype.h"

namespace infera {

// An 8-bit float with one sign bit, ExponentBits exponent bits and MantissaBits mantissa bits. The four ONNX formats:
//  - E4M3FN   (bias 7):  no infinities; NaN = S.1111.111; max 448; has -0.
//  - E5M2     (bias 15): IEEE-like: inf = S.11111.00, NaN = S.11111.{01,10,11}; max 57344.
//  - E4M3FNUZ (bias 8), E5M2FNUZ (bias 16): no infinities, no -0; 0x80 is the only NaN; max 240 / 57344.
template <int ExponentBits, int MantissaBits, bool UnsignedZero>
struct float8 {
  static constexpr int kExponentBits = ExponentBits;
  static constexpr int kMantissaBits = MantissaBits;
  static constexpr bool kUnsignedZero = UnsignedZero;
  static constexpr int kBias = (1 << (ExponentBits - 1)) - 1 + (UnsignedZero ? 1 : 0);
  static constexpr bool kHasInfinity = ExponentBits == 5 && !UnsignedZero;
  static constexpr uint8_t kNaN = UnsignedZero ? 0x80 : 0x7f;  // the NaN conversions produce (positive for OCP)
  static constexpr uint8_t kInfinity = 0x7c;                   // E5M2 only
  // The largest finite magnitude, as bits: E4M3FN loses S.1111.111 to NaN, E5M2 loses its top exponent to inf/NaN.
  static constexpr uint8_t kMaxBits = UnsignedZero ? 0x7f : (kHasInfinity ? 0x7b : 0x7e);

  uint8_t bits = 0;

  float8() = default;
  explicit float8(float f, bool saturate = true) : bits(from_float(f, saturate)) {}
  static float8 from_bits(uint8_t b) {
    float8 r;
    r.bits = b;
    return r;
  }
  operator float() const { return to_float(bits); }

  static float max() { return to_float(kMaxBits); }
  static bool is_nan(uint8_t b) {
    if constexpr (UnsignedZero) return b == 0x80;
    else if constexpr (kHasInfinity) return (b & 0x7c) == 0x7c && (b & 0x03) != 0;
    else return (b & 0x7f) == 0x7f;
  }
  static bool is_inf(uint8_t b) { return kHasInfinity && (b & 0x7f) == kInfinity; }

  static float to_float(uint8_t b) {
    if (is_nan(b)) return std::numeric_limits<float>::quiet_NaN();
    const bool negative = (b & 0x80) != 0;
    if (is_inf(b)) return negative ? -std::numeric_limits<float>::infinity() : std::numeric_limits<float>::infinity();
    const int exponent = (b & 0x7f) >> MantissaBits;
    const int mantissa = b & ((1 << MantissaBits) - 1);
    // A subnormal has exponent field 0 and the value mantissa * 2^(1 - bias - MantissaBits); a normal number has the
    // implicit leading one. Both are exact in float.
    const float magnitude =
        exponent == 0 ? std::ldexp(float(mantissa), 1 - kBias - MantissaBits)
                      : std::ldexp(float(mantissa + (1 << MantissaBits)), exponent - kBias - MantissaBits);
    return negative ? -magnitude : magnitude;
  }

  // Round to nearest, ties to even. Out of range (after rounding) and infinities follow ONNX Cast (opset 19):
  // saturate -> +-max; otherwise -> +-inf for E5M2 and NaN for the others. NaN -> NaN. Zero keeps its sign except in
  // the FNUZ formats. (Cast's table says that saturating an infinity to FNUZ gives NaN, but ONNX's reference
  // implementation and ONNX Runtime give +-max, as here.)
  static uint8_t from_float(float f, bool saturate = true) {
    uint32_t x;
    std::memcpy(&x, &f, 4);
    const uint8_t sign = uint8_t((x >> 24) & 0x80);
    const uint32_t a = x & 0x7fffffffu;
    if (a > 0x7f800000u) return UnsignedZero ? kNaN : uint8_t(sign | kNaN);
    auto overflow = [&]() -> uint8_t {
      if (saturate) return uint8_t(sign | kMaxBits);
      if constexpr (kHasInfinity) return uint8_t(sign | kInfinity);
      return UnsignedZero ? kNaN : uint8_t(sign | kNaN);
    };
    if (a == 0x7f800000u) return overflow();
    // a = significand * 2^(exponent - 23) with a 24-bit significand (float32 subnormals: exponent field 0 reads as 1).
    const int biased = int(a >> 23);
    const uint32_t significand = (a & 0x7fffffu) | (biased ? 0x800000u : 0u);
    const int exponent = (biased ? biased : 1) - 127;
    constexpr int kMinExponent = 1 - kBias;  // of the smallest normal
    // Keep MantissaBits bits below the leading one, or fewer for a result that is subnormal in 8 bits.
    const int result_exponent = exponent < kMinExponent ? kMinExponent : exponent;
    const int shift = 23 - MantissaBits + (result_exponent - exponent);
    uint32_t q = 0;
    if (shift <= 24) {  // else below half the smallest subnormal: rounds to zero
      q = significand >> shift;
      const uint32_t rest = significand & ((1u << shift) - 1u), half = 1u << (shift - 1);
      if (rest > half || (rest == half && (q & 1u))) ++q;
    }
    // q counts units of 2^(result_exponent - MantissaBits); for a subnormal the exponent field is 0, and a carry out
    // of the mantissa moves into the exponent field, so one formula encodes every case.
    const int magnitude = ((result_exponent + kBias - 1) << MantissaBits) + int(q);
    if (magnitude > kMaxBits) return overflow();
    if (magnitude == 0) return UnsignedZero ? 0 : sign;
    return uint8_t(sign | magnitude);
  }
};

using float8_e4m3fn = float8<4, 3, false>;
using float8_e4m3fnuz = float8<4, 3, true>;
using float8_e5m2 = float8<5, 2, false>;
using float8_e5m2fnuz = float8<5, 2, true>;
static_assert(sizeof(float8_e4m3fn) == 1 && sizeof(float8_e5m2fnuz) == 1);

// 4-bit integers, one per byte in memory (see the top of this file). `value` is always in range.
struct int4 {
  int8_t value = 0;
  static constexpr int kMin = -8, kMax = 7;
};
struct uint4 {
  uint8_t value = 0;
  static constexpr int kMin = 0, kMax = 15;
};
static_assert(sizeof(int4) == 1 && sizeof(uint4) == 1);

template <> constexpr DType dtype_of<float8_e4m3fn>() { return DType::Float8E4M3FN; }
template <> constexpr DType dtype_of<float8_e4m3fnuz>() { return DType::Float8E4M3FNUZ; }
template <> constexpr DType dtype_of<float8_e5m2>() { return DType::Float8E5M2; }
template <> constexpr DType dtype_of<float8_e5m2fnuz>() { return DType::Float8E5M2FNUZ; }
template <> constexpr DType dtype_of<int4>() { return DType::Int4; }
template <> constexpr DType dtype_of<uint4>() { return DType::UInt4; }

template <class T> inline constexpr bool is_float8_v = false;
template <int E, int M, bool U> inline constexpr bool is_float8_v<float8<E, M, U>> = true;
template <class T> inline constexpr bool is_int4_v = std::is_same_v<T, int4> || std::is_same_v<T, uint4>;

// The 4-bit value in the low nibble of `bits`: sign-extended from bit 3 for int4.
template <class Q>
  requires is_int4_v<Q>
inline Q int4_from_nibble(uint8_t bits) {
  const uint8_t nibble = bits & 0x0f;
  if constexpr (std::is_same_v<Q, int4>) return Q{int8_t(int8_t(nibble << 4) >> 4)};
  else return Q{nibble};
}

// The four 8-bit float types; others throw.
template <class F>
decltype(auto) visit_float8(DType t, F&& f) {
  switch (t) {
    case DType::Float8E4M3FN: return f(TypeTag<float8_e4m3fn>{});
    case DType::Float8E4M3FNUZ: return f(TypeTag<float8_e4m3fnuz>{});
    case DType::Float8E5M2: return f(TypeTag<float8_e5m2>{});
    case DType::Float8E5M2FNUZ: return f(TypeTag<float8_e5m2fnuz>{});
    default: unsupported_dtype(t, "this operation (8-bit float types only)");
  }
}

// The element types QuantizeLinear produces and DequantizeLinear reads: int8, uint8, int16, uint16, int4, uint4 and
// the 8-bit floats.
inline bool is_quantized_type(DType t) {
  return t == DType::Int8 || t == DType::UInt8 || t == DType::Int16 || t == DType::UInt16 || dtype_is_int4(t) ||
         dtype_is_float8(t);
}

template <class F>
decltype(auto) visit_quantized(DType t, F&& f) {
  switch (t) {
    case DType::Int8: return f(TypeTag<int8_t>{});
    case DType::UInt8: return f(TypeTag<uint8_t>{});
    case DType::Int16: return f(TypeTag<int16_t>{});
    case DType::UInt16: return f(TypeTag<uint16_t>{});
    case DType::Int4: return f(TypeTag<int4>{});
    case DType::UInt4: return f(TypeTag<uint4>{});
    default:
      if (dtype_is_float8(t)) return visit_float8(t, std::forward<F>(f));
      unsupported_dtype(t, "this operation (int4 to int16, uint4 to uint16, 8-bit floats)");
  }
}

// Every type with fixed-size storage: visit_dtype's, the 8-bit floats and the 4-bit integers.
template <class F>
decltype(auto) visit_storage_type(DType t, F&& f) {
  if (dtype_is_float8(t)) return visit_float8(t, std::forward<F>(f));
  if (t == DType::Int4) return f(TypeTag<int4>{});
  if (t == DType::UInt4) return f(TypeTag<uint4>{});
  return visit_dtype(t, std::forward<F>(f));
}

// ---- Integer quantization ----

// The range of a quantized integer type Q (int8_t, uint8_t, int16_t, uint16_t, int4, uint4).
template <class Q>
struct quant_limits {
  static constexpr int64_t min = std::numeric_limits<Q>::min(), max = std::numeric_limits<Q>::max();
  static Q make(int64_t v) { return Q(v); }
  static int64_t value(Q q) { return int64_t(q); }
};
template <class Q>
  requires is_int4_v<Q>
struct quant_limits<Q> {
  static constexpr int64_t min = Q::kMin, max = Q::kMax;
  static Q make(int64_t v) { return Q{static_cast<decltype(Q::value)>(v)}; }
  static int64_t value(Q q) { return q.value; }
};

// round_half_to_even(v) + zero_point, saturated to Q's range: ONNX QuantizeLinear after the division by the scale.
// NaN maps to the zero point (it has no integer value).
template <class Q, class F>
inline Q quantize_round(F v, int64_t zero_point) {
  constexpr F lo = F(quant_limits<Q>::min), hi = F(quant_limits<Q>::max);
  if (std::isnan(v)) v = 0;
  F r = std::nearbyint(v) + F(zero_point);  // the default rounding mode rounds halves to even
  r = r < lo ? lo : (r > hi ? hi : r);
  return quant_limits<Q>::make(int64_t(r));
}

// A quantized element's real value before the scale: the integer, or the 8-bit float's value.
template <class Q>
inline double quantized_value(Q q) {
  if constexpr (is_float8_v<Q>) return double(float(q));
  else if constexpr (is_int4_v<Q>) return q.value;
  else return double(q);
}

// ONNX QuantizeLinear of one value already divided by its scale (in the input's precision F), into any quantized
// type: integers round half to even, add the zero point and saturate; 8-bit floats add the zero point (normally 0,
// and then not added, so that -0 stays -0 as in ONNX Runtime) and round to nearest even, out-of-range values
// following `saturate` (see float8::from_float).
template <class Q, class F>
inline Q quantize_scaled(F v, Q zero_point, bool saturate = true) {
  if constexpr (is_float8_v<Q>) {
    const double zp = quantized_value(zero_point);
    return Q(float(zp == 0 ? v : v + F(zp)), saturate);
  } else {
    return quantize_round<Q>(v, quant_limits<Q>::value(zero_point));
  }
}

// ONNX QuantizeLinear for one float value: x / scale, then as quantize_scaled.
template <class Q>
inline Q quantize_value(float x, float scale, Q zero_point, bool saturate = true) {
  return quantize_scaled<Q>(x / scale, zero_point, saturate);
}

// True when quantizing to int8 or uint8 with (scale, zero_point) saturates wherever a clip to [lo, hi] clips: Q(lo)
// is the type's minimum and Q(hi) its maximum, so Q(clip(x, lo, hi)) = Q(x) for every x and the clip can go.
inline bool quantization_clips_at(float lo, float hi, float scale, int64_t zero_point, bool is_unsigned) {
  if (is_unsigned)
    return quantize_value<uint8_t>(lo, scale, uint8_t(zero_point)) == 0 &&
           quantize_value<uint8_t>(hi, scale, uint8_t(zero_point)) == 255;
  return quantize_value<int8_t>(lo, scale, int8_t(zero_point)) == -128 &&
         quantize_value<int8_t>(hi, scale, int8_t(zero_point)) == 127;
}

// ONNX DequantizeLinear for one value: (q - zero_point) * scale.
template <class Q>
inline float dequantize_value(Q q, float scale, Q zero_point) {
  return float(quantized_value(q) - quantized_value(zero_point)) * scale;
}

// ONNX Cast to a 4-bit type (ONNX docs/technical/int4.md): round half to even, then keep the low 4 bits (wrapping,
// as Cast between integer types does). NaN, infinities and values beyond int64 give 0. (ONNX Runtime 1.30 rounds
// halves away from zero here; its reference implementation clips instead of wrapping.)
template <class Q>
  requires is_int4_v<Q>
inline Q cast_to_int4(double v) {
  const double r = std::nearbyint(v);
  const int64_t i = std::isfinite(r) && std::fabs(r) < 9.2e18 ? int64_t(r) : 0;
  return int4_from_nibble<Q>(uint8_t(i & 0x0f));
}

// The representable range of a quantized element type (integers, int4, 8-bit floats): what calibration maps the
// observed range onto. Throws for other types.
struct QuantRange {
  double min = 0, max = 0;
};
QuantRange quant_range(DType t);

// ---- int4 packing (ONNX: element 2i in the low nibble of byte i, element 2i+1 in the high nibble; an odd count
// leaves the last high nibble 0) ----

inline size_t int4_packed_bytes(size_t count) { return count / 2 + count % 2; }

// Packs values (each in range) into int4_packed_bytes(values.size()) bytes.
template <class Q>
  requires is_int4_v<Q>
void pack_int4(std::span<const Q> values, std::span<uint8_t> packed);

// Unpacks values.size() elements from int4_packed_bytes(values.size()) bytes.
template <class Q>
  requires is_int4_v<Q>
void unpack_int4(std::span<const uint8_t> packed, std::span<Q> values);

// Unpacks `count` elements of type t (Int4 or UInt4) stored packed at the front of data, which holds count bytes,
// into one element per byte, in place (the importer reads packed file data into the tensor's own storage).
void unpack_int4_in_place(DType t, uint8_t* data, size_t count);

}  // namespace infera
