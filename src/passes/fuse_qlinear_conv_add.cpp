// Residual Add of quantized values after a quantized convolution: com.microsoft QLinearAdd(QLinearConv(...), Z)
// becomes infera.FusedQLinearConv (ops/fused_quant.cpp), which keeps the convolution's requantization, so the result
// is the same bytes, and lets an integer backend add Z in the convolution's epilogue instead of in a pass of its own.
// The convolution's output must be read by the Add alone, quantized as the Add reads it, and Z must have its type
// and shape (no broadcasting).
#include "passes/passes.h"

namespace infera {
namespace {

// The value of an initializer or folded constant, as a double; false when not a one-element constant.
bool scalar(const PassContext& ctx, const std::string& name, double& v) {
  const Tensor* t = ctx.constant(name);
  if (!t) {
    auto it = ctx.folded().find(name);
    t = it == ctx.folded().end() ? nullptr : &it->second;
  }
  if (!t || t->numel() != 1) return false;
  v = t->as_double(0);
  return true;
}

// The same quantization parameter under two names (an absent zero point is 0).
bool same_param(const PassContext& ctx, const std::string& a, const std::string& b) {
  if (a == b) return true;
  double va = 0, vb = 0;
  return (a.empty() || scalar(ctx, a, va)) && (b.empty() || scalar(ctx, b, vb)) && va == vb;
}

std::string input(const Node& n, size_t k) { return k < n.inputs.size() ? n.inputs[k] : std::string(); }

bool fuse(PassContext& ctx, size_t add_index) {
  const Node& add = ctx.node(add_index);
  if (add.op_type != "QLinearAdd" || add.domain != "com.microsoft" || add.inputs.size() < 7) return false;
  for (size_t k : {0u, 3u}) {
    const int c = ctx.fusable_producer(add.inputs[k], "QLinearConv");
    if (c < 0) continue;
    const Node& conv = ctx.node(size_t(c));
    const size_t z = 3 - k;  // the other operand's position
    const TensorType *zt = ctx.type(add.inputs[z]), *yt = ctx.type(add.inputs[k]);
    if (!zt || !yt || zt->shape != yt->shape || zt->dtype != yt->dtype) continue;
    if (!same_param(ctx, input(conv, 6), input(add, k + 1)) || !same_param(ctx, input(conv, 7), input(add, k + 2)))
      continue;
    Node n = make_node(conv.name, "FusedQLinearConv", "infera", conv.inputs, {add.outputs[0]});
    n.inputs.resize(9);
    n.inputs.insert(n.inputs.end(),
                    {add.inputs[z], input(add, z + 1), input(add, z + 2), input(add, 6), input(add, 7)});
    n.attrs = conv.attrs;
    ctx.remove(size_t(c));
    ctx.remove(add_index);
    ctx.add_node(std::move(n));
    return true;
  }
  return false;
}

}  // namespace

int fuse_qlinear_conv_add(PassContext& ctx) { return rewrite_each_node(ctx, fuse); }

}  // namespace infera
