// `infera calibrate`: runs the fp32 model over a calibration set once and prints each tensor's statistics and the
// clipping range every calibration method chooses from them (what `infera quantize` would use).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "quant/calibrate.h"
#include "tools/commands.h"
#include "tools/data_options.h"

namespace infera::tools {

CLI::App* add_calibrate_command(CLI::App& app, CalibrateArgs& args) {
  CLI::App* cmd = app.add_subcommand(
      "calibrate", "Collect activation statistics on a calibration set and print each tensor's range per method");
  cmd->add_option("model", args.model, "fp32 ONNX model file")->required();
  cmd->add_option("--calib", args.data.path, "folder of images, .npy/.npz files, or one .npy/.npz")->required();
  add_data_options(*cmd, args.data);
  cmd->add_option("--method", args.methods, "minmax, percentile, entropy, mse (default: all)")
      ->check(CLI::IsMember({"minmax", "percentile", "entropy", "mse"}));
  cmd->add_option("--tensor", args.tensors, "value names to calibrate (default: every float activation)");
  cmd->add_option("--percentile", args.percentile, "percentile method: share of values kept (default 99.99)")
      ->check(CLI::Range(50.0, 100.0));
  cmd->add_flag("--symmetric", args.symmetric, "ranges [-a, a] (int8) instead of [min, max] (uint8)");
  cmd->add_option("--bins", args.bins, "histogram bins (default 2048)")->check(CLI::Range(16, 1 << 20));
  cmd->add_option("--threads", args.threads, "threads (0: all cores)")->check(CLI::Range(0, 4096));
  cmd->add_flag("--json", args.json, "print one JSON object");
  return cmd;
}

int calibrate_command(const CalibrateArgs& args) {
  std::vector<std::string> methods = args.methods;
  if (methods.empty()) methods = {"minmax", "percentile", "entropy", "mse"};
  std::vector<std::string> tensors = args.tensors.empty() ? float_activations(args.model) : args.tensors;
  CalibrationOptions options;
  options.percentile = args.percentile;
  options.symmetric = args.symmetric;
  options.bins = args.bins;
  options.threads = args.threads;
  Dataset data = open_dataset(args.data);
  CalibrationStats stats = collect_statistics(args.model, tensors, data, options);
  std::map<std::string, std::map<std::string, TensorRange>> ranges;  // method -> tensor -> range
  for (const std::string& m : methods) {
    options.method = parse_calibration_method(m);
    ranges[m] = choose_ranges(stats, options);
  }

  if (args.json) {
    nlohmann::json out{{"model", args.model},
                       {"samples", stats.samples},
                       {"symmetric", args.symmetric},
                       {"tensors", nlohmann::json::array()}};
    for (const std::string& t : tensors) {
      const TensorHistogram& h = stats.tensors.at(t);
      nlohmann::json entry{{"name", t},        {"min", h.min},        {"max", h.max},
                           {"zeros", h.zeros}, {"values", h.total()}, {"nonfinite", h.nonfinite}};
      for (const std::string& m : methods) entry[m] = {ranges[m][t].min, ranges[m][t].max};
      out["tensors"].push_back(entry);
    }
    fmt::print("{}\n", out.dump(2));
    return 0;
  }
  fmt::print("{}: {} tensors over {} samples ({})\n", args.model, tensors.size(), stats.samples,
             args.symmetric ? "symmetric" : "asymmetric");
  fmt::print("  {:>23}", "min .. max");
  for (const std::string& m : methods) fmt::print(" {:>23}", m);
  fmt::print("  tensor\n");
  auto range = [](double lo, double hi) { return fmt::format("{:>11.4g} {:<11.4g}", lo, hi); };
  for (const std::string& t : tensors) {
    const TensorHistogram& h = stats.tensors.at(t);
    fmt::print("  {}", range(h.min, h.max));
    for (const std::string& m : methods) fmt::print(" {}", range(ranges[m][t].min, ranges[m][t].max));
    fmt::print("  {}\n", t);
  }
  return 0;
}

}  // namespace infera::tools
