/* work.h: the node's task engine: list, claim, run, retry and audit the tasks it owns. */
#ifndef JOBSYNC_WORK_H
#define JOBSYNC_WORK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "supervisor/pg.h"
#include "supervisor/taskset.h"

struct node;
struct work;
struct child;

/* What a worker mode (exec, stream, batch) offers the engine. */
struct mode_ops {
	const char *name;
	/* Allocate w->mode_state; 0 or -1 (logged). */
	int (*init)(struct work *w);
	/* How many more tasks the mode can start now. */
	size_t (*free_slots)(struct work *w);
	/* Start one claimed task (the mode calls work_finished() later). */
	void (*start)(struct work *w, struct task *t);
	/* Stop every running task: stop signal then SIGKILL after grace_ms. */
	void (*stop_all)(struct work *w, uint64_t grace_ms);
	/* Tasks running now. */
	size_t (*active)(struct work *w);
	/* Optional: the engine handed over what it could start now (batch mode). */
	void (*flush)(struct work *w);
	/* Optional: close the mode's own handles (the node is shutting down). */
	void (*close)(struct work *w);
	/* Free w->mode_state once every child has exited. */
	void (*free)(struct work *w);
};

/* Progress counters of this node for the date (status, logs). */
struct work_counters {
	uint64_t claimed, done, failed, retried, rejected, skipped;
};

struct work {
	struct node *n;
	const struct mode_ops *mode;
	void *mode_state;
	struct taskset ts;
	char date[11];
	struct pg_conn claim_pg, audit_pg;
	int open_conns;
	uv_timer_t tick;             /* retries, adoption, batch-completion checks */
	uv_timer_t audit_timer;      /* a short linger that batches audits */
	bool audit_due;
	struct task **ready;         /* claimed, waiting for a free slot */
	size_t nready, capready;
	struct task **auditq;        /* finished, waiting for the audit statement */
	size_t naudit, capaudit;
	bool claim_inflight, audit_inflight, check_inflight, release_inflight;
	struct task **releaseq;      /* claims to give back */
	size_t nrelease, caprelease;
	bool listing_done;           /* batch: the one listing finished */
	bool local;                  /* coordination off: no claims or audits in a database */
	bool fenced, draining, stopped;
	bool pumping, pump_again;
	uint64_t drain_deadline_ms;
	void (*drained)(struct node *n);
	struct work_counters c;
	struct source *src;
};

/* Start the engine for cfg->tasks / cfg->worker. Returns NULL on failure (logged). */
struct work *work_new(struct node *n);

/* Tokens changed (the node's owned map): adopt, release what moved away. */
void work_tokens_changed(struct work *w);

/* The node lost its heartbeat: stop claiming and stop the running tasks (G4). */
void work_fence(struct work *w);
/* The heartbeat is accepted again: release old claims and resume. */
void work_unfence(struct work *w);

/* Graceful stop: no new claims; running tasks get stop_timeout_sec; then done(n). */
void work_drain(struct work *w, void (*done)(struct node *n));
/* A second signal: stop the running tasks now. */
void work_stop_now(struct work *w);

/* A NOTIFY on the task channel: relist now. */
void work_notify(struct work *w, const char *channel);

/* Close connections and handles; the node's loop ends once they are closed. */
void work_close(struct work *w);
void work_free(struct work *w);

/* Called by the sources with each listed id (the listing of this date). */
void work_listed(struct work *w, const char *id, size_t len);
/* Called by the sources when a listing ended (ok = complete). */
void work_listing_done(struct work *w, bool ok);

/* Called by the modes when an attempt ended: ok, or failed with status/message. */
void work_finished(struct work *w, struct task *t, bool ok, int exit_status, const char *msg);

/* The environment of a child: the node's, plus JOBSYNC_* (task may be NULL). */
char **work_env(struct work *w, const struct task *t);
void work_env_free(char **env);

#endif
