// ONNX protobuf -> infera IR. Protobuf types stay inside src/onnx.
#pragma once

#include <string>

#include "core/graph.h"

namespace infera {

// Reads and converts a model file. External data files are resolved next to it and may not leave its folder.
Model import_model_file(const std::string& path);
// Converts a serialized model held in memory; `name` names it in messages, `base_dir` is where external data lives.
Model import_model_bytes(const void* data, size_t size, const std::string& name, const std::string& base_dir);

// A serialized ONNX TensorProto (a .pb test or input file).
Tensor read_tensor_pb_file(const std::string& path);
// Its name field, for matching inputs by name.
std::string read_tensor_pb_name(const std::string& path);

}  // namespace infera
