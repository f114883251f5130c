// The precision sweep: one model quantized every way `infera quantize` offers (fp32, fp16, bf16, int8 x {minmax,
// percentile, entropy, mse} x {per-tensor, per-channel} weights, int4-weight), each evaluated on the same data
// set (top-1/top-5, top-1 agreement with fp32 sample by sample), timed (median latency of one sample, as `infera
// bench`) and sized, with the accuracy/latency Pareto front marked. Activation statistics are collected once and
// every int8 method chooses its ranges from them; the evaluation images are decoded once and kept.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "quant/evaluate.h"
#include "quant/quantizer.h"

namespace infera {

struct SweepVariant {
  std::string name;       // "int8 entropy per-channel"; also the stem of its file: "int8-entropy-per-channel"
  bool quantized = false;  // false: the fp32 model itself
  QuantPrecision precision = QuantPrecision::Int8;
  CalibrationMethod method = CalibrationMethod::MinMax;  // int8
  bool per_channel = false;                              // int8
  std::string file_stem() const;
};

// fp32, fp16, bf16, the eight int8 variants, int4-weight.
std::vector<SweepVariant> sweep_variants();

struct SweepRow {
  SweepVariant variant;
  Accuracy accuracy;
  int64_t agreement = 0;    // samples whose top-1 equals fp32's
  double latency_ms = 0;    // median of one sample
  int64_t size_bytes = 0;   // the serialized model
  double eval_seconds = 0;  // the pass over the evaluation set (the first variant's includes decoding the images)
  bool pareto = false;      // no other variant is as accurate (top-1) and as fast, and better in one
  std::string file;         // where the model was written; empty when not
  std::string error;        // why the variant could not be made or run; the sweep goes on without it
};

struct SweepOptions {
  int threads = 0;          // calibration and evaluation; 0: one per core
  int latency_threads = 1;  // the latency runs
  int latency_runs = 20;
  double percentile = 99.99;
  int64_t block_size = 32;            // int4-weight
  std::set<std::string> exclude;      // nodes every variant keeps in fp32
  std::string output_dir;             // non-empty: every quantized model is written there
};

struct SweepReport {
  std::string model, calibration_data, eval_data;
  int64_t samples = 0, calibration_samples = 0;
  int latency_threads = 1, latency_runs = 0;
  std::vector<SweepRow> rows;
  double seconds = 0;
};

// Which points are on the Pareto front of (accuracy: higher is better, latency: lower is better). Equal points
// are both on it.
std::vector<bool> pareto_front(const std::vector<std::pair<double, double>>& accuracy_latency);

// Runs the sweep. `calibration` is the calibration set (not yet bound); `eval` is bound to the model's inputs
// and labelled. Shows progress on a terminal.
SweepReport run_sweep(const std::string& model_path, Dataset calibration, const EvalData& eval,
                      const SweepOptions& options);

// The report as a text table (Pareto front marked with *), as JSON, and as a self-contained HTML page.
std::string sweep_table(const SweepReport& report);
std::string sweep_json(const SweepReport& report);
std::string sweep_html(const SweepReport& report);

}  // namespace infera
