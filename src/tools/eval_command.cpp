// `infera eval`: a classifier's top-1/top-5 accuracy on a labelled data set; with --baseline (the fp32 model a
// quantized one came from) also the baseline's accuracy, their top-1 agreement sample by sample, and with
// --per-layer the error of every activation the two models share by name (SQNR, cosine similarity), worst first.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>
#include <set>

#include "core/progress.h"
#include "onnx/import.h"
#include "quant/probe.h"
#include "tools/commands.h"
#include "tools/data_options.h"

namespace infera::tools {

namespace {

constexpr int kTopK = 5;

// The model's first output as [batch, classes] logits (any trailing shape is flattened into the classes; with a
// batch of 1 the output may lack the batch dimension, as in models exported for one image).
struct Logits {
  const float* data = nullptr;
  int64_t classes = 0;
  const float* row(int64_t r) const { return data + r * classes; }
};

Logits logits_of(const Tensor& out, int64_t batch, const std::string& model) {
  bool batched = out.rank() >= 2 && out.dim(0) == batch;
  if (out.dtype() != DType::Float32 || out.numel() == 0 || (!batched && batch != 1))
    throw Error(model + ": the first output (" + std::string(dtype_name(out.dtype())) + " " + shape_str(out.shape()) +
                ") is not float32 logits [batch=" + std::to_string(batch) + ", classes]");
  return Logits{out.data<float>(), out.numel() / batch};
}

// The k best classes, best first; ties go to the lower class index.
std::vector<int64_t> top_classes(const float* row, int64_t classes, int k) {
  std::vector<int64_t> order(static_cast<size_t>(classes));
  std::iota(order.begin(), order.end(), 0);
  size_t n = std::min<size_t>(size_t(k), order.size());
  std::partial_sort(order.begin(), order.begin() + long(n), order.end(),
                    [&](int64_t a, int64_t b) { return row[a] > row[b] || (row[a] == row[b] && a < b); });
  order.resize(n);
  return order;
}

struct Accuracy {
  int64_t top1 = 0, top5 = 0, samples = 0;
  void add(const std::vector<int64_t>& top, int64_t label) {
    ++samples;
    top1 += top[0] == label;
    top5 += std::find(top.begin(), top.end(), label) != top.end();
  }
  double top1_rate() const { return samples ? double(top1) / double(samples) : 0; }
  double top5_rate() const { return samples ? double(top5) / double(samples) : 0; }
};

// Error of one activation against the baseline's, summed over samples.
struct LayerError {
  std::string name;
  double signal = 0, noise = 0, dot = 0, energy = 0;  // sum r^2, sum (q - r)^2, sum q*r, sum q^2
  void add(const float* q, const float* r, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
      double a = q[i], b = r[i];
      signal += b * b;
      noise += (a - b) * (a - b);
      dot += a * b;
      energy += a * a;
    }
  }
  // +inf when the two agree exactly.
  double sqnr_db() const { return noise == 0 ? INFINITY : 10 * std::log10(signal / noise); }
  double cosine() const {
    return signal == 0 || energy == 0 ? (signal == energy ? 1 : 0) : dot / std::sqrt(signal * energy);
  }
};

// Values both models compute by name (node outputs), in the model's order.
std::vector<std::string> shared_values(const Model& model, const Model& baseline) {
  std::set<std::string> in_baseline;
  for (const Node& n : baseline.graph.nodes)
    for (const std::string& o : n.outputs) in_baseline.insert(o);
  std::vector<std::string> names;
  for (const Node& n : model.graph.nodes)
    for (const std::string& o : n.outputs)
      if (!o.empty() && in_baseline.count(o)) names.push_back(o);
  return names;
}

std::string percent(double rate) { return fmt::format("{:.2f} %", 100 * rate); }

struct Results {
  int64_t samples = 0;
  bool labelled = false;
  Accuracy model, baseline;
  int64_t agree = 0;
  std::vector<std::string> disagreements;  // samples whose top-1 differs from the baseline's
  std::vector<LayerError> layers;          // worst first
  int64_t layer_samples = 0;
  double seconds = 0;
};

void print_text(const EvalArgs& args, const Dataset& data, const Results& r) {
  fmt::print("model      {}\n", args.model);
  fmt::print("data       {}: {} samples, batch {}\n", args.data.path, r.samples, data.batch_size());
  if (r.labelled)
    fmt::print("accuracy   top-1 {}  top-5 {}\n", percent(r.model.top1_rate()), percent(r.model.top5_rate()));
  if (!args.baseline.empty()) {
    fmt::print("baseline   {}\n", args.baseline);
    if (r.labelled)
      fmt::print("accuracy   top-1 {}  top-5 {}  (model - baseline: top-1 {:+.2f} pt)\n",
                 percent(r.baseline.top1_rate()), percent(r.baseline.top5_rate()),
                 100 * (r.model.top1_rate() - r.baseline.top1_rate()));
    fmt::print("agreement  top-1 {} ({} of {} samples)\n", percent(double(r.agree) / double(r.samples)), r.agree,
               r.samples);
  }
  if (args.per_layer) {
    fmt::print("\nper-layer error over the first {} samples, worst first ({} values in both models):\n",
               r.layer_samples, r.layers.size());
    fmt::print("  {:>9} {:>9}  {}\n", "SQNR dB", "cosine", "value");
    for (const LayerError& l : r.layers) fmt::print("  {:>9.2f} {:>9.6f}  {}\n", l.sqnr_db(), l.cosine(), l.name);
  }
  fmt::print("time       {:.1f} s ({:.1f} samples/s)\n", r.seconds, double(r.samples) / std::max(r.seconds, 1e-9));
}

nlohmann::json to_json(const EvalArgs& args, const Results& r) {
  auto accuracy = [&](const Accuracy& a) {
    return r.labelled ? nlohmann::json{{"top1", a.top1_rate()}, {"top5", a.top5_rate()}} : nlohmann::json(nullptr);
  };
  nlohmann::json j{{"model", args.model},
                   {"data", args.data.path},
                   {"samples", r.samples},
                   {"accuracy", accuracy(r.model)},
                   {"seconds", r.seconds}};
  if (!args.baseline.empty()) {
    j["baseline"] = {{"model", args.baseline}, {"accuracy", accuracy(r.baseline)}};
    j["agreement"] = double(r.agree) / double(r.samples);
    j["disagreements"] = r.disagreements;
  }
  if (args.per_layer) {
    nlohmann::json layers = nlohmann::json::array();
    for (const LayerError& l : r.layers)  // JSON has no infinity: exact agreement is null
      layers.push_back({{"value", l.name},
                        {"sqnr_db", std::isinf(l.sqnr_db()) ? nlohmann::json(nullptr) : nlohmann::json(l.sqnr_db())},
                        {"cosine", l.cosine()}});
    j["per_layer"] = {{"samples", r.layer_samples}, {"values", layers}};
  }
  return j;
}

}  // namespace

