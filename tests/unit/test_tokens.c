/* test_tokens.c: the token distribution (G6) on random scenarios and hand-written cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "supervisor/like.h"
#include "supervisor/tokens.h"

#define MAX_NODES 12
#define MAX_LOCKS 80

/* splitmix64: the test's own random numbers, fixed seed. */
static uint64_t test_rng = 0x5eed5eed12345678ULL;

static uint64_t rnd(void)
{
	uint64_t z = (test_rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int rnd_below(int n)
{
	return n > 0 ? (int)(rnd() % (uint64_t)n) : 0;
}

/* One random distribution problem. */
struct scenario {
	int total;
	int n;
	char name_buf[MAX_NODES][16];
	const char *names[MAX_NODES];
	int *owner;
	struct tokens_lock locks[MAX_LOCKS];
	size_t nlocks;
};

/* Patterns: some match one prefix, several, all, or nobody. */
static const char *const pattern_pool[] = {
	"gpu-%", "cpu-%", "io-%", "gpu-1%", "%-_", "%-__", "nomatch%", "%",
	"_pu-%", "cpu-\\%", "zz", "%1", "io-_",
};

static int owner_or_none(const struct tokens_input *in, int t)
{
	int o = in->owner[t];

	return (o >= 0 && o < in->nnodes) ? o : -1;
}

static bool lock_matches(const struct tokens_input *in, int t, int node)
{
	for (size_t i = 0; i < in->nlocks; i++)
		if (in->locks[i].token == t && like_match(in->locks[i].pattern, in->names[node]))
			return true;
	return false;
}

static bool is_locked(const struct tokens_input *in, int t)
{
	for (size_t i = 0; i < in->nlocks; i++)
		if (in->locks[i].token == t)
			return true;
	return false;
}

/*
 * Least possible moves of unlocked tokens: U minus the largest number of
 * tokens that can stay, over every choice of the r nodes given q + 1. By
 * brute force over subsets for up to 8 nodes, else by sorting (the nodes
 * owning the most benefit most from the extra slot).
 */
static int unlocked_lower_bound(const int *cur, int n, int unlocked)
{
	int q, r, best = 0;

	if (n == 0)
		return 0;
	q = unlocked / n;
	r = unlocked % n;
	if (n <= 8) {
		for (unsigned mask = 0; mask < (1u << n); mask++) {
			int stay = 0;

			if (__builtin_popcount(mask) != r)
				continue;
			for (int i = 0; i < n; i++) {
				int target = q + ((mask >> i) & 1u);
				stay += cur[i] < target ? cur[i] : target;
			}
			if (stay > best)
				best = stay;
		}
	} else {
		int sorted[MAX_NODES];

		memcpy(sorted, cur, (size_t)n * sizeof(int));
		for (int i = 1; i < n; i++)     /* insertion sort, descending */
			for (int j = i; j > 0 && sorted[j] > sorted[j - 1]; j--) {
				int tmp = sorted[j];
				sorted[j] = sorted[j - 1];
				sorted[j - 1] = tmp;
			}
		for (int i = 0; i < n; i++) {
			int target = q + (i < r ? 1 : 0);
			best += sorted[i] < target ? sorted[i] : target;
		}
	}
	return unlocked - best;
}

/* Check balance, no orphans, locks, and that moves are exactly the least possible. */
static void check_plan(const struct tokens_input *in, const struct tokens_plan *p)
{
	int n = in->nnodes;
	int ucount[MAX_NODES] = { 0 }, cur[MAX_NODES] = { 0 };
	int changed = 0, unlocked = 0, locked = 0, unowned = 0, lb_locked = 0;

	for (int t = 0; t < in->total; t++) {
		int o = owner_or_none(in, t);
		int got = p->owner[t];

		assert_true(got >= -1 && got < n);
		changed += got != o;
		if (is_locked(in, t)) {
			bool any = false, cur_ok = o >= 0 && lock_matches(in, t, o);

			locked++;
			for (int i = 0; i < n && !any; i++)
				any = lock_matches(in, t, i);
			if (!any) {
				assert_int_equal(got, -1);       /* nobody may own it */
				unowned++;
				lb_locked += o >= 0;             /* taken from a live non-match */
				continue;
			}
			assert_true(got >= 0);                   /* (b) owned */
			assert_true(lock_matches(in, t, got));   /* (c) by a matching node */
			if (cur_ok)
				assert_int_equal(got, o);        /* a matching owner keeps it */
			else
				lb_locked++;                     /* must move (or be adopted) */
			continue;
		}
		unlocked++;
		if (o >= 0)
			cur[o]++;
		if (n == 0) {
			assert_int_equal(got, -1);
		} else {
			assert_true(got >= 0);                   /* (b) no orphans */
			ucount[got]++;
		}
	}
	/* (a) balance */
	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++)
			assert_true(ucount[i] - ucount[j] <= 1);
	assert_int_equal(p->locked, locked);
	assert_int_equal(p->unowned_locked, unowned);
	/* (e) moves: reported = actual = independent lower bound */
	assert_int_equal(p->moved, changed);
	assert_int_equal(p->moved, lb_locked + unlocked_lower_bound(cur, n, unlocked));
}

static void make_scenario(struct scenario *s)
{
	static const char *const prefixes[] = { "gpu-", "cpu-", "io-" };
	int mode;

	s->total = 1 + rnd_below(5000);
	s->n = rnd_below(MAX_NODES + 1);
	for (int i = 0; i < s->n; i++) {
		bool dup;

		do {
			snprintf(s->name_buf[i], sizeof(s->name_buf[i]), "%s%d",
				 prefixes[rnd_below(3)], rnd_below(rnd_below(2) ? 10 : 100));
			dup = false;
			for (int j = 0; j < i; j++)
				dup = dup || strcmp(s->name_buf[i], s->name_buf[j]) == 0;
		} while (dup);
		s->names[i] = s->name_buf[i];
	}
	s->owner = malloc((size_t)s->total * sizeof(int));
	assert_non_null(s->owner);
	mode = rnd_below(5);
	for (int t = 0; t < s->total; t++) {
		switch (mode) {
		case 0:         /* cold start */
			s->owner[t] = -1;
			break;
		case 1:         /* anything, including departed nodes n..n+2 */
			s->owner[t] = rnd_below(s->n + 4) - 1;
			break;
		case 2:         /* skewed towards node 0 */
			s->owner[t] = rnd_below(4) ? 0 : rnd_below(s->n + 2) - 1;
			break;
		case 3:         /* contiguous blocks, as after an earlier plan */
			s->owner[t] = (int)((int64_t)t * (s->n + 2) / s->total) - 1;
			break;
		default:        /* nearly balanced with a few orphans */
			s->owner[t] = rnd_below(20) ? (s->n ? t % s->n : -1) : -1;
			break;
		}
	}
	s->nlocks = rnd_below(4) == 0 ? 0 : (size_t)rnd_below(MAX_LOCKS + 1);
	for (size_t i = 0; i < s->nlocks; i++) {
		struct tokens_lock *l = &s->locks[i];

		if (i > 0 && rnd_below(3) == 0)
			l->token = s->locks[i - 1].token;   /* several patterns per token */
		else
			l->token = rnd_below(s->total);
		if (s->n > 0 && rnd_below(5) == 0)
			l->pattern = s->names[rnd_below(s->n)];
		else
			l->pattern = pattern_pool[rnd_below((int)(sizeof(pattern_pool) /
								   sizeof(pattern_pool[0])))];
	}
}

/* (d) the same problem with names shuffled (owners re-indexed, locks reordered). */
static void check_shuffled(const struct scenario *s, const struct tokens_plan *p)
{
	const char *names2[MAX_NODES];
	int perm[MAX_NODES], inv[MAX_NODES];
	struct tokens_lock locks2[MAX_LOCKS];
	int *owner2 = malloc((size_t)s->total * sizeof(int));
	struct tokens_plan p2;

	assert_non_null(owner2);
	for (int i = 0; i < s->n; i++)
		perm[i] = i;
	for (int i = s->n - 1; i > 0; i--) {
		int j = rnd_below(i + 1), tmp = perm[i];
		perm[i] = perm[j];
		perm[j] = tmp;
	}
	for (int j = 0; j < s->n; j++) {
		names2[j] = s->names[perm[j]];
		inv[perm[j]] = j;
	}
	for (int t = 0; t < s->total; t++) {
		int o = s->owner[t];
		owner2[t] = (o >= 0 && o < s->n) ? inv[o] : o;
	}
	for (size_t i = 0; i < s->nlocks; i++)
		locks2[i] = s->locks[s->nlocks - 1 - i];

	struct tokens_input in2 = {
		.total = s->total, .names = names2, .nnodes = s->n,
		.owner = owner2, .locks = locks2, .nlocks = s->nlocks,
	};
	assert_int_equal(tokens_plan(&in2, &p2), 0);
	for (int t = 0; t < s->total; t++) {
		if (p->owner[t] < 0)
			assert_int_equal(p2.owner[t], -1);
		else
			assert_string_equal(s->names[p->owner[t]], names2[p2.owner[t]]);
	}
	assert_int_equal(p->moved, p2.moved);
	assert_int_equal(p->unowned_locked, p2.unowned_locked);
	tokens_plan_free(&p2);
	free(owner2);
}

static void test_tokens_random(void **state)
{
	(void)state;
	for (int iter = 0; iter < 3000; iter++) {
		struct scenario s;
		struct tokens_plan p;

		memset(&s, 0, sizeof(s));
		make_scenario(&s);
		struct tokens_input in = {
			.total = s.total, .names = s.names, .nnodes = s.n,
			.owner = s.owner, .locks = s.locks, .nlocks = s.nlocks,
		};
		assert_int_equal(tokens_plan(&in, &p), 0);
		check_plan(&in, &p);
		check_shuffled(&s, &p);

		/* Planning again from the result moves nothing. */
		struct tokens_plan again;
		in.owner = p.owner;
		assert_int_equal(tokens_plan(&in, &again), 0);
		check_plan(&in, &again);
		assert_int_equal(again.moved, 0);
		tokens_plan_free(&again);
		tokens_plan_free(&p);
		free(s.owner);
	}
}

static void count_owned(const struct tokens_plan *p, int total, int *count, int n)
{
	memset(count, 0, (size_t)n * sizeof(int));
	for (int t = 0; t < total; t++)
		if (p->owner[t] >= 0)
			count[p->owner[t]]++;
}

/* 3 nodes from empty, then 3 -> 4 and 4 -> 3: 2500 moves each way. */
static void test_tokens_join_leave(void **state)
{
	enum { TOTAL = 10000 };
	static int empty[TOTAL], owner4[TOTAL], owner3[TOTAL];
	const char *names3[] = { "c", "a", "b" };
	const char *names4[] = { "c", "a", "b", "d" };
	const char *names_left[] = { "c", "b", "d" };   /* "a" left */
	struct tokens_plan p3, p4, pl;
	int count[4];

	(void)state;
	for (int t = 0; t < TOTAL; t++)
		empty[t] = -1;
	struct tokens_input in = { .total = TOTAL, .names = names3, .nnodes = 3, .owner = empty };
	assert_int_equal(tokens_plan(&in, &p3), 0);
	check_plan(&in, &p3);
	count_owned(&p3, TOTAL, count, 3);
	assert_int_equal(count[1], 3334);   /* "a": the extra slot goes to the smallest name */
	assert_int_equal(count[0], 3333);
	assert_int_equal(count[2], 3333);
	assert_int_equal(p3.moved, TOTAL);

	/* 3 -> 4: "d" joins with the same indices for the others. */
	memcpy(owner4, p3.owner, sizeof(owner4));
	in = (struct tokens_input){ .total = TOTAL, .names = names4, .nnodes = 4, .owner = owner4 };
	assert_int_equal(tokens_plan(&in, &p4), 0);
	check_plan(&in, &p4);
	assert_int_equal(p4.moved, 2500);
	count_owned(&p4, TOTAL, count, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(count[i], 2500);

	/* 4 -> 3: "a" (index 1) leaves; its tokens are orphans, the rest re-indexed. */
	static const int remap[4] = { 0, -1, 1, 2 };
	for (int t = 0; t < TOTAL; t++)
		owner3[t] = remap[p4.owner[t]];
	in = (struct tokens_input){ .total = TOTAL, .names = names_left, .nnodes = 3, .owner = owner3 };
	assert_int_equal(tokens_plan(&in, &pl), 0);
	check_plan(&in, &pl);
	assert_int_equal(pl.moved, 2500);
	count_owned(&pl, TOTAL, count, 3);
	assert_int_equal(count[1], 2500 + 834);   /* "b" is now the smallest name */
	assert_int_equal(count[0], 3333);
	assert_int_equal(count[2], 3333);
	/* Only a's old tokens moved. */
	for (int t = 0; t < TOTAL; t++)
		if (owner3[t] >= 0)
			assert_int_equal(pl.owner[t], owner3[t]);

	tokens_plan_free(&p3);
	tokens_plan_free(&p4);
	tokens_plan_free(&pl);
}

/* Locks follow patterns; a leaving node's locked tokens go to another match or nobody. */
static void test_tokens_lock_node_leaves(void **state)
{
	enum { TOTAL = 100 };
	int owner[TOTAL], owner2[TOTAL];
	const char *names[] = { "gpu-1", "gpu-2", "cpu-1" };
	const char *names2[] = { "gpu-1", "cpu-1" };   /* gpu-2 left */
	const struct tokens_lock locks[] = {
		{ 5, "gpu-2" }, { 6, "gpu-%" }, { 7, "cpu-1" },
		{ 8, "gpu-2" }, { 8, "cpu-%" }, { 9, "gpu-2" }, { 9, "nobody" },
		{ 500, "%" }, { -1, "%" },     /* out of range: ignored */
	};
	struct tokens_plan p, p2;

	(void)state;
	for (int t = 0; t < TOTAL; t++)
		owner[t] = 1;          /* gpu-2 owned everything */
	struct tokens_input in = { .total = TOTAL, .names = names, .nnodes = 3, .owner = owner,
				   .locks = locks, .nlocks = sizeof(locks) / sizeof(locks[0]) };
	assert_int_equal(tokens_plan(&in, &p), 0);
	check_plan(&in, &p);
	assert_int_equal(p.locked, 5);
	assert_int_equal(p.unowned_locked, 0);
	assert_int_equal(p.owner[5], 1);
	assert_int_equal(p.owner[6], 1);
	assert_int_equal(p.owner[7], 2);
	assert_int_equal(p.owner[8], 1);
	assert_int_equal(p.owner[9], 1);

	static const int remap[3] = { 0, -1, 1 };
	for (int t = 0; t < TOTAL; t++)
		owner2[t] = remap[p.owner[t]];
	in = (struct tokens_input){ .total = TOTAL, .names = names2, .nnodes = 2, .owner = owner2,
				    .locks = locks, .nlocks = sizeof(locks) / sizeof(locks[0]) };
	assert_int_equal(tokens_plan(&in, &p2), 0);
	check_plan(&in, &p2);
	assert_int_equal(p2.owner[5], -1);       /* only gpu-2 matched */
	assert_int_equal(p2.owner[9], -1);
	assert_int_equal(p2.unowned_locked, 2);
	assert_int_equal(p2.owner[6], 0);        /* gpu-1 */
	assert_int_equal(p2.owner[7], 1);        /* cpu-1 kept */
	assert_int_equal(p2.owner[8], 1);        /* cpu-% */
	tokens_plan_free(&p);
	tokens_plan_free(&p2);
}

/* Unowned locked tokens go to the matching node with the fewest, ties by name. */
static void test_tokens_lock_spread(void **state)
{
	int owner[10];
	const char *names[] = { "b", "a", "x" };
	const struct tokens_lock locks[] = {
		{ 0, "_" }, { 1, "_" }, { 2, "_" }, { 3, "_" }, { 4, "[ab]" },
		{ 9, "b" }, { 3, "zzz" },
	};
	struct tokens_plan p;

	(void)state;
	for (int t = 0; t < 10; t++)
		owner[t] = -1;
	owner[9] = 0;          /* b keeps token 9, so "a" and "x" lead the count */
	struct tokens_input in = { .total = 10, .names = names, .nnodes = 3, .owner = owner,
				   .locks = locks, .nlocks = sizeof(locks) / sizeof(locks[0]) };
	assert_int_equal(tokens_plan(&in, &p), 0);
	check_plan(&in, &p);
	assert_int_equal(p.owner[9], 0);
	assert_int_equal(p.owner[0], 1);   /* a (0 locked, smallest) */
	assert_int_equal(p.owner[1], 2);   /* x (0 locked) */
	assert_int_equal(p.owner[2], 1);   /* all at 1: a is the smallest name */
	assert_int_equal(p.owner[3], 0);   /* b (1 locked, a has 2) */
	assert_int_equal(p.owner[4], -1);  /* LIKE has no brackets */
	assert_int_equal(p.locked, 6);
	assert_int_equal(p.unowned_locked, 1);
	tokens_plan_free(&p);
}

/* No live node: every token unowned, nothing counted as moved. */
static void test_tokens_no_nodes(void **state)
{
	int owner[50];
	const struct tokens_lock locks[] = { { 3, "%" }, { 4, "a" } };
	struct tokens_plan p;

	(void)state;
	for (int t = 0; t < 50; t++)
		owner[t] = t % 3 - 1;  /* -1 or departed nodes */
	struct tokens_input in = { .total = 50, .names = NULL, .nnodes = 0, .owner = owner,
				   .locks = locks, .nlocks = 2 };
	assert_int_equal(tokens_plan(&in, &p), 0);
	check_plan(&in, &p);
	for (int t = 0; t < 50; t++)
		assert_int_equal(p.owner[t], -1);
	assert_int_equal(p.moved, 0);
	assert_int_equal(p.locked, 2);
	assert_int_equal(p.unowned_locked, 2);
	tokens_plan_free(&p);

	/* Zero tokens is not an error either. */
	const char *names[] = { "a" };
	in = (struct tokens_input){ .total = 0, .names = names, .nnodes = 1, .owner = NULL };
	assert_int_equal(tokens_plan(&in, &p), 0);
	assert_int_equal(p.moved, 0);
	tokens_plan_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tokens_join_leave),
		cmocka_unit_test(test_tokens_lock_node_leaves),
		cmocka_unit_test(test_tokens_lock_spread),
		cmocka_unit_test(test_tokens_no_nodes),
		cmocka_unit_test(test_tokens_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
