#include "quant/image.h"

#include <jpeglib.h>
#include <png.h>

#include <algorithm>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstring>

#include "core/file.h"
#include "infera/error.h"

namespace infera {

namespace {

// Images beyond this are refused before their pixels are allocated (a corrupt header can claim any size).
constexpr uint64_t kMaxPixels = uint64_t(1) << 28;

// ---- JPEG ----

struct JpegErrorManager {
  jpeg_error_mgr base;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void jpeg_error_exit(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegErrorManager*>(cinfo->err);
  cinfo->err->format_message(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

void jpeg_ignore_message(j_common_ptr) {}  // warnings (e.g. extraneous bytes) go nowhere, as in PIL

// Decodes into `out` (sized here); returns false with `err.message` set on failure. No C++ object with a
// destructor is live across setjmp here, so the longjmp out of libjpeg skips nothing.
bool decode_jpeg_raw(const std::string& bytes, RgbImage& out, bool& cmyk, JpegErrorManager& err) {
  jpeg_decompress_struct cinfo;
  cinfo.err = jpeg_std_error(&err.base);
  err.base.error_exit = jpeg_error_exit;
  err.base.output_message = jpeg_ignore_message;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&cinfo, TRUE);
  if (uint64_t(cinfo.image_width) * cinfo.image_height > kMaxPixels) {
    std::snprintf(err.message, sizeof err.message, "%ux%u pixels is too large", cinfo.image_width,
                  cinfo.image_height);
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
  cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;  // libjpeg turns grayscale into RGB by replication, as PIL
  jpeg_start_decompress(&cinfo);
  size_t channels = size_t(cinfo.output_components);
  out.width = int(cinfo.output_width);
  out.height = int(cinfo.output_height);
  out.pixels.resize(size_t(out.width) * size_t(out.height) * channels);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = out.pixels.data() + size_t(cinfo.output_scanline) * size_t(out.width) * channels;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return true;
}

// PIL reads CMYK JPEGs as Adobe-inverted ("CMYK;I") and converts to RGB as (255 - k) * (1 - c/255).
void cmyk_to_rgb(RgbImage& image) {
  size_t n = size_t(image.width) * size_t(image.height);
  std::vector<uint8_t> rgb(n * 3);
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* p = &image.pixels[4 * i];
    int nk = p[3];  // 255 - inverted k
    for (int c = 0; c < 3; ++c) {
      int t = (255 - p[c]) * nk + 128;
      int mul = ((t >> 8) + t) >> 8;
      rgb[3 * i + size_t(c)] = uint8_t(std::clamp(nk - mul, 0, 255));
    }
  }
  image.pixels = std::move(rgb);
}

RgbImage decode_jpeg(const std::string& bytes, const std::string& name) {
  RgbImage image;
  bool cmyk = false;
  JpegErrorManager err{};
  if (!decode_jpeg_raw(bytes, image, cmyk, err)) throw Error(name + ": not a readable JPEG: " + err.message);
  if (cmyk) cmyk_to_rgb(image);
  return image;
}

// ---- PNG ----

RgbImage decode_png(const std::string& bytes, const std::string& name) {
  png_image png;
  std::memset(&png, 0, sizeof png);
  png.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&png, bytes.data(), bytes.size()))
    throw Error(name + ": not a readable PNG: " + png.message);
  if (uint64_t(png.width) * png.height > kMaxPixels) {
    png_image_free(&png);
    throw Error(name + ": " + std::to_string(png.width) + "x" + std::to_string(png.height) + " pixels is too large");
  }
  // Read with alpha and drop it, as PIL's convert("RGB") does (asking libpng for RGB would composite on black).
  png.format = PNG_FORMAT_RGBA;
  std::vector<uint8_t> rgba(PNG_IMAGE_SIZE(png));
  if (!png_image_finish_read(&png, nullptr, rgba.data(), 0, nullptr)) {
    std::string why = png.message;
    png_image_free(&png);
    throw Error(name + ": not a readable PNG: " + why);
  }
  RgbImage image;
  image.width = int(png.width);
  image.height = int(png.height);
  size_t n = size_t(image.width) * size_t(image.height);
  image.pixels.resize(n * 3);
  for (size_t i = 0; i < n; ++i)
    for (size_t c = 0; c < 3; ++c) image.pixels[3 * i + c] = rgba[4 * i + c];
  return image;
}

// ---- PIL's resampling (Pillow src/libImaging/Resample.c) ----

constexpr int kPrecisionBits = 32 - 8 - 2;

// Per output pixel: the first input pixel, the count, and fixed-point weights (`taps` per output pixel).
struct ResampleCoefficients {
  int taps = 0;
  std::vector<int> first, count;
  std::vector<int32_t> weights;
};

ResampleCoefficients bilinear_coefficients(int in_size, int out_size) {
  double scale = double(in_size) / out_size;
  double filter_scale = std::max(scale, 1.0);
  double support = 1.0 * filter_scale;  // the triangle filter's support is 1
  ResampleCoefficients c;
  c.taps = int(std::ceil(support)) * 2 + 1;
  c.first.resize(size_t(out_size));
  c.count.resize(size_t(out_size));
  c.weights.assign(size_t(out_size) * size_t(c.taps), 0);
  std::vector<double> w(static_cast<size_t>(c.taps));
  double inverse_scale = 1.0 / filter_scale;  // multiplied, not divided, as Pillow: the weights match to the bit
  for (int xx = 0; xx < out_size; ++xx) {
    double center = (xx + 0.5) * scale;
    int xmin = std::max(int(center - support + 0.5), 0);
    int xmax = std::min(int(center + support + 0.5), in_size) - xmin;
    double sum = 0;
    for (int x = 0; x < xmax; ++x) {
      double t = std::abs((x + xmin - center + 0.5) * inverse_scale);
      w[size_t(x)] = t < 1.0 ? 1.0 - t : 0.0;
      sum += w[size_t(x)];
    }
    for (int x = 0; x < xmax; ++x) {
      double k = sum != 0.0 ? w[size_t(x)] / sum : w[size_t(x)];
      c.weights[size_t(xx) * size_t(c.taps) + size_t(x)] =
          int32_t(k < 0 ? -0.5 + k * (1 << kPrecisionBits) : 0.5 + k * (1 << kPrecisionBits));
    }
    c.first[size_t(xx)] = xmin;
    c.count[size_t(xx)] = xmax;
  }
  return c;
}

uint8_t clip8(int32_t v) {
  if (v >= (1 << kPrecisionBits << 8)) return 255;
  if (v <= 0) return 0;
  return uint8_t(v >> kPrecisionBits);
}

// One pass along x (stride 3 between taps) or y (stride 3 * width).
RgbImage resample_pass(const RgbImage& in, int out_width, int out_height, bool horizontal) {
  ResampleCoefficients c =
      horizontal ? bilinear_coefficients(in.width, out_width) : bilinear_coefficients(in.height, out_height);
  RgbImage out;
  out.width = out_width;
  out.height = out_height;
  out.pixels.resize(size_t(out_width) * size_t(out_height) * 3);
  size_t tap_stride = horizontal ? 3 : size_t(in.width) * 3;
  for (int y = 0; y < out_height; ++y) {
    for (int x = 0; x < out_width; ++x) {
      int o = horizontal ? x : y;
      const int32_t* k = &c.weights[size_t(o) * size_t(c.taps)];
      size_t base = horizontal ? (size_t(y) * size_t(in.width) + size_t(c.first[size_t(o)])) * 3
                               : (size_t(c.first[size_t(o)]) * size_t(in.width) + size_t(x)) * 3;
      for (size_t ch = 0; ch < 3; ++ch) {
        int32_t sum = 1 << (kPrecisionBits - 1);
        for (int t = 0; t < c.count[size_t(o)]; ++t) sum += in.pixels[base + size_t(t) * tap_stride + ch] * k[t];
        out.pixels[(size_t(y) * size_t(out_width) + size_t(x)) * 3 + ch] = clip8(sum);
      }
    }
  }
  return out;
}

bool ends_with_ci(const std::string& s, const std::string& suffix) {
  if (s.size() < suffix.size()) return false;
  for (size_t i = 0; i < suffix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[s.size() - suffix.size() + i])) != suffix[i]) return false;
  return true;
}

