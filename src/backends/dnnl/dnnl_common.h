// What the oneDNN kernels share: the engine, memory descriptors for infera values (plain or in a oneDNN layout),
// the fused activations as oneDNN post-ops, and conversions between layouts.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backends/backend.h"

namespace infera::dnnl_backend {

const Backend& backend();
dnnl::engine& engine();
// The calling thread's stream on engine(): kernels execute on it and wait before they return.
dnnl::stream& stream();

dnnl::memory::dims to_dims(const Shape& shape);
// oneDNN's name for an element type; undef for types oneDNN does not compute on.
dnnl::memory::data_type dnnl_type(DType t);
// The dense row-major descriptor of a tensor of this shape and element type.
dnnl::memory::desc plain_desc(const Shape& shape, dnnl::memory::data_type type = dnnl::memory::data_type::f32);
// The descriptor a value is stored in: its oneDNN layout, or plain. nullopt when the layout is another backend's.
std::optional<dnnl::memory::desc> value_desc(const ValueDesc& v);
// A Layout for values stored as `md` ("plain" when md is the dense row-major layout of `shape`).
Layout layout_of(const dnnl::memory::desc& md, const Shape& shape);

// An activation (the op name of infera.Fused*'s `activation`, with its `activation_params`) as oneDNN eltwise
// operations applied in order; empty when oneDNN has no equivalent.
struct EltwiseStep {
  dnnl::algorithm algorithm;
  float alpha, beta;
};
std::vector<EltwiseStep> eltwise_steps(const std::string& op, const std::vector<float>& params);
// The node's `activation` / `activation_params` attributes (infera.Fused* ops; FusedConv's `conv_activation` with
// attr) as post-ops; false when oneDNN has no equivalent.
bool append_activation(const Node& node, dnnl::post_ops& ops, const std::string& attr = "activation");

// Integer kernels: rounds the requantized value half to even before oneDNN adds the output zero point, as ONNX's
// quantization (and the reference kernels) do. oneDNN alone rounds after adding it, which moves an exact tie (x.5)
// by one step, and a deep network carries such a step to its output.
void round_before_zero_point(dnnl::post_ops& ops);

// Weights, biases: a constant tensor reordered once into `to`, owned by the kernel, multiplied by `scale` on the way
// (Gemm's alpha). The reorder also converts the element type (a bf16 model's bias packed as f32).
struct PackedConstant {
  std::shared_ptr<std::byte[]> storage;
  dnnl::memory memory;
};
PackedConstant pack_constant(const Tensor& t, const dnnl::memory::desc& from, const dnnl::memory::desc& to,
                             float scale = 1.f);

// An input arriving in `from` that a primitive wants in `to`: reorders into a buffer the kernel owns, or passes
// the input through when the layouts agree.
class InputAdapter {
 public:
  InputAdapter() = default;
  InputAdapter(const dnnl::memory::desc& from, const dnnl::memory::desc& to);
  dnnl::memory operator()(const Tensor& t, dnnl::stream& s);
  double reordered_bytes() const { return reorder_ ? double(from_.get_size()) : 0; }  // per run

 private:
  dnnl::memory::desc from_, to_;
  std::optional<dnnl::reorder> reorder_;
  std::shared_ptr<std::byte[]> buffer_;
};

bool is_float32(const ValueDesc& v);
// True when oneDNN chose its reference (scalar C++) implementation for a primitive.
template <class PrimitiveDesc>
bool is_reference_impl(const PrimitiveDesc& pd) {
  return std::string(pd.impl_info_str()).find("ref") != std::string::npos;
}
// bf16/fp16 where oneDNN has only its reference implementation (a CPU without those instructions): slower than fp32
// and than infera's reference kernel, which is the one tested against ONNX, so the node stays there.
template <class PrimitiveDesc>
bool reference_half_precision(DType t, const PrimitiveDesc& pd) {
  return (t == DType::BFloat16 || t == DType::Float16) && is_reference_impl(pd);
}
// A floating-point value the float kernels compute on: fp32, or bf16 / fp16 (the Cast writer's models), which run
// with fp32 accumulation.
bool is_float(const ValueDesc& v);
std::string layout_name(const dnnl::memory::desc& md);
// Existing storage (a tensor's, a kernel's scratch) as a oneDNN memory object with descriptor md.
dnnl::memory wrap(const dnnl::memory::desc& md, const void* data);
inline dnnl::memory wrap(const dnnl::memory::desc& md, const Tensor& t) { return wrap(md, t.raw()); }

std::unique_ptr<Kernel> compile_conv(const KernelRequest& r);
std::unique_ptr<Kernel> compile_matmul(const KernelRequest& r);
std::unique_ptr<Kernel> compile_pool(const KernelRequest& r);
std::unique_ptr<Kernel> compile_channels_last(const KernelRequest& r);  // pool.cpp
std::unique_ptr<Kernel> compile_concat(const KernelRequest& r);
std::unique_ptr<Kernel> compile_binary(const KernelRequest& r);   // eltwise.cpp
std::unique_ptr<Kernel> compile_eltwise(const KernelRequest& r);  // eltwise.cpp
std::unique_ptr<Kernel> compile_quantize(const KernelRequest& r);  // eltwise.cpp
std::unique_ptr<Kernel> compile_qlinear_conv(const KernelRequest& r);   // qconv.cpp
std::unique_ptr<Kernel> compile_qlinear_matmul(const KernelRequest& r); // qmatmul.cpp

}  // namespace infera::dnnl_backend
