// fp16 and bf16: float initializers converted, nodes run in the lower precision, Cast nodes where fp32 values enter
// and leave that region. A converted node's float outputs get new names; the original name, where an fp32 reader,
// a subgraph or a graph output still needs it, is produced by a Cast back to fp32, so graph inputs, outputs and
// value infos keep their fp32 types.
#include <algorithm>
#include <cstring>

#include "quant/writers.h"

namespace infera {
namespace {

// Ops that stay fp32: they make floats from other types (Cast, random generators), compute shapes or indices from
// floats (Range, TopK, NonMaxSuppression, RoiAlign), accumulate where half precision overflows (CumSum), read fp32
// scales (Resize, Upsample: as onnxconverter-common's float16 converter does), or hold subgraphs.
bool stays_fp32(const std::string& op) {
  static const std::set<std::string> ops = {
      "Cast", "CastLike", "ConstantOfShape", "EyeLike", "RandomNormal", "RandomUniform", "RandomNormalLike",
      "RandomUniformLike", "Multinomial", "Bernoulli", "Range", "TopK", "NonMaxSuppression", "RoiAlign", "CumSum",
      "Resize", "Upsample", "If", "Loop", "Scan", "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear"};
  return ops.count(op) != 0;
}

// Ops that read any element type without computing on it: they read the converted value instead of a Cast back.
bool reads_any_type(const std::string& op) { return op == "Shape" || op == "Size"; }

// The first opset whose type constraints accept bfloat16 for each op that converts under bf16 (ONNX Operators.md);
// ops not listed stay fp32.
int64_t bfloat16_since(const std::string& op) {
  static const std::map<std::string, int64_t> since = {
      {"Add", 13}, {"Sub", 13}, {"Mul", 13}, {"Div", 13}, {"MatMul", 13}, {"Gemm", 13}, {"Sigmoid", 13},
      {"Tanh", 13}, {"Exp", 13}, {"Log", 13}, {"Sqrt", 13}, {"Reciprocal", 13}, {"Neg", 13}, {"Abs", 13},
      {"Erf", 13}, {"Pow", 13}, {"Softmax", 13}, {"LogSoftmax", 13}, {"Reshape", 13}, {"Transpose", 13},
      {"Concat", 13}, {"Gather", 13}, {"Squeeze", 13}, {"Unsqueeze", 13}, {"Flatten", 13}, {"Split", 13},
      {"Slice", 13}, {"Expand", 13}, {"Tile", 13}, {"Identity", 13}, {"Max", 13}, {"Min", 13}, {"Sum", 13},
      {"Mean", 13}, {"ReduceMean", 13}, {"ReduceSum", 13}, {"ReduceMax", 13}, {"ReduceMin", 13}, {"Clip", 13},
      {"Pad", 13}, {"Constant", 13}, {"Equal", 13}, {"Less", 13}, {"Greater", 13}, {"Dropout", 13},
      {"Relu", 14}, {"BatchNormalization", 15}, {"LeakyRelu", 16}, {"PRelu", 16}, {"Where", 16},
      {"LayerNormalization", 17}, {"Gelu", 20}, {"Conv", 22}, {"ConvTranspose", 22}, {"AveragePool", 22},
      {"MaxPool", 22}, {"GlobalAveragePool", 22}, {"GlobalMaxPool", 22}, {"InstanceNormalization", 22},
      {"Elu", 22}, {"Selu", 22}, {"HardSigmoid", 22}, {"HardSwish", 22}, {"Softplus", 22}, {"Mish", 22}};
  auto it = since.find(op);
  return it == since.end() ? INT64_MAX : it->second;
}

// Inputs that stay fp32 on a converted node.
bool keeps_fp32_input(const std::string& op, int input) { return op == "Dropout" && input == 1; }

bool has_subgraph(const onnx::NodeProto& n) {
  return std::any_of(n.attribute().begin(), n.attribute().end(),
                     [](const onnx::AttributeProto& a) { return a.has_g() || a.graphs_size() > 0; });
}

std::vector<float> float_values(const onnx::TensorProto& t) {
  if (t.has_raw_data()) {
    std::vector<float> v(t.raw_data().size() / sizeof(float));
    std::memcpy(v.data(), t.raw_data().data(), v.size() * sizeof(float));
    return v;
  }
  return {t.float_data().begin(), t.float_data().end()};
}

class CastWriter {
 public:
  explicit CastWriter(ModelEdit& e)
      : e_(e),
        low_(e.options.precision == QuantPrecision::Bf16 ? DType::BFloat16 : DType::Float16),
        suffix_(low_ == DType::BFloat16 ? "_bf16" : "_fp16") {}

