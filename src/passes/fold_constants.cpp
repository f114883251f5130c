// Constant folding: a node whose value is known ahead of time becomes initializers under its output names.
// Static analysis evaluates, for the concrete input shapes, every node whose inputs are constants or that reads only
// input shapes (Shape, Size), when its outputs are small (shape sub-graphs: Shape -> Gather -> Unsqueeze -> Concat
// collapse, so Reshape gets a constant shape). Larger nodes on initializers fold here too when folding does not grow
// the model: no more output elements than their largest input has (weight transforms: Transpose, Reshape, Cast, or
// DequantizeLinear of quantized weights, which today's fp32 kernels would otherwise redo on every run), and
// Constant nodes, whose value is in the model already. Expand, Tile, ConstantOfShape and the like of big outputs
// stay nodes: folding them would trade a cheap computation for memory.
#include "passes/passes.h"

namespace infera {
namespace {

constexpr int kMaxRounds = 16;  // each round folds at least one more level of a constant chain

bool has_subgraph(const Node& n) {
  for (const auto& [name, a] : n.attrs)
    if (a.g || !a.graphs.empty()) return true;
  return false;
}

bool foldable(const Node& n) { return n.def && n.def->foldable && !has_subgraph(n); }

// Folds the nodes static analysis evaluated.
int fold_analysed(PassContext& ctx) {
  int count = 0;
  for (size_t i = 0; i < ctx.size(); ++i) {
    const Node& n = ctx.node(i);
    if (!foldable(n)) continue;
    bool all = true;
    for (const std::string& o : n.outputs) all = all && (o.empty() || ctx.folded().count(o));
    if (!all) continue;
    for (const std::string& o : n.outputs)
      if (!o.empty()) ctx.graph().initializers[o] = ctx.folded().at(o);
    ctx.remove(i);
    ++count;
  }
  return count;
}

// Folds nodes on initializers that are too big for static analysis but do not grow the model.
int fold_weight_transforms(PassContext& ctx) {
  int count = 0;
  for (size_t i = 0; i < ctx.size(); ++i) {
    if (ctx.removed(i)) continue;
    const Node& n = ctx.node(i);
    if (!foldable(n)) continue;
    std::vector<const Tensor*> inputs;
    int64_t largest_input = 0;
    bool constant = true;
    for (const std::string& in : n.inputs) {
      const Tensor* t = in.empty() ? nullptr : ctx.constant(in);
      if (!in.empty() && !t) constant = false;
      if (t) largest_input = std::max(largest_input, t->numel());
      inputs.push_back(t);
    }
    if (!constant) continue;
    bool small_enough = n.op_type == "Constant" && n.domain.empty();
    if (!small_enough) {
      small_enough = true;
      for (const std::string& o : n.outputs) {
        const TensorType* t = o.empty() ? nullptr : ctx.type(o);
        if (!o.empty() && (!t || shape_numel(t->shape) > largest_input)) small_enough = false;
      }
    }
    if (!small_enough) continue;
    std::vector<Tensor> values;
    try {
      values = evaluate_node(n, inputs);
    } catch (const Error&) {
      continue;  // left for the node to report when it runs
    }
    for (size_t k = 0; k < n.outputs.size(); ++k)
      if (!n.outputs[k].empty()) ctx.graph().initializers[n.outputs[k]] = values[k];
    ctx.remove(i);
    ++count;
  }
  return count;
}

}  // namespace

int fold_constants(PassContext& ctx) {
  int folded = 0;
  for (int round = 0; round < kMaxRounds; ++round) {
    int now = fold_analysed(ctx);
    ctx.commit();
    now += fold_weight_transforms(ctx);
    ctx.commit();
    if (now == 0) break;
    folded += now;
  }
  return folded;
}

}  // namespace infera
