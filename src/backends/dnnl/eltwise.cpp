// Elementwise Add/Sub/Mul/Div, single-step activations (Relu, Clip, Sigmoid, ...) and per-tensor QuantizeLinear on
// oneDNN's binary and eltwise primitives, for values that sit between convolutions and would otherwise be converted
// to plain for the CPU backend and back: a residual Add and Clip the passes could not fuse, the quantization of a
// float residual stream for the next integer convolution. Here they read and write the convolutions' layout, so the
// values stay in it. bf16 and fp16 values compute in fp32 with one rounding, as the reference kernels do; fp32 values
// run here only when they arrive in a oneDNN layout (plain ones go to the CPU backend's AVX-512 kernels).
// QuantizeLinear divides by the scale (a multiplication by the reciprocal would round differently), rounds half to
// even, adds the zero point and saturates: the reference's bytes for every finite input (NaN becomes the type's
// minimum where the reference gives the zero point).
#include <map>

#include "backends/dnnl/dnnl_common.h"
#include "ops/activation_node.h"

namespace infera::dnnl_backend {
namespace {

using tag = dnnl::memory::format_tag;

bool is_half(const ValueDesc& v) {
  return (v.type.dtype == DType::BFloat16 || v.type.dtype == DType::Float16) && v.type.shape_known;
}

// A value these kernels compute on: bf16 / fp16, or fp32 already in a oneDNN layout.
bool runs_here(const ValueDesc& v) {
  return is_half(v) || (v.type.dtype == DType::Float32 && v.type.shape_known && !v.layout.plain());
}

// One primitive over one or two inputs, writing in the layout of the first (which it may overwrite).
class ElementwiseKernel final : public Kernel {
 public:
  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) override {
    dnnl::stream& s = stream();
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_DST, wrap(dst_md, *out[0])}};
    for (size_t i = 0; i < src_mds.size(); ++i) args[DNNL_ARG_SRC_0 + int(i)] = wrap(src_mds[i], *in[input_of[i]]);
    primitive.execute(s, args);
    s.wait();
  }
  Layout output_layout(int) const override { return layout_of(dst_md, dst_shape); }
  int inplace_input(int) const override { return dst_md == src_mds[0] ? int(input_of[0]) : -1; }
  std::string describe() const override { return "dnnl " + what; }

  dnnl::primitive primitive;
  std::vector<dnnl::memory::desc> src_mds;  // the primitive's sources, in its order
  std::vector<size_t> input_of;             // the node input each source reads
  dnnl::memory::desc dst_md;
  Shape dst_shape;
  std::string what;
};

// A plain input that broadcasts to `shape` (numpy rules), as oneDNN's second binary source: the same rank, 1 where
// it repeats. nullopt when it does not broadcast that way.
std::optional<dnnl::memory::desc> broadcast_desc(const ValueDesc& v, const Shape& shape) {
  const Shape& s = v.type.shape;
  if (!v.layout.plain() || s.size() > shape.size()) return std::nullopt;
  Shape padded(shape.size() - s.size(), 1);
  padded.insert(padded.end(), s.begin(), s.end());
  for (size_t d = 0; d < shape.size(); ++d)
    if (padded[d] != shape[d] && padded[d] != 1) return std::nullopt;
  return plain_desc(padded, dnnl_type(v.type.dtype));
}

std::unique_ptr<ElementwiseKernel> make_kernel(const dnnl::primitive_desc_base& pd, dnnl::primitive primitive,
                                               std::vector<dnnl::memory::desc> srcs, std::vector<size_t> input_of,
                                               const Shape& shape, const std::string& name) {
  auto k = std::make_unique<ElementwiseKernel>();
  k->primitive = std::move(primitive);
  k->src_mds = std::move(srcs);
  k->input_of = std::move(input_of);
  k->dst_md = pd.dst_desc();
  k->dst_shape = shape;
  k->what = name + " " + pd.impl_info_str();
  return k;
}

}  // namespace

