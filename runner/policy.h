/* policy.h: the pure restart decision: restart after a delay, stay exited, or go FATAL. */
#ifndef JOBSYNC_POLICY_H
#define JOBSYNC_POLICY_H

#include <stdbool.h>
#include <stdint.h>

enum restart_mode { RESTART_ALWAYS, RESTART_ON_FAILURE, RESTART_NEVER };

struct policy {
	enum restart_mode restart;
	int max_restarts;           /* more than this many in window_ms -> FATAL */
	uint64_t window_ms;
	uint64_t backoff_base_ms, backoff_cap_ms;
	uint64_t stable_ms;         /* running this long resets the backoff */
	uint64_t fatal_cooldown_ms; /* 0 = stay FATAL */
	int no_restart_exit;        /* this exit status means "do not restart" (default 125) */
};

enum policy_decision { POLICY_RESTART, POLICY_EXITED, POLICY_FATAL };

#define POLICY_HISTORY 64

/* What the policy remembers of one program between exits. */
struct policy_state {
	uint64_t starts[POLICY_HISTORY]; /* ring of recent restart times (ms) */
	int nstarts, head;
	uint64_t prev_delay_ms;
	uint64_t rng;
};

void policy_state_init(struct policy_state *st, uint64_t seed);

/*
 * The process exited at now_ms after running ran_ms, with exit_status (or
 * term_signal != 0). Returns the decision; for POLICY_RESTART *delay_ms is
 * the backoff (capped exponential, decorrelated jitter, reset after stable_ms
 * of healthy running); for POLICY_FATAL *delay_ms is the cooldown (0 = stay).
 */
enum policy_decision policy_on_exit(const struct policy *p, struct policy_state *st,
				    uint64_t now_ms, uint64_t ran_ms, int exit_status,
				    int term_signal, uint64_t *delay_ms);

#endif
