// Ops that change only a tensor's shape (Reshape, Flatten, Squeeze, Unsqueeze, Identity: views, no copy), ops that
// report it (Shape, Size), and Expand. Their infer functions evaluate the shape sub-graphs of exported models
// (Shape -> Gather -> Concat -> Reshape) during static analysis.
#include "ops/data_movement.h"

namespace infera {
namespace {

Cost view_cost(const OpContext&) { return {}; }

// Views: output 0 is input 0 with the shape the rule computes (false: needs a value not known yet).
template <bool (*Rule)(const OpContext&, Shape&)>
bool infer_view(OpContext& ctx) {
  Shape out;
  if (!Rule(ctx, out)) return false;
  ctx.set_output(0, ctx.dtype(0), out);
  return true;
}

template <bool (*Rule)(const OpContext&, Shape&)>
void compute_view(OpContext& ctx) {
  Shape out;
  Rule(ctx, out);
  ctx.set_output_tensor(0, ctx.input(0).reshaped(out));
}

bool reshape_target(const OpContext& ctx, Shape& out) {
  std::vector<int64_t> spec;
  if (ctx.opset() < 5) {
    spec = ctx.node().attr_ints("shape");
  } else {
    if (!ctx.has_input(1)) ctx.fail("shape input is required");
    if (ctx.rank(1) != 1) ctx.fail("shape input must be 1-D, got " + shape_str(ctx.shape(1)));
    if (!int_list_input(ctx, 1, spec)) return false;
  }
  const bool allowzero = ctx.opset() >= 14 && ctx.node().attr_int("allowzero", 0) != 0;
  const Shape& in = ctx.shape(0);
  out.assign(spec.begin(), spec.end());
  int unknown_at = -1;
  for (size_t i = 0; i < spec.size(); ++i) {
    if (spec[i] == -1) {
      if (unknown_at >= 0) ctx.fail("shape has more than one -1");
      unknown_at = int(i);
      out[i] = 1;
    } else if (spec[i] == 0 && !allowzero) {
      if (i >= in.size()) ctx.fail("shape entry " + std::to_string(i) + " is 0 but the input has rank " +
                                   std::to_string(in.size()));
      out[i] = in[i];
    } else if (spec[i] < 0) {
      ctx.fail("invalid shape entry " + std::to_string(spec[i]));
    }
  }
  const int64_t total = shape_numel(in), known = shape_numel(out);
  if (unknown_at >= 0) {
    if (known == 0 || total % known != 0)
      ctx.fail("cannot reshape " + shape_str(in) + " with -1 in shape " + shape_str(spec));
    out[size_t(unknown_at)] = total / known;
  } else if (known != total) {
    ctx.fail("cannot reshape " + shape_str(in) + " to " + shape_str(out));
  }
  return true;
}

bool flatten_shape(const OpContext& ctx, Shape& out) {
  const Shape& in = ctx.shape(0);
  const int r = int(in.size());
  int64_t axis = ctx.node().attr_int("axis", 1);
  if (axis < 0) axis += r;
  if (axis < 0 || axis > r) ctx.fail("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(r));
  int64_t outer = shape_numel(Shape(in.begin(), in.begin() + axis));
  int64_t inner = shape_numel(Shape(in.begin() + axis, in.end()));
  out = {outer, inner};
  return true;
}

// Squeeze/Unsqueeze axes: an attribute before opset 13, the optional input 1 from 13. `given` is false when neither
// is present; the result is false when the input's value is not known.
bool axes_operand(const OpContext& ctx, std::vector<int64_t>& axes, bool& given) {
  if (ctx.opset() < 13) {
    given = ctx.node().has_attr("axes");
    axes = ctx.node().attr_ints("axes");
    return true;
  }
  given = ctx.has_input(1);
  return int_list_input(ctx, 1, axes);
}

bool squeezed_shape(const OpContext& ctx, Shape& out) {
  std::vector<int64_t> axes;
  bool given = false;
  if (!axes_operand(ctx, axes, given)) return false;
  const Shape& in = ctx.shape(0);
  std::vector<bool> drop(in.size(), false);
  if (!given) {
    for (size_t i = 0; i < in.size(); ++i) drop[i] = in[i] == 1;
  }
  for (int a : normalize_axes(ctx, axes, int(in.size()))) {
    if (in[size_t(a)] != 1) ctx.fail("cannot squeeze axis " + std::to_string(a) + " of shape " + shape_str(in));
    drop[size_t(a)] = true;
  }
  out.clear();
  for (size_t i = 0; i < in.size(); ++i)
    if (!drop[i]) out.push_back(in[i]);
  return true;
}

bool unsqueezed_shape(const OpContext& ctx, Shape& out) {
  std::vector<int64_t> axes;
  bool given = false;
  if (!axes_operand(ctx, axes, given)) return false;
  if (!given) ctx.fail("axes are required");
  const Shape& in = ctx.shape(0);
  const int out_rank = int(in.size() + axes.size());
  std::vector<bool> inserted(size_t(out_rank), false);
  for (int a : normalize_axes(ctx, axes, out_rank)) {
    if (inserted[size_t(a)]) ctx.fail("axis " + std::to_string(a) + " appears twice in axes");
    inserted[size_t(a)] = true;
  }
  out.clear();
  size_t next = 0;
  for (int i = 0; i < out_rank; ++i) out.push_back(inserted[size_t(i)] ? 1 : in[next++]);
  return true;
}

void identity(OpContext& ctx) { ctx.set_output_tensor(0, ctx.input(0)); }

// Shape's [start, end) range (opset 15), clamped to [0, rank] as the spec says.
std::pair<int64_t, int64_t> shape_range(const OpContext& ctx) {
  const int64_t r = ctx.rank(0);
  auto clamp_axis = [&](int64_t a) { return std::clamp<int64_t>(a < 0 ? a + r : a, 0, r); };
  if (ctx.opset() < 15) return {0, r};
  const int64_t start = clamp_axis(ctx.node().attr_int("start", 0));
  const int64_t end = ctx.node().has_attr("end") ? clamp_axis(ctx.node().attr_int("end", r)) : r;
  return {start, std::max(start, end)};
}

bool infer_shape(OpContext& ctx) {
  auto [start, end] = shape_range(ctx);
  ctx.set_output(0, DType::Int64, {end - start});
  return true;
}

void shape(OpContext& ctx) {
  auto [start, end] = shape_range(ctx);
  int64_t* out = ctx.output(0).data<int64_t>();
  for (int64_t i = start; i < end; ++i) out[i - start] = ctx.shape(0)[size_t(i)];
}

bool infer_size(OpContext& ctx) {
  ctx.set_output(0, DType::Int64, {});
  return true;
}

void size(OpContext& ctx) { ctx.output(0).data<int64_t>()[0] = shape_numel(ctx.shape(0)); }

Cost shape_cost(const OpContext& ctx) {
  Cost c;
  c.bytes_written = type_bytes(ctx.output_type(0));
  return c;
}

bool expanded_shape(const OpContext& ctx, Shape& out) {
  if (ctx.rank(1) != 1) ctx.fail("shape input must be 1-D, got " + shape_str(ctx.shape(1)));
  std::vector<int64_t> target;
  if (!int_list_input(ctx, 1, target)) return false;
  out = broadcast_shapes(ctx, {ctx.shape(0), target});
  return true;
}

bool infer_expand(OpContext& ctx) {
  Shape out;
  if (!expanded_shape(ctx, out)) return false;
  ctx.set_output(0, ctx.dtype(0), out);
  return true;
}

void expand(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  strided_copy(x.raw(), y.raw(), dtype_size(x.dtype()), y.shape(), broadcast_strides(x.shape(), y.shape()));
}

}  // namespace

void register_shape_ops(OpTable& t) {
  t.add({.name = "Reshape", .infer = infer_view<reshape_target>, .compute = compute_view<reshape_target>,
         .cost = view_cost, .view = true});
  t.add({.name = "Flatten", .infer = infer_view<flatten_shape>, .compute = compute_view<flatten_shape>,
         .cost = view_cost, .view = true});
  t.add({.name = "Squeeze", .infer = infer_view<squeezed_shape>, .compute = compute_view<squeezed_shape>,
         .cost = view_cost, .view = true});
  t.add({.name = "Unsqueeze", .infer = infer_view<unsqueezed_shape>, .compute = compute_view<unsqueezed_shape>,
         .cost = view_cost, .view = true});
  t.add({.name = "Identity", .infer = infer_same_as_input, .compute = identity, .cost = view_cost, .view = true});
  t.add({.name = "Shape", .infer = infer_shape, .compute = shape, .cost = shape_cost, .reads_shapes_only = true});
  t.add({.name = "Size", .infer = infer_size, .compute = size, .cost = shape_cost, .reads_shapes_only = true});
  t.add({.name = "Expand", .infer = infer_expand, .compute = expand, .cost = data_movement_cost});
}

}  // namespace infera
