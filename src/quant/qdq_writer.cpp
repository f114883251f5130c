// int8 and fp8: QuantizeLinear -> DequantizeLinear pairs on activations, quantized weights and int32 biases read
// through DequantizeLinear (the QDQ format ONNX Runtime's quantizer writes and its runtime fuses).
#include <algorithm>
#include <cmath>
#include <limits>

#include "ops/activation_node.h"
#include "ops/quantize.h"
#include "quant/formats.h"
#include "quant/weight_scales.h"
#include "quant/writers.h"

namespace infera {
namespace {

// Which nodes get pairs and on which inputs. A chain op is quantized only when its output feeds a quantized node,
// so that int8 runs from one weighted op to the next (int8 only: fp8 has no use for them).
struct QdqOp {
  std::string_view op;
  std::vector<int> data_inputs;  // empty: every input
  int weight = -1;               // an initializer here is stored quantized; any other value is a data input
  int bias = -1;                 // an initializer here is stored as int32 (int8 only)
  bool chain = false;
};

const QdqOp* find_qdq_op(const std::string& op) {
  static const std::vector<QdqOp> ops = {
      {"Conv", {0}, 1, 2},
      {"ConvTranspose", {0}, 1, 2},
      {"Gemm", {0}, 1, 2},
      {"MatMul", {0}, 1},
      {"Add", {0, 1}, -1, -1, true},
      {"Mul", {0, 1}, -1, -1, true},
      {"Concat", {}, -1, -1, true},
      {"MaxPool", {0}, -1, -1, true},
      {"AveragePool", {0}, -1, -1, true},
      {"GlobalAveragePool", {0}, -1, -1, true},
      {"GlobalMaxPool", {0}, -1, -1, true},
      {"Resize", {0}, -1, -1, true},
      {"Reshape", {0}, -1, -1, true},
      {"Flatten", {0}, -1, -1, true},
      {"Transpose", {0}, -1, -1, true},
      {"Squeeze", {0}, -1, -1, true},
      {"Unsqueeze", {0}, -1, -1, true},
  };
  for (const auto& r : ops)
    if (r.op == op) return &r;
  return nullptr;
}

bool is_fp8(QuantPrecision p) { return p == QuantPrecision::Fp8E4M3 || p == QuantPrecision::Fp8E5M2; }

DType quantized_type(const QuantizeOptions& o) {
  if (o.precision == QuantPrecision::Fp8E4M3) return DType::Float8E4M3FN;
  if (o.precision == QuantPrecision::Fp8E5M2) return DType::Float8E5M2;
  return o.symmetric_activations ? DType::Int8 : DType::UInt8;
}

double float8_max(DType t) {
  return t == DType::Float8E4M3FN ? double(float8_e4m3fn::max()) : double(float8_e5m2::max());
}

uint8_t float8_bits(DType t, float v) {
  return t == DType::Float8E4M3FN ? float8_e4m3fn::from_float(v) : float8_e5m2::from_float(v);
}

bool is_weight(const ModelEdit& e, int i, const QdqOp& rule) {
  const Node& n = e.node(i);
  return rule.weight >= 0 && size_t(rule.weight) < n.inputs.size() && e.initializer(n.inputs[size_t(rule.weight)]);
}

// Input indices of node i that get activation pairs.
std::vector<int> data_inputs(const ModelEdit& e, int i, const QdqOp& rule) {
  const Node& n = e.node(i);
  std::vector<int> result;
  auto add = [&](int j) {
    if (j < int(n.inputs.size()) && !n.inputs[size_t(j)].empty()) result.push_back(j);
  };
  if (rule.data_inputs.empty())
    for (int j = 0; j < int(n.inputs.size()); ++j) add(j);
  for (int j : rule.data_inputs) add(j);
  if (rule.weight >= 0 && !is_weight(e, i, rule)) add(rule.weight);
  return result;
}

bool eligible(const ModelEdit& e, int i, const QdqOp& rule) {
  const Node& n = e.node(i);
  if (!n.domain.empty()) return false;
  for (size_t k = 1; k < n.outputs.size(); ++k)
    if (!n.outputs[k].empty()) return false;  // MaxPool's indices
  const std::vector<int> inputs = data_inputs(e, i, rule);
  if (inputs.empty()) return false;
  for (int j : inputs) {
    const std::string& v = n.inputs[size_t(j)];
    if (e.dtype(v) != DType::Float32) return false;
    if (rule.chain && (e.initializer(v) || e.analysis.constants.count(v))) return false;
  }
  return !is_weight(e, i, rule) || e.initializer(n.inputs[size_t(rule.weight)])->dtype() == DType::Float32;
}

struct Selection {
  std::vector<int> nodes;  // in execution order
  std::vector<std::string> activations;
};

std::vector<int> execution_order(const ModelEdit& e) {
  std::vector<int> order;
  for (const NodeAnalysis& a : e.analysis.nodes) {
    const ptrdiff_t i = a.node - e.model.graph.nodes.data();
    if (i >= 0 && i < e.node_count()) order.push_back(int(i));
  }
  return order;
}

// The one Relu or Clip that reads value v, when nothing else does; -1 otherwise.
int sole_activation(const ModelEdit& e, const std::map<std::string, std::vector<std::pair<int, int>>>& consumers,
                    const std::string& v) {
  auto c = consumers.find(v);
  if (c == consumers.end() || c->second.size() != 1) return -1;
  const Node& n = e.node(c->second[0].first);
  return n.domain.empty() && (n.op_type == "Relu" || n.op_type == "Clip") && c->second[0].second == 0
             ? c->second[0].first
             : -1;
}

// Decides from the last node to the first, so that a chain op knows whether its output feeds a quantized node.
// An average pool whose output only a Relu or Clip reads counts through it, as ONNX Runtime's quantizer places the
// pair after the activation: the pool then runs as QLinear*Pool, whose requantization saturates as the activation
// clips (passes/fuse_qdq.cpp), and the convolution before it in int8. A residual Add followed by an activation is
// not quantized that way: it would put the residual stream itself on the 8-bit grid, which costs mobilenetv2-12
// 1.4 points of top-1 on the ImageNet sample (per-channel, MSE calibration) against 0.4 with those Adds in float.
Selection select(ModelEdit& e) {
  const std::vector<int> order = execution_order(e);
  const auto consumers = e.consumers();
  const bool fp8 = is_fp8(e.options.precision);
  std::vector<char> candidate(size_t(e.node_count()), 0), quantized(size_t(e.node_count()), 0);
  auto feeds_quantized = [&](const std::string& v) {
    auto c = consumers.find(v);
    if (c == consumers.end()) return false;
    for (auto [k, j] : c->second) {
      if (!quantized[size_t(k)]) continue;
      const auto inputs = data_inputs(e, k, *find_qdq_op(e.node(k).op_type));
      if (std::count(inputs.begin(), inputs.end(), j) > 0) return true;
    }
    return false;
  };
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    const int i = *it;
    const QdqOp* rule = find_qdq_op(e.node(i).op_type);
    if (!rule || (rule->chain && fp8) || !eligible(e, i, *rule)) continue;
    if (rule->chain) {
      const std::string& out = e.node(i).outputs[0];
      const bool pool = rule->op == "GlobalAveragePool" || rule->op == "AveragePool";
      const int act = pool ? sole_activation(e, consumers, out) : -1;
      if (!feeds_quantized(act >= 0 ? e.node(act).outputs[0] : out)) continue;
    }
    candidate[size_t(i)] = 1;
    quantized[size_t(i)] = !e.excluded(i);
  }
  Selection s;
  std::set<std::string> seen;
  for (int i : order) {
    if (!candidate[size_t(i)] || !e.claim(i)) continue;
    s.nodes.push_back(i);
    for (int j : data_inputs(e, i, *find_qdq_op(e.node(i).op_type))) {
      const std::string& v = e.node(i).inputs[size_t(j)];
      if (seen.insert(v).second) s.activations.push_back(v);
    }
  }
  return s;
}

// The scale and zero point of one activation.
struct ActivationQuant {
  float scale = 1;
  DType type = DType::UInt8;
  uint8_t zero_point = 0;  // the zero point's byte (int8 two's complement, 8-bit float bits)
};

ActivationQuant activation_quant(const std::string& name, const TensorRange& r, const QuantizeOptions& o) {
  if (!std::isfinite(r.min) || !std::isfinite(r.max))
    throw Error("tensor '" + name + "': calibrated range is not finite");
  const double lo = std::min(double(r.min), 0.0), hi = std::max(double(r.max), 0.0);
  const double absmax = std::max(-lo, hi);
  ActivationQuant q;
  q.type = quantized_type(o);
  if (dtype_is_float8(q.type)) {
    q.scale = absmax > 0 ? float(absmax / float8_max(q.type)) : 1.0f;
  } else if (q.type == DType::Int8) {
    q.scale = absmax > 0 ? float(absmax / 127) : 1.0f;
  } else {
    q.scale = hi > lo ? float((hi - lo) / 255) : 1.0f;
    q.zero_point = uint8_t(std::clamp(std::nearbyint(-lo / double(q.scale)), 0.0, 255.0));
  }
  return q;
}

// How a weight is split into channels for per-channel scales: the output-channel axis, -1 for one scale.
int channel_axis(const ModelEdit& e, int i, const Tensor& w, std::string* why_not) {
  if (!e.options.per_channel) return -1;
  const Node& n = e.node(i);
  if (n.op_type == "Conv") return w.rank() >= 1 ? 0 : -1;
  if (n.op_type == "ConvTranspose") {
    if (n.attr_int("group", 1) == 1 && w.rank() >= 2) return 1;
    *why_not = "grouped ConvTranspose: its output channels span the weight's axes 0 and 1";
    return -1;
  }
  if (n.op_type == "Gemm") return n.attr_int("transB", 0) ? 0 : 1;
  if (w.rank() == 2) return 1;  // MatMul [K, N]
  *why_not = "MatMul weight of rank " + std::to_string(w.rank());
  return -1;
}

struct QuantizedWeight {
  std::string dequantized;  // the DequantizeLinear output that replaces the weight
  std::vector<float> scales;
  int axis = -1;
};

class QdqWriter {
  // A pair inserted after the node computing its value.
  struct ActivationPair {
    std::string value;
    int producer;  // the node computing value
    size_t index;  // the QuantizeLinear's place in e_.insertions.after[producer]
    ActivationQuant q;
  };
 public:
  QdqWriter(ModelEdit& e, const std::map<std::string, TensorRange>& ranges) : e_(e), ranges_(ranges) {}

