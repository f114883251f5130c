// `infera quantize`: writes an int8 / fp8 (QDQ), fp16 / bf16 (casts) or int4-weight copy of a model as a standard
// ONNX file, calibrating activation ranges on a data set first where the precision needs them. With
// --max-accuracy-drop, keeps the fewest layers in fp32 needed to stay within a top-1 budget on --eval
// (quant/mixed_precision.h); with --sweep, tries every precision and method (quant/sweep.h).
#include <CLI/CLI.hpp>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/file.h"
#include "onnx/import.h"
#include "quant/mixed_precision.h"
#include "quant/quantizer.h"
#include "quant/sweep.h"
#include "tools/commands.h"
#include "tools/data_options.h"

namespace infera::tools {

namespace {

std::string model_dir(const QuantizeArgs& args) { return std::filesystem::path(args.model).parent_path().string(); }

std::string mib(int64_t bytes) { return fmt::format("{:.2f} MiB", double(bytes) / (1 << 20)); }

// --labels name the evaluation set's classes; calibration needs none (and the calibration folder may hold files
// the labels do not list).
DataArgs calibration_data(const QuantizeArgs& args) {
  DataArgs calib = args.data;
  calib.labels.clear();
  return calib;
}

EvalData evaluation_data(const QuantizeArgs& args, const std::vector<ValueInfo>& model_inputs) {
  if (args.eval.empty()) throw Error("--max-accuracy-drop and --sweep evaluate: give a labelled set with --eval DIR");
  DataArgs eval = args.data;
  eval.path = args.eval;
  eval.limit = args.eval_limit;
  EvalData data(open_dataset(eval), model_inputs, eval.batch, true);
  if (!data.labelled())
    throw Error(args.eval + ": no labels (give --labels, or one folder per class) for the accuracy budget");
  return data;
}

void write_model(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), std::streamsize(bytes.size()));
  if (!f) throw Error(path + ": cannot write the quantized model");
}

// Calibrates the tensors the quantizer asks for, on --calib.
std::map<std::string, TensorRange> calibrate(const QuantizeArgs& args, const QuantizeOptions& options,
                                             const std::string& model_bytes, int64_t* samples) {
  const std::vector<std::string> tensors = tensors_to_calibrate(model_bytes, args.model, model_dir(args), options);
  if (tensors.empty()) return {};
  if (args.data.path.empty())
    throw Error(std::string(quant_precision_name(options.precision)) +
                " quantizes activations: give a calibration set with --calib DIR");
  CalibrationOptions calib;
  calib.method = parse_calibration_method(args.method);
  calib.percentile = args.percentile;
  calib.symmetric = options.symmetric_activations || options.precision != QuantPrecision::Int8;
  calib.threads = args.threads;
  Dataset data = open_dataset(calibration_data(args));
  const CalibrationStats stats = collect_statistics(args.model, tensors, data, calib);
  *samples = stats.samples;
  return choose_ranges(stats, calib);
}

std::string describe(const QuantizeArgs& args, const QuantizeOptions& options, int64_t samples) {
  std::string d = quant_precision_name(options.precision);
  if (needs_calibration(options.precision)) {
    d += options.per_channel ? ", per-channel weights" : ", per-tensor weights";
    if (options.precision == QuantPrecision::Int8)
      d += options.symmetric_activations ? ", int8 symmetric activations" : ", uint8 asymmetric activations";
    d += fmt::format(", {} calibration on {} samples", args.method, samples);
  }
  if (options.precision == QuantPrecision::Int4Weight) d += fmt::format(", blocks of {} along K", options.block_size);
  return d;
}


std::string percent(const Accuracy& a) { return fmt::format("{:.2f} %", 100 * a.top1_rate()); }

nlohmann::json layer_json(const LayerSensitivity& l) {
  const double db = l.output_sqnr_db();  // JSON has no infinity: exact is null
  return {{"node", l.node},
          {"op_type", l.op_type},
          {"output_noise", l.output_noise},
          {"output_sqnr_db", std::isinf(db) ? nlohmann::json(nullptr) : nlohmann::json(db)}};
}

struct PlanLatency {
  double fp32 = 0, full = 0, plan = 0;
};

