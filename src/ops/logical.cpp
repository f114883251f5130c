// Boolean logic (And, Or, Xor), comparisons (Equal, Greater, Less and their -OrEqual forms) and Where.
#include "ops/elementwise.h"

namespace infera {
namespace {

template <unsigned Set>
bool infer_predicate(OpContext& ctx) {
  require_dtype(ctx, 0, Set);
  require_same_dtype(ctx, 0, 1);
  ctx.set_output(0, DType::Bool, binary_output_shape(ctx));
  return true;
}

// y (bool) = fn(a, b) on broadcast inputs of one type, compared in its compute type.
template <class Fn>
void compute_predicate(OpContext& ctx, Fn fn) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  bool* py = ctx.output(0).data<bool>();
  visit_dtype(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    binary_loop(ctx, [&](int64_t i, int64_t ia, int64_t ib) { py[i] = fn(C(pa[ia]), C(pb[ib])); });
  });
}

void and_op(OpContext& ctx) { compute_predicate(ctx, [](auto x, auto y) { return x && y; }); }
void or_op(OpContext& ctx) { compute_predicate(ctx, [](auto x, auto y) { return x || y; }); }
void xor_op(OpContext& ctx) { compute_predicate(ctx, [](auto x, auto y) { return bool(x) != bool(y); }); }
void equal(OpContext& ctx) { compute_predicate(ctx, [](auto x, auto y) { return x == y; }); }
void greater(OpContext& ctx) { compute_predicate(ctx, [](auto x, auto y) { return x > y; }); }
void greater_or_equal(OpContext& ctx) { compute_predicate(ctx, [](auto x, auto y) { return x >= y; }); }
void less(OpContext& ctx) { compute_predicate(ctx, [](auto x, auto y) { return x < y; }); }
void less_or_equal(OpContext& ctx) { compute_predicate(ctx, [](auto x, auto y) { return x <= y; }); }

bool infer_where(OpContext& ctx) {
  if (ctx.dtype(0) != DType::Bool) ctx.fail("condition must be bool, not " + std::string(dtype_name(ctx.dtype(0))));
  require_dtype(ctx, 1, kAllTypes);
  require_same_dtype(ctx, 1, 2);
  ctx.set_output(0, ctx.dtype(1), broadcast_shapes(ctx, {ctx.shape(0), ctx.shape(1), ctx.shape(2)}));
  return true;
}

void where(OpContext& ctx) {
  const Tensor& cond = ctx.input(0);
  const Tensor& x = ctx.input(1);
  const Tensor& y = ctx.input(2);
  Tensor& out = ctx.output(0);
  const bool* pc = cond.data<bool>();
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = x.data<T>();
    const T* py = y.data<T>();
    T* po = out.data<T>();
    broadcast_loop<3>(out.shape(), {cond.shape(), x.shape(), y.shape()},
                      [&](int64_t i, const std::array<int64_t, 3>& off) {
                        po[i] = pc[off[0]] ? px[off[1]] : py[off[2]];
                      });
  });
}

}  // namespace

void register_logical_ops(OpTable& t) {
  t.add({.name = "And", .infer = infer_predicate<kBoolType>, .compute = and_op});
  t.add({.name = "Or", .infer = infer_predicate<kBoolType>, .compute = or_op});
  t.add({.name = "Xor", .infer = infer_predicate<kBoolType>, .compute = xor_op});
  t.add({.name = "Equal", .infer = infer_predicate<kAllTypes>, .compute = equal});
  t.add({.name = "Greater", .infer = infer_predicate<kNumericTypes>, .compute = greater});
  t.add({.name = "GreaterOrEqual", .infer = infer_predicate<kNumericTypes>, .compute = greater_or_equal});
  t.add({.name = "Less", .infer = infer_predicate<kNumericTypes>, .compute = less});
  t.add({.name = "LessOrEqual", .infer = infer_predicate<kNumericTypes>, .compute = less_or_equal});
  t.add({.name = "Where", .infer = infer_where, .compute = where});
}

}  // namespace infera