CLI::App* add_eval_command(CLI::App& app, EvalArgs& args) {
  CLI::App* cmd = app.add_subcommand(
      "eval", "Accuracy on a labelled data set; with --baseline, agreement with it and per-layer error");
  cmd->add_option("model", args.model, "ONNX model file (a classifier: first output [batch, classes])")->required();
  cmd->add_option("--baseline", args.baseline, "the fp32 model to compare with, sample by sample");
  cmd->add_option("--data", args.data.path, "folder of images, .npy/.npz files, or one .npy/.npz")->required();
  add_data_options(*cmd, args.data);
  cmd->add_option("--threads", args.threads, "threads (0: all cores)")->check(CLI::Range(0, 4096));
  cmd->add_flag("--per-layer", args.per_layer, "with --baseline: SQNR and cosine of every shared activation");
  cmd->add_option("--per-layer-samples", args.per_layer_samples, "samples the per-layer error is measured on (16)")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 30));
  cmd->add_flag("--json", args.json, "print one JSON object");
  return cmd;
}

int eval_command(const EvalArgs& args) {
  if (args.per_layer && args.baseline.empty()) throw Error("--per-layer needs --baseline (the model to compare with)");
  auto start = std::chrono::steady_clock::now();
  Model model = import_model_file(args.model);
  std::optional<Model> baseline;
  if (!args.baseline.empty()) baseline = import_model_file(args.baseline);
  Dataset data = open_dataset(args.data);
  data.bind(model.graph.inputs, args.data.batch);
  if (!data.labelled() && !baseline)
    throw Error(args.data.path +
                ": no labels (give --labels, or one folder per class) and no --baseline to compare with");
  if (baseline) {
    for (const ValueInfo& in : baseline->graph.inputs) {
      auto same = [&](const ValueInfo& v) { return v.name == in.name && v.dtype == in.dtype; };
      if (std::none_of(model.graph.inputs.begin(), model.graph.inputs.end(), same))
        throw Error(args.baseline + ": input '" + in.name + "' is not an input of " + args.model +
                    " with the same type");
    }
  }
  if (data.size() == 0) throw Error(args.data.path + ": no samples");

  Batch batch = data.batch(0);
  std::map<std::string, Shape> shapes;
  for (const auto& [name, t] : batch.inputs) shapes[name] = t.shape();
  const int64_t batch_size = data.batch_size();
  std::vector<std::string> values =
      baseline && args.per_layer ? shared_values(model, *baseline) : std::vector<std::string>{};
  ActivationProbe run_model(model, {}, shapes, args.threads);
  std::optional<ActivationProbe> run_baseline, probe_model, probe_baseline;
  if (baseline) run_baseline.emplace(*baseline, std::vector<std::string>{}, shapes, args.threads);
  if (!values.empty()) {
    probe_model.emplace(model, values, shapes, args.threads);
    probe_baseline.emplace(*baseline, values, shapes, args.threads);
  }

  Results r;
  r.labelled = data.labelled();
  std::vector<LayerError> layers;
  for (const std::string& v : values) layers.push_back(LayerError{v});
  std::set<std::string> incomparable;  // not float32 in both, or shaped differently
  Progress progress("eval", data.size(), "samples");
  for (int64_t b = 0; b < data.batches(); ++b) {
    if (b > 0) batch = data.batch(b);
    int64_t layer_rows = std::min(batch.count, args.per_layer_samples - r.layer_samples);
    bool probing = probe_model && layer_rows > 0;
    std::map<std::string, Tensor> out = probing ? probe_model->run(batch.inputs) : run_model.run(batch.inputs);
    std::map<std::string, Tensor> ref;
    if (baseline) {
      std::map<std::string, Tensor> inputs;
      for (const ValueInfo& in : baseline->graph.inputs) inputs[in.name] = batch.inputs.at(in.name);
      ref = probing ? probe_baseline->run(inputs) : run_baseline->run(inputs);
    }
    Logits logits = logits_of(out.at(model.graph.outputs[0].name), batch_size, args.model);
    for (int64_t i = 0; i < batch.count; ++i) {
      std::vector<int64_t> top = top_classes(logits.row(i), logits.classes, kTopK);
      int64_t label = batch.labels[size_t(i)];
      if (r.labelled && (label < 0 || label >= logits.classes))
        throw Error(batch.names[size_t(i)] + ": label " + std::to_string(label) + " is not one of the model's " +
                    std::to_string(logits.classes) + " classes");
      if (r.labelled) r.model.add(top, label);
      if (baseline) {
        Logits base = logits_of(ref.at(baseline->graph.outputs[0].name), batch_size, args.baseline);
        std::vector<int64_t> base_top = top_classes(base.row(i), base.classes, kTopK);
        if (r.labelled) r.baseline.add(base_top, label);
        if (base_top[0] == top[0])
          ++r.agree;
        else
          r.disagreements.push_back(batch.names[size_t(i)]);
      }
    }
    if (probing) {
      for (LayerError& l : layers) {
        const Tensor& q = out.at(l.name);
        const Tensor& f = ref.at(l.name);
        if (q.dtype() != DType::Float32 || f.dtype() != DType::Float32 || q.shape() != f.shape()) {
          incomparable.insert(l.name);
          continue;
        }
        l.add(q.data<float>(), f.data<float>(), sample_elements(q, batch_size, layer_rows));
      }
      r.layer_samples += layer_rows;
    }
    r.samples += batch.count;
    progress.advance(batch.count);
  }
  progress.finish();
  for (LayerError& l : layers)
    if (!incomparable.count(l.name)) r.layers.push_back(std::move(l));
  std::stable_sort(r.layers.begin(), r.layers.end(),
                   [](const LayerError& a, const LayerError& b) { return a.sqnr_db() < b.sqnr_db(); });
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (args.json)
    fmt::print("{}\n", to_json(args, r).dump(2));
  else
    print_text(args, data, r);
  return 0;
}

}  // namespace infera::tools