void print_plan(const QuantizeArgs& args, const std::string& precision, const MixedPrecisionPlan& p,
                const PlanLatency& ms) {
  const int64_t layers = int64_t(p.full.report.quantized.size());
  fmt::print("{} -> {}: {} with at most {:.2f} top-1 points below fp32 on {} samples of {}\n", args.model,
             args.output, precision, args.max_accuracy_drop, p.samples, args.eval);
  if (p.sensitivity_runs > 0)
    fmt::print("  sensitivity: the SQNR of the model's output with each of the {} quantized layers quantized alone, "
               "on {} samples ({} runs)\n",
               layers, std::min(args.sensitivity_samples, p.samples), p.sensitivity_runs);
  if (p.kept < 0)
    fmt::print("  no plan met the budget (not even all {} layers in fp32): writing the full model\n", layers);
  else if (p.kept == 0)
    fmt::print("  the fully quantized model meets the budget: no layer kept in fp32\n");
  else
    fmt::print("  kept in fp32: the {} most sensitive of {} layers\n", p.kept, layers);
  for (int64_t i = 0; i < std::max<int64_t>(p.kept, 0); ++i) {
    const LayerSensitivity& l = p.ranking[size_t(i)];
    fmt::print("    {:<28} {:<12} output SQNR {:6.2f} dB when quantized alone (rank {})\n", l.node, l.op_type,
               l.output_sqnr_db(), i + 1);
  }
  fmt::print("  search: {} evaluations of the whole set (fp32 and full int8 in one pass, then:", p.evaluations);
  for (const KeptTrial& t : p.trials)
    fmt::print(" {} kept {}/{} {}", t.kept, t.correct, p.samples, t.within ? "ok" : "over");
  fmt::print("); budget: top-1 >= {}/{}\n", p.min_correct, p.samples);
  fmt::print("  {:<10} {:>8} {:>8} {:>10} {:>11} {:>10}\n", "", "top-1", "top-5", "agreement", "latency ms",
             "size");
  auto row = [&](const char* name, const EvaluatedModel& m, double latency) {
    fmt::print("  {:<10} {:>8} {:>7.2f}% {:>9.2f}% {:>11.2f} {:>10}\n", name, percent(m.accuracy),
               100 * m.accuracy.top5_rate(), 100 * double(m.agreement) / double(p.samples), latency,
               mib(int64_t(m.bytes.size())));
  };
  row("fp32", p.fp32, ms.fp32);
  row("full", p.full, ms.full);
  row("plan", p.plan, ms.plan);
  fmt::print("  latency: median of {} runs of one sample, {} thread(s), the three models in alternating rounds\n",
             args.latency_runs, args.latency_threads);
}

nlohmann::json plan_json(const QuantizeArgs& args, const std::string& precision, const MixedPrecisionPlan& p,
                         const PlanLatency& ms) {
  auto model = [&](const EvaluatedModel& m, double latency) {
    return nlohmann::json{{"top1", m.accuracy.top1_rate()},
                          {"top5", m.accuracy.top5_rate()},
                          {"agreement", double(m.agreement) / double(p.samples)},
                          {"latency_ms", latency},
                          {"size_bytes", m.bytes.size()}};
  };
  nlohmann::json kept = nlohmann::json::array(), ranking = nlohmann::json::array(), trials = nlohmann::json::array();
  for (int64_t i = 0; i < int64_t(p.ranking.size()); ++i)
    (i < p.kept ? kept : ranking).push_back(layer_json(p.ranking[size_t(i)]));
  for (const KeptTrial& t : p.trials)
    trials.push_back({{"kept", t.kept}, {"top1", double(t.correct) / double(p.samples)}, {"within", t.within}});
  return {{"model", args.model},
          {"output", args.output},
          {"precision", precision},
          {"max_accuracy_drop", args.max_accuracy_drop},
          {"eval_data", args.eval},
          {"samples", p.samples},
          {"met", p.kept >= 0},
          {"kept_fp32", kept},
          {"quantized_layers_by_sensitivity", ranking},
          {"sensitivity_samples", std::min(args.sensitivity_samples, p.samples)},
          {"sensitivity_runs", p.sensitivity_runs},
          {"evaluations", p.evaluations},
          {"trials", trials},
          {"latency_threads", args.latency_threads},
          {"fp32", model(p.fp32, ms.fp32)},
          {"full", model(p.full, ms.full)},
          {"plan", model(p.plan, ms.plan)}};
}

