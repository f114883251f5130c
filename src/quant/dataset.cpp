#include "quant/dataset.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "core/file.h"
#include "core/npz.h"
#include "infera/tensor_io.h"

namespace infera {

namespace fs = std::filesystem;

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
bool is_tensor_file(const std::string& path) { return ends_with(path, ".npy") || ends_with(path, ".npz"); }

// One file: an image (decoded when its batch is made) or the tensors of an .npy/.npz (read at open).
struct Entry {
  std::string file;                                     // relative to the data folder, '/'-separated
  std::vector<std::pair<std::string, Tensor>> tensors;  // .npy: one, named ""; .npz: its members
  int64_t class_folder = -1;
};

// A sample: row `row` of entry `entry` (-1: the entry's tensors are one sample, or it is an image), with, for
// multi-input data, the member that feeds each model input.
struct SampleRef {
  size_t entry = 0;
  int64_t row = -1;
  std::vector<int> member;  // per model input: index into the entry's tensors (images: unused)
  int64_t label = -1;
};

// Files in the order described in the header, with class folders set when every file is in one.
std::vector<Entry> list_files(const std::string& root) {
  std::vector<std::string> files;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::follow_directory_symlink, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    std::string rel = fs::relative(it->path(), root, ec).generic_string();
    if (is_image_file(rel) || is_tensor_file(rel)) files.push_back(rel);
  }
  if (ec) throw Error(root + ": cannot list the folder (" + ec.message() + ")");
  std::sort(files.begin(), files.end());
  bool all_in_folders = !files.empty();
  for (const auto& f : files) all_in_folders &= f.find('/') != std::string::npos;
  std::vector<Entry> entries;
  if (!all_in_folders) {
    for (auto& f : files) entries.push_back(Entry{f, {}, -1});
    return entries;
  }
  std::vector<std::string> classes;
  std::vector<std::vector<std::string>> per_class;
  for (auto& f : files) {
    std::string folder = f.substr(0, f.find('/'));
    if (classes.empty() || classes.back() != folder) {
      classes.push_back(folder);
      per_class.emplace_back();
    }
    per_class.back().push_back(f);
  }
  for (size_t i = 0;; ++i) {
    bool any = false;
    for (size_t c = 0; c < classes.size(); ++c) {
      if (i >= per_class[c].size()) continue;
      entries.push_back(Entry{per_class[c][i], {}, int64_t(c)});
      any = true;
    }
    if (!any) break;
  }
  return entries;
}

// file name (relative path and base name) -> class index.
std::map<std::string, int64_t> read_label_table(const std::string& path) {
  std::istringstream lines(read_file(path));
  std::map<std::string, int64_t> labels;
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    size_t tab = line.find('\t');
    std::string file = line.substr(0, tab);
    std::string cls = tab == std::string::npos ? "" : line.substr(tab + 1, line.find('\t', tab + 1) - tab - 1);
    char* end = nullptr;
    long long value = std::strtoll(cls.c_str(), &end, 10);
    if (cls.empty() || *end != '\0' || value < 0) {
      if (number == 1) continue;  // a header line
      throw Error(path + ":" + std::to_string(number) + ": expected FILE<TAB>CLASS, got '" + line + "'");
    }
    labels[file] = value;
  }
  if (labels.empty()) throw Error(path + ": no labels");
  return labels;
}

void copy_row(const Tensor& src, int64_t row, Tensor& dst, int64_t dst_row) {
  size_t bytes = dst.nbytes() / size_t(dst.dim(0));
  const auto* from = static_cast<const std::byte*>(src.raw()) + (row < 0 ? 0 : size_t(row) * bytes);
  std::memcpy(static_cast<std::byte*>(dst.raw()) + size_t(dst_row) * bytes, from, bytes);
}

}  // namespace

struct Dataset::Impl {
  std::string path;
  DatasetOptions options;
  bool images = false;
  std::vector<Entry> entries;
  // After bind():
  std::vector<ValueInfo> inputs;
  std::vector<Shape> sample_shapes;  // per model input, without the batch dimension
  int64_t batch = 0;
  std::vector<SampleRef> samples;
  bool labelled = false;
  bool bound = false;

