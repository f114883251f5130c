// QLinearConv, infera.FusedQLinearConv and infera.QuantizedConv on oneDNN's integer convolution (u8 or s8
// activations, s8 weights, int32 accumulation: VNNI where the CPU has it). Requantization happens in the kernel's
// epilogue: the per-channel factor x_scale * w_scale[m] / y_scale as output scales, zero points of the input and
// output as oneDNN zero points. The fused residual keeps the convolution's own rounding, as the op's contract says:
// the post-ops round and saturate t to its grid, rescale it to the output's, and add Z (oneDNN's sum post-op, Z's
// zero point and scale included). Every result is rounded before the output zero point is added (dnnl_common.h).
// QuantizedConv's result stays float: the factor is x_scale * w_scale[m], the float bias is divided by it (oneDNN
// adds the bias to the accumulator before scaling), and Z and the activation are post-ops as in FusedConv.
// Weights are reordered once into the primitive's layout; weights with a zero point are stored centered, when that
// fits int8 (oneDNN takes no weight zero points). Activations stay in oneDNN's layouts from one such node to the next.
#include <algorithm>
#include <cmath>

#include "backends/dnnl/dnnl_common.h"
#include "ops/conv_geometry.h"

namespace infera::dnnl_backend {
namespace {

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

// Input positions of FusedQLinearConv's residual and of QuantizedConv's bias and residual (ops/fused_quant.cpp).
constexpr size_t kZ = 9, kZScale = 10, kZZeroPoint = 11, kYScale = 12, kYZeroPoint = 13;
constexpr size_t kFloatBias = 6, kFloatZ = 7;

class QConvKernel final : public Kernel {
 public:
  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) override {
    dnnl::stream& s = stream();
    dnnl::memory src = src_adapter(*in[0], s);
    dnnl::memory dst = wrap(dst_md, *out[0]);
    if (has_sum && out[0]->raw() != in[z_input]->raw()) {  // the sum post-op accumulates into dst: start from Z
      dnnl::memory z = wrap(z_md, *in[z_input]);
      dnnl::reorder(z, dst).execute(s, z, dst);
    }
    std::unordered_map<int, dnnl::memory> args{
        {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights.memory}, {DNNL_ARG_DST, dst}};
    if (bias.storage) args[DNNL_ARG_BIAS] = bias.memory;
    if (src_zero_point.get(true)) args[DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC] = src_zero_point;
    if (dst_zero_point.get(true)) args[DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_DST] = dst_zero_point;
    primitive.execute(s, args);
    s.wait();
  }
  Layout output_layout(int) const override { return layout_of(dst_md, dst_shape); }
  int inplace_input(int) const override { return has_sum && z_md == dst_md ? int(z_input) : -1; }
  bool copied_input(int input) const override { return input == 3 || size_t(input) == bias_input; }  // packed
  std::string describe() const override { return "dnnl qconv " + impl; }
  double reordered_input_bytes() const override { return src_adapter.reordered_bytes(); }

  dnnl::convolution_forward primitive;
  InputAdapter src_adapter;
  PackedConstant weights, bias;
  dnnl::memory src_zero_point, dst_zero_point;  // one int32 each, when not 0
  std::vector<int32_t> zero_points;             // their storage
  dnnl::memory::desc dst_md, z_md;
  Shape dst_shape;
  bool has_sum = false;
  size_t z_input = kZ, bias_input = 8;
  std::string impl;
};


// A scale or zero point: a constant with one value, or (when per_channel) one value per output channel. Absent: dflt.
bool params(const KernelRequest& r, size_t i, int64_t channels, bool per_channel, double dflt, std::vector<double>& out) {
  if (!r.has_input(i)) {
    out.assign(1, dflt);
    return true;
  }
  const Tensor* t = r.inputs[i].constant;
  if (!t || !(t->numel() == 1 || (per_channel && t->numel() == channels))) return false;
  out.clear();
  for (int64_t c = 0; c < t->numel(); ++c) out.push_back(t->as_double(c));
  return true;
}

double at(const std::vector<double>& v, int64_t c) { return v[v.size() == 1 ? 0 : size_t(c)]; }

// The weights minus their zero points as int8, or an undefined tensor when a centered value leaves int8.
Tensor centered_weights(const Tensor& w, const std::vector<double>& zero_points) {
  const bool centered = std::all_of(zero_points.begin(), zero_points.end(), [](double z) { return z == 0; });
  if (centered && w.dtype() == DType::Int8) return w;  // symmetric weights, as quantizers write them
  Tensor out(DType::Int8, w.shape());
  int8_t* o = out.data<int8_t>();
  const int64_t per_channel = w.numel() / std::max<int64_t>(w.dim(0), 1);
  for (int64_t i = 0; i < w.numel(); ++i) {
    const int64_t v = w.as_int(i) - int64_t(at(zero_points, i / per_channel));
    if (v < -128 || v > 127) return Tensor();
    o[i] = int8_t(v);
  }
  return out;
}

}  // namespace

