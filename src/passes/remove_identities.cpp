// Identity removal: nodes whose output equals their input are bypassed (their readers read the input): Identity,
// Dropout at inference, Cast to the input's type, Reshape/Flatten/Squeeze/Unsqueeze/Expand to the input's shape,
// Transpose with the identity permutation, Pad with all-zero pads, Concat of one input.
#include "passes/passes.h"

namespace infera {
namespace {

bool unused(const PassContext& ctx, const Node& n, size_t output) {
  return output >= n.outputs.size() || n.outputs[output].empty() ||
         (ctx.consumers(n.outputs[output]).empty() && !ctx.is_graph_output(n.outputs[output]));
}

bool dropout_is_identity(const PassContext& ctx, const Node& n) {
  if (!unused(ctx, n, 1)) return false;  // the mask is read
  if (n.opset < 7) return n.attr_int("is_test", 1) != 0;
  if (n.opset < 12 || n.inputs.size() < 3 || n.inputs[2].empty()) return true;
  const Tensor* training = ctx.constant(n.inputs[2]);
  return training && training->numel() == 1 && training->as_int(0) == 0;
}

bool same_type(const PassContext& ctx, const std::string& a, const std::string& b) {
  const TensorType *ta = ctx.type(a), *tb = ctx.type(b);
  return ta && tb && ta->dtype == tb->dtype && ta->shape == tb->shape;
}

bool identity_perm(const PassContext& ctx, const Node& n) {
  const TensorType* t = ctx.type(n.inputs[0]);
  if (!t) return false;
  std::vector<int64_t> perm = n.attr_ints("perm");
  if (perm.empty()) return t->shape.size() <= 1;  // the default reverses the axes
  for (size_t i = 0; i < perm.size(); ++i)
    if (perm[i] != int64_t(i)) return false;
  return true;
}

bool zero_pads(const PassContext& ctx, const Node& n) {
  std::vector<int64_t> pads;
  if (n.opset < 11) {
    pads = n.attr_ints("pads");
  } else {
    const Tensor* t = n.inputs.size() > 1 ? ctx.constant(n.inputs[1]) : nullptr;
    if (!t) return false;
    pads = t->to_int_vector();
  }
  return std::all_of(pads.begin(), pads.end(), [](int64_t p) { return p == 0; });
}

bool is_identity(const PassContext& ctx, const Node& n) {
  if (!n.domain.empty() || n.inputs.empty() || n.inputs[0].empty() || n.outputs.empty()) return false;
  const std::string& op = n.op_type;
  if (op == "Identity") return true;
  if (op == "Dropout") return dropout_is_identity(ctx, n);
  if (op == "Cast" || op == "Reshape" || op == "Flatten" || op == "Squeeze" || op == "Unsqueeze" || op == "Expand")
    return same_type(ctx, n.inputs[0], n.outputs[0]);
  if (op == "Transpose") return identity_perm(ctx, n);
  if (op == "Pad") return zero_pads(ctx, n) && same_type(ctx, n.inputs[0], n.outputs[0]);
  if (op == "Concat") return n.inputs.size() == 1;
  return false;
}

}  // namespace

int remove_identities(PassContext& ctx) {
  int count = 0;
  for (size_t i = 0; i < ctx.size(); ++i) {
    if (ctx.removed(i) || !is_identity(ctx, ctx.node(i))) continue;
    const Node& n = ctx.node(i);
    if (ctx.bypass(i, n.inputs[0], n.outputs[0])) ++count;
  }
  return count;
}

}  // namespace infera
