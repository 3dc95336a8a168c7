/* tokens.c: the pure token distribution (G6: balanced, minimal moves, no orphans, locks). */
#include "supervisor/tokens.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/like.h"

/* A node sorted by name; rank is its position in name order. */
struct node_ref {
	const char *name;
	int idx;
};

/* A node sorted for the extra unlocked slots: most current tokens, then name. */
struct slot_ref {
	int count;
	int rank;
	int idx;
};

/* One usable lock, with the id of its (deduplicated) pattern. */
struct lock_ref {
	int token;
	int pid;
	const char *pattern;
};

static int cmp_node_name(const void *a, const void *b)
{
	const struct node_ref *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c != 0)
		return c;
	return (x->idx > y->idx) - (x->idx < y->idx);
}

static int cmp_slot(const void *a, const void *b)
{
	const struct slot_ref *x = a, *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return (x->rank > y->rank) - (x->rank < y->rank);
}

static int cmp_lock_pattern(const void *a, const void *b)
{
	const struct lock_ref *x = a, *y = b;
	int c = strcmp(x->pattern, y->pattern);

	if (c != 0)
		return c;
	return (x->token > y->token) - (x->token < y->token);
}

static int cmp_lock_token(const void *a, const void *b)
{
	const struct lock_ref *x = a, *y = b;

	if (x->token != y->token)
		return (x->token > y->token) - (x->token < y->token);
	return (x->pid > y->pid) - (x->pid < y->pid);
}

/* Working memory of one plan, released in one place. */
struct plan_work {
	struct node_ref *nodes;     /* [N] in name order */
	int *rank;                  /* [N] node index -> position in name order */
	struct lock_ref *locks;     /* usable locks sorted by token, pattern id */
	size_t nlocks;
	uint64_t *match;            /* [npatterns][words] bit i: pattern matches node i */
	uint64_t *scratch;          /* [words] union of a token's patterns */
	size_t words;
	unsigned char *is_locked;   /* [total] */
	int *lcount;                /* [N] locked tokens given to each node */
	int *ucount;                /* [N] unlocked tokens currently owned */
	int *target;                /* [N] unlocked tokens each node should own */
	int *kept;                  /* [N] current tokens kept so far */
	int *need;                  /* [N] tokens still to receive */
	struct slot_ref *slots;     /* [N] */
};

static void plan_work_free(struct plan_work *w)
{
	free(w->nodes);
	free(w->rank);
	free(w->locks);
	free(w->match);
	free(w->scratch);
	free(w->is_locked);
	free(w->lcount);
	free(w->ucount);
	free(w->target);
	free(w->kept);
	free(w->need);
	free(w->slots);
}

/* Current owner of token t, with departed (out of range) owners read as -1. */
static int current_owner(const struct tokens_input *in, int t)
{
	int o;

	if (in->owner == NULL)
		return -1;
	o = in->owner[t];
	return (o >= 0 && o < in->nnodes) ? o : -1;
}

static int bit_test(const uint64_t *set, int i)
{
	return (int)((set[i / 64] >> (i % 64)) & 1u);
}

/*
 * Sort the usable locks (token in range, pattern set), give each distinct
 * pattern an id and compute, once per pattern, which nodes it matches.
 */
static int plan_prepare_locks(const struct tokens_input *in, int total, int n,
			      struct plan_work *w)
{
	size_t npat = 0;

	w->locks = malloc((in->nlocks ? in->nlocks : 1) * sizeof(*w->locks));
	if (w->locks == NULL)
		return -1;
	for (size_t i = 0; i < in->nlocks; i++) {
		const struct tokens_lock *l = &in->locks[i];

		if (l->pattern == NULL || l->token < 0 || l->token >= total)
			continue;
		w->locks[w->nlocks].token = l->token;
		w->locks[w->nlocks].pattern = l->pattern;
		w->locks[w->nlocks].pid = 0;
		w->nlocks++;
	}
	if (w->nlocks == 0)
		return 0;
	qsort(w->locks, w->nlocks, sizeof(*w->locks), cmp_lock_pattern);
	for (size_t i = 0; i < w->nlocks; i++) {
		if (i > 0 && strcmp(w->locks[i].pattern, w->locks[i - 1].pattern) != 0)
			npat++;
		w->locks[i].pid = (int)npat;
	}
	npat++;
	w->words = n > 0 ? ((size_t)n + 63) / 64 : 1;
	w->match = calloc(npat * w->words, sizeof(uint64_t));
	w->scratch = calloc(w->words, sizeof(uint64_t));
	if (w->match == NULL || w->scratch == NULL)
		return -1;
	for (size_t i = 0; i < w->nlocks; i++) {
		if (i > 0 && w->locks[i].pid == w->locks[i - 1].pid)
			continue;
		uint64_t *set = w->match + (size_t)w->locks[i].pid * w->words;
		for (int k = 0; k < n; k++)
			if (like_match(w->locks[i].pattern, in->names[k]))
				set[k / 64] |= (uint64_t)1 << (k % 64);
	}
	qsort(w->locks, w->nlocks, sizeof(*w->locks), cmp_lock_token);
	return 0;
}

/* Union of the match sets of locks [from, to) (all of one token). */
static const uint64_t *token_match_set(struct plan_work *w, size_t from, size_t to)
{
	if (to - from == 1)
		return w->match + (size_t)w->locks[from].pid * w->words;
	memset(w->scratch, 0, w->words * sizeof(uint64_t));
	for (size_t i = from; i < to; i++) {
		const uint64_t *set = w->match + (size_t)w->locks[i].pid * w->words;
		for (size_t k = 0; k < w->words; k++)
			w->scratch[k] |= set[k];
	}
	return w->scratch;
}

