// Moving elements without looking at them, shared by the shape-manipulation ops (Transpose, Tile, Slice, Expand,
// DepthToSpace, Unique...). Works on raw bytes by element size, so one kernel serves every dtype.
#pragma once

#include "ops/helpers.h"

namespace infera {

// Fills dst (row-major, shape `shape`) from src, where the element at index (i0, ..., in) is read at
// src + sum(ik * src_strides[k]) elements. Strides may be 0 (broadcast) or negative (reversed slices).
void strided_copy(const void* src, void* dst, size_t elem_size, const Shape& shape,
                  const std::vector<int64_t>& src_strides);

// dst = src (row-major, shape src_shape) with its axes permuted: dst dimension k is src dimension perm[k].
void transpose_copy(const void* src, void* dst, size_t elem_size, const Shape& src_shape, const std::vector<int>& perm);

// Ops that only move data: no FLOPs, every input and output byte.
Cost data_movement_cost(const OpContext& ctx);
// Ops that read only what they write (Slice, Gather): index inputs plus the output bytes read and written.
Cost selection_cost(const OpContext& ctx);

}  // namespace infera
