/*
** ember_run.c — ember-run: runs a program file from the shell, with the runtime alone
** (libember_rt; no Lua). Inputs come from a safetensors file, outputs go to one.
**
**   ember-run PROGRAM INPUTS.safetensors [-o OUTPUTS.safetensors] [--device cpu|vulkan]
**             [--threads T] [--bench N] [--warmup K] [--profile] [--info]
**
** Each input is the file's tensor of the input's name, else the tensor "input<k>" (k its
** 1-based position). Its dtype must be the input's and its dims the input's, except
** dynamic dims, which take the file's sizes (within their bounds). Index values are
** 0-based in both files, as everywhere in C. Tensors of the file no input names are
** left alone (a file may carry the expected labels beside the images).
**
** It lives in host/ beside main.c, not in scripts/: it is a program ember ships and
** installs, built from the public headers (ember_rt.h, and ember.h for the safetensors
** reader and writer of host/io) as any user of the runtime would build it.
**
** Exit status: 0, or 1 with the runtime's message on stderr; 2 for a bad command line.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ember.h"
#include "ember_rt.h"

static const char usage_text[] =
  "usage: ember-run PROGRAM [INPUTS.safetensors] [-o OUTPUTS.safetensors] [options]\n"
  "  -o FILE           write the outputs, by the program's output names, to FILE\n"
  "                    (without -o: print each output's shape and first values)\n"
  "  --device D        cpu (default) or vulkan\n"
  "  --threads T       kernel threads (default: the OpenMP default)\n"
  "  --bench N         run N times and print the latency's percentiles\n"
  "  --warmup K        runs before the timed ones (default 3 with --bench or --profile)\n"
  "  --profile         print the time per node, most first\n"
  "  --info            print the inputs, outputs, arena and weights\n"
  "Index values are 0-based in both files. Exit status 1 on an error, 2 on a bad command line.\n";

typedef struct options {
  const char *program, *inputs, *outputs;
  ember_rt_options rt;
  long bench, warmup;
  int profile, info;
} options;

static int fail(const char *what) {
  fprintf(stderr, "ember-run: %s\n", what);
  return 1;
}

static int usage(const char *fmt, const char *arg) {
  fputs("ember-run: ", stderr);
  fprintf(stderr, fmt, arg);
  fputs("\n", stderr);
  fputs(usage_text, stderr);
  return 2;
}

/* A count from the command line: digits only, in [lo, 1e9]. */
static int parse_count(const char *s, long lo, long *out) {
  char *end;
  if (s == NULL || *s < '0' || *s > '9') return 0;
  long v = strtol(s, &end, 10);
  if (*end != '\0' || v < lo || v > 1000000000L) return 0;
  *out = v;
  return 1;
}

/* Fills o from argv; returns 0, or the exit status of a bad command line. */
static int parse_args(int argc, char **argv, options *o) {
  memset(o, 0, sizeof *o);
  o->warmup = -1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *val = i + 1 < argc ? argv[i + 1] : NULL;
    long n, threads;
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      fputs(usage_text, stdout);
      exit(0);
    } else if (strcmp(a, "-o") == 0) {
      if (val == NULL) return usage("%s needs a file name", a);
      o->outputs = argv[++i];
    } else if (strcmp(a, "--device") == 0) {
      if (val && strcmp(val, "cpu") == 0) o->rt.device = EMBER_RT_CPU;
      else if (val && strcmp(val, "vulkan") == 0) o->rt.device = EMBER_RT_VULKAN;
      else return usage("--device must be cpu or vulkan, got \"%s\"", val ? val : "");
      i++;
    } else if (strcmp(a, "--threads") == 0) {
      if (!parse_count(val, 1, &threads)) return usage("--threads needs a count >= 1, got \"%s\"", val ? val : "");
      o->rt.threads = (int)threads;
      i++;
    } else if (strcmp(a, "--bench") == 0) {
      if (!parse_count(val, 1, &n)) return usage("--bench needs a count >= 1, got \"%s\"", val ? val : "");
      o->bench = n;
      i++;
    } else if (strcmp(a, "--warmup") == 0) {
      if (!parse_count(val, 0, &n)) return usage("--warmup needs a count >= 0, got \"%s\"", val ? val : "");
      o->warmup = n;
      i++;
    } else if (strcmp(a, "--profile") == 0) {
      o->profile = 1;
    } else if (strcmp(a, "--info") == 0) {
      o->info = 1;
    } else if (a[0] == '-' && a[1] != '\0') {
      return usage("unknown option %s", a);
    } else if (o->program == NULL) {
      o->program = a;
    } else if (o->inputs == NULL) {
      o->inputs = a;
    } else {
      return usage("one program and one inputs file; \"%s\" is a third", a);
    }
  }
  if (o->program == NULL) return usage("no program file given%s", "");
  if (o->inputs == NULL && !o->info) return usage("no inputs file given (or --info alone)%s", "");
  if (o->inputs == NULL && (o->outputs || o->bench || o->profile))
    return usage("-o, --bench and --profile need an inputs file%s", "");
  if (o->warmup < 0) o->warmup = (o->bench || o->profile) ? 3 : 0;
  return 0;
}

