// Ops built from index arithmetic: OneHot, and the data-dependent selections NonZero, Compress and Unique (whose
// output shapes depend on input values).
#include <cmath>
#include <cstring>
#include <numeric>

#include "ops/data_movement.h"

namespace infera {
namespace {

int64_t one_hot_depth(const OpContext& ctx) {
  const Tensor& d = ctx.input(1);
  if (d.numel() != 1) ctx.fail("depth must hold one element");
  const double depth = d.as_double(0);
  if (!(depth >= 1) || depth > double(INT64_MAX / 2)) ctx.fail("depth must be positive");
  return int64_t(depth);
}

int one_hot_axis(const OpContext& ctx) {
  const int out_rank = ctx.rank(0) + 1;
  return normalize_axis(ctx, ctx.node().attr_int("axis", -1), out_rank);
}

bool infer_one_hot(OpContext& ctx) {
  if (shape_numel(ctx.shape(2)) != 2) ctx.fail("values must hold two elements [off, on]");
  const int axis = one_hot_axis(ctx);
  if (!ctx.value(1)) return false;
  Shape out = ctx.shape(0);
  out.insert(out.begin() + axis, one_hot_depth(ctx));
  ctx.set_output(0, ctx.dtype(2), out);
  return true;
}

void one_hot(OpContext& ctx) {
  const Tensor& indices = ctx.input(0);
  const int axis = one_hot_axis(ctx);
  const int64_t depth = one_hot_depth(ctx);
  const Shape& s = indices.shape();
  const int64_t inner = shape_numel(Shape(s.begin() + axis, s.end()));
  const std::vector<int64_t> idx = indices.to_int_vector();
  Tensor& y = ctx.output(0);
  visit_dtype(y.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T off = ctx.input(2).data<T>()[0], on = ctx.input(2).data<T>()[1];
    T* out = y.data<T>();
    std::fill(out, out + y.numel(), off);
    // Output viewed as (outer, depth, inner); indices outside [-depth, depth) select nothing.
    for (size_t k = 0; k < idx.size(); ++k) {
      const int64_t i = idx[k] < 0 ? idx[k] + depth : idx[k];
      const int64_t o = int64_t(k) / inner, j = int64_t(k) % inner;
      if (i >= 0 && i < depth) out[(o * depth + i) * inner + j] = on;
    }
  });
}

bool infer_unknown_shape(OpContext&) { return false; }

void non_zero(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::vector<int64_t> hits;
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    const T* p = x.data<T>();
    for (int64_t i = 0; i < x.numel(); ++i)
      if (C(p[i]) != C(0)) hits.push_back(i);
  });
  const int r = x.rank();
  const int64_t n = int64_t(hits.size());
  int64_t* out = ctx.output(0, DType::Int64, {r, n}).data<int64_t>();
  for (int64_t k = 0; k < n; ++k) {
    int64_t flat = hits[size_t(k)];
    for (int d = r; d-- > 0;) {
      out[d * n + k] = flat % x.dim(d);
      flat /= x.dim(d);
    }
  }
}

// Compress without an axis works on the flattened input along axis 0.
struct CompressView {
  Shape shape;
  int axis = 0;
  std::vector<int64_t> selected;  // kept indices along axis
};

bool compress_view(const OpContext& ctx, CompressView& v) {
  if (ctx.rank(1) != 1) ctx.fail("condition must be 1-D, got " + shape_str(ctx.shape(1)));
  if (ctx.node().has_attr("axis")) {
    v.shape = ctx.shape(0);
    v.axis = normalize_axis(ctx, ctx.node().attr_int("axis", 0), ctx.rank(0));
  } else {
    v.shape = {shape_numel(ctx.shape(0))};
  }
  const Tensor* condition = ctx.value(1);
  if (!condition) return false;
  const std::vector<int64_t> keep = condition->to_int_vector();
  v.selected.clear();
  for (size_t i = 0; i < keep.size(); ++i) {
    if (!keep[i]) continue;
    if (int64_t(i) >= v.shape[size_t(v.axis)]) ctx.fail("condition selects past the end of the input");
    v.selected.push_back(int64_t(i));
  }
  return true;
}

Shape compressed_shape(const OpContext& ctx, const CompressView& v) {
  if (!ctx.node().has_attr("axis")) return {int64_t(v.selected.size())};
  Shape out = v.shape;
  out[size_t(v.axis)] = int64_t(v.selected.size());
  return out;
}

bool infer_compress(OpContext& ctx) {
  CompressView v;
  if (!compress_view(ctx, v)) return false;
  ctx.set_output(0, ctx.dtype(0), compressed_shape(ctx, v));
  return true;
}

void compress(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  CompressView v;
  compress_view(ctx, v);
  const Shape& s = v.shape;
  const int64_t outer = shape_numel(Shape(s.begin(), s.begin() + v.axis)), dim = s[size_t(v.axis)];
  const size_t run = size_t(shape_numel(Shape(s.begin() + v.axis + 1, s.end()))) * dtype_size(x.dtype());
  auto src = static_cast<const std::byte*>(x.raw());
  auto dst = static_cast<std::byte*>(ctx.output(0).raw());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i : v.selected) {
      std::memcpy(dst, src + size_t(o * dim + i) * run, run);
      dst += run;
    }
}

