#include "ops/op.h"

namespace infera {

OpContext::OpContext(const Node& node, std::vector<TensorType> input_types, std::vector<const Tensor*> input_values)
    : node_(node),
      input_types_(std::move(input_types)),
      input_values_(std::move(input_values)),
      output_types_(node.outputs.size()),
      outputs_(node.outputs.size()) {}

bool OpContext::has_input(int i) const {
  return i >= 0 && i < num_inputs() && !node_.inputs[size_t(i)].empty();
}

const TensorType& OpContext::input_type(int i) const {
  if (!has_input(i)) fail("input " + std::to_string(i) + " is required but missing");
  return input_types_[size_t(i)];
}

DType OpContext::dtype(int i) const { return input_type(i).dtype; }

const Shape& OpContext::shape(int i) const { return input_type(i).shape; }

const Tensor* OpContext::value(int i) const { return has_input(i) ? input_values_[size_t(i)] : nullptr; }

const Tensor& OpContext::input(int i) const {
  const Tensor* t = value(i);
  if (!t) fail("input " + std::to_string(i) + " is required but missing");
  return *t;
}

void OpContext::set_output(int i, DType dtype, Shape shape) {
  if (i >= num_outputs()) return;  // optional trailing outputs the model does not use
  shape_numel(shape);              // rejects negative dims and overflow early, with the shape in the message
  output_types_[size_t(i)] = TensorType{dtype, std::move(shape), true};
}

const TensorType& OpContext::output_type(int i) const { return output_types_.at(size_t(i)); }

Tensor& OpContext::output(int i) {
  if (i >= num_outputs()) fail("output " + std::to_string(i) + " does not exist");
  Tensor& t = outputs_[size_t(i)];
  if (!t.defined()) {
    const TensorType& type = output_types_[size_t(i)];
    if (!type.shape_known) fail("output " + std::to_string(i) + " has no inferred shape");
    t = Tensor(type.dtype, type.shape);
  }
  return t;
}

Tensor& OpContext::output(int i, DType dtype, Shape shape) {
  if (i >= num_outputs()) fail("output " + std::to_string(i) + " does not exist");
  outputs_[size_t(i)] = Tensor(dtype, shape);
  output_types_[size_t(i)] = TensorType{dtype, std::move(shape), true};
  return outputs_[size_t(i)];
}

void OpContext::set_output_tensor(int i, Tensor t) {
  if (i >= num_outputs()) return;
  output_types_[size_t(i)] = TensorType{t.dtype(), t.shape(), true};
  outputs_[size_t(i)] = std::move(t);
}

std::vector<Tensor> OpContext::run_subgraph(const Graph& g, const std::vector<Tensor>& inputs) const {
  if (!runner_) fail("subgraphs cannot run in this context");
  return (*runner_)(g, inputs);
}

void OpContext::fail(const std::string& reason) const { throw Error(node_.label() + ": " + reason); }

void OpTable::add(const OpDef& def) { defs_.push_back(def); }

const OpDef* OpTable::find(std::string_view domain, std::string_view name) const {
  if (domain == "ai.onnx") domain = "";
  for (const OpDef& d : defs_)
    if (d.name == name && d.domain == domain) return &d;
  return nullptr;
}

double type_bytes(const TensorType& t) {
  if (!t.shape_known) return 0;
  return double(shape_numel(t.shape)) * double(dtype_size(t.dtype));
}

Cost elementwise_cost(const OpContext& ctx, double flops_per_element) {
  Cost c;
  for (int i = 0; i < ctx.num_inputs(); ++i)
    if (ctx.has_input(i)) c.bytes_read += type_bytes(ctx.input_type(i));
  for (int i = 0; i < ctx.num_outputs(); ++i) {
    if (!ctx.has_output(i)) continue;
    const TensorType& t = ctx.output_type(i);
    c.bytes_written += type_bytes(t);
    if (t.shape_known) c.flops += flops_per_element * double(shape_numel(t.shape));
  }
  return c;
}

Cost default_cost(const OpContext& ctx) { return elementwise_cost(ctx, 1.0); }

}  // namespace infera
