// A model compiled with some of its intermediate values added as graph outputs, so that calibration and
// evaluation can read them batch by batch. Graph passes keep every graph output, so the values survive fusion
// (a pass that fused one away would be a bug in that pass, reported here as an error naming the value).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/graph.h"

namespace infera {

class CompiledGraph;

class ActivationProbe {
 public:
  // `values`: names of the model's values; graph inputs and initializers are answered without the model.
  ActivationProbe(const Model& model, const std::vector<std::string>& values,
                  const std::map<std::string, Shape>& input_shapes, int threads);
  ~ActivationProbe();
  // The model's outputs and the probed values, by name.
  std::map<std::string, Tensor> run(const std::map<std::string, Tensor>& inputs);

 private:
  std::unique_ptr<CompiledGraph> graph_;
  std::vector<std::string> outputs_;                 // names of graph_'s outputs, in order
  std::map<std::string, Tensor> constants_;          // probed initializers
  std::vector<std::string> probed_inputs_;           // probed graph inputs
  int threads_ = 0;
};

// A value's rows for the first `count` samples when dim 0 is the batch of `batch` samples; the whole tensor
// otherwise (a value whose leading dim is not the batch cannot be split by sample).
int64_t sample_elements(const Tensor& value, int64_t batch, int64_t count);

}  // namespace infera
