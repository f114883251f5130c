// Data sets for calibration and evaluation: image decoding and resizing as PIL does them (known answers made by
// tests/data/dataset/generate.py), the preprocessing arithmetic, .npz archives, folder layouts, labels, batching
// with padding, and bad files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/file.h"
#include "core/npz.h"
#include "infera/tensor_io.h"
#include "quant/dataset.h"

namespace infera {
namespace {

namespace fs = std::filesystem;

fs::path data_dir() { return fs::path(__FILE__).parent_path().parent_path() / "data/dataset"; }

std::vector<int> pixels_of(const RgbImage& image) { return std::vector<int>(image.pixels.begin(), image.pixels.end()); }

ValueInfo input_info(const std::string& name, std::vector<int64_t> dims, DType dtype = DType::Float32) {
  ValueInfo v{name, dtype, {}, true};
  for (int64_t d : dims) v.dims.push_back(d < 0 ? Dim{-1, "N"} : Dim{d, ""});
  return v;
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(DatasetImages, DecodesPngAndResizesAsPil) {
  RgbImage image = decode_image_file((data_dir() / "pixels.png").string());
  ASSERT_EQ(image.width, 5);
  ASSERT_EQ(image.height, 4);
  EXPECT_EQ(image.pixels[3 * 6 + 0], 48);  // red of (x=1, y=1) is (1 * 37 + 1 * 11) % 256
  // PIL 9.4: np.asarray(Image.fromarray(rgb).resize(size, Image.BILINEAR)).reshape(-1)
  EXPECT_EQ(pixels_of(resize_bilinear(image, 3, 2)),
            (std::vector<int>{24, 231, 72, 82, 173, 168, 140, 115, 164, 41, 214, 123, 99, 156, 119, 157, 98, 153}));
  EXPECT_EQ(pixels_of(resize_bilinear(image, 2, 4)),
            (std::vector<int>{37, 218, 99, 111, 144, 147, 48, 207, 132, 122, 133, 180,
                              59, 196, 107, 133, 122, 155, 70, 185, 140, 144, 111, 106}));
  EXPECT_EQ(pixels_of(resize_bilinear(image, 8, 7)),  // upscaling
            (std::vector<int>{0, 255, 0, 16, 239, 49, 39, 216, 118, 62, 193, 187, 86, 169, 177, 109, 146, 86,
                              132, 123, 139, 148, 107, 188, 4, 251, 12, 20, 235, 61, 43, 212, 130, 66, 189, 199,
                              90, 165, 189, 113, 142, 98, 136, 119, 151, 152, 103, 200, 10, 245, 31, 26, 229, 80,
                              49, 206, 149, 72, 183, 218, 96, 159, 208, 119, 136, 117, 142, 113, 170, 158, 97, 219,
                              17, 239, 50, 33, 223, 99, 56, 200, 160, 79, 177, 149, 103, 153, 139, 126, 130, 128,
                              149, 107, 189, 165, 91, 238, 23, 232, 68, 39, 216, 117, 62, 193, 170, 85, 170, 79,
                              109, 146, 69, 132, 123, 138, 155, 100, 197, 171, 84, 238, 29, 226, 87, 45, 210, 136,
                              68, 187, 189, 91, 164, 98, 115, 140, 88, 138, 117, 157, 161, 94, 134, 177, 78, 111,
                              33, 222, 99, 49, 206, 148, 72, 183, 201, 95, 160, 110, 119, 136, 100, 142, 113, 169,
                              165, 90, 94, 181, 74, 31}));
}

TEST(DatasetImages, DecodesJpegColourSpacesAsPil) {
  for (const char* name : {"rgb.jpg", "gray.jpg", "cmyk.jpg"}) {
    SCOPED_TRACE(name);
    RgbImage image = decode_image_file((data_dir() / name).string());
    Tensor expected = read_npy((data_dir() / (std::string(name) + ".npy")).string());  // PIL's convert("RGB")
    ASSERT_EQ(expected.shape(), (Shape{image.height, image.width, 3}));
    const uint8_t* e = expected.data<uint8_t>();
    EXPECT_EQ(pixels_of(image), std::vector<int>(e, e + expected.numel()));
  }
}

TEST(DatasetImages, PreprocessingArithmetic) {
  RgbImage image{2, 1, {255, 0, 128, 10, 20, 30}};  // two pixels
  std::vector<float> out(6);
  preprocess_image(image, Preprocess::Cifar, ImageLayout::Nchw, out.data());
  EXPECT_FLOAT_EQ(out[0], (1.0f - 0.4914f) / 0.247f);             // R of pixel 0
  EXPECT_FLOAT_EQ(out[1], (10 / 255.0f - 0.4914f) / 0.247f);      // R of pixel 1
  EXPECT_FLOAT_EQ(out[2], (0.0f - 0.4822f) / 0.243f);             // G of pixel 0
  EXPECT_FLOAT_EQ(out[5], (30 / 255.0f - 0.4465f) / 0.261f);      // B of pixel 1
  preprocess_image(image, Preprocess::None, ImageLayout::Nhwc, out.data());
  EXPECT_EQ(out, (std::vector<float>{255, 0, 128, 10, 20, 30}));
  EXPECT_EQ(preprocessed_shape(2, 1, Preprocess::Cifar, ImageLayout::Nhwc), (Shape{1, 2, 3}));

  // ImageNet: any size becomes 3x224x224; a flat colour stays flat through resize and crop.
  RgbImage flat{7, 5, {}};
  for (int i = 0; i < 35; ++i) flat.pixels.insert(flat.pixels.end(), {128, 64, 32});
  EXPECT_EQ(preprocessed_shape(7, 5, Preprocess::ImageNet, ImageLayout::Nchw), (Shape{3, 224, 224}));
  std::vector<float> big(3 * 224 * 224);
  preprocess_image(flat, Preprocess::ImageNet, ImageLayout::Nchw, big.data());
  EXPECT_FLOAT_EQ(big[0], (128 / 255.0f - 0.485f) / 0.229f);
  EXPECT_FLOAT_EQ(big[224 * 224 + 5], (64 / 255.0f - 0.456f) / 0.224f);
  EXPECT_FLOAT_EQ(big.back(), (32 / 255.0f - 0.406f) / 0.225f);
}

TEST(DatasetNpz, StoredDeflatedAndZip64) {
  for (const char* name : {"stored.npz", "deflate.npz", "zip64.npz"}) {
    SCOPED_TRACE(name);
    auto members = read_npz((data_dir() / name).string());
    ASSERT_GE(members.size(), 1u);
    EXPECT_EQ(members[0].first, "images");
    const Tensor& images = members[0].second;
    ASSERT_EQ(images.shape(), (Shape{2, 3, 4}));
    EXPECT_FLOAT_EQ(images.data<float>()[23], 23.0f / 7);
    if (std::string(name) != "zip64.npz") {
      ASSERT_EQ(members.size(), 2u);
      EXPECT_EQ(members[1].first, "tokens");
      EXPECT_EQ(members[1].second.to_int_vector(), (std::vector<int64_t>{1, 2, 3, 4}));
    }
  }
}

class DatasetFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("infera-dataset-" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string put(const std::string& rel, const Tensor& t) {
    fs::path p = dir_ / rel;
    fs::create_directories(p.parent_path());
    write_npy(p.string(), t);
    return p.string();
  }
  std::string put_text(const std::string& rel, const std::string& text) {
    fs::path p = dir_ / rel;
    fs::create_directories(p.parent_path());
    write_file(p.string(), text);
    return p.string();
  }
  static Tensor sample(float v) { return Tensor::from_vector<float>({2}, {v, -v}); }
  fs::path dir_;
};

TEST_F(DatasetFiles, BadFilesAreNamed) {
  std::string fake = put_text("fake.jpg", "this is text");
  EXPECT_NE(message_of([&] { decode_image_file(fake); }).find("fake.jpg"), std::string::npos);
  std::string png = read_file((data_dir() / "pixels.png").string());
  std::string truncated = put_text("cut.png", png.substr(0, 40));
  EXPECT_NE(message_of([&] { decode_image_file(truncated); }).find("cut.png"), std::string::npos);
  std::string jpeg = read_file((data_dir() / "rgb.jpg").string());
  std::string cut_jpeg = put_text("cut.jpg", jpeg.substr(0, 100));
  EXPECT_NE(message_of([&] { decode_image_file(cut_jpeg); }).find("cut.jpg"), std::string::npos);

  std::string npz = read_file((data_dir() / "stored.npz").string());
  npz[200] ^= 0x55;  // inside the first member's data
  std::string corrupt = put_text("corrupt.npz", npz);
  std::string msg = message_of([&] { read_npz(corrupt); });
  EXPECT_NE(msg.find("corrupt.npz"), std::string::npos);
  EXPECT_NE(msg.find("CRC"), std::string::npos);
  EXPECT_NE(message_of([&] { read_npz(put_text("short.npz", "PK")); }).find("short.npz"), std::string::npos);

  fs::create_directories(dir_ / "empty");
  EXPECT_THROW(Dataset::open((dir_ / "empty").string(), {}), Error);
  EXPECT_THROW(Dataset::open((dir_ / "missing").string(), {}), Error);
}

TEST_F(DatasetFiles, ClassFoldersInterleaveAndLabel) {
  for (int i = 0; i < 3; ++i) put("b/" + std::to_string(i) + ".npy", sample(10.0f + float(i)));
  for (int i = 0; i < 2; ++i) put("a/" + std::to_string(i) + ".npy", sample(float(i)));
  Dataset data = Dataset::open(dir_.string(), {});
  data.bind({input_info("x", {-1, 2})}, 2);
  ASSERT_EQ(data.size(), 5);
  EXPECT_TRUE(data.labelled());
  EXPECT_EQ(data.batches(), 3);
  Batch first = data.batch(0);
  EXPECT_EQ(first.names, (std::vector<std::string>{"a/0.npy", "b/0.npy"}));
  EXPECT_EQ(first.labels, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(first.inputs.at("x").shape(), (Shape{2, 2}));
  EXPECT_EQ(first.inputs.at("x").data<float>()[2], 10.0f);
  Batch last = data.batch(2);  // b/2 and one row of padding
  EXPECT_EQ(last.count, 1);
  EXPECT_EQ(last.names, std::vector<std::string>{"b/2.npy"});
  const float* x = last.inputs.at("x").data<float>();
  EXPECT_EQ(x[0], 12.0f);
  EXPECT_EQ(x[2], 12.0f) << "padding repeats the last sample";
  EXPECT_THROW(data.batch(3), Error);
}

TEST_F(DatasetFiles, TsvAndNpyLabels) {
  put("x.npy", sample(1));
  put("y.npy", sample(2));
  std::string tsv = put_text("labels.tsv", "file\tclass_index\tname\nx.npy\t3\tthree\ny.npy\t5\tfive\n");
  DatasetOptions options;
  options.labels = tsv;
  Dataset data = Dataset::open(dir_.string(), options);
  data.bind({input_info("x", {-1, 2})});
  EXPECT_EQ(data.batch_size(), 1);
  EXPECT_EQ(data.batch(1).labels, std::vector<int64_t>{5});

  options.labels = put_text("partial.tsv", "x.npy\t3\n");
  Dataset partial = Dataset::open(dir_.string(), options);
  EXPECT_NE(message_of([&] { partial.bind({input_info("x", {-1, 2})}); }).find("no label for y.npy"),
            std::string::npos);

  options.labels = (dir_ / "../labels-infera-test.npy").string();
  write_npy(options.labels, Tensor::from_vector<int64_t>({2}, {7, 8}));
  Dataset by_npy = Dataset::open(dir_.string(), options);
  by_npy.bind({input_info("x", {-1, 2})});
  EXPECT_EQ(by_npy.batch(0).labels, std::vector<int64_t>{7});
  fs::remove(options.labels);
}

TEST_F(DatasetFiles, BatchFilesMultiInputNpzAndChecks) {
  // An .npy of rank 2 for an input of rank 2 holds a batch: 5 samples, fed 4 at a time (the model's fixed batch).
  put("batch.npy", Tensor::from_vector<float>({5, 2}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  Dataset data = Dataset::open((dir_ / "batch.npy").string(), {});
  data.bind({input_info("x", {4, 2})}, 2);
  EXPECT_EQ(data.size(), 5);
  EXPECT_EQ(data.batch_size(), 4) << "a fixed batch dimension wins over the requested size";
  EXPECT_EQ(data.batch(1).names, std::vector<std::string>{"batch.npy[4]"});
  EXPECT_EQ(data.batch(1).inputs.at("x").data<float>()[1], 9.0f);
  // The wrong type, the wrong sample shape: errors naming the file.
  EXPECT_NE(message_of([&] { data.bind({input_info("x", {-1, 2}, DType::Int64)}); }).find("batch.npy"),
            std::string::npos);
  EXPECT_NE(message_of([&] { data.bind({input_info("x", {-1, 3})}); }).find("batch.npy"), std::string::npos);

  // An .npz whose members are named after the model's inputs feeds all of them.
  Dataset multi = Dataset::open((data_dir() / "deflate.npz").string(), {});
  multi.bind({input_info("images", {-1, 3, 4}), input_info("tokens", {-1, 2}, DType::Int64)}, 2);
  EXPECT_EQ(multi.size(), 2);
  Batch b = multi.batch(0);
  EXPECT_EQ(b.inputs.at("tokens").to_int_vector(), (std::vector<int64_t>{1, 2, 3, 4}));
  EXPECT_FLOAT_EQ(b.inputs.at("images").data<float>()[12], 12.0f / 7);
  // For a one-input model each member is a batch or a sample of that input.
  Dataset single = Dataset::open((data_dir() / "zip64.npz").string(), {});
  single.bind({input_info("x", {-1, 3, 4})});
  EXPECT_EQ(single.size(), 2) << "a [2,3,4] member is two [3,4] samples";
  single.bind({input_info("x", {-1, 2, 3, 4})});
  EXPECT_EQ(single.size(), 1) << "... and one [2,3,4] sample for a rank-4 input";
}

TEST_F(DatasetFiles, LimitAndSpread) {
  for (int i = 0; i < 10; ++i) put("s" + std::to_string(i) + ".npy", sample(float(i)));
  DatasetOptions options;
  options.limit = 3;
  Dataset first = Dataset::open(dir_.string(), options);
  first.bind({input_info("x", {-1, 2})}, 8);
  EXPECT_EQ(first.batch(0).names, (std::vector<std::string>{"s0.npy", "s1.npy", "s2.npy"}));
  options.spread = true;
  Dataset spread = Dataset::open(dir_.string(), options);
  spread.bind({input_info("x", {-1, 2})}, 8);
  EXPECT_EQ(spread.batch(0).names, (std::vector<std::string>{"s0.npy", "s3.npy", "s6.npy"}));
}

TEST_F(DatasetFiles, ImageFolderFeedsAFloatInput) {
  fs::copy_file(data_dir() / "rgb.jpg", dir_ / "one.jpg");
  fs::copy_file(data_dir() / "pixels.png", dir_ / "two.png");
  DatasetOptions options;
  options.preprocess = Preprocess::ImageNet;
  Dataset data = Dataset::open(dir_.string(), options);
  data.bind({input_info("image", {-1, 3, 224, 224})}, 2);
  Batch b = data.batch(0);
  EXPECT_EQ(b.count, 2);
  EXPECT_EQ(b.inputs.at("image").shape(), (Shape{2, 3, 224, 224}));
  EXPECT_FALSE(data.labelled());
  // Without resizing, images of different sizes cannot share the model's fixed input size.
  options.preprocess = Preprocess::Cifar;
  Dataset raw = Dataset::open(dir_.string(), options);
  raw.bind({input_info("image", {-1, 3, 10, 13})}, 2);
  EXPECT_NE(message_of([&] { raw.batch(0); }).find("two.png"), std::string::npos);
}

}  // namespace
}  // namespace infera
