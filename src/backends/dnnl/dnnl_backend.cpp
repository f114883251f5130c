// The oneDNN backend: convolution, matmul/gemm, pooling and channel concatenation with fused activations and
// residual sums, keeping oneDNN's blocked activation layouts from one such node to the next. They run in fp32, and
// in bf16 (fp16 where the CPU has the instructions) for the Cast writer's models, whose Casts at the region's edges
// and elementwise nodes inside (eltwise.cpp) run here too, so the region never leaves oneDNN.
#include <algorithm>
#include <cstring>
#include <string>

#include "backends/dnnl/dnnl_common.h"

namespace infera::dnnl_backend {

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

dnnl::stream& stream() {
  thread_local dnnl::stream s(engine());
  return s;
}

dnnl::memory::dims to_dims(const Shape& shape) { return dnnl::memory::dims(shape.begin(), shape.end()); }

dnnl::memory::data_type dnnl_type(DType t) {
  using dt = dnnl::memory::data_type;
  switch (t) {
    case DType::Float32: return dt::f32;
    case DType::BFloat16: return dt::bf16;
    case DType::Float16: return dt::f16;
    case DType::UInt8: return dt::u8;
    case DType::Int8: return dt::s8;
    case DType::Int32: return dt::s32;
    default: return dt::undef;
  }
}

dnnl::memory::desc plain_desc(const Shape& shape, dnnl::memory::data_type type) {
  dnnl::memory::dims strides(shape.size(), 1);
  for (size_t d = shape.size(); d-- > 1;) strides[d - 1] = strides[d] * std::max<int64_t>(shape[d], 1);
  return dnnl::memory::desc(to_dims(shape), type, strides);
}

std::optional<dnnl::memory::desc> value_desc(const ValueDesc& v) {
  if (v.layout.plain()) {
    if (dnnl_type(v.type.dtype) == dnnl::memory::data_type::undef) return std::nullopt;
    return plain_desc(v.type.shape, dnnl_type(v.type.dtype));
  }
  if (v.layout.owner != &backend()) return std::nullopt;
  return *static_cast<const dnnl::memory::desc*>(v.layout.native.get());
}

// oneDNN's format-tag spelling: dims from outermost to innermost stride ("acdb" is NHWC), then inner blocks
// ("aBcd16b" is nChw16c).
std::string layout_name(const dnnl::memory::desc& md) {
  const auto& blocking = md.data.format_desc.blocking;
  const int rank = md.data.ndims;
  std::vector<int> order(static_cast<size_t>(rank));
  for (int d = 0; d < rank; ++d) order[size_t(d)] = d;
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return blocking.strides[a] > blocking.strides[b]; });
  std::string name;
  for (int d : order) {
    bool blocked = false;
    for (int i = 0; i < blocking.inner_nblks; ++i) blocked |= blocking.inner_idxs[i] == d;
    name += char((blocked ? 'A' : 'a') + d);
  }
  for (int i = 0; i < blocking.inner_nblks; ++i)
    name += std::to_string(blocking.inner_blks[i]) + char('a' + blocking.inner_idxs[i]);
  return name;
}

Layout layout_of(const dnnl::memory::desc& md, const Shape& shape) {
  if (md == plain_desc(shape, md.data_type())) return Layout{};
  Layout l;
  l.name = layout_name(md);
  l.owner = &backend();
  l.native = std::make_shared<const dnnl::memory::desc>(md);
  l.bytes = md.get_size();
  return l;
}

dnnl::memory wrap(const dnnl::memory::desc& md, const void* data) {
  return dnnl::memory(md, engine(), const_cast<void*>(data));
}

bool is_float32(const ValueDesc& v) { return v.type.dtype == DType::Float32 && v.type.shape_known; }

bool is_float(const ValueDesc& v) {
  const DType t = v.type.dtype;
  return (t == DType::Float32 || t == DType::BFloat16 || t == DType::Float16) && v.type.shape_known;
}

