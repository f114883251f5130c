// The quantizer's writers, one per kind of output model; each edits a ModelEdit in place (see quantizer.h for what
// each writes). quantizer.cpp picks one by precision and serializes the result.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "quant/model_edit.h"

namespace infera {

// int8 and fp8: the opset the output needs.
int64_t qdq_opset(const QuantizeOptions& options);
// int8 and fp8: the activations that get QuantizeLinear/DequantizeLinear pairs, in graph order.
std::vector<std::string> qdq_activations(ModelEdit& edit);
// int8 and fp8: inserts the pairs; `ranges` must hold every name qdq_activations() returns.
void write_qdq(ModelEdit& edit, const std::map<std::string, TensorRange>& ranges);

// fp16 and bf16.
int64_t cast_opset(const QuantizeOptions& options, int64_t model_opset);
void write_casts(ModelEdit& edit);

// int4-weight.
constexpr int64_t kInt4WeightOpset = 21;
void write_int4_weights(ModelEdit& edit);

}  // namespace infera
