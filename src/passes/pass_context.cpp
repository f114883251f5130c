#include "passes/pass_context.h"

#include <algorithm>

#include "runtime/plan.h"
#include "runtime/static_analysis.h"

namespace infera {
namespace {

template <class F>
void for_each_subgraph(Node& n, F&& f) {
  for (auto& [name, attr] : n.attrs) {
    if (attr.g) f(*attr.g);
    for (auto& g : attr.graphs) f(*g);
  }
}

// Every name a subgraph mentions (node inputs and graph outputs, recursively): a superset of what it captures,
// which is enough, since names are unique across scopes.
void subgraph_reads(Node& n, std::set<std::string>& out) {
  for_each_subgraph(n, [&](Graph& g) {
    for (Node& inner : g.nodes) {
      for (const std::string& in : inner.inputs) out.insert(in);
      subgraph_reads(inner, out);
    }
    for (const ValueInfo& o : g.outputs) out.insert(o.name);
  });
}

bool mentions(const Graph& g, const std::string& name) {
  for (const Node& n : g.nodes) {
    if (std::find(n.inputs.begin(), n.inputs.end(), name) != n.inputs.end()) return true;
    for (const auto& [aname, attr] : n.attrs) {
      if (attr.g && mentions(*attr.g, name)) return true;
      for (const auto& sub : attr.graphs)
        if (mentions(*sub, name)) return true;
    }
  }
  return std::any_of(g.outputs.begin(), g.outputs.end(), [&](const ValueInfo& o) { return o.name == name; });
}

// Renames reads of `from`; subgraphs are shared between copies of a model, so one that changes is copied first.
void rename_reads(Graph& g, const std::string& from, const std::string& to, bool outputs_too) {
  auto rename_in = [&](std::shared_ptr<Graph>& sub) {
    if (!mentions(*sub, from)) return;
    sub = std::make_shared<Graph>(*sub);
    rename_reads(*sub, from, to, true);
  };
  for (Node& n : g.nodes) {
    for (std::string& in : n.inputs)
      if (in == from) in = to;
    for (auto& [name, attr] : n.attrs) {
      if (attr.g) rename_in(attr.g);
      for (auto& sub : attr.graphs) rename_in(sub);
    }
  }
  if (outputs_too)
    for (ValueInfo& o : g.outputs)
      if (o.name == from) o.name = to;
}

}  // namespace

PassContext::PassContext(Model& model, const std::map<std::string, Shape>& input_shapes)
    : model_(model), input_shapes_(input_shapes) {
  commit();
}

void PassContext::commit() {
  std::vector<Node>& nodes = model_.graph.nodes;
  std::vector<Node> kept;
  kept.reserve(nodes.size() + added_.size());
  for (size_t i = 0; i < nodes.size(); ++i)
    if (i >= removed_.size() || !removed_[i]) kept.push_back(std::move(nodes[i]));
  for (Node& n : added_) kept.push_back(std::move(n));
  for (const Node& n : kept)  // the fused ops' domain, so that plans resolve them
    if (n.domain == "infera") model_.opsets.emplace("infera", 1);
  nodes = std::move(kept);
  added_.clear();
  removed_.assign(nodes.size(), false);
  index();
  analyze();
}

void PassContext::index() {
  producer_.clear();
  consumers_.clear();
  graph_outputs_.clear();
  names_.clear();
  Graph& g = model_.graph;
  for (const ValueInfo& v : g.inputs) names_.insert(v.name);
  for (const auto& [name, t] : g.initializers) names_.insert(name);
  for (const ValueInfo& v : g.outputs) graph_outputs_.insert(v.name);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    Node& n = g.nodes[i];
    std::set<std::string> reads(n.inputs.begin(), n.inputs.end());
    subgraph_reads(n, reads);
    names_.insert(reads.begin(), reads.end());
    for (const std::string& r : reads)
      if (!r.empty()) consumers_[r].push_back(i);
    for (const std::string& o : n.outputs)
      if (!o.empty()) {
        producer_[o] = int(i);
        names_.insert(o);
      }
    names_.insert(n.name);
  }
}

void PassContext::analyze() {
  ModelPlan plan(model_, /*strict=*/false);
  GraphAnalysis a = analyze_graph(model_, plan, input_shapes_);
  types_ = std::move(a.values);
  folded_.clear();
  for (auto& [name, t] : a.constants)
    if (!model_.graph.initializers.count(name)) folded_[name] = std::move(t);
}

int PassContext::producer(const std::string& value) const {
  auto it = producer_.find(value);
  return it == producer_.end() || removed_[size_t(it->second)] ? -1 : it->second;
}

std::vector<size_t> PassContext::consumers(const std::string& value) const {
  std::vector<size_t> live;
  auto it = consumers_.find(value);
  if (it != consumers_.end())
    for (size_t i : it->second)
      if (!removed_[i]) live.push_back(i);
  return live;
}

bool PassContext::is_graph_output(const std::string& value) const { return graph_outputs_.count(value) != 0; }

bool PassContext::single_use(const std::string& value) const {
  return !is_graph_output(value) && consumers(value).size() == 1;
}

int PassContext::fusable_producer(const std::string& value, const std::string& op_type) const {
  const int p = producer(value);
  if (p < 0 || !single_use(value)) return -1;
  const Node& n = model_.graph.nodes[size_t(p)];
  return n.op_type == op_type && n.domain.empty() && n.outputs[0] == value ? p : -1;
}

