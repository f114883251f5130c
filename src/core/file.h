// Whole-file reads, writes, and files mapped for random access, with errors that name the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace infera {

std::string read_file(const std::string& path);
void write_file(const std::string& path, const std::string& bytes);

// A file mapped for reading: its bytes can be scanned without reading it whole, and ranges of it copied out. The
// mapping is private and writable, so that a stray write changes a copy of the page, not the file, and fails nothing.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return static_cast<const uint8_t*>(map_); }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  bool contains(const void* p) const {
    const auto at = reinterpret_cast<uintptr_t>(p), begin = reinterpret_cast<uintptr_t>(map_);
    return map_ && at >= begin && at - begin < size_;
  }
  // Copies `length` bytes at `offset` (within size()) to dst. Copies with pread, not from the mapping: pages touched
  // through the mapping count in the process's resident memory until it is unmapped; pread leaves them in the page
  // cache only.
  void read(uint64_t offset, size_t length, void* dst) const;
  // Takes the pages read through the mapping so far out of the process's resident memory (the page cache keeps
  // them; a later read maps them again). Pages written through the mapping would lose what was written: call it
  // only while nothing was.
  void drop_resident_pages() const;

 private:
  std::string path_;
  int fd_ = -1;
  void* map_ = nullptr;
  size_t size_ = 0;
};

}  // namespace infera