  void write() {
    const Selection s = select(e_);
    std::map<std::string, int> producer;
    for (int i = 0; i < e_.node_count(); ++i)
      for (const auto& o : e_.node(i).outputs) producer[o] = i;
    for (int i : s.nodes)
      if (e_.node(i).domain.empty() && moves_values_only(e_.node(i).op_type))  // as ONNX Runtime's quantizer does
        range_of_[e_.node(i).outputs[0]] = e_.node(i).inputs[0];
    for (const auto& v : s.activations) add_activation_pair(v, producer);
    for (int i : s.nodes) rewrite_node(i);
    std::set<std::string> reads;
    collect_reads(e_.proto.graph(), reads);
    for (const ActivationPair& pair : pairs_)
      if (!reads.count(pair.value)) drop_saturated_activation(pair);
    if (!e_.insertions.dropped.empty())
      e_.report.notes.push_back(std::to_string(e_.insertions.dropped.size()) +
                                " Relu/Clip left out: the QuantizeLinear after each saturates where it clips");
  }

 private:
  // The tensor whose calibrated range quantizes v.
  std::string range_source(std::string v) const {
    for (auto it = range_of_.find(v); it != range_of_.end(); it = range_of_.find(v)) v = it->second;
    return v;
  }

  void add_activation_pair(const std::string& v, const std::map<std::string, int>& producer) {
    auto r = ranges_.find(range_source(v));
    if (r == ranges_.end()) throw Error("no calibrated range for tensor '" + v + "'");
    const ActivationQuant q = activation_quant(v, r->second, e_.options);
    const std::string scale = e_.add_float_initializer(v + "_scale", {}, {q.scale});
    const std::string zero_point = e_.add_initializer(v + "_zero_point", int32_t(q.type), {}, &q.zero_point, 1);
    const std::string quantized = e_.names.fresh(v + "_quantized");
    const std::string dequantized = e_.names.fresh(v + "_dequantized");
    auto p = producer.find(v);
    auto& where = p == producer.end() ? e_.insertions.front : e_.insertions.after[p->second];
    if (p != producer.end()) pairs_.push_back({v, p->second, where.size(), q});
    where.push_back(e_.new_node("QuantizeLinear", {v, scale, zero_point}, {quantized}, v));
    where.push_back(e_.new_node("DequantizeLinear", {quantized, scale, zero_point}, {dequantized}, v));
    activations_[v] = {dequantized, q.scale};
  }

