#include "runtime/compiled_graph.h"

#include <chrono>
#include <cstring>
#include <functional>
#include <numeric>

#include "backends/backends.h"
#include "backends/reference/reference_backend.h"
#include "passes/pipeline.h"
#include "runtime/executor.h"
#include "runtime/memory_planner.h"
#include "runtime/static_analysis.h"

#include <omp.h>

namespace infera {

struct CompiledGraph::Value {
  std::string name;
  TensorType type;
  Layout layout;
  Tensor constant;  // initializers
  bool graph_input = false, graph_output = false;
  int producer = -1;   // step that writes it
  int last_read = -1;  // last step that reads it
  int storage = -1;    // the value whose storage it shares (views, in-place outputs); -1: its own
  size_t bytes() const { return layout.bytes ? layout.bytes : size_t(shape_numel(type.shape)) * dtype_size(type.dtype); }
};

struct CompiledGraph::Step {
  const Node* node = nullptr;       // null for a layout conversion
  std::unique_ptr<Kernel> kernel;   // null: the node runs on the reference kernel without a static plan
  std::vector<int> inputs;          // value ids, -1 for an omitted optional input
  std::vector<int> outputs;
  std::vector<int> captured;        // values the node's subgraphs read from this graph
  std::vector<int> frees;           // values last read here
};

namespace {

bool has_subgraphs(const Node& n) {
  for (const auto& [name, a] : n.attrs)
    if (a.kind == Attribute::Kind::Graph || a.kind == Attribute::Kind::Graphs) return true;
  return false;
}

// The arithmetic's element type, as profiles and device peaks name it.
std::string precision_name(DType t) {
  switch (t) {
    case DType::Float32: return "fp32";
    case DType::Float16: return "fp16";
    case DType::BFloat16: return "bf16";
    case DType::Float64: return "fp64";
    case DType::Int8:
    case DType::UInt8: return "int8";
    default: return std::string(dtype_name(t));
  }
}

std::vector<const Graph*> subgraphs_of(const Node& n) {
  std::vector<const Graph*> graphs;
  for (const auto& [name, a] : n.attrs) {
    if (a.g) graphs.push_back(a.g.get());
    for (const auto& g : a.graphs) graphs.push_back(g.get());
  }
  return graphs;
}

}  // namespace

CompiledGraph::~CompiledGraph() = default;

// Frees each weight that kernels packed into copies of their own (Kernel::copied_input) as soon as the last step
// reading it is compiled, so that the plain and the packed copies of all weights never exist at once. Counts, per
// initializer, the reads by steps not compiled yet, and whether a compiled step reads it when the model runs.
class CompiledGraph::ConstantReads {
 public:
  ConstantReads(CompiledGraph& graph, const std::vector<NodeStep>& steps)
      : graph_(graph), to_compile_(graph.model_->graph.initializers.size(), 0), read_when_running_(to_compile_.size()) {
    for (const NodeStep& s : steps) {
      for (const std::string& in : s.node->inputs)
        if (const int id = initializer(in); id >= 0) ++to_compile_[size_t(id)];
      for (const Graph* sub : subgraphs_of(*s.node))
        for (const std::string& name : graph.plan_->plan(*sub).captures)
          if (const int id = initializer(name); id >= 0) read_when_running_[size_t(id)] = true;
    }
    for (const ValueInfo& out : graph.model_->graph.outputs)
      if (const int id = initializer(out.name); id >= 0) read_when_running_[size_t(id)] = true;
  }

  void compiled(const Step& step) {
    const std::vector<std::string>& inputs = step.node->inputs;
    for (size_t k = 0; k < inputs.size(); ++k) {
      const int id = initializer(inputs[k]);
      if (id < 0) continue;
      if (!step.kernel || step.kernel->view() || !step.kernel->copied_input(int(k))) read_when_running_[size_t(id)] = true;
      if (--to_compile_[size_t(id)] > 0 || read_when_running_[size_t(id)]) continue;
      Value& value = graph_.values_[size_t(id)];
      value.constant = Tensor();
      graph_.model_->graph.initializers.erase(value.name);
    }
  }

