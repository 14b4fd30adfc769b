/*
** error.c — the per-thread error message behind ember_last_error().
** host/ never prints and never aborts: a failing call writes its message here and
** returns EMBER_ERROR (or NULL); the caller decides what to do with it.
*/
#include <stdarg.h>
#include <stdio.h>

#include "ember.h"

static _Thread_local char last_error[1024];

const char *ember_last_error(void) {
  return last_error;
}

ember_status ember_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, ap);
  va_end(ap);
  return EMBER_ERROR;
}
