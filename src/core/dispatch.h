// Calls a generic lambda with a type tag for a runtime dtype: visit_dtype(dt, [&](auto tag) { using T = typename
// decltype(tag)::type; ... }). The *_float / *_numeric variants restrict the set and throw for the others, so a
// kernel states which types it accepts in one word.
#pragma once

#include <string>
#include <type_traits>

#include "infera/dtype.h"
#include "infera/error.h"

namespace infera {

template <class T> struct TypeTag { using type = T; };

template <class T>
inline constexpr bool is_float_v =
    std::is_floating_point_v<T> || std::is_same_v<T, float16> || std::is_same_v<T, bfloat16>;

// Arithmetic type used to compute on T: float for the 16-bit floats, T otherwise.
template <class T> struct compute_type { using type = T; };
template <> struct compute_type<float16> { using type = float; };
template <> struct compute_type<bfloat16> { using type = float; };
template <class T> using compute_t = typename compute_type<T>::type;

[[noreturn]] inline void unsupported_dtype(DType t, const char* what) {
  throw Error(std::string("type ") + std::string(dtype_name(t)) + " is not supported by " + what);
}

template <class F>
decltype(auto) visit_float(DType t, F&& f) {
  switch (t) {
    case DType::Float32: return f(TypeTag<float>{});
    case DType::Float64: return f(TypeTag<double>{});
    case DType::Float16: return f(TypeTag<float16>{});
    case DType::BFloat16: return f(TypeTag<bfloat16>{});
    default: unsupported_dtype(t, "this operation (float types only)");
  }
}

template <class F>
decltype(auto) visit_integer(DType t, F&& f) {
  switch (t) {
    case DType::Int8: return f(TypeTag<int8_t>{});
    case DType::UInt8: return f(TypeTag<uint8_t>{});
    case DType::Int16: return f(TypeTag<int16_t>{});
    case DType::UInt16: return f(TypeTag<uint16_t>{});
    case DType::Int32: return f(TypeTag<int32_t>{});
    case DType::UInt32: return f(TypeTag<uint32_t>{});
    case DType::Int64: return f(TypeTag<int64_t>{});
    case DType::UInt64: return f(TypeTag<uint64_t>{});
    default: unsupported_dtype(t, "this operation (integer types only)");
  }
}

// All numeric types (floats and integers), not bool.
template <class F>
decltype(auto) visit_numeric(DType t, F&& f) {
  if (dtype_is_float(t)) return visit_float(t, std::forward<F>(f));
  return visit_integer(t, std::forward<F>(f));
}

// Every type with fixed-size storage, bool included.
template <class F>
decltype(auto) visit_dtype(DType t, F&& f) {
  if (t == DType::Bool) return f(TypeTag<bool>{});
  return visit_numeric(t, std::forward<F>(f));
}

}  // namespace infera
