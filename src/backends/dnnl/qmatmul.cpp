// QLinearMatMul and infera.QuantizedGemm on oneDNN's integer matmul: A (u8 or s8, per-tensor scale and zero point,
// any leading dims folded into rows) times a constant 2-D B (s8, or centered into s8 when it has zero points;
// QuantizedGemm's transB transposed once), with the per-column factor a_scale * b_scale[n] (/ y_scale) as output
// scales. A's zero point is folded into an int32 bias, -a_zp * (column sum of B): exact, since a product has no
// padding. QLinearMatMul requantizes in the epilogue: rounded (as the reference rounds, before the zero point: see
// round_before_zero_point), then the output zero point as oneDNN's. QuantizedGemm stays float and adds its float C
// as a binary post-op.
#include <cstdint>

#include "backends/dnnl/dnnl_common.h"

namespace infera::dnnl_backend {
namespace {

using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

class QMatMulKernel final : public Kernel {
 public:
  void run(const std::vector<const Tensor*>& in, const std::vector<Tensor*>& out) override {
    dnnl::stream& s = stream();
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, wrap(src_md, *in[0])},
                                               {DNNL_ARG_WEIGHTS, weights.memory},
                                               {DNNL_ARG_DST, wrap(dst_md, *out[0])}};
    if (bias.storage) args[DNNL_ARG_BIAS] = bias.memory;
    if (addend.storage) args[DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1] = addend.memory;
    if (dst_zero_point.get(true)) args[DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_DST] = dst_zero_point;
    primitive.execute(s, args);
    s.wait();
  }
  std::string describe() const override { return "dnnl qmatmul " + impl; }

  dnnl::matmul primitive;
  dnnl::memory::desc src_md, dst_md;
  PackedConstant weights, bias;
  PackedConstant addend;  // QuantizedGemm's C, [1, n] float
  dnnl::memory dst_zero_point;
  int32_t zero_point = 0;  // the output's, when not 0
  std::string impl;
};


// A constant parameter with one value, or `count` values when allowed; absent: dflt.
bool params(const ValueDesc* v, int64_t count, double dflt, std::vector<double>& out) {
  out.assign(1, dflt);
  if (!v || v->type.dtype == DType::Undefined) return true;
  if (!v->constant || !(v->constant->numel() == 1 || v->constant->numel() == count)) return false;
  out.clear();
  for (int64_t i = 0; i < v->constant->numel(); ++i) out.push_back(v->constant->as_double(i));
  return true;
}

// B as [k, n], transposed from [n, k] when `transposed`.
Tensor columns_last(const Tensor& b, bool transposed) {
  if (!transposed) return b;
  const int64_t n = b.dim(0), k = b.dim(1);
  Tensor out(b.dtype(), {k, n});
  const auto* from = static_cast<const uint8_t*>(b.raw());
  auto* to = static_cast<uint8_t*>(out.raw());
  for (int64_t c = 0; c < n; ++c)
    for (int64_t j = 0; j < k; ++j) to[j * n + c] = from[c * k + j];
  return out;
}

}  // namespace

