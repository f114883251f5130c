// Reductions over a set of axes (ReduceSum ... ReduceSumSquare), ArgMax/ArgMin along one axis, and CumSum.
#include <cmath>
#include <limits>
#include <type_traits>

#include "ops/helpers.h"

namespace infera {
namespace {

enum class Reduction { Sum, Mean, Max, Min, Prod, L1, L2, LogSum, LogSumExp, SumSquare };

template <class C>
bool is_nan(C v) {
  if constexpr (std::is_floating_point_v<C>) return std::isnan(v);
  return false;
}

// Integer accumulation wraps around like the fixed-width types it stands for (and like numpy), without the
// undefined behaviour of signed overflow.
template <class A>
A wrapping_add(A a, A b) {
  if constexpr (std::is_integral_v<A>) return A(uint64_t(a) + uint64_t(b));
  return a + b;
}
template <class A>
A wrapping_mul(A a, A b) {
  if constexpr (std::is_integral_v<A>) return A(uint64_t(a) * uint64_t(b));
  return a * b;
}
template <class A>
A abs_value(A a) {
  if constexpr (std::is_floating_point_v<A>) return std::fabs(a);
  if constexpr (std::is_signed_v<A>) return a < 0 ? A(0 - uint64_t(a)) : a;
  return a;
}

// ReduceSum takes its axes from input 1 from opset 13; the other reductions from opset 18.
int axes_input_opset(Reduction kind) { return kind == Reduction::Sum ? 13 : 18; }

struct ReducePlan {
  std::vector<bool> reduced;  // per input axis
  bool identity = false;      // empty axes with noop_with_empty_axes: the output is the input
  Shape out_shape;
};

// Returns false when the axes come from an input whose value is not known yet.
bool make_reduce_plan(const OpContext& ctx, Reduction kind, ReducePlan& plan) {
  const int rank = ctx.rank(0);
  const bool axes_from_input = ctx.opset() >= axes_input_opset(kind);
  std::vector<int64_t> axes;
  if (axes_from_input) {
    if (!int_list_input(ctx, 1, axes)) return false;
  } else {
    axes = ctx.node().attr_ints("axes");
  }
  if (rank == 0 && !axes.empty()) ctx.fail("axes given for a scalar input");
  const bool noop_with_empty_axes = axes_from_input && ctx.node().attr_int("noop_with_empty_axes", 0) != 0;
  plan.identity = axes.empty() && noop_with_empty_axes;
  plan.reduced.assign(size_t(rank), axes.empty() && !noop_with_empty_axes);
  for (int a : normalize_axes(ctx, axes, rank)) {
    if (plan.reduced[size_t(a)]) ctx.fail("axis " + std::to_string(a) + " is repeated in axes");
    plan.reduced[size_t(a)] = true;
  }
  const bool keepdims = ctx.node().attr_int("keepdims", 1) != 0;
  plan.out_shape.clear();
  for (int d = 0; d < rank; ++d) {
    if (!plan.reduced[size_t(d)])
      plan.out_shape.push_back(ctx.shape(0)[size_t(d)]);
    else if (keepdims)
      plan.out_shape.push_back(1);
  }
  return true;
}

// Calls fn(out_index, in_index) for every input element, where out_index is the flat index of the output element
// it reduces into.
template <class F>
void for_each_reduced(const Shape& in_shape, const std::vector<bool>& reduced, F&& fn) {
  const int64_t numel = shape_numel(in_shape);
  if (numel == 0) return;
  const size_t r = in_shape.size();
  if (r == 0) {
    fn(int64_t(0), int64_t(0));
    return;
  }
  std::vector<int64_t> out_stride(r, 0);
  int64_t stride = 1;
  for (size_t d = r; d-- > 0;) {
    if (reduced[d]) continue;
    out_stride[d] = stride;
    stride *= in_shape[d];
  }
  const int64_t inner = in_shape[r - 1], inner_stride = out_stride[r - 1];
  std::vector<int64_t> counter(r - 1, 0);
  int64_t out_base = 0, in_index = 0;
  for (int64_t outer = numel / inner; outer > 0; --outer) {
    for (int64_t i = 0; i < inner; ++i) fn(out_base + i * inner_stride, in_index++);
    for (size_t d = r - 1; d-- > 0;) {
      ++counter[d];
      out_base += out_stride[d];
      if (counter[d] < in_shape[d]) break;
      out_base -= out_stride[d] * counter[d];
      counter[d] = 0;
    }
  }
}

constexpr bool allows_bool(Reduction kind) { return kind == Reduction::Max || kind == Reduction::Min; }

template <Reduction kind>
bool infer_reduce(OpContext& ctx) {
  const DType t = ctx.dtype(0);
  if (!dtype_is_float(t) && !dtype_is_integer(t) && !(t == DType::Bool && allows_bool(kind)))
    ctx.fail("type " + std::string(dtype_name(t)) + " is not supported");
  ReducePlan plan;
  if (!make_reduce_plan(ctx, kind, plan)) return false;
  ctx.set_output(0, t, plan.identity ? ctx.shape(0) : plan.out_shape);
  return true;
}

// Floats accumulate in double; integers exactly in 64 bits, except where the result goes through a logarithm or
// square root anyway; Max/Min keep the input's own type (bool as a byte, to avoid std::vector<bool>).
template <Reduction kind, class T>
using accumulator_t = std::conditional_t<
    is_float_v<T> || kind == Reduction::L2 || kind == Reduction::LogSum || kind == Reduction::LogSumExp, double,
    std::conditional_t<kind == Reduction::Max || kind == Reduction::Min, std::conditional_t<std::is_same_v<T, bool>, uint8_t, T>,
                       std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>>>;

// The value of a reduction over no elements.
template <Reduction kind, class A>
A reduction_identity() {
  if constexpr (kind == Reduction::Prod) return A(1);
  if constexpr (kind == Reduction::Max)
    return std::numeric_limits<A>::has_infinity ? -std::numeric_limits<A>::infinity() : std::numeric_limits<A>::lowest();
  if constexpr (kind == Reduction::Min)
    return std::numeric_limits<A>::has_infinity ? std::numeric_limits<A>::infinity() : std::numeric_limits<A>::max();
  return A(0);
}

template <Reduction kind, class A>
A reduction_step(A acc, A x) {
  if constexpr (kind == Reduction::Max) return (x > acc || is_nan(x)) ? x : acc;  // NaN wins and stays, as in numpy
  if constexpr (kind == Reduction::Min) return (x < acc || is_nan(x)) ? x : acc;
  if constexpr (kind == Reduction::Prod) return wrapping_mul(acc, x);
  if constexpr (kind == Reduction::L1) return wrapping_add(acc, abs_value(x));
  if constexpr (kind == Reduction::L2 || kind == Reduction::SumSquare) return wrapping_add(acc, wrapping_mul(x, x));
  return wrapping_add(acc, x);  // Sum, Mean, LogSum
}

template <Reduction kind, class T, class A>
T reduction_result(A acc, int64_t count, double peak) {
  if constexpr (kind == Reduction::Mean) {
    if constexpr (std::is_integral_v<A>) return count == 0 ? T(0) : T(acc / A(count));
    return convert<T, double>(acc / double(count));  // 0/0: NaN for an empty reduction
  }
  if constexpr (kind == Reduction::L2) return convert<T, double>(std::sqrt(acc));
  if constexpr (kind == Reduction::LogSum) return convert<T, double>(std::log(acc));
  if constexpr (kind == Reduction::LogSumExp) return convert<T, double>(std::isfinite(peak) ? std::log(acc) + peak : peak);
  return T(compute_t<T>(acc));
}

template <Reduction kind>
void compute_reduce(OpContext& ctx) {
  ReducePlan plan;
  make_reduce_plan(ctx, kind, plan);
  const Tensor& x = ctx.input(0);
  if (plan.identity) {
    ctx.set_output_tensor(0, x);
    return;
  }
  Tensor& y = ctx.output(0);
  int64_t count = 1;
  for (int d = 0; d < x.rank(); ++d)
    if (plan.reduced[size_t(d)]) count *= x.dim(d);
  auto run = [&](auto tag) {
    using T = typename decltype(tag)::type;
    using A = accumulator_t<kind, T>;
    const T* px = x.data<T>();
    T* py = y.data<T>();
    std::vector<A> acc(size_t(y.numel()), reduction_identity<kind, A>());
    std::vector<double> peak;
    if constexpr (kind == Reduction::LogSumExp) {  // subtract each output's maximum so that exp cannot overflow
      peak.assign(acc.size(), -std::numeric_limits<double>::infinity());
      for_each_reduced(x.shape(), plan.reduced, [&](int64_t o, int64_t i) {
        peak[size_t(o)] = reduction_step<Reduction::Max>(peak[size_t(o)], double(px[i]));
      });
      for_each_reduced(x.shape(), plan.reduced, [&](int64_t o, int64_t i) {
        if (std::isfinite(peak[size_t(o)])) acc[size_t(o)] += std::exp(double(px[i]) - peak[size_t(o)]);
      });
    } else {
      for_each_reduced(x.shape(), plan.reduced, [&](int64_t o, int64_t i) {
        acc[size_t(o)] = reduction_step<kind>(acc[size_t(o)], A(compute_t<T>(px[i])));
      });
    }
    for (size_t o = 0; o < acc.size(); ++o)
      py[o] = reduction_result<kind, T>(acc[o], count, peak.empty() ? 0.0 : peak[o]);
  };
  if constexpr (allows_bool(kind))
    visit_dtype(x.dtype(), run);
  else
    visit_numeric(x.dtype(), run);
}

// About one operation per input element.
Cost reduction_cost(const OpContext& ctx) {
  Cost c = default_cost(ctx);
  c.flops = double(shape_numel(ctx.shape(0)));
  return c;
}

bool infer_arg_reduce(OpContext& ctx) {
  const DType t = ctx.dtype(0);
  if (!dtype_is_float(t) && !dtype_is_integer(t)) ctx.fail("type " + std::string(dtype_name(t)) + " is not supported");
  if (ctx.rank(0) == 0) ctx.fail("input must have rank >= 1");
  const int axis = normalize_axis(ctx, ctx.node().attr_int("axis", 0), ctx.rank(0));
  Shape out = ctx.shape(0);
  if (out[size_t(axis)] == 0) ctx.fail("cannot select along an empty axis");
  if (ctx.node().attr_int("keepdims", 1) != 0)
    out[size_t(axis)] = 1;
  else
    out.erase(out.begin() + axis);
  ctx.set_output(0, DType::Int64, out);
  return true;
}

// ArgMax (want_max) / ArgMin: the first extreme index, or the last with select_last_index. NaN counts as the
// extreme, as in numpy.
template <bool want_max>
void compute_arg_reduce(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const int axis = normalize_axis(ctx, ctx.node().attr_int("axis", 0), x.rank());
  const bool last = ctx.opset() >= 12 && ctx.node().attr_int("select_last_index", 0) != 0;
  const int64_t n = x.dim(axis);
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= x.dim(d);
  for (int d = axis + 1; d < x.rank(); ++d) inner *= x.dim(d);
  int64_t* py = ctx.output(0).data<int64_t>();
  visit_numeric(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    const T* px = x.data<T>();
    std::vector<C> best(static_cast<size_t>(inner));
    auto better = [&](C v, C b) {
      if (is_nan(v) || is_nan(b)) return is_nan(v) && (last || !is_nan(b));
      if (v == b) return last;
      return want_max ? v > b : v < b;
    };
    for (int64_t o = 0; o < outer; ++o) {
      const T* slab = px + o * n * inner;
      int64_t* idx = py + o * inner;
      for (int64_t i = 0; i < inner; ++i) {
        best[size_t(i)] = C(slab[i]);
        idx[i] = 0;
      }
      for (int64_t j = 1; j < n; ++j) {
        const T* row = slab + j * inner;
        for (int64_t i = 0; i < inner; ++i) {
          const C v = C(row[i]);
          if (better(v, best[size_t(i)])) {
            best[size_t(i)] = v;
            idx[i] = j;
          }
        }
      }
    }
  });
}

// CumSum's axis: a scalar (or one-element) integer tensor.
int cumsum_axis(const OpContext& ctx, const Tensor& axis) {
  if (axis.dtype() != DType::Int32 && axis.dtype() != DType::Int64) ctx.fail("axis must be int32 or int64");
  if (axis.numel() != 1) ctx.fail("axis must be a scalar");
  return normalize_axis(ctx, axis.as_int(0), ctx.rank(0));
}

bool infer_cumsum(OpContext& ctx) {
  const DType t = ctx.dtype(0);
  if (!dtype_is_float(t) && !dtype_is_integer(t)) ctx.fail("type " + std::string(dtype_name(t)) + " is not supported");
  if (ctx.rank(0) == 0) ctx.fail("input must have rank >= 1");
  if (const Tensor* axis = ctx.value(1)) cumsum_axis(ctx, *axis);
  return infer_same_as_input(ctx);
}

void compute_cumsum(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const int axis = cumsum_axis(ctx, ctx.input(1));
  const bool exclusive = ctx.node().attr_int("exclusive", 0) != 0;
  const bool reverse = ctx.node().attr_int("reverse", 0) != 0;
  const int64_t n = x.dim(axis);
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= x.dim(d);
  for (int d = axis + 1; d < x.rank(); ++d) inner *= x.dim(d);
  Tensor& y = ctx.output(0);
  visit_numeric(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using A = std::conditional_t<is_float_v<T>, double, std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>>;
    const T* px = x.data<T>();
    T* py = y.data<T>();
    std::vector<A> sum(static_cast<size_t>(inner));
    for (int64_t o = 0; o < outer; ++o) {
      std::fill(sum.begin(), sum.end(), A(0));
      for (int64_t step = 0; step < n; ++step) {
        const int64_t j = reverse ? n - 1 - step : step;
        const int64_t base = (o * n + j) * inner;
        for (int64_t i = 0; i < inner; ++i) {
          const A v = A(compute_t<T>(px[base + i]));
          if (!exclusive) sum[size_t(i)] = wrapping_add(sum[size_t(i)], v);
          py[base + i] = T(compute_t<T>(sum[size_t(i)]));
          if (exclusive) sum[size_t(i)] = wrapping_add(sum[size_t(i)], v);
        }
      }
    }
  });
}

