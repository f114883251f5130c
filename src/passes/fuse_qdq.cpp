// QDQ to integer operators. A QuantizeLinear whose input is computed from DequantizeLinear outputs becomes the
// integer operator that computes the same thing on the quantized bytes (ONNX Runtime's QDQ selectors are the model):
//   DQ(x) -> Conv(DQ(w), DQ(b)?) [-> Relu|Clip] -> Q      QLinearConv (bias requantized to int32 at x_scale*w_scale)
//   DQ(a) -> MatMul(DQ(b)) [-> Relu|Clip] -> Q             QLinearMatMul
//   DQ(a), DQ(b) -> Add [-> Relu|Clip] -> Q                 com.microsoft QLinearAdd
//   DQ(a) -> Gemm / MatMul(DQ(w), C?), no Q after it        infera.QuantizedGemm (float result)
//   DQ(x) -> Conv(DQ(w), B?), no Q after it                 infera.QuantizedConv (float result: a residual Add in
//                                                          float follows, which fuses into it as FusedConv's does)
//   DQ(x) -> GlobalAveragePool / AveragePool [-> Relu|Clip] -> Q
//                                                          com.microsoft QLinearGlobalAveragePool / QLinearAveragePool
//   DQ(x...) -> Concat -> Q                                com.microsoft QLinearConcat
//   DQ(x) -> MaxPool / Reshape / Flatten / Transpose / Squeeze / Unsqueeze -> Q, same scale and zero point:
//                                                          the op on the quantized bytes (it only moves values)
// Relu or Clip before the Q is absorbed only where Q's saturation already implements it (Q(lo) is the type's
// minimum and Q(hi) its maximum); otherwise the chain stays as it is. It runs before constant folding, which would
// otherwise turn dequantized weights into fp32 ones; scales, zero points and weights must be constants (initializers
// or values static analysis folded). Q and DQ nodes left behind carry an `unfused_reason` attribute saying why.
#include <algorithm>
#include <cfloat>
#include <cmath>

#include "ops/activation_node.h"
#include "ops/quantize.h"
#include "passes/passes.h"

