// MaxPool, AveragePool and the global pools on oneDNN, reading and writing the layout the producer chose (pooling
// keeps the channel blocking of a convolution's output), and channel Concat of such values. com.microsoft
// QLinearGlobalAveragePool of an integer convolution's output (oneDNN's nhwc layout) runs as the op's own kernel in
// its channels-last form, which reads those bytes as they are: exact, and the value need not go back to plain.
#include "backends/dnnl/dnnl_common.h"
#include "backends/reference/reference_backend.h"
#include "ops/conv_geometry.h"

namespace infera::dnnl_backend {
namespace {

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

// One primitive with a source and a destination: pooling, concatenation.
class PrimitiveKernel final : public Kernel {
 public:
  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) override {
    dnnl::stream& s = stream();
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_DST, wrap(dst_md, *out[0])}};
    if (src_mds.size() == 1) {
      args[DNNL_ARG_SRC] = wrap(src_mds[0], *in[0]);
    } else {
      for (size_t i = 0; i < src_mds.size(); ++i) args[DNNL_ARG_MULTIPLE_SRC + int(i)] = wrap(src_mds[i], *in[i]);
    }
    primitive.execute(s, args);
    s.wait();
  }
  Layout output_layout(int) const override { return layout_of(dst_md, dst_shape); }
  std::string describe() const override { return "dnnl " + what; }

  dnnl::primitive primitive;
  std::vector<dnnl::memory::desc> src_mds;
  dnnl::memory::desc dst_md;
  Shape dst_shape;
  std::string what;
};

// The op table's kernel on an nhwc value seen as the channels-last tensor it is.
class ChannelsLastKernel final : public Kernel {
 public:
  ChannelsLastKernel(const Node& node, Shape nhwc, Shape y) : node_(node), nhwc_(std::move(nhwc)), y_(std::move(y)) {
    Attribute last;
    last.kind = Attribute::Kind::Int;
    last.i = 1;
    node_.attrs["channels_last"] = last;
  }
  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) override {
    const Tensor x = in[0]->reshaped(nhwc_);
    std::vector<const Tensor*> inputs(in);
    inputs[0] = &x;
    std::vector<Tensor> outputs{out[0]->reshaped(y_)};
    run_reference_node(node_, inputs, outputs);
  }
  std::string describe() const override { return "dnnl nhwc " + node_.op_type + " (reference kernel, channels last)"; }

 private:
  Node node_;
  Shape nhwc_, y_;
};

}  // namespace

std::unique_ptr<Kernel> compile_channels_last(const KernelRequest& r) {
  if (r.inputs.empty()) return nullptr;
  const ValueDesc& x = r.inputs[0];
  if (x.layout.plain() || x.type.shape.size() != 4 || r.node.attr_int("channels_last", 0) != 0) return nullptr;
  auto md = value_desc(x);
  const Shape& s = x.type.shape;
  if (!md || *md != dnnl::memory::desc(to_dims(s), md->data_type(), tag::nhwc)) return nullptr;
  return std::make_unique<ChannelsLastKernel>(r.node, Shape{s[0], s[2], s[3], s[1]}, Shape{s[0], 1, 1, s[1]});
}

