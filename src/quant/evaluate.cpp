#include "quant/evaluate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <numeric>
#include <optional>
#include <set>

#include "core/progress.h"
#include "infera/session.h"
#include "quant/probe.h"

namespace infera {

namespace {

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

std::vector<int64_t> top_classes(const float* row, int64_t classes) {
  std::vector<int64_t> order(static_cast<size_t>(classes));
  std::iota(order.begin(), order.end(), 0);
  size_t n = std::min<size_t>(size_t(kTopClasses), order.size());
  std::partial_sort(order.begin(), order.begin() + long(n), order.end(),
                    [&](int64_t a, int64_t b) { return row[a] > row[b] || (row[a] == row[b] && a < b); });
  order.resize(n);
  return order;
}

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

void check_baseline_inputs(const Model& model, const Model& baseline, const std::string& name,
                           const std::string& baseline_name) {
  for (const ValueInfo& in : baseline.graph.inputs) {
    auto same = [&](const ValueInfo& v) { return v.name == in.name && v.dtype == in.dtype; };
    if (std::none_of(model.graph.inputs.begin(), model.graph.inputs.end(), same))
      throw Error(baseline_name + ": input '" + in.name + "' is not an input of " + name + " with the same type");
  }
}

}  // namespace

Accuracy accuracy_of(const Predictions& predictions, const std::vector<int64_t>& labels) {
  Accuracy a;
  for (size_t i = 0; i < predictions.size() && i < labels.size(); ++i) {
    if (labels[i] < 0 || predictions[i].empty()) continue;
    const std::vector<int64_t>& top = predictions[i];
    ++a.samples;
    a.top1 += top[0] == labels[i];
    a.top5 += std::find(top.begin(), top.end(), labels[i]) != top.end();
  }
  return a;
}

int64_t top1_agreement(const Predictions& a, const Predictions& b) {
  int64_t agree = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) agree += !a[i].empty() && !b[i].empty() && a[i][0] == b[i][0];
  return agree;
}

void LayerError::add(const float* q, const float* r, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    double a = q[i], b = r[i];
    signal += b * b;
    noise += (a - b) * (a - b);
    dot += a * b;
    energy += a * a;
  }
}

double LayerError::sqnr_db() const { return noise == 0 ? INFINITY : 10 * std::log10(signal / noise); }

double LayerError::cosine() const {
  return signal == 0 || energy == 0 ? (signal == energy ? 1 : 0) : dot / std::sqrt(signal * energy);
}

double LayerError::noise_ratio() const { return noise == 0 ? 0 : signal == 0 ? INFINITY : noise / signal; }

EvalData::EvalData(Dataset data, const std::vector<ValueInfo>& model_inputs, int64_t batch_size, bool keep_in_memory)
    : data_(std::move(data)), inputs_(model_inputs), keep_(keep_in_memory) {
  data_.bind(model_inputs, batch_size);
  if (data_.size() == 0) throw Error(data_.path() + ": no samples");
}

Batch EvalData::batch(int64_t index) const {
  if (!keep_) return data_.batch(index);
  while (int64_t(kept_.size()) <= index) kept_.push_back(data_.batch(int64_t(kept_.size())));
  return kept_[size_t(index)];
}

std::map<std::string, Tensor> EvalData::first_sample() const {
  std::map<std::string, Tensor> inputs = batch(0).inputs;
  for (const ValueInfo& in : inputs_) {
    Tensor& t = inputs.at(in.name);
    if (in.dims[0].fixed() || t.rank() == 0 || t.dim(0) <= 1) continue;
    Shape one = t.shape();
    one[0] = 1;
    Tensor row(t.dtype(), one);
    std::memcpy(row.raw(), t.raw(), row.nbytes());
    t = row;
  }
  return inputs;
}

std::map<std::string, Shape> EvalData::batch_shapes() const {
  std::map<std::string, Shape> shapes;
  for (const auto& [name, t] : batch(0).inputs) shapes[name] = t.shape();
  return shapes;
}

