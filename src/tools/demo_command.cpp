// `infera` with no arguments: runs the small CNN shipped in models/demo (trained here on scikit-learn's digits
// by models/demo/make_digits_model.py) on held-out test images that are compiled into the executable.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <fmt/format.h>

#include "tools/commands.h"

extern const unsigned char infera_embedded_digits_cnn[];
extern const size_t infera_embedded_digits_cnn_size;
extern const unsigned char infera_embedded_digits_samples[];
extern const size_t infera_embedded_digits_samples_size;
extern const unsigned char infera_embedded_digits_labels[];
extern const size_t infera_embedded_digits_labels_size;

namespace infera::tools {

namespace {

// An 8x8 image in 0..1 as two rows of text per pixel row, darkest to lightest.
std::vector<std::string> render_digit(const float* pixels) {
  const char* shades = " .:-=+*#%@";
  std::vector<std::string> rows;
  for (int y = 0; y < 8; ++y) {
    std::string row;
    for (int x = 0; x < 8; ++x) row += std::string(2, shades[std::lround(std::clamp(pixels[y * 8 + x], 0.f, 1.f) * 9)]);
    rows.push_back(row);
  }
  return rows;
}

}  // namespace

int demo_command() {
  Session s = Session::load_from_memory(infera_embedded_digits_cnn, infera_embedded_digits_cnn_size, {},
                                        "models/demo/digits_cnn.onnx");
  Tensor images = parse_npy(infera_embedded_digits_samples, infera_embedded_digits_samples_size, "digits_samples.npy");
  Tensor labels = parse_npy(infera_embedded_digits_labels, infera_embedded_digits_labels_size, "digits_labels.npy");
  const int64_t n = images.dim(0);
  ModelSummary sum = s.summary({{s.inputs()[0].name, images.shape()}});

  fmt::print("infera demo: a small CNN trained on scikit-learn's handwritten digits (models/demo/digits_cnn.onnx)\n");
  fmt::print("  model: {} nodes, {} parameters, {:.2f} MFLOP for a batch of {}\n",
             [&] { int c = 0; for (const OpCount& o : sum.op_histogram) c += o.count; return c; }(),
             sum.parameter_count, sum.flops / 1e6, n);

  auto t0 = std::chrono::steady_clock::now();
  std::vector<Tensor> out = s.run({{s.inputs()[0].name, images}});
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  const Tensor& logits = out[0];
  const int64_t classes = logits.dim(1);

  fmt::print("  ran {} held-out test images (never seen in training) in {:.2f} ms\n\n", n, ms);
  int correct = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float* row = logits.data<float>() + i * classes;
    int64_t best = std::max_element(row, row + classes) - row;
    double denom = 0;
    for (int64_t c = 0; c < classes; ++c) denom += std::exp(double(row[c] - row[best]));
    int64_t label = labels.as_int(i);
    correct += best == label;
    if (i < 3) {
      std::vector<std::string> art = render_digit(images.data<float>() + i * 64);
      for (size_t r = 0; r < art.size(); ++r)
        fmt::print("    {}{}\n", art[r],
                   r == 3 ? fmt::format("   label {}, predicted {} ({:.1f}% confident)", label, best, 100.0 / denom)
                          : "");
      fmt::print("\n");
    }
  }
  fmt::print("  image : ");
  for (int64_t i = 0; i < n; ++i) fmt::print("{:>3}", i);
  fmt::print("\n  label : ");
  for (int64_t i = 0; i < n; ++i) fmt::print("{:>3}", labels.as_int(i));
  fmt::print("\n  infera: ");
  for (int64_t i = 0; i < n; ++i) {
    const float* row = logits.data<float>() + i * classes;
    fmt::print("{:>3}", std::max_element(row, row + classes) - row);
  }
  fmt::print("\n\n  {} of {} correct\n", correct, n);
  fmt::print("\nNext: `infera run MODEL.onnx [--input FILE.npy]`, `infera info MODEL.onnx`\n");
  return correct * 10 >= n * 9 ? 0 : 1;
}

}  // namespace infera::tools
