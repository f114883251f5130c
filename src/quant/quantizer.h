// Writes a lower-precision copy of an ONNX model as a standard ONNX model, editing the model's protobuf so that
// everything the quantizer does not touch (metadata, names, value infos, other domains) is kept:
//  - int8:        QuantizeLinear -> DequantizeLinear pairs on the float inputs that quantized nodes read, one pair
//                 per value shared by its quantized readers (other readers keep the fp32 value). Quantized nodes:
//                 Conv, ConvTranspose, Gemm, MatMul; and Add, Mul, Concat, pooling, Resize and the reshaping ops
//                 when their output feeds a quantized node directly (int8 chains between weighted ops). A Relu or
//                 Clip after a node stays a node of its own and the pair follows it (DQ -> Conv -> Clip -> Q, which
//                 integer kernels fuse); so an Add whose output goes through a Relu stays fp32, which oneDNN-style
//                 kernels fuse as a sum post-op, and costs no extra rounding. Weights are int8 initializers
//                 (symmetric, [-127, 127]) read through DequantizeLinear, per output channel with `per_channel`
//                 (opset 13); biases of Conv, ConvTranspose and Gemm are int32 with scale = input scale x weight
//                 scale (ONNX Runtime's convention, what integer kernels add to their int32 accumulators; the
//                 rounding, at most half of that scale, is far below the output step). Activations are uint8
//                 asymmetric (U8S8: the operand order of x86 VNNI and oneDNN's u8s8s32 kernels), or int8 with zero
//                 point 0 with `symmetric_activations`. Graph outputs are not quantized.
//  - fp8-e4m3, fp8-e5m2: the same pairs on Conv/ConvTranspose/Gemm/MatMul only, with 8-bit float zero points and
//                 scales that map the calibrated absolute maximum onto the format's largest value (opset 19); biases
//                 stay fp32.
//  - fp16, bf16:  float initializers converted, Cast nodes where fp32 values enter and leave the converted region;
//                 graph inputs and outputs stay fp32. Ops that must see fp32 (Resize scales, shape-producing and
//                 index ops, control flow) or that do not accept the type in the model's opset stay fp32. bf16
//                 raises the opset to 22, the first where Conv and pooling accept bfloat16.
//  - int4-weight: weights of MatMul and Gemm as INT4 (symmetric, [-7, 7]) with one scale per block of `block_size`
//                 elements along K, read through a blocked DequantizeLinear (opset 21); activations stay fp32.
// The default-domain opset is raised to what the output needs, rewriting nodes whose meaning changed on the way.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "quant/calibrate.h"

namespace infera {

enum class QuantPrecision { Int8, Fp8E4M3, Fp8E5M2, Fp16, Bf16, Int4Weight };

QuantPrecision parse_quant_precision(const std::string& name);  // "int8", "fp8-e4m3", ..., "int4-weight"
const char* quant_precision_name(QuantPrecision precision);
// int8 and fp8 quantize activations and need calibrated ranges.
bool needs_calibration(QuantPrecision precision);

struct QuantizeOptions {
  QuantPrecision precision = QuantPrecision::Int8;
  bool per_channel = false;            // int8/fp8 weights: one scale per output channel
  bool symmetric_activations = false;  // int8: int8 activations with zero point 0 instead of uint8 asymmetric
  int64_t block_size = 32;             // int4-weight: elements per scale along K (>= 1)
  // Nodes kept in fp32, by name (unnamed nodes are called <OpType>_<index>, as infera names them) or by the name of
  // one of their outputs.
  std::set<std::string> exclude;
};

struct QuantizeReport {
  std::vector<std::string> quantized;  // nodes now in the lower precision
  std::map<std::string, int> quantized_ops;  // op type -> how many of `quantized`
  std::vector<std::string> excluded;   // nodes that would have been, kept fp32 by `exclude`
  std::vector<std::string> notes;      // one line each: opset changes, nodes left fp32 and why, clamped biases
  int64_t opset_before = 0, opset_after = 0;
  int64_t weight_bytes_before = 0, weight_bytes_after = 0;  // all initializers
  int inserted_nodes = 0;  // QuantizeLinear, DequantizeLinear, Cast
};

// The float activations whose ranges quantize_model needs for these options (names in the original model); empty
// for the precisions that do not quantize activations.
std::vector<std::string> tensors_to_calibrate(const std::string& model_bytes, const std::string& name,
                                              const std::string& base_dir, const QuantizeOptions& options);

// Quantizes a serialized model and returns the serialized result. `ranges` holds the calibrated range of every
// tensor tensors_to_calibrate() names (int8 and fp8). `name` names the model in messages; `base_dir` is where its
// external data lives (it is written inline). Throws infera::Error naming the node on what it cannot quantize.
std::string quantize_model(const std::string& model_bytes, const std::string& name, const std::string& base_dir,
                           const QuantizeOptions& options, const std::map<std::string, TensorRange>& ranges,
                           QuantizeReport* report = nullptr);

}  // namespace infera