  // Relu or Clip before a pair whose QuantizeLinear saturates exactly where the activation clips (Q(lo) is the
  // type's minimum, Q(hi) its maximum) computes nothing the pair does not: when only the pair reads it (the caller
  // checks that nothing else, graph outputs and subgraphs included, does), the QuantizeLinear reads the activation's
  // input and the activation is left out, as ONNX Runtime's quantizer does with such activations. (ONNX Runtime 1.30 also fails to load some models that keep them: its Clip/Q fusion
  // leaves a dangling input behind at its default optimization level.)
  void drop_saturated_activation(const ActivationPair& pair) {
    const Node& act = e_.node(pair.producer);
    if (!act.domain.empty() || (act.op_type != "Relu" && act.op_type != "Clip") || dtype_is_float8(pair.q.type))
      return;
    auto constant = [&](size_t i) -> const Tensor* {
      auto c = e_.analysis.constants.find(act.inputs[i]);
      return c == e_.analysis.constants.end() ? nullptr : &c->second;
    };
    float lo = 0, hi = std::numeric_limits<float>::max();
    if (act.op_type == "Clip" && !clip_bounds(act, constant, lo, hi)) return;
    const bool u8 = pair.q.type == DType::UInt8;
    const int64_t zero_point = u8 ? int64_t(pair.q.zero_point) : int64_t(int8_t(pair.q.zero_point));
    if (!quantization_clips_at(lo, hi, pair.q.scale, zero_point, u8)) return;
    e_.insertions.after[pair.producer][pair.index].set_input(0, act.inputs[0]);
    e_.insertions.dropped.insert(pair.producer);
  }