/* "batch<=64x64": a shape with each dynamic dim's name and bound, or the sizes given. */
static const char *shape_text(const ember_rt_tensor_info *t, int bounds, char *buf, size_t n) {
  size_t k = 0;
  buf[0] = '\0';
  if (t->ndim == 0) snprintf(buf, n, "scalar");
  for (int d = 0; d < t->ndim && k < n; d++) {
    const char *sep = d ? "x" : "";
    if (bounds && t->dim_names[d])
      k += (size_t)snprintf(buf + k, n - k, "%s%s<=%lld", sep, t->dim_names[d], (long long)t->max_shape[d]);
    else
      k += (size_t)snprintf(buf + k, n - k, "%s%lld", sep, (long long)(bounds ? t->max_shape[d] : t->shape[d]));
  }
  return buf;
}

static void print_info(ember_rt_program *p, const options *o) {
  char buf[256];
  ember_rt_tensor_info t;
  printf("program  %s (%s, %d nodes)\n", o->program, o->rt.device == EMBER_RT_VULKAN ? "vulkan" : "cpu",
         ember_rt_node_count(p));
  for (int i = 0; i < ember_rt_input_count(p); i++) {
    ember_rt_input_info(p, i, &t);
    printf("input    %d  %-16s %s[%s]%s\n", i, t.name, t.dtype, shape_text(&t, 1, buf, sizeof buf),
           t.is_index ? "  index (0-based)" : "");
  }
  for (int i = 0; i < ember_rt_output_count(p); i++) {
    ember_rt_output_info(p, i, &t);
    printf("output   %d  %-16s %s[%s]%s\n", i, t.name, t.dtype, shape_text(&t, 1, buf, sizeof buf),
           t.is_index ? "  index (0-based)" : "");
  }
  printf("arena    %zu bytes (intermediates and kernel scratch)\n", ember_rt_arena_size(p));
  printf("weights  %zu bytes\n", ember_rt_weights_size(p));
}

/* {====== inputs */

/* The names the file holds, for an error that says what was there instead. */
static void list_names(const ember_safetensors *f, char *buf, size_t n) {
  size_t k = 0;
  buf[0] = '\0';
  for (int i = 0; i < ember_st_count(f) && k + 1 < n; i++)
    k += (size_t)snprintf(buf + k, n - k, "%s\"%s\"", i ? ", " : "", ember_st_info_at(f, i)->name);
  if (k == 0) snprintf(buf, n, "no tensors");
}

