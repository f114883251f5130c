#include "onnx/import.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <new>
#include <optional>

#include "core/file.h"
#include "infera/tensor_io.h"
#include "onnx/raw_data_split.h"
#include "quant/formats.h"

namespace infera {
namespace {

namespace fs = std::filesystem;

// The raw data split_raw_data() took out of the structure protobuf parsed, still in the serialized model: in memory,
// or in the mapped model file.
struct RawDataSource {
  std::vector<ByteRange> ranges;
  const uint8_t* bytes = nullptr;
  const MappedFile* file = nullptr;  // when set, read from it rather than from `bytes`

  void read(const ByteRange& range, void* dst) const {
    if (file) file->read(range.offset, size_t(range.size), dst);
    else std::memcpy(dst, bytes + range.offset, size_t(range.size));
  }
};

// Where in the model we are, so that every error can name the file and the node or tensor.
struct Where {
  std::string file;
  std::string base_dir;
  const RawDataSource* raw_data = nullptr;  // null when the model was parsed whole
  std::shared_ptr<const MappedFile> mapped;  // set when large initializers stay in the mapped file
};

// Initializers at least this large stay in the mapped file (see MappedModel); smaller ones, and integer ones (shapes,
// indices: read by shape rules and constant folding), are read into memory at once.
constexpr size_t kMinMappedBytes = size_t(64) << 10;
bool may_stay_mapped(DType t, size_t bytes) {
  return bytes >= kMinMappedBytes &&
         (t == DType::Float32 || t == DType::Float16 || t == DType::BFloat16 || t == DType::Float64);
}

[[noreturn]] void fail(const Where& w, const std::string& what) { throw Error(w.file + ": " + what); }

bool is_supported_storage(int32_t t) {
  switch (DType(t)) {
    case DType::Float32: case DType::UInt8: case DType::Int8: case DType::UInt16: case DType::Int16:
    case DType::Int32: case DType::Int64: case DType::Bool: case DType::Float16: case DType::Float64:
    case DType::UInt32: case DType::UInt64: case DType::BFloat16: case DType::Float8E4M3FN:
    case DType::Float8E4M3FNUZ: case DType::Float8E5M2: case DType::Float8E5M2FNUZ: case DType::UInt4:
    case DType::Int4: return true;
    default: return false;
  }
}

void read_external(const Where& w, const onnx::TensorProto& p, size_t expected, void* dst) {
  std::string location;
  int64_t offset = 0, length = -1;
  for (const auto& kv : p.external_data()) {
    try {
      if (kv.key() == "location") location = kv.value();
      else if (kv.key() == "offset") offset = std::stoll(kv.value());
      else if (kv.key() == "length") length = std::stoll(kv.value());
    } catch (const std::exception&) {
      fail(w, "tensor '" + p.name() + "': external data field '" + kv.key() + "' is not a number");
    }
  }
  const std::string who = "tensor '" + p.name() + "': external data location '" + location + "'";
  if (location.empty()) fail(w, "tensor '" + p.name() + "': external data has no location");
  fs::path loc(location);
  if (loc.is_absolute()) fail(w, who + " is an absolute path; it must be relative to the model's folder");
  std::error_code ec;
  fs::path base = fs::weakly_canonical(fs::path(w.base_dir.empty() ? "." : w.base_dir), ec);
  fs::path full = fs::weakly_canonical(base / loc, ec);
  if (ec) fail(w, who + " cannot be resolved");
  auto rel = full.lexically_relative(base);
  if (rel.empty() || *rel.begin() == "..") fail(w, who + " escapes the model's folder");
  if (offset < 0 || length < -1) fail(w, who + ": negative offset or length");
  std::unique_ptr<MappedFile> file;
  try {  // a missing or unreadable file is reported with the model and tensor that point to it
    file = std::make_unique<MappedFile>(full.string());
  } catch (const Error& e) {
    fail(w, who + ": " + e.what());
  }
  const uint64_t available = uint64_t(offset) < file->size() ? file->size() - uint64_t(offset) : 0;
  const uint64_t holds = std::min<uint64_t>(length < 0 ? expected : uint64_t(length), available);
  if (holds != expected)
    fail(w, who + " holds " + std::to_string(holds) + " bytes where " + std::to_string(expected) + " are needed");
  try {
    file->read(uint64_t(offset), expected, dst);
  } catch (const Error& e) {
    fail(w, who + ": " + e.what());
  }
}

template <class Src, class Dst>
void copy_typed(const Src& src, Dst* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = Dst(src[int(i)]);
}

// `initializer`: a tensor of the main graph's initializers, which may stay in the mapped file.
Tensor convert_tensor(const Where& w, const onnx::TensorProto& p, bool initializer = false) {
  const std::string who = "tensor '" + p.name() + "'";
  if (p.has_segment()) fail(w, who + ": segmented tensors are not supported");
  if (!is_supported_storage(p.data_type()))
    fail(w, who + ": element type " + std::to_string(p.data_type()) + " is not supported");
  Shape shape(p.dims().begin(), p.dims().end());
  DType dt = DType(p.data_type());
  // Sizes are checked (negative dims, overflow, the allocation limit) and the data is found to be all there
  // before anything is allocated: a few corrupt bytes must not make infera allocate gigabytes.
  int64_t n = 0;
  try {
    n = shape_numel(shape);
  } catch (const Error& e) {
    fail(w, who + ": " + e.what());
  }
  if (uint64_t(n) > max_tensor_bytes() / dtype_size(dt))
    fail(w, who + ": tensor of shape " + shape_str(shape) + " (" + std::string(dtype_name(dt)) +
                ") exceeds the allocation limit of " + std::to_string(max_tensor_bytes()) + " bytes");
  // Bytes in the file: int4 is packed two per byte there and unpacked below (one per byte in memory).
  const size_t bytes = dtype_is_int4(dt) ? int4_packed_bytes(size_t(n)) : size_t(n) * dtype_size(dt);
  auto allocate = [&] {  // not zero-filled: every path below writes all of it
    try {
      return Tensor::uninitialized(dt, shape);
    } catch (const Error& e) {
      fail(w, who + ": " + e.what());
    } catch (const std::bad_alloc&) {
      fail(w, who + ": out of memory allocating " + std::to_string(bytes) + " bytes");
    }
  };
  auto check_raw_size = [&](uint64_t size) {
    if (size != bytes)
      fail(w, who + ": raw data holds " + std::to_string(size) + " bytes, shape " + shape_str(shape) + " needs " +
                  std::to_string(bytes));
  };
  const std::optional<size_t> raw_index = w.raw_data ? raw_data_index(p) : std::nullopt;
  Tensor t;
  if (p.data_location() == onnx::TensorProto::EXTERNAL) {
    t = allocate();
    read_external(w, p, bytes, t.raw());
  } else if (raw_index) {
    if (*raw_index >= w.raw_data->ranges.size()) fail(w, who + ": internal: raw data index out of range");
    const ByteRange& range = w.raw_data->ranges[*raw_index];
    check_raw_size(range.size);
    if (initializer && w.mapped && may_stay_mapped(dt, bytes))
      return Tensor::view(dt, shape, std::const_pointer_cast<MappedFile>(w.mapped),
                          const_cast<uint8_t*>(w.mapped->data() + range.offset), bytes);
    t = allocate();
    try {
      w.raw_data->read(range, t.raw());
    } catch (const Error& e) {
      fail(w, who + ": " + e.what());
    }
  } else if (p.has_raw_data()) {
    check_raw_size(p.raw_data().size());
    t = allocate();
    std::memcpy(t.raw(), p.raw_data().data(), bytes);
  } else {
    auto check_count = [&](int count) {
      if (int64_t(count) != n)
        fail(w, who + ": holds " + std::to_string(count) + " values, shape " + shape_str(shape) + " needs " +
                    std::to_string(n));
      t = allocate();
    };
    switch (dt) {
      case DType::Float32: check_count(p.float_data_size()); copy_typed(p.float_data(), t.data<float>(), n); break;
      case DType::Float64: check_count(p.double_data_size()); copy_typed(p.double_data(), t.data<double>(), n); break;
      case DType::Int64: check_count(p.int64_data_size()); copy_typed(p.int64_data(), t.data<int64_t>(), n); break;
      case DType::UInt32: check_count(p.uint64_data_size()); copy_typed(p.uint64_data(), t.data<uint32_t>(), n); break;
      case DType::UInt64: check_count(p.uint64_data_size()); copy_typed(p.uint64_data(), t.data<uint64_t>(), n); break;
      case DType::Int32: check_count(p.int32_data_size()); copy_typed(p.int32_data(), t.data<int32_t>(), n); break;
      case DType::Int16: check_count(p.int32_data_size()); copy_typed(p.int32_data(), t.data<int16_t>(), n); break;
      case DType::UInt16: check_count(p.int32_data_size()); copy_typed(p.int32_data(), t.data<uint16_t>(), n); break;
      case DType::Int8: check_count(p.int32_data_size()); copy_typed(p.int32_data(), t.data<int8_t>(), n); break;
      case DType::UInt8: check_count(p.int32_data_size()); copy_typed(p.int32_data(), t.data<uint8_t>(), n); break;
      case DType::Float16: case DType::BFloat16: {
        check_count(p.int32_data_size());
        auto* d = static_cast<uint16_t*>(t.raw());
        for (int64_t i = 0; i < n; ++i) d[i] = uint16_t(p.int32_data(int(i)));
        break;
      }
      case DType::Float8E4M3FN: case DType::Float8E4M3FNUZ: case DType::Float8E5M2: case DType::Float8E5M2FNUZ: {
        check_count(p.int32_data_size());
        auto* d = static_cast<uint8_t*>(t.raw());
        for (int64_t i = 0; i < n; ++i) d[i] = uint8_t(p.int32_data(int(i)));
        break;
      }
      case DType::Int4: case DType::UInt4: {  // one packed byte per int32
        if (uint64_t(p.int32_data_size()) != bytes)
          fail(w, who + ": holds " + std::to_string(p.int32_data_size()) + " packed values, shape " +
                      shape_str(shape) + " needs " + std::to_string(bytes));
        t = allocate();
        auto* d = static_cast<uint8_t*>(t.raw());
        for (size_t i = 0; i < bytes; ++i) d[i] = uint8_t(p.int32_data(int(i)));
        break;
      }
      case DType::Bool: {
        check_count(p.int32_data_size());
        auto* d = static_cast<uint8_t*>(t.raw());
        for (int64_t i = 0; i < n; ++i) d[i] = p.int32_data(int(i)) != 0;
        break;
      }
      default: fail(w, who + ": element type not supported");
    }
  }
  if (dt == DType::Bool) {  // any non-zero byte means true; keep storage to 0/1 so that bool reads are defined
    auto* d = static_cast<uint8_t*>(t.raw());
    for (int64_t i = 0; i < n; ++i) d[i] = d[i] != 0;
  }
  if (dtype_is_int4(dt)) unpack_int4_in_place(dt, static_cast<uint8_t*>(t.raw()), size_t(n));
  return t;
}

ValueInfo convert_value_info(const onnx::ValueInfoProto& v) {
  ValueInfo info;
  info.name = v.name();
  if (!v.type().has_tensor_type()) return info;
  const auto& tt = v.type().tensor_type();
  info.dtype = DType(tt.elem_type());
  if (tt.has_shape()) {
    info.has_shape = true;
    for (const auto& d : tt.shape().dim()) {
      Dim dim;
      if (d.has_dim_value()) dim.value = d.dim_value();
      else if (d.has_dim_param()) dim.symbol = d.dim_param();
      info.dims.push_back(dim);
    }
  }
  return info;
}

Graph convert_graph(const Where& w, const onnx::GraphProto& g, int depth);

Attribute convert_attribute(const Where& w, const onnx::AttributeProto& a, int depth) {
  Attribute r;
  using A = onnx::AttributeProto;
  using K = Attribute::Kind;
  switch (a.type()) {
    case A::FLOAT: r.kind = K::Float; r.f = a.f(); break;
    case A::INT: r.kind = K::Int; r.i = a.i(); break;
    case A::STRING: r.kind = K::String; r.s = a.s(); break;
    case A::TENSOR: r.kind = K::Tensor; r.t = convert_tensor(w, a.t()); break;
    case A::GRAPH: r.kind = K::Graph; r.g = std::make_shared<Graph>(convert_graph(w, a.g(), depth + 1)); break;
    case A::FLOATS: r.kind = K::Floats; r.floats.assign(a.floats().begin(), a.floats().end()); break;
    case A::INTS: r.kind = K::Ints; r.ints.assign(a.ints().begin(), a.ints().end()); break;
    case A::STRINGS: r.kind = K::Strings; r.strings.assign(a.strings().begin(), a.strings().end()); break;
    case A::TENSORS:
      r.kind = K::Tensors;
      for (const auto& t : a.tensors()) r.tensors.push_back(convert_tensor(w, t));
      break;
    case A::GRAPHS:
      r.kind = K::Graphs;
      for (const auto& g : a.graphs()) r.graphs.push_back(std::make_shared<Graph>(convert_graph(w, g, depth + 1)));
      break;
    case A::SPARSE_TENSOR: case A::SPARSE_TENSORS: r.kind = K::Undefined; break;  // reported by the op if it needs it
    default: break;
  }
  return r;
}

Graph convert_graph(const Where& w, const onnx::GraphProto& g, int depth) {
  if (depth > 32) fail(w, "subgraphs nested deeper than 32 levels");
  Graph graph;
  graph.name = g.name();
  for (const auto& t : g.initializer()) {
    if (t.name().empty()) fail(w, "an initializer has no name");
    graph.initializers[t.name()] = convert_tensor(w, t, depth == 0);
  }
  if (g.sparse_initializer_size() > 0) fail(w, "sparse initializers are not supported");
  for (const auto& in : g.input()) {
    if (graph.initializers.count(in.name())) continue;
    const auto& dims = in.type().tensor_type().shape().dim();
    for (int d = 0; d < dims.size(); ++d)  // else taken as an unknown dim, and the input made with size 1
      if (dims[d].has_dim_value() && dims[d].dim_value() < 0)
        fail(w, "graph input '" + in.name() + "' declares a negative dimension " +
                    std::to_string(dims[d].dim_value()) + " (dim " + std::to_string(d) + ")");
    graph.inputs.push_back(convert_value_info(in));
  }
  for (const auto& out : g.output()) graph.outputs.push_back(convert_value_info(out));
  for (const auto& v : g.value_info()) graph.value_infos[v.name()] = convert_value_info(v);
  graph.nodes.reserve(size_t(g.node_size()));
  int index = 0;
  for (const auto& n : g.node()) {
    Node node;
    node.name = n.name().empty() ? n.op_type() + "_" + std::to_string(index) : n.name();
    node.op_type = n.op_type();
    node.domain = n.domain() == "ai.onnx" ? "" : n.domain();
    node.inputs.assign(n.input().begin(), n.input().end());
    node.outputs.assign(n.output().begin(), n.output().end());
    for (const auto& a : n.attribute()) {
      try {
        node.attrs[a.name()] = convert_attribute(w, a, depth);
      } catch (const Error& e) {
        throw Error(std::string(e.what()) + " (in attribute '" + a.name() + "' of " + node.label() + ")");
      }
    }
    graph.nodes.push_back(std::move(node));
    ++index;
  }
  return graph;
}

Model convert_model(const Where& w, const onnx::ModelProto& m) {
  Model model;
  model.path = w.file;
  model.ir_version = m.ir_version();
  if (model.ir_version < 1 || model.ir_version > 11)
    fail(w, "IR version " + std::to_string(model.ir_version) + " is not supported (1-11 are)");
  model.producer = m.producer_name() + (m.producer_version().empty() ? "" : " " + m.producer_version());
  for (const auto& o : m.opset_import()) model.opsets[o.domain() == "ai.onnx" ? "" : o.domain()] = o.version();
  if (m.opset_import_size() == 0) model.opsets[""] = 1;  // IR 3 models without opset_import mean opset 1
  if (m.functions_size() > 0) fail(w, "model-local functions are not supported yet");
  if (!m.has_graph()) fail(w, "the model has no graph");
  model.graph = convert_graph(w, m.graph(), 0);
  return model;
}

template <class Proto>
void parse_proto(Proto& proto, const void* data, size_t size, const std::string& name, const char* what) {
  if (size > size_t(INT_MAX)) throw Error(name + ": file is larger than 2 GiB; store weights as external data");
  if (!proto.ParseFromArray(data, int(size)))
    throw Error(name + ": not a valid ONNX " + std::string(what) + " (protobuf parsing failed; truncated or corrupt?)");
}

// Parses the model's structure only and reads every tensor's raw data from `bytes` (or `file`, which holds them)
// into the tensor, or leaves it there when `map_weights`; models the split cannot read are parsed whole.
Model import_model(const uint8_t* bytes, size_t size, const std::shared_ptr<const MappedFile>& file,
                   bool map_weights, const std::string& name, const std::string& base_dir) {
  onnx::ModelProto proto;
  std::optional<SplitModel> split = split_raw_data(bytes, size);
  if (!split) {
    parse_proto(proto, bytes, size, name, "model");
    return convert_model(Where{name, base_dir, nullptr, nullptr}, proto);
  }
  parse_proto(proto, split->structure.data(), split->structure.size(), name, "model");
  split->structure = std::string();
  RawDataSource raw_data{std::move(split->raw_data), bytes, file.get()};
  return convert_model(Where{name, base_dir, &raw_data, map_weights ? file : nullptr}, proto);
}

}  // namespace

Model import_model_bytes(const void* data, size_t size, const std::string& name, const std::string& base_dir) {
  return import_model(static_cast<const uint8_t*>(data), size, nullptr, false, name, base_dir);
}

Model import_model_file(const std::string& path) {
  auto file = std::make_shared<const MappedFile>(path);
  return import_model(file->data(), file->size(), file, false, path, fs::path(path).parent_path().string());
}

MappedModel import_model_file_mapped(const std::string& path) {
  auto file = std::make_shared<const MappedFile>(path);
  Model model = import_model(file->data(), file->size(), file, true, path, fs::path(path).parent_path().string());
  file->drop_resident_pages();  // the structure read by the import; nothing writes through the mapping
  return MappedModel{std::move(model), std::move(file)};
}

Tensor in_memory(const Tensor& t, const MappedFile* file) {
  if (!file || !file->contains(t.raw())) return t;
  Tensor copy = Tensor::uninitialized(t.dtype(), t.shape());
  file->read(uint64_t(static_cast<const uint8_t*>(t.raw()) - file->data()), t.nbytes(), copy.raw());
  return copy;
}

Tensor read_tensor_pb_file(const std::string& path) {
  std::string bytes = read_file(path);
  onnx::TensorProto proto;
  parse_proto(proto, bytes.data(), bytes.size(), path, "TensorProto");
  return convert_tensor(Where{path, fs::path(path).parent_path().string(), nullptr, nullptr}, proto);
}

std::string read_tensor_pb_name(const std::string& path) {
  std::string bytes = read_file(path);
  onnx::TensorProto proto;
  parse_proto(proto, bytes.data(), bytes.size(), path, "TensorProto");
  return proto.name();
}

}  // namespace infera

namespace infera {

Tensor read_tensor_file(const std::string& path) {
  auto ends_with = [&](const char* ext) {
    size_t n = std::strlen(ext);
    return path.size() >= n && path.compare(path.size() - n, n, ext) == 0;
  };
  if (ends_with(".npy")) return read_npy(path);
  if (ends_with(".pb")) return read_tensor_pb_file(path);
  throw Error(path + ": unknown tensor file type (use .npy or a TensorProto .pb)");
}

}  // namespace infera
