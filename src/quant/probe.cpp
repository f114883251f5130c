#include "quant/probe.h"

#include <omp.h>

#include <set>

#include "runtime/compiled_graph.h"

namespace infera {

ActivationProbe::ActivationProbe(const Model& model, const std::vector<std::string>& values,
                                 const std::map<std::string, Shape>& input_shapes, int threads)
    : threads_(threads > 0 ? threads : omp_get_num_procs()) {
  Model probe = model;
  std::set<std::string> defined, inputs;
  for (const ValueInfo& out : probe.graph.outputs) defined.insert(out.name);
  for (const ValueInfo& in : probe.graph.inputs) inputs.insert(in.name);
  std::set<std::string> produced;
  for (const Node& n : probe.graph.nodes)
    for (const std::string& o : n.outputs) produced.insert(o);
  for (const std::string& v : values) {
    if (auto it = probe.graph.initializers.find(v); it != probe.graph.initializers.end()) {
      constants_[v] = it->second;
    } else if (inputs.count(v)) {
      probed_inputs_.push_back(v);
    } else if (!produced.count(v)) {
      throw Error(model.path + ": no value named '" + v + "'");
    } else if (defined.insert(v).second) {
      probe.graph.outputs.push_back(ValueInfo{v, DType::Undefined, {}, false});
    }
  }
  for (const ValueInfo& out : probe.graph.outputs) outputs_.push_back(out.name);
  omp_set_num_threads(threads_);  // oneDNN picks its blocking for the thread count it will run with
  graph_ = std::make_unique<CompiledGraph>(probe, input_shapes, SessionOptions{threads_, true, true});
}

ActivationProbe::~ActivationProbe() = default;

std::map<std::string, Tensor> ActivationProbe::run(const std::map<std::string, Tensor>& inputs) {
  omp_set_num_threads(threads_);
  std::vector<Tensor> results = graph_->run(inputs);
  std::map<std::string, Tensor> named = constants_;
  for (size_t i = 0; i < outputs_.size() && i < results.size(); ++i) named[outputs_[i]] = results[i];
  for (const std::string& v : probed_inputs_) named[v] = inputs.at(v);
  return named;
}

int64_t sample_elements(const Tensor& value, int64_t batch, int64_t count) {
  if (value.rank() == 0 || value.dim(0) != batch || batch == 0) return value.numel();
  return value.numel() / batch * count;
}

}  // namespace infera
