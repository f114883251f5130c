#include "tools/data_options.h"

namespace infera::tools {

void add_data_options(CLI::App& cmd, DataArgs& args) {
  cmd.add_option("--labels", args.labels,
                 "labels: TSV (FILE<TAB>CLASS per line) or .npy of class indices; default: one folder per class");
  cmd.add_option("--preprocess", args.preprocess, "images: imagenet, cifar or none (raw 0..255; default)")
      ->check(CLI::IsMember({"imagenet", "cifar", "none"}));
  cmd.add_option("--layout", args.layout, "images: nchw (default) or nhwc")->check(CLI::IsMember({"nchw", "nhwc"}));
  cmd.add_option("--limit", args.limit, "at most this many samples (default: all)")
      ->check(CLI::Range(int64_t(0), int64_t(1) << 40));
  cmd.add_flag("--spread", args.spread, "with --limit: samples evenly spaced over the set instead of the first ones");
  cmd.add_option("--batch", args.batch, "batch size where the model's batch dimension is symbolic (default 8)")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 20));
}

Dataset open_dataset(const DataArgs& args) {
  DatasetOptions options;
  options.preprocess = parse_preprocess(args.preprocess);
  options.layout = parse_image_layout(args.layout);
  options.labels = args.labels;
  options.limit = args.limit;
  options.spread = args.spread;
  return Dataset::open(args.path, options);
}

}  // namespace infera::tools
