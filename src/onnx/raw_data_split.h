// Splits a serialized ModelProto into its structure and the byte ranges of its tensors' raw data, so that protobuf
// parses only the structure (kilobytes) and the importer reads each tensor's bytes once, straight into the tensor.
// Parsing a model whole would hold its weights three times at once: the file's bytes, protobuf's copy of every
// raw_data field, and the tensors converted from them.
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace infera {

struct ByteRange {
  uint64_t offset = 0;
  uint64_t size = 0;
};

struct SplitModel {
  // The ModelProto with the raw_data field of every TensorProto in graphs, initializers and node attributes taken
  // out; each such TensorProto carries instead the index of its bytes in `raw_data` (see raw_data_index()).
  std::string structure;
  std::vector<ByteRange> raw_data;  // offsets into the serialized model
};

// nullopt when the bytes are not a well-formed message as far as the split reads them (a truncated field, a
// length past the end, a group, nesting deeper than the importer accepts): protobuf then parses them whole and
// reports what is wrong.
std::optional<SplitModel> split_raw_data(const uint8_t* data, size_t size);

// The index split_raw_data() left in a TensorProto in place of its raw_data, or nullopt when it left none.
std::optional<size_t> raw_data_index(const onnx::TensorProto& tensor);

}  // namespace infera
