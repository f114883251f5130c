// The data-set options `infera eval` and `infera calibrate` share.
#pragma once

#include <CLI/CLI.hpp>

#include "quant/dataset.h"
#include "tools/commands.h"

namespace infera::tools {

// Adds --labels, --preprocess, --layout, --limit, --spread and --batch (the data folder option is the caller's).
void add_data_options(CLI::App& cmd, DataArgs& args);
Dataset open_dataset(const DataArgs& args);

}  // namespace infera::tools