constexpr float kImagenetMean[3] = {0.485f, 0.456f, 0.406f};
constexpr float kImagenetStd[3] = {0.229f, 0.224f, 0.225f};
constexpr float kCifarMean[3] = {0.4914f, 0.4822f, 0.4465f};
constexpr float kCifarStd[3] = {0.247f, 0.243f, 0.261f};
constexpr int kImagenetResize = 256, kImagenetCrop = 224;

// Writes pixels (x0, y0) .. (x0 + w, y0 + h) of `image` as floats: the same float32 operations as
// numpy's (asarray(im, float32) / 255 - mean) / std.
void write_pixels(const RgbImage& image, int x0, int y0, int w, int h, Preprocess preprocess, ImageLayout layout,
                  float* out) {
  const float* mean = preprocess == Preprocess::ImageNet ? kImagenetMean : kCifarMean;
  const float* std = preprocess == Preprocess::ImageNet ? kImagenetStd : kCifarStd;
  size_t plane = size_t(w) * size_t(h);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const uint8_t* p = &image.pixels[(size_t(y0 + y) * size_t(image.width) + size_t(x0 + x)) * 3];
      size_t pixel = size_t(y) * size_t(w) + size_t(x);
      for (size_t c = 0; c < 3; ++c) {
        float v = float(p[c]);
        if (preprocess != Preprocess::None) v = (v / 255.0f - mean[c]) / std[c];
        out[layout == ImageLayout::Nchw ? c * plane + pixel : pixel * 3 + c] = v;
      }
    }
  }
}

