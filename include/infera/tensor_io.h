// Reading and writing tensors as files: NumPy .npy, and ONNX TensorProto .pb (read only).
#pragma once

#include <string>

#include "infera/tensor.h"

namespace infera {

Tensor read_npy(const std::string& path);
// The same from bytes in memory; `name` names them in messages.
Tensor parse_npy(const void* data, size_t size, const std::string& name);
void write_npy(const std::string& path, const Tensor& t);
// .npy or .pb, chosen by the file's extension.
Tensor read_tensor_file(const std::string& path);

}  // namespace infera
