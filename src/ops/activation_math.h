// The activation formulas on one value, in the compute type C: shared by the activation operators and the fused
// operators' epilogues, so that both compute exactly the same thing.
#pragma once

#include <algorithm>
#include <cmath>

namespace infera {

template <class C>
C sigmoid_of(C x) {  // no overflow of exp for large |x|
  if (x >= 0) return C(1) / (C(1) + std::exp(-x));
  const C e = std::exp(x);
  return e / (C(1) + e);
}

template <class C>
C hard_sigmoid_of(C x, C alpha, C beta) {
  return std::clamp(alpha * x + beta, C(0), C(1));
}

template <class C>
C hard_swish_of(C x) {
  return x * std::clamp(x / C(6) + C(0.5), C(0), C(1));
}

template <class C>
C gelu_erf_of(C x) {
  return C(0.5) * x * (C(1) + std::erf(x * C(0.70710678118654752440)));
}

template <class C>
C gelu_tanh_of(C x) {
  const C k = C(0.79788456080286535588);  // sqrt(2 / pi)
  return C(0.5) * x * (C(1) + std::tanh(k * (x + C(0.044715) * x * x * x)));
}

}  // namespace infera
