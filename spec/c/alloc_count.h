/*
** alloc_count.h — for C tests that prove code allocates nothing: malloc and its
** relatives are replaced in the test binary (forwarding to glibc's own) and counted,
** on every thread (OpenMP workers too), while `counting` is set. Include it in one
** file of a test binary.
*/
#ifndef EMBER_ALLOC_COUNT_H
#define EMBER_ALLOC_COUNT_H

#include <stddef.h>

static volatile int counting;
static volatile long nallocs, nfrees;

#if defined(__SANITIZE_ADDRESS__)
/* AddressSanitizer owns malloc: nothing can be counted here. The checks still run
** (values, memory safety); the counts are reported as not taken. */
#define ALLOC_COUNTING 0
#else
#define ALLOC_COUNTING 1
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static void count(volatile long *n) {
  if (counting) __atomic_add_fetch(n, 1, __ATOMIC_RELAXED);
}

void *malloc(size_t n) { count(&nallocs); return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { count(&nallocs); return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { count(&nallocs); return __libc_realloc(p, n); }
void free(void *p) { if (p) count(&nfrees); __libc_free(p); }
void *aligned_alloc(size_t a, size_t n) { count(&nallocs); return __libc_memalign(a, n); }
void *memalign(size_t a, size_t n) { count(&nallocs); return __libc_memalign(a, n); }
int posix_memalign(void **p, size_t a, size_t n) {
  count(&nallocs);
  *p = __libc_memalign(a, n);
  return *p ? 0 : 12;
}
#endif

/* n heap calls are none (or were not counted); the note says which, for the TAP line */
static int no_allocs(long n) { return !ALLOC_COUNTING || n == 0; }
#define ALLOC_NOTE (ALLOC_COUNTING ? "" : " [heap calls not counted under AddressSanitizer]")

#endif
