// Zip reading as far as .npz needs it (APPNOTE.TXT): the end-of-central-directory record (and its zip64 form,
// which np.savez writes for large archives), the central directory, and each member's local header, whose own
// extra field decides where the data starts.
#include "core/npz.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>

#include "core/file.h"
#include "infera/tensor_io.h"

namespace infera {

namespace {

constexpr uint32_t kEndOfCentralDirectory = 0x06054b50, kZip64End = 0x06064b50, kZip64Locator = 0x07064b50;
constexpr uint32_t kCentralHeader = 0x02014b50, kLocalHeader = 0x04034b50;
constexpr uint32_t kZip64Marker = 0xffffffff;
constexpr uint16_t kStored = 0, kDeflate = 8;

class Reader {
 public:
  Reader(const std::string& bytes, const std::string& name) : bytes_(bytes), name_(name) {}
  uint64_t u(uint64_t offset, int size) const {
    if (offset > bytes_.size() || uint64_t(size) > bytes_.size() - offset) throw bad("truncated");
    uint64_t v = 0;
    for (int i = 0; i < size; ++i) v |= uint64_t(uint8_t(bytes_[size_t(offset) + size_t(i)])) << (8 * i);
    return v;
  }
  std::string_view span(uint64_t offset, uint64_t size) const {
    if (offset > bytes_.size() || size > bytes_.size() - offset) throw bad("truncated");
    return std::string_view(bytes_).substr(size_t(offset), size_t(size));
  }
  Error bad(const std::string& why) const { return Error(name_ + ": not a readable .npz archive: " + why); }

 private:
  const std::string& bytes_;
  const std::string& name_;
};

struct Member {
  std::string name;
  uint16_t method = 0;
  uint32_t crc = 0;
  uint64_t compressed = 0, size = 0, local_offset = 0;
};

uint64_t find_end_record(const Reader& r, uint64_t file_size) {
  if (file_size < 22) throw r.bad("too short for a zip file");
  uint64_t lowest = file_size > 22 + 65535 ? file_size - 22 - 65535 : 0;  // the comment is at most 64 KiB
  for (uint64_t at = file_size - 22;; --at) {
    if (r.u(at, 4) == kEndOfCentralDirectory) return at;
    if (at == lowest) break;
  }
  throw r.bad("no end-of-central-directory record");
}

// Values 0xffffffff in the central header are in the zip64 extra field (id 1), in this order.
void read_zip64_extra(const Reader& r, uint64_t extra, uint64_t extra_len, Member& m, bool size64, bool comp64,
                      bool offset64) {
  for (uint64_t at = extra; at + 4 <= extra + extra_len;) {
    uint64_t id = r.u(at, 2), len = r.u(at + 2, 2);
    if (id == 1) {
      uint64_t field = at + 4;
      if (size64) m.size = r.u(field, 8), field += 8;
      if (comp64) m.compressed = r.u(field, 8), field += 8;
      if (offset64) m.local_offset = r.u(field, 8);
      return;
    }
    at += 4 + len;
  }
  throw r.bad("member '" + m.name + "' needs a zip64 extra field and has none");
}

std::vector<Member> central_directory(const Reader& r, uint64_t file_size) {
  uint64_t end = find_end_record(r, file_size);
  uint64_t count = r.u(end + 10, 2), offset = r.u(end + 16, 4);
  if (end >= 20 && r.u(end - 20, 4) == kZip64Locator) {
    uint64_t z = r.u(end - 20 + 8, 8);
    if (r.u(z, 4) != kZip64End) throw r.bad("bad zip64 end record");
    count = r.u(z + 32, 8);
    offset = r.u(z + 48, 8);
  }
  std::vector<Member> members;
  uint64_t at = offset;
  for (uint64_t i = 0; i < count; ++i) {
    if (r.u(at, 4) != kCentralHeader) throw r.bad("bad central directory entry");
    Member m;
    m.method = uint16_t(r.u(at + 10, 2));
    m.crc = uint32_t(r.u(at + 16, 4));
    m.compressed = r.u(at + 20, 4);
    m.size = r.u(at + 24, 4);
    uint64_t name_len = r.u(at + 28, 2), extra_len = r.u(at + 30, 2), comment_len = r.u(at + 32, 2);
    m.local_offset = r.u(at + 42, 4);
    m.name = std::string(r.span(at + 46, name_len));
    bool size64 = m.size == kZip64Marker, comp64 = m.compressed == kZip64Marker;
    bool offset64 = m.local_offset == kZip64Marker;
    if (size64 || comp64 || offset64) read_zip64_extra(r, at + 46 + name_len, extra_len, m, size64, comp64, offset64);
    members.push_back(std::move(m));
    at += 46 + name_len + extra_len + comment_len;
  }
  return members;
}

std::string inflate_member(const Reader& r, std::string_view data, const Member& m) {
  if (m.size > max_tensor_bytes() + 65536) throw r.bad("member '" + m.name + "' is too large");
  std::string out(size_t(m.size), '\0');
  z_stream z{};
  if (inflateInit2(&z, -MAX_WBITS) != Z_OK) throw r.bad("zlib initialisation failed");
  // zlib counts in 32 bits: feed and drain in chunks.
  constexpr size_t kChunk = size_t(1) << 30;
  size_t in_at = 0, out_at = 0;
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data() + in_at));
    z.avail_in = uInt(std::min(kChunk, data.size() - in_at));
    z.next_out = reinterpret_cast<Bytef*>(out.data() + out_at);
    z.avail_out = uInt(std::min(kChunk, out.size() - out_at));
    uInt in_before = z.avail_in, out_before = z.avail_out;
    rc = inflate(&z, Z_NO_FLUSH);
    in_at += in_before - z.avail_in;
    out_at += out_before - z.avail_out;
    if (rc == Z_OK && in_before == z.avail_in && out_before == z.avail_out) break;  // no progress: truncated
  }
  inflateEnd(&z);
  if (rc != Z_STREAM_END || out_at != out.size()) throw r.bad("member '" + m.name + "' does not inflate");
  return out;
}

}  // namespace

std::vector<std::pair<std::string, Tensor>> parse_npz(const std::string& bytes, const std::string& name) {
  Reader r(bytes, name);
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (const Member& m : central_directory(r, bytes.size())) {
    if (r.u(m.local_offset, 4) != kLocalHeader) throw r.bad("bad local header for member '" + m.name + "'");
    uint64_t data_at = m.local_offset + 30 + r.u(m.local_offset + 26, 2) + r.u(m.local_offset + 28, 2);
    std::string_view data = r.span(data_at, m.compressed);
    std::string content;
    if (m.method == kStored) {
      if (m.compressed != m.size) throw r.bad("stored member '" + m.name + "' has two sizes");
      content = std::string(data);
    } else if (m.method == kDeflate) {
      content = inflate_member(r, data, m);
    } else {
      throw r.bad("member '" + m.name + "' uses compression method " + std::to_string(m.method) +
                  " (only stored and deflate are supported)");
    }
    if (uint32_t(crc32_z(0, reinterpret_cast<const Bytef*>(content.data()), content.size())) != m.crc)
      throw r.bad("member '" + m.name + "' fails its CRC check");
    std::string member = m.name;
    if (member.size() > 4 && member.compare(member.size() - 4, 4, ".npy") == 0) member.resize(member.size() - 4);
    tensors.emplace_back(member, parse_npy(content.data(), content.size(), name + ":" + m.name));
  }
  return tensors;
}

std::vector<std::pair<std::string, Tensor>> read_npz(const std::string& path) {
  return parse_npz(read_file(path), path);
}

}  // namespace infera
