/* test_policy.c: golden tables for the restart policy: modes, no_restart_exit, intensity, backoff. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "runner/policy.h"

/* One exit fed to the policy, and what it must answer. */
struct policy_row {
	uint64_t now_ms, ran_ms;
	int status, sig;
	enum policy_decision want;
	uint64_t want_delay_ms;
};

#define NROWS(a) (sizeof(a) / sizeof((a)[0]))

/* Feed the rows in order to a fresh state seeded with seed; check every answer. */
static void policy_walk(const struct policy *p, uint64_t seed, const struct policy_row *rows,
			size_t n)
{
	struct policy_state st;
	uint64_t prev = 0;

	policy_state_init(&st, seed);
	for (size_t i = 0; i < n; i++) {
		uint64_t d = 12345;
		enum policy_decision got = policy_on_exit(p, &st, rows[i].now_ms, rows[i].ran_ms,
							  rows[i].status, rows[i].sig, &d);

		assert_int_equal(got, rows[i].want);
		assert_int_equal(d, rows[i].want_delay_ms);
		if (got == POLICY_RESTART) {
			/* Decorrelated jitter: within [base, min(cap, 3 * max(prev, base))]. */
			uint64_t from = prev > p->backoff_base_ms ? prev : p->backoff_base_ms;
			uint64_t hi = 3 * from < p->backoff_cap_ms ? 3 * from : p->backoff_cap_ms;

			if (rows[i].ran_ms >= p->stable_ms)
				hi = 3 * p->backoff_base_ms < p->backoff_cap_ms ?
					     3 * p->backoff_base_ms : p->backoff_cap_ms;
			assert_true(d >= p->backoff_base_ms);
			assert_true(d <= hi);
			prev = d;
		} else if (got == POLICY_FATAL) {
			prev = 0;
		}
	}
}

/* on-failure: non-zero status and signals restart, 0 and 125 do not; 125 by signal does. */
static void test_policy_on_failure(void **state)
{
	static const struct policy p = { RESTART_ON_FAILURE, 5, 10000, 100, 1000, 5000, 0, 125 };
	static const struct policy_row rows[] = {
		{ 1000, 100, 1, 0, POLICY_RESTART, 137 },
		{ 2000, 100, 2, 0, POLICY_RESTART, 129 },
		{ 3000, 100, 0, 9, POLICY_RESTART, 155 },	/* killed by a signal */
		{ 4000, 100, 0, 0, POLICY_EXITED, 0 },		/* clean exit */
		{ 5000, 100, 125, 0, POLICY_EXITED, 0 },	/* no_restart_exit */
		{ 6000, 100, 125, 15, POLICY_RESTART, 331 },	/* a signal is not a status */
		{ 7000, 100, 3, 0, POLICY_RESTART, 816 },
	};

	(void)state;
	policy_walk(&p, 1, rows, NROWS(rows));
}

/* always: even exit 0 restarts; no_restart_exit still wins. */
static void test_policy_always(void **state)
{
	static const struct policy p = { RESTART_ALWAYS, 5, 10000, 100, 1000, 5000, 0, 125 };
	static const struct policy_row rows[] = {
		{ 1000, 100, 0, 0, POLICY_RESTART, 174 },
		{ 2000, 100, 1, 0, POLICY_RESTART, 181 },
		{ 3000, 100, 125, 0, POLICY_EXITED, 0 },
		{ 4000, 100, 0, 2, POLICY_RESTART, 443 },
	};

	(void)state;
	policy_walk(&p, 2, rows, NROWS(rows));
}

/* never: every exit is final. */
static void test_policy_never(void **state)
{
	static const struct policy p = { RESTART_NEVER, 5, 10000, 100, 1000, 5000, 0, 125 };
	static const struct policy_row rows[] = {
		{ 1000, 100, 0, 0, POLICY_EXITED, 0 },
		{ 2000, 100, 1, 0, POLICY_EXITED, 0 },
		{ 3000, 100, 0, 9, POLICY_EXITED, 0 },
		{ 4000, 100, 125, 0, POLICY_EXITED, 0 },
	};

	(void)state;
	policy_walk(&p, 3, rows, NROWS(rows));
}

/* More than 3 restarts in 10 s is FATAL with the cooldown; afterwards a clean slate. */
static void test_policy_intensity_cooldown(void **state)
{
	static const struct policy p = { RESTART_ALWAYS, 3, 10000, 100, 10000, 60000, 30000, 125 };
	static const struct policy_row rows[] = {
		{ 0, 10, 1, 0, POLICY_RESTART, 213 },
		{ 1000, 10, 1, 0, POLICY_RESTART, 505 },
		{ 2000, 10, 1, 0, POLICY_RESTART, 1194 },
		{ 3000, 10, 1, 0, POLICY_FATAL, 30000 },	/* would be the 4th in 10 s */
		{ 33000, 10, 1, 0, POLICY_RESTART, 165 },	/* history cleared, backoff at base */
		{ 34000, 10, 1, 0, POLICY_RESTART, 206 },
	};

	(void)state;
	policy_walk(&p, 4, rows, NROWS(rows));
}