  void rewrite_node(int i) {
    const Node& n = e_.node(i);
    const QdqOp& rule = *find_qdq_op(n.op_type);
    for (int j : data_inputs(e_, i, rule)) e_.node_proto(i).set_input(j, activations_.at(n.inputs[size_t(j)]).name);
    if (!is_weight(e_, i, rule)) return;
    const QuantizedWeight& w = weight(i, n.inputs[size_t(rule.weight)]);
    e_.node_proto(i).set_input(rule.weight, w.dequantized);
    if (rule.bias >= 0 && size_t(rule.bias) < n.inputs.size() && !is_fp8(e_.options.precision)) bias(i, rule.bias, w);
  }

  // Stored once per initializer and channel axis, shared by every node that reads it.
  const QuantizedWeight& weight(int i, const std::string& name) {
    const Tensor& w = *e_.initializer(name);
    std::string why_not;
    const int axis = channel_axis(e_, i, w, &why_not);
    if (!why_not.empty()) e_.report.notes.push_back(e_.node(i).name + ": one weight scale (" + why_not + ")");
    const std::string key = name + "#" + std::to_string(axis);
    auto cached = weights_.find(key);
    if (cached != weights_.end()) return cached->second;

    const DType type = is_fp8(e_.options.precision) ? quantized_type(e_.options) : DType::Int8;
    const bool fp8 = dtype_is_float8(type);
    const WeightScales ws = symmetric_weight_scales(w, axis, 0, fp8 ? float8_max(type) : 127.0);
    const float* pw = w.data<float>();
    std::vector<uint8_t> codes(static_cast<size_t>(w.numel()));
    for (size_t k = 0; k < codes.size(); ++k) {
      const float x = pw[k] / ws.scales[size_t(ws.group[k])];
      codes[k] = fp8 ? float8_bits(type, x) : uint8_t(quantize_round<int8_t>(x, 0));
    }
    const std::vector<uint8_t> zeros(ws.scales.size(), 0);
    const std::string q = e_.add_initializer(name + "_quantized", int32_t(type), w.shape(), codes.data(), codes.size());
    const std::string scale = e_.add_float_initializer(name + "_scale", ws.shape, ws.scales);
    const std::string zero_point =
        e_.add_initializer(name + "_zero_point", int32_t(type), ws.shape, zeros.data(), zeros.size());
    QuantizedWeight result{e_.names.fresh(name + "_dequantized"), ws.scales, axis};
    onnx::NodeProto dq = e_.new_node("DequantizeLinear", {q, scale, zero_point}, {result.dequantized}, name);
    if (axis >= 0) set_int_attribute(dq, "axis", axis);
    e_.insertions.front.push_back(std::move(dq));
    return weights_[key] = std::move(result);
  }

