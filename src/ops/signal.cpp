// Signal processing: DFT, STFT, the Hann / Hamming / Blackman windows and MelWeightMatrix. Transforms are the plain
// O(n^2) sums over a precomputed twiddle table, in double precision.
#include <cmath>
#include <complex>
#include <numbers>

#include "ops/elementwise.h"

namespace infera {
namespace {

using Complex = std::complex<double>;

// Scalar input i as an integer; false when its value is not known yet.
bool scalar_int_input(const OpContext& ctx, int i, int64_t& out) {
  const Tensor* t = ctx.value(i);
  if (!t) return false;
  if (t->numel() != 1) ctx.fail("input " + std::to_string(i) + " must be a scalar");
  if (!dtype_is_integer(t->dtype())) ctx.fail("input " + std::to_string(i) + " must be an integer");
  out = t->as_int(0);
  return true;
}

// e^(-+2 pi i m / length) for m < length: the DFT's twiddle factors, shared by every transform of that length.
std::vector<Complex> twiddles(int64_t length, bool inverse) {
  std::vector<Complex> t(static_cast<size_t>(length));
  const double sign = inverse ? 1.0 : -1.0;
  for (int64_t m = 0; m < length; ++m)
    t[size_t(m)] = std::polar(1.0, sign * 2 * std::numbers::pi * double(m) / double(length));
  return t;
}

// out[k] = sum_n in[n * in_stride] twiddle[k n mod length] for k < bins, over the first min(n_in, length) samples
// (the rest is zero padding), divided by length for the inverse. in and out are strided arrays of complex values.
void dft_1d(const Complex* in, int64_t in_stride, int64_t n_in, const std::vector<Complex>& twiddle, int64_t bins,
            bool inverse, Complex* out, int64_t out_stride) {
  const int64_t length = int64_t(twiddle.size());
  const int64_t n_used = std::min(n_in, length);
  const double scale = inverse ? 1.0 / double(length) : 1.0;
  for (int64_t k = 0; k < bins; ++k) {
    Complex acc = 0;
    for (int64_t n = 0, m = 0; n < n_used; ++n, m = (m + k) % length) acc += in[n * in_stride] * twiddle[size_t(m)];
    out[k * out_stride] = acc * scale;
  }
}

// Reads a [..., 1 or 2] real-or-complex tensor as complex values.
std::vector<Complex> read_complex(const Tensor& t) {
  const int64_t count = t.numel() / t.shape().back();
  const bool is_complex = t.shape().back() == 2;
  std::vector<Complex> v(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i)
    v[size_t(i)] = is_complex ? Complex(t.as_double(2 * i), t.as_double(2 * i + 1)) : Complex(t.as_double(i), 0);
  return v;
}

void write_complex(const std::vector<Complex>& v, Tensor& t) {
  visit_float(t.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = t.data<T>();
    for (size_t i = 0; i < v.size(); ++i) {
      p[2 * i] = T(v[i].real());
      p[2 * i + 1] = T(v[i].imag());
    }
  });
}

void require_signal(const OpContext& ctx, int min_rank) {
  if (!dtype_is_float(ctx.dtype(0))) ctx.fail("input must be a float tensor");
  if (ctx.rank(0) < min_rank || (ctx.shape(0).back() != 1 && ctx.shape(0).back() != 2))
    ctx.fail("input must have rank >= " + std::to_string(min_rank) + " and a last dimension of 1 or 2");
}

// ---- DFT ----

// The transform axis (attribute before opset 20, input 2 after) and the DFT length; false when either is an unknown
// value.
bool dft_params(const OpContext& ctx, int& axis, int64_t& length) {
  const int rank = ctx.rank(0);
  int64_t raw_axis = ctx.opset() >= 20 ? -2 : ctx.node().attr_int("axis", 1);
  if (ctx.opset() >= 20 && ctx.has_input(2) && !scalar_int_input(ctx, 2, raw_axis)) return false;
  axis = normalize_axis(ctx, raw_axis, rank);
  if (axis == rank - 1) ctx.fail("axis cannot be the complex dimension");
  length = ctx.shape(0)[size_t(axis)];
  if (ctx.has_input(1)) {
    if (!scalar_int_input(ctx, 1, length)) return false;
    if (length <= 0) ctx.fail("dft_length must be positive");
  }
  return true;
}

bool infer_dft(OpContext& ctx) {
  require_signal(ctx, 2);
  int axis;
  int64_t length;
  if (!dft_params(ctx, axis, length)) return false;
  const bool onesided = ctx.node().attr_int("onesided", 0) != 0;
  if (onesided && ctx.node().attr_int("inverse", 0) != 0) ctx.fail("onesided inverse transforms are not supported");
  Shape out = ctx.shape(0);
  out[size_t(axis)] = onesided ? length / 2 + 1 : length;
  out.back() = 2;
  ctx.set_output(0, ctx.dtype(0), out);
  return true;
}

void dft(OpContext& ctx) {
  int axis;
  int64_t length;
  dft_params(ctx, axis, length);
  const bool inverse = ctx.node().attr_int("inverse", 0) != 0;
  const bool onesided = ctx.node().attr_int("onesided", 0) != 0;
  const Tensor& x = ctx.input(0);
  Shape out_shape = x.shape();
  const int64_t bins = onesided ? length / 2 + 1 : length;
  out_shape[size_t(axis)] = bins;
  out_shape.back() = 2;
  Tensor& y = ctx.output(0, x.dtype(), out_shape);
  const Shape& s = x.shape();
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; ++d) outer *= s[size_t(d)];
  for (int d = axis + 1; d < x.rank() - 1; ++d) inner *= s[size_t(d)];
  const int64_t n_in = s[size_t(axis)];
  const std::vector<Complex> in = read_complex(x);
  const std::vector<Complex> twiddle = twiddles(length, inverse);
  std::vector<Complex> out(size_t(outer * bins * inner));
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i)
      dft_1d(in.data() + o * n_in * inner + i, inner, n_in, twiddle, bins, inverse, out.data() + o * bins * inner + i,
             inner);
  write_complex(out, y);
}

