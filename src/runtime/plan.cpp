#include "runtime/plan.h"

#include <unordered_map>

#include "ops/op.h"

namespace infera {

ModelPlan::ModelPlan(Model& model, bool strict) : strict_(strict) {
  plan_graph(model, model.graph, {});
  if (strict_ && !unsupported_.empty()) {
    std::string msg = model.path + ": unsupported operator";
    msg += unsupported_.size() > 1 ? "s: " : ": ";
    for (size_t i = 0; i < unsupported_.size() && i < 10; ++i)
      msg += (i ? ", " : "") + unsupported_[i].node->label();
    if (unsupported_.size() > 10) msg += ", and " + std::to_string(unsupported_.size() - 10) + " more";
    throw Error(msg);
  }
}

const GraphPlan& ModelPlan::plan(const Graph& g) const {
  auto it = plans_.find(&g);
  if (it == plans_.end()) throw Error("internal: graph '" + g.name + "' was not planned");
  return it->second;
}

void ModelPlan::plan_graph(const Model& model, Graph& g, const std::set<std::string>& outer) {
  const std::string& file = model.path;
  auto where = [&](const Node& n) { return file + ": " + n.label() + ": "; };

  // Names defined in this graph before any node runs.
  std::set<std::string> defined;
  for (const auto& [name, t] : g.initializers) defined.insert(name);
  for (const ValueInfo& v : g.inputs) defined.insert(v.name);

  // Which node produces each name.
  std::unordered_map<std::string, size_t> producer;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    for (const std::string& out : g.nodes[i].outputs) {
      if (out.empty()) continue;
      if (defined.count(out) || !producer.emplace(out, i).second)
        throw Error(where(g.nodes[i]) + "output '" + out + "' is defined more than once");
    }
  }
  // Every name visible inside this graph's subgraphs.
  std::set<std::string> visible = outer;
  visible.insert(defined.begin(), defined.end());
  for (const auto& [name, i] : producer) visible.insert(name);

  GraphPlan plan;
  // Resolve ops and plan subgraphs; gather what each node reads (explicit inputs and subgraph captures).
  std::vector<std::vector<std::string>> reads(g.nodes.size());
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& n = g.nodes[i];
    auto opset = model.opsets.find(n.domain);
    if (opset == model.opsets.end())
      throw Error(where(n) + "domain '" + n.domain + "' is not imported by the model");
    n.opset = int(opset->second);
    n.def = op_table().find(n.domain, n.op_type);
    if (!n.def) unsupported_.push_back({&n});
    for (const std::string& in : n.inputs)
      if (!in.empty()) reads[i].push_back(in);
    for (auto& [aname, attr] : n.attrs) {
      std::vector<Graph*> subs;
      if (attr.g) subs.push_back(attr.g.get());
      for (auto& sg : attr.graphs) subs.push_back(sg.get());
      for (Graph* sg : subs) {
        plan_graph(model, *sg, visible);
        for (const std::string& c : plans_.at(sg).captures) reads[i].push_back(c);
      }
    }
  }

  // Order nodes so that every read comes after its producer (Kahn's algorithm, stable in file order).
  std::vector<int> waiting(g.nodes.size(), 0);
  std::vector<std::vector<size_t>> consumers(g.nodes.size());
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    for (const std::string& r : reads[i]) {
      auto p = producer.find(r);
      if (p != producer.end()) {
        if (p->second == i) throw Error(where(g.nodes[i]) + "reads its own output '" + r + "'");
        ++waiting[i];
        consumers[p->second].push_back(i);
      } else if (!defined.count(r)) {
        if (!outer.count(r))
          throw Error(where(g.nodes[i]) + "input '" + r + "' is not produced by any node, initializer or input");
        plan.captures.insert(r);
      }
    }
  }
  std::vector<size_t> order;
  std::set<size_t> ready;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (waiting[i] == 0) ready.insert(i);
  while (!ready.empty()) {
    size_t i = *ready.begin();
    ready.erase(ready.begin());
    order.push_back(i);
    for (size_t c : consumers[i])
      if (--waiting[c] == 0) ready.insert(c);
  }
  if (order.size() != g.nodes.size()) {
    for (size_t i = 0; i < g.nodes.size(); ++i)
      if (waiting[i] > 0) throw Error(where(g.nodes[i]) + "is part of a cycle");
  }
  for (const ValueInfo& out : g.outputs) {
    if (!defined.count(out.name) && !producer.count(out.name)) {
      if (!outer.count(out.name))
        throw Error(file + ": graph output '" + out.name + "' is not produced by any node, initializer or input");
      plan.captures.insert(out.name);
    }
  }

  // Lifetimes: a value produced here (or a graph input) is freed after its last reader, unless it is an output.
  std::set<std::string> keep;
  for (const ValueInfo& out : g.outputs) keep.insert(out.name);
  std::unordered_map<std::string, size_t> last_reader;
  for (size_t k = 0; k < order.size(); ++k)
    for (const std::string& r : reads[order[k]]) last_reader[r] = k;
  plan.steps.resize(order.size());
  for (size_t k = 0; k < order.size(); ++k) plan.steps[k].node = &g.nodes[order[k]];
  for (const auto& [name, k] : last_reader) {
    bool local = producer.count(name) || (defined.count(name) && !g.initializers.count(name));
    if (local && !keep.count(name)) plan.steps[k].frees.push_back(name);
  }
  for (size_t k = 0; k < order.size(); ++k)  // outputs nobody reads are dropped as soon as they are made
    for (const std::string& out : g.nodes[order[k]].outputs)
      if (!out.empty() && !last_reader.count(out) && !keep.count(out)) plan.steps[k].frees.push_back(out);
  plans_[&g] = std::move(plan);
}

}  // namespace infera
