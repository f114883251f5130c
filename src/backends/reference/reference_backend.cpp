#include "backends/reference/reference_backend.h"

#include <cstring>

namespace infera {

void run_reference_node(const Node& node, const std::vector<const Tensor*>& inputs, std::vector<Tensor>& outputs,
                        const SubgraphRunner* subgraphs) {
  std::vector<TensorType> types;
  types.reserve(inputs.size());
  for (const Tensor* t : inputs) types.push_back(t ? TensorType{t->dtype(), t->shape(), true} : TensorType{});
  OpContext ctx(node, std::move(types), inputs);
  ctx.set_subgraph_runner(subgraphs);
  bool shapes_known = node.def->infer(ctx);
  for (int i = 0; i < ctx.num_outputs() && size_t(i) < outputs.size(); ++i) {
    Tensor& planned = outputs[size_t(i)];
    if (!planned.defined() || !ctx.has_output(i)) continue;
    // Kernels may accumulate into their outputs: they expect them zero-filled, as ctx.output() allocates them.
    std::memset(planned.raw(), 0, planned.nbytes());
    ctx.set_output_tensor(i, planned);
  }
  node.def->compute(ctx);
  outputs.resize(std::max(outputs.size(), size_t(ctx.num_outputs())));
  for (int i = 0; i < ctx.num_outputs(); ++i) {
    if (!ctx.has_output(i)) continue;
    Tensor& produced = ctx.outputs()[size_t(i)];
    if (!produced.defined()) {
      if (!shapes_known) ctx.fail("produced no value for output " + std::to_string(i));
      ctx.output(i);
    }
    Tensor& planned = outputs[size_t(i)];
    if (!planned.defined()) {
      planned = produced;
    } else if (produced.raw() != planned.raw()) {  // the kernel returned a view or a new tensor
      if (produced.dtype() != planned.dtype() || produced.shape() != planned.shape())
        ctx.fail("output " + std::to_string(i) + " is " + shape_str(produced.shape()) + " " +
                 std::string(dtype_name(produced.dtype())) + ", planned " + shape_str(planned.shape()) + " " +
                 std::string(dtype_name(planned.dtype())));
      std::memcpy(planned.raw(), produced.raw(), planned.nbytes());
    }
  }
}

namespace {

class ReferenceKernel final : public Kernel {
 public:
  explicit ReferenceKernel(const Node& node) : node_(node) {}
  void run(const std::vector<const Tensor*>& inputs, const std::vector<Tensor*>& outputs) override {
    std::vector<Tensor> outs;
    outs.reserve(outputs.size());
    for (Tensor* t : outputs) outs.push_back(t ? *t : Tensor());
    run_reference_node(node_, inputs, outs);
  }
  std::string describe() const override { return "reference " + node_.op_type; }

 private:
  const Node& node_;
};

// Reshape-like ops whose output is the input's bytes under another shape: a view, no copy, no storage.
class ViewKernel final : public Kernel {
 public:
  void run(const std::vector<const Tensor*>& inputs, const std::vector<Tensor*>& outputs) override {}
  bool view() const override { return true; }
  std::string describe() const override { return "view"; }
};

class ReferenceBackend final : public Backend {
 public:
  std::string_view name() const override { return "reference"; }
  std::unique_ptr<Kernel> compile(const KernelRequest& request) const override {
    for (const ValueDesc& in : request.inputs)
      if (!in.layout.plain()) return nullptr;
    if (request.node.def->view && !request.inputs.empty() && request.outputs.size() == 1 &&
        request.inputs[0].type.dtype == request.outputs[0].dtype)
      return std::make_unique<ViewKernel>();
    return std::make_unique<ReferenceKernel>(request.node);
  }
};

}  // namespace

const Backend& reference_backend() {
  static const ReferenceBackend backend;
  return backend;
}

}  // namespace infera
