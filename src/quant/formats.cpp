#include "quant/formats.h"

#include <string>

namespace infera {
namespace {

template <class Q>
uint8_t low_nibble(Q v) {
  return uint8_t(v.value) & 0x0f;
}

template <class Q>
void unpack_backwards(uint8_t* data, size_t count) {
  // Element i reads byte i / 2 <= i: walking down from the end, every byte is read before it is overwritten.
  for (size_t i = count; i-- > 0;) {
    const uint8_t byte = data[i / 2];
    data[i] = uint8_t(int4_from_nibble<Q>(i % 2 ? uint8_t(byte >> 4) : byte).value);
  }
}

}  // namespace

QuantRange quant_range(DType t) {
  switch (t) {
    case DType::Int8: return {-128, 127};
    case DType::UInt8: return {0, 255};
    case DType::Int16: return {-32768, 32767};
    case DType::UInt16: return {0, 65535};
    case DType::Int4: return {int4::kMin, int4::kMax};
    case DType::UInt4: return {uint4::kMin, uint4::kMax};
    default:
      if (dtype_is_float8(t))
        return visit_float8(t, [](auto tag) {
          using F = typename decltype(tag)::type;
          return QuantRange{-double(F::max()), double(F::max())};
        });
      throw Error("type " + std::string(dtype_name(t)) + " is not a quantized type");
  }
}

template <class Q>
  requires is_int4_v<Q>
void pack_int4(std::span<const Q> values, std::span<uint8_t> packed) {
  if (packed.size() != int4_packed_bytes(values.size()))
    throw Error("pack_int4: " + std::to_string(values.size()) + " values need " +
                std::to_string(int4_packed_bytes(values.size())) + " bytes, got " + std::to_string(packed.size()));
  for (size_t i = 0; i + 1 < values.size(); i += 2)
    packed[i / 2] = uint8_t(low_nibble(values[i]) | low_nibble(values[i + 1]) << 4);
  if (values.size() % 2) packed.back() = low_nibble(values.back());
}

template <class Q>
  requires is_int4_v<Q>
void unpack_int4(std::span<const uint8_t> packed, std::span<Q> values) {
  if (packed.size() != int4_packed_bytes(values.size()))
    throw Error("unpack_int4: " + std::to_string(values.size()) + " values need " +
                std::to_string(int4_packed_bytes(values.size())) + " bytes, got " + std::to_string(packed.size()));
  for (size_t i = 0; i < values.size(); ++i) {
    const uint8_t byte = packed[i / 2];
    values[i] = int4_from_nibble<Q>(i % 2 ? uint8_t(byte >> 4) : byte);
  }
}

template void pack_int4<int4>(std::span<const int4>, std::span<uint8_t>);
template void pack_int4<uint4>(std::span<const uint4>, std::span<uint8_t>);
template void unpack_int4<int4>(std::span<const uint8_t>, std::span<int4>);
template void unpack_int4<uint4>(std::span<const uint8_t>, std::span<uint4>);

void unpack_int4_in_place(DType t, uint8_t* data, size_t count) {
  if (t == DType::Int4)
    unpack_backwards<int4>(data, count);
  else if (t == DType::UInt4)
    unpack_backwards<uint4>(data, count);
  else
    throw Error("unpack_int4_in_place: type " + std::string(dtype_name(t)) + " is not a 4-bit integer type");
}

}  // namespace infera
