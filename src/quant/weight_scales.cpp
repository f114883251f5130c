#include "quant/weight_scales.h"

#include <algorithm>
#include <cmath>

namespace infera {

WeightScales symmetric_weight_scales(const Tensor& w, int axis, int64_t block, double max_code) {
  WeightScales r;
  const float* pw = w.data<float>();
  const int64_t n = w.numel();
  r.group.assign(static_cast<size_t>(n), 0);
  if (axis < 0) {
    r.scales.assign(1, 0.0f);
  } else {
    const Shape& s = w.shape();
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < axis; ++i) outer *= s[size_t(i)];
    for (size_t i = size_t(axis) + 1; i < s.size(); ++i) inner *= s[i];
    const int64_t dim = s[size_t(axis)];
    const int64_t blocks = block > 0 ? (dim + block - 1) / block : dim;
    if (block > 0) {
      r.shape = s;
      r.shape[size_t(axis)] = blocks;
    } else {
      r.shape = {dim};
    }
    r.scales.assign(static_cast<size_t>(block > 0 ? outer * blocks * inner : dim), 0.0f);
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t d = 0; d < dim; ++d)
        for (int64_t i = 0; i < inner; ++i)
          r.group[size_t((o * dim + d) * inner + i)] = block > 0 ? (o * blocks + d / block) * inner + i : d;
  }
  std::vector<float> absmax(r.scales.size(), 0.0f);
  for (int64_t e = 0; e < n; ++e) {
    float& m = absmax[size_t(r.group[size_t(e)])];
    m = std::max(m, std::fabs(pw[e]));
  }
  for (size_t g = 0; g < absmax.size(); ++g) r.scales[g] = absmax[g] > 0 ? float(absmax[g] / max_code) : 1.0f;
  return r;
}

}  // namespace infera
