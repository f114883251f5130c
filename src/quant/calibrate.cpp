#include "quant/calibrate.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <set>

#include "core/progress.h"
#include "onnx/import.h"
#include "quant/probe.h"
#include "runtime/plan.h"
#include "runtime/static_analysis.h"

namespace infera {

namespace {

constexpr int kInt8Levels = 128;   // entropy: quantized bins for a symmetric int8 range (one side)
constexpr int kUint8Levels = 256;  // entropy: for a one-signed tensor in uint8
constexpr double kSteps = 255;     // MSE: quantization steps across a range (8 bits)

// Floor division by 2 (merging bin pairs): C++20 shifts of negative values are arithmetic.
int64_t half(int64_t j) { return j >> 1; }

TensorRange include_zero(double lo, double hi) {
  return TensorRange{float(std::min(lo, 0.0)), float(std::max(hi, 0.0))};
}

// The value below which `target` of the counts lie, interpolating linearly within the bin that holds it.
double value_at_count(const std::vector<int64_t>& counts, int64_t first_bin, double width, double target) {
  double cumulative = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    double c = double(counts[i]);
    if (c > 0 && cumulative + c >= target) return (double(first_bin + int64_t(i)) + (target - cumulative) / c) * width;
    cumulative += c;
  }
  return double(first_bin + int64_t(counts.size())) * width;
}

TensorRange percentile_range(const TensorHistogram& h, const CalibrationOptions& o) {
  double total = double(h.total());
  double keep = std::clamp(o.percentile, 0.0, 100.0) / 100.0;
  if (o.symmetric) {
    double amax = std::max(std::abs(h.min), std::abs(h.max));
    double t = std::min(value_at_count(h.folded(), 0, h.bin_width, keep * total), amax);
    return TensorRange{float(-t), float(t)};
  }
  double cut = (1.0 - keep) / 2.0 * total;
  double lo = std::max(value_at_count(h.counts, h.first_bin, h.bin_width, cut), h.min);
  double hi = std::min(value_at_count(h.counts, h.first_bin, h.bin_width, total - cut), h.max);
  return include_zero(lo, hi);
}

// Smooths a normalized distribution as ONNX Runtime's and MXNet's entropy calibrators do: empty bins get `eps`,
// so that a candidate whose quantized distribution misses some values is penalised instead of ruled out (without
// it, a sparse tail makes every threshold but the maximum infinitely bad). The mass is taken from the other bins
// in proportion (they subtract it evenly, which can turn small bins negative).
void smooth(std::vector<double>& p, size_t n) {
  constexpr double kEps = 1e-4;
  size_t zeros = size_t(std::count(p.begin(), p.begin() + long(n), 0.0));
  double keep = 1.0 - kEps * double(zeros);
  if (zeros == 0 || keep <= 0) return;
  for (size_t b = 0; b < n; ++b) p[b] = p[b] == 0 ? kEps : p[b] * keep;
}

// TensorRT's entropy calibration: the threshold (a bin edge, at least `levels` bins up) whose clipped
// distribution P (the counts beyond it added to its last bin), quantized to `levels` bins and expanded back over
// the non-empty bins as Q, has the least KL(P || Q).
double entropy_threshold(const std::vector<int64_t>& bins, double width, int levels) {
  const size_t n = bins.size();
  if (n <= size_t(levels)) return double(n) * width;
  std::vector<double> suffix(n + 1, 0.0);  // the counts at and above each bin
  for (size_t i = n; i-- > 0;) suffix[i] = suffix[i + 1] + double(bins[i]);
  if (suffix[0] == 0) return double(n) * width;
  // Candidate counts of bins, strided so that at most ~2048 are tried.
  const size_t stride = std::max<size_t>(1, (n - size_t(levels)) / 2048);
  std::vector<double> quantized(static_cast<size_t>(levels)), nonzero(static_cast<size_t>(levels)), p(n), q(n);
  double best = std::numeric_limits<double>::infinity();
  size_t best_i = n;
  for (size_t i = size_t(levels); i <= n; i += stride) {
    std::fill(quantized.begin(), quantized.end(), 0.0);
    std::fill(nonzero.begin(), nonzero.end(), 0.0);
    auto group = [&](size_t b) { return std::min(b * size_t(levels) / i, size_t(levels) - 1); };
    for (size_t b = 0; b < i; ++b) {
      if (bins[b] == 0) continue;
      quantized[group(b)] += double(bins[b]);
      nonzero[group(b)] += 1;
    }
    double q_sum = suffix[0] - suffix[i];
    if (q_sum <= 0) continue;
    for (size_t b = 0; b < i; ++b) {
      p[b] = (double(bins[b]) + (b + 1 == i ? suffix[i] : 0.0)) / suffix[0];
      q[b] = bins[b] == 0 ? 0.0 : quantized[group(b)] / nonzero[group(b)] / q_sum;
    }
    smooth(p, i);
    smooth(q, i);
    double kl = 0;
    for (size_t b = 0; b < i; ++b)
      if (p[b] > 0) kl += p[b] * std::log(p[b] / q[b]);
    if (kl <= best) {  // ties: the wider range, as TensorRT's last argmin
      best = kl;
      best_i = i;
    }
  }
  return double(best_i) * width;
}

TensorRange entropy_range(const TensorHistogram& h, const CalibrationOptions& o) {
  std::vector<int64_t> bins = h.folded();
  if (!bins.empty()) bins[0] -= h.zeros;  // exact zeros quantize exactly: they should not pull the threshold down
  bool one_signed = h.min >= 0 || h.max <= 0;
  double t = entropy_threshold(bins, h.bin_width, !o.symmetric && one_signed ? kUint8Levels : kInt8Levels);
  if (o.symmetric) return TensorRange{float(-t), float(t)};
  return include_zero(std::max(h.min, -t), std::min(h.max, t));
}

// The expected squared error of quantizing the histogram to [lo, hi] in 255 steps: values inside the range get
// the rounding error of a uniform distribution over a step (step^2 / 12), values outside their clipping error
// (measured from their bin's centre); exact zeros none.
double quantization_error(const TensorHistogram& h, double lo, double hi) {
  double step = (hi - lo) / kSteps;
  double rounding = step * step / 12.0, error = 0;
  for (size_t i = 0; i < h.counts.size(); ++i) {
    int64_t j = h.first_bin + int64_t(i);
    double count = double(h.counts[i] - (j == 0 ? h.zeros : 0));
    if (count == 0) continue;
    double centre = (double(j) + 0.5) * h.bin_width;
    double clipped = centre < lo ? lo - centre : centre > hi ? centre - hi : 0.0;
    error += count * (clipped > 0 ? clipped * clipped : rounding);
  }
  return error;
}

// Minimum MSE over ranges scaled down from the full one, on a geometric grid (1/64 octave, 10 octaves).
TensorRange mse_range(const TensorHistogram& h, const CalibrationOptions& o) {
  double amax = std::max(std::abs(h.min), std::abs(h.max));
  double lo = o.symmetric ? -amax : std::min(h.min, 0.0), hi = o.symmetric ? amax : std::max(h.max, 0.0);
  double best = std::numeric_limits<double>::infinity(), best_scale = 1;
  for (int k = 0; k <= 640; ++k) {
    double scale = std::exp2(-k / 64.0);
    double e = quantization_error(h, scale * lo, scale * hi);
    if (e < best) {  // strictly better: ties keep the wider range
      best = e;
      best_scale = scale;
    }
  }
  return include_zero(best_scale * lo, best_scale * hi);
}

}  // namespace

