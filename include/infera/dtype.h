// Element types. The numeric values equal ONNX's TensorProto.DataType so that import is a cast.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace infera {

enum class DType : int32_t {
  Undefined = 0,
  Float32 = 1,
  UInt8 = 2,
  Int8 = 3,
  UInt16 = 4,
  Int16 = 5,
  Int32 = 6,
  Int64 = 7,
  String = 8,
  Bool = 9,
  Float16 = 10,
  Float64 = 11,
  UInt32 = 12,
  UInt64 = 13,
  BFloat16 = 16,
  Float8E4M3FN = 17,
  Float8E4M3FNUZ = 18,
  Float8E5M2 = 19,
  Float8E5M2FNUZ = 20,
  UInt4 = 21,  // one element per byte in a Tensor, packed two per byte only in files (src/quant/formats.h)
  Int4 = 22,
};

// Size of one element in bytes; 0 for types that have no fixed-size storage here (String, Undefined).
size_t dtype_size(DType t);
std::string_view dtype_name(DType t);  // "float32", "int64", ...
bool dtype_is_float(DType t);          // float16, bfloat16, float32, float64
bool dtype_is_integer(DType t);        // signed and unsigned integers (not bool)
bool dtype_is_signed(DType t);
bool dtype_is_int8(DType t);           // int8 and uint8: integer-quantized values
// The storage-only formats of quantized models: 8-bit floats and 4-bit integers. Their element structs and every
// conversion to and from them are in src/quant/formats.h; they are neither "float" nor "integer" above, so that
// arithmetic kernels do not claim them.
bool dtype_is_float8(DType t);
bool dtype_is_int4(DType t);

// IEEE 754 binary16, stored as bits; arithmetic goes through float.
struct float16 {
  uint16_t bits = 0;
  float16() = default;
  explicit float16(float f) : bits(from_float(f)) {}
  operator float() const { return to_float(bits); }

  static float to_float(uint16_t h) {
    uint32_t sign = uint32_t(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    uint32_t bits32;
    if (exp == 0x1f) {
      bits32 = sign | 0x7f800000u | (mant << 13);
    } else if (exp != 0) {
      bits32 = sign | ((exp + 112) << 23) | (mant << 13);
    } else if (mant == 0) {
      bits32 = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do { ++e; mant <<= 1; } while ((mant & 0x400) == 0);
      bits32 = sign | (uint32_t(112 - e) << 23) | ((mant & 0x3ff) << 13);
    }
    float f;
    std::memcpy(&f, &bits32, 4);
    return f;
  }

  // Round to nearest even, with overflow to infinity and NaN kept quiet.
  static uint16_t from_float(float f) {
    uint32_t x;
    std::memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t absx = x & 0x7fffffff;
    if (absx >= 0x7f800000u) return uint16_t(sign | 0x7c00 | (absx > 0x7f800000u ? 0x200 : 0));
    if (absx >= 0x477ff000u) return uint16_t(sign | 0x7c00);  // rounds past 65504
    if (absx < 0x38800000u) {                                  // subnormal or zero in half
      if (absx < 0x33000000u) return uint16_t(sign);           // below half the smallest subnormal
      uint32_t e = absx >> 23;
      uint32_t m = (absx & 0x7fffff) | 0x800000;
      uint32_t shift = 126 - e;  // 14..24
      uint32_t half = m >> shift;
      uint32_t rem = m & ((1u << shift) - 1);
      uint32_t mid = 1u << (shift - 1);
      if (rem > mid || (rem == mid && (half & 1))) ++half;
      return uint16_t(sign | half);
    }
    uint32_t r = absx + 0xfff + ((absx >> 13) & 1);  // round to nearest even on bit 13
    r -= 0x38000000u;                                // rebias exponent 127 -> 15
    return uint16_t(sign | (r >> 13));
  }
};

// bfloat16: the upper half of a float32, rounded to nearest even.
struct bfloat16 {
  uint16_t bits = 0;
  bfloat16() = default;
  explicit bfloat16(float f) : bits(from_float(f)) {}
  operator float() const { return to_float(bits); }

  static float to_float(uint16_t b) {
    uint32_t x = uint32_t(b) << 16;
    float f;
    std::memcpy(&f, &x, 4);
    return f;
  }
  static uint16_t from_float(float f) {
    uint32_t x;
    std::memcpy(&x, &f, 4);
    if ((x & 0x7fffffff) > 0x7f800000u) return uint16_t((x >> 16) | 0x40);  // quiet NaN
    x += 0x7fff + ((x >> 16) & 1);
    return uint16_t(x >> 16);
  }
};

template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::Float32; }
template <> constexpr DType dtype_of<double>() { return DType::Float64; }
template <> constexpr DType dtype_of<float16>() { return DType::Float16; }
template <> constexpr DType dtype_of<bfloat16>() { return DType::BFloat16; }
template <> constexpr DType dtype_of<int8_t>() { return DType::Int8; }
template <> constexpr DType dtype_of<uint8_t>() { return DType::UInt8; }
template <> constexpr DType dtype_of<int16_t>() { return DType::Int16; }
template <> constexpr DType dtype_of<uint16_t>() { return DType::UInt16; }
template <> constexpr DType dtype_of<int32_t>() { return DType::Int32; }
template <> constexpr DType dtype_of<uint32_t>() { return DType::UInt32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::Int64; }
template <> constexpr DType dtype_of<uint64_t>() { return DType::UInt64; }
template <> constexpr DType dtype_of<bool>() { return DType::Bool; }

}  // namespace infera
