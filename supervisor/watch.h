/* watch.h: wait on another node's session lock, so that its end is seen at once. */
#ifndef JOBSYNC_WATCH_H
#define JOBSYNC_WATCH_H

#include <stdbool.h>

#include <libpq-fe.h>
#include <uv.h>

#include "supervisor/pg.h"

struct node;

/*
 * Every node holds a session-level advisory lock while it lives. Each node
 * also keeps one statement waiting for the lock of one other node (its next
 * older one; the oldest watches the youngest), on a connection of its own.
 * PostgreSQL grants that lock the moment the watched session ends, so a
 * crash is seen within milliseconds with no polling: the watcher unlocks and
 * NOTIFYs "gone NAME", and the leader (or the heir, for the leader) acts on
 * it. Idle, this costs no statement at all; the target comes with each
 * heartbeat and a new statement is sent only when it changes (the old one is
 * cancelled from the thread pool, as PQcancel blocks).
 */
/* A watched session: the node's name and the key of its session lock. */
struct watch_peer {
	char name[128];           /* "" = none */
	int key;
};

struct watch {
	struct node *n;
	struct pg_conn pg;
	bool open;                /* pg_init succeeded */
	bool closing;
	struct watch_peer target;  /* to watch, from the last heartbeat */
	struct watch_peer running; /* of the statement in flight */
	struct watch_peer gone;    /* the last session seen ending (see watch_target) */
	bool inflight;            /* a WATCH or GONE statement is in flight */
	bool held;                /* the WATCH was granted: unlock and report it */
	bool cancelling;          /* PQcancel is running in the thread pool */
	bool cancel_sent;         /* for the statement in flight */
	uv_work_t cancel_req;
	PGcancel *cancel;
	char cancel_err[256];
	void (*closed_cb)(struct watch *w);
};

/* Prepare and connect (coordination on only). Returns 0 or -1. */
int watch_start(struct watch *w, struct node *n);

/* The node to watch, from a heartbeat: "NAME KEY", or NULL/"" for none. */
void watch_target(struct watch *w, const char *name_key);

/* Cancel the waiting statement and close; cb runs once everything is closed. */
void watch_close(struct watch *w, void (*cb)(struct watch *w));

#endif
