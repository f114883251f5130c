// Geometry shared by the convolution family (Conv, ConvTranspose, ConvInteger, QLinearConv): reading the
// kernel_shape / strides / dilations / pads / auto_pad / group attributes against concrete input and weight shapes,
// and the im2col transform that turns a convolution into one GEMM per image and group (col2im_add for its adjoint).
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "ops/gemm_kernel.h"
#include "ops/op.h"

namespace infera {

struct ConvGeometry {
  int64_t batch = 0;
  int64_t in_channels = 0;   // C of the input X (all groups)
  int64_t out_channels = 0;  // M (all groups)
  int64_t group = 1;
  std::vector<int64_t> in_spatial;   // input spatial dims
  std::vector<int64_t> kernel;       // kernel spatial dims
  std::vector<int64_t> strides;
  std::vector<int64_t> dilations;
  std::vector<int64_t> pads_begin;   // effective pads after auto_pad
  std::vector<int64_t> pads_end;
  std::vector<int64_t> out_spatial;  // output spatial dims

  int spatial_rank() const { return int(kernel.size()); }
  int64_t kernel_size() const;  // product of kernel dims
  int64_t in_size() const;      // product of input spatial dims
  int64_t out_size() const;     // product of output spatial dims
  int64_t in_channels_per_group() const { return in_channels / group; }
  int64_t out_channels_per_group() const { return out_channels / group; }
  // Output shape N x M x out_spatial.
  Shape output_shape() const;
};

// The convolution as matrix products (im2col): per image and group, [out pixels x C/group*kernel] by
// [C/group*kernel x M/group].
inline MatrixShape conv_matrix_shape(const ConvGeometry& g) {
  return {g.batch * g.group, g.out_size(), g.out_channels_per_group(), g.in_channels_per_group() * g.kernel_size()};
}

// Reads the node's Conv attributes for input shape x (N x C x D1..Dn) and weight shape w (M x C/group x k1..kn)
// and computes the output dims and effective pads. Fails through ctx on any inconsistency.
ConvGeometry conv_geometry(const OpContext& ctx, const Shape& x, const Shape& w);

// The same for a sliding window without weights (pooling): the kernel comes from the caller, channels are kept
// (out_channels = in_channels, group = 1). ceil_mode rounds the output dims up, dropping a last window that would
// start in the end padding.
ConvGeometry window_geometry(const OpContext& ctx, const Shape& x, const std::vector<int64_t>& kernel,
                             bool ceil_mode);

// Reads strides / dilations / explicit pads (2n values, all begins then all ends) of spatial rank n, defaulting to
// 1 / 1 / 0, and checks them. Used directly by ConvTranspose, whose output dims follow a different rule.
void read_window_attributes(const OpContext& ctx, int n, std::vector<int64_t>& strides,
                            std::vector<int64_t>& dilations, std::vector<int64_t>& pads_begin,
                            std::vector<int64_t>& pads_end);

// Walks the rows of the im2col matrix of `channels` channels: the matrix is (channels * kernel_size) x out_size,
// row-major, and is cut into runs of out_last = out_spatial.back() entries that share the leading output dims.
// For each run, fn(column_offset, image_offset, inside, start) gets the run's offset in the column matrix, the
// offset of its image row (channel and leading dims) in the image (channels x in_spatial), whether the leading
// dims fall inside the image, and the input position of its first entry along the last dim; entry o of the run
// reads input position start + o * strides.back() of that image row.
template <class Fn>
void for_each_column_run(const ConvGeometry& g, int64_t channels, Fn&& fn) {
  const int n = g.spatial_rank();
  const int64_t kernel_size = g.kernel_size(), out_size = g.out_size(), in_size = g.in_size();
  const int64_t out_last = g.out_spatial.back();
  const int64_t runs_per_row = out_last ? out_size / out_last : 0;
  std::vector<int64_t> in_strides(static_cast<size_t>(n), 1);
  for (int d = n - 1; d > 0; --d) in_strides[size_t(d - 1)] = in_strides[size_t(d)] * g.in_spatial[size_t(d)];
  std::vector<int64_t> kpos(static_cast<size_t>(n)), opos(static_cast<size_t>(n));
  for (int64_t c = 0; c < channels; ++c) {
    std::fill(kpos.begin(), kpos.end(), 0);
    for (int64_t k = 0; k < kernel_size; ++k) {
      const int64_t row = (c * kernel_size + k) * out_size;
      const int64_t start = kpos[size_t(n - 1)] * g.dilations[size_t(n - 1)] - g.pads_begin[size_t(n - 1)];
      std::fill(opos.begin(), opos.end(), 0);
      for (int64_t r = 0; r < runs_per_row; ++r) {
        int64_t offset = c * in_size;
        bool inside = true;
        for (int d = 0; d + 1 < n; ++d) {
          const int64_t i = opos[size_t(d)] * g.strides[size_t(d)] - g.pads_begin[size_t(d)] +
                            kpos[size_t(d)] * g.dilations[size_t(d)];
          inside = inside && i >= 0 && i < g.in_spatial[size_t(d)];
          offset += i * in_strides[size_t(d)];
        }
        fn(row + r * out_last, offset, inside, start);
        for (int d = n - 2; d >= 0; --d) {  // odometer over the leading output dims
          if (++opos[size_t(d)] < g.out_spatial[size_t(d)]) break;
          opos[size_t(d)] = 0;
        }
      }
      for (int d = n - 1; d >= 0; --d) {  // next kernel position
        if (++kpos[size_t(d)] < g.kernel[size_t(d)]) break;
        kpos[size_t(d)] = 0;
      }
    }
  }
}

// Expands `channels` channels of one image (channels x in_spatial, contiguous) into the column matrix
// (channels * kernel_size) x out_size, so that W (M x channels*kernel_size) times it is the convolution.
// Positions that fall in the padding read `pad_value` (the zero point for integer convolutions).
template <class T>
void im2col(const ConvGeometry& g, const T* image, int64_t channels, T* columns, T pad_value) {
  const int64_t out_last = g.out_spatial.back(), in_last = g.in_spatial.back(), stride = g.strides.back();
  for_each_column_run(g, channels, [&](int64_t col, int64_t img, bool inside, int64_t start) {
    T* out = columns + col;
    if (!inside) {
      std::fill(out, out + out_last, pad_value);
      return;
    }
    // Entries [lo, hi) of the run read inside the image row; the rest are padding.
    const int64_t lo = std::min(out_last, start >= 0 ? 0 : (-start + stride - 1) / stride);
    const int64_t hi = std::max(lo, std::min(out_last, in_last > start ? (in_last - start + stride - 1) / stride : 0));
    const T* src = image + img;
    std::fill(out, out + lo, pad_value);
    if (stride == 1)
      std::copy(src + start + lo, src + start + hi, out + lo);
    else
      for (int64_t o = lo; o < hi; ++o) out[o] = src[start + o * stride];
    std::fill(out + hi, out + out_last, pad_value);
  });
}

// The adjoint of im2col: adds every column entry back onto the image position it was read from (padding
// entries are dropped). ConvTranspose uses it with the geometry of the convolution it transposes.
template <class T>
void col2im_add(const ConvGeometry& g, const T* columns, int64_t channels, T* image) {
  const int64_t out_last = g.out_spatial.back(), in_last = g.in_spatial.back(), stride = g.strides.back();
  for_each_column_run(g, channels, [&](int64_t col, int64_t img, bool inside, int64_t start) {
    if (!inside) return;
    const T* src = columns + col;
    T* dst = image + img;
    for (int64_t o = 0; o < out_last; ++o) {
      const int64_t i = start + o * stride;
      if (i >= 0 && i < in_last) dst[i] += src[o];
    }
  });
}

// Conv and ConvTranspose on float tensors: X (input 0), W (input 1) and optional bias B (input 2) converted to the
// compute type (float for float16/bfloat16), `forward(x, w, bias_or_null, y)` run on them, Y written back.
template <class Forward>
void run_float_conv(OpContext& ctx, Forward&& forward) {
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(1);
  const Tensor* b = ctx.has_input(2) ? &ctx.input(2) : nullptr;
  Tensor& y = ctx.output(0);
  visit_float(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    ComputeInput<T> xs(x.data<T>(), x.numel()), ws(w.data<T>(), w.numel());
    ComputeInput<T> bs(b ? b->data<T>() : nullptr, b ? b->numel() : 0);
    write_as_compute(y.data<T>(), y.numel(), [&](C* py) { forward(xs.data(), ws.data(), b ? bs.data() : nullptr, py); });
  });
}

}  // namespace infera