CalibrationMethod parse_calibration_method(const std::string& name) {
  if (name == "minmax") return CalibrationMethod::MinMax;
  if (name == "percentile") return CalibrationMethod::Percentile;
  if (name == "entropy") return CalibrationMethod::Entropy;
  if (name == "mse") return CalibrationMethod::Mse;
  throw Error("unknown calibration method '" + name + "' (minmax, percentile, entropy or mse)");
}

const char* calibration_method_name(CalibrationMethod method) {
  switch (method) {
    case CalibrationMethod::MinMax: return "minmax";
    case CalibrationMethod::Percentile: return "percentile";
    case CalibrationMethod::Entropy: return "entropy";
    case CalibrationMethod::Mse: return "mse";
  }
  return "?";
}

int64_t TensorHistogram::total() const { return std::accumulate(counts.begin(), counts.end(), int64_t(0)); }

void TensorHistogram::add(const float* values, int64_t n, int max_bins) {
  max_bins = std::max(max_bins, 4);
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  int64_t zero_count = 0, bad = 0;
  for (int64_t i = 0; i < n; ++i) {
    float x = values[i];
    if (!std::isfinite(x)) {
      ++bad;
      continue;
    }
    zero_count += x == 0;
    lo = std::min(lo, double(x));
    hi = std::max(hi, double(x));
  }
  nonfinite += bad;
  if (lo > hi) return;  // nothing finite
  bool first = total() == 0;
  min = first ? lo : std::min(min, lo);
  max = first ? hi : std::max(max, hi);
  zeros += zero_count;
  if (bin_width == 0) {
    if (lo == 0 && hi == 0) {  // all zeros so far: no scale yet; one bin at 0
      counts.assign(1, total() + (n - bad));
      first_bin = 0;
      return;
    }
    int64_t held_zeros = total();
    // The span in max_bins - 2 widths: flooring both ends then needs at most max_bins bins.
    bin_width = (std::max(hi, 0.0) - std::min(lo, 0.0)) / double(max_bins - 2);
    first_bin = std::min<int64_t>(0, int64_t(std::floor(lo / bin_width)));
    counts.assign(size_t(std::max<int64_t>(0, int64_t(std::floor(hi / bin_width))) - first_bin + 1), 0);
    counts[size_t(-first_bin)] = held_zeros;
  }
  int64_t need_lo = std::min(first_bin, int64_t(std::floor(lo / bin_width)));
  int64_t need_hi = std::max(first_bin + int64_t(counts.size()) - 1, int64_t(std::floor(hi / bin_width)));
  while (need_hi - need_lo + 1 > max_bins) {  // double the width: bins 2k and 2k+1 become bin k
    int64_t new_first = half(first_bin);
    std::vector<int64_t> merged(size_t(half(first_bin + int64_t(counts.size()) - 1) - new_first + 1), 0);
    for (size_t i = 0; i < counts.size(); ++i) merged[size_t(half(first_bin + int64_t(i)) - new_first)] += counts[i];
    counts = std::move(merged);
    first_bin = new_first;
    bin_width *= 2;
    need_lo = std::min(first_bin, int64_t(std::floor(lo / bin_width)));
    need_hi = std::max(first_bin + int64_t(counts.size()) - 1, int64_t(std::floor(hi / bin_width)));
  }
  if (need_lo < first_bin) counts.insert(counts.begin(), size_t(first_bin - need_lo), 0);
  first_bin = need_lo;
  counts.resize(size_t(need_hi - need_lo + 1), 0);
  const double inverse = 1.0 / bin_width;
  const int64_t last = need_hi;
  for (int64_t i = 0; i < n; ++i) {
    float x = values[i];
    if (!std::isfinite(x)) continue;
    double t = double(x) * inverse;
    int64_t j = int64_t(t);  // truncation, then down for negatives: floor without a libm call per value
    j -= double(j) > t;
    j = std::clamp(j, first_bin, last);
    ++counts[size_t(j - first_bin)];
  }
}

