// Cast and CastLike: conversion between every numeric type, bool, the 8-bit floats and the 4-bit integers. Strings
// are not supported. The low-precision conversions are those of quant/formats.h; `saturate` (opset 19) says what
// happens to values out of an 8-bit float's range.
#include "ops/elementwise.h"
#include "quant/formats.h"

namespace infera {
namespace {

bool castable(DType t) { return dtype_in(t, kAllTypes) || dtype_is_float8(t) || dtype_is_int4(t); }

bool infer_cast_to(OpContext& ctx, DType to) {
  if (!castable(ctx.dtype(0)))
    ctx.fail("input 0 has unsupported type " + std::string(dtype_name(ctx.dtype(0))));
  if (!castable(to)) ctx.fail("cannot cast to type " + std::to_string(int(to)) + " (unsupported)");
  ctx.set_output(0, to, ctx.shape(0));
  return true;
}

bool infer_cast(OpContext& ctx) {
  if (!ctx.node().has_attr("to")) ctx.fail("missing attribute 'to'");
  return infer_cast_to(ctx, DType(ctx.node().attr_int("to", 0)));
}

bool infer_cast_like(OpContext& ctx) { return infer_cast_to(ctx, ctx.dtype(1)); }

// One element. The low-precision types are read through their value (float, or the small integer) and written from
// float (8-bit floats, with `saturate`) or from the value rounded half to even and wrapped to 4 bits (4-bit integers);
// everything else is convert<>'s ONNX Cast semantics.
template <class To, class From>
To cast_value(From v, bool saturate) {
  if constexpr (is_float8_v<From>) {
    return cast_value<To>(float(v), saturate);
  } else if constexpr (is_int4_v<From>) {
    return cast_value<To>(v.value, saturate);
  } else if constexpr (is_float8_v<To>) {
    return To(convert<float>(v), saturate);
  } else if constexpr (is_int4_v<To>) {
    return cast_to_int4<To>(convert<double>(v));
  } else {
    return convert<To>(v);
  }
}

void cast(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const DType to = ctx.output_type(0).dtype;
  if (x.dtype() == to) {
    ctx.set_output_tensor(0, x);
    return;
  }
  const bool saturate = ctx.opset() < 19 || ctx.node().attr_int("saturate", 1) != 0;
  Tensor& y = ctx.output(0);
  visit_storage_type(x.dtype(), [&](auto from_tag) {
    using From = typename decltype(from_tag)::type;
    visit_storage_type(to, [&](auto to_tag) {
      using To = typename decltype(to_tag)::type;
      const From* px = x.data<From>();
      To* py = y.data<To>();
      for (int64_t i = 0, n = x.numel(); i < n; ++i) py[i] = cast_value<To>(px[i], saturate);
    });
  });
}

}  // namespace

void register_cast_ops(OpTable& t) {
  t.add({.name = "Cast", .infer = infer_cast, .compute = cast});
  t.add({.name = "CastLike", .infer = infer_cast_like, .compute = cast});
}

}  // namespace infera
