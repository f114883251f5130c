// The operator table's contract. Each operator is described once, by an OpDef:
//   infer   — the shape/type rule: output dtypes and shapes from input dtypes, shapes and (when known) values.
//             Returns false when an output shape depends on data that is not known (NonZero, or Reshape whose
//             shape input is computed at run time). Shape logic lives only here: compute() finds its outputs
//             already allocated with the shapes infer() declared.
//   compute — the reference kernel: plain, obviously correct code. When infer() returned false, compute()
//             allocates its outputs itself with output(i, dtype, shape).
//   cost    — FLOPs and bytes moved, from the (inferred) input and output types. The profiler and projections
//             read costs only from here. Omitted: one FLOP per output element, every input and output byte.
// Behaviour that changed between opset versions is selected inside infer/compute with ctx.opset().
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/graph.h"
#include "infera/profile.h"

namespace infera {

struct TensorType {
  DType dtype = DType::Undefined;
  Shape shape;
  bool shape_known = false;
};

class OpContext;

struct Cost {
  double flops = 0;
  double bytes_read = 0;
  double bytes_written = 0;
  MatrixShape matrix;  // matrix products (Conv, Gemm, MatMul and their quantized forms): the product's shape
};

using InferFn = bool (*)(OpContext&);
using ComputeFn = void (*)(OpContext&);
using CostFn = Cost (*)(const OpContext&);

struct OpDef {
  std::string_view name;
  InferFn infer = nullptr;
  ComputeFn compute = nullptr;
  CostFn cost = nullptr;
  std::string_view domain = "";  // "" = ai.onnx
  bool foldable = true;          // may be evaluated ahead of time when all inputs are constants
  bool reads_shapes_only = false;  // compute() looks only at input shapes (Shape, Size): foldable without values
  bool view = false;  // output 0 is input 0's bytes under the inferred shape (Reshape, Identity): no copy needed
};

// Runs a subgraph (If/Loop body) in the scope of the node that owns it; provided by the runtime.
using SubgraphRunner = std::function<std::vector<Tensor>(const Graph&, const std::vector<Tensor>&)>;

// What infer(), compute() and cost() see of one node: its attributes, its inputs' types and (when known) values,
// and its outputs.
class OpContext {
 public:
  OpContext(const Node& node, std::vector<TensorType> input_types, std::vector<const Tensor*> input_values);

  const Node& node() const { return node_; }
  int opset() const { return node_.opset; }

  int num_inputs() const { return int(input_types_.size()); }
  bool has_input(int i) const;  // present and not an omitted optional input
  DType dtype(int i) const;
  const Shape& shape(int i) const;
  int rank(int i) const { return int(shape(i).size()); }
  const Tensor* value(int i) const;  // nullptr when not known (always known inside compute)
  const Tensor& input(int i) const;  // the value; fails with a clear message when absent
  const TensorType& input_type(int i) const;

  int num_outputs() const { return int(node_.outputs.size()); }
  bool has_output(int i) const { return i < num_outputs() && !node_.outputs[size_t(i)].empty(); }
  // infer(): declare output i.
  void set_output(int i, DType dtype, Shape shape);
  const TensorType& output_type(int i) const;
  // compute(): output i as allocated from its declared type; or allocate it now with the given type.
  Tensor& output(int i);
  Tensor& output(int i, DType dtype, Shape shape);
  // compute(): make output i an existing tensor (e.g. a reshaped view of an input: no copy).
  void set_output_tensor(int i, Tensor t);

  std::vector<Tensor> run_subgraph(const Graph& g, const std::vector<Tensor>& inputs) const;
  void set_subgraph_runner(const SubgraphRunner* runner) { runner_ = runner; }

  // Throws infera::Error "node 'name' (Op): reason".
  [[noreturn]] void fail(const std::string& reason) const;

  // Used by the runtime after compute().
  std::vector<Tensor>& outputs() { return outputs_; }

 private:
  const Node& node_;
  std::vector<TensorType> input_types_;
  std::vector<const Tensor*> input_values_;
  std::vector<TensorType> output_types_;
  std::vector<Tensor> outputs_;
  const SubgraphRunner* runner_ = nullptr;
};

// The op table: every operator infera knows, looked up by domain and name.
class OpTable {
 public:
  void add(const OpDef& def);
  const OpDef* find(std::string_view domain, std::string_view name) const;
  const std::vector<OpDef>& all() const { return defs_; }

 private:
  std::vector<OpDef> defs_;
};

const OpTable& op_table();

// Cost used when an OpDef has none, and by ops whose cost is "elementwise with k FLOPs per output element".
Cost default_cost(const OpContext& ctx);
Cost elementwise_cost(const OpContext& ctx, double flops_per_element);
double type_bytes(const TensorType& t);  // bytes of a known-shape tensor type, 0 when unknown

}  // namespace infera
