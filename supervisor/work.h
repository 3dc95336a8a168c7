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
struct json_t;
struct config;
struct config_diff;

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
	/* Optional: SIGHUP changed [worker] (n->cfg is new, old the previous): apply it live. */
	void (*reload)(struct work *w, const struct config *old);
	/* Optional: the node is unfenced: start again what the fence stopped. */
	void (*resume)(struct work *w);
	/* Status: append one snapshot_child() object per child to the JSON array. */
	void (*status)(struct work *w, struct json_t *children);
	/* Free w->mode_state once every child has exited. */
	void (*free)(struct work *w);
};

/* Upper bounds (seconds) of the task duration histogram; one more bucket is +Inf. */
#define WORK_DURATION_BUCKETS 12
extern const double work_duration_bounds[WORK_DURATION_BUCKETS];

/* Progress counters of this node for the date (status, logs, metrics). */
struct work_counters {
	uint64_t claimed, done, failed, retried, rejected, skipped;
	/* Attempts by duration: [i] counts those <= bounds[i] (cumulative at export). */
	uint64_t duration[WORK_DURATION_BUCKETS + 1];
	uint64_t attempts;
	double duration_sum_sec;
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
	struct source **old_src;     /* sources replaced by a reload: closed, freed with w */
	size_t nold_src;
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

/*
 * SIGHUP: n->cfg is the new config (old the previous one, d what changed).
 * The mode applies [worker] changes (new tasks use them; running ones finish),
 * and a changed [tasks] restarts the source, which lists again.
 */
void work_reload(struct work *w, const struct config *old, const struct config_diff *d);

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
