// LayerNormalization (over the dimensions from `axis` on, which are contiguous) and infera.SkipLayerNormalization
// (S = X + Skip (+ bias) over the last axis, then LayerNormalization of S). One pass per row for the sum, one for
// the squared deviations, one for the affine output. BatchNormalization (inference, constant parameters, one per
// channel): y = x * mul[c] + add[c] with mul and add formed in double as the reference forms them
// (ops/normalization.cpp); what a convolution's fold does not absorb (after a Gemm, a DequantizeLinear).
#include <cmath>

#include "backends/cpu/kernels.h"
#include "backends/cpu/row_math.h"
#include "ops/helpers.h"

namespace infera::cpu {
namespace {

struct NormRowsArgs {
  const float* x = nullptr;
  const float* skip = nullptr;  // SkipLayerNormalization only
  const float* bias = nullptr;  // added to x + skip; SkipLayerNormalization only
  const float* gamma = nullptr;
  const float* beta = nullptr;
  float* y = nullptr;
  float* sum = nullptr;  // x + skip + bias, when requested
  float* mean = nullptr;
  float* inv_std = nullptr;
  int64_t n = 0;
  float epsilon = 0;
};

struct NormRows {
  INFERA_CPU_INLINE static void run(const NormRowsArgs* a, int64_t first, int64_t last) {
    const int64_t n = a->n;
    for (int64_t r = first; r < last; ++r) {
      const float* src = a->x + r * n;
      float* out = a->y + r * n;
      if (a->skip) {
        float* s = a->sum ? a->sum + r * n : out;
        const float* skip = a->skip + r * n;
        if (a->bias)
          for (int64_t j = 0; j < n; ++j) s[j] = src[j] + skip[j] + a->bias[j];
        else
          for (int64_t j = 0; j < n; ++j) s[j] = src[j] + skip[j];
        src = s;
      }
      const float mean = row_sum(src, n) / float(n);
      const float inv_std = 1.0f / std::sqrt(row_squared_deviation(src, n, mean) / float(n) + a->epsilon);
      const float* gamma = a->gamma;
      if (a->beta)
        for (int64_t j = 0; j < n; ++j) out[j] = (src[j] - mean) * inv_std * gamma[j] + a->beta[j];
      else
        for (int64_t j = 0; j < n; ++j) out[j] = (src[j] - mean) * inv_std * gamma[j];
      if (a->mean) a->mean[r] = mean;
      if (a->inv_std) a->inv_std[r] = inv_std;
    }
  }
};

// Which inputs and outputs the kernel uses (index, or -1 when absent).
struct NormBindings {
  int skip = -1, bias = -1, gamma = 1, beta = -1;
  int sum = -1, mean = -1, inv_std = -1;
};

class NormKernel final : public CpuKernel {
 public:
  NormKernel(const char* what, NormBindings bind, int64_t rows, int64_t n, float epsilon)
      : CpuKernel(what), bind_(bind), rows_(rows), n_(n), epsilon_(epsilon) {}

  void run(const std::vector<const Tensor*>& inputs, const std::vector<Tensor*>& outputs) override {
    auto in = [&](int i) { return i < 0 ? nullptr : inputs[size_t(i)]->data<float>(); };
    auto out = [&](int i) { return i < 0 ? nullptr : outputs[size_t(i)]->data<float>(); };
    NormRowsArgs a;
    a.x = in(0);
    a.skip = in(bind_.skip);
    a.bias = in(bind_.bias);
    a.gamma = in(bind_.gamma);
    a.beta = in(bind_.beta);
    a.y = out(0);
    a.sum = out(bind_.sum);
    a.mean = out(bind_.mean);
    a.inv_std = out(bind_.inv_std);
    a.n = n_;
    a.epsilon = epsilon_;
    auto fn = variant<NormRows, const NormRowsArgs*, int64_t, int64_t>(isa());
    parallel_ranges(rows_, n_, [&](int64_t b, int64_t e) { fn(&a, b, e); });
  }
  int inplace_input(int output) const override { return output == 0 ? 0 : -1; }

 private:
  NormBindings bind_;
  int64_t rows_, n_;
  float epsilon_;
};

struct BatchNormArgs {
  const float* x = nullptr;
  float* y = nullptr;
  const double* mul = nullptr;
  const double* add = nullptr;
  int64_t channels = 0, inner = 0;  // inner: elements per (n, c) block
};

// Blocks [first, last) of `inner` elements, block b of channel b % channels; with inner 1 (2-D input) a block is a
// row of all channels.
struct BatchNormBlocks {
  INFERA_CPU_INLINE static void run(const BatchNormArgs* a, int64_t first, int64_t last) {
    if (a->inner == 1) {
      for (int64_t r = first; r < last; ++r) {
        const float* x = a->x + r * a->channels;
        float* y = a->y + r * a->channels;
        for (int64_t c = 0; c < a->channels; ++c) y[c] = float(double(x[c]) * a->mul[c] + a->add[c]);
      }
      return;
    }
    for (int64_t b = first; b < last; ++b) {
      const double m = a->mul[b % a->channels], k = a->add[b % a->channels];
      const float* x = a->x + b * a->inner;
      float* y = a->y + b * a->inner;
      for (int64_t i = 0; i < a->inner; ++i) y[i] = float(double(x[i]) * m + k);
    }
  }
};

class BatchNormKernel final : public CpuKernel {
 public:
  BatchNormKernel(std::vector<double> mul, std::vector<double> add, int64_t blocks, int64_t inner)
      : CpuKernel("batchnorm"), mul_(std::move(mul)), add_(std::move(add)), blocks_(blocks), inner_(inner) {}

