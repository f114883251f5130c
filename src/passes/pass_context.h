// What every graph pass works with: the model's main graph, an index of who produces and who reads each value, the
// static types and constant values for the concrete input shapes, and edits that take effect at commit().
// Passes rewrite the main graph only; a name that a subgraph (If/Loop body) captures counts as read by the node
// owning the subgraph, so nothing it needs is removed, and renames reach into subgraphs.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "ops/op.h"

namespace infera {

class PassContext {
 public:
  PassContext(Model& model, const std::map<std::string, Shape>& input_shapes);

  Model& model() { return model_; }
  Graph& graph() { return model_.graph; }
  const std::map<std::string, Shape>& input_shapes() const { return input_shapes_; }

  // Applies the pending removals and additions, then re-indexes and re-infers static types.
  void commit();

  // Node access by index into graph().nodes (stable until commit()).
  size_t size() const { return model_.graph.nodes.size(); }
  Node& node(size_t i) { return model_.graph.nodes[i]; }
  const Node& node(size_t i) const { return model_.graph.nodes[i]; }
  bool removed(size_t i) const { return removed_[i]; }

  // The index of the node producing `value`, or -1 (graph input, initializer, unknown).
  int producer(const std::string& value) const;
  // Live nodes reading `value` (explicit inputs or subgraph captures), in graph order.
  std::vector<size_t> consumers(const std::string& value) const;
  bool is_graph_output(const std::string& value) const;
  // Read by exactly one live node and not a graph output: the value may disappear into a fusion.
  bool single_use(const std::string& value) const;
  // The producing node when it is live, has type `op_type` (ai.onnx) and `value` is its single-use output 0.
  int fusable_producer(const std::string& value, const std::string& op_type) const;
  // The only live consumer of `value` when it is single-use and of type `op_type`, else -1.
  int sole_consumer(const std::string& value, const std::string& op_type) const;

  // Static type (nullptr when not inferred) and constant value (initializers; nullptr otherwise).
  const TensorType* type(const std::string& value) const;
  const Tensor* constant(const std::string& value) const;
  // A constant float32 scalar (any shape with one element), or false.
  bool scalar_constant(const std::string& value, float& out) const;
  // Values folded by static analysis (not yet initializers): only for constant folding.
  const std::map<std::string, Tensor>& folded() const { return folded_; }

  void remove(size_t i) { removed_[i] = true; }
  // Edits of a live node that keep the index exact (within a pass, later matches see them). Setting an input past
  // the end appends it (with "" in between).
  void set_input(size_t i, size_t k, const std::string& value);
  void set_output(size_t i, size_t k, const std::string& value);
  void add_node(Node n) { added_.push_back(std::move(n)); }
  // A new initializer under a fresh name derived from `base`; returns the name.
  std::string add_initializer(const std::string& base, Tensor value);
  std::string fresh_name(const std::string& base);
  // Every read of `from` (main graph and subgraphs; not graph outputs) now reads `to`. By value: callers pass
  // names held by the nodes this renames.
  void replace_uses(std::string from, std::string to);
  // Removes node `i` whose output `out` equals its input `in`. Keeps graph output names: when `out` is a graph
  // output, `in` is renamed to `out` instead (possible when `in` is a node output that is not itself a graph
  // output). Returns false (and changes nothing) when neither is possible.
  bool bypass(size_t i, std::string in, std::string out);

 private:
  void index();
  void analyze();

  Model& model_;
  std::map<std::string, Shape> input_shapes_;
  std::vector<bool> removed_;
  std::vector<Node> added_;
  std::map<std::string, int> producer_;
  std::map<std::string, std::vector<size_t>> consumers_;
  std::set<std::string> graph_outputs_;
  std::set<std::string> names_;  // every name in use, for fresh_name()
  std::map<std::string, TensorType> types_;
  std::map<std::string, Tensor> folded_;
};

// Builds a node in the given domain ("" = ai.onnx) named after `like`.
Node make_node(const std::string& name, const std::string& op_type, const std::string& domain,
               std::vector<std::string> inputs, std::vector<std::string> outputs);

// Attribute constructors.
Attribute int_attribute(int64_t v);
Attribute float_attribute(float v);
Attribute string_attribute(std::string v);
Attribute floats_attribute(std::vector<float> v);
Attribute ints_attribute(std::vector<int64_t> v);

// Runs one node's reference kernel on constant inputs (nullptr = omitted); its outputs in order.
std::vector<Tensor> evaluate_node(const Node& node, const std::vector<const Tensor*>& inputs);

// Tries `rewrite` at every node not removed yet, in order; returns how many rewrites it made.
int rewrite_each_node(PassContext& ctx, bool (*rewrite)(PassContext&, size_t));

}  // namespace infera
