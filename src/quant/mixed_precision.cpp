#include "quant/mixed_precision.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/progress.h"
#include "onnx/import.h"
#include "quant/probe.h"

namespace infera {

namespace {

const Node* find_node(const Model& model, const std::string& name) {
  for (const Node& n : model.graph.nodes)
    if (n.name == name) return &n;
  return nullptr;
}

// Evaluates plans, one model per count of kept layers, against the fp32 predictions.
class PlanEvaluator {
 public:
  PlanEvaluator(const std::string& model_bytes, const std::string& name, const std::string& base_dir,
                const QuantizeOptions& options, const std::map<std::string, TensorRange>& ranges,
                const EvalData& data, int threads, const Predictions& fp32)
      : model_bytes_(model_bytes),
        name_(name),
        base_dir_(base_dir),
        options_(options),
        ranges_(ranges),
        data_(data),
        threads_(threads),
        fp32_(fp32) {}

  // The noise on the first output with only `node` of `layers` quantized, against fp32's `reference` outputs of
  // the first batches.
  LayerSensitivity sensitivity(const Model& fp32, const std::vector<std::string>& layers, const std::string& node,
                               const std::vector<Tensor>& reference) {
    QuantizeOptions options = options_;
    for (const std::string& other : layers)
      if (other != node) options.exclude.insert(other);
    const std::string bytes = quantize_model(model_bytes_, name_, base_dir_, options, ranges_);
    const Model model = import_model_bytes(bytes.data(), bytes.size(), name_, base_dir_);
    LayerSensitivity s;
    s.node = node;
    if (const Node* n = find_node(fp32, node)) s.op_type = n->op_type;
    LayerError error;
    ActivationProbe run(model, {}, data_.batch_shapes(), threads_);
    for (size_t b = 0; b < reference.size(); ++b) {
      const Tensor out = run.run(data_.batch(int64_t(b)).inputs).at(model.graph.outputs.at(0).name);
      if (out.dtype() != DType::Float32 || out.shape() != reference[b].shape())
        throw Error(name_ + ": the first output of the model with " + node + " quantized is not fp32's type and shape");
      error.add(out.data<float>(), reference[b].data<float>(), out.numel());
    }
    s.output_noise = error.noise_ratio();
    return s;
  }

  // fp32's first output on the batches that hold the first `samples` samples.
  std::vector<Tensor> reference_outputs(const Model& fp32, int64_t samples) {
    ActivationProbe run(fp32, {}, data_.batch_shapes(), threads_);
    std::vector<Tensor> outputs;
    for (int64_t b = 0; b < std::min(data_.batches(), (samples + data_.batch_size() - 1) / data_.batch_size()); ++b)
      outputs.push_back(run.run(data_.batch(b).inputs).at(fp32.graph.outputs.at(0).name).clone());
    return outputs;
  }

  EvaluatedModel evaluate_plan(const std::vector<LayerSensitivity>& ranking, int64_t kept) {
    QuantizeOptions options = options_;
    for (int64_t i = 0; i < kept; ++i) options.exclude.insert(ranking[size_t(i)].node);
    EvaluatedModel m;
    m.bytes = quantize_model(model_bytes_, name_, base_dir_, options, ranges_, &m.report);
    Model model = import_model_bytes(m.bytes.data(), m.bytes.size(), name_, base_dir_);
    Progress progress(fmt::format("{} kept fp32", kept), data_.size(), "samples");
    EvalOptions eval;
    eval.threads = threads_;
    eval.progress = &progress;
    EvalResult r = evaluate(model, nullptr, data_, eval, name_);
    progress.finish();
    m.accuracy = r.accuracy();
    m.agreement = top1_agreement(r.model, fp32_);
    return m;
  }

