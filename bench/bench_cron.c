/* bench_cron.c: times cron_next over random instants for a set of schedules and zones (median, max us). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "supervisor/cron.h"

#define CALLS 20000

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static uint64_t rng = 0x2545f4914f6cdd1du;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

int main(void)
{
	static const struct {
		const char *expr, *tz;
	} cases[] = {
		{ "* * * * *", "UTC" },
		{ "0 3 * * *", "UTC" },
		{ "@yearly", "UTC" },
		{ "0 0 29 2 *", "UTC" },
		{ "*/7 9-17 * * 1-5", "UTC" },
		{ "0 0 13 * 5", "UTC" },
		{ "30 2 * * *", "America/New_York" },
		{ "*/15 * * * *", "America/New_York" },
		{ "0 0 29 2 *", "Europe/London" },
		{ "@yearly", "Europe/London" },
	};
	static double t[CALLS];

	printf("%-20s %-18s %10s %10s %10s\n", "schedule", "zone", "median_us", "p99_us", "max_us");
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct cron c;
		char err[128];
		time_t next;

		if (cron_parse(cases[k].expr, &c, err, sizeof(err)) != 0) {
			fprintf(stderr, "bench_cron: %s: %s\n", cases[k].expr, err);
			return 1;
		}
		for (int i = 0; i < CALLS; i++) {
			/* random instants 2000-2040 */
			time_t after = (time_t)946684800 + (time_t)(rnd() % UINT64_C(1262304000));
			double a = now_us();

			if (cron_next(&c, cases[k].tz, after, &next) != CRON_OK) {
				fprintf(stderr, "bench_cron: %s: no next\n", cases[k].expr);
				return 1;
			}
			t[i] = now_us() - a;
		}
		qsort(t, CALLS, sizeof(double), cmp_double);
		printf("%-20s %-18s %10.2f %10.2f %10.2f\n", cases[k].expr, cases[k].tz,
		       (t[CALLS / 2 - 1] + t[CALLS / 2]) / 2, t[CALLS * 99 / 100], t[CALLS - 1]);
	}
	return 0;
}
