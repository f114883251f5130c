#include "quant/model_edit.h"

#include <algorithm>
#include <cstring>

namespace infera {
namespace {

void collect_names(const onnx::GraphProto& g, std::set<std::string>& names) {
  for (const auto& t : g.initializer()) names.insert(t.name());
  for (const auto& v : g.input()) names.insert(v.name());
  for (const auto& v : g.output()) names.insert(v.name());
  for (const auto& v : g.value_info()) names.insert(v.name());
  for (const auto& n : g.node()) {
    names.insert(n.name());
    for (const auto& s : n.input()) names.insert(s);
    for (const auto& s : n.output()) names.insert(s);
    for (const auto& a : n.attribute()) {
      if (a.has_g()) collect_names(a.g(), names);
      for (const auto& sub : a.graphs()) collect_names(sub, names);
    }
  }
}

// The IR version that introduced each default-domain opset's release (onnx/helper.py's VERSION_TABLE).
int64_t ir_version_for_opset(int64_t opset) {
  if (opset <= 13) return 7;
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  if (opset <= 22) return 10;
  return 11;
}

int64_t element_bits(int32_t onnx_type) {
  const DType t = DType(onnx_type);
  if (dtype_is_int4(t)) return 4;
  return int64_t(dtype_size(t)) * 8;
}

}  // namespace

NameTable::NameTable(const onnx::GraphProto& graph) { collect_names(graph, used_); }

std::string NameTable::fresh(const std::string& base) {
  std::string name = base;
  for (int i = 2; used_.count(name); ++i) name = base + "_" + std::to_string(i);
  used_.insert(name);
  return name;
}

int NodeInsertions::count() const {
  size_t n = front.size();
  for (const auto& [i, nodes] : after) n += nodes.size();
  return int(n);
}

ModelEdit::ModelEdit(onnx::ModelProto& proto, const Model& model, const GraphAnalysis& analysis,
                     const QuantizeOptions& options, QuantizeReport& report)
    : proto(proto), model(model), analysis(analysis), options(options), report(report), names(proto.graph()) {}

bool ModelEdit::excluded(int i) const {
  const Node& n = node(i);
  if (options.exclude.count(n.name)) return true;
  return std::any_of(n.outputs.begin(), n.outputs.end(),
                     [&](const std::string& o) { return !o.empty() && options.exclude.count(o); });
}

bool ModelEdit::claim(int i) {
  if (excluded(i)) {
    report.excluded.push_back(node(i).name);
    return false;
  }
  report.quantized.push_back(node(i).name);
  ++report.quantized_ops[node(i).op_type];
  return true;
}

const Tensor* ModelEdit::initializer(const std::string& value) const {
  auto it = model.graph.initializers.find(value);
  return it == model.graph.initializers.end() ? nullptr : &it->second;
}

DType ModelEdit::dtype(const std::string& value) const {
  auto it = analysis.values.find(value);
  return it == analysis.values.end() ? DType::Undefined : it->second.dtype;
}

int ModelEdit::rank(const std::string& value) const {
  auto it = analysis.values.find(value);
  return it == analysis.values.end() || !it->second.shape_known ? -1 : int(it->second.shape.size());
}

std::map<std::string, std::vector<std::pair<int, int>>> ModelEdit::consumers() const {
  std::map<std::string, std::vector<std::pair<int, int>>> result;
  for (int i = 0; i < node_count(); ++i)
    for (int j = 0; j < int(node(i).inputs.size()); ++j)
      if (!node(i).inputs[size_t(j)].empty()) result[node(i).inputs[size_t(j)]].push_back({i, j});
  return result;
}

std::string ModelEdit::add_initializer(const std::string& base, int32_t onnx_type, const Shape& shape,
                                       const void* data, size_t bytes) {
  onnx::TensorProto* t = proto.mutable_graph()->add_initializer();
  t->set_name(names.fresh(base));
  t->set_data_type(onnx_type);
  for (int64_t d : shape) t->add_dims(d);
  t->set_raw_data(data, bytes);
  return t->name();
}

std::string ModelEdit::add_float_initializer(const std::string& base, const Shape& shape,
                                             const std::vector<float>& values) {
  return add_initializer(base, int32_t(DType::Float32), shape, values.data(), values.size() * sizeof(float));
}

std::string ModelEdit::add_int64_initializer(const std::string& base, const std::vector<int64_t>& values) {
  return add_initializer(base, int32_t(DType::Int64), {int64_t(values.size())}, values.data(),
                         values.size() * sizeof(int64_t));
}

onnx::NodeProto ModelEdit::new_node(const std::string& op_type, const std::vector<std::string>& inputs,
                                    const std::vector<std::string>& outputs, const std::string& about) {
  onnx::NodeProto n;
  n.set_op_type(op_type);
  n.set_name(names.fresh(about + "_" + op_type));
  for (const auto& s : inputs) n.add_input(s);
  for (const auto& s : outputs) n.add_output(s);
  return n;
}

void set_int_attribute(onnx::NodeProto& node, const std::string& name, int64_t value) {
  remove_attribute(node, name);
  onnx::AttributeProto* a = node.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(value);
}

const onnx::AttributeProto* find_attribute(const onnx::NodeProto& node, const std::string& name) {
  for (const auto& a : node.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}

void remove_attribute(onnx::NodeProto& node, const std::string& name) {
  auto* attrs = node.mutable_attribute();
  for (int i = attrs->size() - 1; i >= 0; --i)
    if (attrs->Get(i).name() == name) attrs->DeleteSubrange(i, 1);
}

// Every name read by the nodes of a graph and its subgraphs (subgraphs read names of enclosing scopes).
void collect_reads(const onnx::GraphProto& g, std::set<std::string>& reads) {
  for (const auto& n : g.node()) {
    for (const auto& s : n.input()) reads.insert(s);
    for (const auto& a : n.attribute()) {
      if (a.has_g()) collect_reads(a.g(), reads);
      for (const auto& sub : a.graphs()) collect_reads(sub, reads);
    }
  }
  for (const auto& v : g.output()) reads.insert(v.name());
}

void apply_insertions(onnx::GraphProto& graph, NodeInsertions insertions) {
  google::protobuf::RepeatedPtrField<onnx::NodeProto> nodes;
  nodes.Swap(graph.mutable_node());
  for (auto& n : insertions.front) *graph.add_node() = std::move(n);
  for (int i = 0; i < nodes.size(); ++i) {
    if (!insertions.dropped.count(i)) *graph.add_node() = std::move(*nodes.Mutable(i));
    auto it = insertions.after.find(i);
    if (it != insertions.after.end())
      for (auto& n : it->second) *graph.add_node() = std::move(n);
  }
}

void remove_unused_initializers(onnx::GraphProto& graph) {
  std::set<std::string> reads;
  collect_reads(graph, reads);
  std::set<std::string> removed;
  auto* inits = graph.mutable_initializer();
  for (int i = inits->size() - 1; i >= 0; --i)
    if (!reads.count(inits->Get(i).name())) {
      removed.insert(inits->Get(i).name());
      inits->DeleteSubrange(i, 1);
    }
  auto* inputs = graph.mutable_input();
  for (int i = inputs->size() - 1; i >= 0; --i)
    if (removed.count(inputs->Get(i).name())) inputs->DeleteSubrange(i, 1);
}

void remove_stale_value_infos(onnx::GraphProto& graph) {
  std::set<std::string> defined;
  for (const auto& v : graph.input()) defined.insert(v.name());
  for (const auto& t : graph.initializer()) defined.insert(t.name());
  for (const auto& n : graph.node()) defined.insert(n.output().begin(), n.output().end());
  auto* infos = graph.mutable_value_info();
  for (int i = infos->size() - 1; i >= 0; --i)
    if (!defined.count(infos->Get(i).name())) infos->DeleteSubrange(i, 1);
}

void inline_external_data(onnx::GraphProto& graph, const Graph& loaded) {
  for (auto& t : *graph.mutable_initializer()) {
    if (t.data_location() != onnx::TensorProto::EXTERNAL) continue;
    if (dtype_is_int4(DType(t.data_type())))  // held unpacked in memory: the file's packed bytes are not at hand
      throw Error("initializer '" + t.name() + "': 4-bit external data cannot be inlined");
    const Tensor& value = loaded.initializers.at(t.name());
    t.clear_external_data();
    t.set_data_location(onnx::TensorProto::DEFAULT);
    t.set_raw_data(value.raw(), value.nbytes());
  }
}

int64_t initializer_bytes(const onnx::GraphProto& graph) {
  int64_t bytes = 0;
  for (const auto& t : graph.initializer()) {
    int64_t n = 1;
    for (int64_t d : t.dims()) n *= d;
    bytes += (n * element_bits(t.data_type()) + 7) / 8;
  }
  return bytes;
}

int64_t default_opset(const onnx::ModelProto& model) {
  for (const auto& o : model.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") return o.version();
  return 1;
}

void set_default_opset(onnx::ModelProto& model, int64_t opset) {
  bool found = false;
  for (auto& o : *model.mutable_opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") {
      o.set_version(opset);
      found = true;
    }
  if (!found) {
    auto* o = model.add_opset_import();
    o->set_domain("");
    o->set_version(opset);
  }
  model.set_ir_version(std::max<int64_t>(model.ir_version(), ir_version_for_opset(opset)));
}

}  // namespace infera