Cost dft_cost(const OpContext& ctx) {
  Cost c = default_cost(ctx);
  const TensorType& out = ctx.output_type(0);
  if (!out.shape_known) return c;
  int axis;
  int64_t length;
  if (!dft_params(ctx, axis, length)) return c;
  c.flops = 8.0 * double(shape_numel(out.shape)) / 2 * double(length);
  return c;
}

// ---- STFT ----

constexpr int kSignal = 0, kFrameStep = 1, kWindow = 2, kFrameLength = 3;

struct StftParams {
  int64_t step = 0, frame_length = 0, frames = 0, bins = 0;
};

bool stft_params(const OpContext& ctx, StftParams& p) {
  const int64_t signal_length = ctx.shape(kSignal)[1];
  if (!scalar_int_input(ctx, kFrameStep, p.step)) return false;
  if (p.step <= 0) ctx.fail("frame_step must be positive");
  const bool has_window = ctx.has_input(kWindow);
  if (has_window && ctx.rank(kWindow) != 1) ctx.fail("window must have rank 1");
  if (ctx.has_input(kFrameLength)) {
    if (!scalar_int_input(ctx, kFrameLength, p.frame_length)) return false;
    if (has_window && ctx.shape(kWindow)[0] != p.frame_length) ctx.fail("window length differs from frame_length");
  } else {
    p.frame_length = has_window ? ctx.shape(kWindow)[0] : signal_length;
  }
  if (p.frame_length <= 0 || p.frame_length > signal_length)
    ctx.fail("frame_length " + std::to_string(p.frame_length) + " is outside [1, signal length]");
  p.frames = 1 + (signal_length - p.frame_length) / p.step;
  p.bins = ctx.node().attr_int("onesided", 1) != 0 ? p.frame_length / 2 + 1 : p.frame_length;
  return true;
}

bool infer_stft(OpContext& ctx) {
  require_signal(ctx, 3);
  if (ctx.rank(kSignal) != 3) ctx.fail("signal must have shape [batch, length, 1 or 2]");
  StftParams p;
  if (!stft_params(ctx, p)) return false;
  ctx.set_output(0, ctx.dtype(kSignal), {ctx.shape(kSignal)[0], p.frames, p.bins, 2});
  return true;
}

void stft(OpContext& ctx) {
  StftParams p;
  stft_params(ctx, p);
  const Tensor& x = ctx.input(kSignal);
  Tensor& y = ctx.output(0, x.dtype(), {x.dim(0), p.frames, p.bins, 2});
  const int64_t batch = x.dim(0), signal_length = x.dim(1);
  std::vector<double> window(size_t(p.frame_length), 1.0);
  if (ctx.has_input(kWindow))
    for (int64_t i = 0; i < p.frame_length; ++i) window[size_t(i)] = ctx.input(kWindow).as_double(i);
  const std::vector<Complex> in = read_complex(x);
  const std::vector<Complex> twiddle = twiddles(p.frame_length, false);
  std::vector<Complex> frame(size_t(p.frame_length));
  std::vector<Complex> out(size_t(batch * p.frames * p.bins));
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t f = 0; f < p.frames; ++f) {
      const Complex* src = in.data() + b * signal_length + f * p.step;
      for (int64_t i = 0; i < p.frame_length; ++i) frame[size_t(i)] = src[i] * window[size_t(i)];
      dft_1d(frame.data(), 1, p.frame_length, twiddle, p.bins, false, out.data() + (b * p.frames + f) * p.bins, 1);
    }
  write_complex(out, y);
}

// ---- Windows ----

// Cosine-sum windows: w[n] = a0 - a1 cos(2 pi n / N) + a2 cos(4 pi n / N), N = size (periodic) or size - 1.
template <int A0Num, int A0Den, int A1Num, int A1Den, int A2Num, int A2Den>
struct CosineWindow {
  static double at(int64_t n, int64_t denom) {
    const double a0 = double(A0Num) / A0Den, a1 = double(A1Num) / A1Den, a2 = double(A2Num) / A2Den;
    if (denom == 0) return 1.0;
    const double phase = 2 * std::numbers::pi * double(n) / double(denom);
    return a0 - a1 * std::cos(phase) + a2 * std::cos(2 * phase);
  }
};
using Hann = CosineWindow<1, 2, 1, 2, 0, 1>;
using Hamming = CosineWindow<25, 46, 21, 46, 0, 1>;
using Blackman = CosineWindow<42, 100, 1, 2, 8, 100>;

