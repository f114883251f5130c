// QLinearConv and ConvInteger: integer convolution as im2col plus an integer GEMM per image and group, with a
// per-tensor input zero point and per-tensor or per-output-channel weight zero points (and, for QLinearConv,
// weight scales). The geometry (pads, strides, dilations, auto_pad, group) comes from conv_geometry.h.
#include "ops/conv_geometry.h"
#include "ops/gemm_kernel.h"
#include "ops/quantize.h"

namespace infera {
namespace {

// Where each operand sits among the node's inputs.
struct IntConvInputs {
  int x, x_zp, w, w_zp;
};
constexpr IntConvInputs kConvInteger{0, 2, 1, 3};
constexpr IntConvInputs kQLinearConv{0, 2, 3, 5};

// A weight parameter: one value, or a 1-D tensor with one value per output channel.
void check_channel_param(const OpContext& ctx, int i, int64_t channels, const char* what) {
  if (!ctx.has_input(i)) return;
  const Shape& s = ctx.shape(i);
  if ((s.size() <= 1 && shape_numel(s) == 1) || (s.size() == 1 && s[0] == channels)) return;
  ctx.fail(std::string(what) + " must hold one value or " + std::to_string(channels) + " (per output channel), got " +
           shape_str(s));
}

template <class V>
std::vector<V> channel_params(const OpContext& ctx, int i, int64_t channels, V dflt) {
  std::vector<V> v(size_t(channels), dflt);
  if (!ctx.has_input(i)) return v;
  const Tensor& t = ctx.input(i);
  for (int64_t c = 0; c < channels; ++c) {
    const int64_t j = t.numel() == 1 ? 0 : c;
    if constexpr (std::is_integral_v<V>)
      v[size_t(c)] = V(t.as_int(j));
    else
      v[size_t(c)] = V(t.as_double(j));
  }
  return v;
}

ConvGeometry check_integer_conv(const OpContext& ctx, IntConvInputs in) {
  for (int i : {in.x, in.w})
    if (ctx.dtype(i) != DType::Int8 && ctx.dtype(i) != DType::UInt8)
      ctx.fail("x and w must be int8 or uint8, got " + std::string(dtype_name(ctx.dtype(i))));
  for (auto [zp, data] : {std::pair{in.x_zp, in.x}, std::pair{in.w_zp, in.w}})
    if (ctx.has_input(zp) && ctx.dtype(zp) != ctx.dtype(data)) ctx.fail("zero point type differs from its data type");
  check_scalar_param(ctx, in.x_zp, "x_zero_point");
  const ConvGeometry g = conv_geometry(ctx, ctx.shape(in.x), ctx.shape(in.w));
  check_channel_param(ctx, in.w_zp, g.out_channels, "w_zero_point");
  return g;
}

// Calls store(image, output channel, out_size accumulated values) with the convolution of the zero-point-centered
// input and weights; padding contributes zero (the input's zero point).
template <class Acc, class Store>
void integer_conv(const OpContext& ctx, const ConvGeometry& g, IntConvInputs in, Store store) {
  const Tensor& x = ctx.input(in.x);
  const Tensor& w = ctx.input(in.w);
  const int64_t x_zp = scalar_zero_point(ctx, in.x_zp);
  const std::vector<int64_t> w_zp = channel_params<int64_t>(ctx, in.w_zp, g.out_channels, 0);
  const int64_t group_in = g.in_channels_per_group(), group_out = g.out_channels_per_group();
  const int64_t depth = group_in * g.kernel_size(), in_size = g.in_size(), out_size = g.out_size();
  std::vector<Acc> x_centered(size_t(x.numel())), w_centered(size_t(w.numel()));
  visit_quantized8(x.dtype(), [&](auto tag) {
    const auto* p = x.data<typename decltype(tag)::type>();
    for (int64_t i = 0; i < x.numel(); ++i) x_centered[size_t(i)] = Acc(p[i]) - Acc(x_zp);
  });
  visit_quantized8(w.dtype(), [&](auto tag) {
    const auto* p = w.data<typename decltype(tag)::type>();
    for (int64_t i = 0; i < w.numel(); ++i) w_centered[size_t(i)] = Acc(p[i]) - Acc(w_zp[size_t(i / depth)]);
  });
  std::vector<Acc> columns(size_t(depth * out_size)), product(size_t(group_out * out_size));
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t grp = 0; grp < g.group; ++grp) {
      im2col<Acc>(g, x_centered.data() + (n * g.in_channels + grp * group_in) * in_size, group_in, columns.data(),
                  Acc(0));
      gemm<Acc>(false, false, group_out, out_size, depth, Acc(1), w_centered.data() + grp * group_out * depth, depth,
                columns.data(), out_size, Acc(0), product.data(), out_size);
      for (int64_t m = 0; m < group_out; ++m) store(n, grp * group_out + m, product.data() + m * out_size);
    }
}

Cost integer_conv_cost(const OpContext& ctx, IntConvInputs in) {
  Cost c = default_cost(ctx);
  if (!ctx.input_type(in.x).shape_known || !ctx.input_type(in.w).shape_known) return c;
  const ConvGeometry g = conv_geometry(ctx, ctx.shape(in.x), ctx.shape(in.w));
  c.flops = 2.0 * double(g.batch) * double(g.out_channels) * double(g.out_size()) * double(g.in_channels_per_group()) *
            double(g.kernel_size());
  c.matrix = conv_matrix_shape(g);
  return c;
}

// ConvInteger: (x, w, x_zero_point?, w_zero_point?) -> int32.
bool infer_conv_integer(OpContext& ctx) {
  const ConvGeometry g = check_integer_conv(ctx, kConvInteger);
  ctx.set_output(0, DType::Int32, g.output_shape());
  return true;
}

void conv_integer(OpContext& ctx) {
  const ConvGeometry g = check_integer_conv(ctx, kConvInteger);
  int32_t* y = ctx.output(0).data<int32_t>();
  const int64_t out_size = g.out_size();
  with_accumulator(g.in_channels_per_group() * g.kernel_size(), [&](auto acc_tag) {
    using Acc = typename decltype(acc_tag)::type;
    integer_conv<Acc>(ctx, g, kConvInteger, [&](int64_t n, int64_t m, const Acc* acc) {
      int32_t* out = y + (n * g.out_channels + m) * out_size;
      for (int64_t i = 0; i < out_size; ++i) out[i] = int32_t(acc[i]);
    });
  });
}

Cost conv_integer_cost(const OpContext& ctx) { return integer_conv_cost(ctx, kConvInteger); }

// QLinearConv: (x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, B?).
// y = quantize((conv + B) * x_scale * w_scale[m] / y_scale) + y_zero_point.
bool infer_qlinear_conv(OpContext& ctx) {
  const ConvGeometry g = check_integer_conv(ctx, kQLinearConv);
  check_scalar_param(ctx, 1, "x_scale");
  check_channel_param(ctx, 4, g.out_channels, "w_scale");
  check_scalar_param(ctx, 6, "y_scale");
  check_scalar_param(ctx, 7, "y_zero_point");
  if (ctx.has_input(8) &&
      (ctx.dtype(8) != DType::Int32 || ctx.shape(8).size() != 1 || ctx.shape(8)[0] != g.out_channels))
    ctx.fail("bias must be int32 of shape " + std::to_string(g.out_channels) + ", got " + shape_str(ctx.shape(8)));
  const DType out = ctx.has_input(7) ? ctx.dtype(7) : ctx.dtype(0);
  if (out != DType::Int8 && out != DType::UInt8) ctx.fail("y_zero_point must be int8 or uint8");
  ctx.set_output(0, out, g.output_shape());
  return true;
}

void qlinear_conv(OpContext& ctx) {
  const ConvGeometry g = check_integer_conv(ctx, kQLinearConv);
  const float x_scale = scalar_scale(ctx, 1), y_scale = scalar_scale(ctx, 6);
  const std::vector<float> w_scale = channel_params<float>(ctx, 4, g.out_channels, 1.0f);
  const std::vector<int64_t> bias = channel_params<int64_t>(ctx, 8, g.out_channels, 0);
  const int64_t y_zp = scalar_zero_point(ctx, 7);
  Tensor& y = ctx.output(0);
  const int64_t out_size = g.out_size();
  visit_quantized8(y.dtype(), [&](auto qtag) {
    using Q = typename decltype(qtag)::type;
    Q* py = y.data<Q>();
    with_accumulator(g.in_channels_per_group() * g.kernel_size(), [&](auto acc_tag) {
      using Acc = typename decltype(acc_tag)::type;
      integer_conv<Acc>(ctx, g, kQLinearConv, [&](int64_t n, int64_t m, const Acc* acc) {
        Q* out = py + (n * g.out_channels + m) * out_size;
        const float multiplier = x_scale * w_scale[size_t(m)] / y_scale;
        const int64_t b = bias[size_t(m)];
        for (int64_t i = 0; i < out_size; ++i)
          out[i] = quantize_round<Q>(float(int64_t(acc[i]) + b) * multiplier, y_zp);
      });
    });
  });
}

Cost qlinear_conv_cost(const OpContext& ctx) { return integer_conv_cost(ctx, kQLinearConv); }

}  // namespace

void register_qlinear_conv_ops(OpTable& t) {
  t.add({.name = "ConvInteger", .infer = infer_conv_integer, .compute = conv_integer, .cost = conv_integer_cost});
  t.add({.name = "QLinearConv", .infer = infer_qlinear_conv, .compute = qlinear_conv, .cost = qlinear_conv_cost});
}

}  // namespace infera
