#include "ops/conv_geometry.h"
#include "ops/helpers.h"

namespace infera {

namespace {

std::string dims_str(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(v[i]);
  }
  s += ']';
  return s;
}

// Output length of one window dimension; fills the effective pads for auto_pad modes other than NOTSET.
int64_t window_output_dim(const OpContext& ctx, const std::string& auto_pad, int64_t in, int64_t kernel,
                          int64_t stride, int64_t dilation, bool ceil_mode, int64_t& pad_begin, int64_t& pad_end) {
  // Attributes are untrusted: every size here is computed with overflow checks.
  const int64_t extent = checked_add(ctx, checked_mul(ctx, kernel - 1, dilation), 1);
  if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    const int64_t out = checked_add(ctx, in, stride - 1) / stride;
    const int64_t total = std::max<int64_t>(0, checked_add(ctx, checked_mul(ctx, out - 1, stride), extent) - in);
    const int64_t small = total / 2, large = total - small;
    pad_begin = auto_pad == "SAME_UPPER" ? small : large;
    pad_end = total - pad_begin;
    return out;
  }
  if (auto_pad == "VALID") {
    pad_begin = pad_end = 0;
  } else if (auto_pad != "NOTSET" && !auto_pad.empty()) {
    ctx.fail("unknown auto_pad '" + auto_pad + "'");
  }
  const int64_t padded = checked_add(ctx, checked_add(ctx, in, pad_begin), pad_end);
  const int64_t span = padded - extent;
  if (span < 0)
    ctx.fail("kernel extent " + std::to_string(extent) + " exceeds padded input size " + std::to_string(padded));
  int64_t out = (ceil_mode ? checked_add(ctx, span, stride - 1) / stride : span / stride) + 1;
  if (ceil_mode && checked_mul(ctx, out - 1, stride) >= in + pad_begin) --out;  // last window would start in the end padding
  return out;
}

}  // namespace

int64_t ConvGeometry::kernel_size() const {
  int64_t n = 1;
  for (int64_t k : kernel) n *= k;
  return n;
}

int64_t ConvGeometry::in_size() const {
  int64_t n = 1;
  for (int64_t d : in_spatial) n *= d;
  return n;
}

int64_t ConvGeometry::out_size() const {
  int64_t n = 1;
  for (int64_t d : out_spatial) n *= d;
  return n;
}

Shape ConvGeometry::output_shape() const {
  Shape s{batch, out_channels};
  s.insert(s.end(), out_spatial.begin(), out_spatial.end());
  return s;
}

void read_window_attributes(const OpContext& ctx, int n, std::vector<int64_t>& strides,
                            std::vector<int64_t>& dilations, std::vector<int64_t>& pads_begin,
                            std::vector<int64_t>& pads_end) {
  const Node& node = ctx.node();
  strides = node.attr_ints("strides", std::vector<int64_t>(size_t(n), 1));
  dilations = node.attr_ints("dilations", std::vector<int64_t>(size_t(n), 1));
  std::vector<int64_t> pads = node.attr_ints("pads", std::vector<int64_t>(size_t(2 * n), 0));
  if (int(strides.size()) != n) ctx.fail("strides " + dims_str(strides) + " do not match spatial rank " + std::to_string(n));
  if (int(dilations.size()) != n)
    ctx.fail("dilations " + dims_str(dilations) + " do not match spatial rank " + std::to_string(n));
  if (int(pads.size()) != 2 * n) ctx.fail("pads " + dims_str(pads) + " do not match spatial rank " + std::to_string(n));
  for (int i = 0; i < n; ++i) {
    if (strides[size_t(i)] < 1) ctx.fail("strides must be positive, got " + dims_str(strides));
    if (dilations[size_t(i)] < 1) ctx.fail("dilations must be positive, got " + dims_str(dilations));
  }
  for (int64_t p : pads)
    if (p < 0) ctx.fail("pads must be non-negative, got " + dims_str(pads));
  pads_begin.assign(pads.begin(), pads.begin() + n);
  pads_end.assign(pads.begin() + n, pads.end());
}

ConvGeometry window_geometry(const OpContext& ctx, const Shape& x, const std::vector<int64_t>& kernel,
                             bool ceil_mode) {
  const int n = int(kernel.size());
  if (int(x.size()) != n + 2)
    ctx.fail("input of shape " + shape_str(x) + " does not match kernel " + dims_str(kernel) +
             " (expected N x C x " + std::to_string(n) + " spatial dims)");
  ConvGeometry g;
  g.batch = x[0];
  g.in_channels = g.out_channels = x[1];
  g.in_spatial.assign(x.begin() + 2, x.end());
  g.kernel = kernel;
  for (int64_t k : kernel)
    if (k < 1) ctx.fail("kernel dims must be positive, got " + dims_str(kernel));
  read_window_attributes(ctx, n, g.strides, g.dilations, g.pads_begin, g.pads_end);
  const std::string auto_pad = ctx.node().attr_string("auto_pad", "NOTSET");
  g.out_spatial.resize(size_t(n));
  for (size_t i = 0; i < size_t(n); ++i)
    g.out_spatial[i] = window_output_dim(ctx, auto_pad, g.in_spatial[i], g.kernel[i], g.strides[i], g.dilations[i],
                                         ceil_mode, g.pads_begin[i], g.pads_end[i]);
  return g;
}

ConvGeometry conv_geometry(const OpContext& ctx, const Shape& x, const Shape& w) {
  if (x.size() < 3) ctx.fail("input must have rank >= 3 (N x C x spatial), got " + shape_str(x));
  if (w.size() != x.size())
    ctx.fail("weight rank " + std::to_string(w.size()) + " does not match input rank " + std::to_string(x.size()));
  std::vector<int64_t> kernel(w.begin() + 2, w.end());
  if (ctx.node().has_attr("kernel_shape") && ctx.node().attr_ints("kernel_shape") != kernel)
    ctx.fail("kernel_shape " + dims_str(ctx.node().attr_ints("kernel_shape")) + " does not match weight shape " +
             shape_str(w));
  ConvGeometry g = window_geometry(ctx, x, kernel, false);
  g.group = ctx.node().attr_int("group", 1);
  g.out_channels = w[0];
  if (g.group < 1) ctx.fail("group must be positive, got " + std::to_string(g.group));
  if (g.in_channels % g.group != 0 || g.out_channels % g.group != 0)
    ctx.fail("input channels " + std::to_string(g.in_channels) + " and output channels " +
             std::to_string(g.out_channels) + " must be divisible by group " + std::to_string(g.group));
  if (w[1] != g.in_channels / g.group)
    ctx.fail("weight shape " + shape_str(w) + " expects " + std::to_string(w[1] * g.group) +
             " input channels, input has " + std::to_string(g.in_channels));
  return g;
}

}  // namespace infera
