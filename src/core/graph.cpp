#include "core/graph.h"

namespace infera {

namespace {
const Attribute* find_attr(const Node& node, const std::string& n, Attribute::Kind kind) {
  auto it = node.attrs.find(n);
  if (it == node.attrs.end()) return nullptr;
  if (it->second.kind != kind) throw Error(node.label() + ": attribute '" + n + "' has the wrong type");
  return &it->second;
}
}  // namespace

int64_t Node::attr_int(const std::string& n, int64_t dflt) const {
  const Attribute* a = find_attr(*this, n, Attribute::Kind::Int);
  return a ? a->i : dflt;
}

float Node::attr_float(const std::string& n, float dflt) const {
  const Attribute* a = find_attr(*this, n, Attribute::Kind::Float);
  return a ? a->f : dflt;
}

std::string Node::attr_string(const std::string& n, const std::string& dflt) const {
  const Attribute* a = find_attr(*this, n, Attribute::Kind::String);
  return a ? a->s : dflt;
}

std::vector<int64_t> Node::attr_ints(const std::string& n, std::vector<int64_t> dflt) const {
  const Attribute* a = find_attr(*this, n, Attribute::Kind::Ints);
  return a ? a->ints : dflt;
}

std::vector<float> Node::attr_floats(const std::string& n, std::vector<float> dflt) const {
  const Attribute* a = find_attr(*this, n, Attribute::Kind::Floats);
  return a ? a->floats : dflt;
}

std::vector<std::string> Node::attr_strings(const std::string& n) const {
  const Attribute* a = find_attr(*this, n, Attribute::Kind::Strings);
  return a ? a->strings : std::vector<std::string>{};
}

const Tensor* Node::attr_tensor(const std::string& n) const {
  const Attribute* a = find_attr(*this, n, Attribute::Kind::Tensor);
  return a ? &a->t : nullptr;
}

const Graph* Node::attr_graph(const std::string& n) const {
  const Attribute* a = find_attr(*this, n, Attribute::Kind::Graph);
  return a ? a->g.get() : nullptr;
}

std::string Node::label() const {
  return "node '" + name + "' (" + (domain.empty() ? "" : domain + ".") + op_type + ")";
}

}  // namespace infera
