// NumPy's .npy format, versions 1-3: magic, header length, a Python dict literal, then C-order data.
#include <cstring>
#include <map>
#include <regex>

#include "core/file.h"
#include "infera/tensor_io.h"

namespace infera {

namespace {

const std::map<std::string, DType>& npy_types() {
  static const std::map<std::string, DType> m = {
      {"<f4", DType::Float32}, {"<f8", DType::Float64}, {"<f2", DType::Float16}, {"|i1", DType::Int8},
      {"|u1", DType::UInt8},   {"<i2", DType::Int16},   {"<u2", DType::UInt16},  {"<i4", DType::Int32},
      {"<u4", DType::UInt32},  {"<i8", DType::Int64},   {"<u8", DType::UInt64},  {"|b1", DType::Bool}};
  return m;
}

}  // namespace

Tensor read_npy(const std::string& path) {
  std::string bytes = read_file(path);
  return parse_npy(bytes.data(), bytes.size(), path);
}

Tensor parse_npy(const void* data, size_t size, const std::string& path) {
  std::string_view bytes(static_cast<const char*>(data), size);
  auto bad = [&](const std::string& why) { return Error(path + ": not a readable .npy file: " + why); };
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) throw bad("missing magic");
  uint8_t major = uint8_t(bytes[6]);
  size_t header_len, offset;
  if (major == 1) {
    header_len = uint8_t(bytes[8]) | size_t(uint8_t(bytes[9])) << 8;
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) throw bad("truncated header");
    header_len = 0;
    for (int i = 0; i < 4; ++i) header_len |= size_t(uint8_t(bytes[8 + size_t(i)])) << (8 * i);
    offset = 12;
  } else {
    throw bad("unknown version " + std::to_string(major));
  }
  if (offset + header_len > bytes.size()) throw bad("truncated header");
  std::string header(bytes.substr(offset, header_len));
  std::smatch m;
  if (!std::regex_search(header, m, std::regex("'descr':\\s*'([^']+)'"))) throw bad("no descr");
  auto type = npy_types().find(m[1].str());
  if (type == npy_types().end()) throw bad("element type " + m[1].str() + " is not supported");
  if (std::regex_search(header, std::regex("'fortran_order':\\s*True"))) throw bad("Fortran order is not supported");
  if (!std::regex_search(header, m, std::regex("'shape':\\s*\\(([^)]*)\\)"))) throw bad("no shape");
  Shape shape;
  std::string dims = m[1].str();
  const std::regex number("-?\\d+");  // with the sign, so that a negative dimension is refused, not read as positive
  for (std::sregex_iterator it(dims.begin(), dims.end(), number), end; it != end; ++it) {
    try {
      shape.push_back(std::stoll(it->str()));
    } catch (const std::exception&) {
      throw bad("dimension " + it->str() + " is too large");
    }
  }
  Tensor t;
  try {
    t = Tensor(type->second, shape);
  } catch (const Error& e) {
    throw bad(e.what());
  }
  size_t data_offset = offset + header_len;
  if (bytes.size() - data_offset != t.nbytes())
    throw bad("holds " + std::to_string(bytes.size() - data_offset) + " data bytes, shape " + shape_str(shape) +
              " needs " + std::to_string(t.nbytes()));
  std::memcpy(t.raw(), bytes.data() + data_offset, t.nbytes());
  if (t.dtype() == DType::Bool) {
    auto* d = static_cast<uint8_t*>(t.raw());
    for (int64_t i = 0; i < t.numel(); ++i) d[i] = d[i] != 0;
  }
  return t;
}

void write_npy(const std::string& path, const Tensor& t) {
  std::string descr;
  for (const auto& [d, type] : npy_types())
    if (type == t.dtype()) descr = d;
  if (descr.empty()) throw Error(path + ": cannot write " + std::string(dtype_name(t.dtype())) + " as .npy");
  if (t.dtype() == DType::BFloat16) throw Error(path + ": .npy has no bfloat16 type");
  std::string shape;
  for (int64_t d : t.shape()) shape += std::to_string(d) + ", ";
  if (t.rank() > 1) shape.resize(shape.size() - 2);
  else if (t.rank() == 1) shape.resize(shape.size() - 1);
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + shape + "), }";
  header.append(63 - (10 + header.size()) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += char(1);
  out += char(0);
  out += char(header.size() & 0xff);
  out += char(header.size() >> 8);
  out += header;
  out.append(static_cast<const char*>(t.raw()), t.nbytes());
  write_file(path, out);
}

}  // namespace infera
