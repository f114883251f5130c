// Mixed precision under an accuracy budget: quantize a model, and keep the fewest of its quantized layers in fp32
// needed to stay within a top-1 budget (points below fp32 on an evaluation set).
//
// Sensitivity. Each quantized layer is quantized alone (every other one excluded), and the model's first output
// (the logits) is compared with fp32's over the first samples of the evaluation set: its noise-to-signal ratio
// (noise power / signal power) is that layer's cost. Output noise from independent quantizers roughly adds up, so
// keeping the k costliest layers in fp32 is, to first order, the best k to keep; and measuring at the output
// accounts for what the rest of the network does to a layer's error, which a layer's own activation SQNR does
// not (tried first: ranking by the SQNR a layer adds to its own output blames depthwise convolutions whose error
// the following 1x1 convolution averages away, and missed the layer that mattered on mobilenetv2). It costs one
// short run per layer, on mostly-fp32 models (as NNCF's and TensorRT/Polygraphy's layer-wise sensitivity loops);
// quantizing one layer at a time and measuring top-1 instead would need the whole set per layer to resolve
// differences of a sample or two.
//
// Search. Keeping the k most sensitive layers in fp32 is evaluated for k = 0, 1, 2, 4, ... until one meets the
// budget, then bisected between the last k that failed and the first that met it: about 2 log2(k) + 2
// evaluations of the whole set. It assumes that keeping more layers does not lose accuracy, which holds only
// roughly; where it does not, the answer is still a count that was measured to meet the budget.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "quant/evaluate.h"
#include "quant/quantizer.h"

namespace infera {

struct LayerSensitivity {
  std::string node;
  std::string op_type;
  double output_noise = 0;  // noise / signal of the model's first output with only this layer quantized
  double output_sqnr_db() const { return output_noise == 0 ? INFINITY : -10 * std::log10(output_noise); }
};

// Most sensitive first; equal ones keep their order (the graph's).
std::vector<LayerSensitivity> rank_by_sensitivity(std::vector<LayerSensitivity> layers);

// The least top-1 count within `max_drop_points` (top-1 points) of the baseline's on `samples` samples; a drop
// exactly equal to the budget is within it.
int64_t min_correct_within(int64_t baseline_correct, int64_t samples, double max_drop_points);

struct KeptTrial {
  int64_t kept = 0;     // the first `kept` layers of the ranking in fp32
  int64_t correct = 0;  // top-1 count
  bool within = false;
};

struct KeptSearch {
  int64_t kept = -1;  // the fewest that met the budget; -1 when no count did
  std::vector<KeptTrial> trials;  // in the order evaluated
};

// The search above over `layers` ranked layers; `correct_with(k)` evaluates the model with the first k in fp32.
KeptSearch search_fewest_kept(int64_t layers, int64_t min_correct,
                              const std::function<int64_t(int64_t kept)>& correct_with);

struct MixedPrecisionOptions {
  double max_accuracy_drop = 0.5;    // top-1 points below fp32 on the evaluation set
  int64_t sensitivity_samples = 64;  // samples each layer's output noise is measured on
  int threads = 0;                   // evaluation threads; 0: one per core
};

// One evaluated model: its accuracy and its top-1 agreement with fp32, sample by sample.
struct EvaluatedModel {
  Accuracy accuracy;
  int64_t agreement = 0;
  std::string bytes;  // the serialized model
  QuantizeReport report;
};

struct MixedPrecisionPlan {
  // Every quantized layer of the full model, most sensitive first; empty when the full model meets the budget
  // (then nothing is ranked: the sensitivity runs are skipped).
  std::vector<LayerSensitivity> ranking;
  int64_t kept = -1;                      // the first `kept` of `ranking` stay fp32; -1 when no plan met the budget
  std::vector<KeptTrial> trials;
  int64_t samples = 0, min_correct = 0;
  int sensitivity_runs = 0;  // one per quantized layer, on sensitivity_samples
  int evaluations = 0;  // passes over the evaluation set: fp32 and full (one, side by side), then one per trial
  EvaluatedModel fp32, full, plan;  // plan: the full model's when kept <= 0
};

// Calibrated `ranges` are those of the fully quantized model (the same ranges serve every plan: excluding a layer
// only drops quantizers). `options.exclude` (the user's) stays excluded in every plan. `data` is the evaluation
// set, bound to the model's inputs; `progress` shows the evaluations on a terminal.
MixedPrecisionPlan plan_mixed_precision(const std::string& model_bytes, const std::string& name,
                                        const std::string& base_dir, const QuantizeOptions& options,
                                        const std::map<std::string, TensorRange>& ranges, const EvalData& data,
                                        const MixedPrecisionOptions& mixed);

}  // namespace infera
