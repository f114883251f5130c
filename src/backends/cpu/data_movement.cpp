// Float32 data movement: Transpose, Slice and Expand (strided copies: contiguous runs copied with memcpy, a
// transpose of the innermost axis in cache-sized tiles), Concat, Gather (validated indices) and Where.
#include <cstring>
#include <string>

#include "backends/cpu/broadcast.h"
#include "backends/cpu/cpu_kernel.h"
#include "backends/cpu/kernels.h"
#include "ops/helpers.h"

namespace infera::cpu {
namespace {

// Copies the view of src given by `rows` (one operand: the source) into dense dst. When the source's stride along
// the output's rows is not 1 but another dimension `tile_dim` (an outer one) has source stride 1, the copy is a
// batch of 2-D transposes done in tiles, so that both sides touch whole cache lines.
class StridedCopy {
 public:
  explicit StridedCopy(StridedRows<1> rows) : rows_(std::move(rows)) {
    if (rows_.inner_stride[0] == 1 || rows_.inner == 1) return;
    for (size_t d = 0; d < rows_.outer.size(); ++d)
      if (rows_.outer_stride[0][d] == 1) tile_dim_ = int(d);
  }

  void run(const float* src, float* dst) const {
    if (tile_dim_ >= 0)
      run_tiled(src, dst);
    else
      run_rows(src, dst);
  }
  bool tiled() const { return tile_dim_ >= 0; }

 private:
  void run_rows(const float* src, float* dst) const {
    const int64_t n = rows_.inner, step = rows_.inner_stride[0];
    parallel_ranges(rows_.rows(), n, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const float* in = src + rows_.row_offsets(r)[0];
        float* out = dst + r * n;
        if (step == 1)
          std::memcpy(out, in, size_t(n) * sizeof(float));
        else
          for (int64_t j = 0; j < n; ++j) out[j] = in[j * step];
      }
    });
  }

  void run_tiled(const float* src, float* dst) const {
    constexpr int64_t kTile = 16;
    const size_t q = size_t(tile_dim_);
    const int64_t nq = rows_.outer[q], n = rows_.inner, step = rows_.inner_stride[0];
    // Output strides of the outer dimensions (the output is dense).
    std::vector<int64_t> out_stride(rows_.outer.size());
    int64_t s = n;
    for (size_t d = rows_.outer.size(); d-- > 0;) {
      out_stride[d] = s;
      s *= rows_.outer[d];
    }
    const int64_t batches = rows_.rows() / nq, q_tiles = (nq + kTile - 1) / kTile;
    parallel_ranges(batches * q_tiles, kTile * n, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        // Offsets of batch t / q_tiles over the outer dimensions other than q.
        int64_t batch = t / q_tiles, in_base = 0, out_base = 0;
        for (size_t d = rows_.outer.size(); d-- > 0;) {
          if (d == q) continue;
          const int64_t i = batch % rows_.outer[d];
          batch /= rows_.outer[d];
          in_base += i * rows_.outer_stride[0][d];
          out_base += i * out_stride[d];
        }
        const int64_t i0 = (t % q_tiles) * kTile, i1 = std::min(nq, i0 + kTile);
        for (int64_t j0 = 0; j0 < n; j0 += kTile) {
          const int64_t j1 = std::min(n, j0 + kTile);
          for (int64_t i = i0; i < i1; ++i) {
            float* out = dst + out_base + i * out_stride[q];
            const float* in = src + in_base + i;
            for (int64_t j = j0; j < j1; ++j) out[j] = in[j * step];
          }
        }
      }
    });
  }

  StridedRows<1> rows_;
  int tile_dim_ = -1;
};

class StridedCopyKernel final : public CpuKernel {
 public:
  StridedCopyKernel(std::string what, StridedRows<1> rows, int64_t base)
      : CpuKernel(std::move(what)), copy_(std::move(rows)), base_(base) {}

  void run(const std::vector<const Tensor*>& inputs, const std::vector<Tensor*>& outputs) override {
    if (outputs[0]->numel() == 0) return;
    copy_.run(inputs[0]->data<float>() + base_, outputs[0]->data<float>());
  }

 private:
  StridedCopy copy_;
  int64_t base_;  // offset of the view's first element
};

std::unique_ptr<Kernel> make_strided_copy(const char* op, const Shape& out, std::vector<int64_t> strides,
                                          int64_t base) {
  StridedRows<1> rows = strided_rows<1>(out, {std::move(strides)});
  std::string what = op;
  if (rows.inner_stride[0] == 1) what += " memcpy";
  const StridedCopy probe(rows);
  if (probe.tiled()) what += " tiled";
  return std::make_unique<StridedCopyKernel>(what, std::move(rows), base);
}

class ConcatKernel final : public CpuKernel {
 public:
  ConcatKernel(int64_t outer, std::vector<int64_t> chunks) : CpuKernel("concat"), outer_(outer), chunks_(std::move(chunks)) {}