  void write() {
    const onnx::GraphProto& g = e_.proto.graph();
    for (const auto& n : g.node())
      for (const auto& a : n.attribute()) {
        if (a.has_g()) collect_reads(a.g(), subgraph_reads_);
        for (const auto& sub : a.graphs()) collect_reads(sub, subgraph_reads_);
      }
    std::vector<char> low(size_t(e_.node_count()), 0);
    for (int i = 0; i < e_.node_count(); ++i) {
      low[size_t(i)] = converts(i) && e_.claim(i);
    }
    // Which float values are read in fp32 and which in the low precision.
    std::set<std::string> read_fp32, read_low;
    for (int i = 0; i < e_.node_count(); ++i) {
      const Node& n = e_.node(i);
      for (int j = 0; j < int(n.inputs.size()); ++j) {
        const std::string& v = n.inputs[size_t(j)];
        if (v.empty() || e_.dtype(v) != DType::Float32) continue;
        const bool reads_low = low[size_t(i)] && !keeps_fp32_input(n.op_type, j);
        if (!reads_low && !reads_any_type(n.op_type)) read_fp32.insert(v);
        if (reads_low) read_low.insert(v);
      }
    }
    for (const auto& o : e_.model.graph.outputs) read_fp32.insert(o.name);
    read_fp32.insert(subgraph_reads_.begin(), subgraph_reads_.end());

    for (int i = 0; i < e_.node_count(); ++i)
      if (low[size_t(i)]) convert_outputs(i, read_fp32);
    for (const auto& v : read_low)
      if (!low_names_.count(v)) cast_to_low(v);
    for (int i = 0; i < e_.node_count(); ++i) {
      const Node& n = e_.node(i);
      if (!low[size_t(i)] && !reads_any_type(n.op_type)) continue;
      for (int j = 0; j < int(n.inputs.size()); ++j) {
        auto it = low_names_.find(n.inputs[size_t(j)]);
        if (it != low_names_.end() && !keeps_fp32_input(n.op_type, j)) e_.node_proto(i).set_input(j, it->second);
      }
    }
  }

 private:
  bool converts(int i) {
    const Node& n = e_.node(i);
    const onnx::NodeProto& p = e_.node_proto(i);
    if (!n.domain.empty() || stays_fp32(n.op_type) || reads_any_type(n.op_type) || has_subgraph(p)) return false;
    if (low_ == DType::BFloat16 && bfloat16_since(n.op_type) > default_opset(e_.proto)) return false;
    if (n.op_type == "Constant") {
      const onnx::AttributeProto* value = find_attribute(p, "value");
      return value && value->t().data_type() == int32_t(DType::Float32);
    }
    auto is_fp32 = [&](const std::string& v) { return !v.empty() && e_.dtype(v) == DType::Float32; };
    return std::any_of(n.inputs.begin(), n.inputs.end(), is_fp32) ||
           std::any_of(n.outputs.begin(), n.outputs.end(), is_fp32);
  }

  uint16_t to_low(float f) const {
    return low_ == DType::BFloat16 ? bfloat16::from_float(f) : float16::from_float(f);
  }

  std::string low_initializer(const std::string& v, const Tensor& t) {
    const float* p = t.data<float>();
    std::vector<uint16_t> bits(static_cast<size_t>(t.numel()));
    for (size_t k = 0; k < bits.size(); ++k) bits[k] = to_low(p[k]);
    return e_.add_initializer(v + suffix_, int32_t(low_), t.shape(), bits.data(), bits.size() * 2);
  }

  onnx::NodeProto cast(const std::string& from, const std::string& to, DType type) {
    onnx::NodeProto c = e_.new_node("Cast", {from}, {to}, to);
    set_int_attribute(c, "to", int64_t(type));
    return c;
  }

  // A converted node's float outputs take new names; the old name is cast back where fp32 readers need it.
  void convert_outputs(int i, const std::set<std::string>& read_fp32) {
    const Node& n = e_.node(i);
    onnx::NodeProto& p = e_.node_proto(i);
    if (n.op_type == "Constant") {
      onnx::TensorProto* t = find_value_attribute(p);
      const std::vector<float> values = float_values(*t);
      std::vector<uint16_t> bits(values.size());
      for (size_t k = 0; k < values.size(); ++k) bits[k] = to_low(values[k]);
      t->clear_float_data();
      t->set_data_type(int32_t(low_));
      t->set_raw_data(bits.data(), bits.size() * 2);
    }
    for (int k = 0; k < int(n.outputs.size()); ++k) {
      const std::string& v = n.outputs[size_t(k)];
      if (v.empty() || e_.dtype(v) != DType::Float32) continue;
      const std::string renamed = e_.names.fresh(v + suffix_);
      p.set_output(k, renamed);
      low_names_[v] = renamed;
      if (read_fp32.count(v)) e_.insertions.after[i].push_back(cast(renamed, v, DType::Float32));
    }
  }

  onnx::TensorProto* find_value_attribute(onnx::NodeProto& p) {
    for (auto& a : *p.mutable_attribute())
      if (a.name() == "value") return a.mutable_t();
    throw Error("node '" + p.name() + "': Constant without a value");
  }

  // A value from outside the converted region (graph input, initializer, fp32 node) read by converted nodes.
  void cast_to_low(const std::string& v) {
    if (const Tensor* t = e_.initializer(v)) {
      low_names_[v] = low_initializer(v, *t);
      return;
    }
    const std::string renamed = e_.names.fresh(v + suffix_);
    low_names_[v] = renamed;
    int producer = -1;
    for (int i = 0; i < e_.node_count() && producer < 0; ++i)
      for (const auto& o : e_.node(i).outputs)
        if (o == v) producer = i;
    (producer < 0 ? e_.insertions.front : e_.insertions.after[producer]).push_back(cast(v, renamed, low_));
  }

  ModelEdit& e_;
  const DType low_;
  const std::string suffix_;
  std::set<std::string> subgraph_reads_;
  std::map<std::string, std::string> low_names_;  // fp32 name -> its low-precision value
};

}  // namespace

int64_t cast_opset(const QuantizeOptions& options, int64_t model_opset) {
  // bf16: Cast to bfloat16 needs 13; Conv, pooling and most activations accept bfloat16 from 22.
  if (options.precision == QuantPrecision::Bf16) return std::max<int64_t>(model_opset, 22);
  return model_opset;
}

void write_casts(ModelEdit& edit) { CastWriter(edit).write(); }

}  // namespace infera
