#include "infera/session.h"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <mutex>
#include <set>

#include "onnx/import.h"
#include <omp.h>

#include "runtime/compiled_graph.h"
#include "runtime/static_analysis.h"

namespace infera {

struct Session::Impl {
  std::unique_ptr<Model> model;
  std::shared_ptr<const MappedFile> weights_file;  // where the model's large initializers stay (see MappedModel)
  std::unique_ptr<ModelPlan> plan;
  SessionOptions options;
  std::map<std::vector<Shape>, std::unique_ptr<CompiledGraph>> compiled;  // by the inputs' shapes
  std::mutex compiling;

  Impl(Model m, const SessionOptions& opts, bool strict, std::shared_ptr<const MappedFile> file = nullptr)
      : model(std::make_unique<Model>(std::move(m))),
        weights_file(std::move(file)),
        plan(std::make_unique<ModelPlan>(*model, strict)),
        options(opts) {}
  explicit Impl(MappedModel m, const SessionOptions& opts, bool strict)
      : Impl(std::move(m.model), opts, strict, std::move(m.file)) {}

  // The model with the mapped initializers that `wanted` names read into memory of their own.
  Model in_memory(const std::function<bool(const std::string&)>& wanted) const {
    Model m = *model;
    for (auto& [name, t] : m.graph.initializers)
      if (wanted(name)) t = infera::in_memory(t, weights_file.get());
    return m;
  }

  // Mapped initializers whose values analyze_graph() reads: inputs of nodes it may fold, those whose inputs are all
  // constants (initializers, or outputs of nodes it may fold or that read shapes only). Other nodes read the
  // weights' shapes only.
  std::set<std::string> read_by_folding() const {
    const auto& inits = model->graph.initializers;
    auto mapped = [&](const std::string& name) {
      auto it = inits.find(name);
      return weights_file && it != inits.end() && weights_file->contains(it->second.raw());
    };
    std::set<std::string> constant, read;
    for (const auto& [name, t] : inits) constant.insert(name);
    for (const NodeStep& step : plan->plan(model->graph).steps) {
      const Node& n = *step.node;
      if (!n.def) continue;
      const bool folds = n.def->foldable && std::all_of(n.inputs.begin(), n.inputs.end(), [&](const std::string& in) {
        return in.empty() || constant.count(in);
      });
      if (folds && !n.def->reads_shapes_only)
        for (const std::string& in : n.inputs)
          if (mapped(in)) read.insert(in);
      if (folds || n.def->reads_shapes_only) constant.insert(n.outputs.begin(), n.outputs.end());
    }
    return read;
  }

  int threads() const { return options.threads > 0 ? options.threads : omp_get_num_procs(); }

  // The model compiled for these input shapes (one compilation per distinct set of shapes).
  CompiledGraph& compiled_for(const std::map<std::string, Shape>& input_shapes) {
    if (!plan->unsupported().empty())
      throw Error(model->path + ": cannot run: the model has unsupported operators");
    std::vector<Shape> key;
    std::map<std::string, Shape> resolved;
    for (const ValueInfo& in : model->graph.inputs) {
      key.push_back(resolve_input_shape(in, input_shapes));
      resolved[in.name] = key.back();
    }
    std::lock_guard<std::mutex> lock(compiling);
    auto& slot = compiled[key];
    if (!slot) {
      omp_set_num_threads(threads());  // oneDNN picks its blocking for the thread count it will run with
      // Every weight in memory of the compilation's own, which it frees as kernels pack them.
      slot = std::make_unique<CompiledGraph>(in_memory([](const std::string&) { return true; }), resolved, options);
    }
    return *slot;
  }

