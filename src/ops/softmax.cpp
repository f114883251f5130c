#include "ops/helpers.h"

namespace infera {

void register_softmax_ops(OpTable& t) {}

}  // namespace infera
