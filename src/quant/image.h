// Images as model inputs: decoding (JPEG with libjpeg-turbo, PNG with libpng) and the standard preprocessing
// recipes, computed as the Python pipelines that models are evaluated with compute them (PIL decoding and resizing,
// float32 arithmetic), so that accuracy measured here is comparable.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "infera/tensor.h"

namespace infera {

// How an image becomes a float tensor (the recipes of ../shared/README.md):
//   ImageNet: RGB, shorter side resized to 256 (bilinear, as PIL), centre crop 224x224, /255, then
//             (x - mean) / std with mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225).
//   Cifar:    RGB at its own size, (x/255 - mean) / std with mean (0.4914, 0.4822, 0.4465), std (0.247, 0.243, 0.261).
//   None:     RGB at its own size, the raw pixel values 0..255 as floats.
enum class Preprocess { None, ImageNet, Cifar };
enum class ImageLayout { Nchw, Nhwc };

Preprocess parse_preprocess(const std::string& name);     // "imagenet", "cifar", "none"
ImageLayout parse_image_layout(const std::string& name);  // "nchw", "nhwc"

// RGB, 8 bits per channel, row-major height x width x 3.
struct RgbImage {
  int width = 0, height = 0;
  std::vector<uint8_t> pixels;
};

// Decodes a JPEG (RGB, grayscale or CMYK, converted to RGB as PIL does) or PNG (alpha dropped). Throws
// infera::Error naming the file when it is not a readable image.
RgbImage decode_image(const std::string& bytes, const std::string& name);
RgbImage decode_image_file(const std::string& path);
bool is_image_file(const std::string& path);  // by extension: .jpg, .jpeg, .png (any case)

// Resizes as PIL's Image.resize(size, BILINEAR): a triangle filter widened by the scale when shrinking (so it
// averages instead of skipping pixels), fixed-point coefficients, a horizontal then a vertical pass, each rounded
// to 8 bits.
RgbImage resize_bilinear(const RgbImage& image, int width, int height);

// The sample shape `preprocess` makes of an image of this size: 3xHxW (Nchw) or HxWx3 (Nhwc).
Shape preprocessed_shape(int width, int height, Preprocess preprocess, ImageLayout layout);
// Preprocesses one image into `out`, which holds preprocessed_shape(...) floats.
void preprocess_image(const RgbImage& image, Preprocess preprocess, ImageLayout layout, float* out);

}  // namespace infera