  // Checks the given inputs against the declared ones: names, dtypes, ranks, fixed dims and consistent symbols.
  void check_inputs(const std::map<std::string, Tensor>& inputs) const {
    const std::string& file = model->path;
    const auto& declared = model->graph.inputs;
    for (const auto& given : inputs) {
      const std::string& name = given.first;  // not a structured binding: clang 14 cannot capture those
      bool known = std::any_of(declared.begin(), declared.end(), [&](const ValueInfo& v) { return v.name == name; });
      if (!known && !model->graph.initializers.count(name)) {
        std::string names;
        for (const ValueInfo& v : declared) names += (names.empty() ? "" : ", ") + v.name;
        throw Error(file + ": '" + name + "' is not an input of the model (inputs: " + names + ")");
      }
    }
    std::map<std::string, int64_t> symbols;
    for (const ValueInfo& v : declared) {
      auto it = inputs.find(v.name);
      if (it == inputs.end()) throw Error(file + ": input '" + v.name + "' was not given");
      const Tensor& t = it->second;
      if (v.dtype != DType::Undefined && t.dtype() != v.dtype)
        throw Error(file + ": input '" + v.name + "' must be " + std::string(dtype_name(v.dtype)) + ", got " +
                    std::string(dtype_name(t.dtype())));
      if (!v.has_shape) continue;
      if (size_t(t.rank()) != v.dims.size())
        throw Error(file + ": input '" + v.name + "' must have rank " + std::to_string(v.dims.size()) + ", got shape " +
                    shape_str(t.shape()));
      for (size_t d = 0; d < v.dims.size(); ++d) {
        const Dim& dim = v.dims[d];
        int64_t got = t.dim(int(d));
        if (dim.fixed() && dim.value != got)
          throw Error(file + ": input '" + v.name + "' dim " + std::to_string(d) + " must be " +
                      std::to_string(dim.value) + ", got shape " + shape_str(t.shape()));
        if (!dim.symbol.empty()) {
          auto [s, fresh] = symbols.emplace(dim.symbol, got);
          if (!fresh && s->second != got)
            throw Error(file + ": input '" + v.name + "' dim " + std::to_string(d) + " ('" + dim.symbol + "') is " +
                        std::to_string(got) + " but another input set it to " + std::to_string(s->second));
        }
      }
    }
  }
};

Session::Session(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;
Session::~Session() = default;

Session Session::load(const std::string& path, const SessionOptions& options) {
  return Session(std::make_unique<Impl>(import_model_file_mapped(path), options, true));
}

Session Session::load_from_memory(const void* data, size_t size, const SessionOptions& options,
                                  const std::string& name) {
  std::string dir = std::filesystem::current_path().string();
  return Session(std::make_unique<Impl>(import_model_bytes(data, size, name, dir), options, true));
}

Session Session::inspect(const std::string& path) {
  return Session(std::make_unique<Impl>(import_model_file_mapped(path), SessionOptions{}, false));
}

const std::vector<ValueInfo>& Session::inputs() const { return impl_->model->graph.inputs; }
const std::vector<ValueInfo>& Session::outputs() const { return impl_->model->graph.outputs; }
const std::string& Session::path() const { return impl_->model->path; }

std::vector<Tensor> Session::run(const std::map<std::string, Tensor>& inputs, RunProfile* profile) {
  if (!impl_->plan->unsupported().empty())
    throw Error(impl_->model->path + ": cannot run: the model has unsupported operators");
  impl_->check_inputs(inputs);
  std::map<std::string, Shape> shapes;
  for (const auto& [name, t] : inputs) shapes[name] = t.shape();
  CompiledGraph& compiled = impl_->compiled_for(shapes);
  omp_set_num_threads(impl_->threads());
  return compiled.run(inputs, profile);
}

void Session::prepare(const std::map<std::string, Shape>& input_shapes) { impl_->compiled_for(input_shapes); }

ExecutionPlan Session::execution_plan(const std::map<std::string, Shape>& input_shapes) {
  return impl_->compiled_for(input_shapes).report();
}

std::vector<LayerProfile> Session::layers(const std::map<std::string, Shape>& input_shapes) {
  return execution_plan(input_shapes).steps;
}

std::map<std::string, Tensor> Session::run_named(const std::map<std::string, Tensor>& inputs) {
  std::vector<Tensor> outs = run(inputs);
  std::map<std::string, Tensor> named;
  for (size_t i = 0; i < outs.size(); ++i) named[outputs()[i].name] = outs[i];
  return named;
}

ModelSummary Session::summary(const std::map<std::string, Shape>& input_shapes) const {
  const Model& m = *impl_->model;
  ModelSummary s;
  s.ir_version = m.ir_version;
  s.opsets = m.opsets;
  s.producer = m.producer;
  std::map<std::string, int> hist;
  for (const Node& n : m.graph.nodes) ++hist[(n.domain.empty() ? "" : n.domain + ".") + n.op_type];
  for (const auto& [op, count] : hist) s.op_histogram.push_back({op, count});
  std::stable_sort(s.op_histogram.begin(), s.op_histogram.end(),
                   [](const OpCount& a, const OpCount& b) { return a.count > b.count; });
  for (const auto& [name, t] : m.graph.initializers) {
    s.parameter_count += t.numel();
    s.parameter_bytes += int64_t(t.nbytes());
  }
  for (const UnsupportedOp& u : impl_->plan->unsupported())
    s.unsupported.push_back({u.node->name, u.node->op_type, u.node->domain});
  const std::set<std::string> mapped_reads = impl_->read_by_folding();
  Model folding;  // outlives `a`, whose nodes point into it
  GraphAnalysis a;
  if (mapped_reads.empty()) {
    a = analyze_graph(m, *impl_->plan, input_shapes);
  } else {
    folding = impl_->in_memory([&](const std::string& name) { return mapped_reads.count(name) > 0; });
    a = analyze_graph(folding, ModelPlan(folding, false), input_shapes);
  }
  for (const NodeAnalysis& n : a.nodes) {
    if (n.known) s.flops += n.cost.flops;
    else ++s.nodes_without_cost;
  }
  return s;
}

}  // namespace infera