/* Reads, checks and sets every input of p from f; ins[i] keeps each file tensor (a view
** onto the mapped file). */
static int read_inputs(ember_rt_program *p, ember_safetensors *f, const char *path, ember_tensor **ins) {
  char msg[1024], have[512], a[128], b[128];
  for (int i = 0; i < ember_rt_input_count(p); i++) {
    ember_rt_tensor_info t;
    char alt[32];
    ember_rt_input_info(p, i, &t);
    snprintf(alt, sizeof alt, "input%d", i + 1);
    const ember_st_info *s = ember_st_find(f, t.name);
    if (s == NULL) s = ember_st_find(f, alt);
    if (s == NULL) {
      list_names(f, have, sizeof have);
      snprintf(msg, sizeof msg, "%s has no tensor \"%s\" (nor \"%s\") for input %d; it holds %s", path, t.name, alt,
               i, have);
      return fail(msg);
    }
    const char *dt = ember_dtype_name(s->dtype);
    if (strcmp(dt, t.dtype) != 0) {
      snprintf(msg, sizeof msg, "%s: tensor \"%s\" is %s; input %d (%s) takes %s", path, s->name, dt, i, t.name,
               t.dtype);
      return fail(msg);
    }
    int fixed_ok = s->ndim == t.ndim;
    for (int d = 0; d < t.ndim && fixed_ok; d++)
      fixed_ok = t.dim_names[d] != NULL || s->shape[d] == t.max_shape[d];
    if (!fixed_ok) {
      ember_rt_tensor_info got = t;
      got.ndim = s->ndim;
      got.shape = s->shape;
      snprintf(msg, sizeof msg, "%s: tensor \"%s\" is [%s]; input %d (%s) takes [%s]", path, s->name,
               shape_text(&got, 0, a, sizeof a), i, t.name, shape_text(&t, 1, b, sizeof b));
      return fail(msg);
    }
    if (ember_rt_set_input_shape(p, i, s->ndim, s->shape) != EMBER_RT_OK) return fail(ember_rt_last_error());
    if ((ins[i] = ember_st_get(f, s->name)) == NULL) return fail(ember_last_error());
    if (ember_rt_set_input(p, i, ember_tensor_data(ins[i]), ember_tensor_nbytes(ins[i])) != EMBER_RT_OK)
      return fail(ember_rt_last_error());
  }
  return 0;
}

/* The inputs again, as each timed run copies them in. */
static int set_inputs(ember_rt_program *p, ember_tensor *const *ins) {
  for (int i = 0; i < ember_rt_input_count(p); i++)
    if (ember_rt_set_input(p, i, ember_tensor_data(ins[i]), ember_tensor_nbytes(ins[i])) != EMBER_RT_OK)
      return 1;
  return 0;
}

/* }====== */

/* {====== outputs */

static int write_outputs(ember_rt_program *p, const char *path) {
  int n = ember_rt_output_count(p);
  const char **names = calloc((size_t)n + 1, sizeof *names);
  ember_tensor **ts = calloc((size_t)n + 1, sizeof *ts);
  int rc = 0;
  if (names == NULL || ts == NULL) { rc = fail("out of memory"); goto done; }
  for (int i = 0; i < n; i++) {
    ember_rt_tensor_info t;
    ember_rt_output_info(p, i, &t);
    names[i] = t.name;
    /* the runtime's bytes, as they are: written out without a copy */
    ts[i] = ember_tensor_from_data((void *)ember_rt_output_data(p, i), ember_dtype_from_name(t.dtype), t.ndim,
                                   t.shape, NULL, NULL, NULL);
    if (ts[i] == NULL) { rc = fail(ember_last_error()); goto done; }
  }
  if (ember_st_save(path, n, names, ts, 0, NULL, NULL) != EMBER_OK) rc = fail(ember_last_error());
done:
  for (int i = 0; ts && i < n; i++) ember_tensor_release(ts[i]);
  free(ts);
  free(names);
  return rc;
}

/* Without -o: each output's shape and its first values. */
static void print_outputs(ember_rt_program *p) {
  char buf[128];
  for (int i = 0; i < ember_rt_output_count(p); i++) {
    ember_rt_tensor_info t;
    ember_rt_output_info(p, i, &t);
    ember_tensor *x = ember_tensor_from_data((void *)ember_rt_output_data(p, i), ember_dtype_from_name(t.dtype),
                                             t.ndim, t.shape, NULL, NULL, NULL);
    printf("%s: %s[%s]", t.name, t.dtype, shape_text(&t, 0, buf, sizeof buf));
    int64_t n = x ? ember_tensor_numel(x) : 0;
    for (int64_t k = 0; k < n && k < 8; k++) printf(" %.6g", ember_tensor_get(x, k));
    printf("%s\n", n > 8 ? " ..." : "");
    if (x) ember_tensor_release(x);
  }
}

/* }====== */

/* {====== timing */

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The nearest-rank percentile q (0..100) of n sorted samples. */
static double percentile(const double *s, long n, double q) {
  long k = (long)ceil(q / 100.0 * (double)n) - 1;
  return s[k < 0 ? 0 : k >= n ? n - 1 : k];
}

