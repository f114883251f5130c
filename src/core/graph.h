// The intermediate representation: a Model holds a Graph of Nodes that read and write named values.
// Subgraphs (If/Loop bodies) are Graphs held by attributes; names they do not define come from the
// enclosing graph's scope.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "infera/session.h"
#include "infera/tensor.h"

namespace infera {

struct Graph;
struct OpDef;

struct Attribute {
  enum class Kind { Undefined, Float, Int, String, Tensor, Graph, Floats, Ints, Strings, Tensors, Graphs };
  Kind kind = Kind::Undefined;
  float f = 0;
  int64_t i = 0;
  std::string s;
  infera::Tensor t;
  std::shared_ptr<infera::Graph> g;
  std::vector<float> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
  std::vector<infera::Tensor> tensors;
  std::vector<std::shared_ptr<infera::Graph>> graphs;
};

struct Node {
  std::string name;
  std::string op_type;
  std::string domain;  // "" for the default ai.onnx domain
  std::vector<std::string> inputs;   // "" marks an omitted optional input
  std::vector<std::string> outputs;  // "" marks an omitted optional output
  std::map<std::string, Attribute> attrs;
  const OpDef* def = nullptr;  // resolved against the op table at load time
  int opset = 0;               // the model's opset version for this node's domain

  bool has_attr(const std::string& n) const { return attrs.count(n) != 0; }
  int64_t attr_int(const std::string& n, int64_t dflt) const;
  float attr_float(const std::string& n, float dflt) const;
  std::string attr_string(const std::string& n, const std::string& dflt) const;
  std::vector<int64_t> attr_ints(const std::string& n, std::vector<int64_t> dflt = {}) const;
  std::vector<float> attr_floats(const std::string& n, std::vector<float> dflt = {}) const;
  std::vector<std::string> attr_strings(const std::string& n) const;
  const Tensor* attr_tensor(const std::string& n) const;
  const Graph* attr_graph(const std::string& n) const;

  // "node 'conv1' (Conv)": how errors name a node.
  std::string label() const;
};

struct Graph {
  std::string name;
  std::vector<Node> nodes;
  std::map<std::string, Tensor> initializers;
  std::vector<ValueInfo> inputs;  // graph inputs that are not initializers
  std::vector<ValueInfo> outputs;
  std::map<std::string, ValueInfo> value_infos;
};

struct Model {
  std::string path;  // file it came from, for messages
  int64_t ir_version = 0;
  std::map<std::string, int64_t> opsets;  // domain -> version ("" = ai.onnx)
  std::string producer;
  Graph graph;
};

}  // namespace infera
