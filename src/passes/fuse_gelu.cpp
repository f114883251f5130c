// GELU recognition: the erf form x * 0.5 * (1 + Erf(x / sqrt 2)) and the tanh approximation
// x * 0.5 * (1 + Tanh(sqrt(2/pi) * (x + 0.044715 * x^3))), as PyTorch exports them (Div by sqrt 2 or Mul by
// 1/sqrt 2; the 0.5 applied to x, to (1 + ...), or to the product), become ai.onnx Gelu (approximate "none" or
// "tanh"). The activation fusion then folds a Gelu that follows a MatMul or Gemm into it.
#include <cmath>

#include "passes/passes.h"

namespace infera {
namespace {

bool near(float v, double want) { return std::fabs(double(v) - want) <= 1e-4 * std::fabs(want); }

// Binary node n has `value` as one operand and a scalar constant as the other: the constant.
bool scalar_operand(const PassContext& ctx, const Node& n, const std::string& value, float& c, bool commutative = true) {
  if (n.inputs.size() != 2) return false;
  if (n.inputs[0] == value) return ctx.scalar_constant(n.inputs[1], c);
  return commutative && n.inputs[1] == value && ctx.scalar_constant(n.inputs[0], c);
}

bool is_op(const Node& n, const char* op) { return n.op_type == op && n.domain.empty(); }

// The single-use reader of `value` when it is `op` with a scalar constant near `want` as its other operand.
int scalar_step(const PassContext& ctx, const std::string& value, const char* op, double want) {
  const int r = ctx.sole_consumer(value, op);
  float c = 0;
  if (r < 0 || !scalar_operand(ctx, ctx.node(size_t(r)), value, c, std::string(op) != "Div" && std::string(op) != "Sub") ||
      !near(c, want))
    return -1;
  return r;
}

// From `inner` = the Erf or Tanh output: 1 + inner, times x, times 0.5 in any of the three orders. Appends the nodes
// to `pattern`; returns the final output or "".
std::string match_tail(const PassContext& ctx, const std::string& x, const std::string& inner,
                       std::vector<size_t>& pattern) {
  const int add = scalar_step(ctx, inner, "Add", 1.0);
  if (add < 0) return "";
  pattern.push_back(size_t(add));
  const std::string a = ctx.node(size_t(add)).outputs[0];
  const int mul = ctx.sole_consumer(a, "Mul");
  if (mul < 0) return "";
  pattern.push_back(size_t(mul));
  const Node& m = ctx.node(size_t(mul));
  const std::string other = m.inputs[0] == a ? m.inputs[1] : m.inputs[0];
  float c = 0;
  if (other == x) {  // (x * (1 + inner)) * 0.5
    const int half = scalar_step(ctx, m.outputs[0], "Mul", 0.5);
    if (half < 0) return "";
    pattern.push_back(size_t(half));
    return ctx.node(size_t(half)).outputs[0];
  }
  const int h = ctx.fusable_producer(other, "Mul");
  if (h >= 0 && scalar_operand(ctx, ctx.node(size_t(h)), x, c) && near(c, 0.5)) {  // (x * 0.5) * (1 + inner)
    pattern.push_back(size_t(h));
    return m.outputs[0];
  }
  if (ctx.scalar_constant(other, c) && near(c, 0.5)) {  // x * ((1 + inner) * 0.5)
    const int last = ctx.sole_consumer(m.outputs[0], "Mul");
    if (last < 0) return "";
    const Node& l = ctx.node(size_t(last));
    if (!((l.inputs[0] == x) ^ (l.inputs[1] == x))) return "";
    pattern.push_back(size_t(last));
    return l.outputs[0];
  }
  return "";
}

// Erf(x / sqrt 2) or Erf(x * (1 / sqrt 2)): x, or "".
std::string erf_argument(const PassContext& ctx, const Node& erf) {
  for (const char* op : {"Div", "Mul"}) {
    const int p = ctx.fusable_producer(erf.inputs[0], op);
    if (p < 0) continue;
    const Node& n = ctx.node(size_t(p));
    float c = 0;
    const bool div = std::string(op) == "Div";
    if (scalar_operand(ctx, n, n.inputs[0], c, false) && near(c, div ? std::sqrt(2.0) : std::sqrt(0.5)))
      return n.inputs[0];
    if (!div && ctx.scalar_constant(n.inputs[0], c) && near(c, std::sqrt(0.5))) return n.inputs[1];
  }
  return "";
}

// `value` = x^3, as Pow(x, 3) or x * (x * x) (PyTorch 1.13): the nodes, in `nodes`.
bool is_cube(const PassContext& ctx, const std::string& value, const std::string& x, std::vector<size_t>& nodes) {
  float exponent = 0;
  const int pow = ctx.fusable_producer(value, "Pow");
  if (pow >= 0 && ctx.node(size_t(pow)).inputs[0] == x &&
      ctx.scalar_constant(ctx.node(size_t(pow)).inputs[1], exponent) && exponent == 3.0f) {
    nodes = {size_t(pow)};
    return true;
  }
  const int outer = ctx.fusable_producer(value, "Mul");
  if (outer < 0) return false;
  const Node& o = ctx.node(size_t(outer));
  for (int k = 0; k < 2; ++k) {
    const int square = ctx.fusable_producer(o.inputs[size_t(1 - k)], "Mul");
    if (o.inputs[size_t(k)] != x || square < 0) continue;
    const Node& sq = ctx.node(size_t(square));
    if (sq.inputs[0] == x && sq.inputs[1] == x) {
      nodes = {size_t(outer), size_t(square)};
      return true;
    }
  }
  return false;
}

// Tanh(sqrt(2/pi) * (x + 0.044715 * Pow(x, 3))): x, or "". Appends the inner nodes to `pattern`.
std::string tanh_argument(const PassContext& ctx, const Node& tanh, std::vector<size_t>& pattern) {
  const int scale = ctx.fusable_producer(tanh.inputs[0], "Mul");
  if (scale < 0) return "";
  const Node& s = ctx.node(size_t(scale));
  float c = 0;
  std::string sum;
  for (int k = 0; k < 2; ++k)
    if (ctx.scalar_constant(s.inputs[size_t(1 - k)], c) && near(c, std::sqrt(2.0 / M_PI))) sum = s.inputs[size_t(k)];
  const int add = sum.empty() ? -1 : ctx.fusable_producer(sum, "Add");
  if (add < 0) return "";
  const Node& a = ctx.node(size_t(add));
  for (int k = 0; k < 2; ++k) {
    const std::string x = a.inputs[size_t(k)];
    const int cube_scale = ctx.fusable_producer(a.inputs[size_t(1 - k)], "Mul");
    if (cube_scale < 0) continue;
    const Node& cs = ctx.node(size_t(cube_scale));
    for (int j = 0; j < 2; ++j) {
      std::vector<size_t> cube;
      if (!ctx.scalar_constant(cs.inputs[size_t(1 - j)], c) || !near(c, 0.044715) ||
          !is_cube(ctx, cs.inputs[size_t(j)], x, cube))
        continue;
      pattern.insert(pattern.end(), {size_t(scale), size_t(add), size_t(cube_scale)});
      pattern.insert(pattern.end(), cube.begin(), cube.end());
      return x;
    }
  }
  return "";
}

bool fuse(PassContext& ctx, size_t i) {
  const Node& n = ctx.node(i);
  const bool erf = is_op(n, "Erf");
  if (!erf && !is_op(n, "Tanh")) return false;
  std::vector<size_t> pattern = {i};
  std::string x;
  if (erf) {
    x = erf_argument(ctx, n);
    if (!x.empty()) pattern.push_back(size_t(ctx.producer(n.inputs[0])));
  } else {
    x = tanh_argument(ctx, n, pattern);
  }
  if (x.empty()) return false;
  const TensorType* t = ctx.type(x);
  if (!t || !dtype_is_float(t->dtype)) return false;
  const std::string y = match_tail(ctx, x, n.outputs[0], pattern);
  if (y.empty()) return false;
  Node gelu = make_node(n.name + "_gelu", "Gelu", "", {x}, {y});
  if (!erf) gelu.attrs["approximate"] = string_attribute("tanh");
  for (size_t p : pattern) ctx.remove(p);
  ctx.add_node(std::move(gelu));
  return true;
}

}  // namespace

int fuse_gelu(PassContext& ctx) { return rewrite_each_node(ctx, fuse); }

}  // namespace infera
