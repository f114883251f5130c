// Multi-head attention fusion for BERT/GPT-style PyTorch exports:
//   Qh = Transpose(Reshape(Q, [B, Sq, h, d]), [0, 2, 1, 3])        (likewise Vh from V)
//   Kt = Transpose(Reshape(K, [B, Sk, h, d]), [0, 2, 3, 1])
//   P  = Softmax(MatMul(Qh, Kt) [/ c or * c] [+ mask], last axis)   (or the scale applied to Qh)
//   Y  = Reshape(Transpose(MatMul(P, Vh), [0, 2, 1, 3]), [B, Sq, h * dv])
// becomes infera.Attention(Q, K, V, mask) with num_heads h and the matched scale. Every intermediate must be read
// only inside the pattern; the projections producing Q, K and V stay (usually FusedMatMul by now).
#include "passes/passes.h"

namespace infera {
namespace {

struct Match {
  std::vector<size_t> nodes;
  double scale = 1;
};

bool perm_is(const Node& n, std::vector<int64_t> perm) { return n.attr_ints("perm") == perm; }

// Reshape(x, [B, S, h, d]) -> Transpose(perm) ending in `value`: x, its 4-D split shape, or "".
std::string split_heads(const PassContext& ctx, const std::string& value, const std::vector<int64_t>& perm,
                        Shape& split, Match& m) {
  const int t = ctx.fusable_producer(value, "Transpose");
  if (t < 0 || !perm_is(ctx.node(size_t(t)), perm)) return "";
  const int r = ctx.fusable_producer(ctx.node(size_t(t)).inputs[0], "Reshape");
  if (r < 0) return "";
  const std::string x = ctx.node(size_t(r)).inputs[0];
  const TensorType *in = ctx.type(x), *out = ctx.type(ctx.node(size_t(r)).outputs[0]);
  if (!in || !out || in->shape.size() != 3 || out->shape.size() != 4 || out->shape[0] != in->shape[0] ||
      out->shape[1] != in->shape[1] || out->shape[2] * out->shape[3] != in->shape[2])
    return "";
  split = out->shape;
  m.nodes.insert(m.nodes.end(), {size_t(t), size_t(r)});
  return x;
}

// The Div or Mul by a scalar constant producing `value` (single-use): its index, and the factor it applies.
int scaling(const PassContext& ctx, const std::string& value, double& factor) {
  for (const char* op : {"Div", "Mul"}) {
    const int p = ctx.fusable_producer(value, op);
    if (p < 0) continue;
    const Node& n = ctx.node(size_t(p));
    float c = 0;
    if (!ctx.scalar_constant(n.inputs[1], c) || c == 0) continue;
    factor = std::string(op) == "Div" ? 1.0 / double(c) : double(c);
    return p;
  }
  return -1;
}

bool mask_fits(const TensorType& mask, DType dtype, const Shape& scores) {
  if (mask.dtype != dtype || mask.shape.size() > scores.size()) return false;
  for (size_t i = 0; i < mask.shape.size(); ++i) {
    const int64_t m = mask.shape[mask.shape.size() - 1 - i], s = scores[scores.size() - 1 - i];
    if (m != 1 && m != s) return false;
  }
  return true;
}

bool fuse(PassContext& ctx, size_t softmax_index) {
  const Node& softmax = ctx.node(softmax_index);
  if (softmax.op_type != "Softmax" || !softmax.domain.empty()) return false;
  const TensorType* scores = ctx.type(softmax.inputs[0]);
  if (!scores || scores->shape.size() != 4 || !dtype_is_float(scores->dtype)) return false;
  const int64_t axis = softmax.attr_int("axis", softmax.opset < 13 ? 1 : -1);
  if (axis != -1 && axis != 3) return false;
  Match m;
  m.nodes.push_back(softmax_index);

  std::string s = softmax.inputs[0], mask;
  const int add = ctx.fusable_producer(s, "Add");
  if (add >= 0) {
    const Node& a = ctx.node(size_t(add));
    for (size_t k = 0; k < 2 && mask.empty(); ++k) {
      const int p = ctx.producer(a.inputs[k]);
      const std::string op = p < 0 ? "" : ctx.node(size_t(p)).op_type;
      if (op == "MatMul" || op == "Div" || op == "Mul") {
        s = a.inputs[k];
        mask = a.inputs[1 - k];
      }
    }
    const TensorType* mt = mask.empty() ? nullptr : ctx.type(mask);
    if (!mt || !mask_fits(*mt, scores->dtype, scores->shape)) return false;
    m.nodes.push_back(size_t(add));
  }
  const int scale = scaling(ctx, s, m.scale);
  if (scale >= 0) {
    m.nodes.push_back(size_t(scale));
    s = ctx.node(size_t(scale)).inputs[0];
  }
  const int qk = ctx.fusable_producer(s, "MatMul");
  if (qk < 0) return false;
  m.nodes.push_back(size_t(qk));
  std::string qh = ctx.node(size_t(qk)).inputs[0];
  if (scale < 0) {  // the scale may be applied to Qh instead
    const int q_scale = scaling(ctx, qh, m.scale);
    if (q_scale >= 0) {
      m.nodes.push_back(size_t(q_scale));
      qh = ctx.node(size_t(q_scale)).inputs[0];
    }
  }
  Shape q_split, k_split, v_split;
  const std::string q = split_heads(ctx, qh, {0, 2, 1, 3}, q_split, m);
  const std::string k = split_heads(ctx, ctx.node(size_t(qk)).inputs[1], {0, 2, 3, 1}, k_split, m);
  if (q.empty() || k.empty()) return false;

  const int pv = ctx.sole_consumer(softmax.outputs[0], "MatMul");
  if (pv < 0 || ctx.node(size_t(pv)).inputs[0] != softmax.outputs[0]) return false;
  m.nodes.push_back(size_t(pv));
  const std::string v = split_heads(ctx, ctx.node(size_t(pv)).inputs[1], {0, 2, 1, 3}, v_split, m);
  if (v.empty()) return false;
  const int merge_t = ctx.sole_consumer(ctx.node(size_t(pv)).outputs[0], "Transpose");
  if (merge_t < 0 || !perm_is(ctx.node(size_t(merge_t)), {0, 2, 1, 3})) return false;
  const int merge_r = ctx.sole_consumer(ctx.node(size_t(merge_t)).outputs[0], "Reshape");
  if (merge_r < 0) return false;
  m.nodes.insert(m.nodes.end(), {size_t(merge_t), size_t(merge_r)});
  const std::string y = ctx.node(size_t(merge_r)).outputs[0];
  const TensorType* yt = ctx.type(y);

  const int64_t heads = q_split[2];
  if (k_split[2] != heads || v_split[2] != heads || k_split[3] != q_split[3] || k_split[1] != v_split[1] ||
      k_split[0] != q_split[0] || v_split[0] != q_split[0] || !yt ||
      yt->shape != Shape{q_split[0], q_split[1], heads * v_split[3]})
    return false;

  Node attention = make_node(softmax.name + "_attention", "Attention", "infera", {q, k, v}, {y});
  if (!mask.empty()) attention.inputs.push_back(mask);
  attention.attrs["num_heads"] = int_attribute(heads);
  attention.attrs["scale"] = float_attribute(float(m.scale));
  for (size_t n : m.nodes) ctx.remove(n);
  ctx.add_node(std::move(attention));
  return true;
}

}  // namespace

int fuse_attention(PassContext& ctx) { return rewrite_each_node(ctx, fuse); }

}  // namespace infera