/* The window slides: a restart exactly window_ms ago no longer counts. Cooldown 0 = stay. */
static void test_policy_window_slides(void **state)
{
	static const struct policy p = { RESTART_ALWAYS, 2, 1000, 10, 10, 60000, 0, 125 };
	static const struct policy_row rows[] = {
		{ 0, 1, 1, 0, POLICY_RESTART, 10 },
		{ 500, 1, 1, 0, POLICY_RESTART, 10 },
		{ 1000, 1, 1, 0, POLICY_RESTART, 10 },	/* t=0 fell out: 500 and this one */
		{ 1200, 1, 1, 0, POLICY_FATAL, 0 },	/* 500, 1000 and this one: 3 > 2 */
		{ 1300, 1, 1, 0, POLICY_RESTART, 10 },	/* after a FATAL the history is empty */
	};

	(void)state;
	policy_walk(&p, 5, rows, NROWS(rows));
}

/* The backoff grows while runs are short and restarts at base after stable_ms of running. */
static void test_policy_stable_resets_backoff(void **state)
{
	static const struct policy p = { RESTART_ON_FAILURE, 100, 1000, 100, 100000, 5000, 0, 125 };
	static const struct policy_row rows[] = {
		{ 10000, 10, 1, 0, POLICY_RESTART, 287 },
		{ 20000, 10, 1, 0, POLICY_RESTART, 423 },
		{ 30000, 10, 1, 0, POLICY_RESTART, 1219 },
		{ 40000, 10, 1, 0, POLICY_RESTART, 2999 },
		{ 50000, 4999, 1, 0, POLICY_RESTART, 8711 },	/* 1 ms short of stable */
		{ 60000, 5000, 1, 0, POLICY_RESTART, 266 },	/* stable: back to [base, 3 base] */
		{ 70000, 10, 1, 0, POLICY_RESTART, 632 },
		{ 80000, 99999, 0, 6, POLICY_RESTART, 249 },
	};

	(void)state;
	policy_walk(&p, 6, rows, NROWS(rows));
}

/* max_restarts 0: the first restart is already too many; negative behaves the same. */
static void test_policy_zero_limit(void **state)
{
	struct policy p = { RESTART_ALWAYS, 0, 1000, 10, 100, 60000, 5000, 125 };
	struct policy_state st;
	uint64_t d;

	(void)state;
	policy_state_init(&st, 7);
	assert_int_equal(policy_on_exit(&p, &st, 100, 1, 1, 0, &d), POLICY_FATAL);
	assert_int_equal(d, 5000);
	p.max_restarts = -3;
	assert_int_equal(policy_on_exit(&p, &st, 200, 1, 1, 0, &d), POLICY_FATAL);
	assert_int_equal(d, 5000);
	/* no_restart_exit is checked before the limit. */
	assert_int_equal(policy_on_exit(&p, &st, 300, 1, 125, 0, &d), POLICY_EXITED);
	assert_int_equal(d, 0);
}

/* A limit beyond the ring is clamped to POLICY_HISTORY; the ring wraps without harm. */
static void test_policy_history_clamp(void **state)
{
	const struct policy p = { RESTART_ALWAYS, 1000, 1000000, 1, 1, 1, 0, 125 };
	struct policy_state st;
	uint64_t d;
	int i;

	(void)state;
	policy_state_init(&st, 0);	/* a zero seed is replaced */
	assert_true(st.rng != 0);
	for (i = 0; i < POLICY_HISTORY; i++) {
		assert_int_equal(policy_on_exit(&p, &st, (uint64_t)i, 0, 1, 0, &d), POLICY_RESTART);
		assert_int_equal(d, 1);
	}
	assert_int_equal(policy_on_exit(&p, &st, (uint64_t)i, 0, 1, 0, &d), POLICY_FATAL);
	/* With a short window the ring keeps wrapping and never goes FATAL. */
	const struct policy q = { RESTART_ALWAYS, 3, 10, 1, 1, 1, 0, 125 };
	policy_state_init(&st, 9);
	for (i = 0; i < 10 * POLICY_HISTORY; i++)
		assert_int_equal(policy_on_exit(&q, &st, (uint64_t)i * 10, 0, 1, 0, &d),
				 POLICY_RESTART);
	assert_int_equal(st.nstarts, POLICY_HISTORY);
}

/* The same seed gives the same delays; another seed gives another sequence. */
static void test_policy_deterministic(void **state)
{
	const struct policy p = { RESTART_ALWAYS, 64, 1, 100, 100000, 1000000, 0, 125 };
	struct policy_state a, b, c;
	int differ = 0;

	(void)state;
	policy_state_init(&a, 99);
	policy_state_init(&b, 99);
	policy_state_init(&c, 100);
	for (int i = 0; i < 50; i++) {
		uint64_t da, db, dc;

		policy_on_exit(&p, &a, (uint64_t)i * 10, 0, 1, 0, &da);
		policy_on_exit(&p, &b, (uint64_t)i * 10, 0, 1, 0, &db);
		policy_on_exit(&p, &c, (uint64_t)i * 10, 0, 1, 0, &dc);
		assert_int_equal(da, db);
		differ += da != dc;
	}
	assert_true(differ > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_on_failure),
		cmocka_unit_test(test_policy_always),
		cmocka_unit_test(test_policy_never),
		cmocka_unit_test(test_policy_intensity_cooldown),
		cmocka_unit_test(test_policy_window_slides),
		cmocka_unit_test(test_policy_stable_resets_backoff),
		cmocka_unit_test(test_policy_zero_limit),
		cmocka_unit_test(test_policy_history_clamp),
		cmocka_unit_test(test_policy_deterministic),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
