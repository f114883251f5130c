#include "runtime/static_analysis.h"

namespace infera {

namespace {
constexpr int64_t kMaxFoldElements = 1 << 16;  // constant sub-graphs are small (shapes, indices)
constexpr size_t kMaxShapeOnlyBytes = size_t(256) << 20;
}  // namespace

Shape resolve_input_shape(const ValueInfo& info, const std::map<std::string, Shape>& input_shapes) {
  auto given = input_shapes.find(info.name);
  if (given != input_shapes.end()) return given->second;
  Shape s;
  for (const Dim& d : info.dims) s.push_back(d.fixed() ? d.value : 1);
  return s;
}

GraphAnalysis analyze_graph(const Model& model, const ModelPlan& plan,
                            const std::map<std::string, Shape>& input_shapes) {
  const Graph& g = model.graph;
  GraphAnalysis result;
  std::map<std::string, Tensor> constants;
  for (const auto& [name, t] : g.initializers) {
    result.values[name] = TensorType{t.dtype(), t.shape(), true};
    constants[name] = t;
  }
  for (const ValueInfo& in : g.inputs)
    result.values[in.name] = TensorType{in.dtype, resolve_input_shape(in, input_shapes), in.has_shape};

  for (const NodeStep& step : plan.plan(g).steps) {
    const Node& node = *step.node;
    NodeAnalysis na;
    na.node = &node;
    std::vector<TensorType> types;
    std::vector<const Tensor*> values;
    bool inputs_known = node.def != nullptr, all_constant = true;
    std::vector<Tensor> placeholders;
    placeholders.reserve(node.inputs.size());
    for (const std::string& in : node.inputs) {
      auto t = in.empty() ? result.values.end() : result.values.find(in);
      TensorType type = t == result.values.end() ? TensorType{} : t->second;
      if (!in.empty() && !type.shape_known) inputs_known = false;
      auto c = constants.find(in);
      const Tensor* v = c == constants.end() ? nullptr : &c->second;
      if (!v && !in.empty()) {
        all_constant = false;
        try {  // type_bytes() throws for a shape whose size overflows: then there is no placeholder
          if (node.def && node.def->reads_shapes_only && type.shape_known && type_bytes(type) < kMaxShapeOnlyBytes &&
              dtype_size(type.dtype) > 0) {
            placeholders.emplace_back(type.dtype, type.shape);
            v = &placeholders.back();
          }
        } catch (const Error&) {
        }
      }
      types.push_back(type);
      values.push_back(v);
    }
    if (inputs_known) {
      try {
        OpContext ctx(node, types, values);
        na.known = node.def->infer(ctx);
        if (na.known) {
          for (int i = 0; i < ctx.num_outputs(); ++i) na.outputs.push_back(ctx.output_type(i));
          na.cost = node.def->cost ? node.def->cost(ctx) : default_cost(ctx);
          bool can_fold = node.def->foldable && (all_constant || node.def->reads_shapes_only);
          for (const TensorType& o : na.outputs)
            if (o.shape_known && shape_numel(o.shape) > kMaxFoldElements) can_fold = false;
          if (can_fold) {
            node.def->compute(ctx);
            for (int i = 0; i < ctx.num_outputs(); ++i)
              if (ctx.has_output(i) && ctx.outputs()[size_t(i)].defined())
                constants[node.outputs[size_t(i)]] = ctx.outputs()[size_t(i)];
          }
        }
      } catch (const std::exception&) {  // infera::Error, or std::bad_alloc and the like from a kernel
        na.known = false;                // the node will report its problem when it runs
      }
    }
    for (size_t i = 0; i < node.outputs.size(); ++i)
      if (!node.outputs[i].empty())
        result.values[node.outputs[i]] = i < na.outputs.size() && na.known ? na.outputs[i] : TensorType{};
    result.nodes.push_back(std::move(na));
  }
  result.constants = std::move(constants);
  return result;
}

}  // namespace infera