  void check_bound() const {
    if (!bound) throw Error(path + ": internal: data set used before bind()");
  }
  std::string full_path(const std::string& file) const { return (fs::path(path) / file).string(); }
  std::string sample_name(const SampleRef& s) const {
    const std::string& f = entries[s.entry].file;
    return s.row < 0 ? f : f + "[" + std::to_string(s.row) + "]";
  }
  void bind_images();
  void bind_tensors();
  void assign_labels();
  void apply_limit();
  void check_sample_shape(size_t input, const Shape& shape, const std::string& file);
};

void Dataset::Impl::check_sample_shape(size_t input, const Shape& shape, const std::string& file) {
  Shape& expected = sample_shapes[input];
  const ValueInfo& info = inputs[input];
  auto describe = [&] { return "model input '" + info.name + "' (" + std::to_string(info.dims.size()) + "-d)"; };
  if (expected.empty()) {
    if (shape.size() + 1 != info.dims.size())
      throw Error(file + ": sample shape " + shape_str(shape) + " does not fit " + describe());
    for (size_t d = 0; d < shape.size(); ++d)
      if (info.dims[d + 1].fixed() && info.dims[d + 1].value != shape[d])
        throw Error(file + ": sample shape " + shape_str(shape) + " does not fit " + describe() + ": dimension " +
                    std::to_string(d + 1) + " must be " + std::to_string(info.dims[d + 1].value));
    expected = shape;
  } else if (shape != expected) {
    throw Error(file + ": sample shape " + shape_str(shape) + " differs from the first sample's " +
                shape_str(expected) + " (samples are batched together)");
  }
}

void Dataset::Impl::bind_images() {
  if (inputs.size() != 1)
    throw Error(path + ": images feed one model input; the model has " + std::to_string(inputs.size()));
  if (inputs[0].dtype != DType::Float32)
    throw Error(path + ": model input '" + inputs[0].name + "' is " + std::string(dtype_name(inputs[0].dtype)) +
                "; images become float32");
  // The sample shape without decoding where the preprocessing fixes it, else from the first image; every image
  // is checked again when its batch is made.
  Shape shape;
  if (options.preprocess == Preprocess::ImageNet) {
    shape = preprocessed_shape(0, 0, options.preprocess, options.layout);
  } else {
    RgbImage first = decode_image_file(full_path(entries[0].file));
    shape = preprocessed_shape(first.width, first.height, options.preprocess, options.layout);
  }
  check_sample_shape(0, shape, full_path(entries[0].file));
  for (size_t e = 0; e < entries.size(); ++e) samples.push_back(SampleRef{e, -1, {0}, entries[e].class_folder});
}

void Dataset::Impl::bind_tensors() {
  std::vector<Entry> split;  // .npz archives for a single-input model: one entry per member
  for (Entry& e : entries) {
    bool per_input = true;
    for (const ValueInfo& in : inputs) {
      bool found = false;
      for (const auto& [name, t] : e.tensors) found |= name == in.name;
      per_input &= found;
    }
    if (per_input || e.tensors.size() == 1) {
      split.push_back(std::move(e));
      continue;
    }
    if (inputs.size() != 1)
      throw Error(full_path(e.file) + ": the model has " + std::to_string(inputs.size()) +
                  " inputs; give an .npz with one member per input name");
    for (auto& member : e.tensors)
      split.push_back(Entry{e.file + ":" + member.first, {std::move(member)}, e.class_folder});
  }
  entries = std::move(split);
  for (size_t e = 0; e < entries.size(); ++e) {
    const Entry& entry = entries[e];
    int64_t rows = -2;  // -2: not yet known, -1: one sample
    std::vector<int> member(inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (entry.tensors.size() == 1) {
        if (inputs.size() != 1)
          throw Error(full_path(entry.file) + ": the model has " + std::to_string(inputs.size()) +
                      " inputs; give an .npz with one member per input name");
        member[i] = 0;
      } else {
        auto it = std::find_if(entry.tensors.begin(), entry.tensors.end(),
                               [&](const auto& m) { return m.first == inputs[i].name; });
        member[i] = int(it - entry.tensors.begin());
      }
      const Tensor& t = entry.tensors[size_t(member[i])].second;
      if (t.dtype() != inputs[i].dtype)
        throw Error(full_path(entry.file) + ": holds " + std::string(dtype_name(t.dtype())) + ", model input '" + inputs[i].name +
                    "' takes " + std::string(dtype_name(inputs[i].dtype)));
      bool batch = t.rank() == int(inputs[i].dims.size());
      Shape sample = batch ? Shape(t.shape().begin() + 1, t.shape().end()) : t.shape();
      check_sample_shape(i, sample, full_path(entry.file));
      int64_t n = batch ? t.dim(0) : -1;
      if (rows != -2 && n != rows) throw Error(full_path(entry.file) + ": its members hold different numbers of samples");
      rows = n;
    }
    if (rows < 0) {
      samples.push_back(SampleRef{e, -1, member, entry.class_folder});
    } else {
      for (int64_t r = 0; r < rows; ++r) samples.push_back(SampleRef{e, r, member, entry.class_folder});
    }
  }
}

