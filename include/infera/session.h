// The public entry point: load a model, inspect its inputs and outputs, run it.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "infera/profile.h"
#include "infera/tensor.h"

namespace infera {

// One dimension of a declared shape: a fixed size, a named symbol ("batch"), or unknown.
struct Dim {
  int64_t value = -1;  // >= 0 when fixed
  std::string symbol;  // non-empty when symbolic
  bool fixed() const { return value >= 0; }
};

struct ValueInfo {
  std::string name;
  DType dtype = DType::Undefined;
  std::vector<Dim> dims;
  bool has_shape = false;  // false when the model declares no shape at all
};

struct SessionOptions {
  int threads = 0;             // intra-op threads; 0: one per core
  bool optimize = true;        // run the graph passes
  bool fast_backends = true;   // false: the reference kernels only (what the fast ones are tested against)
};

struct MemoryReport {
  size_t arena_bytes = 0;  // planned peak of the activations whose size is static
  size_t naive_bytes = 0;  // the same activations, each in its own buffer
  int planned_values = 0;
  int dynamic_values = 0;  // sizes known only at run time: allocated when produced
};

struct PassCount {
  std::string pass;
  int rewrites = 0;
};

// How a model runs for given input shapes: the graph passes' rewrites, every step with its backend, kernel and
// cost, and the activation memory plan.
struct ExecutionPlan {
  std::vector<PassCount> passes;  // in the order they ran
  std::vector<LayerProfile> steps;
  MemoryReport memory;
};

struct OpCount {
  std::string op_type;
  int count = 0;
};

struct UnsupportedNode {
  std::string node_name;
  std::string op_type;
  std::string domain;
};

// Static facts about a loaded model, computed without running it.
struct ModelSummary {
  int64_t ir_version = 0;
  std::map<std::string, int64_t> opsets;  // domain ("" = ai.onnx) -> version
  std::string producer;
  std::vector<OpCount> op_histogram;  // most frequent first
  int64_t parameter_count = 0;        // elements in initializers
  int64_t parameter_bytes = 0;
  double flops = 0;              // total for the resolved input shapes; -1 when some node's shape is unknown
  int nodes_without_cost = 0;    // nodes whose shapes could not be inferred statically
  std::vector<UnsupportedNode> unsupported;
};

// The concrete shape for a declared input: the one in `input_shapes` if given, else its fixed dims with symbolic or
// unknown ones taken as 1.
Shape resolve_input_shape(const ValueInfo& info, const std::map<std::string, Shape>& input_shapes);

class Session {
 public:
  // Loads and checks a model. Throws infera::Error naming the file, node and reason when it cannot.
  static Session load(const std::string& path, const SessionOptions& options = {});
  static Session load_from_memory(const void* data, size_t size, const SessionOptions& options = {},
                                  const std::string& name = "<memory>");
  // Loads for inspection only: unsupported ops are listed in summary() instead of failing the load.
  static Session inspect(const std::string& path);

  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;
  ~Session();

  const std::vector<ValueInfo>& inputs() const;
  const std::vector<ValueInfo>& outputs() const;

  // Runs with named inputs; returns outputs in graph-output order. With a profile, also records every step's
  // start and duration (the clock costs well under a microsecond per step).
  std::vector<Tensor> run(const std::map<std::string, Tensor>& inputs, RunProfile* profile = nullptr);
  std::map<std::string, Tensor> run_named(const std::map<std::string, Tensor>& inputs);

  // Compiles the model for these input shapes (graph passes, kernels, memory plan) ahead of the first run with
  // them; run() compiles on demand otherwise. Unset symbolic dims default to 1.
  void prepare(const std::map<std::string, Shape>& input_shapes = {});
  ExecutionPlan execution_plan(const std::map<std::string, Shape>& input_shapes = {});
  // The compiled steps with their costs (execution_plan().steps): what profiles and projections start from.
  std::vector<LayerProfile> layers(const std::map<std::string, Shape>& input_shapes = {});

  // Shapes for symbolic input dims (name -> concrete shape) used by summary(); unset dims default to 1.
  ModelSummary summary(const std::map<std::string, Shape>& input_shapes = {}) const;

  const std::string& path() const;

 private:
  struct Impl;
  explicit Session(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace infera