EvalResult evaluate(const Model& model, const Model* baseline, const EvalData& data, const EvalOptions& options,
                    const std::string& name, const std::string& baseline_name) {
  auto start = std::chrono::steady_clock::now();
  if (baseline) check_baseline_inputs(model, *baseline, name, baseline_name);
  const std::map<std::string, Shape> shapes = data.batch_shapes();
  const int64_t batch_size = data.batch_size();
  const std::vector<std::string> values =
      baseline && options.per_layer_samples > 0 ? shared_values(model, *baseline) : std::vector<std::string>{};
  ActivationProbe run_model(model, {}, shapes, options.threads);
  std::optional<ActivationProbe> run_baseline, probe_model, probe_baseline;
  if (baseline) run_baseline.emplace(*baseline, std::vector<std::string>{}, shapes, options.threads);
  if (!values.empty()) {
    probe_model.emplace(model, values, shapes, options.threads);
    probe_baseline.emplace(*baseline, values, shapes, options.threads);
  }

  EvalResult r;
  r.labelled = data.labelled();
  std::vector<LayerError> layers;
  for (const std::string& v : values) layers.push_back(LayerError{v});
  std::set<std::string> incomparable;  // not float32 in both, or shaped differently
  for (int64_t b = 0; b < data.batches(); ++b) {
    const Batch batch = data.batch(b);
    int64_t layer_rows = std::min(batch.count, options.per_layer_samples - r.layer_samples);
    bool probing = probe_model && layer_rows > 0;
    std::map<std::string, Tensor> out = probing ? probe_model->run(batch.inputs) : run_model.run(batch.inputs);
    std::map<std::string, Tensor> ref;
    if (baseline) {
      std::map<std::string, Tensor> inputs;
      for (const ValueInfo& in : baseline->graph.inputs) inputs[in.name] = batch.inputs.at(in.name);
      ref = probing ? probe_baseline->run(inputs) : run_baseline->run(inputs);
    }
    Logits logits = logits_of(out.at(model.graph.outputs[0].name), batch_size, name);
    for (int64_t i = 0; i < batch.count; ++i) {
      int64_t label = batch.labels[size_t(i)];
      if (r.labelled && (label < 0 || label >= logits.classes))
        throw Error(batch.names[size_t(i)] + ": label " + std::to_string(label) + " is not one of the model's " +
                    std::to_string(logits.classes) + " classes");
      r.labels.push_back(r.labelled ? label : -1);
      r.names.push_back(batch.names[size_t(i)]);
      r.model.push_back(top_classes(logits.row(i), logits.classes));
      if (baseline) {
        Logits base = logits_of(ref.at(baseline->graph.outputs[0].name), batch_size, baseline_name);
        r.baseline.push_back(top_classes(base.row(i), base.classes));
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
    if (options.progress) options.progress->advance(batch.count);
  }
  for (LayerError& l : layers)
    if (!incomparable.count(l.name)) r.layers.push_back(std::move(l));
  std::stable_sort(r.layers.begin(), r.layers.end(),
                   [](const LayerError& a, const LayerError& b) { return a.sqnr_db() < b.sqnr_db(); });
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

std::vector<double> median_latencies_ms(const std::vector<std::string>& models, const std::string& name,
                                        const std::map<std::string, Tensor>& inputs, int threads, int runs) {
  constexpr int kRunsPerRound = 3;
  SessionOptions options;
  options.threads = threads;
  std::vector<Session> sessions;
  for (const std::string& bytes : models) {
    sessions.push_back(Session::load_from_memory(bytes.data(), bytes.size(), options, name));
    sessions.back().run(inputs);  // compiles for these shapes and warms caches
  }
  std::vector<std::vector<double>> ms(models.size());
  for (int done = 0; done < std::max(runs, 1); done += kRunsPerRound)
    for (size_t m = 0; m < sessions.size(); ++m)
      for (int i = done; i < std::min(std::max(runs, 1), done + kRunsPerRound); ++i) {
        auto start = std::chrono::steady_clock::now();
        sessions[m].run(inputs);
        ms[m].push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
      }
  std::vector<double> medians;
  for (std::vector<double>& v : ms) {
    std::sort(v.begin(), v.end());
    size_t n = v.size();
    medians.push_back(n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2);
  }
  return medians;
}

}  // namespace infera
