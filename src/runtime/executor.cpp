#include "runtime/executor.h"

#include <new>

#include "backends/reference/reference_backend.h"
#include "ops/op.h"

namespace infera {

const Tensor* Scope::find(const std::string& name) const {
  for (const Scope* s = this; s; s = s->parent) {
    auto it = s->values.find(name);
    if (it != s->values.end()) return &it->second;
    auto init = s->graph->initializers.find(name);
    if (init != s->graph->initializers.end()) return &init->second;
  }
  return nullptr;
}

std::vector<Tensor> Executor::run(const Graph& g, const std::vector<Tensor>& inputs, const Scope* parent) const {
  Scope scope{&g, parent, {}};
  if (inputs.size() > g.inputs.size())
    throw Error("subgraph '" + g.name + "' takes " + std::to_string(g.inputs.size()) + " inputs, got " +
                std::to_string(inputs.size()));
  for (size_t i = 0; i < inputs.size(); ++i) scope.values[g.inputs[i].name] = inputs[i];
  return run_scope(g, scope);
}

std::vector<Tensor> Executor::run(const Graph& g, std::unordered_map<std::string, Tensor> inputs) const {
  Scope scope{&g, nullptr, std::move(inputs)};
  return run_scope(g, scope);
}

std::vector<Tensor> Executor::run_scope(const Graph& g, Scope& scope) const {
  for (const NodeStep& step : plan_.plan(g).steps) {
    run_node(*step.node, scope);
    for (const std::string& name : step.frees) scope.values.erase(name);
  }
  std::vector<Tensor> outputs;
  for (const ValueInfo& out : g.outputs) {
    const Tensor* t = scope.find(out.name);
    if (!t) throw Error(model_.path + ": graph output '" + out.name + "' was not computed");
    outputs.push_back(*t);
  }
  return outputs;
}

void Executor::run_node(const Node& node, Scope& scope) const {
  std::vector<const Tensor*> values;
  for (const std::string& in : node.inputs) {
    const Tensor* t = in.empty() ? nullptr : scope.find(in);
    if (!in.empty() && !t)
      throw Error(model_.path + ": " + node.label() + ": input '" + in + "' has no value");
    values.push_back(t);
  }
  SubgraphRunner runner = [&](const Graph& sub, const std::vector<Tensor>& ins) { return run(sub, ins, &scope); };
  std::vector<Tensor> outputs;
  run_located(model_.path, node, [&] { run_reference_node(node, values, outputs, &runner); });
  for (size_t i = 0; i < node.outputs.size() && i < outputs.size(); ++i)
    if (!node.outputs[i].empty()) scope.values[node.outputs[i]] = outputs[i];
}

void run_located(const std::string& file, const Node& node, const std::function<void()>& fn) {
  try {
    fn();
  } catch (const std::bad_alloc&) {
    throw Error(file + ": " + node.label() + ": out of memory");
  } catch (const Error& e) {
    std::string msg = e.what();
    if (msg.rfind(file + ":", 0) == 0) throw;  // already located (e.g. inside a subgraph)
    if (msg.rfind("node '", 0) != 0) msg = node.label() + ": " + msg;
    throw Error(file + ": " + msg);
  } catch (const std::exception& e) {  // a kernel's std::length_error, std::out_of_range, ...: still located
    throw Error(file + ": " + node.label() + ": " + e.what());
  }
}

}  // namespace infera