std::unique_ptr<Kernel> compile_binary(const KernelRequest& r) {
  static const std::map<std::string, dnnl::algorithm> algorithms = {
      {"Add", dnnl::algorithm::binary_add}, {"Sub", dnnl::algorithm::binary_sub},
      {"Mul", dnnl::algorithm::binary_mul}, {"Div", dnnl::algorithm::binary_div}};
  const auto alg = algorithms.find(r.node.op_type);
  if (alg == algorithms.end() || r.inputs.size() != 2 || r.outputs.size() != 1) return nullptr;
  const ValueDesc &a = r.inputs[0], &b = r.inputs[1];
  if (b.type.dtype != a.type.dtype || !(runs_here(a) || runs_here(b)) || !is_float(a)) return nullptr;
  const Shape& y = r.outputs[0].shape;
  // oneDNN's first source has the output's shape; the second may broadcast. Add and Mul commute.
  size_t first = 0;
  if (a.type.shape != y) {
    if (b.type.shape != y || (r.node.op_type != "Add" && r.node.op_type != "Mul")) return nullptr;
    first = 1;
  }
  const ValueDesc &src0 = r.inputs[first], &src1 = r.inputs[1 - first];
  auto md0 = value_desc(src0);
  auto md1 = src1.type.shape == y ? value_desc(src1) : broadcast_desc(src1, y);
  if (!md0 || !md1) return nullptr;
  dnnl::binary::desc d(alg->second, *md0, *md1, dnnl::memory::desc(to_dims(y), md0->data_type(), tag::any));
  dnnl::binary::primitive_desc pd(d, engine());
  if (reference_half_precision(a.type.dtype, pd)) return nullptr;
  return make_kernel(pd, dnnl::binary(pd), {*md0, *md1}, {first, 1 - first}, y, "binary " + r.node.op_type);
}

std::unique_ptr<Kernel> compile_eltwise(const KernelRequest& r) {
  if (r.inputs.empty() || !runs_here(r.inputs[0]) || r.outputs.size() != 1) return nullptr;
  FusedActivation act;
  if (!fused_activation_of(r.node, [&](size_t i) { return r.inputs[i].constant; }, act)) return nullptr;
  const std::vector<EltwiseStep> steps = eltwise_steps(act.name, act.params);
  if (steps.size() != 1) return nullptr;  // none, or several (HardSigmoid): the reference kernel runs it
  auto md = value_desc(r.inputs[0]);
  if (!md) return nullptr;
  dnnl::eltwise_forward::desc d(dnnl::prop_kind::forward_inference, steps[0].algorithm, *md, steps[0].alpha,
                                steps[0].beta);
  dnnl::eltwise_forward::primitive_desc pd(d, engine());
  if (reference_half_precision(r.inputs[0].type.dtype, pd)) return nullptr;
  return make_kernel(pd, dnnl::eltwise_forward(pd), {*md}, {0}, r.inputs[0].type.shape, "eltwise " + r.node.op_type);
}

// x / scale as binary_div, then round and + zero point as post-ops, saturated by the conversion to the 8-bit type.
std::unique_ptr<Kernel> compile_quantize(const KernelRequest& r) {
  const auto& in = r.inputs;
  if (in.size() < 2 || !runs_here(in[0]) || in[0].type.dtype != DType::Float32 || r.outputs.size() != 1) return nullptr;
  const DType type = r.outputs[0].dtype;
  const bool has_zp = r.has_input(2);
  if ((type != DType::UInt8 && type != DType::Int8) || !in[1].constant || in[1].constant->numel() != 1 ||
      in[1].type.dtype != DType::Float32 || (has_zp && (!in[2].constant || in[2].constant->numel() != 1)))
    return nullptr;
  const Shape& y = r.outputs[0].shape;
  auto x = value_desc(in[0]);
  auto scale = broadcast_desc(in[1], y);
  if (!x || !scale) return nullptr;
  dnnl::post_ops ops;
  ops.append_eltwise(1.f, dnnl::algorithm::eltwise_round, 0.f, 0.f);
  const float zero_point = has_zp ? float(in[2].constant->as_double(0)) : 0.f;
  if (zero_point != 0) ops.append_eltwise(1.f, dnnl::algorithm::eltwise_linear, 1.f, zero_point);
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);
  dnnl::binary::desc d(dnnl::algorithm::binary_div, *x, *scale, dnnl::memory::desc(to_dims(y), dnnl_type(type), tag::any));
  dnnl::binary::primitive_desc pd(d, attr, engine());
  if (is_reference_impl(pd)) return nullptr;
  return make_kernel(pd, dnnl::binary(pd), {*x, *scale}, {0, 1}, y, "quantize binary");
}

}  // namespace infera::dnnl_backend
