/* leader.h: the leader's duties: dead-node removal and token distribution. */
#ifndef JOBSYNC_LEADER_H
#define JOBSYNC_LEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "supervisor/tokens.h"

struct node;

/* What the leader knows; valid only while it leads in `term`. */
struct leader {
	bool active;
	int64_t term;
	bool busy, again;          /* one pass at a time; `again` queues one more */
	bool tokens_loaded, locks_loaded;
	int total;
	int *owner;                /* [total] index into names, -1 = none */
	char **names;              /* every owner name seen, interned */
	int nnames, capnames;
	struct tokens_lock *locks;
	size_t nlocks;
	char lock_fp[160];
	bool lock_changed;         /* the lock table changed since the last commit */
	bool leave_seen;           /* a node announced its leave since the last commit */
	char **live;               /* live nodes of the last pass, sorted */
	int nlive;
	char **gone;               /* removed or present-but-not-alive in the last pass, sorted */
	int ngone;
	uint64_t since_ms, grew_ms, pass_ms, full_ms;
	bool pruned;               /* pruned at least once in this term */
	uint64_t pruned_ms;
	bool waiting_logged;
};

int leader_init(struct leader *l, int total);
void leader_free(struct leader *l);

/* This node now leads in term: forget caches and run a pass. */
void leader_start(struct node *n, int64_t term);

/* This node no longer leads. */
void leader_stop(struct node *n, const char *why);

/* Run one pass of leader duties (queued if one is running). */
void leader_tick(struct node *n);

/* A lock changed (NOTIFY): reload locks on the next pass. */
void leader_locks_changed(struct node *n);

/* A node announced its leave (NOTIFY); remembered even before this node leads,
 * since the leaver may be the leader itself. */
void leader_leave_seen(struct node *n);

#endif
