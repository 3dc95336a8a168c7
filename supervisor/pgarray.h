/* pgarray.h: PostgreSQL array literals ("{...}") for int[] and text[] parameters, and int lists. */
#ifndef JOBSYNC_PGARRAY_H
#define JOBSYNC_PGARRAY_H

#include <stdbool.h>
#include <stddef.h>

/* Literal of n ints, e.g. "{1,2,3}". Returns a malloc'd string or NULL. */
char *pgarray_int(const int *v, size_t n);

/* Literal of n strings, each quoted and escaped; a NULL entry is SQL NULL. */
char *pgarray_text(const char *const *v, size_t n);

/*
 * Next number of a comma-separated list of non-negative ints ("3,17,42", as
 * string_agg builds it), advancing *p. False at the end or at anything else.
 */
bool pglist_next(const char **p, int *out);

#endif
