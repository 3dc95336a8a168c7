/* test_backoff.c: the retry-delay function stays in bounds, grows to the cap, and is seeded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "supervisor/backoff.h"

/* Every delay is within [base, cap], whatever the previous delay was. */
static void test_backoff_bounds(void **state)
{
	static const uint64_t params[][2] = {
		{ 100, 30000 }, { 1, 2 }, { 500, 500 }, { 0, 10 }, { 1000, 60000 },
		{ 250, 1000 }, { 1, UINT64_MAX }, { UINT64_MAX / 2, UINT64_MAX },
	};
	uint64_t rng = 12345;

	(void)state;
	for (size_t p = 0; p < sizeof(params) / sizeof(params[0]); p++) {
		uint64_t base = params[p][0], cap = params[p][1];
		uint64_t prev = 0;

		for (int i = 0; i < 20000; i++) {
			uint64_t d = backoff_next_ms(prev, base, cap, &rng);

			assert_true(d >= base);
			assert_true(d <= cap);
			/* reset now and then, and try odd previous values */
			prev = (i % 97 == 0) ? 0 : (i % 89 == 0) ? UINT64_MAX : d;
		}
	}
	/* A cap below base is raised to base. */
	assert_int_equal(backoff_next_ms(0, 100, 10, &rng), 100);
	/* The first delay lies in [base, 3 * base]. */
	for (int i = 0; i < 10000; i++) {
		uint64_t d = backoff_next_ms(0, 100, 1000000, &rng);
		assert_true(d >= 100 && d <= 300);
	}
}

/*
 * Chained delays climb to the cap within a few steps. With decorrelated jitter
 * they then wander below it (a draw from [base, 3 * prev]), so the long-run
 * mean sits near half the cap and the cap itself is hit often.
 */
static void test_backoff_grows_to_cap(void **state)
{
	uint64_t rng = 42;
	int runs_reaching_cap = 0, late_at_cap = 0;
	double first = 0, late = 0;

	(void)state;
	for (int run = 0; run < 1000; run++) {
		uint64_t prev = 0;
		int reached = 0;

		for (int i = 0; i < 40; i++) {
			prev = backoff_next_ms(prev, 100, 30000, &rng);
			if (i == 0)
				first += (double)prev;
			if (prev == 30000)
				reached = 1;
			if (i >= 30) {
				late += (double)prev;
				late_at_cap += prev == 30000;
			}
		}
		runs_reaching_cap += reached;
	}
	first /= 1000;
	late /= 10000;
	assert_true(first >= 100 && first <= 300);
	assert_true(late > 10000);          /* about 14000 */
	assert_true(late_at_cap > 2000);    /* about 2700 of 10000 */
	assert_true(runs_reaching_cap > 800);  /* about 880 within 40 retries */
}

/* Same seed, same sequence; a zero state is seeded, not stuck. */
static void test_backoff_deterministic(void **state)
{
	uint64_t a = 7, b = 7, c = 8, z = 0;
	uint64_t pa = 0, pb = 0, pc = 0, pz = 0;
	int differ = 0, zvaried = 0;
	uint64_t z0 = 0;

	(void)state;
	for (int i = 0; i < 1000; i++) {
		pa = backoff_next_ms(i % 10 ? pa : 0, 100, 100000, &a);
		pb = backoff_next_ms(i % 10 ? pb : 0, 100, 100000, &b);
		pc = backoff_next_ms(i % 10 ? pc : 0, 100, 100000, &c);
		assert_int_equal(pa, pb);
		differ += pa != pc;
		pz = backoff_next_ms(0, 100, 100000, &z);
		if (i == 0)
			z0 = pz;
		zvaried += pz != z0;
	}
	assert_int_equal(a, b);
	assert_true(differ > 500);
	assert_int_not_equal(z, 0);
	assert_true(zvaried > 500);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_bounds),
		cmocka_unit_test(test_backoff_grows_to_cap),
		cmocka_unit_test(test_backoff_deterministic),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
