/*
** view.c — views: new tensor headers over the same storage. No data moves here
** (but in reshape of a tensor whose strides cannot express the new shape, which
** copies, as PyTorch's reshape does).
**
** Each view is computed first as a layout (ember_layout: dims, strides, offset), with
** no allocation; the public makers (ember_view, ember_narrow, ...) wrap a layout in a
** new header. The runtime fills headers it owns from the layouts instead (ops_view.c).
*/
#include <stdio.h>
#include <string.h>

#include "core.h"

static ember_status bad_dim(const char *op, int dim, const ember_tensor *t) {
  char s[128];
  return ember_error("%s: dim %d out of range for a tensor of shape %s", op, dim,
                     ember_shape_str(t, s, sizeof s));
}

ember_tensor *ember_layout_view(ember_tensor *t, const ember_layout *l) {
  return ember_tensor_view_of(t, l->ndim, l->shape, l->stride, l->offset);
}

static void layout_of(ember_layout *l, int ndim, const int64_t *shape, const int64_t *stride,
                      int64_t offset) {
  l->ndim = ndim;
  if (ndim) {
    memcpy(l->shape, shape, ndim * sizeof *shape);
    memcpy(l->stride, stride, ndim * sizeof *stride);
  }
  l->offset = offset;
  l->copy = 0;
}

/* Resolve a -1 and check the element count. */
static int infer_shape(const char *op, const ember_tensor *t, int ndim, const int64_t *shape,
                       int64_t *out) {
  int64_t known = 1;
  int infer = -1;
  if (ndim > EMBER_MAX_DIMS) {
    ember_error("%s: %d dims (at most %d)", op, ndim, EMBER_MAX_DIMS);
    return -1;
  }
  for (int i = 0; i < ndim; i++) {
    if (shape[i] == -1) {
      if (infer >= 0) {
        ember_error("%s: only one dimension can be -1", op);
        return -1;
      }
      infer = i;
    } else if (shape[i] < 0) {
      ember_error("%s: invalid size %lld", op, (long long)shape[i]);
      return -1;
    } else {
      known *= shape[i];
    }
    out[i] = shape[i];
  }
  int64_t n = ember_tensor_numel(t);
  if (infer >= 0) {
    if (known == 0 || n % known != 0) goto mismatch;
    out[infer] = n / known;
  } else if (known != n) {
    goto mismatch;
  }
  return 0;
mismatch: {
    char a[128], b[128];
    ember_error("%s: shape %s is invalid for a tensor of %lld elements (shape %s)", op,
                ember_shape_text(ndim, shape, a, sizeof a), (long long)n,
                ember_shape_str(t, b, sizeof b));
    return -1;
  }
}

