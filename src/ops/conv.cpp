// Conv as im2col + GEMM per image and group; ConvTranspose lives in conv_transpose.cpp.
#include "ops/conv_geometry.h"
#include "ops/gemm_kernel.h"
#include "ops/helpers.h"

namespace infera {

void register_conv_transpose_ops(OpTable& t);

namespace {

// Checks X / W / optional B types and the bias length; returns the geometry.
ConvGeometry checked_conv_geometry(const OpContext& ctx) {
  if (!dtype_is_float(ctx.dtype(0)))
    ctx.fail("input type " + std::string(dtype_name(ctx.dtype(0))) + " is not a float type");
  if (ctx.dtype(1) != ctx.dtype(0)) ctx.fail("weight type differs from input type");
  ConvGeometry g = conv_geometry(ctx, ctx.shape(0), ctx.shape(1));
  if (ctx.has_input(2)) {
    if (ctx.dtype(2) != ctx.dtype(0)) ctx.fail("bias type differs from input type");
    if (ctx.shape(2) != Shape{g.out_channels})
      ctx.fail("bias shape " + shape_str(ctx.shape(2)) + " must be [" + std::to_string(g.out_channels) + "]");
  }
  return g;
}

bool infer_conv(OpContext& ctx) {
  ctx.set_output(0, ctx.dtype(0), checked_conv_geometry(ctx).output_shape());
  return true;
}

// A 1x1 kernel with unit strides and no padding reads the image itself as its column matrix.
bool is_pointwise(const ConvGeometry& g) {
  for (int d = 0; d < g.spatial_rank(); ++d)
    if (g.kernel[size_t(d)] != 1 || g.strides[size_t(d)] != 1 || g.pads_begin[size_t(d)] != 0 ||
        g.pads_end[size_t(d)] != 0)
      return false;
  return true;
}

template <class C>
void conv_forward(const ConvGeometry& g, const C* x, const C* w, const C* bias, C* y) {
  const int64_t cg = g.in_channels_per_group(), mg = g.out_channels_per_group();
  const int64_t rows = cg * g.kernel_size(), in_size = g.in_size(), out_size = g.out_size();
  const bool pointwise = is_pointwise(g);
  std::vector<C> columns(pointwise ? 0 : size_t(rows * out_size));
  for (int64_t n = 0; n < g.batch; ++n) {
    for (int64_t grp = 0; grp < g.group; ++grp) {
      const C* image = x + (n * g.in_channels + grp * cg) * in_size;
      C* out = y + (n * g.out_channels + grp * mg) * out_size;
      if (bias)
        for (int64_t m = 0; m < mg; ++m) std::fill(out + m * out_size, out + (m + 1) * out_size, bias[grp * mg + m]);
      const C* cols = image;
      if (!pointwise) {
        im2col(g, image, cg, columns.data(), C(0));
        cols = columns.data();
      }
      gemm<C>(false, false, mg, out_size, rows, C(1), w + grp * mg * rows, rows, cols, out_size, C(bias ? 1 : 0), out,
              out_size);
    }
  }
}

void conv(OpContext& ctx) {
  const ConvGeometry g = checked_conv_geometry(ctx);
  run_float_conv(ctx, [&](const auto* x, const auto* w, const auto* bias, auto* y) { conv_forward(g, x, w, bias, y); });
}

Cost conv_cost(const OpContext& ctx) {
  const ConvGeometry g = conv_geometry(ctx, ctx.shape(0), ctx.shape(1));
  const double outputs = double(g.batch) * double(g.out_channels) * double(g.out_size());
  Cost c = elementwise_cost(ctx, 0);
  c.flops = 2.0 * outputs * double(g.in_channels_per_group()) * double(g.kernel_size()) +
            (ctx.has_input(2) ? outputs : 0.0);
  c.matrix = conv_matrix_shape(g);
  return c;
}

}  // namespace

void register_conv_ops(OpTable& t) {
  t.add({.name = "Conv", .infer = infer_conv, .compute = conv, .cost = conv_cost});
  register_conv_transpose_ops(t);
}

}  // namespace infera
