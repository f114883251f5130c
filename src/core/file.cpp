#include "core/file.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "infera/error.h"

namespace infera {

namespace {
std::ifstream open_for_reading(const std::string& path) {
  std::error_code ec;  // a directory opens as a stream whose size reads as huge: refuse it by name
  if (std::filesystem::is_directory(path, ec)) throw Error(path + ": is a directory, not a file");
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot open (" + std::strerror(errno) + ")");
  return f;
}
}  // namespace

std::string read_file(const std::string& path) {
  std::ifstream f = open_for_reading(path);
  f.seekg(0, std::ios::end);
  std::streamoff size = f.tellg();
  if (size < 0) throw Error(path + ": cannot determine the file size (is it a directory?)");
  f.seekg(0);
  std::string bytes(size_t(size), '\0');
  if (!f.read(bytes.data(), size)) throw Error(path + ": read failed");
  return bytes;
}

std::string read_file_range(const std::string& path, uint64_t offset, size_t length) {
  std::ifstream f = open_for_reading(path);
  f.seekg(0, std::ios::end);
  std::streamoff size = f.tellg();
  if (size < 0) throw Error(path + ": cannot determine the file size");
  if (offset >= uint64_t(size)) return {};
  size_t n = std::min<uint64_t>(length, uint64_t(size) - offset);
  std::string bytes(n, '\0');
  f.seekg(std::streamoff(offset));
  if (!f.read(bytes.data(), std::streamsize(n))) throw Error(path + ": read failed");
  return bytes;
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  if (!f || !f.write(bytes.data(), std::streamsize(bytes.size()))) throw Error(path + ": cannot write");
}

}  // namespace infera
