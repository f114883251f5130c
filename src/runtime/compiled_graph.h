// A model compiled for one set of concrete input shapes and a thread count: graph passes applied, every node given
// a kernel by the first backend that takes it (layout conversions inserted where a consumer cannot read its
// producer's layout), and every activation with a static size given a place in one preallocated arena by the
// memory planner. Nodes whose shapes depend on data (or that own subgraphs) run on the reference kernels and
// allocate as they go.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "runtime/plan.h"

namespace infera {

class CompiledGraph {
 public:
  // Takes the model by value: weights that kernels pack are freed from it as they are packed, which they can be
  // only where the caller passed its only reference (see Kernel::copied_input).
  CompiledGraph(Model source, const std::map<std::string, Shape>& input_shapes, const SessionOptions& options);
  ~CompiledGraph();
  // With a profile: every step's start and duration as well.
  std::vector<Tensor> run(const std::map<std::string, Tensor>& inputs, RunProfile* profile = nullptr);

  ExecutionPlan report() const { return ExecutionPlan{passes_, layers_, memory_}; }
  const Model& model() const { return *model_; }

 private:
  struct Step;
  struct Value;
  class ConstantReads;
  int value_id(const std::string& name) const;
  int add_value(const std::string& name, const TensorType& type, const Layout& layout);
  int plain_version(int value, std::vector<int>& converted);
  void plan_storage();
  void run_dynamic(const Step& step, std::vector<Tensor>& values);

  std::unique_ptr<Model> model_;
  std::unique_ptr<ModelPlan> plan_;
  std::vector<Value> values_;
  std::map<std::string, int> ids_;
  std::vector<Step> steps_;
  std::vector<PassCount> passes_;
  std::vector<LayerProfile> layers_;  // per step: what it is and what it costs
  std::vector<int> outputs_;
  std::shared_ptr<std::byte[]> arena_;
  std::vector<Tensor> planned_;  // per value: its arena view (undefined when not planned)
  MemoryReport memory_;
  std::mutex running_;
};

}  // namespace infera
