// Strided access to K operands over a dense output, reduced to its simplest form: the output's dimensions with
// size-1 dimensions dropped and neighbours merged wherever every operand's stride allows. What is left is a grid of
// rows ("outer") of `inner` elements. For broadcasting, each operand advances by one or stays put (stride 0) along
// a row: same-shape operands become one row, a bias over the last dimension a vector-vector row per outer index, a
// per-channel [C,1,1] operand over NCHW a vector-scalar row per (n, c). Slices and transposes keep other strides.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "infera/tensor.h"

namespace infera::cpu {

template <size_t K>
struct StridedRows {
  std::vector<int64_t> outer;                        // outer dimensions, outermost first
  std::array<std::vector<int64_t>, K> outer_stride;  // each operand's stride along them (elements)
  int64_t inner = 1;
  std::array<int64_t, K> inner_stride{};  // 0 or 1 for broadcasting
  int64_t rows() const;
  // Element offset of each operand at the start of row `row`.
  std::array<int64_t, K> row_offsets(int64_t row) const;
};

// Operand k's element at output index (i0, ..., in) is at sum(id * strides[k][d]) from its row base.
template <size_t K>
StridedRows<K> strided_rows(const Shape& out, const std::array<std::vector<int64_t>, K>& strides);

// `shapes` must broadcast to `out` (the op's shape rule has checked it).
template <size_t K>
StridedRows<K> broadcast_rows(const Shape& out, const std::array<Shape, K>& shapes);

extern template struct StridedRows<1>;
extern template struct StridedRows<2>;
extern template struct StridedRows<3>;
extern template StridedRows<1> strided_rows<1>(const Shape&, const std::array<std::vector<int64_t>, 1>&);
extern template StridedRows<2> broadcast_rows<2>(const Shape&, const std::array<Shape, 2>&);
extern template StridedRows<3> broadcast_rows<3>(const Shape&, const std::array<Shape, 3>&);

}  // namespace infera::cpu
