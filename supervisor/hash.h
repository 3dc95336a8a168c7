/* hash.h: task id -> token, MD5 read as a 128-bit big-endian integer mod total. */
#ifndef JOBSYNC_HASH_H
#define JOBSYNC_HASH_H

#include <stddef.h>

/* Token of a task id of len bytes, for total_tokens >= 1. */
int hash_token_of(const char *id, size_t len, int total_tokens);

#endif