 private:
  // The value id of an initializer (they come first), or -1.
  int initializer(const std::string& name) const {
    auto it = graph_.ids_.find(name);
    return it != graph_.ids_.end() && size_t(it->second) < to_compile_.size() ? it->second : -1;
  }

  CompiledGraph& graph_;
  std::vector<int> to_compile_;
  std::vector<bool> read_when_running_;
};

int CompiledGraph::value_id(const std::string& name) const {
  auto it = ids_.find(name);
  if (it == ids_.end()) throw Error(model_->path + ": internal: value '" + name + "' is not defined");
  return it->second;
}

int CompiledGraph::add_value(const std::string& name, const TensorType& type, const Layout& layout) {
  const int id = int(values_.size());
  values_.push_back(Value{name, type, layout});
  ids_[name] = id;
  return id;
}

// A plain copy of `value`, converted by the backend that owns its layout; made once per value.
int CompiledGraph::plain_version(int value, std::vector<int>& converted) {
  if (values_[size_t(value)].layout.plain()) return value;
  converted.resize(values_.size(), -1);
  if (converted[size_t(value)] >= 0) return converted[size_t(value)];
  const Value from = values_[size_t(value)];
  Step step;
  step.kernel = from.layout.owner->to_plain(from.type, from.layout);
  if (!step.kernel) throw Error(model_->path + ": internal: no conversion to plain for '" + from.name + "'");
  step.inputs = {value};
  const int id = add_value(from.name + "@plain", from.type, Layout{});
  step.outputs = {id};
  LayerProfile layer;
  layer.node = from.name;
  layer.op_type = "LayoutToPlain";
  layer.backend = from.layout.owner->name();
  layer.kernel = step.kernel->describe();
  layer.output_layout = "plain";
  layer.precision = precision_name(from.type.dtype);
  layer.conversion = true;
  layer.bytes_read = double(from.bytes());
  layer.bytes_written = type_bytes(from.type);
  layers_.push_back(std::move(layer));
  steps_.push_back(std::move(step));
  converted.resize(values_.size(), -1);
  converted[size_t(value)] = id;
  return id;
}

CompiledGraph::CompiledGraph(Model source, const std::map<std::string, Shape>& input_shapes,
                             const SessionOptions& options)
    : model_(std::make_unique<Model>(std::move(source))) {
  if (options.optimize) passes_ = optimize_graph(*model_, input_shapes);
  plan_ = std::make_unique<ModelPlan>(*model_, true);
  GraphAnalysis analysis = analyze_graph(*model_, *plan_, input_shapes);
  analysis.constants.clear();  // it holds the weights too, which the steps below free as kernels pack them
  const Graph& g = model_->graph;
  for (const auto& [name, t] : g.initializers) {
    const int id = add_value(name, TensorType{t.dtype(), t.shape(), true}, Layout{});
    values_[size_t(id)].constant = t;
  }
  for (const ValueInfo& in : g.inputs) {
    const int id = add_value(in.name, TensorType{in.dtype, resolve_input_shape(in, input_shapes), true}, Layout{});
    values_[size_t(id)].graph_input = true;
  }

  const std::vector<const Backend*> backends = cpu_backends(options.fast_backends);
  std::vector<int> converted;
  const auto& node_steps = plan_->plan(g).steps;
  ConstantReads constant_reads(*this, node_steps);
  for (size_t i = 0; i < node_steps.size(); ++i) {
    const Node& node = *node_steps[i].node;
    const NodeAnalysis& na = analysis.nodes[i];
    Step step;
    step.node = &node;
    for (const std::string& in : node.inputs) step.inputs.push_back(in.empty() ? -1 : value_id(in));
    bool is_static = na.known && !has_subgraphs(node);
    for (int id : step.inputs)
      if (id >= 0 && !values_[size_t(id)].type.shape_known) is_static = false;
    for (size_t o = 0; o < node.outputs.size(); ++o)
      if (!node.outputs[o].empty() && (o >= na.outputs.size() || !na.outputs[o].shape_known)) is_static = false;

    std::string backend_name = "reference (dynamic)";
    run_located(model_->path, node, [&] {
      auto request = [&] {
        KernelRequest r{node, {}, na.outputs};
        for (int id : step.inputs) {
          if (id < 0) { r.inputs.push_back(ValueDesc{}); continue; }
          const Value& v = values_[size_t(id)];
          r.inputs.push_back(ValueDesc{v.type, v.layout, v.constant.defined() ? &v.constant : nullptr});
        }
        return r;
      };
      auto try_backends = [&] {
        const KernelRequest r = request();
        for (const Backend* b : backends)
          if ((step.kernel = b->compile(r))) return backend_name = std::string(b->name()), true;
        return false;
      };
      if (is_static && try_backends()) return;
      for (int& id : step.inputs)  // no backend reads these layouts: convert to plain and ask again
        if (id >= 0) id = plain_version(id, converted);
      if (is_static) try_backends();
    });
    if (!step.kernel) {
      for (const Graph* sub : subgraphs_of(node))
        for (const std::string& name : plan_->plan(*sub).captures)
          if (ids_.count(name)) step.captured.push_back(plain_version(value_id(name), converted));
    }
    for (size_t o = 0; o < node.outputs.size(); ++o) {
      if (node.outputs[o].empty()) { step.outputs.push_back(-1); continue; }
      TensorType type = o < na.outputs.size() && na.known ? na.outputs[o] : TensorType{};
      Layout layout = step.kernel ? step.kernel->output_layout(int(o)) : Layout{};
      if (!layout.plain() && !layout.bytes) layout.bytes = type_bytes(type);
      step.outputs.push_back(add_value(node.outputs[o], type, layout));
    }
    if (step.kernel && step.kernel->view() && values_[size_t(step.inputs[0])].constant.defined()) {
      Value& out = values_[size_t(step.outputs[0])];  // a reshaped or renamed weight is still a constant
      out.constant = values_[size_t(step.inputs[0])].constant.reshaped(out.type.shape);
    }
    LayerProfile layer;
    layer.node = node.name;
    layer.op_type = (node.domain.empty() ? "" : node.domain + ".") + node.op_type;
    layer.backend = backend_name;
    layer.kernel = step.kernel ? step.kernel->describe() : "reference " + node.op_type;
    layer.view = step.kernel && step.kernel->view();
    layer.reordered_bytes = step.kernel ? step.kernel->reordered_input_bytes() : 0;
    if (!step.outputs.empty() && step.outputs[0] >= 0) layer.output_layout = values_[size_t(step.outputs[0])].layout.name;
    const int first = !step.inputs.empty() && step.inputs[0] >= 0 ? step.inputs[0]
                      : !step.outputs.empty()                     ? step.outputs[0] : -1;
    if (first >= 0) layer.precision = precision_name(values_[size_t(first)].type.dtype);
    layer.cost_known = na.known;
    layer.flops = na.cost.flops;
    layer.bytes_read = na.cost.bytes_read;
    layer.bytes_written = na.cost.bytes_written;
    layer.matrix = na.cost.matrix;
    for (int id : step.inputs)
      if (id >= 0 && values_[size_t(id)].constant.defined()) layer.weight_bytes += type_bytes(values_[size_t(id)].type);
    // A step reads no more than its cost says: a Gather from an embedding table touches only the rows it selects.
    layer.weight_bytes = std::min(layer.weight_bytes, layer.bytes_read);
    layers_.push_back(std::move(layer));
    constant_reads.compiled(step);
    steps_.push_back(std::move(step));
  }
  for (const ValueInfo& out : g.outputs) {
    const int id = plain_version(value_id(out.name), converted);
    values_[size_t(id)].graph_output = true;
    outputs_.push_back(id);
  }
  plan_storage();
}

void CompiledGraph::plan_storage() {
  for (size_t s = 0; s < steps_.size(); ++s) {
    Step& step = steps_[s];
    for (int id : step.outputs)
      if (id >= 0) values_[size_t(id)].producer = int(s);
    for (const auto* reads : {&step.inputs, &step.captured})
      for (int id : *reads)
        if (id >= 0) values_[size_t(id)].last_read = int(s);
    if (step.kernel && step.kernel->view()) values_[size_t(step.outputs[0])].storage = step.inputs[0];
  }
  for (size_t v = 0; v < values_.size(); ++v) {
    const Value& value = values_[v];
    if (value.last_read >= 0 && !value.graph_output) steps_[size_t(value.last_read)].frees.push_back(int(v));
  }
  auto root = [&](int v) {
    while (values_[size_t(v)].storage >= 0) v = values_[size_t(v)].storage;
    return v;
  };
  // A value gets arena storage when a static kernel writes it and it is not handed to the caller.
  auto plannable = [&](int v) {
    const Value& value = values_[size_t(v)];
    return value.producer >= 0 && steps_[size_t(value.producer)].kernel && !value.graph_output &&
           value.type.shape_known;
  };
  // Each storage group's last reader, over all the views that share it.
  std::vector<int> group_last(values_.size(), -1);
  // A graph output that views an arena value keeps that storage until run() copies it out, after the last step.
  for (size_t v = 0; v < values_.size(); ++v)
    group_last[size_t(root(int(v)))] = std::max(group_last[size_t(root(int(v)))],
                                                values_[v].graph_output ? int(steps_.size()) : values_[v].last_read);
  for (size_t s = 0; s < steps_.size(); ++s) {
    Step& step = steps_[s];
    if (!step.kernel || step.kernel->view()) continue;
    for (size_t o = 0; o < step.outputs.size(); ++o) {
      const int out = step.outputs[o];
      const int k = step.kernel->inplace_input(int(o));
      if (out < 0 || k < 0 || size_t(k) >= step.inputs.size() || step.inputs[size_t(k)] < 0) continue;
      const int in = root(step.inputs[size_t(k)]);
      // The step may also read that storage through another operand (x + conv(x): Z and X are one value), which
      // must stay intact while the output is written.
      bool read_elsewhere = false;
      for (size_t j = 0; j < step.inputs.size(); ++j)
        read_elsewhere |= j != size_t(k) && step.inputs[j] >= 0 && root(step.inputs[j]) == in;
      if (read_elsewhere || !plannable(out) || !plannable(in) || group_last[size_t(in)] != int(s) ||
          values_[size_t(in)].bytes() != values_[size_t(out)].bytes())
        continue;
      values_[size_t(out)].storage = in;
      group_last[size_t(in)] = std::max(group_last[size_t(in)], group_last[size_t(out)]);
    }
  }

  std::vector<BufferLifetime> buffers;
  std::vector<int> buffer_of(values_.size(), -1);
  for (size_t v = 0; v < values_.size(); ++v) {
    const int r = root(int(v));
    if (!plannable(r)) {
      if (values_[v].producer >= 0 && !values_[v].graph_output && !plannable(int(v))) ++memory_.dynamic_values;
      continue;
    }
    if (buffer_of[size_t(r)] < 0) {
      buffer_of[size_t(r)] = int(buffers.size());
      buffers.push_back({values_[size_t(r)].bytes(), values_[size_t(r)].producer,
                         std::max(group_last[size_t(r)], values_[size_t(r)].producer)});
    }
    BufferLifetime& b = buffers[size_t(buffer_of[size_t(r)])];
    b.bytes = std::max(b.bytes, values_[v].bytes());
    buffer_of[v] = buffer_of[size_t(r)];
    ++memory_.planned_values;
  }
  const MemoryPlan plan = plan_memory(buffers);
  memory_.arena_bytes = plan.arena_bytes;
  memory_.naive_bytes = plan.naive_bytes;
  arena_ = std::shared_ptr<std::byte[]>(new (std::align_val_t(64)) std::byte[std::max<size_t>(plan.arena_bytes, 64)],
                                        [](std::byte* p) { ::operator delete[](p, std::align_val_t(64)); });
  planned_.resize(values_.size());
  for (size_t v = 0; v < values_.size(); ++v) {
    if (buffer_of[v] < 0 || values_[v].storage >= 0 && steps_[size_t(values_[v].producer)].kernel->view()) continue;
    const BufferLifetime& b = buffers[size_t(buffer_of[v])];
    planned_[v] = Tensor::view(values_[v].type.dtype, values_[v].type.shape, arena_,
                               arena_.get() + plan.offsets[size_t(buffer_of[v])], b.bytes);
  }
}

void CompiledGraph::run_dynamic(const Step& step, std::vector<Tensor>& values) {
  const Node& node = *step.node;
  std::vector<const Tensor*> inputs;
  for (int id : step.inputs) inputs.push_back(id < 0 ? nullptr : &values[size_t(id)]);
  Scope scope{&model_->graph, nullptr, {}};
  for (int id : step.captured) scope.values[values_[size_t(id)].name] = values[size_t(id)];
  Executor exec(*model_, *plan_);
  SubgraphRunner runner = [&](const Graph& sub, const std::vector<Tensor>& ins) { return exec.run(sub, ins, &scope); };
  std::vector<Tensor> outputs;
  run_reference_node(node, inputs, outputs, &runner);
  for (size_t o = 0; o < step.outputs.size() && o < outputs.size(); ++o)
    if (step.outputs[o] >= 0) values[size_t(step.outputs[o])] = outputs[o];
}

std::vector<Tensor> CompiledGraph::run(const std::map<std::string, Tensor>& inputs, RunProfile* profile) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point run_start = Clock::now();
  auto since_start_us = [&] { return std::chrono::duration<double, std::micro>(Clock::now() - run_start).count(); };
  std::lock_guard<std::mutex> lock(running_);
  if (profile) profile->layers = layers_;
  std::vector<Tensor> values(values_.size());
  for (size_t v = 0; v < values_.size(); ++v) {
    const Value& value = values_[v];
    if (value.constant.defined()) values[v] = value.constant;
    if (value.graph_input) {
      auto it = inputs.find(value.name);
      if (it == inputs.end()) throw Error(model_->path + ": input '" + value.name + "' was not given");
      values[v] = it->second;
    }
  }
  std::vector<const Tensor*> ins;
  std::vector<Tensor*> outs;
  for (size_t s = 0; s < steps_.size(); ++s) {
    const Step& step = steps_[s];
    const double start_us = profile ? since_start_us() : 0;
    auto execute = [&] {
      if (!step.kernel) return run_dynamic(step, values);
      if (step.kernel->view()) {
        const int out = step.outputs[0];
        values[size_t(out)] = values[size_t(step.inputs[0])].reshaped(values_[size_t(out)].type.shape);
        return;
      }
      ins.clear();
      outs.clear();
      for (int id : step.inputs) ins.push_back(id < 0 ? nullptr : &values[size_t(id)]);
      for (int id : step.outputs) {
        if (id < 0) { outs.push_back(nullptr); continue; }
        Tensor& t = values[size_t(id)];
        const Value& value = values_[size_t(id)];
        t = planned_[size_t(id)].defined() ? planned_[size_t(id)] : Tensor::uninitialized(value.type.dtype, value.type.shape);
        outs.push_back(&t);
      }
      step.kernel->run(ins, outs);
    };
    if (step.node) run_located(model_->path, *step.node, execute);
    else execute();
    if (profile) {
      profile->layers[s].start_us = start_us;
      profile->layers[s].duration_us = since_start_us() - start_us;
    }
    for (int id : step.frees) values[size_t(id)] = Tensor();
  }
  std::vector<Tensor> result;
  const std::byte* begin = arena_.get();
  const std::byte* end = begin + memory_.arena_bytes;
  for (int id : outputs_) {
    const Tensor& t = values[size_t(id)];
    const auto* p = static_cast<const std::byte*>(t.raw());
    result.push_back(p >= begin && p < end ? t.clone() : t);  // the arena is reused by the next run
  }
  if (profile) {
    profile->model = model_->path;
    profile->threads = omp_get_max_threads();
    profile->total_us = since_start_us();
  }
  return result;
}

}  // namespace infera
