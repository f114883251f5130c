// Activation fusion: Conv / Gemm / MatMul, or their fused forms without an activation yet, followed by Relu, Clip
// (constant bounds: ReLU6), Sigmoid, HardSigmoid, HardSwish, LeakyRelu, Tanh, Gelu (erf or tanh), or SiLU written
// as x * Sigmoid(x), become infera.FusedConv / FusedGemm / FusedMatMul with `activation` and `activation_params`
// (infera.QuantizedConv, an integer convolution with a float result, takes them as it is).
// The base op's output must be read only by the activation (for SiLU: by the Sigmoid and the Mul).

#include "ops/activation_node.h"
#include "passes/passes.h"

namespace infera {
namespace {

// The fused op a node becomes, or "" when it is neither a base op nor a fused op still without activation.
std::string fused_name(const Node& n) {
  if (n.domain.empty()) {
    if (n.op_type == "Conv" || n.op_type == "Gemm" || n.op_type == "MatMul") return "Fused" + n.op_type;
    return "";
  }
  const bool fused = n.domain == "infera" &&
                     (n.op_type == "FusedConv" || n.op_type == "FusedGemm" || n.op_type == "FusedMatMul" ||
                      n.op_type == "QuantizedConv");
  return fused && n.attr_string("activation", "").empty() ? n.op_type : "";
}

// Readers of `value` forming x * Sigmoid(x): the Sigmoid and the Mul, in that order; false otherwise.
bool silu_readers(const PassContext& ctx, const std::string& value, size_t& sigmoid, size_t& mul) {
  const std::vector<size_t> readers = ctx.consumers(value);
  if (readers.size() != 2 || ctx.is_graph_output(value)) return false;
  for (int first = 0; first < 2; ++first) {
    const Node &s = ctx.node(readers[size_t(first)]), &m = ctx.node(readers[size_t(1 - first)]);
    if (s.op_type != "Sigmoid" || !s.domain.empty() || m.op_type != "Mul" || !m.domain.empty() ||
        !ctx.single_use(s.outputs[0]))
      continue;
    const bool operands = (m.inputs[0] == value && m.inputs[1] == s.outputs[0]) ||
                          (m.inputs[1] == value && m.inputs[0] == s.outputs[0]);
    if (!operands || ctx.consumers(s.outputs[0])[0] != readers[size_t(1 - first)]) continue;
    sigmoid = readers[size_t(first)];
    mul = readers[size_t(1 - first)];
    return true;
  }
  return false;
}

bool fuse(PassContext& ctx, size_t base) {
  const Node& n = ctx.node(base);
  const std::string fused = fused_name(n);
  if (fused.empty() || n.outputs.empty()) return false;
  const std::string& y = n.outputs[0];
  const TensorType* t = ctx.type(y);
  if (!t || !dtype_is_float(t->dtype)) return false;
  FusedActivation act;
  std::vector<size_t> absorbed;
  size_t sigmoid = 0, mul = 0;
  if (silu_readers(ctx, y, sigmoid, mul)) {
    act = {"SiLU", {}};
    absorbed = {sigmoid, mul};
  } else if (const Node* next = ctx.single_use(y) ? &ctx.node(ctx.consumers(y)[0]) : nullptr;
             next && fused_activation_of(*next, [&](size_t i) { return ctx.constant(next->inputs[i]); }, act)) {
    absorbed = {ctx.consumers(y)[0]};
  } else {
    return false;
  }
  const std::string out = ctx.node(absorbed.back()).outputs[0];
  Node& f = ctx.node(base);
  f.op_type = fused;
  f.domain = "infera";
  f.attrs["activation"] = string_attribute(act.name);
  if (!act.params.empty()) f.attrs["activation_params"] = floats_attribute(act.params);
  for (size_t a : absorbed) ctx.remove(a);
  ctx.set_output(base, 0, out);
  return true;
}

}  // namespace

int fuse_activation(PassContext& ctx) { return rewrite_each_node(ctx, fuse); }

}  // namespace infera
