// Residual Add + LayerNormalization over the last axis becomes infera.SkipLayerNormalization(a, b, gamma, beta).
// Both Add operands must have the sum's shape (a residual, not a bias). When the sum is read elsewhere too (the next
// residual), SkipLayerNormalization's output 1 produces it. LayerNormalization's mean and inverse-deviation outputs
// must be unused.
#include "passes/passes.h"

namespace infera {
namespace {

bool fuse(PassContext& ctx, size_t ln_index) {
  const Node& ln = ctx.node(ln_index);
  if (ln.op_type != "LayerNormalization" || !ln.domain.empty() || ln.inputs.size() < 2) return false;
  for (size_t k = 1; k < ln.outputs.size(); ++k)
    if (!ln.outputs[k].empty() && (!ctx.consumers(ln.outputs[k]).empty() || ctx.is_graph_output(ln.outputs[k])))
      return false;
  const TensorType* s = ctx.type(ln.inputs[0]);
  const TensorType* gamma = ctx.type(ln.inputs[1]);
  if (!s || s->shape.empty() || !gamma || gamma->shape != Shape{s->shape.back()}) return false;
  const int64_t axis = ln.attr_int("axis", -1);
  if (axis != -1 && axis != int64_t(s->shape.size()) - 1) return false;
  const std::string beta = ln.inputs.size() > 2 ? ln.inputs[2] : "";
  const TensorType* bt = beta.empty() ? nullptr : ctx.type(beta);
  if (!beta.empty() && (!bt || bt->shape != gamma->shape)) return false;
  const int add = ctx.producer(ln.inputs[0]);
  if (add < 0) return false;
  const Node& a = ctx.node(size_t(add));
  if (a.op_type != "Add" || !a.domain.empty() || a.inputs.size() != 2) return false;
  for (const std::string& in : a.inputs) {
    const TensorType* t = ctx.type(in);
    if (!t || t->shape != s->shape || t->dtype != s->dtype) return false;
  }
  const bool sum_read_elsewhere = !ctx.single_use(a.outputs[0]);
  Node skip = make_node(ln.name + "_skip", "SkipLayerNormalization", "infera",
                        {a.inputs[0], a.inputs[1], ln.inputs[1], beta}, {ln.outputs[0]});
  if (sum_read_elsewhere) skip.outputs.push_back(a.outputs[0]);
  skip.attrs["epsilon"] = float_attribute(ln.attr_float("epsilon", 1e-5f));
  ctx.remove(size_t(add));
  ctx.remove(ln_index);
  ctx.add_node(std::move(skip));
  return true;
}

}  // namespace

int fuse_skip_layer_norm(PassContext& ctx) { return rewrite_each_node(ctx, fuse); }

}  // namespace infera
