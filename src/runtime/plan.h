// A checked, ordered view of a graph ready to execute: nodes in topological order, the names each node reads
// (including names its subgraphs capture from this scope), and when each value is read for the last time.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/graph.h"

namespace infera {

struct NodeStep {
  const Node* node = nullptr;
  std::vector<std::string> frees;  // values whose last reader is this node: released after it runs
};

struct GraphPlan {
  std::vector<NodeStep> steps;
  std::set<std::string> captures;  // names read from enclosing scopes
};

struct UnsupportedOp {
  const Node* node;
};

// Plans for a model's graph and all its subgraphs, keyed by graph.
class ModelPlan {
 public:
  // Resolves every node against the op table, checks that every value is defined before it is read, orders the
  // nodes and computes lifetimes. Unknown ops are collected in `unsupported` (and fail when `strict`).
  ModelPlan(Model& model, bool strict);
  const GraphPlan& plan(const Graph& g) const;
  const std::vector<UnsupportedOp>& unsupported() const { return unsupported_; }

 private:
  void plan_graph(const Model& model, Graph& g, const std::set<std::string>& outer);
  std::map<const Graph*, GraphPlan> plans_;
  std::vector<UnsupportedOp> unsupported_;
  bool strict_;
};

}  // namespace infera
