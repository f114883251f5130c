// Slice (a strided view copied out) and Pad (constant, reflect, edge and wrap borders; negative pads crop).
#include "ops/data_movement.h"

namespace infera {
namespace {

// Where a slice starts along each input dimension, its step, and the output shape.
struct SliceWindow {
  std::vector<int64_t> start, step;
  Shape shape;
};

bool slice_window(const OpContext& ctx, SliceWindow& w) {
  std::vector<int64_t> starts, ends, axes, steps;
  if (ctx.opset() < 10) {
    starts = ctx.node().attr_ints("starts");
    ends = ctx.node().attr_ints("ends");
    axes = ctx.node().attr_ints("axes");
  } else {
    if (!ctx.has_input(1) || !ctx.has_input(2)) ctx.fail("starts and ends inputs are required");
    if (!int_list_input(ctx, 1, starts) || !int_list_input(ctx, 2, ends) || !int_list_input(ctx, 3, axes) ||
        !int_list_input(ctx, 4, steps))
      return false;
  }
  const Shape& in = ctx.shape(0);
  const int r = int(in.size());
  if (starts.size() != ends.size()) ctx.fail("starts and ends have different lengths");
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(int64_t(i));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (axes.size() != starts.size() || steps.size() != starts.size())
    ctx.fail("starts, ends, axes and steps have different lengths");
  w.start.assign(size_t(r), 0);
  w.step.assign(size_t(r), 1);
  w.shape = in;
  std::vector<bool> seen(size_t(r), false);
  for (size_t i = 0; i < starts.size(); ++i) {
    const int a = normalize_axis(ctx, axes[i], r);
    if (seen[size_t(a)]) ctx.fail("axis " + std::to_string(a) + " appears twice in axes");
    seen[size_t(a)] = true;
    const int64_t dim = in[size_t(a)], step = steps[i];
    if (step == 0) ctx.fail("steps must not be 0");
    int64_t start = starts[i], end = ends[i];
    if (start < 0) start += dim;
    if (end < 0) end += dim;
    int64_t count = 0;
    if (dim == 0) {
      start = 0;
    } else if (step > 0) {
      start = std::clamp<int64_t>(start, 0, dim);
      end = std::clamp<int64_t>(end, 0, dim);
      count = end > start ? (end - start - 1) / step + 1 : 0;
    } else {
      start = std::clamp<int64_t>(start, 0, dim - 1);
      end = std::clamp<int64_t>(end, -1, dim - 1);
      count = start > end ? (start - end - 1) / -step + 1 : 0;
    }
    w.start[size_t(a)] = start;
    w.step[size_t(a)] = step;
    w.shape[size_t(a)] = count;
  }
  return true;
}

bool infer_slice(OpContext& ctx) {
  SliceWindow w;
  if (!slice_window(ctx, w)) return false;
  ctx.set_output(0, ctx.dtype(0), w.shape);
  return true;
}

void slice(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  SliceWindow w;
  slice_window(ctx, w);
  Tensor& y = ctx.output(0);
  if (y.numel() == 0) return;
  const size_t es = dtype_size(x.dtype());
  std::vector<int64_t> strides = contiguous_strides(x.shape());
  int64_t first = 0;
  for (size_t d = 0; d < strides.size(); ++d) {
    first += w.start[d] * strides[d];
    strides[d] *= w.step[d];
  }
  strided_copy(static_cast<const std::byte*>(x.raw()) + first * int64_t(es), y.raw(), es, w.shape, strides);
}

enum class PadMode { Constant, Reflect, Edge, Wrap };

struct PadSpec {
  PadMode mode = PadMode::Constant;
  std::vector<int64_t> begin, end;  // per input dimension; negative crops
};

bool pad_spec(const OpContext& ctx, PadSpec& p) {
  const int r = ctx.rank(0);
  std::vector<int64_t> pads, axes;
  if (ctx.opset() < 11) {
    pads = ctx.node().attr_ints(ctx.opset() < 2 ? "paddings" : "pads");
  } else {
    if (!ctx.has_input(1)) ctx.fail("pads input is required");
    if (!int_list_input(ctx, 1, pads) || (ctx.opset() >= 18 && !int_list_input(ctx, 3, axes))) return false;
  }
  if (axes.empty())
    for (int i = 0; i < r; ++i) axes.push_back(i);
  if (pads.size() != 2 * axes.size())
    ctx.fail("pads has " + std::to_string(pads.size()) + " entries, expected " + std::to_string(2 * axes.size()));
  p.begin.assign(size_t(r), 0);
  p.end.assign(size_t(r), 0);
  for (size_t i = 0; i < axes.size(); ++i) {
    const int a = normalize_axis(ctx, axes[i], r);
    p.begin[size_t(a)] = pads[i];
    p.end[size_t(a)] = pads[i + axes.size()];
  }
  const std::string mode = ctx.node().attr_string("mode", "constant");
  if (mode == "constant") p.mode = PadMode::Constant;
  else if (mode == "reflect") p.mode = PadMode::Reflect;
  else if (mode == "edge") p.mode = PadMode::Edge;
  else if (mode == "wrap" && ctx.opset() >= 19) p.mode = PadMode::Wrap;
  else ctx.fail("unsupported mode '" + mode + "'");
  return true;
}

bool infer_pad(OpContext& ctx) {
  PadSpec p;
  if (!pad_spec(ctx, p)) return false;
  Shape out = ctx.shape(0);
  for (size_t d = 0; d < out.size(); ++d) {
    const int64_t kept = out[d] + std::min<int64_t>(p.begin[d], 0) + std::min<int64_t>(p.end[d], 0);
    if (kept < 0) ctx.fail("negative pads crop more than dimension " + std::to_string(d) + " holds");
    out[d] += p.begin[d] + p.end[d];
    if (p.mode != PadMode::Constant && kept == 0 && out[d] > 0)
      ctx.fail("cannot pad an empty dimension in mode " + ctx.node().attr_string("mode", ""));
  }
  ctx.set_output(0, ctx.dtype(0), out);
  return true;
}

// For output coordinate o along one dimension: the input coordinate it copies, or -1 for the constant value.
// Negative pads first crop the input; the border modes then read from the cropped part.
std::vector<int64_t> pad_source_map(PadMode mode, int64_t dim, int64_t begin, int64_t end) {
  const int64_t crop = std::max<int64_t>(-begin, 0);
  const int64_t kept = dim - crop - std::max<int64_t>(-end, 0);
  const int64_t before = std::max<int64_t>(begin, 0);
  const int64_t out = kept + before + std::max<int64_t>(end, 0);
  std::vector<int64_t> map(static_cast<size_t>(out));
  for (int64_t o = 0; o < out; ++o) {
    int64_t i = o - before;
    if (i < 0 || i >= kept) {
      switch (mode) {
        case PadMode::Constant: i = -1; break;
        case PadMode::Edge: i = std::clamp<int64_t>(i, 0, kept - 1); break;
        case PadMode::Wrap: i = ((i % kept) + kept) % kept; break;
        case PadMode::Reflect: {
          const int64_t period = 2 * (kept - 1);
          i = period == 0 ? 0 : std::abs(i) % period;
          if (i >= kept) i = period - i;
          break;
        }
      }
    }
    map[size_t(o)] = i < 0 ? -1 : i + crop;
  }
  return map;
}

template <class T>
void pad_typed(const Tensor& x, Tensor& y, const std::vector<std::vector<int64_t>>& maps, T value) {
  const T* src = x.data<T>();
  T* dst = y.data<T>();
  const size_t r = maps.size();
  if (r == 0) {
    dst[0] = src[0];
    return;
  }
  const std::vector<int64_t> strides = contiguous_strides(x.shape());
  const std::vector<int64_t>& inner_map = maps[r - 1];
  const int64_t inner = y.dim(int(r) - 1), rows = inner == 0 ? 0 : y.numel() / inner;
  std::vector<int64_t> counter(r - 1, 0);
  for (int64_t row = 0; row < rows; ++row, dst += inner) {
    int64_t offset = 0;
    bool constant_row = false;
    for (size_t d = 0; d + 1 < r; ++d) {
      const int64_t i = maps[d][size_t(counter[d])];
      constant_row = constant_row || i < 0;
      offset += i * strides[d];
    }
    for (int64_t o = 0; o < inner; ++o) {
      const int64_t i = inner_map[size_t(o)];
      dst[o] = constant_row || i < 0 ? value : src[offset + i];
    }
    for (size_t d = r - 1; d-- > 0;) {
      if (++counter[d] < y.dim(int(d))) break;
      counter[d] = 0;
    }
  }
}

void pad(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  PadSpec p;
  pad_spec(ctx, p);
  std::vector<std::vector<int64_t>> maps;
  for (int d = 0; d < x.rank(); ++d) maps.push_back(pad_source_map(p.mode, x.dim(d), p.begin[size_t(d)], p.end[size_t(d)]));
  const bool value_input = ctx.opset() >= 11 && ctx.has_input(2);
  if (value_input && ctx.input(2).numel() != 1) ctx.fail("constant_value must be a scalar");
  if (value_input && ctx.input(2).dtype() != x.dtype()) ctx.fail("constant_value type differs from the input's");
  visit_dtype(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T value = value_input ? ctx.input(2).data<T>()[0] : T(ctx.node().attr_float("value", 0.0f));
    pad_typed<T>(x, y, maps, value);
  });
}

}  // namespace

void register_slice_pad_ops(OpTable& t) {
  t.add({.name = "Slice", .infer = infer_slice, .compute = slice, .cost = selection_cost});
  t.add({.name = "Pad", .infer = infer_pad, .compute = pad, .cost = data_movement_cost});
}

}  // namespace infera