std::unique_ptr<Kernel> compile_qlinear_matmul(const KernelRequest& r) {
  const auto& in = r.inputs;
  const bool float_output = r.node.op_type == "QuantizedGemm";
  if (in.size() < (float_output ? 6u : 8u) || !dtype_is_int8(in[0].type.dtype) || !in[0].layout.plain() ||
      !in[3].constant || !dtype_is_int8(in[3].type.dtype) || in[3].constant->rank() != 2 ||
      !(float_output ? r.outputs[0].dtype == DType::Float32 : dtype_is_int8(r.outputs[0].dtype)))
    return nullptr;
  const Tensor b_columns = columns_last(*in[3].constant, float_output && r.node.attr_int("transB", 0) != 0);
  const Shape& a = in[0].type.shape;
  const Shape& b = b_columns.shape();
  if (a.size() < 2 || a.back() != b[0]) return nullptr;
  const int64_t k_dim = b[0], n = b[1];
  int64_t rows = 1;
  for (size_t d = 0; d + 1 < a.size(); ++d) rows *= a[d];

  std::vector<double> a_scale, a_zp, b_scale, b_zp, y_scale, y_zp;
  auto param = [&](size_t i) { return i < in.size() ? &in[i] : nullptr; };
  if (!params(param(1), 1, 1, a_scale) || !params(param(2), 1, 0, a_zp) || !params(param(4), n, 1, b_scale) ||
      !params(param(5), n, 0, b_zp) || !params(float_output ? nullptr : param(6), 1, 1, y_scale) ||
      !params(float_output ? nullptr : param(7), 1, 0, y_zp))
    return nullptr;
  const Tensor* addend = float_output && in.size() > 6 ? in[6].constant : nullptr;
  if (float_output && r.has_input(6) &&
      !(addend && addend->dtype() == DType::Float32 && addend->numel() == n && addend->shape().back() == n))
    return nullptr;

  // B minus its (per-column) zero point, as int8; A's zero point times each column's sum, as a bias.
  Tensor weights(DType::Int8, b);
  int8_t* wv = weights.data<int8_t>();
  std::vector<int64_t> column_sum(static_cast<size_t>(n), 0);
  for (int64_t i = 0; i < weights.numel(); ++i) {
    const int64_t v = b_columns.as_int(i) - int64_t(b_zp[b_zp.size() == 1 ? 0 : size_t(i % n)]);
    if (v < -128 || v > 127) return nullptr;
    wv[i] = int8_t(v);
    column_sum[size_t(i % n)] += v;
  }
  const int64_t src_zp = int64_t(a_zp[0]);
  Tensor bias(DType::Int32, {1, n});
  for (int64_t c = 0; c < n; ++c) {
    const int64_t v = -src_zp * column_sum[size_t(c)];
    if (v < INT32_MIN || v > INT32_MAX) return nullptr;
    bias.data<int32_t>()[c] = int32_t(v);
  }
  std::vector<float> scales;
  for (size_t c = 0; c < b_scale.size(); ++c) scales.push_back(float(a_scale[0]) * float(b_scale[c]) / float(y_scale[0]));

  dnnl::primitive_attr attr;
  attr.set_output_scales(scales.size() > 1 ? 1 << 1 : 0, scales);
  const int32_t dst_zp = int32_t(y_zp[0]);
  if (dst_zp != 0) attr.set_zero_points(DNNL_ARG_DST, 0, {DNNL_RUNTIME_S32_VAL});
  dnnl::post_ops ops;
  const dnnl::memory::desc addend_md = plain_desc({1, n}, dt::f32);
  if (addend) ops.append_binary(dnnl::algorithm::binary_add, addend_md);
  if (!float_output) round_before_zero_point(ops);
  attr.set_post_ops(ops);

  auto k = std::make_unique<QMatMulKernel>();
  if (addend) k->addend = pack_constant(*addend, addend_md, addend_md);
  k->src_md = plain_desc({rows, k_dim}, dnnl_type(in[0].type.dtype));
  k->dst_md = plain_desc({rows, n}, dnnl_type(r.outputs[0].dtype));
  const dnnl::memory::desc bias_md = src_zp != 0 ? plain_desc({1, n}, dt::s32) : dnnl::memory::desc();
  dnnl::matmul::desc d(k->src_md, dnnl::memory::desc({k_dim, n}, dt::s8, tag::any), bias_md, k->dst_md);
  dnnl::matmul::primitive_desc pd(d, attr, engine());
  k->primitive = dnnl::matmul(pd);
  k->impl = pd.impl_info_str();
  k->weights = pack_constant(weights, plain_desc(b, dt::s8), pd.weights_desc());
  if (src_zp != 0) k->bias = pack_constant(bias, bias_md, pd.bias_desc());
  k->zero_point = dst_zp;
  if (dst_zp != 0) k->dst_zero_point = wrap(dnnl::memory::desc({1}, dt::s32, tag::x), &k->zero_point);
  return k;
}

}  // namespace infera::dnnl_backend
