// ReduceSum, ReduceMean and ReduceMax over trailing axes (the reduced elements of each output are one contiguous
// row), and GlobalAveragePool on plain NCHW (ReduceMean over H x W).
#include <algorithm>

#include "backends/cpu/kernels.h"
#include "backends/cpu/row_math.h"
#include "ops/helpers.h"

namespace infera::cpu {
namespace {

enum class RowReduction { Sum, Mean, Max };

template <RowReduction kind>
struct ReduceRows {
  INFERA_CPU_INLINE static void run(const float* x, float* y, int64_t rows, int64_t n) {
    for (int64_t r = 0; r < rows; ++r) {
      const float* row = x + r * n;
      if constexpr (kind == RowReduction::Max) {
        y[r] = row_max_nan(row, n);
      } else {
        const float s = row_sum(row, n);
        y[r] = kind == RowReduction::Mean ? s / float(n) : s;
      }
    }
  }
};

using ReduceFn = void (*)(const float*, float*, int64_t, int64_t);

class ReduceKernel final : public CpuKernel {
 public:
  ReduceKernel(const char* what, ReduceFn fn, int64_t rows, int64_t n) : CpuKernel(what), fn_(fn), rows_(rows), n_(n) {}

  void run(const std::vector<const Tensor*>& inputs, const std::vector<Tensor*>& outputs) override {
    const float* x = inputs[0]->data<float>();
    float* y = outputs[0]->data<float>();
    parallel_ranges(rows_, n_, [&](int64_t b, int64_t e) { fn_(x + b * n_, y + b, e - b, n_); });
  }

 private:
  ReduceFn fn_;
  int64_t rows_, n_;
};

template <RowReduction kind>
std::unique_ptr<Kernel> make_reduce(const char* what, int64_t rows, int64_t n) {
  return std::make_unique<ReduceKernel>(what, variant<ReduceRows<kind>, const float*, float*, int64_t, int64_t>(active_isa()),
                                        rows, n);
}

// The reduced axes, sorted and non-negative; false when they are not known at compile time or invalid.
bool reduced_axes(const KernelRequest& r, int rank, std::vector<int64_t>& axes) {
  const bool sum = r.node.op_type == "ReduceSum";
  const bool from_input = r.node.opset >= (sum ? 13 : 18);
  if (from_input) {
    if (r.has_input(1)) {
      if (!constant_ints(r, 1, axes)) return false;
    }
  } else {
    axes = r.node.attr_ints("axes");
  }
  if (axes.empty()) {
    if (from_input && r.node.attr_int("noop_with_empty_axes", 0) != 0) return false;  // identity: nothing to run
    for (int d = 0; d < rank; ++d) axes.push_back(d);
  }
  for (int64_t& a : axes) {
    if (a < 0) a += rank;
    if (a < 0 || a >= rank) return false;
  }
  std::sort(axes.begin(), axes.end());
  return std::adjacent_find(axes.begin(), axes.end()) == axes.end();
}

}  // namespace

std::unique_ptr<Kernel> compile_reduce(const KernelRequest& r) {
  if (r.inputs.empty() || !is_plain(r, 0, DType::Float32) || r.outputs.size() != 1 ||
      r.outputs[0].dtype != DType::Float32)
    return nullptr;
  const Shape& shape = r.inputs[0].type.shape;
  const int rank = int(shape.size());
  std::vector<int64_t> axes;
  if (!reduced_axes(r, rank, axes)) return nullptr;
  // Trailing axes only: axes == {rank - k, ..., rank - 1}.
  for (size_t i = 0; i < axes.size(); ++i)
    if (axes[i] != rank - int64_t(axes.size()) + int64_t(i)) return nullptr;
  int64_t n = 1;
  for (int64_t a : axes) n *= shape[size_t(a)];
  if (n == 0) return nullptr;  // empty reductions: the reference's identities
  const int64_t rows = shape_numel(shape) / n;
  const std::string& op = r.node.op_type;
  if (op == "ReduceSum") return make_reduce<RowReduction::Sum>("reducesum", rows, n);
  if (op == "ReduceMean") return make_reduce<RowReduction::Mean>("reducemean", rows, n);
  if (op == "ReduceMax") return make_reduce<RowReduction::Max>("reducemax", rows, n);
  return nullptr;
}

std::unique_ptr<Kernel> compile_global_average_pool(const KernelRequest& r) {
  if (r.inputs.size() != 1 || !all_plain_float(r)) return nullptr;
  const Shape& shape = r.inputs[0].type.shape;
  if (shape.size() < 3) return nullptr;
  const int64_t rows = shape[0] * shape[1];
  const int64_t n = rows ? shape_numel(shape) / rows : 0;
  if (n == 0) return nullptr;
  return make_reduce<RowReduction::Mean>("globalaveragepool", rows, n);
}

}  // namespace infera::cpu
