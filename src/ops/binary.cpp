// Elementwise arithmetic on two broadcast inputs: Add, Sub, Mul, Div, Pow, Mod, BitShift.
#include "ops/elementwise.h"

namespace infera {
namespace {

template <unsigned Set>
bool infer_binary(OpContext& ctx) {
  require_dtype(ctx, 0, Set);
  require_same_dtype(ctx, 0, 1);
  ctx.set_output(0, ctx.dtype(0), binary_output_shape(ctx));
  return true;
}

// y = fn(a, b) on inputs of one type T (from `visit`), computing in compute_t<T>.
template <class Visit, class Fn>
void compute_binary(OpContext& ctx, Visit visit, Fn fn) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  Tensor& y = ctx.output(0);
  visit(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* py = y.data<T>();
    binary_loop(ctx, [&](int64_t i, int64_t ia, int64_t ib) { py[i] = convert<T>(fn(C(pa[ia]), C(pb[ib]))); });
  });
}

template <class Fn>
void compute_numeric(OpContext& ctx, Fn fn) {
  compute_binary(ctx, numeric_visitor, fn);
}

void add(OpContext& ctx) { compute_numeric(ctx, [](auto x, auto y) { return x + y; }); }
void sub(OpContext& ctx) { compute_numeric(ctx, [](auto x, auto y) { return x - y; }); }
void mul(OpContext& ctx) { compute_numeric(ctx, [](auto x, auto y) { return x * y; }); }

// Integer division truncates toward zero. The one overflowing quotient, MIN / -1, wraps instead of trapping.
void div(OpContext& ctx) {
  compute_numeric(ctx, [&](auto x, auto y) -> decltype(x) {
    using C = decltype(x);
    if constexpr (std::is_integral_v<C>) {
      if (y == 0) ctx.fail("integer division by zero");
      if constexpr (std::is_signed_v<C>) {
        if (y == -1) return C(std::make_unsigned_t<C>(0) - std::make_unsigned_t<C>(x));
      }
    }
    return C(x / y);
  });
}

// fmod = 1: the remainder has the sign of the dividend (C fmod / %); fmod = 0: of the divisor (Python %).
void mod(OpContext& ctx) {
  const bool c_style = ctx.node().attr_int("fmod", 0) != 0;
  compute_numeric(ctx, [&](auto x, auto y) -> decltype(x) {
    using C = decltype(x);
    C r;
    if constexpr (std::is_integral_v<C>) {
      if (y == 0) ctx.fail("integer modulo by zero");
      if constexpr (std::is_signed_v<C>) {
        if (y == -1) return C(0);
      }
      r = C(x % y);
    } else {
      r = std::fmod(x, y);
    }
    if constexpr (std::is_signed_v<C>) {
      if (!c_style && r != 0 && (r < 0) != (y < 0)) r = C(r + y);
    }
    return r;
  });
}

bool infer_bitshift(OpContext& ctx) {
  const std::string direction = ctx.node().attr_string("direction", "");
  if (direction != "LEFT" && direction != "RIGHT") ctx.fail("direction must be LEFT or RIGHT, not '" + direction + "'");
  return infer_binary<kUnsignedTypes>(ctx);
}

// Shifting by the bit width or more gives 0 (numpy's result) rather than undefined behaviour.
void bitshift(OpContext& ctx) {
  const bool left = ctx.node().attr_string("direction", "") == "LEFT";
  compute_binary(ctx, integer_visitor, [=](auto x, auto s) -> decltype(x) {
    using C = decltype(x);
    if (s >= C(sizeof(C) * 8)) return C(0);
    return C(left ? x << s : x >> s);
  });
}

bool infer_pow(OpContext& ctx) {
  require_dtype(ctx, 0, kNumericTypes);
  require_dtype(ctx, 1, kNumericTypes);
  ctx.set_output(0, ctx.dtype(0), binary_output_shape(ctx));
  return true;
}

// Integer power with wrap-around: multiplying in uint64 keeps the low bits a signed product would have.
// Negative exponents truncate 1 / x^-e toward zero.
template <class B>
B integer_pow(const OpContext& ctx, B base, int64_t e) {
  if (e < 0) {
    if (base == 0) ctx.fail("integer zero raised to a negative power");
    if (base == 1) return 1;
    if constexpr (std::is_signed_v<B>) {
      if (base == -1) return (e & 1) ? -1 : 1;
    }
    return 0;
  }
  uint64_t result = 1, b = uint64_t(base);
  for (uint64_t k = uint64_t(e); k; k >>= 1, b *= b)
    if (k & 1) result *= b;
  return B(result);
}

// Base and exponent may differ in type; the result has the base's type. Same-type floats compute in their compute
// type, integer pairs exactly, and mixed pairs in double (as numpy promotes them) before converting back.
void pow_op(OpContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  Tensor& y = ctx.output(0);
  visit_numeric(a.dtype(), [&](auto base_tag) {
    using T = typename decltype(base_tag)::type;
    visit_numeric(b.dtype(), [&](auto exp_tag) {
      using E = typename decltype(exp_tag)::type;
      const T* pa = a.data<T>();
      const E* pb = b.data<E>();
      T* py = y.data<T>();
      binary_loop(ctx, [&](int64_t i, int64_t ia, int64_t ib) {
        if constexpr (std::is_integral_v<T> && std::is_integral_v<E>) {
          const int64_t e = std::is_unsigned_v<E> && pb[ib] > E(INT64_MAX) ? INT64_MAX : int64_t(pb[ib]);
          py[i] = T(integer_pow(ctx, pa[ia], e));
        } else if constexpr (std::is_same_v<T, E>) {
          using C = compute_t<T>;
          py[i] = convert<T>(std::pow(C(pa[ia]), C(pb[ib])));
        } else {
          py[i] = convert<T>(std::pow(double(compute_t<T>(pa[ia])), double(compute_t<E>(pb[ib]))));
        }
      });
    });
  });
}

}  // namespace

void register_binary_ops(OpTable& t) {
  t.add({.name = "Add", .infer = infer_binary<kNumericTypes>, .compute = add});
  t.add({.name = "Sub", .infer = infer_binary<kNumericTypes>, .compute = sub});
  t.add({.name = "Mul", .infer = infer_binary<kNumericTypes>, .compute = mul});
  t.add({.name = "Div", .infer = infer_binary<kNumericTypes>, .compute = div});
  t.add({.name = "Mod", .infer = infer_binary<kNumericTypes>, .compute = mod});
  t.add({.name = "Pow", .infer = infer_pow, .compute = pow_op});
  t.add({.name = "BitShift", .infer = infer_bitshift, .compute = bitshift});
}

}  // namespace infera
