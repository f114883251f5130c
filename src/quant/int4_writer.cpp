// int4-weight: the weights of MatMul and Gemm stored as packed INT4 with one fp32 scale per block along K, read
// through a blocked DequantizeLinear (opset 21); activations stay fp32. Symmetric codes in [-7, 7] and no zero
// point: -8 is left unused so that a block's largest |w| is exact in either sign.
#include "quant/formats.h"
#include "quant/weight_scales.h"
#include "quant/writers.h"

namespace infera {
namespace {

class Int4Writer {
 public:
  explicit Int4Writer(ModelEdit& e) : e_(e) {}

  void write() {
    for (int i = 0; i < e_.node_count(); ++i) {
      const Node& n = e_.node(i);
      const int axis = k_axis(n);
      if (axis < 0 || !e_.claim(i)) continue;
      e_.node_proto(i).set_input(1, weight(n.inputs[1], axis));
    }
  }

 private:
  // The axis of K in the weight (input 1) of a MatMul or Gemm with a float32 2-D initializer weight; -1 otherwise.
  int k_axis(const Node& n) const {
    if (!n.domain.empty() || (n.op_type != "MatMul" && n.op_type != "Gemm") || n.inputs.size() < 2) return -1;
    const Tensor* w = e_.initializer(n.inputs[1]);
    if (!w || w->dtype() != DType::Float32 || w->rank() != 2 || e_.dtype(n.inputs[0]) != DType::Float32) return -1;
    return n.op_type == "Gemm" && n.attr_int("transB", 0) ? 1 : 0;
  }

  std::string weight(const std::string& name, int axis) {
    auto cached = done_.find(name);
    if (cached != done_.end()) return cached->second;
    const Tensor& w = *e_.initializer(name);
    const int64_t block = e_.options.block_size;
    const WeightScales ws = symmetric_weight_scales(w, axis, block, 7.0);
    const float* pw = w.data<float>();
    std::vector<int4> codes(static_cast<size_t>(w.numel()));
    for (size_t k = 0; k < codes.size(); ++k)
      codes[k] = quantize_round<int4>(pw[k] / ws.scales[size_t(ws.group[k])], 0);
    std::vector<uint8_t> packed(int4_packed_bytes(codes.size()));
    pack_int4<int4>(codes, packed);
    const std::string q =
        e_.add_initializer(name + "_int4", int32_t(DType::Int4), w.shape(), packed.data(), packed.size());
    const std::string scale = e_.add_float_initializer(name + "_scale", ws.shape, ws.scales);
    const std::string dequantized = e_.names.fresh(name + "_dequantized");
    onnx::NodeProto dq = e_.new_node("DequantizeLinear", {q, scale}, {dequantized}, name);
    set_int_attribute(dq, "axis", axis);
    set_int_attribute(dq, "block_size", block);
    e_.insertions.front.push_back(std::move(dq));
    return done_[name] = dequantized;
  }

  ModelEdit& e_;
  std::map<std::string, std::string> done_;  // weight -> its DequantizeLinear output
};

}  // namespace

void write_int4_weights(ModelEdit& edit) { Int4Writer(edit).write(); }

}  // namespace infera