  // int32 with scale = input scale x weight scale and zero point 0, per output channel like the weight.
  void bias(int i, int input, const QuantizedWeight& w) {
    const Node& n = e_.node(i);
    const std::string& name = n.inputs[size_t(input)];
    const Tensor* b = name.empty() ? nullptr : e_.initializer(name);
    if (!b || b->dtype() != DType::Float32 || b->rank() != 1) return;
    if (n.op_type == "Gemm" && (n.attr_float("alpha", 1) != 1 || n.attr_float("beta", 1) != 1)) {
      e_.report.notes.push_back(n.name + ": bias kept fp32 (Gemm with alpha or beta other than 1)");
      return;
    }
    auto x = activations_.find(n.inputs[0]);
    if (x == activations_.end()) return;
    const size_t channels = size_t(b->numel());
    if (w.scales.size() != 1 && w.scales.size() != channels) return;
    std::vector<float> scales(channels);
    std::vector<int32_t> codes(channels);
    int clamped = 0;
    const float* pb = b->data<float>();
    for (size_t c = 0; c < channels; ++c) {
      scales[c] = x->second.scale * w.scales[w.scales.size() == 1 ? 0 : c];
      const double q = std::nearbyint(double(pb[c]) / double(scales[c]));
      const double limit = double(std::numeric_limits<int32_t>::max());
      clamped += std::fabs(q) > limit;
      codes[c] = int32_t(std::clamp(q, -limit, limit));
    }
    if (clamped)
      e_.report.notes.push_back(n.name + ": " + std::to_string(clamped) + " bias values clamped to the int32 range");
    const Shape scale_shape = w.scales.size() == 1 ? Shape{} : Shape{int64_t(channels)};
    const std::string q = e_.add_initializer(name + "_quantized", int32_t(DType::Int32), b->shape(), codes.data(),
                                             codes.size() * sizeof(int32_t));
    const std::string scale = e_.add_float_initializer(name + "_scale", scale_shape,
                                                       w.scales.size() == 1 ? std::vector<float>{scales[0]} : scales);
    const std::string dequantized = e_.names.fresh(name + "_dequantized");
    onnx::NodeProto dq = e_.new_node("DequantizeLinear", {q, scale}, {dequantized}, name);
    if (w.scales.size() != 1) set_int_attribute(dq, "axis", 0);
    e_.insertions.front.push_back(std::move(dq));
    e_.node_proto(i).set_input(input, dequantized);
  }

  struct Activation {
    std::string name;  // the DequantizeLinear output
    float scale = 1;
  };
  std::vector<ActivationPair> pairs_;
  ModelEdit& e_;
  const std::map<std::string, TensorRange>& ranges_;
  std::map<std::string, Activation> activations_;
  std::map<std::string, QuantizedWeight> weights_;
  std::map<std::string, std::string> range_of_;  // a value-moving op's output -> its input
};

}  // namespace

int64_t qdq_opset(const QuantizeOptions& options) {
  if (is_fp8(options.precision)) return 19;
  return options.per_channel ? 13 : 10;
}

std::vector<std::string> qdq_activations(ModelEdit& edit) { return select(edit).activations; }

void write_qdq(ModelEdit& edit, const std::map<std::string, TensorRange>& ranges) { QdqWriter(edit, ranges).write(); }

}  // namespace infera
