/* like.h: SQL LIKE matching (% _ and backslash escape), as PostgreSQL does it. */
#ifndef JOBSYNC_LIKE_H
#define JOBSYNC_LIKE_H

#include <stdbool.h>

/* True when text matches the LIKE pattern (case-sensitive, escape '\'). */
bool like_match(const char *pattern, const char *text);

#endif
