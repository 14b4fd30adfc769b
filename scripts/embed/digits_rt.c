/*
** digits_rt.c — the exported digits classifier run from C with the runtime alone
** (libember_rt: no Lua). Reads a few digit images and their labels from a safetensors
** file, runs them as one batch, prints each prediction beside its label and exits 1 if
** any differ.
**
**   digits_rt PROGRAM DIGITS.safetensors
**
** DIGITS holds "pixels" (N x 64, or N x 1 x 8 x 8 for the CNN; f32) and "labels" (N, i64,
** 0-based). The program's batch dim must be dynamic with a bound >= N. Its class is
** its output "class" (an argmax, 0-based as every index in C) when it has one, else
** the argmax of its first output's scores, computed here.
*/
#include <stdio.h>
#include <string.h>

#include "ember.h"
#include "ember_rt.h"

static int fail(const char *what) {
  fprintf(stderr, "digits_rt: %s\n", what);
  return 1;
}

/* Row r's highest score among n. */
static int64_t argmax_row(const float *scores, int64_t r, int64_t n) {
  int64_t best = 0;
  for (int64_t k = 1; k < n; k++)
    if (scores[r * n + k] > scores[r * n + best]) best = k;
  return best;
}

static int classify(ember_rt_program *p, ember_tensor *pixels, const ember_tensor *labels) {
  /* the batch is the file's: set the input's shape, then its bytes */
  if (ember_rt_set_input_shape(p, 0, pixels->ndim, pixels->shape) != EMBER_RT_OK ||
      ember_rt_set_input(p, 0, ember_tensor_data(pixels), ember_tensor_nbytes(pixels)) != EMBER_RT_OK ||
      ember_rt_execute(p) != EMBER_RT_OK)
    return fail(ember_rt_last_error());

  int cls = ember_rt_output_index(p, "class");
  ember_rt_tensor_info out;
  ember_rt_output_info(p, cls >= 0 ? cls : 0, &out);
  if (cls < 0 && (strcmp(out.dtype, "f32") != 0 || out.ndim != 2))
    return fail("the program has no output \"class\" and its first output is no f32 N x classes");

  const void *data = ember_rt_output_data(p, cls >= 0 ? cls : 0);
  const int64_t *label = ember_tensor_data(labels);
  int64_t n = labels->shape[0], wrong = 0;
  for (int64_t r = 0; r < n; r++) {
    int64_t c = cls >= 0 ? ((const int64_t *)data)[r] : argmax_row(data, r, out.shape[1]);
    printf("image %2lld: predicted %lld, label %lld%s\n", (long long)r, (long long)c, (long long)label[r],
           c == label[r] ? "" : "  WRONG");
    wrong += c != label[r];
  }
  printf("%lld of %lld as labelled\n", (long long)(n - wrong), (long long)n);
  return wrong ? 1 : 0;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: digits_rt PROGRAM DIGITS.safetensors\n");
    return 2;
  }
  ember_rt_program *p = ember_rt_load(argv[1], NULL);
  if (p == NULL) return fail(ember_rt_last_error());
  ember_safetensors *f = ember_st_open(argv[2], EMBER_ST_MMAP);
  ember_tensor *pixels = f ? ember_st_get(f, "pixels") : NULL;   /* views onto the file */
  ember_tensor *labels = pixels ? ember_st_get(f, "labels") : NULL;
  int rc;
  if (labels == NULL) rc = fail(ember_last_error());
  else if (pixels->dtype != EMBER_F32 || labels->dtype != EMBER_I64 || labels->ndim != 1 ||
           pixels->ndim < 1 || labels->shape[0] != pixels->shape[0])
    rc = fail("DIGITS needs f32 \"pixels\" (N x ...) and i64 \"labels\" (N)");
  else
    rc = classify(p, pixels, labels);
  if (labels) ember_tensor_release(labels);
  if (pixels) ember_tensor_release(pixels);
  if (f) ember_st_close(f);
  ember_rt_free(p);
  return rc;
}
