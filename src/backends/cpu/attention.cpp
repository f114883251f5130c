// infera.Attention(Q, K, V, mask?): Q [B, Sq, h*d], K and V [B, Sk, h*d], attributes num_heads and scale (default
// 1/sqrt(d)); Y [B, Sq, h*d] = per head softmax(scale * Q_h K_h^T + mask) V_h. The two products are oneDNN matmuls
// over all (batch, head) pairs at once, reading each head's columns in place through strided descriptors; the
// softmax (with scale and the broadcast additive mask folded in) is row_math's, over a [B, h, Sq, Sk] scratch.
#include <cmath>
#include <string>

#include "backends/cpu/kernels.h"
#include "backends/dnnl/dnnl_common.h"
#include "backends/cpu/row_math.h"
#include "ops/helpers.h"

namespace infera::cpu {
namespace {

using dnnl::memory;

memory::desc strided_desc(const memory::dims& dims, const memory::dims& strides) {
  return memory::desc(dims, memory::data_type::f32, strides);
}

struct AttentionShape {
  int64_t batch = 0, heads = 0, q_len = 0, kv_len = 0, head_dim = 0;
};

class AttentionKernel final : public CpuKernel {
 public:
  AttentionKernel(const AttentionShape& s, float scale, std::vector<int64_t> mask_strides)
      : CpuKernel("attention"), s_(s), scale_(scale), mask_strides_(std::move(mask_strides)) {
    const int64_t B = s.batch, h = s.heads, Sq = s.q_len, Sk = s.kv_len, d = s.head_dim, hd = h * d;
    q_md_ = strided_desc({B, h, Sq, d}, {Sq * hd, d, hd, 1});
    kt_md_ = strided_desc({B, h, d, Sk}, {Sk * hd, d, 1, hd});
    v_md_ = strided_desc({B, h, Sk, d}, {Sk * hd, d, hd, 1});
    scores_md_ = strided_desc({B, h, Sq, Sk}, {h * Sq * Sk, Sq * Sk, Sk, 1});
    y_md_ = q_md_;
    const dnnl::matmul::primitive_desc scores_pd(dnnl::matmul::desc(q_md_, kt_md_, scores_md_), dnnl_backend::engine());
    const dnnl::matmul::primitive_desc context_pd(dnnl::matmul::desc(scores_md_, v_md_, y_md_), dnnl_backend::engine());
    scores_ = dnnl::matmul(scores_pd);
    context_ = dnnl::matmul(context_pd);
    impl_ = scores_pd.impl_info_str();
    scratch_.resize(size_t(B * h * Sq * Sk));
  }

  std::string describe() const override { return CpuKernel::describe() + " (matmul " + impl_ + ")"; }

  void run(const std::vector<const Tensor*>& inputs, const std::vector<Tensor*>& outputs) override {
    using dnnl_backend::wrap;
    dnnl::stream& stream = dnnl_backend::stream();
    memory scores = wrap(scores_md_, scratch_.data());
    scores_.execute(stream, {{DNNL_ARG_SRC, wrap(q_md_, inputs[0]->raw())},
                             {DNNL_ARG_WEIGHTS, wrap(kt_md_, inputs[1]->raw())},
                             {DNNL_ARG_DST, scores}});
    stream.wait();
    normalize(inputs.size() > 3 && inputs[3] ? inputs[3]->data<float>() : nullptr);
    context_.execute(stream, {{DNNL_ARG_SRC, scores},
                              {DNNL_ARG_WEIGHTS, wrap(v_md_, inputs[2]->raw())},
                              {DNNL_ARG_DST, wrap(y_md_, outputs[0]->raw())}});
    stream.wait();
  }

 private:
  // softmax(scale * scores + mask) per (batch, head) block of Sq rows, in place.
  void normalize(const float* mask) {
    const int64_t rows = s_.q_len, n = s_.kv_len, heads = s_.heads;
    const SoftmaxRowsFn fn = softmax_rows_fn(isa());
    float* scores = scratch_.data();
    parallel_ranges(s_.batch * heads, rows * n, [&](int64_t b, int64_t e) {
      for (int64_t block = b; block < e; ++block) {
        float* x = scores + block * rows * n;
        const float* m = mask ? mask + (block / heads) * mask_strides_[0] + (block % heads) * mask_strides_[1] : nullptr;
        fn(x, x, rows, n, scale_, m, mask_strides_[2], mask_strides_[3]);
      }
    });
  }

  AttentionShape s_;
  float scale_;
  std::vector<int64_t> mask_strides_;  // the mask's strides seen as [B, h, Sq, Sk] (0 along broadcast dimensions)
  memory::desc q_md_, kt_md_, v_md_, scores_md_, y_md_;
  dnnl::matmul scores_, context_;
  std::string impl_;
  std::vector<float> scratch_;
};

}  // namespace

std::unique_ptr<Kernel> compile_attention(const KernelRequest& r) {
  if (r.inputs.size() < 3 || !all_plain_float(r) || r.outputs.size() != 1) return nullptr;
  const Shape& q = r.inputs[0].type.shape;
  const Shape& k = r.inputs[1].type.shape;
  const Shape& v = r.inputs[2].type.shape;
  const int64_t heads = r.node.attr_int("num_heads", 0);
  if (q.size() != 3 || k.size() != 3 || v != k || k[0] != q[0] || k[2] != q[2] || heads <= 0 || q[2] % heads != 0)
    return nullptr;
  AttentionShape s{q[0], heads, q[1], k[1], q[2] / heads};
  if (s.batch * s.heads * s.q_len * s.kv_len * s.head_dim == 0) return nullptr;
  const float scale = r.node.attr_float("scale", 1.0f / std::sqrt(float(s.head_dim)));
  const Shape scores{s.batch, s.heads, s.q_len, s.kv_len};
  std::vector<int64_t> mask_strides(4, 0);
  if (r.has_input(3)) {
    const Shape& mask = r.inputs[3].type.shape;
    if (mask.size() > 4) return nullptr;
    for (size_t i = 0; i < mask.size(); ++i) {
      const int64_t m = mask[mask.size() - 1 - i];
      if (m != 1 && m != scores[3 - i]) return nullptr;
    }
    mask_strides = broadcast_strides(mask, scores);
  }
  return std::make_unique<AttentionKernel>(s, scale, std::move(mask_strides));
}

}  // namespace infera::cpu
