// ConvTranspose: the adjoint of a convolution. Each image and group is one GEMM (W^T times X) into a column
// matrix, scattered back onto the output with col2im_add using the geometry of the convolution being transposed.
#include "ops/conv_geometry.h"
#include "ops/gemm_kernel.h"
#include "ops/helpers.h"

namespace infera {

namespace {

// The geometry of the forward convolution whose adjoint this node computes: that convolution's input is the
// ConvTranspose output (in_channels = M, in_spatial) and its output is the ConvTranspose input X (out_channels = C,
// out_spatial). Pads follow output_shape or auto_pad as the spec's total_padding rule says.
ConvGeometry transpose_geometry(const OpContext& ctx) {
  if (!dtype_is_float(ctx.dtype(0)))
    ctx.fail("input type " + std::string(dtype_name(ctx.dtype(0))) + " is not a float type");
  if (ctx.dtype(1) != ctx.dtype(0)) ctx.fail("weight type differs from input type");
  const Shape& x = ctx.shape(0);
  const Shape& w = ctx.shape(1);
  if (x.size() < 3) ctx.fail("input must have rank >= 3 (N x C x spatial), got " + shape_str(x));
  if (w.size() != x.size())
    ctx.fail("weight rank " + std::to_string(w.size()) + " does not match input rank " + std::to_string(x.size()));
  const Node& node = ctx.node();
  const int n = int(x.size()) - 2;
  ConvGeometry g;
  g.batch = x[0];
  g.group = node.attr_int("group", 1);
  g.out_channels = x[1];
  g.in_channels = w[1] * g.group;
  g.kernel.assign(w.begin() + 2, w.end());
  g.out_spatial.assign(x.begin() + 2, x.end());
  if (g.group < 1 || x[1] % g.group != 0)
    ctx.fail("input channels " + std::to_string(x[1]) + " must be divisible by group " + std::to_string(g.group));
  if (w[0] != x[1])
    ctx.fail("weight shape " + shape_str(w) + " expects " + std::to_string(w[0]) + " input channels, input has " +
             std::to_string(x[1]));
  if (node.has_attr("kernel_shape") && node.attr_ints("kernel_shape") != g.kernel)
    ctx.fail("kernel_shape attribute does not match weight shape " + shape_str(w));
  read_window_attributes(ctx, n, g.strides, g.dilations, g.pads_begin, g.pads_end);
  const std::vector<int64_t> output_padding = node.attr_ints("output_padding", std::vector<int64_t>(size_t(n), 0));
  std::vector<int64_t> output_shape = node.attr_ints("output_shape");
  if (int(output_padding.size()) != n) ctx.fail("output_padding does not match spatial rank " + std::to_string(n));
  if (int(output_shape.size()) == n + 2) output_shape.erase(output_shape.begin(), output_shape.begin() + 2);
  if (!output_shape.empty() && int(output_shape.size()) != n)
    ctx.fail("output_shape does not match spatial rank " + std::to_string(n));
  const std::string auto_pad = node.attr_string("auto_pad", "NOTSET");
  if (auto_pad != "NOTSET" && auto_pad != "SAME_UPPER" && auto_pad != "SAME_LOWER" && auto_pad != "VALID")
    ctx.fail("unknown auto_pad '" + auto_pad + "'");
  g.in_spatial.resize(size_t(n));
  for (size_t i = 0; i < size_t(n); ++i) {
    const int64_t full = g.strides[i] * (g.out_spatial[i] - 1) + output_padding[i] + (g.kernel[i] - 1) * g.dilations[i] + 1;
    int64_t target = -1;  // output length fixed by output_shape or SAME: pads follow from it
    if (!output_shape.empty())
      target = output_shape[i];
    else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER")
      target = g.out_spatial[i] * g.strides[i];
    else if (auto_pad == "VALID")
      g.pads_begin[i] = g.pads_end[i] = 0;
    if (target >= 0) {
      const int64_t total = full - target;
      const int64_t half = total >= 0 ? total / 2 : -((1 - total) / 2);  // floor(total / 2), as the spec's Python
      g.pads_begin[i] = auto_pad == "SAME_UPPER" ? half : total - half;
      g.pads_end[i] = total - g.pads_begin[i];
    }
    g.in_spatial[i] = full - g.pads_begin[i] - g.pads_end[i];
    if (g.in_spatial[i] < 0) ctx.fail("pads leave a negative output size");
  }
  if (ctx.has_input(2)) {
    if (ctx.dtype(2) != ctx.dtype(0)) ctx.fail("bias type differs from input type");
    if (ctx.shape(2) != Shape{g.in_channels})
      ctx.fail("bias shape " + shape_str(ctx.shape(2)) + " must be [" + std::to_string(g.in_channels) + "]");
  }
  return g;
}

Shape transpose_output_shape(const ConvGeometry& g) {
  Shape s{g.batch, g.in_channels};
  s.insert(s.end(), g.in_spatial.begin(), g.in_spatial.end());
  return s;
}

bool infer_conv_transpose(OpContext& ctx) {
  ctx.set_output(0, ctx.dtype(0), transpose_output_shape(transpose_geometry(ctx)));
  return true;
}

template <class C>
void conv_transpose_forward(const ConvGeometry& g, const C* x, const C* w, const C* bias, C* y) {
  const int64_t cg = g.out_channels_per_group(), mg = g.in_channels_per_group();
  const int64_t rows = mg * g.kernel_size(), x_size = g.out_size(), y_size = g.in_size();
  std::vector<C> columns(size_t(rows * x_size));
  for (int64_t n = 0; n < g.batch; ++n) {
    for (int64_t grp = 0; grp < g.group; ++grp) {
      const C* image = x + (n * g.out_channels + grp * cg) * x_size;
      C* out = y + (n * g.in_channels + grp * mg) * y_size;
      gemm<C>(true, false, rows, x_size, cg, C(1), w + grp * cg * rows, rows, image, x_size, C(0), columns.data(),
              x_size);
      col2im_add(g, columns.data(), mg, out);
      if (bias)
        for (int64_t m = 0; m < mg; ++m)
          for (int64_t i = 0; i < y_size; ++i) out[m * y_size + i] += bias[grp * mg + m];
    }
  }
}

void conv_transpose(OpContext& ctx) {
  const ConvGeometry g = transpose_geometry(ctx);
  run_float_conv(ctx, [&](const auto* x, const auto* w, const auto* bias, auto* y) {
    conv_transpose_forward(g, x, w, bias, y);
  });
}

Cost conv_transpose_cost(const OpContext& ctx) {
  const ConvGeometry g = transpose_geometry(ctx);
  const double inputs = double(g.batch) * double(g.out_channels) * double(g.out_size());
  Cost c = elementwise_cost(ctx, 0);
  c.flops = 2.0 * inputs * double(g.in_channels_per_group()) * double(g.kernel_size()) +
            (ctx.has_input(2) ? double(g.batch) * double(g.in_channels) * double(g.in_size()) : 0.0);
  return c;
}

}  // namespace

void register_conv_transpose_ops(OpTable& t) {
  t.add({.name = "ConvTranspose", .infer = infer_conv_transpose, .compute = conv_transpose, .cost = conv_transpose_cost});
}

}  // namespace infera
