// One-input float32 activations and math: y[i] = f(x[i]) with up to two float parameters, vectorised through the
// approximations of vec_math.h, split across threads in chunks for large tensors.
#include <cctype>
#include <cmath>
#include <limits>
#include <string>

#include "backends/cpu/cpu_kernel.h"
#include "backends/cpu/kernels.h"
#include "backends/cpu/vec_math.h"
#include "ops/activation_node.h"

namespace infera::cpu {
namespace {

using UnaryFn = void (*)(const float*, float*, int64_t, float, float);

template <class Op>
struct UnaryBody {
  INFERA_CPU_INLINE static void run(const float* x, float* y, int64_t n, float a, float b) {
    for (int64_t i = 0; i < n; ++i) y[i] = Op::apply(x[i], a, b);
  }
};

#define INFERA_UNARY_OP(Name, expr)                                     \
  struct Name {                                                         \
    INFERA_CPU_INLINE static float apply(float x, float a, float b) { \
      (void)a;                                                          \
      (void)b;                                                          \
      return expr;                                                      \
    }                                                                   \
  }

INFERA_UNARY_OP(ReluOp, x > 0 ? x : 0.0f);
INFERA_UNARY_OP(LeakyReluOp, x < 0 ? a * x : x);
INFERA_UNARY_OP(ClipOp, clamp_nan_passing(x, a, b));
INFERA_UNARY_OP(SigmoidOp, sigmoid_approx(x));
INFERA_UNARY_OP(TanhOp, tanh_approx(x));
INFERA_UNARY_OP(ExpOp, exp_approx(x));
INFERA_UNARY_OP(ErfOp, erf_approx(x));
INFERA_UNARY_OP(SqrtOp, std::sqrt(x));
INFERA_UNARY_OP(ReciprocalOp, 1.0f / x);
INFERA_UNARY_OP(NegOp, -x);
INFERA_UNARY_OP(AbsOp, std::fabs(x));
INFERA_UNARY_OP(SquareOp, x * x);
INFERA_UNARY_OP(HardSigmoidOp, clamp_nan_passing(a * x + b, 0.0f, 1.0f));
INFERA_UNARY_OP(HardSwishOp, x * clamp_nan_passing(x / 6.0f + 0.5f, 0.0f, 1.0f));
INFERA_UNARY_OP(GeluErfOp, gelu_erf(x));
INFERA_UNARY_OP(GeluTanhOp, gelu_tanh(x));

#undef INFERA_UNARY_OP

template <class Op>
UnaryFn unary_fn(Isa isa) {
  return variant<UnaryBody<Op>, const float*, float*, int64_t, float, float>(isa);
}

class UnaryKernel final : public CpuKernel {
 public:
  UnaryKernel(std::string what, UnaryFn fn, float a, float b) : CpuKernel(std::move(what)), fn_(fn), a_(a), b_(b) {}

  void run(const std::vector<const Tensor*>& inputs, const std::vector<Tensor*>& outputs) override {
    const float* x = inputs[0]->data<float>();
    float* y = outputs[0]->data<float>();
    parallel_elements(inputs[0]->numel(), [&](int64_t begin, int64_t end) { fn_(x + begin, y + begin, end - begin, a_, b_); });
  }
  int inplace_input(int output) const override { return output == 0 ? 0 : -1; }

 private:
  UnaryFn fn_;
  float a_, b_;
};

}  // namespace

std::unique_ptr<Kernel> make_square_kernel() {
  return std::make_unique<UnaryKernel>("square", unary_fn<SquareOp>(active_isa()), 0.0f, 0.0f);
}

std::unique_ptr<Kernel> compile_unary(const KernelRequest& r) {
  if (r.inputs.empty() || !is_plain(r, 0, DType::Float32) || r.outputs.size() != 1 ||
      r.outputs[0].dtype != DType::Float32)
    return nullptr;
  const std::string& op = r.node.op_type;
  const Isa isa = active_isa();
  auto make = [&](UnaryFn fn, float a = 0.0f, float b = 0.0f) {
    std::string what = op;
    for (char& c : what) c = char(std::tolower(static_cast<unsigned char>(c)));
    return std::make_unique<UnaryKernel>(what, fn, a, b);
  };
  if (op == "Relu") return make(unary_fn<ReluOp>(isa));
  if (op == "LeakyRelu") return make(unary_fn<LeakyReluOp>(isa), r.node.attr_float("alpha", 0.01f));
  if (op == "Sigmoid") return make(unary_fn<SigmoidOp>(isa));
  if (op == "Tanh") return make(unary_fn<TanhOp>(isa));
  if (op == "Exp") return make(unary_fn<ExpOp>(isa));
  if (op == "Erf") return make(unary_fn<ErfOp>(isa));
  if (op == "Sqrt") return make(unary_fn<SqrtOp>(isa));
  if (op == "Reciprocal") return make(unary_fn<ReciprocalOp>(isa));
  if (op == "Neg") return make(unary_fn<NegOp>(isa));
  if (op == "Abs") return make(unary_fn<AbsOp>(isa));
  if (op == "HardSwish") return make(unary_fn<HardSwishOp>(isa));
  if (op == "HardSigmoid")
    return make(unary_fn<HardSigmoidOp>(isa), r.node.attr_float("alpha", 0.2f), r.node.attr_float("beta", 0.5f));
  if (op == "Clip") {
    float lo, hi;
    if (!clip_bounds(r.node, [&](size_t i) { return r.inputs[i].constant; }, lo, hi)) return nullptr;
    return make(unary_fn<ClipOp>(isa), lo, hi);
  }
  if (op == "Gelu") {
    const std::string approximate = r.node.attr_string("approximate", "none");
    if (approximate == "none") return make(unary_fn<GeluErfOp>(isa));
    if (approximate == "tanh") return make(unary_fn<GeluTanhOp>(isa));
  }
  return nullptr;
}

}  // namespace infera::cpu