  void run(const std::vector<const Tensor*>& inputs, const std::vector<Tensor*>& outputs) override {
    float* y = outputs[0]->data<float>();
    int64_t row = 0;
    for (int64_t c : chunks_) row += c;
    parallel_ranges(outer_, row, [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) {
        float* out = y + o * row;
        for (size_t k = 0; k < chunks_.size(); ++k) {
          std::memcpy(out, inputs[k]->data<float>() + o * chunks_[k], size_t(chunks_[k]) * sizeof(float));
          out += chunks_[k];
        }
      }
    });
  }

 private:
  int64_t outer_;
  std::vector<int64_t> chunks_;  // elements each input contributes per outer index
};

class GatherKernel final : public CpuKernel {
 public:
  GatherKernel(std::string label, int64_t outer, int64_t dim, int64_t inner)
      : CpuKernel("gather"), label_(std::move(label)), outer_(outer), dim_(dim), inner_(inner) {}

  void run(const std::vector<const Tensor*>& inputs, const std::vector<Tensor*>& outputs) override {
    const Tensor& indices = *inputs[1];
    // Validate (and make non-negative) before copying: errors must not be thrown inside the parallel region.
    std::vector<int64_t> rows(static_cast<size_t>(indices.numel()));
    for (int64_t k = 0; k < indices.numel(); ++k) {
      const int64_t i = indices.as_int(k);
      if (i < -dim_ || i >= dim_)
        throw Error(label_ + ": index " + std::to_string(i) + " is out of range for a dimension of " +
                    std::to_string(dim_));
      rows[size_t(k)] = i < 0 ? i + dim_ : i;
    }
    const float* x = inputs[0]->data<float>();
    float* y = outputs[0]->data<float>();
    const int64_t count = int64_t(rows.size()), inner = inner_;
    parallel_ranges(outer_ * count, inner, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        const int64_t o = t / count;
        std::memcpy(y + t * inner, x + (o * dim_ + rows[size_t(t % count)]) * inner, size_t(inner) * sizeof(float));
      }
    });
  }

 private:
  std::string label_;
  int64_t outer_, dim_, inner_;
};

struct WhereRows {
  INFERA_CPU_INLINE static void run(const bool* c, const float* x, const float* y, float* out, int64_t n, int64_t sc,
                                    int64_t sx, int64_t sy) {
    if (sc == 1 && sx == 1 && sy == 1) {
      for (int64_t j = 0; j < n; ++j) out[j] = c[j] ? x[j] : y[j];
      return;
    }
    for (int64_t j = 0; j < n; ++j) out[j] = c[j * sc] ? x[j * sx] : y[j * sy];
  }
};

class WhereKernel final : public CpuKernel {
 public:
  explicit WhereKernel(StridedRows<3> rows) : CpuKernel("where"), rows_(std::move(rows)) {}

  void run(const std::vector<const Tensor*>& inputs, const std::vector<Tensor*>& outputs) override {
    const bool* c = inputs[0]->data<bool>();
    const float* x = inputs[1]->data<float>();
    const float* y = inputs[2]->data<float>();
    float* out = outputs[0]->data<float>();
    auto fn = variant<WhereRows, const bool*, const float*, const float*, float*, int64_t, int64_t, int64_t, int64_t>(isa());
    const int64_t n = rows_.inner;
    parallel_ranges(rows_.rows(), n, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        const std::array<int64_t, 3> off = rows_.row_offsets(r);
        fn(c + off[0], x + off[1], y + off[2], out + r * n, n, rows_.inner_stride[0], rows_.inner_stride[1],
           rows_.inner_stride[2]);
      }
    });
  }

 private:
  StridedRows<3> rows_;
};

int64_t normalized_axis(int64_t axis, int rank) { return axis < 0 ? axis + rank : axis; }

// Where each output dimension starts in the input and its step, for Slice with constant parameters; false when a
// parameter is not constant or invalid (the reference kernel reports it).
bool slice_window(const KernelRequest& r, std::vector<int64_t>& start, std::vector<int64_t>& step) {
  std::vector<int64_t> starts, ends, axes, steps;
  if (r.node.opset < 10) {
    starts = r.node.attr_ints("starts");
    ends = r.node.attr_ints("ends");
    axes = r.node.attr_ints("axes");
  } else {
    auto optional = [&](size_t i, std::vector<int64_t>& v) {
      return i >= r.inputs.size() || r.inputs[i].type.dtype == DType::Undefined || constant_ints(r, i, v);
    };
    if (!constant_ints(r, 1, starts) || !constant_ints(r, 2, ends) || !optional(3, axes) || !optional(4, steps))
      return false;
  }
  const Shape& in = r.inputs[0].type.shape;
  const int rank = int(in.size());
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(int64_t(i));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (axes.size() != starts.size() || steps.size() != starts.size() || ends.size() != starts.size()) return false;
  start.assign(size_t(rank), 0);
  step.assign(size_t(rank), 1);
  for (size_t i = 0; i < starts.size(); ++i) {
    const int64_t a = normalized_axis(axes[i], rank);
    if (a < 0 || a >= rank || steps[i] == 0) return false;
    const int64_t dim = in[size_t(a)];
    int64_t s = starts[i] < 0 ? starts[i] + dim : starts[i];
    s = steps[i] > 0 ? std::clamp<int64_t>(s, 0, dim) : std::clamp<int64_t>(s, 0, std::max<int64_t>(dim - 1, 0));
    start[size_t(a)] = s;
    step[size_t(a)] = steps[i];
  }
  return true;
}

}  // namespace

