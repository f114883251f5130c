// `infera quantize`: writes an int8 / fp8 (QDQ), fp16 / bf16 (casts) or int4-weight copy of a model as a standard
// ONNX file, calibrating activation ranges on a data set first where the precision needs them.
#include <CLI/CLI.hpp>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/file.h"
#include "quant/quantizer.h"
#include "tools/commands.h"
#include "tools/data_options.h"

namespace infera::tools {

namespace {

std::string model_dir(const QuantizeArgs& args) { return std::filesystem::path(args.model).parent_path().string(); }

std::string mib(int64_t bytes) { return fmt::format("{:.2f} MiB", double(bytes) / (1 << 20)); }

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
  Dataset data = open_dataset(args.data);
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

}  // namespace

CLI::App* add_quantize_command(CLI::App& app, QuantizeArgs& args) {
  CLI::App* cmd = app.add_subcommand(
      "quantize", "Write an int8/fp8 (QDQ), fp16/bf16 (casts) or int4-weight copy of a model as standard ONNX");
  cmd->add_option("model", args.model, "fp32 ONNX model file")->required();
  cmd->add_option("-o,--output", args.output, "the quantized model file to write")->required();
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
  return cmd;
}

int quantize_command(const QuantizeArgs& args) {
  QuantizeOptions options;
  options.precision = parse_quant_precision(args.precision);
  options.per_channel = args.per_channel;
  options.symmetric_activations = args.symmetric_activations;
  options.block_size = args.block_size;
  options.exclude.insert(args.exclude.begin(), args.exclude.end());

  const std::string model_bytes = read_file(args.model);
  int64_t samples = 0;
  const std::map<std::string, TensorRange> ranges = calibrate(args, options, model_bytes, &samples);
  QuantizeReport report;
  const std::string out = quantize_model(model_bytes, args.model, model_dir(args), options, ranges, &report);
  {
    std::ofstream f(args.output, std::ios::binary | std::ios::trunc);
    f.write(out.data(), std::streamsize(out.size()));
    if (!f) throw Error(args.output + ": cannot write the quantized model");
  }
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