int mixed_precision_command(const QuantizeArgs& args, const QuantizeOptions& options, const std::string& model_bytes,
                            const std::map<std::string, TensorRange>& ranges, int64_t calibration_samples) {
  const Model model = import_model_bytes(model_bytes.data(), model_bytes.size(), args.model, model_dir(args));
  const EvalData data = evaluation_data(args, model.graph.inputs);
  MixedPrecisionOptions mixed;
  mixed.max_accuracy_drop = args.max_accuracy_drop;
  mixed.sensitivity_samples = args.sensitivity_samples;
  mixed.threads = args.threads;
  const MixedPrecisionPlan plan =
      plan_mixed_precision(model_bytes, args.model, model_dir(args), options, ranges, data, mixed);
  write_model(args.output, plan.plan.bytes);
  const std::map<std::string, Tensor> sample = data.first_sample();
  const std::vector<double> latency = median_latencies_ms({plan.fp32.bytes, plan.full.bytes, plan.plan.bytes},
                                                         args.model, sample, args.latency_threads, args.latency_runs);
  const PlanLatency ms{latency[0], latency[1], latency[2]};
  const std::string precision = describe(args, options, calibration_samples);
  if (args.json)
    fmt::print("{}\n", plan_json(args, precision, plan, ms).dump(2));
  else
    print_plan(args, precision, plan, ms);
  return 0;
}

int sweep_command(const QuantizeArgs& args) {
  const Model model = import_model_file(args.model);
  const EvalData data = evaluation_data(args, model.graph.inputs);
  SweepOptions options;
  options.threads = args.threads;
  options.latency_threads = args.latency_threads;
  options.latency_runs = args.latency_runs;
  options.percentile = args.percentile;
  options.block_size = args.block_size;
  options.exclude.insert(args.exclude.begin(), args.exclude.end());
  options.output_dir =
      args.output.empty() ? std::filesystem::path(args.model).stem().string() + "-sweep" : args.output;
  const SweepReport report = run_sweep(args.model, open_dataset(calibration_data(args)), data, options);
  const std::string json = sweep_json(report);
  const std::filesystem::path dir(options.output_dir);
  write_file((dir / "sweep.json").string(), json);
  write_file((dir / "sweep.html").string(), sweep_html(report));
  if (args.json) {
    fmt::print("{}\n", json);
    return 0;
  }
  fmt::print("{}", sweep_table(report));
  fmt::print("wrote {} and {}, and the models, to {}\n", (dir / "sweep.json").string(), (dir / "sweep.html").string(),
             options.output_dir);
  return 0;
}
}  // namespace

CLI::App* add_quantize_command(CLI::App& app, QuantizeArgs& args) {
  CLI::App* cmd = app.add_subcommand(
      "quantize", "Write an int8/fp8 (QDQ), fp16/bf16 (casts) or int4-weight copy of a model as standard ONNX");
  cmd->add_option("model", args.model, "fp32 ONNX model file")->required();
  cmd->add_option("-o,--output", args.output, "the quantized model file to write (with --sweep: a folder)");
  cmd->add_option("--precision", args.precision, "int8 (default), fp8-e4m3, fp8-e5m2, fp16, bf16, int4-weight")
      ->check(CLI::IsMember({"int8", "fp8-e4m3", "fp8-e5m2", "fp16", "bf16", "int4-weight"}));
  cmd->add_option("--method", args.method, "calibration: minmax (default), percentile, entropy, mse")
      ->check(CLI::IsMember({"minmax", "percentile", "entropy", "mse"}));
  cmd->add_option("--percentile", args.percentile, "percentile method: share of values kept (default 99.99)")
      ->check(CLI::Range(50.0, 100.0));
  cmd->add_flag("--per-channel", args.per_channel, "one weight scale per output channel (raises the opset to 13)");
  cmd->add_flag("--symmetric-activations", args.symmetric_activations,
                "int8 activations with zero point 0 instead of uint8 asymmetric");
  cmd->add_option("--block-size", args.block_size, "int4-weight: weights per scale along K (default 32)")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 30));
  cmd->add_option("--exclude", args.exclude, "nodes to keep in fp32, by node name or output name");
  cmd->add_option("--calib", args.data.path, "calibration set: folder of images, .npy/.npz files, or one .npy/.npz");
  add_data_options(*cmd, args.data);
  cmd->add_option("--calib-limit", args.data.limit, "calibrate on at most this many samples (same as --limit)")
      ->check(CLI::Range(int64_t(0), int64_t(1) << 40));
  cmd->add_option("--threads", args.threads, "threads for calibration (0: all cores)")->check(CLI::Range(0, 4096));
  cmd->add_flag("--json", args.json, "print one JSON object");
  cmd->add_option("--max-accuracy-drop", args.max_accuracy_drop,
                  "keep the fewest layers in fp32 that hold top-1 within this many points of fp32 on --eval")
      ->check(CLI::Range(0.0, 100.0));
  cmd->add_flag("--sweep", args.sweep,
                "try fp32, fp16, bf16, int8 x methods x per-tensor/per-channel and int4-weight; -o: the folder for "
                "the models, sweep.json and sweep.html (default MODEL-sweep)");
  cmd->add_option("--eval", args.eval, "labelled evaluation set (with --labels) for --max-accuracy-drop and --sweep");
  cmd->add_option("--eval-limit", args.eval_limit, "evaluate on at most this many samples (default: all; --spread applies too)")
      ->check(CLI::Range(int64_t(0), int64_t(1) << 40));
  cmd->add_option("--sensitivity-samples", args.sensitivity_samples,
                  "samples each layer's effect on the output is measured on, to rank the layers (64)")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 30));
  cmd->add_option("--latency-threads", args.latency_threads, "threads of the latency runs (default 1)")
      ->check(CLI::Range(1, 4096));
  cmd->add_option("--latency-runs", args.latency_runs, "timed runs per latency median (default 20)")
      ->check(CLI::Range(1, 100000));
  return cmd;
}

