// What can be known about a model without running it: shapes and types of every value for given input shapes
// (constant sub-graphs such as Shape->Gather->Concat are evaluated on the way), and from them each node's cost.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "ops/op.h"
#include "runtime/plan.h"

namespace infera {

struct NodeAnalysis {
  const Node* node = nullptr;
  bool known = false;  // shapes inferred, cost valid
  Cost cost;
  std::vector<TensorType> outputs;
};

struct GraphAnalysis {
  std::vector<NodeAnalysis> nodes;  // in execution order
  std::map<std::string, TensorType> values;
  std::map<std::string, Tensor> constants;  // values known without running: initializers and folded node outputs
};

// Symbolic or unknown input dims not given in `input_shapes` are taken as 1.
GraphAnalysis analyze_graph(const Model& model, const ModelPlan& plan, const std::map<std::string, Shape>& input_shapes);

}  // namespace infera
