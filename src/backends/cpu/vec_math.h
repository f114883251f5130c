// Branch-free float32 approximations of exp, tanh, erf and the activations built on them, written so that g++
// vectorises loops that call them (selects instead of branches, no library calls). Accuracy against the std::
// functions: relative error below 1e-6 on normal results (tests/unit/cpu_math_test.cpp sweeps it), NaN propagates,
// ±inf and overflow give the limits. Results below FLT_MIN are approximate in absolute terms only.
#pragma once

#include <bit>
#include <cstdint>
#include <limits>

#include "backends/cpu/cpu_kernel.h"

namespace infera::cpu {

// exp(x) = 2^n * exp(r), n = round(x / ln 2), |r| <= ln 2 / 2; Cephes' degree-6 polynomial for exp(r). 2^n is
// built from two halves so that n from -150 (denormal results) to 128 (overflow to inf) needs no special case.
INFERA_CPU_INLINE float exp_approx(float x) {
  const float clamped_low = !(x >= -104.0f) ? -104.0f : x;  // NaN clamps too; it is restored at the end
  const float v = clamped_low > 89.0f ? 89.0f : clamped_low;
  constexpr float kRoundMagic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer (ties to even)
  const float n = (v * 1.44269504088896341f + kRoundMagic) - kRoundMagic;
  const float r = (v - n * 0.693359375f) + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float e = p * (r * r) + r + 1.0f;
  const int32_t ni = int32_t(n);
  const int32_t half = ni >> 1;
  const float scale_a = std::bit_cast<float>((half + 127) << 23);
  const float scale_b = std::bit_cast<float>((ni - half + 127) << 23);
  const float y = e * scale_a * scale_b;
  return x != x ? x : y;
}

// tanh: an odd polynomial (Cephes) for |x| < 0.625, where 1 - 2 / (exp(2|x|) + 1) would cancel; that form beyond.
INFERA_CPU_INLINE float tanh_approx(float x) {
  const float ax = x < 0 ? -x : x;
  const float z = x * x;
  float p = -5.70498872745e-3f;
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  const float small = p * z * x + x;
  const float large_abs = 1.0f - 2.0f / (exp_approx(2.0f * ax) + 1.0f);
  const float large = x < 0 ? -large_abs : large_abs;
  return ax < 0.625f ? small : large;  // NaN: the comparison fails and `large` carries the NaN
}

// erf: Cephes' odd polynomial for |x| < 1 (relative accuracy near 0); Abramowitz & Stegun 7.1.26 beyond, whose
// absolute error of 1.5e-7 is a relative one there since erf(1) = 0.84.
INFERA_CPU_INLINE float erf_approx(float x) {
  const float ax = x < 0 ? -x : x;
  const float z = x * x;
  float p = 7.853861353153693e-5f;
  p = p * z - 8.010193625184903e-4f;
  p = p * z + 5.188327685732524e-3f;
  p = p * z - 2.685381193529856e-2f;
  p = p * z + 1.128358514861418e-1f;
  p = p * z - 3.761262582423300e-1f;
  p = p * z + 1.128379165726710e+0f;
  const float small = x * p;
  const float t = 1.0f / (1.0f + 0.3275911f * ax);
  float q = 1.061405429f;
  q = q * t - 1.453152027f;
  q = q * t + 1.421413741f;
  q = q * t - 0.284496736f;
  q = q * t + 0.254829592f;
  const float large_abs = 1.0f - q * t * exp_approx(-z);
  const float large = x < 0 ? -large_abs : large_abs;
  return ax < 1.0f ? small : large;
}

// Raising to lo before lowering to hi gives hi when the bounds cross (ONNX Clip); NaN passes through.
INFERA_CPU_INLINE float clamp_nan_passing(float x, float lo, float hi) {
  const float raised = x < lo ? lo : x;
  return raised > hi ? hi : raised;
}

// 1 / (1 + e^-x) for x >= 0, e^x / (1 + e^x) below: exp never overflows and tiny results keep their precision.
INFERA_CPU_INLINE float sigmoid_approx(float x) {
  const float e = exp_approx(x < 0 ? x : -x);
  const float r = 1.0f / (1.0f + e);
  return x >= 0 ? r : e * r;
}

// Gelu(x) = x/2 (1 + erf(x / sqrt 2)), the ONNX default; approximate = "tanh" is x/2 (1 + tanh(u)) = x sigmoid(2u)
// with u = sqrt(2/pi) (x + 0.044715 x^3), the sigmoid form avoiding the cancellation of 1 + tanh for negative x.
INFERA_CPU_INLINE float gelu_erf(float x) { return 0.5f * x * (1.0f + erf_approx(x * 0.70710678118654752f)); }
INFERA_CPU_INLINE float gelu_tanh(float x) {
  const float u = 0.79788456080286535588f * (x + 0.044715f * x * x * x);
  return x * sigmoid_approx(2.0f * u);
}

}  // namespace infera::cpu