// A strict weak order even with NaNs (they sort last and equal each other), which std::stable_sort requires.
template <class C>
bool ordered_less(C u, C v) {
  if constexpr (std::is_floating_point_v<C>) {
    if (std::isnan(u) || std::isnan(v)) return !std::isnan(u);
  }
  return u < v;
}

// Unique compares items: single elements without an axis, else the slices along the axis (moved to the front so
// that each item is contiguous).
void unique(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const bool has_axis = ctx.node().has_attr("axis");
  const int axis = has_axis ? normalize_axis(ctx, ctx.node().attr_int("axis", 0), x.rank()) : 0;
  const size_t es = dtype_size(x.dtype());
  Tensor items = has_axis ? Tensor(x.dtype(), {}) : x.reshaped({x.numel()});
  std::vector<int> to_front = {axis}, to_back;
  if (has_axis) {
    for (int d = 0; d < x.rank(); ++d) {
      if (d != axis) to_front.push_back(d);
      to_back.push_back(d == axis ? 0 : d < axis ? d + 1 : d);
    }
    Shape front;
    for (int d : to_front) front.push_back(x.dim(d));
    items = Tensor(x.dtype(), front);
    transpose_copy(x.raw(), items.raw(), es, x.shape(), to_front);
  }
  const int64_t n = items.dim(0), len = n == 0 ? 0 : items.numel() / n;

  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::vector<int64_t> group_of(static_cast<size_t>(n));
  std::vector<int64_t> first, counts;  // per group, in sorted order
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    const T* p = items.data<T>();
    auto less = [&](int64_t a, int64_t b) {
      return std::lexicographical_compare(p + a * len, p + (a + 1) * len, p + b * len, p + (b + 1) * len,
                                          [](T u, T v) { return ordered_less(C(u), C(v)); });
    };
    std::stable_sort(order.begin(), order.end(), less);
    for (size_t k = 0; k < order.size(); ++k) {
      if (k == 0 || less(order[k - 1], order[k])) {
        first.push_back(order[k]);
        counts.push_back(0);
      }
      group_of[size_t(order[k])] = int64_t(first.size()) - 1;
      ++counts.back();
    }
  });
  const int64_t u = int64_t(first.size());
  std::vector<int64_t> rank(static_cast<size_t>(u));  // output position of each group
  std::iota(rank.begin(), rank.end(), 0);
  if (ctx.node().attr_int("sorted", 1) == 0)
    std::sort(rank.begin(), rank.end(), [&](int64_t a, int64_t b) { return first[size_t(a)] < first[size_t(b)]; });
  // rank currently lists groups in output order; invert it to map group -> position.
  std::vector<int64_t> position(static_cast<size_t>(u));
  for (int64_t k = 0; k < u; ++k) position[size_t(rank[size_t(k)])] = k;

  Shape unique_items = items.shape();
  unique_items[0] = u;
  Tensor picked(x.dtype(), unique_items);
  const size_t run = size_t(len) * es;
  for (int64_t k = 0; k < u; ++k)
    std::memcpy(static_cast<std::byte*>(picked.raw()) + size_t(k) * run,
                static_cast<const std::byte*>(items.raw()) + size_t(first[size_t(rank[size_t(k)])]) * run, run);
  if (has_axis) {
    Shape y_shape = x.shape();
    y_shape[size_t(axis)] = u;
    transpose_copy(picked.raw(), ctx.output(0, x.dtype(), y_shape).raw(), es, unique_items, to_back);
  } else {
    ctx.set_output_tensor(0, picked);
  }
  if (ctx.has_output(1)) {
    int64_t* out = ctx.output(1, DType::Int64, {u}).data<int64_t>();
    for (int64_t k = 0; k < u; ++k) out[k] = first[size_t(rank[size_t(k)])];
  }
  if (ctx.has_output(2)) {
    int64_t* out = ctx.output(2, DType::Int64, {n}).data<int64_t>();
    for (int64_t i = 0; i < n; ++i) out[i] = position[size_t(group_of[size_t(i)])];
  }
  if (ctx.has_output(3)) {
    int64_t* out = ctx.output(3, DType::Int64, {u}).data<int64_t>();
    for (int64_t k = 0; k < u; ++k) out[k] = counts[size_t(rank[size_t(k)])];
  }
}

}  // namespace

void register_indexing_ops(OpTable& t) {
  t.add({.name = "OneHot", .infer = infer_one_hot, .compute = one_hot});
  t.add({.name = "NonZero", .infer = infer_unknown_shape, .compute = non_zero});
  t.add({.name = "Compress", .infer = infer_compress, .compute = compress, .cost = selection_cost});
  t.add({.name = "Unique", .infer = infer_unknown_shape, .compute = unique});
}

}  // namespace infera