void Dataset::Impl::assign_labels() {
  labelled = false;
  if (options.labels.empty()) {
    labelled = !samples.empty() && samples[0].label >= 0;
    return;
  }
  if (ends_with(options.labels, ".npy")) {
    Tensor t = read_npy(options.labels);
    if (!dtype_is_integer(t.dtype()) || t.numel() != int64_t(samples.size()))
      throw Error(options.labels + ": expected " + std::to_string(samples.size()) +
                  " integer labels, one per sample, got " + std::string(dtype_name(t.dtype())) + " " +
                  shape_str(t.shape()));
    for (size_t i = 0; i < samples.size(); ++i) samples[i].label = t.as_int(int64_t(i));
  } else {
    std::map<std::string, int64_t> table = read_label_table(options.labels);
    for (SampleRef& s : samples) {
      const std::string& file = entries[s.entry].file;
      if (s.row >= 0)
        throw Error(options.labels + ": " + file + " holds several samples; give their labels as an .npy");
      auto it = table.find(file);
      if (it == table.end()) it = table.find(fs::path(file).filename().string());
      if (it == table.end()) throw Error(options.labels + ": no label for " + file);
      s.label = it->second;
    }
  }
  labelled = true;
}

void Dataset::Impl::apply_limit() {
  int64_t n = int64_t(samples.size());
  if (options.limit <= 0 || options.limit >= n) return;
  std::vector<SampleRef> kept;
  for (int64_t i = 0; i < options.limit; ++i)
    kept.push_back(samples[size_t(options.spread ? i * n / options.limit : i)]);
  samples = std::move(kept);
}

Dataset::Dataset(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Dataset::Dataset(Dataset&&) noexcept = default;
Dataset& Dataset::operator=(Dataset&&) noexcept = default;
Dataset::~Dataset() = default;

Dataset Dataset::open(const std::string& path, const DatasetOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->options = options;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    impl->entries = list_files(path);
  } else if (fs::exists(path, ec)) {
    if (!is_image_file(path) && !is_tensor_file(path))
      throw Error(path + ": not an image (.jpg, .jpeg, .png), .npy or .npz file, nor a folder of them");
    impl->path = fs::path(path).parent_path().string();
    impl->entries.push_back(Entry{fs::path(path).filename().string(), {}, -1});
  } else {
    throw Error(path + ": no such file or folder");
  }
  if (impl->entries.empty()) throw Error(path + ": no images (.jpg, .jpeg, .png), .npy or .npz files");
  size_t images = 0;
  for (const Entry& e : impl->entries) images += is_image_file(e.file);
  if (images != 0 && images != impl->entries.size())
    throw Error(path + ": mixes images and .npy/.npz files; give one kind");
  impl->images = images != 0;
  if (!impl->images) {
    for (Entry& e : impl->entries) {
      std::string file = impl->full_path(e.file);
      if (ends_with(e.file, ".npz"))
        e.tensors = read_npz(file);
      else
        e.tensors.emplace_back("", read_npy(file));
      if (e.tensors.empty()) throw Error(file + ": holds no arrays");
    }
  }
  return Dataset(std::move(impl));
}

