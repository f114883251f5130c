// Softmax and LogSoftmax over contiguous rows: the last axis from opset 13, the input flattened to 2-D at `axis`
// before. Each row: its maximum, exp(x - max) with its sum, then a scale (or, for LogSoftmax, x - max - log sum).
#include <cmath>

#include "backends/cpu/kernels.h"
#include "backends/cpu/row_math.h"
#include "ops/helpers.h"

namespace infera::cpu {
namespace {

struct SoftmaxRows {
  INFERA_CPU_INLINE static void run(const float* x, float* y, int64_t rows, int64_t n, float scale, const float* mask,
                                    int64_t mask_row_stride, int64_t mask_step) {
    for (int64_t r = 0; r < rows; ++r) {
      const float* in = x + r * n;
      float* out = y + r * n;
      if (mask) {
        const float* m = mask + r * mask_row_stride;
        if (mask_step)
          for (int64_t j = 0; j < n; ++j) out[j] = scale * in[j] + m[j];
        else
          for (int64_t j = 0; j < n; ++j) out[j] = scale * in[j] + m[0];
        in = out;
      } else if (scale != 1.0f) {
        for (int64_t j = 0; j < n; ++j) out[j] = scale * in[j];
        in = out;
      }
      const float max = row_max(in, n);
      for (int64_t j = 0; j < n; ++j) out[j] = exp_approx(in[j] - max);
      const float inv_sum = 1.0f / row_sum(out, n);
      for (int64_t j = 0; j < n; ++j) out[j] *= inv_sum;
    }
  }
};

// y and x must not overlap: x is read again after y holds the exponentials.
struct LogSoftmaxRows {
  INFERA_CPU_INLINE static void run(const float* x, float* y, int64_t rows, int64_t n) {
    for (int64_t r = 0; r < rows; ++r) {
      const float* in = x + r * n;
      float* out = y + r * n;
      const float max = row_max(in, n);
      for (int64_t j = 0; j < n; ++j) out[j] = exp_approx(in[j] - max);
      const float shift = max + std::log(row_sum(out, n));
      for (int64_t j = 0; j < n; ++j) out[j] = in[j] - shift;
    }
  }
};

class SoftmaxKernel final : public CpuKernel {
 public:
  SoftmaxKernel(bool log, int64_t rows, int64_t n)
      : CpuKernel(log ? "logsoftmax" : "softmax"), log_(log), rows_(rows), n_(n) {}

  void run(const std::vector<const Tensor*>& inputs, const std::vector<Tensor*>& outputs) override {
    const float* x = inputs[0]->data<float>();
    float* y = outputs[0]->data<float>();
    const int64_t n = n_;
    if (log_) {
      auto fn = variant<LogSoftmaxRows, const float*, float*, int64_t, int64_t>(isa());
      parallel_ranges(rows_, n, [&](int64_t b, int64_t e) { fn(x + b * n, y + b * n, e - b, n); });
    } else {
      SoftmaxRowsFn fn = softmax_rows_fn(isa());
      parallel_ranges(rows_, n, [&](int64_t b, int64_t e) { fn(x + b * n, y + b * n, e - b, n, 1.0f, nullptr, 0, 0); });
    }
  }

 private:
  bool log_;
  int64_t rows_, n_;
};

}  // namespace

SoftmaxRowsFn softmax_rows_fn(Isa isa) {
  return variant<SoftmaxRows, const float*, float*, int64_t, int64_t, float, const float*, int64_t, int64_t>(isa);
}

std::unique_ptr<Kernel> compile_softmax(const KernelRequest& r) {
  if (r.inputs.size() != 1 || !all_plain_float(r)) return nullptr;
  const Shape& shape = r.inputs[0].type.shape;
  const int rank = int(shape.size());
  if (rank == 0) return nullptr;
  const bool coerce_2d = r.node.opset < 13;
  int64_t axis = r.node.attr_int("axis", coerce_2d ? 1 : -1);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) return nullptr;  // the reference kernel reports it
  if (!coerce_2d && axis != rank - 1) return nullptr;
  int64_t n = 1;
  for (int d = int(axis); d < rank; ++d) n *= shape[size_t(d)];
  if (n == 0) return nullptr;
  return std::make_unique<SoftmaxKernel>(r.node.op_type == "LogSoftmax", shape_numel(shape) / n, n);
}

}  // namespace infera::cpu