std::vector<EltwiseStep> eltwise_steps(const std::string& op, const std::vector<float>& params) {
  using dnnl::algorithm;
  auto param = [&](size_t i, float dflt) { return i < params.size() ? params[i] : dflt; };
  if (op == "Relu") return {{algorithm::eltwise_relu, 0.f, 0.f}};
  if (op == "LeakyRelu") return {{algorithm::eltwise_relu, param(0, 0.01f), 0.f}};
  if (op == "Clip") return {{algorithm::eltwise_clip_v2, param(0, -3.4e38f), param(1, 3.4e38f)}};
  if (op == "Sigmoid") return {{algorithm::eltwise_logistic, 0.f, 0.f}};
  if (op == "Tanh") return {{algorithm::eltwise_tanh, 0.f, 0.f}};
  if (op == "SiLU") return {{algorithm::eltwise_swish, 1.f, 0.f}};
  if (op == "HardSwish") return {{algorithm::eltwise_hardswish, 0.f, 0.f}};
  if (op == "Gelu") return {{algorithm::eltwise_gelu_erf, 0.f, 0.f}};
  if (op == "GeluTanh") return {{algorithm::eltwise_gelu_tanh, 0.f, 0.f}};
  if (op == "HardSigmoid")  // max(0, min(1, alpha*x + beta))
    return {{algorithm::eltwise_linear, param(0, 0.2f), param(1, 0.5f)}, {algorithm::eltwise_clip_v2, 0.f, 1.f}};
  return {};
}

namespace {

// oneDNN 2.6's jit kernels compute a post-op chain wrongly when one eltwise algorithm appears twice with different
// parameters (Conv -> Clip -> Add -> Clip: both clips got one pair of bounds; see DnnlKernels.FusedConvResidual).
// A second clip takes the older clip algorithm, which clamps alike; any other repeat is declined (undef).
dnnl::algorithm distinct_algorithm(const dnnl::post_ops& ops, dnnl::algorithm alg, float alpha, float beta) {
  auto conflicts = [&](dnnl::algorithm a) {
    for (int i = 0; i < ops.len(); ++i) {
      if (ops.kind(i) != dnnl::primitive::kind::eltwise) continue;
      float scale = 0, p = 0, q = 0;
      dnnl::algorithm used;
      ops.get_params_eltwise(i, scale, used, p, q);
      if (used == a && (p != alpha || q != beta)) return true;
    }
    return false;
  };
  if (!conflicts(alg)) return alg;
  if (alg == dnnl::algorithm::eltwise_clip_v2 && !conflicts(dnnl::algorithm::eltwise_clip))
    return dnnl::algorithm::eltwise_clip;
  return dnnl::algorithm::undef;
}

}  // namespace

bool append_activation(const Node& node, dnnl::post_ops& ops, const std::string& attr) {
  const std::string act = node.attr_string(attr, "");
  if (act.empty()) return true;
  const std::vector<EltwiseStep> steps = eltwise_steps(act, node.attr_floats(attr + "_params"));
  for (const EltwiseStep& e : steps) {
    const dnnl::algorithm alg = distinct_algorithm(ops, e.algorithm, e.alpha, e.beta);
    if (alg == dnnl::algorithm::undef) return false;
    ops.append_eltwise(1.f, alg, e.alpha, e.beta);
  }
  return !steps.empty();
}

void round_before_zero_point(dnnl::post_ops& ops) { ops.append_eltwise(1.f, dnnl::algorithm::eltwise_round, 0.f, 0.f); }

PackedConstant pack_constant(const Tensor& t, const dnnl::memory::desc& from, const dnnl::memory::desc& to,
                             float scale) {
  PackedConstant packed;
  packed.storage = std::shared_ptr<std::byte[]>(new std::byte[std::max<size_t>(to.get_size(), 1)]());
  packed.memory = dnnl::memory(to, engine(), packed.storage.get());
  dnnl::memory src = wrap(from, t);
  dnnl::primitive_attr attr;
  if (scale != 1.f) attr.set_output_scales(0, {scale});
  dnnl::reorder(src, packed.memory, attr).execute(stream(), src, packed.memory);
  stream().wait();
  return packed;
}

InputAdapter::InputAdapter(const dnnl::memory::desc& from, const dnnl::memory::desc& to) : from_(from), to_(to) {
  if (from == to) return;
  reorder_ = dnnl::reorder(dnnl::reorder::primitive_desc(engine(), from, engine(), to));
  buffer_ = std::shared_ptr<std::byte[]>(new std::byte[std::max<size_t>(to.get_size(), 1)]);
}

dnnl::memory InputAdapter::operator()(const Tensor& t, dnnl::stream& s) {
  dnnl::memory src = wrap(from_, t);
  if (!reorder_) return src;
  dnnl::memory dst(to_, engine(), buffer_.get());
  reorder_->execute(s, src, dst);
  return dst;
}

namespace {

// One reorder: a oneDNN layout to plain, and Cast between the float types (both at once where a Cast reads a
// value in a oneDNN layout).
class ReorderKernel final : public Kernel {
 public:
  ReorderKernel(const dnnl::memory::desc& from, const dnnl::memory::desc& to, const dnnl::reorder::primitive_desc& pd,
                std::string description)
      : from_(from), to_(to), reorder_(pd), description_(std::move(description)) {}
  void run(const std::vector<const Tensor*>& inputs, const std::vector<Tensor*>& outputs) override {
    dnnl::memory src = wrap(from_, *inputs[0]), dst = wrap(to_, *outputs[0]);
    reorder_.execute(stream(), src, dst);
    stream().wait();
  }
  std::string describe() const override { return description_; }

