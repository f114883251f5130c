// Cast and CastLike: conversion between every numeric type and bool. Strings and the 8-bit float types are not
// supported, so Cast's `saturate` attribute (which only concerns 8-bit floats) has nothing to act on.
#include "ops/elementwise.h"

namespace infera {
namespace {

bool infer_cast_to(OpContext& ctx, DType to) {
  require_dtype(ctx, 0, kAllTypes);
  if (!dtype_in(to, kAllTypes)) ctx.fail("cannot cast to type " + std::to_string(int(to)) + " (unsupported)");
  ctx.set_output(0, to, ctx.shape(0));
  return true;
}

bool infer_cast(OpContext& ctx) {
  if (!ctx.node().has_attr("to")) ctx.fail("missing attribute 'to'");
  return infer_cast_to(ctx, DType(ctx.node().attr_int("to", 0)));
}

bool infer_cast_like(OpContext& ctx) { return infer_cast_to(ctx, ctx.dtype(1)); }

void cast(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const DType to = ctx.output_type(0).dtype;
  if (x.dtype() == to) {
    ctx.set_output_tensor(0, x);
    return;
  }
  Tensor& y = ctx.output(0);
  visit_dtype(x.dtype(), [&](auto from_tag) {
    using From = typename decltype(from_tag)::type;
    visit_dtype(to, [&](auto to_tag) {
      using To = typename decltype(to_tag)::type;
      const From* px = x.data<From>();
      To* py = y.data<To>();
      for (int64_t i = 0, n = x.numel(); i < n; ++i) py[i] = convert<To>(px[i]);
    });
  });
}

}  // namespace

void register_cast_ops(OpTable& t) {
  t.add({.name = "Cast", .infer = infer_cast, .compute = cast});
  t.add({.name = "CastLike", .infer = infer_cast_like, .compute = cast});
}

}  // namespace infera