int PassContext::sole_consumer(const std::string& value, const std::string& op_type) const {
  if (!single_use(value)) return -1;
  const size_t c = consumers(value)[0];
  const Node& n = model_.graph.nodes[c];
  return n.op_type == op_type && n.domain.empty() ? int(c) : -1;
}

const TensorType* PassContext::type(const std::string& value) const {
  auto it = types_.find(value);
  if (it != types_.end() && it->second.shape_known) return &it->second;
  return nullptr;
}

const Tensor* PassContext::constant(const std::string& value) const {
  auto it = model_.graph.initializers.find(value);
  return it == model_.graph.initializers.end() ? nullptr : &it->second;
}

bool PassContext::scalar_constant(const std::string& value, float& out) const {
  const Tensor* t = constant(value);
  if (!t || t->numel() != 1 || !dtype_is_float(t->dtype())) return false;
  out = float(t->as_double(0));
  return true;
}

std::string PassContext::fresh_name(const std::string& base) {
  std::string name = base;
  for (int k = 1; names_.count(name); ++k) name = base + "_" + std::to_string(k);
  names_.insert(name);
  return name;
}

std::string PassContext::add_initializer(const std::string& base, Tensor value) {
  std::string name = fresh_name(base);
  TensorType t{value.dtype(), value.shape(), true};
  model_.graph.initializers[name] = std::move(value);
  types_[name] = t;
  return name;
}

void PassContext::replace_uses(std::string from, std::string to) {
  rename_reads(model_.graph, from, to, false);
  auto it = consumers_.find(from);
  if (it == consumers_.end()) return;
  std::vector<size_t>& dst = consumers_[to];
  dst.insert(dst.end(), it->second.begin(), it->second.end());
  consumers_.erase(from);
}

void PassContext::set_input(size_t i, size_t k, const std::string& value) {
  Node& n = model_.graph.nodes[i];
  if (k >= n.inputs.size()) n.inputs.resize(k + 1);
  const std::string old = n.inputs[k];
  n.inputs[k] = value;
  if (!old.empty() && std::count(n.inputs.begin(), n.inputs.end(), old) == 0) {
    std::vector<size_t>& c = consumers_[old];
    c.erase(std::remove(c.begin(), c.end(), i), c.end());
  }
  if (!value.empty()) {
    std::vector<size_t>& c = consumers_[value];
    if (std::find(c.begin(), c.end(), i) == c.end()) c.push_back(i);
  }
}

void PassContext::set_output(size_t i, size_t k, const std::string& value) {
  Node& n = model_.graph.nodes[i];
  auto t = types_.find(n.outputs[k]);
  if (t != types_.end() && !types_.count(value)) types_[value] = t->second;
  producer_.erase(n.outputs[k]);
  n.outputs[k] = value;
  if (!value.empty()) producer_[value] = int(i);
}

bool PassContext::bypass(size_t i, std::string in, std::string out) {
  if (!is_graph_output(out)) {
    replace_uses(out, in);
    remove(i);
    return true;
  }
  const int p = producer(in);
  if (p < 0 || is_graph_output(in)) return false;
  // `out` takes over `in`: its producer now writes `out`, and every reader of `in` reads `out`.
  for (std::string& o : model_.graph.nodes[size_t(p)].outputs)
    if (o == in) o = out;
  remove(i);
  replace_uses(in, out);
  producer_[out] = p;
  producer_.erase(in);
  auto t = types_.find(in);
  if (t != types_.end()) types_[out] = t->second;
  return true;
}

Node make_node(const std::string& name, const std::string& op_type, const std::string& domain,
               std::vector<std::string> inputs, std::vector<std::string> outputs) {
  Node n;
  n.name = name;
  n.op_type = op_type;
  n.domain = domain;
  n.inputs = std::move(inputs);
  n.outputs = std::move(outputs);
  return n;
}

Attribute int_attribute(int64_t v) {
  Attribute a;
  a.kind = Attribute::Kind::Int;
  a.i = v;
  return a;
}

Attribute float_attribute(float v) {
  Attribute a;
  a.kind = Attribute::Kind::Float;
  a.f = v;
  return a;
}

Attribute string_attribute(std::string v) {
  Attribute a;
  a.kind = Attribute::Kind::String;
  a.s = std::move(v);
  return a;
}

Attribute floats_attribute(std::vector<float> v) {
  Attribute a;
  a.kind = Attribute::Kind::Floats;
  a.floats = std::move(v);
  return a;
}

Attribute ints_attribute(std::vector<int64_t> v) {
  Attribute a;
  a.kind = Attribute::Kind::Ints;
  a.ints = std::move(v);
  return a;
}

std::vector<Tensor> evaluate_node(const Node& node, const std::vector<const Tensor*>& inputs) {
  if (!node.def) throw Error(node.label() + ": not resolved against the op table");
  std::vector<TensorType> types;
  for (const Tensor* t : inputs) types.push_back(t ? TensorType{t->dtype(), t->shape(), true} : TensorType{});
  OpContext ctx(node, std::move(types), inputs);
  const bool known = node.def->infer(ctx);
  node.def->compute(ctx);
  for (int k = 0; k < ctx.num_outputs(); ++k) {
    if (!ctx.has_output(k) || ctx.outputs()[size_t(k)].defined()) continue;
    if (!known) ctx.fail("produced no value for output " + std::to_string(k));
    ctx.output(k);
  }
  return ctx.outputs();
}

int rewrite_each_node(PassContext& ctx, bool (*rewrite)(PassContext&, size_t)) {
  int count = 0;
  for (size_t i = 0; i < ctx.size(); ++i)
    if (!ctx.removed(i) && rewrite(ctx, i)) ++count;
  return count;
}

}  // namespace infera