std::unique_ptr<Kernel> compile_pool(const KernelRequest& r) {
  const Node& node = r.node;
  if (r.inputs.empty() || (r.outputs.size() > 1 && node.outputs.size() > 1 && !node.outputs[1].empty()))
    return nullptr;  // MaxPool's Indices output
  const DType type = r.inputs[0].type.dtype;
  const bool max = node.op_type.find("Max") != std::string::npos;
  // Max pooling only selects values: it runs on the quantized bytes of int8 models as well.
  if (!is_float(r.inputs[0]) && !(max && dtype_is_int8(type))) return nullptr;
  auto src_md = value_desc(r.inputs[0]);
  const Shape& x = r.inputs[0].type.shape;
  if (!src_md || x.size() < 3 || x.size() > 5) return nullptr;
  const Shape& y = r.outputs[0].shape;
  const bool global = node.op_type.rfind("Global", 0) == 0;

  std::vector<int64_t> kernel, strides, dilations, pads_begin, pads_end;
  if (global) {
    kernel.assign(x.begin() + 2, x.end());
    strides.assign(kernel.size(), 1);
    dilations.assign(kernel.size(), 1);
    pads_begin.assign(kernel.size(), 0);
  } else {
    if (node.has_attr("storage_order") && node.attr_int("storage_order", 0) != 0) return nullptr;
    std::vector<TensorType> types{r.inputs[0].type};
    OpContext ctx(node, types, {nullptr});
    ConvGeometry g = window_geometry(ctx, x, node.attr_ints("kernel_shape"), node.attr_int("ceil_mode", 0) != 0);
    kernel = g.kernel;
    strides = g.strides;
    dilations = g.dilations;
    pads_begin = g.pads_begin;
    pads_end = g.pads_end;
  }
  // The end padding that produces exactly the inferred output size (ceil_mode adds a partial last window).
  dnnl::memory::dims pad_r;
  for (size_t d = 0; d < kernel.size(); ++d) {
    const int64_t extent = (y[d + 2] - 1) * strides[d] + (kernel[d] - 1) * dilations[d] + 1;
    const int64_t pad = extent - x[d + 2] - pads_begin[d];
    // ceil_mode's partial last window: ONNX averages it over fewer elements than oneDNN would.
    if (!global && pad > pads_end[d] && !max) return nullptr;
    pad_r.push_back(std::max<int64_t>(pad, 0));
  }
  dnnl::algorithm alg = max ? dnnl::algorithm::pooling_max
                        : node.attr_int("count_include_pad", 0) ? dnnl::algorithm::pooling_avg_include_padding
                                                                : dnnl::algorithm::pooling_avg_exclude_padding;
  dnnl::memory::dims dil;
  for (int64_t d : dilations) dil.push_back(d - 1);
  dnnl::memory::desc dst_any(to_dims(y), dnnl_type(type), tag::any);
  dnnl::pooling_v2_forward::desc d(dnnl::prop_kind::forward_inference, alg, *src_md, dst_any,
                                   dnnl::memory::dims(strides.begin(), strides.end()),
                                   dnnl::memory::dims(kernel.begin(), kernel.end()), dil,
                                   dnnl::memory::dims(pads_begin.begin(), pads_begin.end()), pad_r);
  dnnl::pooling_v2_forward::primitive_desc pd(d, engine());
  if (reference_half_precision(type, pd)) return nullptr;
  auto k = std::make_unique<PrimitiveKernel>();
  k->primitive = dnnl::pooling_v2_forward(pd);
  k->src_mds = {*src_md};
  k->dst_md = pd.dst_desc();
  k->dst_shape = y;
  k->what = std::string("pool ") + pd.impl_info_str();
  return k;
}

std::unique_ptr<Kernel> compile_concat(const KernelRequest& r) {
  if (r.inputs.size() < 2 || r.outputs.size() != 1) return nullptr;
  const Shape& y = r.outputs[0].shape;
  int64_t axis = r.node.attr_int("axis", 0);
  if (axis < 0) axis += int64_t(y.size());
  if (y.size() != 4 || axis != 1) return nullptr;  // channel concatenation of images: where blocked layouts flow
  std::vector<dnnl::memory::desc> srcs;
  bool any_blocked = false;
  const DType type = r.inputs[0].type.dtype;
  for (const ValueDesc& v : r.inputs) {
    auto md = value_desc(v);
    if (!is_float(v) || v.type.dtype != type || !md || v.constant) return nullptr;
    any_blocked |= !v.layout.plain();
    srcs.push_back(*md);
  }
  if (!any_blocked) return nullptr;  // plain concatenation is a copy the CPU backend does as well
  dnnl::concat::primitive_desc pd(dnnl::memory::desc(to_dims(y), dnnl_type(type), tag::any), int(axis), srcs, engine());
  auto k = std::make_unique<PrimitiveKernel>();
  k->primitive = dnnl::concat(pd);
  k->src_mds = srcs;
  k->dst_md = pd.dst_desc();
  k->dst_shape = y;
  k->what = std::string("concat ") + pd.impl_info_str();
  return k;
}

}  // namespace infera::dnnl_backend
