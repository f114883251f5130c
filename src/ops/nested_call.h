// One node of the op table run on explicit input types and values: how a fused operator's shape rule, cost and
// reference kernel are built from the ops it replaces (each op described once).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ops/op.h"

namespace infera {

class NestedCall {
 public:
  // `types`/`values`: the nested node's inputs (dtype Undefined: omitted). Failures name the fused node.
  NestedCall(const OpContext& fused, std::string_view domain, const char* op_type, int opset,
             std::map<std::string, Attribute> attrs, std::vector<TensorType> types, std::vector<const Tensor*> values)
      : types_(std::move(types)), values_(std::move(values)) {
    node_.name = fused.node().name;
    node_.op_type = op_type;
    node_.domain = std::string(domain);
    node_.opset = opset;
    node_.attrs = std::move(attrs);
    for (size_t i = 0; i < types_.size(); ++i)
      node_.inputs.push_back(types_[i].dtype == DType::Undefined ? "" : "x" + std::to_string(i));
    node_.outputs = {"y"};
    node_.def = op_table().find(domain, op_type);
    if (!node_.def) fused.fail(std::string("internal: no op ") + op_type);
    ctx_ = std::make_unique<OpContext>(node_, types_, values_);
  }
  // The context refers to node_: a NestedCall stays where it was made.
  NestedCall(const NestedCall&) = delete;
  NestedCall& operator=(const NestedCall&) = delete;

  bool infer() { return node_.def->infer(*ctx_); }
  const TensorType& output_type() const { return ctx_->output_type(0); }
  Cost cost() {
    infer();
    return node_.def->cost ? node_.def->cost(*ctx_) : default_cost(*ctx_);
  }
  // Runs the kernel; output 0.
  Tensor run() {
    const bool known = infer();
    node_.def->compute(*ctx_);
    Tensor& y = ctx_->outputs()[0];
    if (!y.defined()) {
      if (!known) ctx_->fail("produced no output");
      ctx_->output(0);
    }
    return y;
  }

 private:
  Node node_;
  std::vector<TensorType> types_;
  std::vector<const Tensor*> values_;
  std::unique_ptr<OpContext> ctx_;
};

}  // namespace infera
