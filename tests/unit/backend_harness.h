// Running one node through a fast backend's kernel and through the reference kernel (the op table's compute), for
// the kernel tests of each backend (cpu_kernels_test.cpp, dnnl_kernels_test.cpp):
//
//   Case c{"Conv", {x, w, b}, attrs, 21, {"y"}, {1, 2}};   inputs 1 and 2 are constants the kernel sees
//   backend.compile(c.request(node, c.output_types()))     the kernel, or nullptr when the backend declines
//   c.reference()                                          every output of the reference kernel
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "op_harness.h"

namespace infera::harness {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

// One node with its inputs. An undefined input is an omitted optional input; `layouts` (one per input, missing
// ones plain) says how each input's storage is arranged when a kernel reads it.
struct Case {
  std::string op;
  std::vector<Tensor> inputs;
  Attrs attrs = {};
  int opset = 21;
  std::vector<std::string> outputs = {"y"};
  std::vector<int> constants = {};  // inputs whose value the kernel may see at compile time
  std::string domain = "";
  std::vector<Layout> layouts = {};

  Node node() const {
    Node n;
    n.name = "n";
    n.op_type = op;
    n.domain = domain;
    n.opset = opset;
    for (size_t k = 0; k < inputs.size(); ++k) n.inputs.push_back(inputs[k].defined() ? "x" + std::to_string(k) : "");
    n.outputs = outputs;
    n.attrs = attrs;
    n.def = op_table().find(domain, op);
    return n;
  }
  std::vector<TensorType> output_types() const {
    std::vector<int> known;
    for (size_t k = 0; k < inputs.size(); ++k) known.push_back(int(k));
    return OpCall(op, opset, inputs, int(outputs.size())).domain(domain).attrs(attrs).output_names(outputs).infer(known).types;
  }
  // What a backend is asked for `node` (which must outlive the request).
  KernelRequest request(const Node& node, std::vector<TensorType> types) const {
    std::vector<ValueDesc> descs;
    for (size_t k = 0; k < inputs.size(); ++k) {
      ValueDesc d;
      if (inputs[k].defined()) d.type = TensorType{inputs[k].dtype(), inputs[k].shape(), true};
      if (k < layouts.size()) d.layout = layouts[k];
      if (std::find(constants.begin(), constants.end(), int(k)) != constants.end()) d.constant = &inputs[k];
      descs.push_back(d);
    }
    return KernelRequest{node, descs, std::move(types)};
  }
  std::vector<Tensor> reference() const { return run_node(op, inputs, attrs, opset, outputs, domain).outputs; }
};

// Uniform values in [-scale, scale) with a few edge values mixed in when `edges`.
inline Tensor values(Shape shape, unsigned seed, float scale = 1.0f, bool edges = false) {
  Tensor t = random_tensor(std::move(shape), seed);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] *= scale;
  if (edges) {
    const float special[] = {0.0f, -0.0f, kInf, -kInf, kNaN, 1e-30f, -88.5f, 90.0f, -120.0f};
    for (size_t k = 0; k < std::size(special) && int64_t(k * 7) < t.numel(); ++k) p[k * 7] = special[k];
  }
  return t;
}

}  // namespace infera::harness