DType output_datatype(const OpContext& ctx) {
  const DType t = DType(ctx.node().attr_int("output_datatype", int64_t(DType::Float32)));
  if (!dtype_in(t, kNumericTypes)) ctx.fail("unsupported output_datatype");
  return t;
}

bool infer_window(OpContext& ctx) {
  const DType t = output_datatype(ctx);
  int64_t size;
  if (!scalar_int_input(ctx, 0, size)) return false;
  if (size < 0) ctx.fail("window size must be >= 0");
  ctx.set_output(0, t, {size});
  return true;
}

template <class Window>
void window(OpContext& ctx) {
  const int64_t size = ctx.input(0).as_int(0);
  if (size < 0) ctx.fail("window size must be >= 0");
  Tensor& y = ctx.output(0, output_datatype(ctx), {size});
  const int64_t denom = ctx.node().attr_int("periodic", 1) != 0 ? size : size - 1;
  visit_numeric(y.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = y.data<T>();
    for (int64_t n = 0; n < size; ++n) p[n] = convert<T>(Window::at(n, denom));
  });
}

// ---- MelWeightMatrix ----

constexpr int kNumMelBins = 0, kDftLength = 1, kSampleRate = 2, kLowerEdge = 3, kUpperEdge = 4;

bool infer_mel(OpContext& ctx) {
  const DType t = output_datatype(ctx);
  int64_t mel_bins, dft_length;
  if (!scalar_int_input(ctx, kNumMelBins, mel_bins) || !scalar_int_input(ctx, kDftLength, dft_length)) return false;
  if (mel_bins <= 0 || dft_length <= 0) ctx.fail("num_mel_bins and dft_length must be positive");
  ctx.set_output(0, t, {dft_length / 2 + 1, mel_bins});
  return true;
}

// Triangular filters between mel-spaced frequencies, snapped to DFT bins as the ONNX reference does.
void mel_weight_matrix(OpContext& ctx) {
  const int64_t mel_bins = ctx.input(kNumMelBins).as_int(0), dft_length = ctx.input(kDftLength).as_int(0);
  if (mel_bins <= 0 || dft_length <= 0) ctx.fail("num_mel_bins and dft_length must be positive");
  const double sample_rate = ctx.input(kSampleRate).as_double(0);
  if (sample_rate <= 0) ctx.fail("sample_rate must be positive");
  const double lower = ctx.input(kLowerEdge).as_double(0), upper = ctx.input(kUpperEdge).as_double(0);
  const int64_t spectrogram_bins = dft_length / 2 + 1;
  Tensor& y = ctx.output(0, output_datatype(ctx), {spectrogram_bins, mel_bins});
  auto to_mel = [](double hz) { return 2595 * std::log10(1 + hz / 700); };
  const double low_mel = to_mel(lower), high_mel = to_mel(upper);
  const double mel_step = (high_mel - low_mel) / double(mel_bins + 2);
  std::vector<int64_t> edges(size_t(mel_bins + 2));
  for (int64_t i = 0; i < mel_bins + 2; ++i) {
    const double hz = 700 * (std::pow(10.0, (double(i) * mel_step + low_mel) / 2595) - 1);
    edges[size_t(i)] = int64_t(std::floor(double(dft_length + 1) * hz / sample_rate));
  }
  std::vector<double> w(size_t(spectrogram_bins * mel_bins), 0.0);
  auto set = [&](int64_t j, int64_t i, double v) {
    if (j >= 0 && j < spectrogram_bins) w[size_t(j * mel_bins + i)] = v;
  };
  for (int64_t i = 0; i < mel_bins; ++i) {
    const int64_t left = edges[size_t(i)], center = edges[size_t(i + 1)], right = edges[size_t(i + 2)];
    if (center == left) set(center, i, 1);
    for (int64_t j = left; center != left && j <= center; ++j) set(j, i, double(j - left) / double(center - left));
    for (int64_t j = center; j < right; ++j) set(j, i, double(right - j) / double(right - center));
  }
  visit_numeric(y.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = y.data<T>();
    for (size_t k = 0; k < w.size(); ++k) p[k] = convert<T>(w[k]);
  });
}

}  // namespace

void register_signal_ops(OpTable& t) {
  t.add({.name = "DFT", .infer = infer_dft, .compute = dft, .cost = dft_cost});
  t.add({.name = "STFT", .infer = infer_stft, .compute = stft});
  t.add({.name = "HannWindow", .infer = infer_window, .compute = window<Hann>});
  t.add({.name = "HammingWindow", .infer = infer_window, .compute = window<Hamming>});
  t.add({.name = "BlackmanWindow", .infer = infer_window, .compute = window<Blackman>});
  t.add({.name = "MelWeightMatrix", .infer = infer_mel, .compute = mel_weight_matrix});
}

}  // namespace infera
