// Ops that create tensors from attributes and scalars: Constant, ConstantOfShape, EyeLike, Range.
#include <cmath>
#include <cstring>

#include "ops/data_movement.h"

namespace infera {
namespace {

Tensor constant_value(const OpContext& ctx) {
  const Node& n = ctx.node();
  if (const Tensor* t = n.attr_tensor("value")) return *t;
  if (n.has_attr("value_float")) return Tensor::scalar(n.attr_float("value_float", 0));
  if (n.has_attr("value_floats")) {
    std::vector<float> v = n.attr_floats("value_floats");
    return Tensor::from_vector<float>({int64_t(v.size())}, v);
  }
  if (n.has_attr("value_int")) return Tensor::scalar<int64_t>(n.attr_int("value_int", 0));
  if (n.has_attr("value_ints")) {
    std::vector<int64_t> v = n.attr_ints("value_ints");
    return Tensor::from_vector<int64_t>({int64_t(v.size())}, v);
  }
  if (n.has_attr("sparse_value")) ctx.fail("sparse_value is not supported");
  if (n.has_attr("value_string") || n.has_attr("value_strings")) ctx.fail("string constants are not supported");
  ctx.fail("has no value attribute");
}

bool infer_constant(OpContext& ctx) {
  Tensor t = constant_value(ctx);
  ctx.set_output(0, t.dtype(), t.shape());
  return true;
}

void constant(OpContext& ctx) { ctx.set_output_tensor(0, constant_value(ctx)); }

Cost constant_cost(const OpContext& ctx) {
  Cost c;
  c.bytes_written = type_bytes(ctx.output_type(0));
  return c;
}

Tensor fill_value(const OpContext& ctx) {
  const Tensor* v = ctx.node().attr_tensor("value");
  if (!v) return Tensor::scalar(0.0f);
  if (v->numel() != 1) ctx.fail("value must hold exactly one element");
  return *v;
}

bool infer_constant_of_shape(OpContext& ctx) {
  if (ctx.rank(0) != 1) ctx.fail("shape input must be 1-D, got " + shape_str(ctx.shape(0)));
  std::vector<int64_t> shape;
  if (!int_list_input(ctx, 0, shape)) return false;
  ctx.set_output(0, fill_value(ctx).dtype(), shape);
  return true;
}

void constant_of_shape(OpContext& ctx) {
  const Tensor value = fill_value(ctx);
  Tensor& y = ctx.output(0);
  if (y.numel() == 0) return;
  // Copy the element once, then keep doubling the filled prefix.
  auto dst = static_cast<std::byte*>(y.raw());
  std::memcpy(dst, value.raw(), value.nbytes());
  for (size_t filled = value.nbytes(); filled < y.nbytes(); filled *= 2)
    std::memcpy(dst + filled, dst, std::min(filled, y.nbytes() - filled));
}

DType eye_like_dtype(const OpContext& ctx) {
  if (!ctx.node().has_attr("dtype")) return ctx.dtype(0);
  const DType t = DType(ctx.node().attr_int("dtype", 0));
  if (dtype_size(t) == 0) ctx.fail("unsupported dtype " + std::to_string(int(t)));
  return t;
}

bool infer_eye_like(OpContext& ctx) {
  if (ctx.rank(0) != 2) ctx.fail("input must be 2-D, got " + shape_str(ctx.shape(0)));
  ctx.set_output(0, eye_like_dtype(ctx), ctx.shape(0));
  return true;
}

void eye_like(OpContext& ctx) {
  Tensor& y = ctx.output(0);
  const int64_t rows = y.dim(0), cols = y.dim(1);
  const int64_t k = std::clamp<int64_t>(ctx.node().attr_int("k", 0), -rows, cols);
  visit_dtype(y.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* out = y.data<T>();
    for (int64_t i = std::max<int64_t>(0, -k); i < rows && k < cols - i; ++i) out[i * cols + i + k] = T(1);
  });
}

// Element count of Range: max(ceil((limit - start) / delta), 0).
int64_t range_count(const OpContext& ctx) {
  const Tensor &start = ctx.input(0), &limit = ctx.input(1), &delta = ctx.input(2);
  for (int i = 0; i < 3; ++i)
    if (ctx.input(i).numel() != 1) ctx.fail("start, limit and delta must be scalars");
  if (limit.dtype() != start.dtype() || delta.dtype() != start.dtype()) ctx.fail("input types differ");
  if (dtype_is_float(start.dtype())) {
    const double n = std::ceil((limit.as_double(0) - start.as_double(0)) / delta.as_double(0));
    if (!std::isfinite(n)) ctx.fail("element count is not finite");
    return n > 0 ? int64_t(n) : 0;
  }
  const int64_t from = start.as_int(0), to = limit.as_int(0), step = delta.as_int(0);
  if (step == 0) ctx.fail("delta must not be 0");
  if (step > 0) return to > from ? (to - from - 1) / step + 1 : 0;
  return to < from ? (from - to - 1) / -step + 1 : 0;
}

bool infer_range(OpContext& ctx) {
  if (!ctx.value(0) || !ctx.value(1) || !ctx.value(2)) return false;
  ctx.set_output(0, ctx.dtype(0), {range_count(ctx)});
  return true;
}

void range(OpContext& ctx) {
  Tensor& y = ctx.output(0);
  visit_numeric(y.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = std::conditional_t<is_float_v<T>, double, T>;
    const C start = C(ctx.input(0).data<T>()[0]), delta = C(ctx.input(2).data<T>()[0]);
    T* out = y.data<T>();
    for (int64_t i = 0; i < y.numel(); ++i) out[i] = T(start + C(i) * delta);
  });
}

}  // namespace

void register_constant_ops(OpTable& t) {
  t.add({.name = "Constant", .infer = infer_constant, .compute = constant, .cost = constant_cost});
  t.add({.name = "ConstantOfShape", .infer = infer_constant_of_shape, .compute = constant_of_shape,
         .cost = constant_cost});
  t.add({.name = "EyeLike", .infer = infer_eye_like, .compute = eye_like, .cost = constant_cost});
  t.add({.name = "Range", .infer = infer_range, .compute = range, .cost = constant_cost});
}

}  // namespace infera
