/* bench_tokens.c: times tokens_plan (100 nodes x 50000 tokens) and checks moves against the bound. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "supervisor/tokens.h"

#define RUNS 20

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int cmp_int_desc(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x < y) - (x > y);
}

/* Median wall time of RUNS plans of in; the last plan is left in out. */
static double time_plan(const struct tokens_input *in, struct tokens_plan *out)
{
	double t[RUNS];

	for (int i = 0; i < RUNS; i++) {
		double a = now_ms();

		if (tokens_plan(in, out) != 0) {
			fprintf(stderr, "bench_tokens: out of memory\n");
			exit(1);
		}
		t[i] = now_ms() - a;
		if (i + 1 < RUNS)
			tokens_plan_free(out);
	}
	qsort(t, RUNS, sizeof(double), cmp_double);
	return (t[RUNS / 2 - 1] + t[RUNS / 2]) / 2;
}

/* Least moves for unlocked tokens: U minus the most that can stay. */
static int lower_bound(const struct tokens_input *in)
{
	int n = in->nnodes, q, r, stay = 0;
	int *cur = calloc((size_t)n, sizeof(int));

	if (cur == NULL)
		exit(1);
	for (int t = 0; t < in->total; t++)
		if (in->owner[t] >= 0 && in->owner[t] < n)
			cur[in->owner[t]]++;
	qsort(cur, (size_t)n, sizeof(int), cmp_int_desc);
	q = in->total / n;
	r = in->total % n;
	for (int i = 0; i < n; i++) {
		int target = q + (i < r ? 1 : 0);
		stay += cur[i] < target ? cur[i] : target;
	}
	free(cur);
	return in->total - stay;
}

/* Names "node-000" .. "node-(n-1)". */
static char **make_names(int n)
{
	char **names = malloc((size_t)n * sizeof(char *));

	for (int i = 0; names != NULL && i < n; i++) {
		names[i] = malloc(16);
		if (names[i] == NULL)
			exit(1);
		snprintf(names[i], 16, "node-%03d", i);
	}
	if (names == NULL)
		exit(1);
	return names;
}

/*
 * Plan `before` nodes from nothing, then `after` = before + 1 (a join) or
 * before - 1 (node 0 leaves); report time and moves vs the bound.
 */
static void scenario(int total, int before)
{
	char **names = make_names(before + 1);
	int *empty = malloc((size_t)total * sizeof(int));
	int *owner = malloc((size_t)total * sizeof(int));
	struct tokens_plan p0, pj, pl;
	struct tokens_input in;
	double ms;

	if (empty == NULL || owner == NULL)
		exit(1);
	for (int t = 0; t < total; t++)
		empty[t] = -1;

	in = (struct tokens_input){ .total = total, .names = (const char *const *)names,
				    .nnodes = before, .owner = empty };
	ms = time_plan(&in, &p0);
	printf("%-8s %6d %5d -> %-5d %9.3f %8d %8d\n", "initial", total, 0, before, ms,
		       p0.moved, lower_bound(&in));

	/* join: node `before` appears, others keep their indices */
	memcpy(owner, p0.owner, (size_t)total * sizeof(int));
	in = (struct tokens_input){ .total = total, .names = (const char *const *)names,
				    .nnodes = before + 1, .owner = owner };
	ms = time_plan(&in, &pj);
	printf("%-8s %6d %5d -> %-5d %9.3f %8d %8d\n", "join", total, before, before + 1,
	       ms, pj.moved, lower_bound(&in));

	/* leave: node 0 goes; indices shift down by one */
	for (int t = 0; t < total; t++)
		owner[t] = p0.owner[t] - 1;
	in = (struct tokens_input){ .total = total, .names = (const char *const *)names + 1,
				    .nnodes = before - 1, .owner = owner };
	ms = time_plan(&in, &pl);
	printf("%-8s %6d %5d -> %-5d %9.3f %8d %8d\n", "leave", total, before, before - 1,
	       ms, pl.moved, lower_bound(&in));

	tokens_plan_free(&p0);
	tokens_plan_free(&pj);
	tokens_plan_free(&pl);
	for (int i = 0; i < before + 1; i++)
		free(names[i]);
	free(names);
	free(empty);
	free(owner);
}

int main(void)
{
	printf("tokens_plan: median of %d runs (ms), moves vs lower bound\n", RUNS);
	printf("%-8s %6s %14s %9s %8s %8s\n", "case", "tokens", "nodes", "median_ms", "moved",
	       "bound");
	scenario(50000, 100);
	scenario(10000, 3);
	scenario(10000, 4);
	return 0;
}