// torchvision's Resize(256): the shorter side to 256, the longer int(256 * long / short).
std::pair<int, int> imagenet_resized_size(int width, int height) {
  if (width <= height) return {kImagenetResize, int(double(kImagenetResize) * height / width)};
  return {int(double(kImagenetResize) * width / height), kImagenetResize};
}

}  // namespace

Preprocess parse_preprocess(const std::string& name) {
  if (name == "imagenet") return Preprocess::ImageNet;
  if (name == "cifar") return Preprocess::Cifar;
  if (name == "none") return Preprocess::None;
  throw Error("unknown preprocessing '" + name + "' (imagenet, cifar or none)");
}

ImageLayout parse_image_layout(const std::string& name) {
  if (name == "nchw") return ImageLayout::Nchw;
  if (name == "nhwc") return ImageLayout::Nhwc;
  throw Error("unknown layout '" + name + "' (nchw or nhwc)");
}

bool is_image_file(const std::string& path) {
  return ends_with_ci(path, ".jpg") || ends_with_ci(path, ".jpeg") || ends_with_ci(path, ".png");
}

RgbImage decode_image(const std::string& bytes, const std::string& name) {
  static const std::string png_magic = "\x89PNG\r\n\x1a\n";
  RgbImage image;
  if (bytes.size() >= 3 && bytes.compare(0, 3, "\xff\xd8\xff") == 0)
    image = decode_jpeg(bytes, name);
  else if (bytes.compare(0, png_magic.size(), png_magic) == 0)
    image = decode_png(bytes, name);
  else
    throw Error(name + ": not a JPEG or PNG image");
  if (image.width <= 0 || image.height <= 0) throw Error(name + ": image has no pixels");
  return image;
}

RgbImage decode_image_file(const std::string& path) { return decode_image(read_file(path), path); }

RgbImage resize_bilinear(const RgbImage& image, int width, int height) {
  if (width <= 0 || height <= 0) throw Error("resize: target size must be positive");
  RgbImage horizontal = width != image.width ? resample_pass(image, width, image.height, true) : image;
  return height != image.height ? resample_pass(horizontal, width, height, false) : horizontal;
}

Shape preprocessed_shape(int width, int height, Preprocess preprocess, ImageLayout layout) {
  int64_t w = preprocess == Preprocess::ImageNet ? kImagenetCrop : width;
  int64_t h = preprocess == Preprocess::ImageNet ? kImagenetCrop : height;
  return layout == ImageLayout::Nchw ? Shape{3, h, w} : Shape{h, w, 3};
}

void preprocess_image(const RgbImage& image, Preprocess preprocess, ImageLayout layout, float* out) {
  if (preprocess != Preprocess::ImageNet) {
    write_pixels(image, 0, 0, image.width, image.height, preprocess, layout, out);
    return;
  }
  auto [w, h] = imagenet_resized_size(image.width, image.height);
  RgbImage resized = resize_bilinear(image, w, h);
  // torchvision's CenterCrop: int(round((size - crop) / 2)), Python's round: halves to even, as nearbyint.
  int left = int(std::nearbyint((w - kImagenetCrop) / 2.0));
  int top = int(std::nearbyint((h - kImagenetCrop) / 2.0));
  write_pixels(resized, left, top, kImagenetCrop, kImagenetCrop, preprocess, layout, out);
}

}  // namespace infera
