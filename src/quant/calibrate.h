// Calibration: run the fp32 model over a data set once, collect per-tensor statistics (min, max, histogram), and
// choose each tensor's clipping range by a method (min-max, percentile, entropy as TensorRT, minimum MSE).
//
// Histogram scheme. Bins have one width w and are anchored at zero: bin j holds [j*w, (j+1)*w) for j >= 0 and
// negative j for negative values, so that folding the negative half onto the positive one (the |x| histogram that
// symmetric methods and entropy use) is exact. The first batch sets w so that its range fills `bins` bins; a later
// value outside the covered range adds bins on its side while the total stays within `bins`; past that, w doubles
// and pairs of bins merge (exact, because the grid is anchored at zero), until the value fits. Counts are never
// redistributed by interpolation, so the total count is preserved exactly and at least bins/2 bins are in use
// after the first doubling. Exact zeros (ReLU outputs are often half zeros) are also counted separately: entropy
// and MSE leave them out, since zero quantizes exactly. NaN and infinities are counted and otherwise ignored.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/graph.h"
#include "quant/dataset.h"

namespace infera {

enum class CalibrationMethod { MinMax, Percentile, Entropy, Mse };

CalibrationMethod parse_calibration_method(const std::string& name);  // "minmax", "percentile", "entropy", "mse"
const char* calibration_method_name(CalibrationMethod method);

struct CalibrationOptions {
  CalibrationMethod method = CalibrationMethod::MinMax;
  double percentile = 99.99;  // Percentile: the share of values kept (symmetric: of |x|; else of each tail half)
  bool symmetric = false;     // ranges [-a, a] (int8 activations) instead of [lo, hi] (uint8)
  int bins = 2048;
  int max_samples = 0;  // 0: all
  int threads = 0;      // for the model runs; 0: one per core
  bool progress = true;  // a progress line on stderr when it is a terminal
};

struct TensorRange {
  float min = 0, max = 0;  // the chosen clipping range, fp32; always min <= 0 <= max
};

// The statistics of one tensor over the whole data set.
struct TensorHistogram {
  double min = 0, max = 0;      // over finite values; 0, 0 before any
  double bin_width = 0;         // w; 0 while every value seen was zero
  int64_t first_bin = 0;        // index j of counts[0] (<= 0)
  std::vector<int64_t> counts;  // bins first_bin .. first_bin + counts.size() - 1
  int64_t zeros = 0;            // exact zeros (also counted in bin 0)
  int64_t nonfinite = 0;        // NaN, +-inf: not in the histogram
  int64_t total() const;        // values in the histogram

  // Adds values with the scheme above, never exceeding `max_bins` bins.
  void add(const float* values, int64_t n, int max_bins);
  // The |x| histogram: bin j holds |x| in [j*w, (j+1)*w), j = 0 .. size-1.
  std::vector<int64_t> folded() const;
};

struct CalibrationStats {
  std::map<std::string, TensorHistogram> tensors;
  int64_t samples = 0;
};

// One pass over the data; `tensors` are value names in the ORIGINAL model (inputs of the nodes to quantize). Binds
// `data` to the model's inputs. Throws infera::Error when a name is not a float value of the model.
CalibrationStats collect_statistics(const std::string& model_path, const std::vector<std::string>& tensors,
                                    Dataset& data, const CalibrationOptions& options);
// The same for a model already loaded.
CalibrationStats collect_statistics(const Model& model, const std::vector<std::string>& tensors, Dataset& data,
                                    const CalibrationOptions& options);
// Cheap: the sweep re-runs it per method on the same statistics.
std::map<std::string, TensorRange> choose_ranges(const CalibrationStats& stats, const CalibrationOptions& options);
// The same for one tensor.
TensorRange choose_range(const TensorHistogram& hist, const CalibrationOptions& options);

// Every float value the model's compute nodes read that is not an initializer: graph inputs and activations, in
// graph order (the default tensor list for `infera calibrate`).
std::vector<std::string> float_activations(const std::string& model_path);

}  // namespace infera
