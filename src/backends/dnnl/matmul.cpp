// MatMul, Gemm and their infera.Fused* forms on oneDNN's matmul primitive. Constant weights are reordered once into
// the primitive's preferred layout; alpha is folded into them and beta·C into a bias vector. A matmul whose second
// operand is a constant matrix runs as one [rows, K] x [K, N] product over all leading dimensions.
#include "backends/dnnl/dnnl_common.h"

namespace infera::dnnl_backend {
namespace {

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

class MatMulKernel final : public Kernel {
 public:
  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) override {
    dnnl::stream& s = stream();
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, wrap(src_md, *in[0])},
                                               {DNNL_ARG_DST, wrap(dst_md, *out[0])}};
    args[DNNL_ARG_WEIGHTS] = weights.storage ? weights.memory : wrap(weights_md, *in[1]);
    if (bias.storage) args[DNNL_ARG_BIAS] = bias.memory;
    primitive.execute(s, args);
    s.wait();
  }
  // A constant B is packed; C (Gemm's beta·C, FusedMatMul's bias) is read at compile time whenever it is present.
  bool copied_input(int input) const override { return (input == 1 && weights.storage) || input == 2; }
  std::string describe() const override { return "dnnl matmul " + impl; }

  dnnl::matmul primitive;
  dnnl::memory::desc src_md, weights_md, dst_md;
  PackedConstant weights, bias;
  std::string impl;
};

// The descriptor of a matrix with logical dims `dims`, stored dense row-major, or stored transposed (the last two
// dims swapped in memory): then the last two strides swap.
dnnl::memory::desc matrix_desc(const dnnl::memory::dims& dims, bool transposed, dt type) {
  const size_t r = dims.size();
  dnnl::memory::dims strides(r, 1);
  for (size_t d = r - 1; d-- > 0;) strides[d] = strides[d + 1] * dims[d + 1];
  if (transposed) {
    strides[r - 1] = dims[r - 2];
    strides[r - 2] = 1;
  }
  return dnnl::memory::desc(dims, type, strides);
}


}  // namespace

std::unique_ptr<Kernel> compile_matmul(const KernelRequest& r) {
  const Node& node = r.node;
  const bool gemm = node.op_type == "Gemm" || node.op_type == "FusedGemm";
  const auto& in = r.inputs;
  if (in.size() < 2 || !is_float(in[0]) || in[1].type.dtype != in[0].type.dtype || !is_float(in[1]) ||
      !in[0].layout.plain() || !in[1].layout.plain())
    return nullptr;
  const dt data_type = dnnl_type(in[0].type.dtype);
  Shape a = in[0].type.shape, b = in[1].type.shape;
  if (a.size() < 2 || b.size() < 2) return nullptr;
  const Shape& y = r.outputs[0].shape;
  const float alpha = gemm ? node.attr_float("alpha", 1.f) : 1.f;
  const float beta = gemm ? node.attr_float("beta", 1.f) : 1.f;
  const bool trans_a = gemm && node.attr_int("transA", 0), trans_b = gemm && node.attr_int("transB", 0);
  const Tensor* weights = in[1].constant;
  if (alpha != 1.f && !weights) return nullptr;  // alpha is folded into constant weights only

  // Shapes as oneDNN sees them: equal ranks; a constant matrix B lets every leading dim of A fold into rows.
  dnnl::memory::dims src_dims, wei_dims, dst_dims;
  const bool flatten = !gemm && weights && b.size() == 2;
  if (gemm) {
    src_dims = to_dims(a);
    if (trans_a) std::swap(src_dims[0], src_dims[1]);
    wei_dims = to_dims(b);
    if (trans_b) std::swap(wei_dims[0], wei_dims[1]);
    dst_dims = to_dims(y);
  } else if (flatten) {
    int64_t rows = 1;
    for (size_t d = 0; d + 1 < a.size(); ++d) rows *= a[d];
    src_dims = {rows, a.back()};
    wei_dims = to_dims(b);
    dst_dims = {rows, b[1]};
  } else {
    const size_t rank = std::max(a.size(), b.size());
    a.insert(a.begin(), rank - a.size(), 1);
    b.insert(b.begin(), rank - b.size(), 1);
    src_dims = to_dims(a);
    wei_dims = to_dims(b);
    dst_dims = to_dims(y);
    if (dst_dims.size() != rank) return nullptr;
  }
  const int64_t n = dst_dims.back();
  const size_t rank = dst_dims.size();

  // Bias: beta·C for Gemm when C is a scalar or a row of N; FusedMatMul's 1-D bias.
  std::vector<float> bias;
  const size_t bias_input = 2;
  if (r.has_input(bias_input) && !(gemm && beta == 0.f)) {
    const ValueDesc& c = in[bias_input];
    if (!is_float(c) || !c.constant || !c.layout.plain()) return nullptr;
    const int64_t count = c.constant->numel();
    const Shape& cs = c.type.shape;
    bool row = count == n && (cs.size() == 1 || (cs.size() == 2 && cs[0] == 1));
    if (count != 1 && !row) return nullptr;
    for (int64_t j = 0; j < n; ++j) bias.push_back(beta * float(c.constant->as_double(count == 1 ? 0 : j)));
  }

  dnnl::post_ops ops;
  if (!append_activation(node, ops)) return nullptr;
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);

  auto k = std::make_unique<MatMulKernel>();
  k->src_md = matrix_desc(src_dims, trans_a, data_type);
  k->weights_md = matrix_desc(wei_dims, trans_b, data_type);
  k->dst_md = plain_desc(Shape(dst_dims.begin(), dst_dims.end()), data_type);
  dnnl::memory::dims bias_dims(rank, 1);
  bias_dims.back() = n;
  dnnl::memory::desc bias_md = bias.empty() ? dnnl::memory::desc() : plain_desc(Shape(bias_dims.begin(), bias_dims.end()));
  dnnl::memory::desc wei_pd_md = weights ? dnnl::memory::desc(wei_dims, data_type, tag::any) : k->weights_md;
  dnnl::matmul::desc d(k->src_md, wei_pd_md, bias_md, k->dst_md);
  dnnl::matmul::primitive_desc pd(d, attr, engine());
  if (reference_half_precision(in[0].type.dtype, pd)) return nullptr;
  k->primitive = dnnl::matmul(pd);
  k->impl = pd.impl_info_str();
  // bf16 weights: alpha * B is rounded to bf16 once more (exact when alpha is a power of two, 1 in most models).
  if (weights) k->weights = pack_constant(*weights, k->weights_md, pd.weights_desc(), alpha);
  if (!bias.empty()) {
    Tensor t = Tensor::from_vector<float>({n}, bias);
    k->bias = pack_constant(t, bias_md, pd.bias_desc());
  }
  return k;
}

}  // namespace infera::dnnl_backend
