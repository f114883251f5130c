#include "ops/helpers.h"

namespace infera {

Shape broadcast_shapes(const OpContext& ctx, const std::vector<Shape>& shapes) {
  size_t r = 0;
  for (const Shape& s : shapes) r = std::max(r, s.size());
  Shape out(r, 1);
  for (const Shape& s : shapes) {
    for (size_t i = 0; i < s.size(); ++i) {
      int64_t& o = out[r - s.size() + i];
      int64_t d = s[i];
      if (d == o || d == 1) continue;
      if (o == 1) {
        o = d;
        continue;
      }
      std::string msg = "shapes cannot be broadcast together:";
      for (const Shape& t : shapes) msg += " " + shape_str(t);
      ctx.fail(msg);
    }
  }
  return out;
}

std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out) {
  std::vector<int64_t> strides(out.size(), 0);
  int64_t stride = 1;
  for (size_t i = in.size(); i-- > 0;) {
    size_t o = out.size() - in.size() + i;
    strides[o] = in[i] == 1 ? 0 : stride;
    stride *= in[i];
  }
  return strides;
}

int normalize_axis(const OpContext& ctx, int64_t axis, int rank) {
  if (axis < -rank || axis >= rank)
    ctx.fail("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return int(axis < 0 ? axis + rank : axis);
}

std::vector<int> normalize_axes(const OpContext& ctx, const std::vector<int64_t>& axes, int rank) {
  std::vector<int> out;
  for (int64_t a : axes) out.push_back(normalize_axis(ctx, a, rank));
  return out;
}

int64_t checked_add(const OpContext& ctx, int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r))
    ctx.fail("size " + std::to_string(a) + " + " + std::to_string(b) + " overflows int64");
  return r;
}

int64_t checked_mul(const OpContext& ctx, int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r))
    ctx.fail("size " + std::to_string(a) + " * " + std::to_string(b) + " overflows int64");
  return r;
}

std::vector<int64_t> contiguous_strides(const Shape& shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) s[i - 1] = s[i] * shape[i];
  return s;
}

bool infer_same_as_input(OpContext& ctx) {
  ctx.set_output(0, ctx.dtype(0), ctx.shape(0));
  return true;
}

bool int_list_input(const OpContext& ctx, int i, std::vector<int64_t>& out) {
  out.clear();
  if (!ctx.has_input(i)) return true;
  const Tensor* v = ctx.value(i);
  if (!v) return false;
  out = v->to_int_vector();
  return true;
}

}  // namespace infera
