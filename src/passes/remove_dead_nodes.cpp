// Dead-code removal: nodes none of whose outputs is read (by a node, a subgraph or as a graph output), repeated
// until nothing changes; then initializers nothing reads any more (e.g. weights replaced by folded ones) are dropped.
// Counts the nodes removed.
#include "passes/passes.h"

namespace infera {

int remove_dead_nodes(PassContext& ctx) {
  int count = 0;
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t i = ctx.size(); i-- > 0;) {
      if (ctx.removed(i)) continue;
      bool used = false;
      for (const std::string& o : ctx.node(i).outputs)
        used = used || (!o.empty() && (ctx.is_graph_output(o) || !ctx.consumers(o).empty()));
      if (used) continue;
      ctx.remove(i);
      changed = true;
      ++count;
    }
  }
  auto& inits = ctx.graph().initializers;
  for (auto it = inits.begin(); it != inits.end();) {
    if (ctx.consumers(it->first).empty() && !ctx.is_graph_output(it->first)) {
      it = inits.erase(it);
    } else {
      ++it;
    }
  }
  return count;
}

}  // namespace infera