std::unique_ptr<Kernel> compile_transpose(const KernelRequest& r) {
  if (r.inputs.size() != 1 || !all_plain_float(r)) return nullptr;
  const Shape& in = r.inputs[0].type.shape;
  const int rank = int(in.size());
  std::vector<int64_t> perm = r.node.attr_ints("perm");
  if (perm.empty())
    for (int d = rank; d-- > 0;) perm.push_back(d);
  if (int(perm.size()) != rank) return nullptr;
  const std::vector<int64_t> in_strides = contiguous_strides(in);
  std::vector<int64_t> strides;
  for (int64_t p : perm) {
    if (p < 0 || p >= rank) return nullptr;
    strides.push_back(in_strides[size_t(p)]);
  }
  return make_strided_copy("transpose", r.outputs[0].shape, std::move(strides), 0);
}

std::unique_ptr<Kernel> compile_slice(const KernelRequest& r) {
  if (r.inputs.empty() || !is_plain(r, 0, DType::Float32) || r.outputs.size() != 1 ||
      r.outputs[0].dtype != DType::Float32)
    return nullptr;
  std::vector<int64_t> start, step;
  if (!slice_window(r, start, step)) return nullptr;
  const std::vector<int64_t> in_strides = contiguous_strides(r.inputs[0].type.shape);
  std::vector<int64_t> strides(in_strides.size());
  int64_t base = 0;
  for (size_t d = 0; d < in_strides.size(); ++d) {
    strides[d] = in_strides[d] * step[d];
    if (r.outputs[0].shape[d] > 0) base += start[d] * in_strides[d];
  }
  return make_strided_copy("slice", r.outputs[0].shape, std::move(strides), base);
}

std::unique_ptr<Kernel> compile_expand(const KernelRequest& r) {
  if (r.inputs.empty() || !is_plain(r, 0, DType::Float32) || r.outputs.size() != 1 ||
      r.outputs[0].dtype != DType::Float32)
    return nullptr;
  return make_strided_copy("expand", r.outputs[0].shape, broadcast_strides(r.inputs[0].type.shape, r.outputs[0].shape),
                           0);
}

std::unique_ptr<Kernel> compile_concat(const KernelRequest& r) {
  if (r.inputs.empty() || !all_plain_float(r)) return nullptr;
  const Shape& out = r.outputs[0].shape;
  const int rank = int(out.size());
  const int64_t axis = normalized_axis(r.node.attr_int("axis", 0), rank);
  if (axis < 0 || axis >= rank) return nullptr;
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= out[size_t(d)];
  for (int64_t d = axis + 1; d < rank; ++d) inner *= out[size_t(d)];
  std::vector<int64_t> chunks;
  for (const ValueDesc& v : r.inputs) {
    if (v.type.dtype == DType::Undefined || int(v.type.shape.size()) != rank) return nullptr;
    chunks.push_back(v.type.shape[size_t(axis)] * inner);
  }
  return std::make_unique<ConcatKernel>(outer, std::move(chunks));
}

std::unique_ptr<Kernel> compile_gather(const KernelRequest& r) {
  if (r.inputs.size() != 2 || !is_plain(r, 0, DType::Float32) || r.outputs.size() != 1) return nullptr;
  if (!is_plain(r, 1, DType::Int64) && !is_plain(r, 1, DType::Int32)) return nullptr;
  const Shape& data = r.inputs[0].type.shape;
  const int rank = int(data.size());
  const int64_t axis = normalized_axis(r.node.attr_int("axis", 0), rank);
  if (axis < 0 || axis >= rank) return nullptr;
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= data[size_t(d)];
  for (int64_t d = axis + 1; d < rank; ++d) inner *= data[size_t(d)];
  return std::make_unique<GatherKernel>(r.node.label(), outer, data[size_t(axis)], inner);
}

std::unique_ptr<Kernel> compile_where(const KernelRequest& r) {
  if (r.inputs.size() != 3 || !is_plain(r, 0, DType::Bool) || !is_plain(r, 1, DType::Float32) ||
      !is_plain(r, 2, DType::Float32) || r.outputs.size() != 1 || r.outputs[0].dtype != DType::Float32)
    return nullptr;
  return std::make_unique<WhereKernel>(
      broadcast_rows<3>(r.outputs[0].shape, {r.inputs[0].type.shape, r.inputs[1].type.shape, r.inputs[2].type.shape}));
}

}  // namespace infera::cpu
