// libFuzzer target over the model loader: bytes -> Session::load_from_memory (protobuf parsing, import checks,
// planning) -> summary() (static analysis, which runs shape rules and folds constant sub-graphs with the
// kernels). Every rejection must be an infera::Error; anything else (a crash, a sanitizer report, another
// exception, a leak, a timeout, more than -rss_limit_mb) is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "infera/infera.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Keep single allocations well below -rss_limit_mb, so that a model asking for a huge tensor is refused by
  // infera's own limit (an infera::Error) rather than reported as an out-of-memory finding.
  setenv("INFERA_MAX_TENSOR_BYTES", "268435456", 0);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    infera::Session s = infera::Session::load_from_memory(data, size, {}, "fuzz.onnx");
    (void)s.summary();
  } catch (const infera::Error&) {
    // a clean, located rejection: the expected outcome for almost every input
  }
  return 0;
}
