#include "backends/backends.h"

#include "backends/cpu/cpu_backend.h"
#include "backends/dnnl/dnnl_common.h"
#include "backends/reference/reference_backend.h"

namespace infera {

std::vector<const Backend*> cpu_backends(bool fast) {
  if (!fast) return {&reference_backend()};
  return {&dnnl_backend::backend(), &cpu_backend(), &reference_backend()};
}

}  // namespace infera