 private:
  dnnl::memory::desc from_, to_;
  dnnl::reorder reorder_;
  std::string description_;
};

// Cast between fp32 and bf16, which is where a Cast writer's model enters and leaves its bf16 region. oneDNN rounds
// to nearest even as ONNX's Cast does, and reads the input in the producer's layout: the region's last value needs
// no separate conversion to plain. fp16 stays on the reference Cast: oneDNN 2.6 converts it in a generic loop
// ("simple:any" on a CPU without AVX512-FP16), 12 ms against the reference's 0.2 ms for a 3x224x224 image.
std::unique_ptr<Kernel> compile_cast(const KernelRequest& r) {
  if (r.inputs.size() != 1 || r.outputs.size() != 1 || !is_float(r.inputs[0])) return nullptr;
  const DType from_type = r.inputs[0].type.dtype, to_type = r.outputs[0].dtype;
  const bool bf16_edge = (from_type == DType::Float32 && to_type == DType::BFloat16) ||
                         (from_type == DType::BFloat16 && to_type == DType::Float32);
  auto from = value_desc(r.inputs[0]);
  if (!from || !bf16_edge) return nullptr;
  const dnnl::memory::desc to = plain_desc(r.inputs[0].type.shape, dnnl_type(to_type));
  dnnl::reorder::primitive_desc pd(engine(), *from, engine(), to);
  if (is_reference_impl(pd)) return nullptr;
  const std::string description = "dnnl cast " + std::string(dtype_name(from_type)) + " " +
                                  layout_of(*from, r.inputs[0].type.shape).name + " -> " +
                                  std::string(dtype_name(to_type));
  return std::make_unique<ReorderKernel>(*from, to, pd, description);
}

class DnnlBackend final : public Backend {
 public:
  std::string_view name() const override { return "dnnl"; }
  std::unique_ptr<Kernel> compile(const KernelRequest& r) const override {
    const Node& n = r.node;
    try {
      if (n.domain.empty()) {
        if (n.op_type == "Conv") return compile_conv(r);
        if (n.op_type == "Gemm" || n.op_type == "MatMul") return compile_matmul(r);
        if (n.op_type == "MaxPool" || n.op_type == "AveragePool" || n.op_type == "GlobalAveragePool" ||
            n.op_type == "GlobalMaxPool")
          return compile_pool(r);
        if (n.op_type == "Concat") return compile_concat(r);
        if (n.op_type == "Cast") return compile_cast(r);
        if (n.op_type == "Add" || n.op_type == "Sub" || n.op_type == "Mul" || n.op_type == "Div")
          return compile_binary(r);
        if (n.op_type == "QLinearConv") return compile_qlinear_conv(r);
        if (n.op_type == "QLinearMatMul") return compile_qlinear_matmul(r);
        if (n.op_type == "QuantizeLinear") return compile_quantize(r);
        return compile_eltwise(r);  // the activations; nullptr for every other op
      } else if (n.domain == "infera") {
        if (n.op_type == "FusedConv") return compile_conv(r);
        if (n.op_type == "FusedQLinearConv" || n.op_type == "QuantizedConv") return compile_qlinear_conv(r);
        if (n.op_type == "QuantizedGemm") return compile_qlinear_matmul(r);
        if (n.op_type == "FusedGemm" || n.op_type == "FusedMatMul") return compile_matmul(r);
      } else if (n.domain == "com.microsoft") {
        if (n.op_type == "QLinearGlobalAveragePool") return compile_channels_last(r);
      }
    } catch (const dnnl::error&) {  // oneDNN has no implementation for this configuration: another backend runs it
      return nullptr;
    }
    return nullptr;
  }
  std::unique_ptr<Kernel> to_plain(const TensorType& type, const Layout& from) const override {
    if (from.owner != this) return nullptr;
    const auto& md = *static_cast<const dnnl::memory::desc*>(from.native.get());
    const dnnl::memory::desc plain = plain_desc(type.shape, md.data_type());
    return std::make_unique<ReorderKernel>(md, plain, dnnl::reorder::primitive_desc(engine(), md, engine(), plain),
                                           "dnnl reorder " + layout_name(md) + " -> plain");
  }
};

}  // namespace

const Backend& backend() {
  static const DnnlBackend b;
  return b;
}

}  // namespace infera::dnnl_backend
