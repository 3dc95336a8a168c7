/* pgarray.h: PostgreSQL array literals ("{...}") for int[] and text[] parameters. */
#ifndef JOBSYNC_PGARRAY_H
#define JOBSYNC_PGARRAY_H

#include <stddef.h>

/* Literal of n ints, e.g. "{1,2,3}". Returns a malloc'd string or NULL. */
char *pgarray_int(const int *v, size_t n);

/* Literal of n strings, each quoted and escaped; a NULL entry is SQL NULL. */
char *pgarray_text(const char *const *v, size_t n);

#endif
