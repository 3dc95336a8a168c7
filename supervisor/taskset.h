/* taskset.h: the tasks of one date as this node sees them, and their states (pure). */
#ifndef JOBSYNC_TASKSET_H
#define JOBSYNC_TASKSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A task's life on one node:
 *   PENDING   listed, its token owned here, not yet claimed
 *   FOREIGN   listed, its token owned elsewhere (or not at all)
 *   CLAIMING  in a claim statement
 *   RUNNING   claimed by this node (fence known), handed to a worker
 *   WAITING   failed attempt, claim kept, retry after ready_ms
 *   AUDITING  finished (done or failed), in an audit statement
 *   DONE      audited (by this node or, as far as we know, by another)
 */
enum task_state {
	TASK_PENDING,
	TASK_FOREIGN,
	TASK_CLAIMING,
	TASK_RUNNING,
	TASK_WAITING,
	TASK_AUDITING,
	TASK_DONE,
	TASK_NSTATES
};

struct task {
	char *id;
	size_t len;
	int token;
	enum task_state state;
	int attempts;               /* attempts started */
	int64_t fence;              /* fencing number of this node's claim */
	uint64_t ready_ms;          /* WAITING: retry not before this */
	uint64_t started_ms;        /* start of the current attempt */
	int duration_ms;            /* of the last attempt */
	int exit_status;            /* last attempt: exit status, or 128 + signal */
	char *message;              /* last failure message (stderr tail, protocol text) */
	bool failed;                /* AUDITING: the audit says failed */
	bool queued;                /* in the pending queue */
	int slot;                   /* stream/batch: the child it was given to */
	struct task *hnext;         /* hash chain */
	struct task *qnext;         /* pending queue */
};

struct taskset {
	struct task **buckets;
	size_t nbuckets;
	struct task **all;          /* in listing order */
	size_t n, cap;
	struct task *qhead, *qtail; /* PENDING tasks in order */
	size_t count[TASK_NSTATES];
};

int taskset_init(struct taskset *ts);
void taskset_free(struct taskset *ts);

/*
 * Add a listed id (its token precomputed) as PENDING when owned[token], else
 * FOREIGN. A known id is left as it is. Returns the task, or NULL on
 * allocation failure. *added tells whether it was new.
 */
struct task *taskset_add(struct taskset *ts, const char *id, size_t len, int token,
			 const uint8_t *owned, bool *added);

struct task *taskset_find(const struct taskset *ts, const char *id, size_t len);

/* Move a task to state (keeps counts; PENDING tasks are queued in order). */
void taskset_set(struct taskset *ts, struct task *t, enum task_state state);

/* Take up to max PENDING tasks whose token is still owned (others become FOREIGN). */
size_t taskset_take(struct taskset *ts, const uint8_t *owned, struct task **out, size_t max);

/* Tokens changed: FOREIGN tasks of owned tokens become PENDING. Returns how many. */
size_t taskset_adopt(struct taskset *ts, const uint8_t *owned);

const char *taskset_state_name(enum task_state s);

#endif
