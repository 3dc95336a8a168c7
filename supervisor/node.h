/* node.h: one jobsync node: the loop, its connection, membership, leadership, tokens. */
#ifndef JOBSYNC_NODE_H
#define JOBSYNC_NODE_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "config/config.h"
#include "supervisor/leader.h"
#include "supervisor/pg.h"
#include "supervisor/sdnotify.h"
#include "supervisor/store.h"
#include "supervisor/watch.h"

struct health;

enum node_state {
	NODE_STARTING,   /* connecting, creating the schema, registering */
	NODE_COLD_START, /* registered, waiting for a first distribution */
	NODE_RUNNING,    /* registered and owning tokens */
	NODE_FENCED,     /* heartbeat stale: not acting as an owner (G4) */
	NODE_DRAINING,   /* leaving: releasing tokens */
	NODE_STOPPED,
};

/* Steps run in order after every (re)connect. */
enum node_setup {
	SETUP_SCHEMA,
	SETUP_META,
	SETUP_SESSION,
	SETUP_LISTEN,
	SETUP_REGISTER,
	SETUP_LOCKS,
	SETUP_DONE,
};

struct node {
	uv_loop_t *loop;
	const struct config *cfg;
	struct store sql;
	struct pg_conn pg;
	struct watch watch;       /* waits on another node's session lock */
	uv_signal_t sigterm, sigint, sighup;
	uv_timer_t hb_timer;      /* heartbeat every interval */
	uv_timer_t fence_timer;   /* fires when the heartbeat has been stale too long */
	uv_timer_t leader_timer;  /* leader's full look, every rebalance_check_interval_sec */
	uv_timer_t leave_timer;   /* bound on the graceful leave */
	uv_timer_t expiry_timer;  /* leader/heir: when the next heartbeat expires */
	uv_timer_t refresh_timer; /* fallback poll for token changes */
	int open_handles;

	enum node_state state;
	enum node_setup setup;
	bool schema_ready, registered, locks_written;
	char incarnation[33];
	char host[256];
	int session_key;
	bool session_locked;
	bool session_checks;      /* the last heartbeat counted session locks (past the grace) */
	uint64_t rng;

	/* heartbeat and self-fencing */
	bool hb_inflight;
	uint64_t hb_sent_ms;
	uint64_t hb_ok_ms;        /* send time of the last successful heartbeat */
	uint64_t connected_ms;    /* when the current connection was made */

	/* leadership, as last seen */
	bool is_leader;
	bool is_heir;             /* second oldest: takes over if the leader dies */
	int64_t term;
	char leader[128];

	/* tokens this node owns */
	uint8_t *mine;            /* [total_tokens] */
	int owned;
	int64_t token_version;    /* -1 = fetch everything */
	bool fetch_inflight, fetch_again;
	bool tokens_received;

	struct leader leader_state;
	struct work *work;        /* task engine, when [tasks] has a source */
	struct services *services; /* [service.NAME], run while leading */
	struct cronsched *cron;   /* [cron.NAME], fired while leading */
	struct health *health;    /* status file and HTTP endpoint */
	uint64_t token_changes;   /* times this node's token set changed (metrics) */
	uint64_t distributions;   /* distributions this node committed as leader (metrics) */
	struct sdnotify notify;   /* READY/STOPPING/WATCHDOG/STATUS to NOTIFY_SOCKET */
	const char *date;         /* --date, or NULL for today */

	/* SIGHUP reload (supervisor/reload.c); the counters are for status and metrics. */
	const char *node_override; /* --node, applied again to every reloaded file */
	uint64_t reloads;         /* reloads applied (a file without changes counts too) */
	uint64_t reload_failures; /* reloads refused: invalid file or a key needing a restart */
	bool last_reload_ok;      /* outcome of the last SIGHUP (true before any) */
	int64_t last_reload_unix; /* wall-clock second of the last SIGHUP, 0 = none */
	struct config **reloaded; /* configs loaded by reloads (the current one too), freed at exit */
	size_t nreloaded;

	int exit_code;
	bool stopping;
	bool pg_open;             /* pg_init succeeded: pg must be closed */
};

/*
 * Run a node until it stops (date: --date or NULL; node_override: --node or
 * NULL, applied again on reload); returns the process exit code.
 */
int node_run(const struct config *cfg, const char *date, const char *node_override);

/* Leave the cluster as on SIGTERM (drain first); exit with code. */
void node_request_leave(struct node *n, int code);

/* Monotonic milliseconds of the loop. */
uint64_t node_now_ms(const struct node *n);

/* Ask the node to stop with the given exit code (closes every handle). */
void node_shutdown(struct node *n, int code);

/* The heartbeat timeout as a text parameter, in seconds. */
const char *node_timeout_param(const struct node *n, char *buf, size_t len);

/*
 * "true" when liveness may count on session locks: not within a grace period
 * (one heartbeat interval plus 2 s) after this node (re)connected, because a
 * database restart ends every node's session at once.
 */
const char *node_session_param(const struct node *n);

/* Tokens changed: fetch this node's tokens newer than the version it has. */
void node_fetch_tokens(struct node *n);

/*
 * Leader and heir: look again just after the next heartbeat expires (sec from
 * now, a number as text, or NULL/empty for none), so a hung node is caught at
 * the timeout rather than up to a tick later.
 */
void node_watch_expiry(struct node *n, const char *sec);

/* Enter state s (status file, readiness and sd_notify follow). */
void node_set_state(struct node *n, enum node_state s);

/* Apply a heartbeat or claim result: leadership as the database sees it. */
void node_set_leader(struct node *n, bool me, int64_t term, const char *leader);

/*
 * Write the [lock.NAME] sections of n->cfg (one statement; NOTIFYs 'lock');
 * done gets the result. 0, or -1 when it could not be sent.
 */
int node_put_locks(struct node *n, pg_result_fn done);

#endif
