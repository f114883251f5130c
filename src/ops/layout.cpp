// Ops that rearrange elements: Transpose, DepthToSpace, SpaceToDepth, Tile, Trilu; and the byte-moving kernels
// (data_movement.h) that the other shape-manipulation families share.
#include <cstring>

#include "ops/data_movement.h"

namespace infera {

namespace {

template <size_t N>
void strided_copy_bytes(const std::byte* src, std::byte* dst, const Shape& shape, const std::vector<int64_t>& strides) {
  const size_t r = shape.size();
  const int64_t inner = shape[r - 1];
  const int64_t inner_stride = strides[r - 1] * int64_t(N);
  const int64_t rows = shape_numel(shape) / inner;
  std::vector<int64_t> counter(r - 1, 0);
  int64_t offset = 0;  // bytes
  for (int64_t row = 0; row < rows; ++row) {
    const std::byte* s = src + offset;
    if (inner_stride == int64_t(N)) {
      std::memcpy(dst, s, size_t(inner) * N);
    } else {
      for (int64_t i = 0; i < inner; ++i) std::memcpy(dst + i * int64_t(N), s + i * inner_stride, N);
    }
    dst += inner * int64_t(N);
    for (size_t d = r - 1; d-- > 0;) {  // odometer over every dimension but the last
      offset += strides[d] * int64_t(N);
      if (++counter[d] < shape[d]) break;
      offset -= strides[d] * shape[d] * int64_t(N);
      counter[d] = 0;
    }
  }
}

}  // namespace

void strided_copy(const void* src, void* dst, size_t elem_size, const Shape& shape,
                  const std::vector<int64_t>& src_strides) {
  if (shape_numel(shape) == 0) return;
  auto s = static_cast<const std::byte*>(src);
  auto d = static_cast<std::byte*>(dst);
  if (shape.empty()) {
    std::memcpy(d, s, elem_size);
    return;
  }
  switch (elem_size) {
    case 1: return strided_copy_bytes<1>(s, d, shape, src_strides);
    case 2: return strided_copy_bytes<2>(s, d, shape, src_strides);
    case 4: return strided_copy_bytes<4>(s, d, shape, src_strides);
    case 8: return strided_copy_bytes<8>(s, d, shape, src_strides);
    default: throw Error("strided_copy: unsupported element size " + std::to_string(elem_size));
  }
}

void transpose_copy(const void* src, void* dst, size_t elem_size, const Shape& src_shape, const std::vector<int>& perm) {
  const std::vector<int64_t> strides = contiguous_strides(src_shape);
  Shape out_shape;
  std::vector<int64_t> src_strides;
  for (int p : perm) {
    out_shape.push_back(src_shape[size_t(p)]);
    src_strides.push_back(strides[size_t(p)]);
  }
  strided_copy(src, dst, elem_size, out_shape, src_strides);
}

Cost data_movement_cost(const OpContext& ctx) { return elementwise_cost(ctx, 0); }

Cost selection_cost(const OpContext& ctx) {
  Cost c;
  for (int i = 1; i < ctx.num_inputs(); ++i)
    if (ctx.has_input(i)) c.bytes_read += type_bytes(ctx.input_type(i));
  for (int i = 0; i < ctx.num_outputs(); ++i) {
    if (!ctx.has_output(i)) continue;
    double bytes = type_bytes(ctx.output_type(i));
    c.bytes_read += bytes;
    c.bytes_written += bytes;
  }
  return c;
}

namespace {

std::vector<int> transpose_perm(const OpContext& ctx) {
  const int r = ctx.rank(0);
  std::vector<int> perm;
  if (!ctx.node().has_attr("perm")) {
    for (int i = r; i-- > 0;) perm.push_back(i);
    return perm;
  }
  std::vector<int64_t> given = ctx.node().attr_ints("perm");
  if (int(given.size()) != r)
    ctx.fail("perm has " + std::to_string(given.size()) + " entries for an input of rank " + std::to_string(r));
  std::vector<bool> seen(size_t(r), false);
  for (int64_t p : given) {
    int axis = normalize_axis(ctx, p, r);
    if (seen[size_t(axis)]) ctx.fail("perm is not a permutation");
    seen[size_t(axis)] = true;
    perm.push_back(axis);
  }
  return perm;
}

bool infer_transpose(OpContext& ctx) {
  Shape out;
  for (int p : transpose_perm(ctx)) out.push_back(ctx.shape(0)[size_t(p)]);
  ctx.set_output(0, ctx.dtype(0), out);
  return true;
}

void transpose(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  transpose_copy(x.raw(), ctx.output(0).raw(), dtype_size(x.dtype()), x.shape(), transpose_perm(ctx));
}

int64_t block_size(const OpContext& ctx) {
  if (ctx.rank(0) != 4) ctx.fail("input must be 4-D (N, C, H, W), got " + shape_str(ctx.shape(0)));
  int64_t b = ctx.node().attr_int("blocksize", 0);
  if (b <= 0) ctx.fail("blocksize must be positive");
  return b;
}

bool infer_depth_to_space(OpContext& ctx) {
  const int64_t b = block_size(ctx), bb = checked_mul(ctx, b, b);
  const Shape& s = ctx.shape(0);
  if (s[1] % bb != 0) ctx.fail("channels " + std::to_string(s[1]) + " are not divisible by blocksize^2");
  std::string mode = ctx.node().attr_string("mode", "DCR");
  if (mode != "DCR" && mode != "CRD") ctx.fail("unknown mode '" + mode + "'");
  ctx.set_output(0, ctx.dtype(0), {s[0], s[1] / bb, checked_mul(ctx, s[2], b), checked_mul(ctx, s[3], b)});
  return true;
}

// DepthToSpace is a reshape to 6-D, a transpose, and a reshape back (the spec's own definition).
void depth_to_space(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const int64_t b = block_size(ctx), n = x.dim(0), c = x.dim(1) / (b * b), h = x.dim(2), w = x.dim(3);
  const bool dcr = ctx.node().attr_string("mode", "DCR") == "DCR";
  const Shape view = dcr ? Shape{n, b, b, c, h, w} : Shape{n, c, b, b, h, w};
  const std::vector<int> perm = dcr ? std::vector<int>{0, 3, 4, 1, 5, 2} : std::vector<int>{0, 1, 4, 2, 5, 3};
  transpose_copy(x.raw(), ctx.output(0).raw(), dtype_size(x.dtype()), view, perm);
}

bool infer_space_to_depth(OpContext& ctx) {
  const int64_t b = block_size(ctx);
  const Shape& s = ctx.shape(0);
  if (s[2] % b != 0 || s[3] % b != 0) ctx.fail("spatial size " + shape_str(s) + " is not divisible by blocksize");
  ctx.set_output(0, ctx.dtype(0), {s[0], checked_mul(ctx, checked_mul(ctx, s[1], b), b), s[2] / b, s[3] / b});
  return true;
}

void space_to_depth(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const int64_t b = block_size(ctx), n = x.dim(0), c = x.dim(1), h = x.dim(2) / b, w = x.dim(3) / b;
  transpose_copy(x.raw(), ctx.output(0).raw(), dtype_size(x.dtype()), {n, c, h, b, w, b}, {0, 3, 5, 1, 2, 4});
}

bool tile_repeats(const OpContext& ctx, std::vector<int64_t>& repeats) {
  if (!int_list_input(ctx, 1, repeats)) return false;
  if (int(repeats.size()) != ctx.rank(0))
    ctx.fail("repeats has " + std::to_string(repeats.size()) + " entries for an input of rank " +
             std::to_string(ctx.rank(0)));
  for (int64_t r : repeats)
    if (r < 0) ctx.fail("repeats must be non-negative");
  return true;
}

bool infer_tile(OpContext& ctx) {
  std::vector<int64_t> repeats;
  if (!ctx.has_input(1)) ctx.fail("repeats input is required");
  if (!tile_repeats(ctx, repeats)) return false;
  Shape out = ctx.shape(0);
  for (size_t i = 0; i < out.size(); ++i) out[i] *= repeats[i];
  ctx.set_output(0, ctx.dtype(0), out);
  return true;
}

// Output dimension i of size repeats[i] * d[i] is read as a 2-D block (repeat, d) whose repeat index has stride 0.
void tile(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::vector<int64_t> repeats;
  tile_repeats(ctx, repeats);
  const std::vector<int64_t> strides = contiguous_strides(x.shape());
  Shape view;
  std::vector<int64_t> view_strides;
  for (size_t i = 0; i < repeats.size(); ++i) {
    view.insert(view.end(), {repeats[i], x.dim(int(i))});
    view_strides.insert(view_strides.end(), {0, strides[i]});
  }
  strided_copy(x.raw(), ctx.output(0).raw(), dtype_size(x.dtype()), view, view_strides);
}

bool infer_trilu(OpContext& ctx) {
  if (ctx.rank(0) < 2) ctx.fail("input must have rank >= 2, got " + shape_str(ctx.shape(0)));
  if (ctx.has_input(1) && shape_numel(ctx.shape(1)) != 1) ctx.fail("k must be a scalar");
  return infer_same_as_input(ctx);
}

void trilu(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  const int64_t rows = x.dim(x.rank() - 2), cols = x.dim(x.rank() - 1);
  const int64_t k = std::clamp<int64_t>(ctx.has_input(1) ? ctx.input(1).as_int(0) : 0, -rows - 1, cols + 1);
  const bool upper = ctx.node().attr_int("upper", 1) != 0;
  const size_t es = dtype_size(x.dtype());
  const int64_t matrices = rows * cols == 0 ? 0 : x.numel() / (rows * cols);
  auto src = static_cast<const std::byte*>(x.raw());
  auto dst = static_cast<std::byte*>(y.raw());
  for (int64_t m = 0; m < matrices; ++m) {
    for (int64_t i = 0; i < rows; ++i) {
      // Upper keeps columns j >= i + k, lower keeps j <= i + k.
      const int64_t begin = upper ? std::clamp<int64_t>(i + k, 0, cols) : 0;
      const int64_t end = upper ? cols : std::clamp<int64_t>(i + k + 1, 0, cols);
      if (begin >= end) continue;
      const int64_t at = (m * rows + i) * cols + begin;
      std::memcpy(dst + at * int64_t(es), src + at * int64_t(es), size_t(end - begin) * es);
    }
  }
}

}  // namespace

void register_layout_ops(OpTable& t) {
  t.add({.name = "Transpose", .infer = infer_transpose, .compute = transpose, .cost = data_movement_cost});
  t.add({.name = "DepthToSpace", .infer = infer_depth_to_space, .compute = depth_to_space, .cost = data_movement_cost});
  t.add({.name = "SpaceToDepth", .infer = infer_space_to_depth, .compute = space_to_depth, .cost = data_movement_cost});
  t.add({.name = "Tile", .infer = infer_tile, .compute = tile, .cost = data_movement_cost});
  t.add({.name = "Trilu", .infer = infer_trilu, .compute = trilu, .cost = data_movement_cost});
}

}  // namespace infera