  void run(const std::vector<const Tensor*>& inputs, const std::vector<Tensor*>& outputs) override {
    BatchNormArgs a{inputs[0]->data<float>(), outputs[0]->data<float>(), mul_.data(), add_.data(),
                    int64_t(mul_.size()), inner_};
    auto fn = variant<BatchNormBlocks, const BatchNormArgs*, int64_t, int64_t>(isa());
    const int64_t tasks = inner_ == 1 ? blocks_ / a.channels : blocks_;
    const int64_t per_task = inner_ == 1 ? a.channels : inner_;
    parallel_ranges(tasks, per_task, [&](int64_t b, int64_t e) { fn(&a, b, e); });
  }
  int inplace_input(int output) const override { return output == 0 ? 0 : -1; }
  bool copied_input(int input) const override { return input >= 1; }  // folded into mul and add

 private:
  std::vector<double> mul_, add_;
  int64_t blocks_, inner_;
};

bool requested(const KernelRequest& r, size_t i) { return i < r.node.outputs.size() && !r.node.outputs[i].empty(); }

// Input i is absent, or has exactly n elements (a parameter broadcast over the normalised dimensions).
bool parameter_fits(const KernelRequest& r, size_t i, int64_t n) {
  return !r.has_input(i) || shape_numel(r.inputs[i].type.shape) == n;
}

}  // namespace

std::unique_ptr<Kernel> compile_layer_norm(const KernelRequest& r) {
  if (r.inputs.size() < 2 || !all_plain_float(r)) return nullptr;
  const Shape& shape = r.inputs[0].type.shape;
  const int rank = int(shape.size());
  int64_t axis = r.node.attr_int("axis", -1);
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) return nullptr;
  int64_t n = 1;
  for (int d = int(axis); d < rank; ++d) n *= shape[size_t(d)];
  if (n == 0 || !parameter_fits(r, 1, n) || !parameter_fits(r, 2, n)) return nullptr;
  NormBindings bind;
  bind.beta = r.has_input(2) ? 2 : -1;
  bind.mean = requested(r, 1) ? 1 : -1;
  bind.inv_std = requested(r, 2) ? 2 : -1;
  return std::make_unique<NormKernel>("layernorm", bind, shape_numel(shape) / n, n,
                                      r.node.attr_float("epsilon", 1e-5f));
}

std::unique_ptr<Kernel> compile_skip_layer_norm(const KernelRequest& r) {
  if (r.inputs.size() < 3 || !all_plain_float(r)) return nullptr;
  const Shape& shape = r.inputs[0].type.shape;
  if (shape.empty() || r.inputs[1].type.shape != shape) return nullptr;
  const int64_t n = shape.back();
  if (n == 0 || !parameter_fits(r, 2, n) || !parameter_fits(r, 3, n) || !parameter_fits(r, 4, n)) return nullptr;
  NormBindings bind;
  bind.skip = 1;
  bind.gamma = 2;
  bind.beta = r.has_input(3) ? 3 : -1;
  bind.bias = r.has_input(4) ? 4 : -1;
  bind.sum = requested(r, 1) ? 1 : -1;
  return std::make_unique<NormKernel>("skiplayernorm", bind, shape_numel(shape) / n, n,
                                      r.node.attr_float("epsilon", 1e-5f));
}

std::unique_ptr<Kernel> compile_batch_norm(const KernelRequest& r) {
  if (r.inputs.size() != 5 || r.outputs.size() != 1 || !all_plain_float(r) ||
      r.node.attr_int("training_mode", 0) != 0)
    return nullptr;
  const Shape& x = r.inputs[0].type.shape;
  if (x.size() < 2 || x[1] == 0) return nullptr;
  const int64_t channels = x[1];
  std::vector<const float*> p;
  for (size_t i = 1; i < 5; ++i) {
    const Tensor* t = r.inputs[i].constant;
    if (!t || t->numel() != channels) return nullptr;  // per activation (spatial=0 before opset 9): reference
    p.push_back(t->data<float>());
  }
  const double epsilon = r.node.attr_float("epsilon", 1e-5f);
  std::vector<double> mul(static_cast<size_t>(channels)), add(static_cast<size_t>(channels));
  for (size_t c = 0; c < size_t(channels); ++c) {
    mul[c] = double(p[0][c]) / std::sqrt(double(p[3][c]) + epsilon);
    add[c] = double(p[1][c]) - double(p[2][c]) * mul[c];
  }
  const int64_t blocks = x[0] * channels;
  return std::make_unique<BatchNormKernel>(std::move(mul), std::move(add), blocks,
                                           blocks ? shape_numel(x) / blocks : 0);
}

}  // namespace infera::cpu
