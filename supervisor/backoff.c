/* backoff.c: capped exponential backoff with decorrelated jitter (one retry-delay function). */
#include "supervisor/backoff.h"

/* xorshift64*: the state is owned by the caller; a zero state is seeded. */
static uint64_t backoff_rand(uint64_t *rng)
{
	uint64_t x = *rng;

	if (x == 0)
		x = 0x9e3779b97f4a7c15ULL;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*rng = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/*
 * next = min(cap, uniform(base, max(prev, base) * 3)), the "decorrelated
 * jitter" of the AWS architecture blog. The multiplication saturates, and a
 * cap below base is raised to base, so the result is always in [base, cap].
 */
uint64_t backoff_next_ms(uint64_t prev_ms, uint64_t base_ms, uint64_t cap_ms,
			 uint64_t *rng)
{
	uint64_t lo = base_ms;
	uint64_t from = prev_ms > base_ms ? prev_ms : base_ms;
	uint64_t hi = from > UINT64_MAX / 3 ? UINT64_MAX : from * 3;
	uint64_t r = backoff_rand(rng);
	uint64_t v;

	if (cap_ms < base_ms)
		cap_ms = base_ms;
	if (hi - lo == UINT64_MAX)
		v = r;
	else
		v = lo + r % (hi - lo + 1);
	return v < cap_ms ? v : cap_ms;
}
