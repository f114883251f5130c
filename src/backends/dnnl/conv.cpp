// Conv and infera.FusedConv on oneDNN: weights reordered once into the layout the primitive wants, the activation
// and the residual input Z fused as post-ops (Z through the "sum" post-op, which accumulates into the output). fp32,
// or bf16/fp16 throughout (X, W, Z, Y) with an fp32 bias and fp32 accumulation.
#include <cstring>

#include "backends/dnnl/dnnl_common.h"
#include "ops/conv_geometry.h"

namespace infera::dnnl_backend {
namespace {

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

class ConvKernel final : public Kernel {
 public:
  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) override {
    dnnl::stream& s = stream();
    dnnl::memory src = src_adapter(*in[0], s);
    dnnl::memory dst = wrap(dst_md, *out[0]);
    if (has_sum && out[0]->raw() != in[3]->raw()) {  // the sum post-op accumulates into dst: start from Z
      dnnl::memory z = wrap(z_md, *in[3]);
      dnnl::reorder(z, dst).execute(s, z, dst);
    }
    std::unordered_map<int, dnnl::memory> args{
        {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights.memory}, {DNNL_ARG_DST, dst}};
    if (bias.storage) args[DNNL_ARG_BIAS] = bias.memory;
    primitive.execute(s, args);
    s.wait();
  }
  Layout output_layout(int) const override { return layout_of(dst_md, dst_shape); }
  int inplace_input(int) const override { return has_sum && z_md == dst_md ? 3 : -1; }
  bool copied_input(int input) const override { return input == 1 || input == 2; }  // weights, bias: packed
  std::string describe() const override { return "dnnl conv " + impl; }
  double reordered_input_bytes() const override { return src_adapter.reordered_bytes(); }

  dnnl::convolution_forward primitive;
  InputAdapter src_adapter;
  PackedConstant weights, bias;
  dnnl::memory::desc dst_md, z_md;
  Shape dst_shape;
  bool has_sum = false;
  std::string impl;
};

}  // namespace

std::unique_ptr<Kernel> compile_conv(const KernelRequest& r) {
  const Node& node = r.node;
  const auto& in = r.inputs;
  if (in.size() < 2 || !is_float(in[0]) || !in[1].constant) return nullptr;
  // X, W, B and Z share ONNX's type T: fp32, or bf16/fp16 in a Cast writer's model.
  const DType type = in[0].type.dtype;
  auto same_type = [&](const ValueDesc& v) { return is_float(v) && v.type.dtype == type; };
  const bool has_bias = r.has_input(2);
  const bool has_sum = r.has_input(3);
  if (!same_type(in[1]) || (has_bias && (!same_type(in[2]) || !in[2].constant)) || (has_sum && !same_type(in[3])))
    return nullptr;
  const Shape& x = in[0].type.shape;
  const Shape& w = in[1].type.shape;
  if (x.size() < 3 || x.size() > 5) return nullptr;
  auto src_in = value_desc(in[0]);
  std::optional<dnnl::memory::desc> z_in = has_sum ? value_desc(in[3]) : std::nullopt;
  if (!src_in || (has_sum && !z_in)) return nullptr;

  std::vector<TensorType> types;
  for (const ValueDesc& v : in) types.push_back(v.type);
  std::vector<const Tensor*> values(in.size(), nullptr);
  OpContext ctx(node, types, values);
  ConvGeometry g = conv_geometry(ctx, x, w);

  dnnl::memory::dims strides(g.strides.begin(), g.strides.end()), pad_l(g.pads_begin.begin(), g.pads_begin.end()),
      pad_r(g.pads_end.begin(), g.pads_end.end()), dilates;
  for (int64_t d : g.dilations) dilates.push_back(d - 1);  // oneDNN counts the gaps, ONNX the step
  dnnl::memory::dims wdims = to_dims(w);
  if (g.group > 1) {  // oneDNN's grouped weights: G x M/G x C/G x k...
    wdims[0] = g.out_channels / g.group;
    wdims.insert(wdims.begin(), g.group);
  }
  const Shape y = g.output_shape();
  const dt data_type = dnnl_type(type);
  dnnl::memory::desc wei_any(wdims, data_type, tag::any), dst_any(to_dims(y), data_type, tag::any);
  // The bias is added to the fp32 accumulator: packed as fp32 whatever T is.
  dnnl::memory::desc bias_md = has_bias ? plain_desc({g.out_channels}) : dnnl::memory::desc();

  dnnl::post_ops ops;
  if (!append_activation(node, ops, "conv_activation")) return nullptr;
  if (has_sum) ops.append_sum(1.f);
  if (!append_activation(node, ops)) return nullptr;
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);

  auto make_pd = [&](const dnnl::memory::desc& src_md) {
    dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                      src_md, wei_any, bias_md, dst_any, strides, dilates, pad_l, pad_r);
    return dnnl::convolution_forward::primitive_desc(d, attr, engine());
  };
  // Let oneDNN choose the source layout, except for an input with few channels that arrives plain (the first
  // layer): there a plain-source implementation beats reordering the image.
  auto pd = make_pd(dnnl::memory::desc(to_dims(x), data_type, tag::any));
  if (pd.src_desc() != *src_in && in[0].layout.plain() && x[1] < 8) {
    auto plain_pd = make_pd(*src_in);
    if (!is_reference_impl(plain_pd)) pd = plain_pd;
  }
  if (reference_half_precision(type, pd)) return nullptr;

  auto k = std::make_unique<ConvKernel>();
  k->primitive = dnnl::convolution_forward(pd);
  k->impl = pd.impl_info_str();
  k->src_adapter = InputAdapter(*src_in, pd.src_desc());
  k->weights = pack_constant(*in[1].constant, plain_desc(Shape(wdims.begin(), wdims.end()), data_type),
                             pd.weights_desc());
  if (has_bias) k->bias = pack_constant(*in[2].constant, plain_desc({g.out_channels}, data_type), pd.bias_desc());
  k->dst_md = pd.dst_desc();
  k->dst_shape = y;
  k->has_sum = has_sum;
  if (has_sum) k->z_md = *z_in;
  return k;
}

}  // namespace infera::dnnl_backend
