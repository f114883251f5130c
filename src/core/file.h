// Whole-file and ranged reads with errors that name the file.
#pragma once

#include <cstdint>
#include <string>

namespace infera {

std::string read_file(const std::string& path);
// Reads up to `length` bytes starting at `offset`; fewer when the file ends first.
std::string read_file_range(const std::string& path, uint64_t offset, size_t length);
void write_file(const std::string& path, const std::string& bytes);

}  // namespace infera
