#include "quant/quantizer.h"

#include <algorithm>
#include <climits>
#include <memory>

#include "onnx/import.h"
#include "quant/opset_upgrade.h"
#include "quant/writers.h"

namespace infera {
namespace {

// The model as a protobuf to edit, and as infera's IR with its static analysis to read values and types from.
struct LoadedModel {
  onnx::ModelProto proto;
  Model model;
  std::unique_ptr<ModelPlan> plan;  // points into `model`: a LoadedModel is never moved
  GraphAnalysis analysis;
};

std::unique_ptr<LoadedModel> load(const std::string& bytes, const std::string& name, const std::string& base_dir) {
  auto m = std::make_unique<LoadedModel>();
  m->model = import_model_bytes(bytes.data(), bytes.size(), name, base_dir);
  if (!m->proto.ParseFromArray(bytes.data(), int(bytes.size())))
    throw Error(name + ": not a valid ONNX model");
  m->plan = std::make_unique<ModelPlan>(m->model, false);
  m->analysis = analyze_graph(m->model, *m->plan, {});
  for (const Node& n : m->model.graph.nodes)
    if (n.op_type == "QuantizeLinear" || n.op_type == "DequantizeLinear" || n.op_type.rfind("QLinear", 0) == 0 ||
        n.op_type == "MatMulInteger" || n.op_type == "ConvInteger" || n.op_type == "DynamicQuantizeLinear")
      throw Error(name + ": already quantized (" + n.label() + ")");
  return m;
}

int64_t target_opset(const QuantizeOptions& options, int64_t model_opset) {
  switch (options.precision) {
    case QuantPrecision::Int8: case QuantPrecision::Fp8E4M3: case QuantPrecision::Fp8E5M2:
      return std::max(model_opset, qdq_opset(options));
    case QuantPrecision::Fp16: case QuantPrecision::Bf16: return cast_opset(options, model_opset);
    case QuantPrecision::Int4Weight: return std::max(model_opset, kInt4WeightOpset);
  }
  return model_opset;
}

void check_options(const QuantizeOptions& options, const Model& model) {
  if (options.precision == QuantPrecision::Int4Weight && options.block_size < 1)
    throw Error("block size must be at least 1, got " + std::to_string(options.block_size));
  for (const std::string& name : options.exclude) {
    bool found = false;
    for (const Node& n : model.graph.nodes)
      found = found || n.name == name || std::count(n.outputs.begin(), n.outputs.end(), name) > 0;
    if (!found) throw Error(model.path + ": --exclude '" + name + "' names no node (nor node output) of the model");
  }
}

}  // namespace

QuantPrecision parse_quant_precision(const std::string& name) {
  for (QuantPrecision p : {QuantPrecision::Int8, QuantPrecision::Fp8E4M3, QuantPrecision::Fp8E5M2,
                           QuantPrecision::Fp16, QuantPrecision::Bf16, QuantPrecision::Int4Weight})
    if (name == quant_precision_name(p)) return p;
  throw Error("unknown precision '" + name + "' (int8, fp8-e4m3, fp8-e5m2, fp16, bf16, int4-weight)");
}

const char* quant_precision_name(QuantPrecision precision) {
  switch (precision) {
    case QuantPrecision::Int8: return "int8";
    case QuantPrecision::Fp8E4M3: return "fp8-e4m3";
    case QuantPrecision::Fp8E5M2: return "fp8-e5m2";
    case QuantPrecision::Fp16: return "fp16";
    case QuantPrecision::Bf16: return "bf16";
    case QuantPrecision::Int4Weight: return "int4-weight";
  }
  return "?";
}

bool needs_calibration(QuantPrecision precision) {
  return precision == QuantPrecision::Int8 || precision == QuantPrecision::Fp8E4M3 ||
         precision == QuantPrecision::Fp8E5M2;
}

std::vector<std::string> tensors_to_calibrate(const std::string& model_bytes, const std::string& name,
                                              const std::string& base_dir, const QuantizeOptions& options) {
  if (!needs_calibration(options.precision)) return {};
  auto m = load(model_bytes, name, base_dir);
  QuantizeReport unused;
  ModelEdit edit(m->proto, m->model, m->analysis, options, unused);
  return qdq_activations(edit);
}

std::string quantize_model(const std::string& model_bytes, const std::string& name, const std::string& base_dir,
                           const QuantizeOptions& options, const std::map<std::string, TensorRange>& ranges,
                           QuantizeReport* report) {
  auto m = load(model_bytes, name, base_dir);
  check_options(options, m->model);
  QuantizeReport local;
  QuantizeReport& r = report ? *report : local;
  r = QuantizeReport{};
  onnx::GraphProto& graph = *m->proto.mutable_graph();
  r.opset_before = default_opset(m->proto);
  r.weight_bytes_before = initializer_bytes(graph);

  ModelEdit edit(m->proto, m->model, m->analysis, options, r);
  inline_external_data(graph, m->model.graph);
  upgrade_opset(edit, target_opset(options, r.opset_before));
  switch (options.precision) {
    case QuantPrecision::Int8: case QuantPrecision::Fp8E4M3: case QuantPrecision::Fp8E5M2:
      write_qdq(edit, ranges);
      break;
    case QuantPrecision::Fp16: case QuantPrecision::Bf16: write_casts(edit); break;
    case QuantPrecision::Int4Weight: write_int4_weights(edit); break;
  }
  r.inserted_nodes = edit.insertions.count();
  apply_insertions(graph, std::move(edit.insertions));
  remove_unused_initializers(graph);
  remove_stale_value_infos(graph);
  r.opset_after = default_opset(m->proto);
  r.weight_bytes_after = initializer_bytes(graph);

  std::string out;
  if (m->proto.ByteSizeLong() > size_t(INT_MAX))
    throw Error(name + ": the quantized model is larger than 2 GiB, which one ONNX file cannot hold");
  m->proto.SerializeToString(&out);
  return out;
}

}  // namespace infera
