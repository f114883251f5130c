// Every failure infera reports is an infera::Error whose message says where (file, node) and why.
#pragma once

#include <stdexcept>
#include <string>

namespace infera {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace infera
