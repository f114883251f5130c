#include "backends/cpu/broadcast.h"

#include "ops/helpers.h"

namespace infera::cpu {

template <size_t K>
int64_t StridedRows<K>::rows() const {
  int64_t n = 1;
  for (int64_t d : outer) n *= d;
  return n;
}

template <size_t K>
std::array<int64_t, K> StridedRows<K>::row_offsets(int64_t row) const {
  std::array<int64_t, K> off{};
  for (size_t d = outer.size(); d-- > 0;) {
    const int64_t i = row % outer[d];
    row /= outer[d];
    for (size_t k = 0; k < K; ++k) off[k] += i * outer_stride[k][d];
  }
  return off;
}

template <size_t K>
StridedRows<K> strided_rows(const Shape& out, const std::array<std::vector<int64_t>, K>& strides) {
  // Merged dimensions, innermost first: size and each operand's stride.
  std::vector<int64_t> sizes;
  std::array<std::vector<int64_t>, K> merged;
  for (size_t d = out.size(); d-- > 0;) {
    if (out[d] == 1) continue;
    bool joins = !sizes.empty();
    for (size_t k = 0; k < K && joins; ++k) joins = strides[k][d] == merged[k].back() * sizes.back();
    if (joins) {
      sizes.back() *= out[d];
      continue;
    }
    sizes.push_back(out[d]);
    for (size_t k = 0; k < K; ++k) merged[k].push_back(strides[k][d]);
  }
  StridedRows<K> rows;
  if (sizes.empty()) {  // every dimension is 1: one element
    for (size_t k = 0; k < K; ++k) rows.inner_stride[k] = 0;
    return rows;
  }
  rows.inner = sizes.front();
  for (size_t k = 0; k < K; ++k) rows.inner_stride[k] = merged[k].front();
  for (size_t d = sizes.size(); d-- > 1;) {
    rows.outer.push_back(sizes[d]);
    for (size_t k = 0; k < K; ++k) rows.outer_stride[k].push_back(merged[k][d]);
  }
  return rows;
}

template <size_t K>
StridedRows<K> broadcast_rows(const Shape& out, const std::array<Shape, K>& shapes) {
  std::array<std::vector<int64_t>, K> strides;
  for (size_t k = 0; k < K; ++k) strides[k] = broadcast_strides(shapes[k], out);
  return strided_rows<K>(out, strides);
}

template struct StridedRows<1>;
template struct StridedRows<2>;
template struct StridedRows<3>;
template StridedRows<1> strided_rows<1>(const Shape&, const std::array<std::vector<int64_t>, 1>&);
template StridedRows<2> broadcast_rows<2>(const Shape&, const std::array<Shape, 2>&);
template StridedRows<3> broadcast_rows<3>(const Shape&, const std::array<Shape, 3>&);

}  // namespace infera::cpu
