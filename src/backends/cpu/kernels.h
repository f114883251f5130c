// The kernel factories of the CPU backend, one per op family (each in its own file); cpu_backend.cpp maps op
// types to them. Each returns nullptr for a node it does not handle (dtype, layout, attribute).
#pragma once

#include <memory>

#include "backends/backend.h"

namespace infera::cpu {

std::unique_ptr<Kernel> compile_binary(const KernelRequest& request);
std::unique_ptr<Kernel> compile_unary(const KernelRequest& request);
// y = x * x: Pow with the constant exponent 2 (elementwise.cpp) runs as this unary kernel.
std::unique_ptr<Kernel> make_square_kernel();
std::unique_ptr<Kernel> compile_softmax(const KernelRequest& request);
std::unique_ptr<Kernel> compile_layer_norm(const KernelRequest& request);
std::unique_ptr<Kernel> compile_batch_norm(const KernelRequest& request);
std::unique_ptr<Kernel> compile_skip_layer_norm(const KernelRequest& request);
std::unique_ptr<Kernel> compile_reduce(const KernelRequest& request);
std::unique_ptr<Kernel> compile_global_average_pool(const KernelRequest& request);
std::unique_ptr<Kernel> compile_transpose(const KernelRequest& request);
std::unique_ptr<Kernel> compile_concat(const KernelRequest& request);
std::unique_ptr<Kernel> compile_gather(const KernelRequest& request);
std::unique_ptr<Kernel> compile_slice(const KernelRequest& request);
std::unique_ptr<Kernel> compile_where(const KernelRequest& request);
std::unique_ptr<Kernel> compile_expand(const KernelRequest& request);
std::unique_ptr<Kernel> compile_attention(const KernelRequest& request);
// QuantizeLinear and DequantizeLinear to and from 8-bit integers (quantize_kernels.cpp).
std::unique_ptr<Kernel> compile_quantize(const KernelRequest& request);
std::unique_ptr<Kernel> compile_qlinear_add(const KernelRequest& request);  // quantize_kernels.cpp

}  // namespace infera::cpu
