// Model inputs read from files, for calibration and evaluation: a folder of images (JPEG, PNG; searched
// recursively) with the preprocessing spelled out, a folder of .npy/.npz files, or one .npy/.npz file; optionally
// labelled. A Dataset is bound to a model's inputs, which say how files that hold several samples split into
// samples and what shape a sample must have; it then hands out batches of the model's batch size.
//
// Tensor files: an .npy, or an .npz member, whose rank is the model input's holds a batch of samples (split along
// dim 0); one rank lower, one sample. An .npz whose member names include every model input name holds one batch
// (or sample) per input, for models with several inputs; otherwise each member is a batch or sample of the
// model's single input. Element types must be the model input's.
//
// Order: files sorted by path. When every file sits in a subfolder of the data folder ("one folder per class",
// e.g. airplane/0000.jpg), the subfolders are taken in turn (first file of each, then the second of each, ...),
// so that the first N samples cover every class; such a file's class is the alphabetical index of its folder.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "infera/session.h"
#include "infera/tensor.h"
#include "quant/image.h"

namespace infera {

struct DatasetOptions {
  Preprocess preprocess = Preprocess::None;
  ImageLayout layout = ImageLayout::Nchw;
  // Labels: a TSV file (lines "FILE<TAB>CLASS[<TAB>anything]", FILE relative to the data folder or its base
  // name, an optional header line), or an .npy of integers, one per sample in order. Empty: the class folders'
  // indices when the data has class folders, else none.
  std::string labels;
  int64_t limit = 0;    // at most this many samples (0: all)
  bool spread = false;  // with a limit: samples evenly spaced over the set instead of the first ones
};

// A batch of model inputs. Rows past `count` are padding (copies of the last sample) to fill a fixed batch.
struct Batch {
  std::map<std::string, Tensor> inputs;  // by model input name
  int64_t first = 0;                     // index of the first sample
  int64_t count = 0;                     // real samples
  std::vector<int64_t> labels;           // per real sample; -1 when unlabelled
  std::vector<std::string> names;        // per real sample: its file (and index within the file when it holds several)
};

class Dataset {
 public:
  // Lists the files (images are decoded later, batch by batch). Throws infera::Error naming the file on unreadable
  // or unsupported files and on a labels file that does not cover every sample.
  static Dataset open(const std::string& path, const DatasetOptions& options);

  Dataset(Dataset&&) noexcept;
  Dataset& operator=(Dataset&&) noexcept;
  ~Dataset();

  // Binds to a model's inputs and checks every sample's type and shape against them. Batches have the model's
  // batch size where its batch dimension is fixed, else `batch_size` (0: 1).
  void bind(const std::vector<ValueInfo>& model_inputs, int64_t batch_size = 0);

  int64_t size() const;        // samples (after the limit); needs bind()
  int64_t batch_size() const;  // needs bind()
  int64_t batches() const;     // ceil(size / batch_size)
  bool labelled() const;
  const std::string& path() const;
  // Batch `index` (0 .. batches()-1). Decodes its images in parallel; safe to call from several threads.
  Batch batch(int64_t index) const;

 private:
  struct Impl;
  explicit Dataset(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace infera
