// Running single operators in unit tests, the way the runtime's Executor::run_node does: build the Node, give every
// present input its type and value, infer(), compute(), then allocate any declared output compute() left unset.
//
//   run("Relu", {x})                                   the one output of a one-output node (opset 21, ai.onnx)
//   run("QLinearAdd", ins, attrs, 1, "com.microsoft")  ... in another domain / opset
//   run_all("LSTM", ins, attrs, 14, {"y", "", "y_c"})  every declared output; "" marks an omitted optional output
//   run_node(...)                                      the same, with whether infer() knew the output shapes
//   OpCall("TopK", 11, {x, k}, 2).i("axis", 0)()       builder form, for chained attributes and infer-only checks
//
// An undefined Tensor() in the inputs is an omitted optional input. Subgraphs (If/Loop bodies) cannot run here: test
// those through a Session.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "ops/op.h"

namespace infera::harness {

using Attrs = std::map<std::string, Attribute>;

inline Attribute int_attr(int64_t v) {
  Attribute a;
  a.kind = Attribute::Kind::Int;
  a.i = v;
  return a;
}
inline Attribute float_attr(float v) {
  Attribute a;
  a.kind = Attribute::Kind::Float;
  a.f = v;
  return a;
}
inline Attribute string_attr(std::string v) {
  Attribute a;
  a.kind = Attribute::Kind::String;
  a.s = std::move(v);
  return a;
}
inline Attribute ints_attr(std::vector<int64_t> v) {
  Attribute a;
  a.kind = Attribute::Kind::Ints;
  a.ints = std::move(v);
  return a;
}
inline Attribute floats_attr(std::vector<float> v) {
  Attribute a;
  a.kind = Attribute::Kind::Floats;
  a.floats = std::move(v);
  return a;
}
inline Attribute strings_attr(std::vector<std::string> v) {
  Attribute a;
  a.kind = Attribute::Kind::Strings;
  a.strings = std::move(v);
  return a;
}
inline Attribute tensor_attr(Tensor v) {
  Attribute a;
  a.kind = Attribute::Kind::Tensor;
  a.t = std::move(v);
  return a;
}

struct Inferred {
  bool shapes_known;              // what infer() returned: false when an output shape depends on unknown data
  std::vector<TensorType> types;  // the declared output types (empty when !shapes_known)
};

struct RunResult {
  bool shapes_known;  // what infer() returned
  std::vector<Tensor> outputs;
};

// One node call. Outputs are named "y", "y1", ... unless set with output_names().
class OpCall {
 public:
  OpCall(std::string op, int opset, std::vector<Tensor> inputs, int outputs = 1) : inputs_(std::move(inputs)) {
    node_.name = "n";
    node_.op_type = std::move(op);
    node_.opset = opset;
    for (size_t k = 0; k < inputs_.size(); ++k) node_.inputs.push_back(inputs_[k].defined() ? "x" + std::to_string(k) : "");
    for (int k = 0; k < outputs; ++k) node_.outputs.push_back(k == 0 ? "y" : "y" + std::to_string(k));
  }

  OpCall& domain(std::string d) {
    node_.domain = std::move(d);
    return *this;
  }
  OpCall& output_names(std::vector<std::string> names) {
    node_.outputs = std::move(names);
    return *this;
  }
  OpCall& attrs(Attrs a) {
    for (auto& [name, value] : a) node_.attrs[name] = std::move(value);
    return *this;
  }
  OpCall& attr(const std::string& name, Attribute a) {
    node_.attrs[name] = std::move(a);
    return *this;
  }
  OpCall& i(const std::string& name, int64_t v) { return attr(name, int_attr(v)); }
  OpCall& f(const std::string& name, float v) { return attr(name, float_attr(v)); }
  OpCall& s(const std::string& name, std::string v) { return attr(name, string_attr(std::move(v))); }
  OpCall& ints(const std::string& name, std::vector<int64_t> v) { return attr(name, ints_attr(std::move(v))); }
  OpCall& floats(const std::string& name, std::vector<float> v) { return attr(name, floats_attr(std::move(v))); }

  // Static inference only, with values given for the inputs listed in `known` (the others: types only).
  Inferred infer(const std::vector<int>& known) {
    OpContext ctx = context([&](size_t k) { return std::find(known.begin(), known.end(), int(k)) != known.end(); });
    Inferred r{def().infer(ctx), {}};
    for (int k = 0; r.shapes_known && k < ctx.num_outputs(); ++k) r.types.push_back(ctx.output_type(k));
    return r;
  }

  RunResult run() {
    OpContext ctx = context([](size_t) { return true; });
    const bool known = def().infer(ctx);
    def().compute(ctx);
    for (int k = 0; k < ctx.num_outputs(); ++k) {
      if (!ctx.has_output(k) || ctx.outputs()[size_t(k)].defined()) continue;
      if (!known) ctx.fail("produced no value for output " + std::to_string(k));
      ctx.output(k);
    }
    return {known, ctx.outputs()};
  }
  std::vector<Tensor> operator()() { return run().outputs; }

 private:
  const OpDef& def() {
    if (!node_.def) node_.def = op_table().find(node_.domain, node_.op_type);
    if (!node_.def) throw Error("no op " + node_.op_type);
    return *node_.def;
  }
  template <class HasValue>
  OpContext context(HasValue has_value) const {
    std::vector<TensorType> types;
    std::vector<const Tensor*> values;
    for (size_t k = 0; k < inputs_.size(); ++k) {
      const Tensor& t = inputs_[k];
      types.push_back(t.defined() ? TensorType{t.dtype(), t.shape(), true} : TensorType{});
      values.push_back(t.defined() && has_value(k) ? &t : nullptr);
    }
    return OpContext(node_, std::move(types), std::move(values));
  }

  Node node_;
  std::vector<Tensor> inputs_;  // an undefined Tensor marks an omitted optional input
};

inline RunResult run_node(const std::string& op, std::vector<Tensor> inputs, Attrs attrs = {}, int opset = 21,
                          std::vector<std::string> outputs = {"y"}, const std::string& domain = "") {
  return OpCall(op, opset, std::move(inputs)).domain(domain).attrs(std::move(attrs)).output_names(std::move(outputs)).run();
}

inline std::vector<Tensor> run_all(const std::string& op, std::vector<Tensor> inputs, Attrs attrs = {}, int opset = 21,
                                   std::vector<std::string> outputs = {"y"}, const std::string& domain = "") {
  return run_node(op, std::move(inputs), std::move(attrs), opset, std::move(outputs), domain).outputs;
}

inline Tensor run(const std::string& op, std::vector<Tensor> inputs, Attrs attrs = {}, int opset = 21,
                  const std::string& domain = "") {
  return run_all(op, std::move(inputs), std::move(attrs), opset, {"y"}, domain)[0];
}

template <class T>
std::vector<T> values_of(const Tensor& t) {
  return std::vector<T>(t.data<T>(), t.data<T>() + t.numel());
}

// Float32 tensor of uniform values in [-1, 1), reproducible from the seed.
inline Tensor random_tensor(Shape shape, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(size_t(shape_numel(shape)));
  for (float& x : v) x = dist(rng);
  return Tensor::from_vector<float>(std::move(shape), v);
}

// A float32 tensor's elements, each within tol of want.
inline void expect_near(const Tensor& got, const std::vector<float>& want, float tol = 1e-4f) {
  ASSERT_EQ(got.numel(), int64_t(want.size()));
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got.data<float>()[i], want[i], tol) << "element " << i;
}

}  // namespace infera::harness
