// Models built node by node in tests: float32 inputs (unless told) with fixed shapes, initializers, nodes, outputs.
#pragma once

#include <string>
#include <vector>

#include "core/graph.h"
#include "op_harness.h"

namespace infera::harness {

struct ModelBuilder {
  Model m;
  explicit ModelBuilder(int opset = 17) {
    m.path = "test";
    m.ir_version = 8;
    m.opsets[""] = opset;
  }
  ModelBuilder& input(const std::string& name, const Shape& shape, DType dtype = DType::Float32) {
    ValueInfo v{name, dtype, {}, true};
    for (int64_t d : shape) v.dims.push_back(Dim{d, ""});
    m.graph.inputs.push_back(v);
    return *this;
  }
  ModelBuilder& init(const std::string& name, Tensor t) {
    m.graph.initializers[name] = std::move(t);
    return *this;
  }
  ModelBuilder& node(const std::string& op, std::vector<std::string> inputs, std::vector<std::string> outputs,
                     Attrs attrs = {}) {
    Node n;
    n.name = outputs[0] + "_node";
    n.op_type = op;
    n.inputs = std::move(inputs);
    n.outputs = std::move(outputs);
    n.attrs = std::move(attrs);
    m.graph.nodes.push_back(std::move(n));
    return *this;
  }
  ModelBuilder& output(const std::string& name) {
    m.graph.outputs.push_back(ValueInfo{name, DType::Float32, {}, false});
    return *this;
  }
};

}  // namespace infera::harness
