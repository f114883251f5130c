// Runs a planned graph with the op table's kernels. Values live in a scope (name -> tensor) that nested
// subgraphs (If/Loop bodies) read through; each value is released after its last reader.
#pragma once

#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/plan.h"

namespace infera {

struct Scope {
  const Graph* graph = nullptr;
  const Scope* parent = nullptr;
  std::unordered_map<std::string, Tensor> values;
  const Tensor* find(const std::string& name) const;
};

// Runs fn; an error it throws comes out as "FILE: node '...' (Op): reason".
void run_located(const std::string& file, const Node& node, const std::function<void()>& fn);

class Executor {
 public:
  Executor(const Model& model, const ModelPlan& plan) : model_(model), plan_(plan) {}
  // Runs `g` with `inputs` bound to its declared inputs (in order); returns its outputs in order.
  std::vector<Tensor> run(const Graph& g, const std::vector<Tensor>& inputs, const Scope* parent) const;
  // Same, with inputs by name (the main graph).
  std::vector<Tensor> run(const Graph& g, std::unordered_map<std::string, Tensor> inputs) const;

 private:
  std::vector<Tensor> run_scope(const Graph& g, Scope& scope) const;
  void run_node(const Node& node, Scope& scope) const;
  const Model& model_;
  const ModelPlan& plan_;
};

}  // namespace infera