/* One run as a caller makes it: inputs copied in, execute. */
static int run_once(ember_rt_program *p, ember_tensor *const *ins) {
  if (set_inputs(p, ins) || ember_rt_execute(p) != EMBER_RT_OK) return fail(ember_rt_last_error());
  return 0;
}

static int bench(ember_rt_program *p, ember_tensor *const *ins, long n) {
  double *t = malloc((size_t)n * sizeof *t);
  if (t == NULL) return fail("out of memory for the timings");
  for (long i = 0; i < n; i++) {
    double t0 = now();
    if (run_once(p, ins)) { free(t); return 1; }
    t[i] = now() - t0;
  }
  double sum = 0;
  for (long i = 0; i < n; i++) sum += t[i];
  qsort(t, (size_t)n, sizeof *t, by_value);
  printf("latency over %ld runs (inputs in + execute): p50 %.3f us  p90 %.3f us  p99 %.3f us  min %.3f us  "
         "mean %.3f us\n", n, 1e6 * percentile(t, n, 50), 1e6 * percentile(t, n, 90), 1e6 * percentile(t, n, 99),
         1e6 * t[0], 1e6 * sum / (double)n);
  free(t);
  return 0;
}

typedef struct node_time { int node; const char *op; double seconds; int64_t calls; } node_time;

static int by_time(const void *a, const void *b) {
  const node_time *x = a, *y = b;
  return (x->seconds < y->seconds) - (x->seconds > y->seconds);
}

/* n runs with every node timed; the nodes by time, most first. */
static int profile(ember_rt_program *p, ember_tensor *const *ins, long n) {
  int nodes = ember_rt_node_count(p);
  node_time *nt = calloc((size_t)nodes + 1, sizeof *nt);
  if (nt == NULL) return fail("out of memory for the profile");
  ember_rt_set_profiling(p, 1);
  for (long i = 0; i < n; i++)
    if (run_once(p, ins)) { free(nt); return 1; }
  ember_rt_set_profiling(p, 0);
  double total = 0;
  for (int i = 0; i < nodes; i++) {
    nt[i].node = i;
    ember_rt_profile(p, i, &nt[i].op, &nt[i].seconds, &nt[i].calls);
    total += nt[i].seconds;
  }
  qsort(nt, (size_t)nodes, sizeof *nt, by_time);
  printf("profile over %ld runs: %.3f us per run in %d nodes\n", n, 1e6 * total / (double)n, nodes);
  printf("  %5s  %-20s %8s %11s %7s\n", "node", "op", "calls", "total ms", "share");
  for (int i = 0; i < nodes; i++)
    printf("  %5d  %-20s %8lld %11.3f %6.1f%%\n", nt[i].node, nt[i].op, (long long)nt[i].calls,
           1e3 * nt[i].seconds, total > 0 ? 100.0 * nt[i].seconds / total : 0.0);
  free(nt);
  return 0;
}

/* }====== */

int main(int argc, char **argv) {
  options o;
  int rc = parse_args(argc, argv, &o);
  if (rc) return rc;
  ember_rt_program *p = ember_rt_load(o.program, &o.rt);
  if (p == NULL) return fail(ember_rt_last_error());
  if (o.info) print_info(p, &o);
  ember_safetensors *f = NULL;
  ember_tensor **ins = NULL;
  if (o.inputs == NULL) goto done;
  if ((f = ember_st_open(o.inputs, EMBER_ST_MMAP)) == NULL) { rc = fail(ember_last_error()); goto done; }
  if ((ins = calloc((size_t)ember_rt_input_count(p) + 1, sizeof *ins)) == NULL) { rc = fail("out of memory"); goto done; }
  if ((rc = read_inputs(p, f, o.inputs, ins))) goto done;
  for (long i = 0; i < o.warmup; i++)
    if ((rc = run_once(p, ins))) goto done;
  if (o.bench && (rc = bench(p, ins, o.bench))) goto done;
  if (o.profile && (rc = profile(p, ins, o.bench ? o.bench : 100))) goto done;
  if ((rc = run_once(p, ins))) goto done;   /* the outputs come from a run of their own */
  rc = o.outputs ? write_outputs(p, o.outputs) : (print_outputs(p), 0);
done:
  for (int i = 0; ins && i < ember_rt_input_count(p); i++)
    if (ins[i]) ember_tensor_release(ins[i]);
  free(ins);
  if (f) ember_st_close(f);
  ember_rt_free(p);
  return rc;
}