/*
 * Locked tokens, in two passes so the result does not depend on token order
 * more than necessary: first every token whose owner still matches stays,
 * then each remaining one (ascending id) goes to the matching node with the
 * fewest locked tokens so far, ties to the smallest name; none -> -1.
 */
static void plan_locked(const struct tokens_input *in, int n, struct plan_work *w,
			struct tokens_plan *out)
{
	size_t i, j;

	for (i = 0; i < w->nlocks; i = j) {
		int t = w->locks[i].token;
		int o = current_owner(in, t);

		for (j = i; j < w->nlocks && w->locks[j].token == t; j++)
			;
		w->is_locked[t] = 1;
		out->locked++;
		out->owner[t] = -1;
		if (o >= 0 && bit_test(token_match_set(w, i, j), o)) {
			out->owner[t] = o;
			w->lcount[o]++;
		}
	}
	for (i = 0; i < w->nlocks; i = j) {
		int t = w->locks[i].token;
		int o = current_owner(in, t);
		int best = -1;

		for (j = i; j < w->nlocks && w->locks[j].token == t; j++)
			;
		if (out->owner[t] >= 0)
			continue;
		const uint64_t *set = token_match_set(w, i, j);
		for (int k = 0; k < n; k++) {
			int idx = w->nodes[k].idx;

			if (bit_test(set, idx) && (best < 0 || w->lcount[idx] < w->lcount[best]))
				best = idx;
		}
		out->owner[t] = best;
		if (best >= 0)
			w->lcount[best]++;
		else
			out->unowned_locked++;
		if (best != o)
			out->moved++;
	}
}

/*
 * Unlocked tokens: targets q or q+1, the extra slots to the nodes that own
 * the most now (so the most tokens can stay); each node keeps its lowest ids
 * up to its target, and the rest, with the orphans, fill the deficits in name
 * order, ascending token id. Moves = U - sum min(current, target), the least
 * possible.
 */
static void plan_unlocked(const struct tokens_input *in, int total, int n,
			  struct plan_work *w, struct tokens_plan *out)
{
	int unlocked = total - out->locked;
	int q, r, k = 0;

	for (int t = 0; t < total; t++) {
		int o = current_owner(in, t);

		if (!w->is_locked[t] && o >= 0)
			w->ucount[o]++;
	}
	q = unlocked / n;
	r = unlocked % n;
	for (int i = 0; i < n; i++) {
		w->slots[i].count = w->ucount[i];
		w->slots[i].rank = w->rank[i];
		w->slots[i].idx = i;
	}
	qsort(w->slots, (size_t)n, sizeof(*w->slots), cmp_slot);
	for (int i = 0; i < n; i++) {
		int idx = w->slots[i].idx;

		w->target[idx] = q + (i < r ? 1 : 0);
		w->need[idx] = w->ucount[idx] < w->target[idx] ? w->target[idx] - w->ucount[idx] : 0;
	}

	for (int t = 0; t < total; t++) {
		int o;

		if (w->is_locked[t])
			continue;
		o = current_owner(in, t);
		if (o >= 0 && w->kept[o] < w->target[o]) {
			w->kept[o]++;
			out->owner[t] = o;
			continue;
		}
		/* Next node, in name order, still short of its target. */
		while (w->need[w->nodes[k].idx] == 0)
			k++;
		w->need[w->nodes[k].idx]--;
		out->owner[t] = w->nodes[k].idx;
		out->moved++;
	}
}

int tokens_plan(const struct tokens_input *in, struct tokens_plan *out)
{
	struct plan_work w;
	int total = in->total > 0 ? in->total : 0;
	int n = in->nnodes > 0 ? in->nnodes : 0;
	size_t nn = n > 0 ? (size_t)n : 1;

	memset(&w, 0, sizeof(w));
	memset(out, 0, sizeof(*out));
	out->owner = malloc((total > 0 ? (size_t)total : 1) * sizeof(int));
	w.nodes = malloc(nn * sizeof(*w.nodes));
	w.rank = malloc(nn * sizeof(int));
	w.is_locked = calloc(total > 0 ? (size_t)total : 1, 1);
	w.lcount = calloc(nn, sizeof(int));
	w.ucount = calloc(nn, sizeof(int));
	w.target = calloc(nn, sizeof(int));
	w.kept = calloc(nn, sizeof(int));
	w.need = calloc(nn, sizeof(int));
	w.slots = malloc(nn * sizeof(*w.slots));
	if (out->owner == NULL || w.nodes == NULL || w.rank == NULL || w.is_locked == NULL ||
	    w.lcount == NULL || w.ucount == NULL || w.target == NULL || w.kept == NULL ||
	    w.need == NULL || w.slots == NULL)
		goto fail;

	for (int i = 0; i < n; i++) {
		w.nodes[i].name = in->names[i];
		w.nodes[i].idx = i;
	}
	qsort(w.nodes, (size_t)n, sizeof(*w.nodes), cmp_node_name);
	for (int k = 0; k < n; k++)
		w.rank[w.nodes[k].idx] = k;

	if (plan_prepare_locks(in, total, n, &w) != 0)
		goto fail;
	plan_locked(in, n, &w, out);

	if (n == 0) {
		for (int t = 0; t < total; t++)
			if (!w.is_locked[t])
				out->owner[t] = -1;
	} else {
		plan_unlocked(in, total, n, &w, out);
	}
	plan_work_free(&w);
	return 0;

fail:
	plan_work_free(&w);
	tokens_plan_free(out);
	return -1;
}

void tokens_plan_free(struct tokens_plan *plan)
{
	free(plan->owner);
	plan->owner = NULL;
}
