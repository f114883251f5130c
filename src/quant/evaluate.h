// Evaluation of classifiers on a labelled data set, shared by `infera eval`, the mixed-precision search and the
// precision sweep: top-1/top-5 accuracy, the classes predicted for each sample (so that two models are compared
// sample by sample), the error of every activation two models share by name (SQNR, cosine similarity), and the
// median latency of one sample.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/graph.h"
#include "quant/dataset.h"

namespace infera {

class Progress;

constexpr int kTopClasses = 5;

struct Accuracy {
  int64_t top1 = 0, top5 = 0, samples = 0;  // correct counts
  double top1_rate() const { return samples ? double(top1) / double(samples) : 0; }
  double top5_rate() const { return samples ? double(top5) / double(samples) : 0; }
};

// A classifier's best classes for every sample of a data set, best first (fewer than kTopClasses when it has
// fewer classes); ties go to the lower class index.
using Predictions = std::vector<std::vector<int64_t>>;

// Against labels (-1: unlabelled, not counted).
Accuracy accuracy_of(const Predictions& predictions, const std::vector<int64_t>& labels);
// Samples whose best class is the same in both.
int64_t top1_agreement(const Predictions& a, const Predictions& b);

// The error of one activation against the baseline's, summed over samples.
struct LayerError {
  std::string name;
  double signal = 0, noise = 0, dot = 0, energy = 0;  // sum r^2, sum (q - r)^2, sum q*r, sum q^2
  void add(const float* q, const float* r, int64_t n);
  double sqnr_db() const;  // +inf when the two agree exactly
  double cosine() const;
  double noise_ratio() const;  // noise / signal; 0 when exact
};

// A data set bound to a model's inputs. With `keep_in_memory`, every batch is decoded on the first pass and kept
// (the sweep and the mixed-precision search run many models over the same images; decoding JPEGs costs as much
// as running an int8 model on them); otherwise batches are decoded each time they are asked for.
class EvalData {
 public:
  EvalData(Dataset data, const std::vector<ValueInfo>& model_inputs, int64_t batch_size, bool keep_in_memory);
  int64_t size() const { return data_.size(); }
  int64_t batch_size() const { return data_.batch_size(); }
  int64_t batches() const { return data_.batches(); }
  bool labelled() const { return data_.labelled(); }
  const std::string& path() const { return data_.path(); }
  Batch batch(int64_t index) const;
  // The inputs of the first sample alone (batch 1 where the model's batch dimension is symbolic, else the first
  // batch), what a latency is measured on.
  std::map<std::string, Tensor> first_sample() const;
  // Input name -> shape of a batch.
  std::map<std::string, Shape> batch_shapes() const;

 private:
  Dataset data_;
  std::vector<ValueInfo> inputs_;
  bool keep_ = false;
  mutable std::vector<Batch> kept_;  // filled on first use, batch by batch
};

struct EvalOptions {
  int threads = 0;  // 0: one per core
  // > 0 with a baseline: the error of every activation both models compute, over the first this many samples.
  int64_t per_layer_samples = 0;
  Progress* progress = nullptr;  // advanced by the samples evaluated
};

struct EvalResult {
  int64_t samples = 0;
  bool labelled = false;
  std::vector<int64_t> labels;     // per sample; -1 when unlabelled
  std::vector<std::string> names;  // per sample: its file
  Predictions model, baseline;     // baseline: empty without one
  std::vector<LayerError> layers;  // worst SQNR first; with per_layer_samples and a baseline
  int64_t layer_samples = 0;
  double seconds = 0;
  Accuracy accuracy() const { return accuracy_of(model, labels); }
  Accuracy baseline_accuracy() const { return accuracy_of(baseline, labels); }
  int64_t agreement() const { return top1_agreement(model, baseline); }
};

// Runs `model`, and `baseline` when not null, over every batch of `data`; their first output must be float32
// logits [batch, classes]. `name`/`baseline_name` name them in messages. Throws infera::Error on a label that is
// not one of the model's classes, or a baseline input the model does not have.
EvalResult evaluate(const Model& model, const Model* baseline, const EvalData& data, const EvalOptions& options,
                    const std::string& name = "model", const std::string& baseline_name = "baseline");

// The median latency of each serialized model on `inputs`, in milliseconds, with `threads` threads (as `infera
// bench`): one untimed run each, then `runs` timed runs each, taken in alternating rounds of a few runs per model,
// so that a shared machine's slow moments fall on every model alike instead of on whichever ran then.
std::vector<double> median_latencies_ms(const std::vector<std::string>& models, const std::string& name,
                                        const std::map<std::string, Tensor>& inputs, int threads, int runs);

}  // namespace infera
