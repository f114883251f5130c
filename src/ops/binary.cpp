// Elementwise arithmetic on two broadcast inputs: Add, Sub, Mul, Div.
#include <cmath>

#include "ops/helpers.h"

namespace infera {
namespace {

bool infer_broadcast_binary(OpContext& ctx) {
  if (ctx.dtype(0) != ctx.dtype(1))
    ctx.fail("input types differ: " + std::string(dtype_name(ctx.dtype(0))) + " and " +
             std::string(dtype_name(ctx.dtype(1))));
  ctx.set_output(0, ctx.dtype(0), broadcast_shapes(ctx, {ctx.shape(0), ctx.shape(1)}));
  return true;
}

template <class Fn>
void compute_binary(OpContext& ctx, Fn fn) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  Tensor& y = ctx.output(0);
  visit_numeric(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* py = y.data<T>();
    for_each_broadcast(y.shape(), {a.shape(), b.shape()}, [&](int64_t i, const std::vector<int64_t>& off) {
      py[i] = T(fn(C(pa[off[0]]), C(pb[off[1]])));
    });
  });
}

void add(OpContext& ctx) { compute_binary(ctx, [](auto x, auto y) { return x + y; }); }
void sub(OpContext& ctx) { compute_binary(ctx, [](auto x, auto y) { return x - y; }); }
void mul(OpContext& ctx) { compute_binary(ctx, [](auto x, auto y) { return x * y; }); }
void div(OpContext& ctx) {
  compute_binary(ctx, [&](auto x, auto y) {
    if constexpr (std::is_integral_v<decltype(x)>) {
      if (y == 0) ctx.fail("integer division by zero");
    }
    return x / y;
  });
}

}  // namespace

void register_binary_ops(OpTable& t) {
  t.add({.name = "Add", .infer = infer_broadcast_binary, .compute = add});
  t.add({.name = "Sub", .infer = infer_broadcast_binary, .compute = sub});
  t.add({.name = "Mul", .infer = infer_broadcast_binary, .compute = mul});
  t.add({.name = "Div", .infer = infer_broadcast_binary, .compute = div});
}

}  // namespace infera