 private:
  const std::string& model_bytes_;
  const std::string& name_;
  const std::string& base_dir_;
  const QuantizeOptions& options_;
  const std::map<std::string, TensorRange>& ranges_;
  const EvalData& data_;
  int threads_;
  const Predictions& fp32_;
};

}  // namespace

std::vector<LayerSensitivity> rank_by_sensitivity(std::vector<LayerSensitivity> layers) {
  std::stable_sort(layers.begin(), layers.end(),
                   [](const LayerSensitivity& a, const LayerSensitivity& b) { return a.output_noise > b.output_noise; });
  return layers;
}

int64_t min_correct_within(int64_t baseline_correct, int64_t samples, double max_drop_points) {
  // The small slack keeps a budget of exactly k samples (0.2 pt of 500) from rounding up to k + 1.
  return int64_t(std::ceil(double(baseline_correct) - max_drop_points / 100 * double(samples) - 1e-9));
}

KeptSearch search_fewest_kept(int64_t layers, int64_t min_correct,
                              const std::function<int64_t(int64_t kept)>& correct_with) {
  KeptSearch search;
  auto within = [&](int64_t kept) {
    KeptTrial t{kept, correct_with(kept), false};
    t.within = t.correct >= min_correct;
    search.trials.push_back(t);
    return t.within;
  };
  if (within(0)) {
    search.kept = 0;
    return search;
  }
  int64_t failed = 0, met = -1;
  for (int64_t step = 1; met < 0; step *= 2) {
    int64_t k = std::min(step, layers);
    if (within(k))
      met = k;
    else
      failed = k;
    if (k == layers && met < 0) return search;
  }
  while (met - failed > 1) {
    int64_t mid = failed + (met - failed) / 2;
    (within(mid) ? met : failed) = mid;
  }
  search.kept = met;
  return search;
}

MixedPrecisionPlan plan_mixed_precision(const std::string& model_bytes, const std::string& name,
                                        const std::string& base_dir, const QuantizeOptions& options,
                                        const std::map<std::string, TensorRange>& ranges, const EvalData& data,
                                        const MixedPrecisionOptions& mixed) {
  MixedPrecisionPlan plan;
  const Model fp32 = import_model_bytes(model_bytes.data(), model_bytes.size(), name, base_dir);
  plan.full.bytes = quantize_model(model_bytes, name, base_dir, options, ranges, &plan.full.report);
  const Model full = import_model_bytes(plan.full.bytes.data(), plan.full.bytes.size(), name, base_dir);

  // fp32 and the full model side by side: one pass.
  EvalResult first;
  {
    Progress progress("fp32 + full", data.size(), "samples");
    EvalOptions eval;
    eval.threads = mixed.threads;
    eval.progress = &progress;
    first = evaluate(full, &fp32, data, eval, name + " (quantized)", name);
  }
  if (!first.labelled) throw Error(data.path() + ": the mixed-precision search needs labels (give --labels)");
  plan.evaluations = 1;
  plan.samples = first.samples;
  plan.fp32.accuracy = first.baseline_accuracy();
  plan.fp32.agreement = first.samples;
  plan.fp32.bytes = model_bytes;
  plan.full.accuracy = first.accuracy();
  plan.full.agreement = first.agreement();
  plan.min_correct = min_correct_within(plan.fp32.accuracy.top1, plan.samples, mixed.max_accuracy_drop);

  PlanEvaluator evaluator(model_bytes, name, base_dir, options, ranges, data, mixed.threads, first.baseline);
  plan.kept = 0;
  plan.trials = {KeptTrial{0, plan.full.accuracy.top1, plan.full.accuracy.top1 >= plan.min_correct}};
  if (plan.trials[0].within) {  // no ranking needed
    plan.plan = plan.full;
    return plan;
  }
  {
    const std::vector<std::string>& layers = plan.full.report.quantized;
    const std::vector<Tensor> reference = evaluator.reference_outputs(fp32, mixed.sensitivity_samples);
    Progress progress("sensitivity", int64_t(layers.size()), "layers");
    std::vector<LayerSensitivity> sensitivities;
    for (const std::string& node : layers) {
      sensitivities.push_back(evaluator.sensitivity(fp32, layers, node, reference));
      ++plan.sensitivity_runs;
      progress.advance();
    }
    plan.ranking = rank_by_sensitivity(std::move(sensitivities));
  }
  std::map<int64_t, EvaluatedModel> evaluated{{0, plan.full}};
  KeptSearch search = search_fewest_kept(int64_t(plan.ranking.size()), plan.min_correct, [&](int64_t kept) {
    auto it = evaluated.find(kept);
    if (it == evaluated.end()) {
      it = evaluated.emplace(kept, evaluator.evaluate_plan(plan.ranking, kept)).first;
      ++plan.evaluations;
    }
    return it->second.accuracy.top1;
  });
  plan.kept = search.kept;
  plan.trials = search.trials;
  plan.plan = evaluated.at(std::max<int64_t>(plan.kept, 0));
  return plan;
}

}  // namespace infera
