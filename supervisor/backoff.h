/* backoff.h: one retry-delay function for reconnects, restarts and task retries. */
#ifndef JOBSYNC_BACKOFF_H
#define JOBSYNC_BACKOFF_H

#include <stdint.h>

/*
 * Capped exponential backoff with decorrelated jitter: returns the next delay
 * in milliseconds, between base_ms and cap_ms, given the previous delay (0 for
 * the first retry) and a caller-owned random state (any seed, never 0).
 */
uint64_t backoff_next_ms(uint64_t prev_ms, uint64_t base_ms, uint64_t cap_ms,
			 uint64_t *rng);

#endif
