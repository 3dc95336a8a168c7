/* policy.c: the pure restart decision for long-running children (restart, exited, FATAL). */
#include "runner/policy.h"

#include "supervisor/backoff.h"

/* Any non-zero seed works for the backoff generator; 0 is replaced. */
void policy_state_init(struct policy_state *st, uint64_t seed)
{
	for (int i = 0; i < POLICY_HISTORY; i++)
		st->starts[i] = 0;
	st->nstarts = 0;
	st->head = 0;
	st->prev_delay_ms = 0;
	st->rng = seed ? seed : 0x6a09e667f3bcc909ULL;
}

/* Does the policy want a restart after this exit (before any limit is applied)? */
static bool policy_wants_restart(const struct policy *p, int exit_status, int term_signal)
{
	if (term_signal == 0 && exit_status == p->no_restart_exit)
		return false;
	switch (p->restart) {
	case RESTART_ALWAYS:
		return true;
	case RESTART_ON_FAILURE:
		return term_signal != 0 || exit_status != 0;
	case RESTART_NEVER:
	default:
		return false;
	}
}

/*
 * Restarts recorded within the window ending at now_ms: a restart at t counts
 * while now_ms - t < window_ms (a time after now_ms, from a clock step, counts).
 */
static int policy_recent(const struct policy *p, const struct policy_state *st, uint64_t now_ms)
{
	int n = 0;

	for (int i = 0; i < st->nstarts; i++) {
		int idx = (st->head - 1 - i + 2 * POLICY_HISTORY) % POLICY_HISTORY;
		uint64_t t = st->starts[idx];

		if (t > now_ms || now_ms - t < p->window_ms)
			n++;
	}
	return n;
}

/* Remember one restart at now_ms in the ring (the oldest entry is overwritten). */
static void policy_record(struct policy_state *st, uint64_t now_ms)
{
	st->starts[st->head] = now_ms;
	st->head = (st->head + 1) % POLICY_HISTORY;
	if (st->nstarts < POLICY_HISTORY)
		st->nstarts++;
}

/*
 * The decision, in order:
 *   1. exit status no_restart_exit (not a signal)        -> EXITED
 *   2. restart=never, or on-failure and a clean exit 0  -> EXITED
 *   3. ran >= stable_ms                                 -> the backoff starts again at base
 *   4. this restart would be the (max_restarts+1)th within window_ms
 *                                                       -> FATAL, *delay_ms = cooldown;
 *      the history and the backoff are cleared, so the start after the
 *      cooldown begins with a clean slate
 *   5. otherwise                                        -> RESTART after backoff_next_ms()
 * The ring holds POLICY_HISTORY restarts, so max_restarts is clamped to that.
 * On EXITED and FATAL with no cooldown *delay_ms is 0.
 */
enum policy_decision policy_on_exit(const struct policy *p, struct policy_state *st,
				    uint64_t now_ms, uint64_t ran_ms, int exit_status,
				    int term_signal, uint64_t *delay_ms)
{
	int limit = p->max_restarts < 0 ? 0 : p->max_restarts;

	if (limit > POLICY_HISTORY)
		limit = POLICY_HISTORY;
	*delay_ms = 0;
	if (!policy_wants_restart(p, exit_status, term_signal))
		return POLICY_EXITED;
	if (ran_ms >= p->stable_ms)
		st->prev_delay_ms = 0;
	if (policy_recent(p, st, now_ms) + 1 > limit) {
		st->nstarts = 0;
		st->head = 0;
		st->prev_delay_ms = 0;
		*delay_ms = p->fatal_cooldown_ms;
		return POLICY_FATAL;
	}
	policy_record(st, now_ms);
	st->prev_delay_ms = backoff_next_ms(st->prev_delay_ms, p->backoff_base_ms,
					    p->backoff_cap_ms, &st->rng);
	*delay_ms = st->prev_delay_ms;
	return POLICY_RESTART;
}
