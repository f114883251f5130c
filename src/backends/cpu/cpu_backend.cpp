// The CPU backend: op type → kernel factory. The factories live one family per file (kernels.h).
#include "backends/cpu/cpu_backend.h"

#include <map>
#include <utility>

#include "backends/cpu/kernels.h"

namespace infera {
namespace {

using Factory = std::unique_ptr<Kernel> (*)(const KernelRequest&);

const std::map<std::pair<std::string_view, std::string_view>, Factory>& factories() {
  static const std::map<std::pair<std::string_view, std::string_view>, Factory> table = {
      {{"", "Add"}, cpu::compile_binary},
      {{"", "Sub"}, cpu::compile_binary},
      {{"", "Mul"}, cpu::compile_binary},
      {{"", "Div"}, cpu::compile_binary},
      {{"", "Max"}, cpu::compile_binary},
      {{"", "Min"}, cpu::compile_binary},
      {{"", "Pow"}, cpu::compile_binary},
      {{"", "Relu"}, cpu::compile_unary},
      {{"", "LeakyRelu"}, cpu::compile_unary},
      {{"", "Clip"}, cpu::compile_unary},
      {{"", "Sigmoid"}, cpu::compile_unary},
      {{"", "Tanh"}, cpu::compile_unary},
      {{"", "Exp"}, cpu::compile_unary},
      {{"", "Erf"}, cpu::compile_unary},
      {{"", "Sqrt"}, cpu::compile_unary},
      {{"", "Reciprocal"}, cpu::compile_unary},
      {{"", "Neg"}, cpu::compile_unary},
      {{"", "Abs"}, cpu::compile_unary},
      {{"", "HardSigmoid"}, cpu::compile_unary},
      {{"", "HardSwish"}, cpu::compile_unary},
      {{"", "Gelu"}, cpu::compile_unary},
      {{"", "Softmax"}, cpu::compile_softmax},
      {{"", "LogSoftmax"}, cpu::compile_softmax},
      {{"", "LayerNormalization"}, cpu::compile_layer_norm},
      {{"", "BatchNormalization"}, cpu::compile_batch_norm},
      {{"infera", "SkipLayerNormalization"}, cpu::compile_skip_layer_norm},
      {{"", "ReduceSum"}, cpu::compile_reduce},
      {{"", "ReduceMean"}, cpu::compile_reduce},
      {{"", "ReduceMax"}, cpu::compile_reduce},
      {{"", "GlobalAveragePool"}, cpu::compile_global_average_pool},
      {{"", "Transpose"}, cpu::compile_transpose},
      {{"", "Concat"}, cpu::compile_concat},
      {{"", "Gather"}, cpu::compile_gather},
      {{"", "Slice"}, cpu::compile_slice},
      {{"", "Where"}, cpu::compile_where},
      {{"", "Expand"}, cpu::compile_expand},
      {{"infera", "Attention"}, cpu::compile_attention},
      {{"", "QuantizeLinear"}, cpu::compile_quantize},
      {{"", "DequantizeLinear"}, cpu::compile_quantize},
      {{"com.microsoft", "QLinearAdd"}, cpu::compile_qlinear_add},
  };
  return table;
}

class CpuBackend final : public Backend {
 public:
  std::string_view name() const override { return "cpu"; }
  std::unique_ptr<Kernel> compile(const KernelRequest& request) const override {
    const std::string_view domain = request.node.domain == "ai.onnx" ? "" : std::string_view(request.node.domain);
    auto it = factories().find({domain, request.node.op_type});
    if (it == factories().end()) return nullptr;
    for (const TensorType& t : request.outputs)
      if (t.dtype != DType::Undefined && !t.shape_known) return nullptr;
    return it->second(request);
  }
};

}  // namespace

const Backend& cpu_backend() {
  static const CpuBackend backend;
  return backend;
}

}  // namespace infera
