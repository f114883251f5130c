// `infera eval`: a classifier's top-1/top-5 accuracy on a labelled data set; with --baseline (the fp32 model a
// quantized one came from) also the baseline's accuracy, their top-1 agreement sample by sample, and with
// --per-layer the error of every activation the two models share by name (SQNR, cosine similarity), worst first.
// The evaluation itself is src/quant/evaluate.h, which the mixed-precision search and the sweep share.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>

#include "core/progress.h"
#include "onnx/import.h"
#include "quant/evaluate.h"
#include "tools/commands.h"
#include "tools/data_options.h"

namespace infera::tools {

namespace {

std::string percent(double rate) { return fmt::format("{:.2f} %", 100 * rate); }

void print_text(const EvalArgs& args, const EvalData& data, const EvalResult& r) {
  const Accuracy model = r.accuracy(), baseline = r.baseline_accuracy();
  fmt::print("model      {}\n", args.model);
  fmt::print("data       {}: {} samples, batch {}\n", args.data.path, r.samples, data.batch_size());
  if (r.labelled)
    fmt::print("accuracy   top-1 {}  top-5 {}\n", percent(model.top1_rate()), percent(model.top5_rate()));
  if (!args.baseline.empty()) {
    fmt::print("baseline   {}\n", args.baseline);
    if (r.labelled)
      fmt::print("accuracy   top-1 {}  top-5 {}  (model - baseline: top-1 {:+.2f} pt)\n", percent(baseline.top1_rate()),
                 percent(baseline.top5_rate()), 100 * (model.top1_rate() - baseline.top1_rate()));
    fmt::print("agreement  top-1 {} ({} of {} samples)\n", percent(double(r.agreement()) / double(r.samples)),
               r.agreement(), r.samples);
  }
  if (args.per_layer) {
    fmt::print("\nper-layer error over the first {} samples, worst first ({} values in both models):\n",
               r.layer_samples, r.layers.size());
    fmt::print("  {:>9} {:>9}  {}\n", "SQNR dB", "cosine", "value");
    for (const LayerError& l : r.layers) fmt::print("  {:>9.2f} {:>9.6f}  {}\n", l.sqnr_db(), l.cosine(), l.name);
  }
  fmt::print("time       {:.1f} s ({:.1f} samples/s)\n", r.seconds, double(r.samples) / std::max(r.seconds, 1e-9));
}

nlohmann::json to_json(const EvalArgs& args, const EvalResult& r) {
  auto accuracy = [&](const Accuracy& a) {
    return r.labelled ? nlohmann::json{{"top1", a.top1_rate()}, {"top5", a.top5_rate()}} : nlohmann::json(nullptr);
  };
  nlohmann::json j{{"model", args.model},
                   {"data", args.data.path},
                   {"samples", r.samples},
                   {"accuracy", accuracy(r.accuracy())},
                   {"seconds", r.seconds}};
  if (!args.baseline.empty()) {
    std::vector<std::string> disagreements;  // samples whose top-1 differs from the baseline's
    for (size_t i = 0; i < r.model.size(); ++i)
      if (r.model[i][0] != r.baseline[i][0]) disagreements.push_back(r.names[i]);
    j["baseline"] = {{"model", args.baseline}, {"accuracy", accuracy(r.baseline_accuracy())}};
    j["agreement"] = double(r.agreement()) / double(r.samples);
    j["disagreements"] = disagreements;
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
  EvalData data(open_dataset(args.data), model.graph.inputs, args.data.batch, false);
  if (!data.labelled() && !baseline)
    throw Error(args.data.path +
                ": no labels (give --labels, or one folder per class) and no --baseline to compare with");
  Progress progress("eval", data.size(), "samples");
  EvalOptions options;
  options.threads = args.threads;
  options.per_layer_samples = args.per_layer ? args.per_layer_samples : 0;
  options.progress = &progress;
  EvalResult r = evaluate(model, baseline ? &*baseline : nullptr, data, options, args.model, args.baseline);
  progress.finish();
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (args.json)
    fmt::print("{}\n", to_json(args, r).dump(2));
  else
    print_text(args, data, r);
  return 0;
}

}  // namespace infera::tools