template <Reduction kind>
OpDef reduce_def(std::string_view name) {
  return {.name = name, .infer = infer_reduce<kind>, .compute = compute_reduce<kind>, .cost = reduction_cost};
}

}  // namespace

void register_reduce_ops(OpTable& t) {
  t.add(reduce_def<Reduction::Sum>("ReduceSum"));
  t.add(reduce_def<Reduction::Mean>("ReduceMean"));
  t.add(reduce_def<Reduction::Max>("ReduceMax"));
  t.add(reduce_def<Reduction::Min>("ReduceMin"));
  t.add(reduce_def<Reduction::Prod>("ReduceProd"));
  t.add(reduce_def<Reduction::L1>("ReduceL1"));
  t.add(reduce_def<Reduction::L2>("ReduceL2"));
  t.add(reduce_def<Reduction::LogSum>("ReduceLogSum"));
  t.add(reduce_def<Reduction::LogSumExp>("ReduceLogSumExp"));
  t.add(reduce_def<Reduction::SumSquare>("ReduceSumSquare"));
  t.add({.name = "ArgMax", .infer = infer_arg_reduce, .compute = compute_arg_reduce<true>, .cost = reduction_cost});
  t.add({.name = "ArgMin", .infer = infer_arg_reduce, .compute = compute_arg_reduce<false>, .cost = reduction_cost});
  t.add({.name = "CumSum", .infer = infer_cumsum, .compute = compute_cumsum});
}

}  // namespace infera
