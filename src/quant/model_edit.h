// What the quantizer's writers share: the model being rewritten (its protobuf, the same model in infera's IR for
// initializer values, and its static analysis for every value's type and shape) and small protobuf helpers.
// Protobuf types stay inside src/onnx and src/quant's .cpp files: quantizer.h does not expose them.
#pragma once

#include <onnx/onnx_pb.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/graph.h"
#include "quant/quantizer.h"
#include "runtime/static_analysis.h"

namespace infera {

// Names not used anywhere in a graph (values, nodes, initializers, also inside subgraphs).
class NameTable {
 public:
  explicit NameTable(const onnx::GraphProto& graph);
  std::string fresh(const std::string& base);  // base, else base_2, base_3, ...

 private:
  std::set<std::string> used_;
};

// Nodes to add to the top-level graph, placed so that the node list stays topologically sorted, and nodes to drop.
struct NodeInsertions {
  std::vector<onnx::NodeProto> front;                 // before every node: weights, graph-input pairs
  std::map<int, std::vector<onnx::NodeProto>> after;  // right after node i
  std::set<int> dropped;                              // nodes left out (what follows them is still placed)
  int count() const;
};

struct ModelEdit {
  onnx::ModelProto& proto;
  const Model& model;  // the same model in infera's IR: nodes in the same order, initializer values
  const GraphAnalysis& analysis;
  const QuantizeOptions& options;
  QuantizeReport& report;
  NameTable names;
  NodeInsertions insertions;

  ModelEdit(onnx::ModelProto& proto, const Model& model, const GraphAnalysis& analysis,
            const QuantizeOptions& options, QuantizeReport& report);

  int node_count() const { return int(model.graph.nodes.size()); }
  const Node& node(int i) const { return model.graph.nodes[size_t(i)]; }
  onnx::NodeProto& node_proto(int i) { return *proto.mutable_graph()->mutable_node(i); }
  // In --exclude, by node name or by one of its outputs.
  bool excluded(int i) const;
  // Records node i, which would be quantized, in the report: as quantized, or as excluded when --exclude names it.
  // Returns whether it is quantized.
  bool claim(int i);

  const Tensor* initializer(const std::string& value) const;  // nullptr unless a top-level initializer
  DType dtype(const std::string& value) const;                 // Undefined when not known
  int rank(const std::string& value) const;                    // -1 when not known
  // Consumers of each value in the top-level graph: (node index, input index).
  std::map<std::string, std::vector<std::pair<int, int>>> consumers() const;

  // Adds an initializer named after `base` holding `bytes` as raw data; returns its name.
  std::string add_initializer(const std::string& base, int32_t onnx_type, const Shape& shape, const void* data,
                              size_t bytes);
  std::string add_float_initializer(const std::string& base, const Shape& shape, const std::vector<float>& values);
  std::string add_int64_initializer(const std::string& base, const std::vector<int64_t>& values);
  // A node named <about>_<op_type>, made unique.
  onnx::NodeProto new_node(const std::string& op_type, const std::vector<std::string>& inputs,
                           const std::vector<std::string>& outputs, const std::string& about);
};

void set_int_attribute(onnx::NodeProto& node, const std::string& name, int64_t value);
const onnx::AttributeProto* find_attribute(const onnx::NodeProto& node, const std::string& name);
void remove_attribute(onnx::NodeProto& node, const std::string& name);

// Every name read by the nodes of a graph and its subgraphs (subgraphs read names of enclosing scopes), and its
// outputs.
void collect_reads(const onnx::GraphProto& g, std::set<std::string>& reads);
// Puts the inserted nodes into the graph's node list.
void apply_insertions(onnx::GraphProto& graph, NodeInsertions insertions);
// Drops initializers (and graph inputs that only declared them) that nothing reads any more.
void remove_unused_initializers(onnx::GraphProto& graph);
// Drops value infos of values that no node, input or initializer defines any more (renamed by a writer).
void remove_stale_value_infos(onnx::GraphProto& graph);
// Replaces external-data initializers by their values inline (the output is written as one file).
void inline_external_data(onnx::GraphProto& graph, const Graph& loaded);
// Bytes of all initializers (int4 counted packed).
int64_t initializer_bytes(const onnx::GraphProto& graph);
// The default-domain opset of a model (1 when it imports none).
int64_t default_opset(const onnx::ModelProto& model);
// Sets the default-domain opset and raises the IR version to one that allows it.
void set_default_opset(onnx::ModelProto& model, int64_t opset);

}  // namespace infera