/* Strides for viewing t as `shape` without a copy, if they exist (PyTorch's
** computeStride: each run of merged old dims must map onto a run of new dims). */
static int view_strides(const ember_tensor *t, int ndim, const int64_t *shape, int64_t *stride) {
  int64_t numel = ember_tensor_numel(t);
  if (numel == 0 || t->ndim == 0) {
    ember_contiguous_strides(ndim, shape, stride);
    return 1;
  }
  int view_d = ndim - 1;
  int64_t chunk_base = t->stride[t->ndim - 1];
  int64_t tensor_numel = 1, view_numel = 1;
  for (int d = t->ndim - 1; d >= 0; d--) {
    tensor_numel *= t->shape[d];
    if (d == 0 || (t->shape[d - 1] != 1 && t->stride[d - 1] != tensor_numel * chunk_base)) {
      while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
        stride[view_d] = view_numel * chunk_base;
        view_numel *= shape[view_d];
        view_d--;
      }
      if (view_numel != tensor_numel) return 0;
      if (d > 0) {
        chunk_base = t->stride[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  return view_d == -1;
}


/* {====== layouts */

ember_status ember_view_layout(const ember_tensor *t, int ndim, const int64_t *shape, ember_layout *l) {
  int64_t sh[EMBER_MAX_DIMS], st[EMBER_MAX_DIMS];
  if (infer_shape("view", t, ndim, shape, sh) < 0) return EMBER_ERROR;
  if (!view_strides(t, ndim, sh, st)) {
    char a[128];
    return ember_error("view: a tensor of shape %s with these strides cannot be viewed as %s; "
                       "use reshape (or :contiguous() first)", ember_shape_str(t, a, sizeof a),
                       "the requested shape");
  }
  layout_of(l, ndim, sh, st, t->offset);
  return EMBER_OK;
}

/* l->copy set: the strides cannot express the shape; l holds a contiguous copy's. */
ember_status ember_reshape_layout(const ember_tensor *t, int ndim, const int64_t *shape, ember_layout *l) {
  int64_t sh[EMBER_MAX_DIMS], st[EMBER_MAX_DIMS];
  if (infer_shape("reshape", t, ndim, shape, sh) < 0) return EMBER_ERROR;
  if (view_strides(t, ndim, sh, st)) {
    layout_of(l, ndim, sh, st, t->offset);
    return EMBER_OK;
  }
  ember_contiguous_strides(ndim, sh, st);
  layout_of(l, ndim, sh, st, 0);
  l->copy = 1;
  return EMBER_OK;
}

ember_status ember_narrow_layout(const ember_tensor *t, int dim, int64_t start, int64_t length,
                                 ember_layout *l) {
  int d = ember_norm_dim(dim, t->ndim);
  if (d < 0 || t->ndim == 0) return bad_dim("narrow", dim, t);
  int64_t n = t->shape[d];
  if (start < 0) start += n;
  if (start < 0 || length < 0 || start + length > n)
    return ember_error("narrow: start %lld and length %lld out of range for dim %d of size %lld",
                       (long long)start, (long long)length, dim, (long long)n);
  layout_of(l, t->ndim, t->shape, t->stride, t->offset + start * t->stride[d]);
  l->shape[d] = length;
  return EMBER_OK;
}

ember_status ember_select_layout(const ember_tensor *t, int dim, int64_t index, ember_layout *l) {
  int d = ember_norm_dim(dim, t->ndim);
  if (d < 0 || t->ndim == 0) return bad_dim("select", dim, t);
  int64_t n = t->shape[d];
  if (index < -n || index >= n)
    return ember_error("select: index %lld out of range for dim %d of size %lld", (long long)index,
                       dim, (long long)n);
  if (index < 0) index += n;
  int k = 0;
  for (int i = 0; i < t->ndim; i++)
    if (i != d) { l->shape[k] = t->shape[i]; l->stride[k] = t->stride[i]; k++; }
  l->ndim = k;
  l->offset = t->offset + index * t->stride[d];
  l->copy = 0;
  return EMBER_OK;
}

ember_status ember_slice_layout(const ember_tensor *t, int dim, int64_t start, int64_t stop,
                                int64_t step, ember_layout *l) {
  int d = ember_norm_dim(dim, t->ndim);
  if (d < 0 || t->ndim == 0) return bad_dim("slice", dim, t);
  if (step <= 0) return ember_error("slice: step must be positive (got %lld)", (long long)step);
  int64_t n = t->shape[d];
  if (start < 0) start += n;
  if (stop < 0) stop += n;
  if (start < 0) start = 0;
  if (stop > n) stop = n;
  if (start > n) start = n;
  int64_t len = stop > start ? (stop - start + step - 1) / step : 0;
  layout_of(l, t->ndim, t->shape, t->stride, t->offset + (len ? start * t->stride[d] : 0));
  l->shape[d] = len;
  l->stride[d] = t->stride[d] * step;
  return EMBER_OK;
}

ember_status ember_transpose_layout(const ember_tensor *t, int d0, int d1, ember_layout *l) {
  int a = ember_norm_dim(d0, t->ndim), b = ember_norm_dim(d1, t->ndim);
  if (a < 0) return bad_dim("transpose", d0, t);
  if (b < 0) return bad_dim("transpose", d1, t);
  layout_of(l, t->ndim, t->shape, t->stride, t->offset);
  if (t->ndim) {
    l->shape[a] = t->shape[b]; l->shape[b] = t->shape[a];
    l->stride[a] = t->stride[b]; l->stride[b] = t->stride[a];
  }
  return EMBER_OK;
}

ember_status ember_permute_layout(const ember_tensor *t, int ndim, const int *dims, ember_layout *l) {
  if (ndim != t->ndim) {
    char s[128];
    return ember_error("permute: %d dims given for a tensor of shape %s (%d dims)", ndim,
                       ember_shape_str(t, s, sizeof s), t->ndim);
  }
  int seen[EMBER_MAX_DIMS] = {0};
  for (int i = 0; i < ndim; i++) {
    int d = ember_norm_dim(dims[i], ndim);
    if (d < 0) return bad_dim("permute", dims[i], t);
    if (seen[d]++) return ember_error("permute: dim %d repeated", dims[i]);
    l->shape[i] = t->shape[d];
    l->stride[i] = t->stride[d];
  }
  l->ndim = ndim;
  l->offset = t->offset;
  l->copy = 0;
  return EMBER_OK;
}

ember_status ember_expand_layout(const ember_tensor *t, int ndim, const int64_t *shape, ember_layout *l) {
  if (ndim < t->ndim || ndim > EMBER_MAX_DIMS) {
    char s[128];
    return ember_error("expand: cannot expand shape %s to %d dims", ember_shape_str(t, s, sizeof s), ndim);
  }
  for (int i = 0; i < ndim; i++) {
    int it = t->ndim - ndim + i;
    int64_t want = shape[i];
    if (it < 0) {
      if (want < 0) return ember_error("expand: -1 not allowed for a new leading dim %d", i);
      l->shape[i] = want; l->stride[i] = 0;
    } else {
      int64_t have = t->shape[it];
      if (want == -1) want = have;
      if (have == want) { l->shape[i] = have; l->stride[i] = t->stride[it]; }
      else if (have == 1) { l->shape[i] = want; l->stride[i] = 0; }
      else {
        char a[128], b[128];
        return ember_error("expand: shape %s cannot be expanded to %s (size %lld vs %lld in dim %d)",
                           ember_shape_str(t, a, sizeof a), ember_shape_text(ndim, shape, b, sizeof b),
                           (long long)have, (long long)want, i + 1);
      }
    }
  }
  l->ndim = ndim;
  l->offset = t->offset;
  l->copy = 0;
  return EMBER_OK;
}

ember_status ember_squeeze_layout(const ember_tensor *t, int dim, ember_layout *l) {
  int k = 0, d = -1;
  if (dim != EMBER_ALL_DIMS) {
    d = ember_norm_dim(dim, t->ndim);
    if (d < 0) return bad_dim("squeeze", dim, t);
  }
  for (int i = 0; i < t->ndim; i++) {
    int drop = t->shape[i] == 1 && (d < 0 || d == i);
    if (!drop) { l->shape[k] = t->shape[i]; l->stride[k] = t->stride[i]; k++; }
  }
  l->ndim = k;
  l->offset = t->offset;
  l->copy = 0;
  return EMBER_OK;
}

ember_status ember_unsqueeze_layout(const ember_tensor *t, int dim, ember_layout *l) {
  int d = ember_norm_dim(dim, t->ndim + 1);
  if (d < 0 || t->ndim >= EMBER_MAX_DIMS) return bad_dim("unsqueeze", dim, t);
  int k = 0;
  for (int i = 0; i <= t->ndim; i++) {
    if (i == d) {
      l->shape[k] = 1;
      l->stride[k] = i < t->ndim ? t->shape[i] * t->stride[i] : 1;
      k++;
    }
    if (i < t->ndim) { l->shape[k] = t->shape[i]; l->stride[k] = t->stride[i]; k++; }
  }
  l->ndim = k;
  l->offset = t->offset;
  l->copy = 0;
  return EMBER_OK;
}

/* A reshape's layout: l->copy set when the strides cannot express it. */
ember_status ember_flatten_layout(const ember_tensor *t, int start, int end, ember_layout *l) {
  if (t->ndim == 0) {
    int64_t one = 1;
    return ember_reshape_layout(t, 1, &one, l);
  }
  int s = ember_norm_dim(start, t->ndim), e = ember_norm_dim(end, t->ndim);
  if (s < 0) return bad_dim("flatten", start, t);
  if (e < 0) return bad_dim("flatten", end, t);
  if (s > e) return ember_error("flatten: start dim %d comes after end dim %d", start, end);
  int64_t sh[EMBER_MAX_DIMS];
  int k = 0;
  for (int i = 0; i < s; i++) sh[k++] = t->shape[i];
  int64_t m = 1;
  for (int i = s; i <= e; i++) m *= t->shape[i];
  sh[k++] = m;
  for (int i = e + 1; i < t->ndim; i++) sh[k++] = t->shape[i];
  return ember_reshape_layout(t, k, sh, l);
}

/* }====== */

/* {====== the makers: a layout in a new header */

ember_tensor *ember_view(ember_tensor *t, int ndim, const int64_t *shape) {
  ember_layout l;
  return ember_view_layout(t, ndim, shape, &l) == EMBER_OK ? ember_layout_view(t, &l) : NULL;
}

/* a layout that needs a copy: a contiguous clone, viewed with the new shape */
static ember_tensor *reshaped(ember_tensor *t, const ember_layout *l) {
  if (!l->copy) return ember_layout_view(t, l);
  ember_tensor *c = ember_clone(t);
  if (c == NULL) return NULL;
  ember_tensor *v = ember_view(c, l->ndim, l->shape);
  ember_tensor_release(c);
  return v;
}

ember_tensor *ember_reshape(ember_tensor *t, int ndim, const int64_t *shape) {
  ember_layout l;
  return ember_reshape_layout(t, ndim, shape, &l) == EMBER_OK ? reshaped(t, &l) : NULL;
}

ember_tensor *ember_narrow(ember_tensor *t, int dim, int64_t start, int64_t length) {
  ember_layout l;
  return ember_narrow_layout(t, dim, start, length, &l) == EMBER_OK ? ember_layout_view(t, &l) : NULL;
}

ember_tensor *ember_select(ember_tensor *t, int dim, int64_t index) {
  ember_layout l;
  return ember_select_layout(t, dim, index, &l) == EMBER_OK ? ember_layout_view(t, &l) : NULL;
}

ember_tensor *ember_slice(ember_tensor *t, int dim, int64_t start, int64_t stop, int64_t step) {
  ember_layout l;
  return ember_slice_layout(t, dim, start, stop, step, &l) == EMBER_OK ? ember_layout_view(t, &l) : NULL;
}

ember_tensor *ember_transpose(ember_tensor *t, int d0, int d1) {
  ember_layout l;
  return ember_transpose_layout(t, d0, d1, &l) == EMBER_OK ? ember_layout_view(t, &l) : NULL;
}

ember_tensor *ember_permute(ember_tensor *t, int ndim, const int *dims) {
  ember_layout l;
  return ember_permute_layout(t, ndim, dims, &l) == EMBER_OK ? ember_layout_view(t, &l) : NULL;
}

ember_tensor *ember_expand(ember_tensor *t, int ndim, const int64_t *shape) {
  ember_layout l;
  return ember_expand_layout(t, ndim, shape, &l) == EMBER_OK ? ember_layout_view(t, &l) : NULL;
}

ember_tensor *ember_squeeze(ember_tensor *t, int dim) {
  ember_layout l;
  return ember_squeeze_layout(t, dim, &l) == EMBER_OK ? ember_layout_view(t, &l) : NULL;
}

ember_tensor *ember_unsqueeze(ember_tensor *t, int dim) {
  ember_layout l;
  return ember_unsqueeze_layout(t, dim, &l) == EMBER_OK ? ember_layout_view(t, &l) : NULL;
}

ember_tensor *ember_flatten(ember_tensor *t, int start, int end) {
  ember_layout l;
  return ember_flatten_layout(t, start, end, &l) == EMBER_OK ? reshaped(t, &l) : NULL;
}

/* }====== */
