// ONNX protobuf -> infera IR. Protobuf types stay inside src/onnx.
#pragma once

#include <memory>
#include <string>

#include "core/file.h"
#include "core/graph.h"

namespace infera {

// Reads and converts a model file. External data files are resolved next to it and may not leave its folder.
Model import_model_file(const std::string& path);

// A model whose large floating-point initializers (of the main graph, stored in the model file itself) were left in
// the file: they are views of its mapping, which costs no memory until they are read. Such a view is aligned to a
// byte only, so no kernel may use it: in_memory() reads it into storage of its own. A session keeps the model this
// way and gives each compilation its own copy of the weights, which the compilation frees once it has packed them.
struct MappedModel {
  Model model;
  std::shared_ptr<const MappedFile> file;
};
MappedModel import_model_file_mapped(const std::string& path);
// `t` itself, or, when it is a view of `file` (which may be null), a copy of it in storage of its own.
Tensor in_memory(const Tensor& t, const MappedFile* file);
// Converts a serialized model held in memory; `name` names it in messages, `base_dir` is where external data lives.
Model import_model_bytes(const void* data, size_t size, const std::string& name, const std::string& base_dir);

// A serialized ONNX TensorProto (a .pb test or input file).
Tensor read_tensor_pb_file(const std::string& path);
// Its name field, for matching inputs by name.
std::string read_tensor_pb_name(const std::string& path);

}  // namespace infera