std::vector<int64_t> TensorHistogram::folded() const {
  int64_t last = first_bin + int64_t(counts.size()) - 1;
  std::vector<int64_t> out(size_t(std::max<int64_t>(last + 1, -first_bin)), 0);
  for (size_t i = 0; i < counts.size(); ++i) {
    int64_t j = first_bin + int64_t(i);
    out[size_t(j >= 0 ? j : -j - 1)] += counts[i];
  }
  return out;
}

TensorRange choose_range(const TensorHistogram& h, const CalibrationOptions& o) {
  if (h.total() == 0 || h.bin_width == 0) return include_zero(h.min, h.max);  // empty or all zeros
  switch (o.method) {
    case CalibrationMethod::MinMax: {
      if (!o.symmetric) return include_zero(h.min, h.max);
      float a = float(std::max(std::abs(h.min), std::abs(h.max)));
      return TensorRange{-a, a};
    }
    case CalibrationMethod::Percentile: return percentile_range(h, o);
    case CalibrationMethod::Entropy: return entropy_range(h, o);
    case CalibrationMethod::Mse: return mse_range(h, o);
  }
  return include_zero(h.min, h.max);
}

std::map<std::string, TensorRange> choose_ranges(const CalibrationStats& stats, const CalibrationOptions& options) {
  std::vector<const std::pair<const std::string, TensorHistogram>*> items;
  for (const auto& item : stats.tensors) items.push_back(&item);
  std::vector<TensorRange> ranges(items.size());
#pragma omp parallel for schedule(dynamic)
  for (size_t i = 0; i < items.size(); ++i) ranges[i] = choose_range(items[i]->second, options);
  std::map<std::string, TensorRange> out;
  for (size_t i = 0; i < items.size(); ++i) out[items[i]->first] = ranges[i];
  return out;
}

