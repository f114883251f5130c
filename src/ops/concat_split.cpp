// Concat and Split: joining tensors along an axis and cutting one apart again. Both move contiguous blocks: for
// every index of the dimensions before the axis, each piece owns one run of (its extent along axis) x (inner) elements.
#include <cstring>

#include "ops/data_movement.h"

namespace infera {
namespace {

// Elements in the dimensions before and after `axis`.
std::pair<int64_t, int64_t> outer_inner(const Shape& s, int axis) {
  return {shape_numel(Shape(s.begin(), s.begin() + axis)), shape_numel(Shape(s.begin() + axis + 1, s.end()))};
}

int concat_axis(const OpContext& ctx) {
  if (ctx.opset() >= 4 && !ctx.node().has_attr("axis")) ctx.fail("attribute 'axis' is required");
  return normalize_axis(ctx, ctx.node().attr_int("axis", 1), ctx.rank(0));
}

bool infer_concat(OpContext& ctx) {
  if (ctx.num_inputs() == 0) ctx.fail("needs at least one input");
  const int axis = concat_axis(ctx);
  Shape out = ctx.shape(0);
  for (int i = 1; i < ctx.num_inputs(); ++i) {
    const Shape& s = ctx.shape(i);
    if (ctx.dtype(i) != ctx.dtype(0)) ctx.fail("input types differ");
    bool compatible = s.size() == out.size();
    for (size_t d = 0; compatible && d < s.size(); ++d) compatible = int(d) == axis || s[d] == out[d];
    if (!compatible) ctx.fail("cannot concatenate " + shape_str(ctx.shape(0)) + " and " + shape_str(s));
    out[size_t(axis)] += s[size_t(axis)];
  }
  ctx.set_output(0, ctx.dtype(0), out);
  return true;
}

void concat(OpContext& ctx) {
  Tensor& y = ctx.output(0);
  const int axis = concat_axis(ctx);
  const size_t es = dtype_size(y.dtype());
  const auto [outer, inner] = outer_inner(y.shape(), axis);
  const int64_t out_run = y.dim(axis) * inner * int64_t(es);
  auto dst = static_cast<std::byte*>(y.raw());
  int64_t at = 0;  // byte offset of the current input's run inside an output run
  for (int i = 0; i < ctx.num_inputs(); ++i) {
    const Tensor& x = ctx.input(i);
    const int64_t run = x.dim(axis) * inner * int64_t(es);
    auto src = static_cast<const std::byte*>(x.raw());
    for (int64_t o = 0; run > 0 && o < outer; ++o) std::memcpy(dst + o * out_run + at, src + o * run, size_t(run));
    at += run;
  }
}

int split_axis(const OpContext& ctx) { return normalize_axis(ctx, ctx.node().attr_int("axis", 0), ctx.rank(0)); }

// Extent of every output along the axis: the `split` attribute (before opset 13) or input (from 13), else
// `num_outputs` chunks of ceil(dim / n) with a smaller last one (opset 18), else equal parts.
bool split_sizes(const OpContext& ctx, std::vector<int64_t>& sizes) {
  const int64_t dim = ctx.shape(0)[size_t(split_axis(ctx))];
  const int64_t n = ctx.num_outputs();
  if (ctx.opset() < 13) {
    sizes = ctx.node().attr_ints("split");
  } else if (!int_list_input(ctx, 1, sizes)) {
    return false;
  }
  if (sizes.empty()) {
    if (ctx.opset() >= 18 && ctx.node().has_attr("num_outputs")) {
      if (ctx.node().attr_int("num_outputs", 0) != n) ctx.fail("num_outputs does not match the number of outputs");
      const int64_t chunk = n > 0 ? (dim + n - 1) / n : 0;
      for (int64_t i = 0; i < n; ++i) sizes.push_back(std::clamp<int64_t>(dim - i * chunk, 0, chunk));
    } else {
      if (n == 0 || dim % n != 0)
        ctx.fail("dimension " + std::to_string(dim) + " cannot be split into " + std::to_string(n) + " equal parts");
      sizes.assign(size_t(n), dim / n);
    }
  }
  if (int64_t(sizes.size()) != n)
    ctx.fail("split has " + std::to_string(sizes.size()) + " entries for " + std::to_string(n) + " outputs");
  int64_t total = 0;
  for (int64_t s : sizes) {
    if (s < 0) ctx.fail("split sizes must be non-negative");
    total = checked_add(ctx, total, s);
  }
  if (total != dim) ctx.fail("split sizes sum to " + std::to_string(total) + ", not " + std::to_string(dim));
  return true;
}

bool infer_split(OpContext& ctx) {
  std::vector<int64_t> sizes;
  if (!split_sizes(ctx, sizes)) return false;
  const int axis = split_axis(ctx);
  for (int i = 0; i < ctx.num_outputs(); ++i) {
    Shape s = ctx.shape(0);
    s[size_t(axis)] = sizes[size_t(i)];
    ctx.set_output(i, ctx.dtype(0), s);
  }
  return true;
}

void split(OpContext& ctx) {
  std::vector<int64_t> sizes;
  split_sizes(ctx, sizes);
  const Tensor& x = ctx.input(0);
  const int axis = split_axis(ctx);
  const size_t es = dtype_size(x.dtype());
  const auto [outer, inner] = outer_inner(x.shape(), axis);
  const int64_t in_run = x.dim(axis) * inner * int64_t(es);
  auto src = static_cast<const std::byte*>(x.raw());
  int64_t at = 0;
  for (int i = 0; i < ctx.num_outputs(); ++i) {
    const int64_t run = sizes[size_t(i)] * inner * int64_t(es);
    if (ctx.has_output(i)) {
      auto dst = static_cast<std::byte*>(ctx.output(i).raw());
      for (int64_t o = 0; run > 0 && o < outer; ++o) std::memcpy(dst + o * run, src + o * in_run + at, size_t(run));
    }
    at += run;
  }
}

}  // namespace

void register_concat_split_ops(OpTable& t) {
  t.add({.name = "Concat", .infer = infer_concat, .compute = concat, .cost = data_movement_cost});
  t.add({.name = "Split", .infer = infer_split, .compute = split, .cost = data_movement_cost});
}

}  // namespace infera