int quantize_command(const QuantizeArgs& args) {
  if (args.sweep) {
    if (args.max_accuracy_drop >= 0) throw Error("--sweep and --max-accuracy-drop are separate runs: give one");
    return sweep_command(args);
  }
  if (args.output.empty()) throw Error("give the quantized model file to write with -o FILE");
  QuantizeOptions options;
  options.precision = parse_quant_precision(args.precision);
  options.per_channel = args.per_channel;
  options.symmetric_activations = args.symmetric_activations;
  options.block_size = args.block_size;
  options.exclude.insert(args.exclude.begin(), args.exclude.end());

  const std::string model_bytes = read_file(args.model);
  int64_t samples = 0;
  const std::map<std::string, TensorRange> ranges = calibrate(args, options, model_bytes, &samples);
  if (args.max_accuracy_drop >= 0) return mixed_precision_command(args, options, model_bytes, ranges, samples);
  QuantizeReport report;
  const std::string out = quantize_model(model_bytes, args.model, model_dir(args), options, ranges, &report);
  write_model(args.output, out);
  const int64_t file_before = int64_t(model_bytes.size()), file_after = int64_t(out.size());

  if (args.json) {
    nlohmann::json j{{"model", args.model},
                     {"output", args.output},
                     {"precision", quant_precision_name(options.precision)},
                     {"per_channel", options.per_channel},
                     {"symmetric_activations", options.symmetric_activations},
                     {"method", needs_calibration(options.precision) ? args.method : ""},
                     {"calibration_samples", samples},
                     {"opset_before", report.opset_before},
                     {"opset_after", report.opset_after},
                     {"quantized", report.quantized},
                     {"quantized_ops", report.quantized_ops},
                     {"excluded", report.excluded},
                     {"inserted_nodes", report.inserted_nodes},
                     {"weight_bytes_before", report.weight_bytes_before},
                     {"weight_bytes_after", report.weight_bytes_after},
                     {"file_bytes_before", file_before},
                     {"file_bytes_after", file_after},
                     {"notes", report.notes}};
    fmt::print("{}\n", j.dump(2));
    return 0;
  }
  fmt::print("{} -> {}: {}\n", args.model, args.output, describe(args, options, samples));
  std::string ops;
  for (const auto& [op, count] : report.quantized_ops)
    ops += fmt::format("{}{} {}", ops.empty() ? "" : ", ", count, op);
  fmt::print("  quantized {} nodes{}\n", report.quantized.size(), ops.empty() ? "" : " (" + ops + ")");
  if (!report.excluded.empty())
    fmt::print("  kept fp32 by --exclude: {}\n", fmt::join(report.excluded, ", "));
  fmt::print("  inserted {} nodes; opset {}{}\n", report.inserted_nodes, report.opset_after,
             report.opset_after != report.opset_before ? fmt::format(" (was {})", report.opset_before) : "");
  fmt::print("  weights {} -> {}, file {} -> {} ({:.2f}x smaller)\n", mib(report.weight_bytes_before),
             mib(report.weight_bytes_after), mib(file_before), mib(file_after),
             file_after > 0 ? double(file_before) / double(file_after) : 0.0);
  for (const std::string& note : report.notes) fmt::print("  note: {}\n", note);
  return 0;
}

}  // namespace infera::tools