CalibrationStats collect_statistics(const std::string& model_path, const std::vector<std::string>& tensors,
                                    Dataset& data, const CalibrationOptions& options) {
  return collect_statistics(import_model_file(model_path), tensors, data, options);
}

CalibrationStats collect_statistics(const Model& model, const std::vector<std::string>& tensors, Dataset& data,
                                    const CalibrationOptions& options) {
  data.bind(model.graph.inputs);
  int64_t samples = options.max_samples > 0 ? std::min<int64_t>(options.max_samples, data.size()) : data.size();
  CalibrationStats stats;
  for (const std::string& t : tensors) stats.tensors[t];
  if (samples == 0) return stats;
  std::vector<TensorHistogram*> hists;
  for (const std::string& t : tensors) hists.push_back(&stats.tensors[t]);

  Batch batch = data.batch(0);
  std::map<std::string, Shape> shapes;
  for (const auto& [name, t] : batch.inputs) shapes[name] = t.shape();
  ActivationProbe probe(model, tensors, shapes, options.threads);
  Progress progress("calibrate", samples, "samples", options.progress);
  for (int64_t b = 0; stats.samples < samples; ++b) {
    if (b > 0) batch = data.batch(b);
    std::map<std::string, Tensor> values = probe.run(batch.inputs);
    int64_t use = std::min(batch.count, samples - stats.samples);
    for (const std::string& t : tensors)
      if (values.at(t).dtype() != DType::Float32)
        throw Error(model.path + ": value '" + t + "' is " + std::string(dtype_name(values.at(t).dtype())) +
                    ", not float32: only float tensors are calibrated");
    bool constants_done = b > 0;  // initializers are the same every batch: count them once
#pragma omp parallel for schedule(dynamic)
    for (size_t i = 0; i < tensors.size(); ++i) {
      const Tensor& v = values.at(tensors[i]);
      bool constant = model.graph.initializers.count(tensors[i]) != 0;
      if (constant && constants_done) continue;
      int64_t n = constant ? v.numel() : sample_elements(v, data.batch_size(), use);
      hists[i]->add(v.data<float>(), n, options.bins);
    }
    stats.samples += use;
    progress.advance(use);
  }
  return stats;
}

std::vector<std::string> float_activations(const std::string& model_path) {
  Model model = import_model_file(model_path);
  ModelPlan plan(model, true);
  GraphAnalysis analysis = analyze_graph(model, plan, {});
  std::vector<std::string> names;
  std::set<std::string> seen;
  for (const NodeStep& step : plan.plan(model.graph).steps) {
    for (const std::string& in : step.node->inputs) {
      if (in.empty() || model.graph.initializers.count(in) || analysis.constants.count(in) || !seen.insert(in).second)
        continue;
      auto it = analysis.values.find(in);
      if (it != analysis.values.end() && it->second.dtype == DType::Float32) names.push_back(in);
    }
  }
  return names;
}

}  // namespace infera
