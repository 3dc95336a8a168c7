/* taskset.c: a hash table of listed tasks with a queue of the claimable ones. */
#include "supervisor/taskset.h"

#include <stdlib.h>
#include <string.h>

static const char *const state_names[TASK_NSTATES] = {
	"pending", "foreign", "claiming", "running", "waiting", "auditing", "done",
};

const char *taskset_state_name(enum task_state s)
{
	return s < TASK_NSTATES ? state_names[s] : "?";
}

/* FNV-1a over the id bytes. */
static uint64_t hash_id(const char *id, size_t len)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)id[i];
		h *= 1099511628211ull;
	}
	return h;
}

int taskset_init(struct taskset *ts)
{
	memset(ts, 0, sizeof *ts);
	ts->nbuckets = 1024;
	ts->buckets = calloc(ts->nbuckets, sizeof *ts->buckets);
	return ts->buckets ? 0 : -1;
}

void taskset_free(struct taskset *ts)
{
	for (size_t i = 0; i < ts->n; i++) {
		free(ts->all[i]->id);
		free(ts->all[i]->message);
		free(ts->all[i]);
	}
	free(ts->all);
	free(ts->buckets);
	memset(ts, 0, sizeof *ts);
}

/* Double the bucket array when the load passes 1. */
static int grow_buckets(struct taskset *ts)
{
	size_t nb = ts->nbuckets * 2;
	struct task **b = calloc(nb, sizeof *b);
	if (!b)
		return -1;
	for (size_t i = 0; i < ts->n; i++) {
		struct task *t = ts->all[i];
		size_t k = hash_id(t->id, t->len) & (nb - 1);
		t->hnext = b[k];
		b[k] = t;
	}
	free(ts->buckets);
	ts->buckets = b;
	ts->nbuckets = nb;
	return 0;
}

struct task *taskset_find(const struct taskset *ts, const char *id, size_t len)
{
	size_t k = hash_id(id, len) & (ts->nbuckets - 1);
	for (struct task *t = ts->buckets[k]; t; t = t->hnext)
		if (t->len == len && !memcmp(t->id, id, len))
			return t;
	return NULL;
}

static void enqueue(struct taskset *ts, struct task *t)
{
	if (t->queued)
		return;
	t->queued = true;
	t->qnext = NULL;
	if (ts->qtail)
		ts->qtail->qnext = t;
	else
		ts->qhead = t;
	ts->qtail = t;
}

void taskset_set(struct taskset *ts, struct task *t, enum task_state state)
{
	ts->count[t->state]--;
	ts->count[state]++;
	/* A task leaves the queue only through taskset_take(), which skips stale entries. */
	if (state == TASK_PENDING)
		enqueue(ts, t);
	t->state = state;
}

struct task *taskset_add(struct taskset *ts, const char *id, size_t len, int token,
			 const uint8_t *owned, bool *added)
{
	struct task *t = taskset_find(ts, id, len);
	*added = false;
	if (t)
		return t;
	if (ts->n + 1 > ts->nbuckets && grow_buckets(ts) < 0)
		return NULL;
	if (ts->n == ts->cap) {
		size_t cap = ts->cap ? ts->cap * 2 : 256;
		struct task **all = realloc(ts->all, cap * sizeof *all);
		if (!all)
			return NULL;
		ts->all = all;
		ts->cap = cap;
	}
	t = calloc(1, sizeof *t);
	if (!t || !(t->id = malloc(len + 1))) {
		free(t);
		return NULL;
	}
	memcpy(t->id, id, len);
	t->id[len] = '\0';
	t->len = len;
	t->token = token;
	t->state = owned[token] ? TASK_PENDING : TASK_FOREIGN;
	ts->count[t->state]++;
	if (t->state == TASK_PENDING)
		enqueue(ts, t);
	size_t k = hash_id(id, len) & (ts->nbuckets - 1);
	t->hnext = ts->buckets[k];
	ts->buckets[k] = t;
	ts->all[ts->n++] = t;
	*added = true;
	return t;
}

size_t taskset_take(struct taskset *ts, const uint8_t *owned, struct task **out, size_t max)
{
	size_t n = 0;
	while (n < max && ts->qhead) {
		struct task *t = ts->qhead;
		ts->qhead = t->qnext;
		if (!ts->qhead)
			ts->qtail = NULL;
		t->queued = false;
		if (t->state != TASK_PENDING)
			continue; /* stale queue entry */
		if (!owned[t->token]) {
			taskset_set(ts, t, TASK_FOREIGN);
			continue;
		}
		out[n++] = t;
	}
	return n;
}

size_t taskset_adopt(struct taskset *ts, const uint8_t *owned)
{
	size_t n = 0;
	if (ts->count[TASK_FOREIGN] == 0)
		return 0;
	for (size_t i = 0; i < ts->n; i++) {
		struct task *t = ts->all[i];
		if (t->state == TASK_FOREIGN && owned[t->token]) {
			taskset_set(ts, t, TASK_PENDING);
			n++;
		}
	}
	return n;
}
