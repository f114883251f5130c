// Two-input float32 arithmetic with numpy broadcasting: Add, Sub, Mul, Div, Max, Min (two inputs), and Pow with the
// constant exponent 2. The operands are reduced to rows (broadcast.h); each row runs one of three vectorised loops:
// vector-vector, vector-scalar or scalar-vector.
#include <string>

#include "backends/cpu/broadcast.h"
#include "backends/cpu/cpu_kernel.h"
#include "backends/cpu/kernels.h"
#include "backends/cpu/vec_math.h"

namespace infera::cpu {
namespace {

struct AddOp {
  INFERA_CPU_INLINE static float apply(float a, float b) { return a + b; }
};
struct SubOp {
  INFERA_CPU_INLINE static float apply(float a, float b) { return a - b; }
};
struct MulOp {
  INFERA_CPU_INLINE static float apply(float a, float b) { return a * b; }
};
struct DivOp {
  INFERA_CPU_INLINE static float apply(float a, float b) { return a / b; }
};
// NaN in either operand gives NaN, as the reference (numpy's maximum/minimum) does.
struct MaxOp {
  INFERA_CPU_INLINE static float apply(float a, float b) { return a > b || a != a ? a : b; }
};
struct MinOp {
  INFERA_CPU_INLINE static float apply(float a, float b) { return a < b || a != a ? a : b; }
};

template <class Op>
struct VectorVector {
  INFERA_CPU_INLINE static void run(const float* a, const float* b, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = Op::apply(a[i], b[i]);
  }
};
template <class Op>
struct VectorScalar {
  INFERA_CPU_INLINE static void run(const float* a, const float* b, float* y, int64_t n) {
    const float s = *b;
    for (int64_t i = 0; i < n; ++i) y[i] = Op::apply(a[i], s);
  }
};
template <class Op>
struct ScalarVector {
  INFERA_CPU_INLINE static void run(const float* a, const float* b, float* y, int64_t n) {
    const float s = *a;
    for (int64_t i = 0; i < n; ++i) y[i] = Op::apply(s, b[i]);
  }
};
template <class Op>
struct ScalarScalar {
  INFERA_CPU_INLINE static void run(const float* a, const float* b, float* y, int64_t n) {
    const float v = Op::apply(*a, *b);
    for (int64_t i = 0; i < n; ++i) y[i] = v;
  }
};

using RowFn = void (*)(const float*, const float*, float*, int64_t);

template <class Op>
RowFn row_fn(Isa isa, int64_t a_stride, int64_t b_stride) {
  if (a_stride && b_stride) return variant<VectorVector<Op>, const float*, const float*, float*, int64_t>(isa);
  if (a_stride) return variant<VectorScalar<Op>, const float*, const float*, float*, int64_t>(isa);
  if (b_stride) return variant<ScalarVector<Op>, const float*, const float*, float*, int64_t>(isa);
  return variant<ScalarScalar<Op>, const float*, const float*, float*, int64_t>(isa);
}

class BinaryKernel final : public CpuKernel {
 public:
  BinaryKernel(std::string what, RowFn fn, StridedRows<2> rows, int inplace)
      : CpuKernel(std::move(what)), fn_(fn), rows_(std::move(rows)), inplace_(inplace) {}

  void run(const std::vector<const Tensor*>& inputs, const std::vector<Tensor*>& outputs) override {
    const float* a = inputs[0]->data<float>();
    const float* b = inputs[1]->data<float>();
    float* y = outputs[0]->data<float>();
    const int64_t inner = rows_.inner;
    // Tasks are (row, chunk of the row) so that one long row (same-shape operands) still splits across threads.
    constexpr int64_t kChunk = 4096;
    const int64_t chunks = (inner + kChunk - 1) / kChunk;
    parallel_ranges(rows_.rows() * chunks, std::min(inner, kChunk), [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        const int64_t row = t / chunks, first = (t % chunks) * kChunk, count = std::min(kChunk, inner - first);
        const std::array<int64_t, 2> off = rows_.row_offsets(row);
        fn_(a + off[0] + first * rows_.inner_stride[0], b + off[1] + first * rows_.inner_stride[1],
            y + row * inner + first, count);
      }
    });
  }
  int inplace_input(int output) const override { return output == 0 ? inplace_ : -1; }

 private:
  RowFn fn_;
  StridedRows<2> rows_;
  int inplace_;
};

template <class Op>
std::unique_ptr<Kernel> make_binary(const KernelRequest& r, const char* what) {
  const Shape& out = r.outputs[0].shape;
  const Shape& a = r.inputs[0].type.shape;
  const Shape& b = r.inputs[1].type.shape;
  StridedRows<2> rows = broadcast_rows<2>(out, {a, b});
  const RowFn fn = row_fn<Op>(active_isa(), rows.inner_stride[0], rows.inner_stride[1]);
  const int inplace = a == out ? 0 : b == out ? 1 : -1;
  return std::make_unique<BinaryKernel>(what, fn, std::move(rows), inplace);
}

// Pow(x, 2) with a constant exponent of any numeric type: the square kernel.
std::unique_ptr<Kernel> compile_pow(const KernelRequest& r) {
  if (!is_plain(r, 0, DType::Float32) || r.inputs.size() != 2 || !r.inputs[1].constant) return nullptr;
  const Tensor& exponent = *r.inputs[1].constant;
  if (exponent.numel() != 1 || exponent.as_double(0) != 2.0) return nullptr;
  if (shape_numel(r.outputs[0].shape) != shape_numel(r.inputs[0].type.shape)) return nullptr;
  return make_square_kernel();
}

}  // namespace

std::unique_ptr<Kernel> compile_binary(const KernelRequest& r) {
  const std::string& op = r.node.op_type;
  if (r.outputs.size() != 1 || r.outputs[0].dtype != DType::Float32) return nullptr;
  if (op == "Pow") return compile_pow(r);
  // Before opset 7 `broadcast` aligns the second operand at `axis`, not numpy-style.
  if (r.node.opset < 7 && r.node.attr_int("broadcast", 0) != 0) return nullptr;
  if (r.inputs.size() != 2 || !is_plain(r, 0, DType::Float32) || !is_plain(r, 1, DType::Float32)) return nullptr;
  if (op == "Add") return make_binary<AddOp>(r, "add");
  if (op == "Sub") return make_binary<SubOp>(r, "sub");
  if (op == "Mul") return make_binary<MulOp>(r, "mul");
  if (op == "Div") return make_binary<DivOp>(r, "div");
  if (op == "Max") return make_binary<MaxOp>(r, "max");
  if (op == "Min") return make_binary<MinOp>(r, "min");
  return nullptr;
}

}  // namespace infera::cpu
