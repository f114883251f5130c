#include "quant/sweep.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/file.h"
#include "core/progress.h"
#include "onnx/import.h"

namespace infera {

namespace {

constexpr CalibrationMethod kMethods[] = {CalibrationMethod::MinMax, CalibrationMethod::Percentile,
                                          CalibrationMethod::Entropy, CalibrationMethod::Mse};

QuantizeOptions quantize_options(const SweepVariant& v, const SweepOptions& options) {
  QuantizeOptions q;
  q.precision = v.precision;
  q.per_channel = v.per_channel;
  q.block_size = options.block_size;
  q.exclude = options.exclude;
  return q;
}

CalibrationOptions calibration_options(CalibrationMethod method, const SweepOptions& options) {
  CalibrationOptions c;
  c.method = method;
  c.percentile = options.percentile;
  c.threads = options.threads;
  return c;
}

// Every activation some int8 variant needs, calibrated in one pass.
CalibrationStats calibrate_once(const std::string& model_bytes, const std::string& model_path,
                                const std::string& base_dir, Dataset& calibration,
                                const std::vector<SweepVariant>& variants, const SweepOptions& options) {
  std::set<std::string> tensors;
  for (const SweepVariant& v : variants)
    if (v.quantized && needs_calibration(v.precision))
      for (const std::string& t : tensors_to_calibrate(model_bytes, model_path, base_dir, quantize_options(v, options)))
        tensors.insert(t);
  if (tensors.empty()) return {};
  return collect_statistics(model_path, std::vector<std::string>(tensors.begin(), tensors.end()), calibration,
                            calibration_options(CalibrationMethod::MinMax, options));
}

std::string mib(int64_t bytes) { return fmt::format("{:.2f}", double(bytes) / (1 << 20)); }

}  // namespace

std::string SweepVariant::file_stem() const {
  std::string stem = name;
  std::replace(stem.begin(), stem.end(), ' ', '-');
  return stem;
}

std::vector<SweepVariant> sweep_variants() {
  std::vector<SweepVariant> variants;
  variants.push_back({"fp32", false});
  variants.push_back({"fp16", true, QuantPrecision::Fp16});
  variants.push_back({"bf16", true, QuantPrecision::Bf16});
  for (CalibrationMethod method : kMethods)
    for (bool per_channel : {false, true})
      variants.push_back({fmt::format("int8 {} {}", calibration_method_name(method),
                                      per_channel ? "per-channel" : "per-tensor"),
                          true, QuantPrecision::Int8, method, per_channel});
  variants.push_back({"int4-weight", true, QuantPrecision::Int4Weight});
  return variants;
}

std::vector<bool> pareto_front(const std::vector<std::pair<double, double>>& accuracy_latency) {
  std::vector<bool> front(accuracy_latency.size(), true);
  for (size_t i = 0; i < accuracy_latency.size(); ++i)
    for (const auto& [accuracy, latency] : accuracy_latency) {
      const auto& [a, l] = accuracy_latency[i];
      if (accuracy >= a && latency <= l && (accuracy > a || latency < l)) front[i] = false;
    }
  return front;
}

SweepReport run_sweep(const std::string& model_path, Dataset calibration, const EvalData& eval,
                      const SweepOptions& options) {
  auto start = std::chrono::steady_clock::now();
  const std::string model_bytes = read_file(model_path);
  const std::string base_dir = std::filesystem::path(model_path).parent_path().string();
  const std::vector<SweepVariant> variants = sweep_variants();
  SweepReport report;
  report.model = model_path;
  report.calibration_data = calibration.path();
  report.eval_data = eval.path();
  report.latency_threads = options.latency_threads;
  report.latency_runs = options.latency_runs;
  const CalibrationStats stats = calibrate_once(model_bytes, model_path, base_dir, calibration, variants, options);
  report.calibration_samples = stats.samples;
  const std::map<std::string, Tensor> sample = eval.first_sample();
  if (!options.output_dir.empty()) std::filesystem::create_directories(options.output_dir);

  Predictions fp32;
  std::vector<std::string> timed;  // the models evaluated, timed together once all are made
  std::vector<size_t> timed_rows;
  Progress progress("sweep", int64_t(variants.size()) * eval.size(), "samples");
  for (const SweepVariant& v : variants) {
    SweepRow row;
    row.variant = v;
    try {
      std::string bytes = model_bytes;
      if (v.quantized) {
        const std::map<std::string, TensorRange> ranges =
            needs_calibration(v.precision) ? choose_ranges(stats, calibration_options(v.method, options))
                                           : std::map<std::string, TensorRange>{};
        bytes = quantize_model(model_bytes, model_path, base_dir, quantize_options(v, options), ranges);
      }
      row.size_bytes = int64_t(bytes.size());
      if (v.quantized && !options.output_dir.empty()) {
        row.file = (std::filesystem::path(options.output_dir) /
                    (std::filesystem::path(model_path).stem().string() + "." + v.file_stem() + ".onnx"))
                       .string();
        write_file(row.file, bytes);
      }
      const Model model = import_model_bytes(bytes.data(), bytes.size(), model_path, base_dir);
      EvalOptions eval_options;
      eval_options.threads = options.threads;
      eval_options.progress = &progress;
      EvalResult r = evaluate(model, nullptr, eval, eval_options, v.name);
      if (!v.quantized) fp32 = r.model;
      row.accuracy = r.accuracy();
      row.agreement = top1_agreement(r.model, fp32);
      row.eval_seconds = r.seconds;
      timed.push_back(std::move(bytes));
      timed_rows.push_back(report.rows.size());
    } catch (const Error& e) {
      row.error = e.what();
    }
    report.rows.push_back(row);
  }
  progress.finish();
  report.samples = eval.size();
  const std::vector<double> latencies =
      median_latencies_ms(timed, model_path, sample, options.latency_threads, options.latency_runs);
  for (size_t i = 0; i < timed_rows.size(); ++i) report.rows[timed_rows[i]].latency_ms = latencies[i];

  std::vector<std::pair<double, double>> points;
  std::vector<SweepRow*> measured;
  for (SweepRow& row : report.rows)
    if (row.error.empty()) {
      points.emplace_back(row.accuracy.top1_rate(), row.latency_ms);
      measured.push_back(&row);
    }
  std::vector<bool> front = pareto_front(points);
  for (size_t i = 0; i < measured.size(); ++i) measured[i]->pareto = front[i];
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

std::string sweep_table(const SweepReport& r) {
  std::string out = fmt::format("{}: {} evaluation samples ({}), {} calibration samples ({})\n", r.model, r.samples,
                                r.eval_data, r.calibration_samples, r.calibration_data);
  out += fmt::format(
      "latency: median of {} runs of one sample, {} thread(s), all variants in alternating rounds; * = on the "
      "accuracy/latency Pareto front\n\n",
      r.latency_runs, r.latency_threads);
  out += fmt::format("  {:<30} {:>7} {:>7} {:>7} {:>10} {:>8} {:>9} {:>7}\n", "variant", "top-1", "top-5", "agree",
                     "latency ms", "speed-up", "size MiB", "eval s");
  double fp32_ms = 0;
  for (const SweepRow& row : r.rows)
    if (!row.variant.quantized && row.error.empty()) fp32_ms = row.latency_ms;
  for (const SweepRow& row : r.rows) {
    const std::string name = (row.pareto ? "* " : "  ") + row.variant.name;
    if (!row.error.empty()) {
      out += fmt::format("  {:<30} failed: {}\n", name, row.error);
      continue;
    }
    out += fmt::format("  {:<30} {:>6.2f}% {:>6.2f}% {:>6.2f}% {:>10.2f} {:>7.2f}x {:>9} {:>7.1f}\n", name,
                       100 * row.accuracy.top1_rate(), 100 * row.accuracy.top5_rate(),
                       100 * double(row.agreement) / double(std::max<int64_t>(r.samples, 1)), row.latency_ms,
                       fp32_ms > 0 && row.latency_ms > 0 ? fp32_ms / row.latency_ms : 0.0, mib(row.size_bytes),
                       row.eval_seconds);
  }
  out += fmt::format("\nsweep time {:.1f} s\n", r.seconds);
  return out;
}

std::string sweep_json(const SweepReport& r) {
  nlohmann::json rows = nlohmann::json::array();
  for (const SweepRow& row : r.rows) {
    nlohmann::json j{{"variant", row.variant.name},
                     {"precision", row.variant.quantized ? quant_precision_name(row.variant.precision) : "fp32"}};
    if (row.variant.quantized && needs_calibration(row.variant.precision)) {
      j["method"] = calibration_method_name(row.variant.method);
      j["per_channel"] = row.variant.per_channel;
    }
    if (!row.error.empty()) {
      j["error"] = row.error;
    } else {
      j["top1"] = row.accuracy.top1_rate();
      j["top5"] = row.accuracy.top5_rate();
      j["agreement"] = double(row.agreement) / double(std::max<int64_t>(r.samples, 1));
      j["latency_ms"] = row.latency_ms;
      j["size_bytes"] = row.size_bytes;
      j["eval_seconds"] = row.eval_seconds;
      j["pareto"] = row.pareto;
    }
    if (!row.file.empty()) j["file"] = row.file;
    rows.push_back(j);
  }
  nlohmann::json j{{"model", r.model},
                   {"eval_data", r.eval_data},
                   {"samples", r.samples},
                   {"calibration_data", r.calibration_data},
                   {"calibration_samples", r.calibration_samples},
                   {"latency_threads", r.latency_threads},
                   {"latency_runs", r.latency_runs},
                   {"seconds", r.seconds},
                   {"variants", rows}};
  return j.dump(2);
}

}  // namespace infera
