// TopK: the k largest (or smallest) elements along an axis, with their int64 indices.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "ops/helpers.h"

namespace infera {
namespace {

struct TopKShape {
  int axis = 0;
  int64_t k = 0;
  Shape out_shape;
};

// k is an attribute before opset 10 and input 1 from then on. Returns false when that input's value is not known.
bool topk_shape(const OpContext& ctx, TopKShape& s) {
  const int rank = ctx.rank(0);
  if (rank == 0) ctx.fail("input must have rank >= 1");
  s.axis = normalize_axis(ctx, ctx.node().attr_int("axis", -1), rank);
  if (ctx.opset() < 10) {
    if (!ctx.node().has_attr("k")) ctx.fail("attribute k is required");
    s.k = ctx.node().attr_int("k", 0);
  } else {
    const Tensor* k = ctx.value(1);
    if (!ctx.has_input(1)) ctx.fail("input K is required");
    if (!k) return false;
    if (k->dtype() != DType::Int64 || k->numel() != 1) ctx.fail("K must be a one-element int64 tensor");
    s.k = k->as_int(0);
  }
  const int64_t n = ctx.shape(0)[size_t(s.axis)];
  if (s.k < 0 || s.k > n)
    ctx.fail("k = " + std::to_string(s.k) + " is out of range for axis size " + std::to_string(n));
  s.out_shape = ctx.shape(0);
  s.out_shape[size_t(s.axis)] = s.k;
  return true;
}

bool infer_topk(OpContext& ctx) {
  const DType t = ctx.dtype(0);
  if (!dtype_is_float(t) && !dtype_is_integer(t)) ctx.fail("type " + std::string(dtype_name(t)) + " is not supported");
  TopKShape s;
  if (!topk_shape(ctx, s)) return false;
  ctx.set_output(0, t, s.out_shape);
  ctx.set_output(1, DType::Int64, s.out_shape);
  return true;
}

// Orders values for TopK: NaN ranks above every number (as in numpy's sort), so the order is a strict weak one.
template <class C>
bool ranks_before(C a, C b, bool largest) {
  if constexpr (std::is_floating_point_v<C>) {
    if (std::isnan(a) || std::isnan(b)) return largest ? !std::isnan(b) : !std::isnan(a);
  }
  return largest ? a > b : a < b;
}

void compute_topk(OpContext& ctx) {
  TopKShape s;
  topk_shape(ctx, s);
  const Tensor& x = ctx.input(0);
  Tensor& values = ctx.output(0, x.dtype(), s.out_shape);
  int64_t* indices = nullptr;
  if (ctx.has_output(1)) indices = ctx.output(1, DType::Int64, s.out_shape).data<int64_t>();
  const bool largest = ctx.opset() < 11 || ctx.node().attr_int("largest", 1) != 0;
  const int64_t n = x.dim(s.axis), k = s.k;
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < s.axis; ++d) outer *= x.dim(d);
  for (int d = s.axis + 1; d < x.rank(); ++d) inner *= x.dim(d);
  if (k == 0) return;
  visit_numeric(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    const T* px = x.data<T>();
    T* pv = values.data<T>();
    std::vector<C> slice(static_cast<size_t>(n));
    std::vector<int64_t> order(static_cast<size_t>(n));
    // Equal values keep their index order: the lower index comes first.
    auto before = [&](int64_t a, int64_t b) {
      const C va = slice[size_t(a)], vb = slice[size_t(b)];
      if (ranks_before(va, vb, largest)) return true;
      if (ranks_before(vb, va, largest)) return false;
      return a < b;
    };
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t in_base = o * n * inner + i, out_base = o * k * inner + i;
        for (int64_t j = 0; j < n; ++j) slice[size_t(j)] = C(px[in_base + j * inner]);
        std::iota(order.begin(), order.end(), int64_t(0));
        std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
        for (int64_t j = 0; j < k; ++j) {
          pv[out_base + j * inner] = px[in_base + order[size_t(j)] * inner];
          if (indices) indices[out_base + j * inner] = order[size_t(j)];
        }
      }
    }
  });
}

// A partial sort: about log2(k) comparisons per input element.
Cost topk_cost(const OpContext& ctx) {
  Cost c = default_cost(ctx);
  const Shape& out = ctx.output_type(0).shape;
  const int axis = normalize_axis(ctx, ctx.node().attr_int("axis", -1), ctx.rank(0));
  c.flops = double(shape_numel(ctx.shape(0))) * std::max(1.0, std::log2(double(out[size_t(axis)])));
  return c;
}

}  // namespace

void register_topk_ops(OpTable& t) {
  t.add({.name = "TopK", .infer = infer_topk, .compute = compute_topk, .cost = topk_cost});
}

}  // namespace infera
