// NumPy .npz archives (np.savez, np.savez_compressed): a zip file of .npy members, stored or deflated.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "infera/tensor.h"

namespace infera {

// The members in archive order, each named without its ".npy". Throws infera::Error naming the file (and member)
// when it is not a readable archive: bad zip structure, a compression method other than stored or deflate, a CRC
// mismatch, or a member that is not a readable .npy.
std::vector<std::pair<std::string, Tensor>> read_npz(const std::string& path);
std::vector<std::pair<std::string, Tensor>> parse_npz(const std::string& bytes, const std::string& name);

}  // namespace infera
