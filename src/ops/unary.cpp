// One-input elementwise math: Abs, Neg, Sign, rounding, trigonometric/hyperbolic, Exp/Log/Sqrt, Erf, IsInf/IsNaN,
// Not, BitwiseNot.
#include "ops/elementwise.h"

namespace infera {
namespace {

template <class Fn>
void map_numeric(OpContext& ctx, Fn fn) {
  map_input(ctx, numeric_visitor, fn);
}

// Output 0 (bool) = pred(input 0) for float inputs.
template <class Pred>
void classify_float(OpContext& ctx, Pred pred) {
  const Tensor& x = ctx.input(0);
  bool* py = ctx.output(0).data<bool>();
  visit_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = x.data<T>();
    for (int64_t i = 0, n = x.numel(); i < n; ++i) py[i] = pred(compute_t<T>(px[i]));
  });
}

bool infer_classify_float(OpContext& ctx) {
  require_dtype(ctx, 0, kFloatTypes);
  ctx.set_output(0, DType::Bool, ctx.shape(0));
  return true;
}

void abs_op(OpContext& ctx) {
  map_numeric(ctx, [](auto x) -> decltype(x) {
    using C = decltype(x);
    if constexpr (std::is_floating_point_v<C>) return std::fabs(x);
    else if constexpr (std::is_unsigned_v<C>) return x;
    else return C(x < 0 ? -x : x);
  });
}
void neg(OpContext& ctx) { map_numeric(ctx, [](auto x) { return decltype(x)(-x); }); }
void sign(OpContext& ctx) {
  map_numeric(ctx, [](auto x) -> decltype(x) {
    using C = decltype(x);
    if constexpr (std::is_floating_point_v<C>) {
      if (std::isnan(x)) return x;
    }
    return C((x > 0) - (x < 0));
  });
}
void reciprocal(OpContext& ctx) { map_float(ctx, [](auto x) { return decltype(x)(1) / x; }); }
void ceil_op(OpContext& ctx) { map_float(ctx, [](auto x) { return std::ceil(x); }); }
void floor_op(OpContext& ctx) { map_float(ctx, [](auto x) { return std::floor(x); }); }
// nearbyint in the default rounding mode rounds halves to even, as ONNX Round requires.
void round_op(OpContext& ctx) { map_float(ctx, [](auto x) { return std::nearbyint(x); }); }
void exp_op(OpContext& ctx) { map_float(ctx, [](auto x) { return std::exp(x); }); }
void log_op(OpContext& ctx) { map_float(ctx, [](auto x) { return std::log(x); }); }
void sqrt_op(OpContext& ctx) { map_float(ctx, [](auto x) { return std::sqrt(x); }); }
void erf_op(OpContext& ctx) { map_float(ctx, [](auto x) { return std::erf(x); }); }
void sin_op(OpContext& ctx) { map_float(ctx, [](auto x) { return std::sin(x); }); }
void cos_op(OpContext& ctx) { map_float(ctx, [](auto x) { return std::cos(x); }); }
void tan_op(OpContext& ctx) { map_float(ctx, [](auto x) { return std::tan(x); }); }
void asin_op(OpContext& ctx) { map_float(ctx, [](auto x) { return std::asin(x); }); }
void acos_op(OpContext& ctx) { map_float(ctx, [](auto x) { return std::acos(x); }); }
void atan_op(OpContext& ctx) { map_float(ctx, [](auto x) { return std::atan(x); }); }
void sinh_op(OpContext& ctx) { map_float(ctx, [](auto x) { return std::sinh(x); }); }
void cosh_op(OpContext& ctx) { map_float(ctx, [](auto x) { return std::cosh(x); }); }
void tanh_op(OpContext& ctx) { map_float(ctx, [](auto x) { return std::tanh(x); }); }
void asinh_op(OpContext& ctx) { map_float(ctx, [](auto x) { return std::asinh(x); }); }
void acosh_op(OpContext& ctx) { map_float(ctx, [](auto x) { return std::acosh(x); }); }
void atanh_op(OpContext& ctx) { map_float(ctx, [](auto x) { return std::atanh(x); }); }

void isnan_op(OpContext& ctx) { classify_float(ctx, [](auto x) { return std::isnan(x); }); }
void isinf_op(OpContext& ctx) {
  const bool positive = ctx.node().attr_int("detect_positive", 1) != 0;
  const bool negative = ctx.node().attr_int("detect_negative", 1) != 0;
  classify_float(ctx, [&](auto x) { return std::isinf(x) && (x > 0 ? positive : negative); });
}

void not_op(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const bool* px = x.data<bool>();
  bool* py = ctx.output(0).data<bool>();
  for (int64_t i = 0, n = x.numel(); i < n; ++i) py[i] = !px[i];
}
void bitwise_not(OpContext& ctx) {
  map_input(ctx, integer_visitor, [](auto x) { return decltype(x)(~x); });
}

}  // namespace

void register_unary_ops(OpTable& t) {
  constexpr auto infer_float = infer_unary<kFloatTypes>;
  t.add({.name = "Abs", .infer = infer_unary<kNumericTypes>, .compute = abs_op});
  t.add({.name = "Neg", .infer = infer_unary<kSignedNumericTypes>, .compute = neg});
  t.add({.name = "Sign", .infer = infer_unary<kNumericTypes>, .compute = sign});
  t.add({.name = "Reciprocal", .infer = infer_float, .compute = reciprocal});
  t.add({.name = "Ceil", .infer = infer_float, .compute = ceil_op});
  t.add({.name = "Floor", .infer = infer_float, .compute = floor_op});
  t.add({.name = "Round", .infer = infer_float, .compute = round_op});
  t.add({.name = "Exp", .infer = infer_float, .compute = exp_op});
  t.add({.name = "Log", .infer = infer_float, .compute = log_op});
  t.add({.name = "Sqrt", .infer = infer_float, .compute = sqrt_op});
  t.add({.name = "Erf", .infer = infer_float, .compute = erf_op});
  t.add({.name = "Sin", .infer = infer_float, .compute = sin_op});
  t.add({.name = "Cos", .infer = infer_float, .compute = cos_op});
  t.add({.name = "Tan", .infer = infer_float, .compute = tan_op});
  t.add({.name = "Asin", .infer = infer_float, .compute = asin_op});
  t.add({.name = "Acos", .infer = infer_float, .compute = acos_op});
  t.add({.name = "Atan", .infer = infer_float, .compute = atan_op});
  t.add({.name = "Sinh", .infer = infer_float, .compute = sinh_op});
  t.add({.name = "Cosh", .infer = infer_float, .compute = cosh_op});
  t.add({.name = "Tanh", .infer = infer_float, .compute = tanh_op});
  t.add({.name = "Asinh", .infer = infer_float, .compute = asinh_op});
  t.add({.name = "Acosh", .infer = infer_float, .compute = acosh_op});
  t.add({.name = "Atanh", .infer = infer_float, .compute = atanh_op});
  t.add({.name = "IsNaN", .infer = infer_classify_float, .compute = isnan_op});
  t.add({.name = "IsInf", .infer = infer_classify_float, .compute = isinf_op});
  t.add({.name = "Not", .infer = infer_unary<kBoolType>, .compute = not_op});
  t.add({.name = "BitwiseNot", .infer = infer_unary<kIntegerTypes>, .compute = bitwise_not});
}

}  // namespace infera