std::unique_ptr<Kernel> compile_qlinear_conv(const KernelRequest& r) {
  const Node& node = r.node;
  const auto& in = r.inputs;
  const bool fused = node.op_type == "FusedQLinearConv";
  const bool float_output = node.op_type == "QuantizedConv";
  const DType out_type = r.outputs[0].dtype;
  if (in.size() < (float_output ? 4u : 8u) || !in[0].type.shape_known || !dtype_is_int8(in[0].type.dtype) ||
      !in[3].constant || !dtype_is_int8(in[3].type.dtype) ||
      !(float_output ? out_type == DType::Float32 : dtype_is_int8(out_type)))
    return nullptr;
  const Shape& x = in[0].type.shape;
  const Shape& w = in[3].type.shape;
  if (x.size() < 3 || x.size() > 5) return nullptr;
  auto src_in = value_desc(in[0]);
  if (!src_in) return nullptr;

  std::vector<TensorType> types;
  for (const ValueDesc& v : in) types.push_back(v.type);
  OpContext ctx(node, types, std::vector<const Tensor*>(in.size(), nullptr));
  const ConvGeometry g = conv_geometry(ctx, x, w);
  const int64_t m = g.out_channels;

  // A float result has no output quantization: scale 1, zero point 0.
  std::vector<double> x_scale, x_zp, w_scale, w_zp, t_scale{1}, t_zp{0};
  if (!params(r, 1, m, false, 1, x_scale) || !params(r, 2, m, false, 0, x_zp) || !params(r, 4, m, true, 1, w_scale) ||
      !params(r, 5, m, true, 0, w_zp) ||
      (!float_output && (!params(r, 6, m, false, 1, t_scale) || !params(r, 7, m, false, 0, t_zp))))
    return nullptr;
  Tensor weights = centered_weights(*in[3].constant, w_zp);
  if (!weights.defined()) return nullptr;
  const size_t bias_input = float_output ? kFloatBias : 8;
  const DType bias_type = float_output ? DType::Float32 : DType::Int32;
  const bool has_bias = r.has_input(bias_input);
  if (has_bias && (!in[bias_input].constant || in[bias_input].type.dtype != bias_type)) return nullptr;

  // The requantization factor per output channel, formed as the reference kernel forms it.
  std::vector<float> scales;
  for (size_t c = 0; c < std::max(w_scale.size(), size_t(1)); ++c)
    scales.push_back(float(x_scale[0]) * float(at(w_scale, int64_t(c))) / float(t_scale[0]));

  dnnl::post_ops ops;
  int32_t dst_zp = int32_t(t_zp[0]);
  std::optional<dnnl::memory::desc> z_in;
  const size_t z_input = float_output ? kFloatZ : kZ;
  if (fused) {
    std::vector<double> z_scale, z_zp, y_scale, y_zp;
    if (!r.has_input(kZ) || !params(r, kZScale, m, false, 1, z_scale) || !params(r, kZZeroPoint, m, false, 0, z_zp) ||
        !params(r, kYScale, m, false, 1, y_scale) || !params(r, kYZeroPoint, m, false, 0, y_zp) ||
        in[kZ].type.dtype != out_type || !(z_in = value_desc(in[kZ])))
      return nullptr;
    // t = saturate(round(acc * factor)) - t_zp on its own grid (t_zp is added only to leave it again), then
    // t * t_scale / y_scale + (Z - z_zp) * z_scale / y_scale, then + y_zp with the final rounding and saturation.
    const float lo = out_type == DType::UInt8 ? 0.f : -128.f, hi = out_type == DType::UInt8 ? 255.f : 127.f;
    const float ts = float(t_scale[0]), ys = float(y_scale[0]);
    ops.append_eltwise(1.f, dnnl::algorithm::eltwise_round, 0.f, 0.f);
    ops.append_eltwise(1.f, dnnl::algorithm::eltwise_clip_v2, lo - float(t_zp[0]), hi - float(t_zp[0]));
    ops.append_eltwise(1.f, dnnl::algorithm::eltwise_linear, ts / ys, 0.f);
    ops.append_sum(float(z_scale[0]) / ys, int32_t(z_zp[0]), dnnl_type(out_type));
    dst_zp = int32_t(y_zp[0]);
  }
  if (float_output) {
    if (!append_activation(node, ops, "conv_activation")) return nullptr;
    if (r.has_input(kFloatZ)) {
      if (in[kFloatZ].type.dtype != DType::Float32 || !(z_in = value_desc(in[kFloatZ]))) return nullptr;
      ops.append_sum(1.f);
    }
    if (!append_activation(node, ops)) return nullptr;
  } else {
    round_before_zero_point(ops);
  }

  dnnl::primitive_attr attr;
  attr.set_output_scales(scales.size() > 1 ? 1 << 1 : 0, scales);
  const int32_t src_zp = int32_t(x_zp[0]);
  if (src_zp != 0) attr.set_zero_points(DNNL_ARG_SRC, 0, {DNNL_RUNTIME_S32_VAL});
  if (dst_zp != 0) attr.set_zero_points(DNNL_ARG_DST, 0, {DNNL_RUNTIME_S32_VAL});
  attr.set_post_ops(ops);

  dnnl::memory::dims strides(g.strides.begin(), g.strides.end()), pad_l(g.pads_begin.begin(), g.pads_begin.end()),
      pad_r(g.pads_end.begin(), g.pads_end.end()), dilates;
  for (int64_t d : g.dilations) dilates.push_back(d - 1);  // oneDNN counts the gaps, ONNX the step
  dnnl::memory::dims wdims = to_dims(w);
  if (g.group > 1) {  // oneDNN's grouped weights: G x M/G x C/G x k...
    wdims[0] = m / g.group;
    wdims.insert(wdims.begin(), g.group);
  }
  const Shape y = g.output_shape();
  const dt src_type = dnnl_type(in[0].type.dtype);
  dnnl::memory::desc wei_any(wdims, dt::s8, tag::any), dst_any(to_dims(y), dnnl_type(out_type), tag::any);
  dnnl::memory::desc bias_md = has_bias ? plain_desc({m}, dnnl_type(bias_type)) : dnnl::memory::desc();
  auto make_pd = [&](const dnnl::memory::desc& src_md) {
    dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                      src_md, wei_any, bias_md, dst_any, strides, dilates, pad_l, pad_r);
    return dnnl::convolution_forward::primitive_desc(d, attr, engine());
  };
  auto pd = make_pd(dnnl::memory::desc(to_dims(x), src_type, tag::any));

  auto k = std::make_unique<QConvKernel>();
  k->primitive = dnnl::convolution_forward(pd);
  k->impl = pd.impl_info_str();
  k->src_adapter = InputAdapter(*src_in, pd.src_desc());
  k->weights = pack_constant(weights, plain_desc(Shape(wdims.begin(), wdims.end()), dt::s8), pd.weights_desc());
  if (has_bias) {
    Tensor bias = *in[bias_input].constant;
    if (float_output) {  // in accumulator units
      bias = Tensor(DType::Float32, {m});
      for (int64_t c = 0; c < m; ++c)
        bias.data<float>()[c] = float(in[bias_input].constant->as_double(c) / double(scales[scales.size() > 1 ? c : 0]));
    }
    k->bias = pack_constant(bias, bias_md, pd.bias_desc());
  }
  k->zero_points = {src_zp, dst_zp};
  const dnnl::memory::desc zp_md({1}, dt::s32, tag::x);
  if (src_zp != 0) k->src_zero_point = wrap(zp_md, &k->zero_points[0]);
  if (dst_zp != 0) k->dst_zero_point = wrap(zp_md, &k->zero_points[1]);
  k->dst_md = pd.dst_desc();
  k->dst_shape = y;
  k->has_sum = z_in.has_value();
  if (z_in) k->z_md = *z_in;
  k->z_input = z_input;
  k->bias_input = bias_input;
  return k;
}

}  // namespace infera::dnnl_backend
