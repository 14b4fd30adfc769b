/*
** dist.c — the job: joining it, who we are in it, leaving it.
**
** Under an MPI launcher ember loads libember_mpi.so (the only code linked with libmpi)
** and joins through it; otherwise the world is this process alone and no thread or
** library is started. The shim is looked for next to the ember binary or module that
** holds this code, then at $EMBER_MPI_LIB, then in the install prefix.
*/
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dist.h"

dist_state dist_S = {
  .size = 1, .local_size = 1,
  .lock = PTHREAD_MUTEX_INITIALIZER, .mpi_lock = PTHREAD_MUTEX_INITIALIZER,
  .wake = PTHREAD_COND_INITIALIZER, .done = PTHREAD_COND_INITIALIZER,
  .watch = PTHREAD_COND_INITIALIZER,
};
#define S dist_S

static int mpi_finalized;      /* MPI allows one MPI_Init per process */

#ifndef EMBER_LIBDIR
#define EMBER_LIBDIR "/usr/local/lib"
#endif

double dist_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A launcher tells its ranks who they are through the environment. */
static int under_launcher(void) {
  static const char *const vars[] = { "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE",
                                      "MPI_LOCALNRANKS", "MPIR_CVAR_CH3_INTERFACE_HOSTNAME" };
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
    if (getenv(vars[i])) return 1;
  return 0;
}

/* dlopen the shim from dir/libember_mpi.so; NULL (reason in why) if it is not there. */
static void *open_in(const char *dir, char *why, size_t n) {
  char path[4096];
  snprintf(path, sizeof path, "%s/libember_mpi.so", dir);
  /* RTLD_GLOBAL: OpenMPI's plugins are libraries that need libmpi's symbols */
  void *h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
  if (h == NULL && why[0] == '\0') snprintf(why, n, "%s", dlerror());
  return h;
}

static const ember_mpi_api *load_shim(void) {
  char why[512] = "", dir[4096];
  void *h = NULL;
  const char *env = getenv("EMBER_MPI_LIB");
  if (env && *env) {
    h = dlopen(env, RTLD_NOW | RTLD_GLOBAL);
    if (h == NULL) {
      ember_error("dist.init: cannot load $EMBER_MPI_LIB (%s): %s", env, dlerror());
      return NULL;
    }
  }
  Dl_info info;
  if (h == NULL && dladdr((void *)load_shim, &info) && info.dli_fname) {
    snprintf(dir, sizeof dir, "%s", info.dli_fname);
    char *slash = strrchr(dir, '/');
    if (slash) {
      *slash = '\0';
      h = open_in(dir, why, sizeof why);
    }
  }
  if (h == NULL) h = open_in(EMBER_LIBDIR, why, sizeof why);
  if (h == NULL) {
    ember_error("dist.init: this process runs under an MPI launcher but libember_mpi.so "
                "cannot be loaded (%s); build it with make (it needs libopenmpi-dev) or "
                "set EMBER_MPI_LIB", why);
    return NULL;
  }
  ember_mpi_api_fn get = (ember_mpi_api_fn)(uintptr_t)dlsym(h, EMBER_MPI_API_SYMBOL);
  const ember_mpi_api *api = get ? get() : NULL;
  if (api == NULL || api->abi != EMBER_MPI_ABI) {
    ember_error("dist.init: libember_mpi.so is from another version of ember (rebuild it)");
    return NULL;
  }
  return api;
}

static double option_timeout(const ember_dist_options *o) {
  if (o && o->timeout > 0) return o->timeout;
  const char *e = getenv("EMBER_DIST_TIMEOUT");
  double t = e ? atof(e) : 0;
  return t > 0 ? t : 600;
}

static int option_check(const ember_dist_options *o) {
  if (o && o->check >= 0) return o->check != 0;
  const char *e = getenv("EMBER_DIST_CHECK");
  return !(e && strcmp(e, "0") == 0);
}

ember_status ember_dist_init(const ember_dist_options *opts) {
  if (S.initialized) return EMBER_OK;
  const char *want = opts && opts->backend ? opts->backend : (under_launcher() ? "mpi" : "local");
  if (strcmp(want, "mpi") != 0 && strcmp(want, "local") != 0)
    return ember_error("dist.init: unknown backend \"%s\" (\"mpi\" or \"local\")", want);
  S.timeout = option_timeout(opts);
  S.check = option_check(opts);
  if (strcmp(want, "local") == 0) {
    S.rank = S.local_rank = 0;
    S.size = S.local_size = 1;
    S.is_mpi = 0;
    S.initialized = 1;
    return EMBER_OK;
  }
  if (mpi_finalized)
    return ember_error("dist.init: this process has left its MPI job; MPI cannot be joined twice");
  const ember_mpi_api *api = load_shim();
  if (api == NULL) return EMBER_ERROR;
  int rank, size, lrank, lsize;
  int rc = api->init(&rank, &size, &lrank, &lsize);
  if (rc != 0) {
    char text[256];
    api->error_string(rc, text, sizeof text);
    return ember_error("dist.init: MPI could not start: %s", text);
  }
  S.mpi = api;
  S.rank = rank, S.size = size, S.local_rank = lrank, S.local_size = lsize;
  S.is_mpi = 1;
  if (dist_threads_start() != EMBER_OK) {
    api->finalize();
    S.mpi = NULL;
    S.is_mpi = 0;
    return EMBER_ERROR;
  }
  S.initialized = 1;
  return EMBER_OK;
}

int ember_dist_initialized(void) { return S.initialized; }

int ember_dist_set_check(int on) {
  int before = S.check;
  S.check = on != 0;
  return before;
}
int ember_dist_rank(void) { return S.rank; }
int ember_dist_world_size(void) { return S.size; }
int ember_dist_local_rank(void) { return S.local_rank; }
int ember_dist_local_size(void) { return S.local_size; }

const char *ember_dist_backend(void) {
  return !S.initialized ? "none" : S.is_mpi ? "mpi" : "local";
}

ember_status ember_dist_finalize(void) {
  if (!S.initialized) return EMBER_OK;
  int rc = 0;
  if (S.is_mpi) {
    dist_drain_all();
    pthread_mutex_lock(&S.lock);
    S.blocking = "finalize";              /* the watchdog watches MPI_Finalize too */
    memset(&S.blocking_call, 0, sizeof S.blocking_call);
    S.blocking_since = dist_now();
    pthread_mutex_unlock(&S.lock);
    pthread_mutex_lock(&S.mpi_lock);
    rc = S.mpi->finalize();
    pthread_mutex_unlock(&S.mpi_lock);
    dist_threads_stop();
    S.blocking = NULL;
    mpi_finalized = 1;
  }
  S.initialized = 0;
  S.is_mpi = 0;
  S.rank = S.local_rank = 0;
  S.size = S.local_size = 1;
  if (rc != 0) {
    char text[256];
    S.mpi->error_string(rc, text, sizeof text);
    return ember_error("dist.finalize: %s", text);
  }
  return EMBER_OK;
}

void ember_dist_abort(int code) {
  if (S.initialized && S.is_mpi) S.mpi->abort(code);
}
