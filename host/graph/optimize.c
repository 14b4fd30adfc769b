/*
** optimize.c — the default pass pipeline: dce, fold, cse, fold_bn, fuse, dce.
**
** The order matters: dce first so that fold does not run what nothing reads; fold
** before cse so that equal constants computed twice meet as equal inputs; cse before
** fold_bn and fuse so that a shared value is seen as shared (a conv output read by
** two batch_norms is read twice, and neither folds); fold_bn before fuse, since a
** conv2d followed by batch_norm and relu must lose the batch_norm before the relu can
** become its epilogue; dce last for what the others left unread. The graph is
** validated after every pass, so a pass that breaks it is named at once.
*/
#include <string.h>

#include "graph.h"

typedef struct pass { const char *name; int (*run)(ember_graph *g); } pass;

static const pass pipeline[] = {
  {"dce", ember_pass_dce}, {"fold", ember_pass_fold}, {"cse", ember_pass_cse},
  {"fold_bn", ember_pass_fold_bn}, {"fuse", ember_pass_fuse}, {"dce", ember_pass_dce},
  {NULL, NULL},
};

/* Whether disable, a comma list like "fuse,cse", names the pass. */
static int listed(const char *disable, const char *name) {
  size_t len = strlen(name);
  for (const char *p = disable; p && *p;) {
    const char *end = strchr(p, ',');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    if (n == len && strncmp(p, name, len) == 0) return 1;
    p = end ? end + 1 : NULL;
  }
  return 0;
}

static ember_status check_names(const char *disable) {
  for (const char *p = disable; p && *p;) {
    const char *end = strchr(p, ',');
    int n = end ? (int)(end - p) : (int)strlen(p);
    int known = 0;
    for (int k = 0; pipeline[k].name && !known; k++)
      known = (int)strlen(pipeline[k].name) == n && strncmp(p, pipeline[k].name, (size_t)n) == 0;
    if (!known && n > 0)
      return ember_error("export: no pass named \"%.*s\" (the passes are dce, fold, cse, "
                         "fold_bn, fuse)", n, p);
    p = end ? end + 1 : NULL;
  }
  return EMBER_OK;
}

ember_status ember_graph_optimize(ember_graph *g, const char *disable) {
  if (check_names(disable) != EMBER_OK) return EMBER_ERROR;
  if (ember_graph_validate(g) != EMBER_OK) return EMBER_ERROR;
  for (int k = 0; pipeline[k].name; k++) {
    if (listed(disable, pipeline[k].name)) continue;
    if (pipeline[k].run(g) < 0) return EMBER_ERROR;
    if (ember_graph_validate(g) != EMBER_OK) {
      char msg[512];
      strncpy(msg, ember_last_error(), sizeof msg - 1);
      msg[sizeof msg - 1] = 0;
      return ember_error("export: the %s pass left a broken graph: %s", pipeline[k].name, msg);
    }
  }
  return EMBER_OK;
}