namespace infera {
namespace {

const char* const kReason = "unfused_reason";

bool is_op(const Node& n, const char* op) { return n.domain.empty() && n.op_type == op; }

// The value `name` is a copy of, through Identity nodes (exporters write shared initializers that way).
std::string source(const PassContext& ctx, std::string name) {
  for (int p = ctx.producer(name); p >= 0 && is_op(ctx.node(size_t(p)), "Identity"); p = ctx.producer(name))
    name = ctx.node(size_t(p)).inputs[0];
  return name;
}

// A value known at compile time: an initializer, or folded by static analysis (Constant nodes, small sub-graphs).
const Tensor* known(const PassContext& ctx, std::string name) {
  if (name.empty()) return nullptr;
  name = source(ctx, name);
  if (const Tensor* t = ctx.constant(name)) return t;
  auto it = ctx.folded().find(name);
  return it == ctx.folded().end() ? nullptr : &it->second;
}

// A DequantizeLinear or QuantizeLinear node's quantization: names of its scale and zero point, their values, and
// the quantized type.
struct QuantParams {
  std::string scale, zero_point;  // zero_point "" when absent (0)
  const Tensor* scale_value = nullptr;
  const Tensor* zp_value = nullptr;
  DType type = DType::Undefined;
  int64_t axis = 1;
  bool per_tensor() const { return scale_value->numel() == 1; }
  float s() const { return float(scale_value->as_double(0)); }
  int64_t zp() const { return zp_value ? zp_value->as_int(0) : 0; }
  bool same_as(const QuantParams& o) const {
    return type == o.type && per_tensor() && o.per_tensor() && s() == o.s() && zp() == o.zp();
  }
};

// The parameters of Q/DQ node n, when they are known constants of an 8-bit integer type (else a reason).
bool quant_params(const PassContext& ctx, const Node& n, QuantParams& p, std::string& why) {
  if (n.inputs.size() < 2 || !(p.scale_value = known(ctx, n.inputs[1]))) return why = "scale is not a constant", false;
  p.scale = n.inputs[1];
  if (n.inputs.size() > 2 && !n.inputs[2].empty()) {
    if (!(p.zp_value = known(ctx, n.inputs[2]))) return why = "zero point is not a constant", false;
    p.zero_point = n.inputs[2];
  }
  if (n.has_attr("block_size") && n.attr_int("block_size", 0) != 0) return why = "blocked quantization", false;
  const TensorType* q = ctx.type(is_op(n, "QuantizeLinear") ? n.outputs[0] : n.inputs[0]);
  p.type = q ? q->dtype : DType::Undefined;
  if (p.type != DType::Int8 && p.type != DType::UInt8)
    return why = "type " + std::string(dtype_name(p.type)) + " has no integer kernels (int8 and uint8 only)", false;
  p.axis = n.attr_int("axis", 1);
  return true;
}

// A DequantizeLinear producing `value`, with its parameters; -1 with a reason otherwise.
int dequantize_of(const PassContext& ctx, const std::string& value, QuantParams& p, std::string& why) {
  const int d = ctx.producer(source(ctx, value));
  if (d < 0 || !is_op(ctx.node(size_t(d)), "DequantizeLinear"))
    return why = "input '" + value + "' does not come from a DequantizeLinear", -1;
  return quant_params(ctx, ctx.node(size_t(d)), p, why) ? d : -1;
}

// Relu or Clip whose effect the output quantization's saturation already has.
bool absorbed_by(const PassContext& ctx, const Node& act, const QuantParams& out) {
  float lo = 0, hi = FLT_MAX;
  if (!is_op(act, "Relu") && !clip_bounds(act, [&](size_t i) { return known(ctx, act.inputs[i]); }, lo, hi))
    return false;
  return quantization_clips_at(lo, hi, out.s(), out.zp(), out.type == DType::UInt8);
}

// The int32 bias of a QLinearConv: the real bias (a DequantizeLinear of a constant, or a float constant) at scale
// x_scale * w_scale[m]. A bias already stored at exactly that scale with zero point 0 is taken as it is.
bool integer_bias(const PassContext& ctx, const std::string& b, float x_scale, const Tensor& w_scale, int64_t m,
                  Tensor& out, std::string& why) {
  const int d = ctx.producer(source(ctx, b));
  const Node* dq = d >= 0 && is_op(ctx.node(size_t(d)), "DequantizeLinear") ? &ctx.node(size_t(d)) : nullptr;
  const Tensor* values = known(ctx, dq ? dq->inputs[0] : b);
  const Tensor* scale = dq && dq->inputs.size() > 1 ? known(ctx, dq->inputs[1]) : nullptr;
  const Tensor* zero = dq && dq->inputs.size() > 2 ? known(ctx, dq->inputs[2]) : nullptr;
  if (!values || values->numel() != m || (dq && !scale) || (!dq && !dtype_is_float(values->dtype())))
    return why = "bias is not a constant of one value per output channel", false;
  auto at = [](const Tensor& t, int64_t c) { return t.numel() == 1 ? 0 : c; };
  out = Tensor(DType::Int32, {m});
  int32_t* o = out.data<int32_t>();
  for (int64_t c = 0; c < m; ++c) {
    const float target = x_scale * float(w_scale.as_double(at(w_scale, c)));
    double real = values->as_double(c);
    if (dq) {
      const float s = float(scale->as_double(at(*scale, c)));
      const int64_t z = zero ? zero->as_int(at(*zero, c)) : 0;
      if (s == target && z == 0 && values->dtype() == DType::Int32) {
        o[c] = int32_t(values->as_int(c));
        continue;
      }
      real = double(values->as_int(c) - z) * double(s);
    }
    const double q = std::nearbyint(real / double(target));
    if (!(std::fabs(q) < 2147483647.0)) return why = "bias does not fit int32 at x_scale * w_scale", false;
    o[c] = int32_t(q);
  }
  return true;
}

// What the rewrite of one Q needs: the Q, the node computing its input (and an absorbed activation), the output
// quantization.
struct Match {
  size_t q = 0;
  int op = -1, act = -1;
  QuantParams out;
  std::string out_zp;  // the output zero point's name (one is made when Q had none: its type fixes the output's)
};

void replace(PassContext& ctx, const Match& m, Node n) {
  n.attrs.erase(kReason);
  n.outputs = {ctx.node(m.q).outputs[0]};
  ctx.remove(m.q);
  ctx.remove(size_t(m.op));
  if (m.act >= 0) ctx.remove(size_t(m.act));
  ctx.add_node(std::move(n));
}

// A Conv's quantized operands, as both its integer forms take them: X dequantized per tensor, W a constant
// dequantized per tensor or per output channel. The names and parameters to read them quantized.
struct ConvOperands {
  std::string x, w;  // the quantized values
  QuantParams xq, wq;
  const Tensor* weights = nullptr;
};

bool conv_operands(const PassContext& ctx, const Node& conv, ConvOperands& o, std::string& why) {
  const int xd = conv.inputs.size() < 2 ? -1 : dequantize_of(ctx, conv.inputs[0], o.xq, why);
  if (xd < 0) return false;
  const int wd = dequantize_of(ctx, conv.inputs[1], o.wq, why);
  if (wd < 0) return false;
  if (!o.xq.per_tensor()) return why = "Conv input is quantized per channel", false;
  o.x = ctx.node(size_t(xd)).inputs[0];
  o.w = source(ctx, ctx.node(size_t(wd)).inputs[0]);
  o.weights = known(ctx, o.w);
  if (!o.weights || o.weights->rank() < 3) return why = "Conv weights are not a constant", false;
  if (!o.wq.per_tensor() && (o.wq.axis != 0 || o.wq.scale_value->numel() != o.weights->dim(0)))
    return why = "Conv weights are quantized along an axis other than the output channels", false;
  return true;
}

bool fuse_conv(PassContext& ctx, const Match& m, std::string& why) {
  const Node& conv = ctx.node(size_t(m.op));
  ConvOperands o;
  if (!conv_operands(ctx, conv, o, why)) return false;
  Node n = make_node(conv.name, "QLinearConv", "",
                     {o.x, o.xq.scale, o.xq.zero_point, o.w, o.wq.scale, o.wq.zero_point, m.out.scale, m.out_zp}, {});
  n.attrs = conv.attrs;
  if (conv.inputs.size() > 2 && !conv.inputs[2].empty()) {
    Tensor bias;
    if (!integer_bias(ctx, conv.inputs[2], o.xq.s(), *o.wq.scale_value, o.weights->dim(0), bias, why)) return false;
    n.inputs.push_back(ctx.add_initializer(conv.name + "_bias_int32", bias));
  }
  replace(ctx, m, std::move(n));
  return true;
}

bool fuse_matmul(PassContext& ctx, const Match& m, std::string& why) {
  const Node& mm = ctx.node(size_t(m.op));
  QuantParams aq, bq;
  const int ad = dequantize_of(ctx, mm.inputs[0], aq, why);
  if (ad < 0) return false;
  const int bd = dequantize_of(ctx, mm.inputs[1], bq, why);
  if (bd < 0) return false;
  const TensorType* bt = ctx.type(mm.inputs[1]);
  if (!aq.per_tensor()) return why = "MatMul input A is quantized per row", false;
  if (!bq.per_tensor() && !(bt && bt->shape.size() == 2 && (bq.axis == 1 || bq.axis == -1)))
    return why = "MatMul input B is quantized along an axis other than its columns", false;
  Node n = make_node(mm.name, "QLinearMatMul", "",
                     {ctx.node(size_t(ad)).inputs[0], aq.scale, aq.zero_point, ctx.node(size_t(bd)).inputs[0], bq.scale,
                      bq.zero_point, m.out.scale, m.out_zp},
                     {});
  replace(ctx, m, std::move(n));
  return true;
}

// Add, Concat and the average pools: every data input dequantized per tensor, as com.microsoft's QLinear* ops take.
bool fuse_elementwise(PassContext& ctx, const Match& m, std::string& why) {
  const Node& op = ctx.node(size_t(m.op));
  std::vector<std::string> quantized;  // per input: x, scale, zero point
  for (const std::string& in : op.inputs) {
    QuantParams q;
    const int d = dequantize_of(ctx, in, q, why);
    if (d < 0) return false;
    if (!q.per_tensor() || q.type != m.out.type)
      return why = "input '" + in + "' is quantized per channel or to another type than the output", false;
    quantized.insert(quantized.end(), {ctx.node(size_t(d)).inputs[0], q.scale, q.zero_point});
  }
  Node n = make_node(op.name, "QLinear" + op.op_type, "com.microsoft", {}, {});
  if (op.op_type == "Concat") {
    n.inputs = {m.out.scale, m.out_zp};
    n.inputs.insert(n.inputs.end(), quantized.begin(), quantized.end());
  } else {
    n.inputs = quantized;
    n.inputs.insert(n.inputs.end(), {m.out.scale, m.out_zp});
  }
  n.attrs = op.attrs;
  ctx.model().opsets.emplace("com.microsoft", 1);
  replace(ctx, m, std::move(n));
  return true;
}

// Ops that only move or select values: they run on the quantized bytes when input and output share one quantization.
bool fuse_data_movement(PassContext& ctx, const Match& m, std::string& why) {
  const Node& op = ctx.node(size_t(m.op));
  QuantParams q;
  const int d = dequantize_of(ctx, op.inputs[0], q, why);
  if (d < 0) return false;
  if (!q.same_as(m.out)) return why = op.op_type + "'s input and output quantizations differ", false;
  if (op.outputs.size() > 1 && !op.outputs[1].empty()) return why = "MaxPool's Indices output is used", false;
  Node n = op;
  n.inputs[0] = ctx.node(size_t(d)).inputs[0];
  n.outputs.resize(1);
  replace(ctx, m, std::move(n));
  return true;
}

using Fuser = bool (*)(PassContext&, const Match&, std::string&);

Fuser fuser_for(const Node& op) {
  if (!op.domain.empty()) return nullptr;
  const std::string& t = op.op_type;
  if (t == "Conv") return fuse_conv;
  if (t == "MatMul") return fuse_matmul;
  if (t == "Add" || t == "Concat" || t == "GlobalAveragePool" || t == "AveragePool") return fuse_elementwise;
  if (moves_values_only(t)) return fuse_data_movement;
  return nullptr;
}

// Activations may sit between the op and the Q where the op's integer form ends in a requantization, whose
// saturation then applies them.
bool takes_activation(const Node& op) {
  const std::string& t = op.op_type;
  return op.domain.empty() &&
         (t == "Conv" || t == "MatMul" || t == "Add" || t == "GlobalAveragePool" || t == "AveragePool");
}

bool fuse_quantize(PassContext& ctx, size_t i) {
  Node& q = ctx.node(i);
  if (!is_op(q, "QuantizeLinear") || q.outputs.empty()) return false;
  std::string why;
  Match m;
  m.q = i;
  auto give_up = [&] {
    q.attrs[kReason] = string_attribute(why);
    return false;
  };
  if (!quant_params(ctx, q, m.out, why)) return give_up();
  if (!m.out.per_tensor()) return why = "output is quantized per channel", give_up();
  const std::string input = q.inputs[0];
  m.op = ctx.producer(input);
  if (m.op < 0) {
    const auto& inputs = ctx.model().graph.inputs;
    const bool graph_input =
        std::any_of(inputs.begin(), inputs.end(), [&](const ValueInfo& v) { return v.name == input; });
    why = graph_input ? "quantizes the graph input '" + input + "' (a step of its own)" : "quantizes a constant";
    return give_up();
  }
  if (!ctx.single_use(input)) return why = "its input '" + input + "' is also read elsewhere", give_up();
  const Node* op = &ctx.node(size_t(m.op));
  if (is_op(*op, "Relu") || is_op(*op, "Clip")) {
    const int inner = ctx.producer(op->inputs[0]);
    if (inner < 0 || !ctx.single_use(op->inputs[0]) || !takes_activation(ctx.node(size_t(inner))))
      return why = "quantizes a " + op->op_type + " that follows no integer-capable op", give_up();
    if (!absorbed_by(ctx, *op, m.out))
      return why = op->op_type + " is not absorbed by the output's saturation (zero point / range)", give_up();
    m.act = m.op;
    m.op = inner;
    op = &ctx.node(size_t(m.op));
  }
  const Fuser fuse = fuser_for(*op);
  if (!fuse) return why = "its input comes from " + op->op_type + ", which has no integer form here", give_up();
  m.out_zp = m.out.zero_point;
  if (m.out_zp.empty()) m.out_zp = ctx.add_initializer(q.name + "_zero_point", Tensor(DType::UInt8, {}));
  if (!fuse(ctx, m, why)) return give_up();
  return true;
}

// DQ(a) -> Gemm / MatMul(DQ(w), C?) whose result stays float (no QuantizeLinear took it above): infera.QuantizedGemm
// (ops/fused_quant.cpp), an integer product dequantized in its epilogue. A is 2-D and quantized per tensor, the
// weights a 2-D constant quantized per tensor or per output column, C a float constant with one value per column.
bool fuse_float_gemm(PassContext& ctx, size_t i) {
  const Node& op = ctx.node(i);
  const bool gemm = is_op(op, "Gemm");
  if (!(gemm || is_op(op, "MatMul")) || op.inputs.size() < 2) return false;
  if (gemm && (op.attr_int("transA", 0) != 0 || op.attr_float("alpha", 1) != 1 || op.attr_float("beta", 1) != 1))
    return false;
  std::string why;
  QuantParams aq, bq;
  const int ad = dequantize_of(ctx, op.inputs[0], aq, why);
  const int bd = ad < 0 ? -1 : dequantize_of(ctx, op.inputs[1], bq, why);
  if (bd < 0 || !aq.per_tensor()) return false;
  const std::string w = source(ctx, ctx.node(size_t(bd)).inputs[0]);
  const Tensor* wv = known(ctx, w);
  const TensorType* at = ctx.type(op.inputs[0]);
  if (!wv || wv->rank() != 2 || !at || at->shape.size() != 2) return false;
  const bool trans_b = gemm && op.attr_int("transB", 0) != 0;
  const int64_t columns_axis = trans_b ? 0 : 1;
  if (!bq.per_tensor() && (bq.axis < 0 ? bq.axis + 2 : bq.axis) != columns_axis) return false;
  const std::string c = op.inputs.size() > 2 ? op.inputs[2] : "";
  const Tensor* cv = known(ctx, c);
  if (!c.empty() && !(cv && dtype_is_float(cv->dtype()) && cv->numel() == wv->dim(trans_b ? 0 : 1))) return false;
  Node n = make_node(op.name, "QuantizedGemm", "infera",
                     {ctx.node(size_t(ad)).inputs[0], aq.scale, aq.zero_point, w, bq.scale, bq.zero_point}, op.outputs);
  if (!c.empty()) n.inputs.push_back(c);
  n.attrs["transB"] = int_attribute(trans_b ? 1 : 0);
  n.attrs["axis"] = int_attribute(columns_axis);
  ctx.remove(i);
  ctx.add_node(std::move(n));
  return true;
}

// DQ(x) -> Conv(DQ(w), B?) whose result stays float (no QuantizeLinear took it above): infera.QuantizedConv
// (ops/fused_quant.cpp), an integer convolution dequantized in its epilogue. X is quantized per tensor, the weights
// a constant quantized per tensor or per output channel; the bias stays the float value it was (a DequantizeLinear
// of a constant folds into one).
bool fuse_float_conv(PassContext& ctx, size_t i) {
  const Node& conv = ctx.node(i);
  if (!is_op(conv, "Conv")) return false;
  std::string why;
  ConvOperands o;
  if (!conv_operands(ctx, conv, o, why)) return false;
  const TensorType* bt = conv.inputs.size() > 2 && !conv.inputs[2].empty() ? ctx.type(conv.inputs[2]) : nullptr;
  if (bt && bt->dtype != DType::Float32) return false;
  Node n = make_node(conv.name, "QuantizedConv", "infera",
                     {o.x, o.xq.scale, o.xq.zero_point, o.w, o.wq.scale, o.wq.zero_point}, conv.outputs);
  if (bt) n.inputs.push_back(conv.inputs[2]);
  n.attrs = conv.attrs;
  ctx.remove(i);
  ctx.add_node(std::move(n));
  return true;
}

// DequantizeLinear nodes still read after the rewrites: say which consumer keeps each one.
void explain_dequantize(PassContext& ctx) {
  for (size_t i = 0; i < ctx.size(); ++i) {
    Node& dq = ctx.node(i);
    // Dequantized constants (weights) fold into float ones, as a float consumer wants them.
    if (!is_op(dq, "DequantizeLinear") || dq.outputs.empty() || known(ctx, dq.inputs[0])) continue;
    const std::vector<size_t> readers = ctx.consumers(dq.outputs[0]);
    const auto& outputs = ctx.model().graph.outputs;
    const bool graph_output = std::any_of(outputs.begin(), outputs.end(),
                                          [&](const ValueInfo& o) { return o.name == dq.outputs[0]; });
    std::string why;
    if (!readers.empty()) {
      const Node& r = ctx.node(readers[0]);
      why = "feeds " + r.op_type + " '" + r.name + "'";
      if (readers.size() > 1) why += " and " + std::to_string(readers.size() - 1) + " more";
      why += ", which runs in float";
    } else if (graph_output) {
      why = "its output is a graph output, in float";
    } else {
      continue;
    }
    dq.attrs[kReason] = string_attribute(why);
  }
}

}  // namespace

int fuse_qdq(PassContext& ctx) {
  int count = rewrite_each_node(ctx, fuse_quantize);
  if (count > 0) ctx.commit();
  for (auto rewrite : {fuse_float_gemm, fuse_float_conv}) {
    const int floats = rewrite_each_node(ctx, rewrite);
    if (floats > 0) ctx.commit();
    count += floats;
  }
  explain_dequantize(ctx);
  return count;
}

}  // namespace infera
