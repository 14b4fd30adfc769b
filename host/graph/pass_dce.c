/*
** pass_dce.c — dead code elimination: a node none of whose outputs is read, by
** another node or as a graph output, is removed.
**
** One walk from the last node back suffices: a node's readers all come after it, so
** by the time the walk reaches it, every reader that was itself dead is gone and its
** reads are no longer counted. Nodes in a graph are pure (an in-place op writes a new
** value of its own), so nothing is kept for a side effect.
*/
#include <stdlib.h>

#include "graph.h"

int ember_pass_dce(ember_graph *g) {
  int *uses = ember_graph_use_counts(g);
  if (uses == NULL) {
    ember_error("export: out of memory");
    return -1;
  }

  int removed = 0;
  for (int i = g->nnodes - 1; i >= 0; i--) {
    ember_gnode *n = &g->nodes[i];
    if (n->op == NULL) continue;
    int read = 0;
    for (int k = 0; k < n->nout; k++) read += uses[n->out[k]];
    if (read) continue;
    for (int j = 0; j < n->nin; j++) if (n->in[j] >= 0) uses[n->in[j]]--;
    ember_graph_kill_node(g, i);
    removed++;
  }
  free(uses);
  if (removed) ember_graph_compact(g);
  return removed;
}