void Dataset::bind(const std::vector<ValueInfo>& model_inputs, int64_t batch_size) {
  Impl& d = *impl_;
  d.bound = false;
  if (model_inputs.empty()) throw Error("the model has no inputs to feed from " + d.path);
  d.inputs = model_inputs;
  d.sample_shapes.assign(model_inputs.size(), Shape{});
  d.samples.clear();
  int64_t batch = batch_size;
  for (const ValueInfo& in : model_inputs) {
    if (!in.has_shape || in.dims.empty())
      throw Error("model input '" + in.name + "' has no batch dimension to feed samples along");
    if (in.dims[0].fixed()) batch = in.dims[0].value;
  }
  d.batch = std::max<int64_t>(batch, 1);
  if (d.images)
    d.bind_images();
  else
    d.bind_tensors();
  d.assign_labels();
  d.apply_limit();
  d.bound = true;
}

int64_t Dataset::size() const {
  impl_->check_bound();
  return int64_t(impl_->samples.size());
}
int64_t Dataset::batch_size() const {
  impl_->check_bound();
  return impl_->batch;
}
int64_t Dataset::batches() const { return (size() + batch_size() - 1) / batch_size(); }
bool Dataset::labelled() const { return impl_->labelled; }
const std::string& Dataset::path() const { return impl_->path; }

Batch Dataset::batch(int64_t index) const {
  const Impl& d = *impl_;
  d.check_bound();
  if (index < 0 || index >= batches()) throw Error(d.path + ": batch " + std::to_string(index) + " out of range");
  Batch b;
  b.first = index * d.batch;
  b.count = std::min<int64_t>(d.batch, int64_t(d.samples.size()) - b.first);
  for (size_t i = 0; i < d.inputs.size(); ++i) {
    Shape shape{d.batch};
    shape.insert(shape.end(), d.sample_shapes[i].begin(), d.sample_shapes[i].end());
    b.inputs[d.inputs[i].name] = Tensor::uninitialized(d.inputs[i].dtype, shape);
  }
  for (int64_t r = 0; r < b.count; ++r) {
    const SampleRef& s = d.samples[size_t(b.first + r)];
    b.labels.push_back(s.label);
    b.names.push_back(d.sample_name(s));
  }
  if (d.images) {
    Tensor& out = b.inputs.begin()->second;
    size_t per_sample = size_t(shape_numel(d.sample_shapes[0]));
    std::string error;
#pragma omp parallel for schedule(dynamic)
    for (int64_t r = 0; r < b.count; ++r) {
      const std::string& file = d.entries[d.samples[size_t(b.first + r)].entry].file;
      try {
        RgbImage image = decode_image_file(d.full_path(file));
        Shape shape = preprocessed_shape(image.width, image.height, d.options.preprocess, d.options.layout);
        if (shape != d.sample_shapes[0])
          throw Error(d.full_path(file) + ": preprocessed to " + shape_str(shape) + ", the model takes " +
                      shape_str(d.sample_shapes[0]) + " (choose --preprocess to fit the model)");
        preprocess_image(image, d.options.preprocess, d.options.layout, out.data<float>() + size_t(r) * per_sample);
      } catch (const std::exception& e) {
#pragma omp critical(infera_dataset_error)
        if (error.empty()) error = e.what();
      }
    }
    if (!error.empty()) throw Error(error);
  } else {
    for (int64_t r = 0; r < b.count; ++r) {
      const SampleRef& s = d.samples[size_t(b.first + r)];
      for (size_t i = 0; i < d.inputs.size(); ++i)
        copy_row(d.entries[s.entry].tensors[size_t(s.member[i])].second, s.row, b.inputs[d.inputs[i].name], r);
    }
  }
  for (auto& [name, t] : b.inputs)  // padding: the last real sample again
    for (int64_t r = b.count; r < d.batch; ++r) copy_row(t, b.count - 1, t, r);
  return b;
}

}  // namespace infera
