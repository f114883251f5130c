// Elementwise reductions over any number of broadcast inputs: Sum, Mean, Max, Min.
#include "ops/elementwise.h"

namespace infera {
namespace {

template <unsigned Set>
bool infer_variadic(OpContext& ctx) {
  if (ctx.num_inputs() == 0) ctx.fail("needs at least one input");
  std::vector<Shape> shapes;
  for (int i = 0; i < ctx.num_inputs(); ++i) {
    require_dtype(ctx, i, Set);
    require_same_dtype(ctx, 0, i);
    shapes.push_back(ctx.shape(i));
  }
  ctx.set_output(0, ctx.dtype(0), broadcast_shapes(ctx, shapes));
  return true;
}

// Folds the inputs into the output one at a time, y = fn(y, x_k), rounding to T after each step as numpy does.
template <class Visit, class Fn>
void fold_inputs(OpContext& ctx, Visit visit, Fn fn) {
  Tensor& y = ctx.output(0);
  visit(y.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    T* py = y.data<T>();
    const Tensor& first = ctx.input(0);
    const T* p0 = first.data<T>();
    broadcast_loop<1>(y.shape(), {first.shape()},
                      [&](int64_t i, const std::array<int64_t, 1>& off) { py[i] = p0[off[0]]; });
    for (int k = 1; k < ctx.num_inputs(); ++k) {
      const Tensor& x = ctx.input(k);
      const T* px = x.data<T>();
      broadcast_loop<1>(y.shape(), {x.shape()}, [&](int64_t i, const std::array<int64_t, 1>& off) {
        py[i] = convert<T>(fn(C(py[i]), C(px[off[0]])));
      });
    }
  });
}

constexpr auto plus = [](auto a, auto b) { return a + b; };

void sum(OpContext& ctx) { fold_inputs(ctx, float_visitor, plus); }
void mean(OpContext& ctx) {
  fold_inputs(ctx, float_visitor, plus);
  Tensor& y = ctx.output(0);
  const int n = ctx.num_inputs();
  visit_float(y.dtype(), [&](auto tag) {
    map_elements<typename decltype(tag)::type>(y, y, [n](auto v) { return v / decltype(v)(n); });
  });
}
// NaN in either operand gives NaN, as numpy's maximum/minimum do.
void max_op(OpContext& ctx) {
  fold_inputs(ctx, numeric_visitor, [](auto a, auto b) { return a > b || a != a ? a : b; });
}
void min_op(OpContext& ctx) {
  fold_inputs(ctx, numeric_visitor, [](auto a, auto b) { return a < b || a != a ? a : b; });
}

}  // namespace

void register_variadic_ops(OpTable& t) {
  t.add({.name = "Sum", .infer = infer_variadic<kFloatTypes>, .compute = sum});
  t.add({.name = "Mean", .infer = infer_variadic<kFloatTypes>, .compute = mean});
  t.add({.name = "Max", .infer = infer_variadic<kNumericTypes>, .compute = max_op});
  t.add({.name = "Min", .infer = infer_variadic<kNumericTypes>, .compute = min_op});
}

}  // namespace infera
