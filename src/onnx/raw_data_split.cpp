#include "onnx/raw_data_split.h"

#include <google/protobuf/unknown_field_set.h>

#include <climits>

namespace infera {
namespace {

// The largest field number protobuf allows; onnx.proto never uses it. A TensorProto whose raw_data was taken out
// carries this varint field (an unknown field to protobuf) with the index of its bytes.
constexpr uint64_t kIndexField = (uint64_t(1) << 29) - 1;
constexpr int kMaxDepth = 100;  // protobuf's own default recursion limit

enum WireType : uint64_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

// The messages the split looks inside: those on the way from a model to every TensorProto the importer converts.
enum class Kind { Other, Model, Graph, Node, Attribute, Tensor };

// What a length-delimited field of a `parent` message holds (field numbers from onnx.proto).
Kind child_kind(Kind parent, uint64_t field) {
  switch (parent) {
    case Kind::Model: return field == 7 ? Kind::Graph : Kind::Other;                              // graph
    case Kind::Graph: return field == 1 ? Kind::Node : field == 5 ? Kind::Tensor : Kind::Other;  // node, initializer
    case Kind::Node: return field == 5 ? Kind::Attribute : Kind::Other;                          // attribute
    case Kind::Attribute:                                                                        // t, tensors; g, graphs
      return field == 5 || field == 10 ? Kind::Tensor : field == 6 || field == 11 ? Kind::Graph : Kind::Other;
    default: return Kind::Other;
  }
}

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += char(v | 0x80);
    v >>= 7;
  }
  out += char(v);
}

// A length prefix written before its message, as a varint padded to five bytes (protobuf reads padded varints):
// the length of a rewritten message is known only after it is written.
constexpr size_t kLengthBytes = 5;
void patch_length(std::string& out, size_t at, uint64_t length) {
  for (size_t i = 0; i < kLengthBytes; ++i, length >>= 7)
    out[at + i] = char((length & 0x7f) | (i + 1 < kLengthBytes ? 0x80 : 0));
}

class Splitter {
 public:
  Splitter(const uint8_t* data, std::vector<ByteRange>& ranges) : data_(data), ranges_(ranges) {}

  // Copies the message in [pos, end) of kind `kind` to `out`, minus the raw data it takes out.
  bool message(Kind kind, size_t pos, size_t end, int depth, std::string& out) {
    if (depth > kMaxDepth) return false;
    std::optional<ByteRange> raw;
    while (pos < end) {
      const size_t field_begin = pos;
      uint64_t tag = 0;
      if (!varint(pos, end, tag)) return false;
      const uint64_t field = tag >> 3;
      if (field == 0 || field > kIndexField) return false;
      switch (tag & 7) {
        case kVarint: {
          uint64_t ignored = 0;
          if (!varint(pos, end, ignored)) return false;
          break;
        }
        case kFixed64: if (end - pos < 8) return false; pos += 8; break;
        case kFixed32: if (end - pos < 4) return false; pos += 4; break;
        case kLengthDelimited: {
          uint64_t length = 0;
          if (!varint(pos, end, length) || length > end - pos) return false;
          const size_t body = pos;
          pos += size_t(length);
          if (kind == Kind::Tensor && field == 9) {  // raw_data; protobuf keeps the last one, and so does this
            raw = ByteRange{body, length};
            continue;
          }
          const Kind child = child_kind(kind, field);
          if (child == Kind::Other) break;
          put_varint(out, tag);
          const size_t length_at = out.size();
          out.append(kLengthBytes, '\0');
          if (!message(child, body, pos, depth + 1, out)) return false;
          const size_t written = out.size() - length_at - kLengthBytes;
          if (written > size_t(INT_MAX)) return false;
          patch_length(out, length_at, written);
          continue;
        }
        default: return false;  // groups: deprecated, never written for ONNX
      }
      if (kind == Kind::Tensor && field == kIndexField) continue;  // only the split may set the index
      out.append(reinterpret_cast<const char*>(data_ + field_begin), pos - field_begin);
    }
    if (raw) {
      put_varint(out, kIndexField << 3 | kVarint);
      put_varint(out, ranges_.size());
      ranges_.push_back(*raw);
    }
    return true;
  }

 private:
  bool varint(size_t& pos, size_t end, uint64_t& v) const {
    v = 0;
    for (int shift = 0; shift < 64 && pos < end; shift += 7) {
      const uint8_t byte = data_[pos++];
      v |= uint64_t(byte & 0x7f) << shift;
      if (byte < 0x80) return true;
    }
    return false;
  }

  const uint8_t* data_;
  std::vector<ByteRange>& ranges_;
};

}  // namespace

std::optional<SplitModel> split_raw_data(const uint8_t* data, size_t size) {
  SplitModel split;
  Splitter splitter(data, split.raw_data);
  if (!splitter.message(Kind::Model, 0, size, 0, split.structure)) return std::nullopt;
  return split;
}

std::optional<size_t> raw_data_index(const onnx::TensorProto& tensor) {
  const google::protobuf::UnknownFieldSet& unknown = tensor.unknown_fields();
  for (int i = unknown.field_count(); i-- > 0;) {  // the last one, as protobuf does for a repeated scalar
    const google::protobuf::UnknownField& f = unknown.field(i);
    if (uint64_t(f.number()) == kIndexField && f.type() == google::protobuf::UnknownField::TYPE_VARINT)
      return size_t(f.varint());
  }
  return std::nullopt;
}

}  // namespace infera
