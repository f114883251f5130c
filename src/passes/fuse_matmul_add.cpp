// MatMul + Add: A @ B + C becomes Gemm(A, B, C) when A and B are 2-D and C broadcasts to the product's shape (as
// ONNX Runtime does), or infera.FusedMatMul(A, B, bias) for higher-rank A with a constant 2-D B and a constant bias
// of the last dimension's length (the projections of transformer layers). The MatMul output must be read by the Add
// alone, and the Add must not broadcast the product to a bigger shape.
#include "passes/passes.h"

namespace infera {
namespace {

bool broadcasts_to(const Shape& from, const Shape& to) {
  if (from.size() > to.size()) return false;
  for (size_t i = 0; i < from.size(); ++i) {
    const int64_t f = from[from.size() - 1 - i], t = to[to.size() - 1 - i];
    if (f != 1 && f != t) return false;
  }
  return true;
}

bool fuse(PassContext& ctx, size_t add_index) {
  const Node& add = ctx.node(add_index);
  if (add.op_type != "Add" || !add.domain.empty() || add.inputs.size() != 2) return false;
  for (size_t k = 0; k < 2; ++k) {
    const int mm = ctx.fusable_producer(add.inputs[k], "MatMul");
    if (mm < 0) continue;
    const std::string c = add.inputs[1 - k];
    const Node& m = ctx.node(size_t(mm));
    const TensorType *a = ctx.type(m.inputs[0]), *b = ctx.type(m.inputs[1]), *ct = ctx.type(c);
    const TensorType *product = ctx.type(m.outputs[0]), *sum = ctx.type(add.outputs[0]);
    if (!a || !b || !ct || !product || !sum || !dtype_is_float(product->dtype) || ct->dtype != product->dtype ||
        sum->shape != product->shape || b->shape.size() != 2)
      continue;
    const int64_t n = b->shape[1];
    const Tensor* bias = ctx.constant(c);
    const bool gemm = a->shape.size() == 2 && broadcasts_to(ct->shape, product->shape);
    const bool fused = ctx.constant(m.inputs[1]) && bias && bias->numel() == n && bias->rank() > 0 &&
                       bias->shape().back() == n;
    if (!gemm && !fused) continue;
    const std::string bias_1d = gemm || bias->rank() == 1 ? c : ctx.add_initializer(c + "_1d", bias->reshaped({n}));
    Node& f = ctx.node(size_t(mm));
    f.op_type = gemm ? "Gemm" : "FusedMatMul";
    f.domain = gemm ? "" : "infera";
    ctx.set_input(size_t(mm), 2, bias_1d);
    ctx.set_output(size_t(mm), 0, add.outputs[0]);
    ctx.remove(add_index);
    return true;
  }
  return false;
}

}  // namespace

int fuse_matmul_add(PassContext& ctx) { return rewrite_each_node(ctx, fuse); }

}  // namespace infera
