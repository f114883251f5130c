#include "core/file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "infera/error.h"

namespace infera {

namespace {
[[noreturn]] void fail_errno(const std::string& path, const std::string& what) {
  throw Error(path + ": " + what + " (" + std::strerror(errno) + ")");
}

void refuse_directory(const std::string& path) {
  std::error_code ec;  // a directory opens as a stream whose size reads as huge: refuse it by name
  if (std::filesystem::is_directory(path, ec)) throw Error(path + ": is a directory, not a file");
}
}  // namespace

std::string read_file(const std::string& path) {
  refuse_directory(path);
  std::ifstream f(path, std::ios::binary);
  if (!f) fail_errno(path, "cannot open");
  f.seekg(0, std::ios::end);
  std::streamoff size = f.tellg();
  if (size < 0) throw Error(path + ": cannot determine the file size (is it a directory?)");
  f.seekg(0);
  std::string bytes(size_t(size), '\0');
  if (!f.read(bytes.data(), size)) throw Error(path + ": read failed");
  return bytes;
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  if (!f || !f.write(bytes.data(), std::streamsize(bytes.size()))) throw Error(path + ": cannot write");
}

MappedFile::MappedFile(const std::string& path) : path_(path) {
  refuse_directory(path);
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) fail_errno(path, "cannot open");
  struct stat st {};
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd_);
    throw Error(path + ": not a regular file");
  }
  size_ = size_t(st.st_size);
  if (size_ == 0) return;  // nothing to map; data() is null and size() 0
  map_ = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd_, 0);
  if (map_ == MAP_FAILED) {
    map_ = nullptr;
    ::close(fd_);
    fail_errno(path, "cannot map");
  }
  // Readers touch a few bytes here and there (a model's structure between its tensors): a page cache held in 2 MiB
  // folios would otherwise be mapped 2 MiB at a time, all of it counted as the process's memory.
  ::madvise(map_, size_, MADV_NOHUGEPAGE);
}

void MappedFile::drop_resident_pages() const {
  if (map_) ::madvise(map_, size_, MADV_DONTNEED);
}

MappedFile::~MappedFile() {
  if (map_) ::munmap(map_, size_);
  ::close(fd_);
}

void MappedFile::read(uint64_t offset, size_t length, void* dst) const {
  if (offset > size_ || length > size_ - offset)
    throw Error(path_ + ": internal: read of " + std::to_string(length) + " bytes at " + std::to_string(offset) +
                " past the end (" + std::to_string(size_) + " bytes)");
  auto* out = static_cast<char*>(dst);
  while (length > 0) {
    const ssize_t n = ::pread(fd_, out, length, off_t(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_errno(path_, "read failed");
    if (n == 0) throw Error(path_ + ": read failed: the file was shortened while being read");
    out += n;
    offset += uint64_t(n);
    length -= size_t(n);
  }
}

}  // namespace infera
