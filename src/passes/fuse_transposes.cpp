// Transpose elimination: Transpose(Transpose(x, p), q) becomes one Transpose(x, p∘q), or nothing when that is the
// identity; Transpose(p) -> elementwise op -> Transpose(q) with p∘q the identity drops both Transposes when the
// elementwise op has no other operand than scalar constants. (A Transpose of a constant is folded by constant
// folding.)
#include <set>

#include "passes/passes.h"

namespace infera {
namespace {

// The Transpose's permutation; empty when the input rank is unknown.
std::vector<int64_t> perm_of(const PassContext& ctx, const Node& n) {
  std::vector<int64_t> perm = n.attr_ints("perm");
  if (!perm.empty()) return perm;
  const TensorType* t = ctx.type(n.inputs[0]);
  if (!t) return {};
  for (size_t i = t->shape.size(); i-- > 0;) perm.push_back(int64_t(i));
  return perm;
}

// Transpose(Transpose(x, first), second): output axis i is input axis first[second[i]].
std::vector<int64_t> compose(const std::vector<int64_t>& first, const std::vector<int64_t>& second) {
  std::vector<int64_t> out;
  for (int64_t a : second) out.push_back(first[size_t(a)]);
  return out;
}

bool is_identity(const std::vector<int64_t>& perm) {
  for (size_t i = 0; i < perm.size(); ++i)
    if (perm[i] != int64_t(i)) return false;
  return true;
}

bool is_transpose(const Node& n) { return n.op_type == "Transpose" && n.domain.empty() && !n.inputs.empty(); }

bool elementwise(const Node& n) {
  static const std::set<std::string> ops = {"Relu", "Sigmoid", "Tanh", "Exp", "Log", "Abs", "Neg", "Sqrt", "Erf",
                                            "LeakyRelu", "HardSigmoid", "HardSwish", "Gelu", "Clip", "Cast",
                                            "Add", "Sub", "Mul", "Div", "Pow"};
  return n.domain.empty() && ops.count(n.op_type) && n.outputs.size() == 1;
}

// Merges Transpose node i into the Transpose producing its input.
bool merge_pair(PassContext& ctx, size_t i) {
  const int p = ctx.producer(ctx.node(i).inputs[0]);
  if (p < 0 || !is_transpose(ctx.node(size_t(p)))) return false;
  const std::vector<int64_t> first = perm_of(ctx, ctx.node(size_t(p))), second = perm_of(ctx, ctx.node(i));
  if (first.empty() || first.size() != second.size()) return false;
  const std::vector<int64_t> merged = compose(first, second);
  const std::string source = ctx.node(size_t(p)).inputs[0];
  if (is_identity(merged)) return ctx.bypass(i, source, ctx.node(i).outputs[0]);
  ctx.set_input(i, 0, source);
  ctx.node(i).attrs["perm"] = ints_attribute(merged);
  return true;
}

// Transpose node i -> elementwise -> Transpose that undoes it: the elementwise op reads and writes the originals.
bool cancel_around_elementwise(PassContext& ctx, size_t i) {
  const std::string& mid = ctx.node(i).outputs[0];
  if (!ctx.single_use(mid)) return false;
  const size_t e = ctx.consumers(mid)[0];
  const Node& op = ctx.node(e);
  if (!elementwise(op)) return false;
  for (const std::string& in : op.inputs) {
    const Tensor* c = in == mid ? nullptr : ctx.constant(in);
    if (in != mid && (!c || c->numel() != 1)) return false;
  }
  const int t2 = ctx.sole_consumer(op.outputs[0], "Transpose");
  if (t2 < 0) return false;
  const std::vector<int64_t> first = perm_of(ctx, ctx.node(i)), second = perm_of(ctx, ctx.node(size_t(t2)));
  if (first.empty() || first.size() != second.size() || !is_identity(compose(first, second))) return false;
  for (size_t k = 0; k < op.inputs.size(); ++k)
    if (op.inputs[k] == mid) ctx.set_input(e, k, ctx.node(i).inputs[0]);
  ctx.set_output(e, 0, ctx.node(size_t(t2)).outputs[0]);
  ctx.remove(i);
  ctx.remove(size_t(t2));
  return true;
}

}  // namespace

int fuse_transposes(PassContext& ctx) {
  int count = 0;
  for (size_t i = 0; i < ctx.size(); ++i)
    if (!ctx.removed(i) && is_transpose(ctx.node(i)) && merge_pair(ctx, i)) ++count;
  for (size_t i = 0; i < ctx.size(); ++i)
    if (!ctx.removed(i) && is_transpose(ctx.node(i)) && cancel_around_elementwise(ctx, i)) ++count;
  return count;
}

}  // namespace infera
