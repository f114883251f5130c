// The oneDNN backend: convolution, matmul/gemm, pooling and channel concatenation with fused activations and
// residual sums, keeping oneDNN's blocked activation layouts from one such node to the next.
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

bool append_activation(const Node& node, dnnl::post_ops& ops) {
  using dnnl::algorithm;
  const std::string act = node.attr_string("activation", "");
  const std::vector<float> p = node.attr_floats("activation_params");
  auto param = [&](size_t i, float dflt) { return i < p.size() ? p[i] : dflt; };
  if (act.empty()) return true;
  if (act == "Relu") ops.append_eltwise(1.f, algorithm::eltwise_relu, 0.f, 0.f);
  else if (act == "LeakyRelu") ops.append_eltwise(1.f, algorithm::eltwise_relu, param(0, 0.01f), 0.f);
  else if (act == "Clip") ops.append_eltwise(1.f, algorithm::eltwise_clip_v2, param(0, -3.4e38f), param(1, 3.4e38f));
  else if (act == "Sigmoid") ops.append_eltwise(1.f, algorithm::eltwise_logistic, 0.f, 0.f);
  else if (act == "Tanh") ops.append_eltwise(1.f, algorithm::eltwise_tanh, 0.f, 0.f);
  else if (act == "SiLU") ops.append_eltwise(1.f, algorithm::eltwise_swish, 1.f, 0.f);
  else if (act == "HardSwish") ops.append_eltwise(1.f, algorithm::eltwise_hardswish, 0.f, 0.f);
  else if (act == "Gelu") ops.append_eltwise(1.f, algorithm::eltwise_gelu_erf, 0.f, 0.f);
  else if (act == "GeluTanh") ops.append_eltwise(1.f, algorithm::eltwise_gelu_tanh, 0.f, 0.f);
  else if (act == "HardSigmoid") {  // max(0, min(1, alpha*x + beta))
    ops.append_eltwise(1.f, algorithm::eltwise_linear, param(0, 0.2f), param(1, 0.5f));
    ops.append_eltwise(1.f, algorithm::eltwise_clip_v2, 0.f, 1.f);
  } else {
    return false;
  }
  return true;
}

void round_before_zero_point(dnnl::post_ops& ops) { ops.append_eltwise(1.f, dnnl::algorithm::eltwise_round, 0.f, 0.f); }

PackedConstant pack_constant(const Tensor& t, const dnnl::memory::desc& from, const dnnl::memory::desc& to) {
  PackedConstant packed;
  packed.storage = std::shared_ptr<std::byte[]>(new std::byte[std::max<size_t>(to.get_size(), 1)]());
  packed.memory = dnnl::memory(to, engine(), packed.storage.get());
  dnnl::memory src = wrap(from, t);
  dnnl::reorder(src, packed.memory).execute(stream(), src, packed.memory);
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

class ToPlainKernel final : public Kernel {
 public:
  ToPlainKernel(const dnnl::memory::desc& from, const Shape& shape)
      : from_(from), to_(plain_desc(shape, from.data_type())), reorder_(dnnl::reorder::primitive_desc(engine(), from_, engine(), to_)) {}
  void run(const std::vector<const Tensor*>& inputs, const std::vector<Tensor*>& outputs) override {
    dnnl::memory src = wrap(from_, *inputs[0]), dst = wrap(to_, *outputs[0]);
    reorder_.execute(stream(), src, dst);
    stream().wait();
  }
  std::string describe() const override { return "dnnl reorder " + layout_name(from_) + " -> plain"; }

 private:
  dnnl::memory::desc from_, to_;
  dnnl::reorder reorder_;
};

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
        if (n.op_type == "QLinearConv") return compile_qlinear_conv(r);
        if (n.op_type == "QLinearMatMul") return compile_qlinear_matmul(r);
      } else if (n.domain == "infera") {
        if (n.op_type == "FusedConv") return compile_conv(r);
        if (n.op_type == "FusedQLinearConv") return compile_qlinear_conv(r);
        if (n.op_type == "FusedGemm" || n.op_type == "FusedMatMul") return compile_matmul(r);
      }
    } catch (const dnnl::error&) {  // oneDNN has no implementation for this configuration: another backend runs it
      return nullptr;
    }
    return nullptr;
  }
  std::unique_ptr<Kernel> to_plain(const TensorType& type, const Layout& from) const override {
    if (from.owner != this) return nullptr;
    return std::make_unique<ToPlainKernel>(*static_cast<const dnnl::memory::desc*>(from.native.get()), type.shape);
  }
};

}  // namespace

const Backend& backend() {
  static const DnnlBackend b;
  return b;
}

}  // namespace infera::dnnl_backend
