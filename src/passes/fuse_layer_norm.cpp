// LayerNormalization recognition, for PyTorch exports before opset 17, which write LayerNorm over the last axis as
//   m = ReduceMean(x); d = Sub(x, m); v = ReduceMean(Pow(d, 2)); y = Div(d, Sqrt(Add(v, eps))) [* gamma] [+ beta]
// (ReduceMean over the last axis, keepdims). The match becomes ai.onnx LayerNormalization(x, gamma, beta) with
// axis -1 and that epsilon; gamma defaults to ones. Every intermediate must be read only inside the pattern.
#include "core/dispatch.h"
#include "passes/passes.h"

namespace infera {
namespace {

// ReduceMean node over the last axis of its input only, keeping dims.
bool mean_over_last_axis(const PassContext& ctx, const Node& n) {
  if (n.op_type != "ReduceMean" || !n.domain.empty() || n.attr_int("keepdims", 1) != 1) return false;
  const TensorType* t = ctx.type(n.inputs[0]);
  if (!t || t->shape.empty()) return false;
  std::vector<int64_t> axes = n.attr_ints("axes");
  if (n.inputs.size() > 1 && !n.inputs[1].empty()) {  // opset 18: axes as an input
    const Tensor* a = ctx.constant(n.inputs[1]);
    if (!a) return false;
    axes = a->to_int_vector();
  }
  const int64_t rank = int64_t(t->shape.size());
  return axes.size() == 1 && (axes[0] == -1 || axes[0] == rank - 1);
}

// The other operand of binary node n, given one of them; "" when `one` is not an operand.
std::string other_operand(const Node& n, const std::string& one) {
  if (n.inputs.size() != 2) return "";
  if (n.inputs[0] == one) return n.inputs[1];
  if (n.inputs[1] == one) return n.inputs[0];
  return "";
}

// A constant whose elements are one per last-axis position: returned reshaped to 1-D [size].
bool last_axis_param(const PassContext& ctx, const std::string& name, int64_t size, Tensor& out) {
  const Tensor* t = ctx.constant(name);
  if (!t || !dtype_is_float(t->dtype()) || t->numel() != size || (t->rank() > 0 && t->shape().back() != size))
    return false;
  out = t->reshaped({size});
  return true;
}

bool fuse(PassContext& ctx, size_t mean_index) {
  const Node& mean = ctx.node(mean_index);
  if (!mean_over_last_axis(ctx, mean)) return false;
  const std::string x = mean.inputs[0];
  const TensorType* xt = ctx.type(x);
  if (!xt || !dtype_is_float(xt->dtype)) return false;
  const int64_t size = xt->shape.back();
  const int sub = ctx.sole_consumer(mean.outputs[0], "Sub");
  if (sub < 0 || ctx.node(size_t(sub)).inputs[0] != x || ctx.node(size_t(sub)).inputs[1] != mean.outputs[0]) return false;
  const std::string d = ctx.node(size_t(sub)).outputs[0];
  // d feeds Pow(d, 2) and Div(d, ...), nothing else.
  const std::vector<size_t> readers = ctx.consumers(d);
  if (readers.size() != 2 || ctx.is_graph_output(d)) return false;
  int pow = -1, div = -1;
  for (size_t r : readers) {
    const Node& n = ctx.node(r);
    float exponent = 0;
    if (n.op_type == "Pow" && n.inputs[0] == d && ctx.scalar_constant(n.inputs[1], exponent) && exponent == 2.0f)
      pow = int(r);
    else if (n.op_type == "Div" && n.inputs[0] == d)
      div = int(r);
  }
  if (pow < 0 || div < 0) return false;
  const int variance = ctx.sole_consumer(ctx.node(size_t(pow)).outputs[0], "ReduceMean");
  if (variance < 0 || !mean_over_last_axis(ctx, ctx.node(size_t(variance)))) return false;
  const int add_eps = ctx.sole_consumer(ctx.node(size_t(variance)).outputs[0], "Add");
  if (add_eps < 0) return false;
  float epsilon = 0;
  if (!ctx.scalar_constant(other_operand(ctx.node(size_t(add_eps)), ctx.node(size_t(variance)).outputs[0]), epsilon))
    return false;
  const int sqrt = ctx.sole_consumer(ctx.node(size_t(add_eps)).outputs[0], "Sqrt");
  if (sqrt < 0 || ctx.node(size_t(div)).inputs[1] != ctx.node(size_t(sqrt)).outputs[0] ||
      !ctx.single_use(ctx.node(size_t(sqrt)).outputs[0]))
    return false;

  std::vector<size_t> pattern = {mean_index, size_t(sub), size_t(pow), size_t(variance), size_t(add_eps),
                                 size_t(sqrt), size_t(div)};
  std::string y = ctx.node(size_t(div)).outputs[0];
  Tensor gamma, beta;
  const int mul = ctx.sole_consumer(y, "Mul");
  if (mul >= 0 && last_axis_param(ctx, other_operand(ctx.node(size_t(mul)), y), size, gamma)) {
    pattern.push_back(size_t(mul));
    y = ctx.node(size_t(mul)).outputs[0];
  } else {
    gamma = Tensor(xt->dtype, {size});
    visit_float(xt->dtype, [&](auto tag) {
      using T = typename decltype(tag)::type;
      for (int64_t i = 0; i < size; ++i) gamma.data<T>()[i] = T(1.0f);
    });
  }
  const int add = ctx.sole_consumer(y, "Add");
  const bool has_beta = add >= 0 && last_axis_param(ctx, other_operand(ctx.node(size_t(add)), y), size, beta);
  if (has_beta) {
    pattern.push_back(size_t(add));
    y = ctx.node(size_t(add)).outputs[0];
  }
  if (gamma.dtype() != xt->dtype || (has_beta && beta.dtype() != xt->dtype)) return false;

  const std::string base = mean.name.empty() ? x : mean.name;
  Node ln = make_node(base + "_layernorm", "LayerNormalization", "",
                      {x, ctx.add_initializer(base + ".gamma", gamma), has_beta ? ctx.add_initializer(base + ".beta", beta) : ""},
                      {y});
  ln.attrs["axis"] = int_attribute(-1);
  ln.attrs["epsilon"] = float_attribute(epsilon);
  for (size_t p : pattern) ctx.remove(p);
  ctx.add_node(std::move(ln));
  return true;
}

}  // namespace

int fuse_layer_norm(PassContext& ctx) { return rewrite_each_node(ctx, fuse); }

}  // namespace infera
