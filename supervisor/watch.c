/* watch.c: wait on another node's session lock; NOTIFY when it ends (see watch.h). */
#include "supervisor/watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/log.h"
#include "supervisor/node.h"

static void watch_kick(struct watch *w);

static bool peer_same(const struct watch_peer *a, const struct watch_peer *b)
{
	return a->key == b->key && !strcmp(a->name, b->name);
}

static void on_gone(struct pg_conn *c, const PGresult *res, void *arg)
{
	struct watch *w = arg;
	(void)c;
	w->inflight = false;
	if (res && PQresultStatus(res) != PGRES_TUPLES_OK)
		log_warn("watch: reporting the end of node %s failed: %s", w->running.name,
			 PQresultErrorMessage(res));
	else                      /* unlocked, or the lock went with the lost session */
		w->held = false;
	if (!w->held)
		w->running.name[0] = '\0';
	watch_kick(w);
}

/*
 * The lock was granted: the watched session ended (a crash, or a leave).
 * Give the lock back at once (while this connection holds it the node would
 * still look alive) and tell the cluster. Never sent while a cancel is under
 * way, which could otherwise hit this statement instead.
 */
static void report_gone(struct watch *w)
{
	char key[16];
	snprintf(key, sizeof key, "%d", w->running.key);
	const char *p[] = {key, w->n->sql.channel, w->running.name};
	if (pg_query(&w->pg, w->n->sql.sql[STORE_WATCH_GONE], 3, p, on_gone, w) == 0)
		w->inflight = true;
}

static void on_watch(struct pg_conn *c, const PGresult *res, void *arg)
{
	struct watch *w = arg;
	(void)c;
	w->inflight = false;
	if (!res) {               /* connection lost: the reconnect sends it again */
		w->running.name[0] = '\0';
		return;
	}
	if (PQresultStatus(res) == PGRES_TUPLES_OK) {
		log_info("watch: the session of node %s ended", w->running.name);
		w->held = true;
		w->gone = w->running; /* see watch_target */
		if (peer_same(&w->target, &w->running))
			w->target.name[0] = '\0';
	} else {
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		if (!state || strcmp(state, "57014")) /* not a cancel: retried at the next heartbeat */
			log_warn("watch: waiting on node %s failed: %s", w->running.name,
				 PQresultErrorMessage(res));
		w->running.name[0] = '\0';
	}
	watch_kick(w);
}

static void cancel_work(uv_work_t *req)
{
	struct watch *w = req->data;
	if (!PQcancel(w->cancel, w->cancel_err, sizeof w->cancel_err))
		w->cancel_err[sizeof w->cancel_err - 1] = '\0';
	else
		w->cancel_err[0] = '\0';
}

static void on_closed(struct pg_conn *c)
{
	struct watch *w = c->ud;
	if (w->closed_cb)
		w->closed_cb(w);
}

static void cancel_done(uv_work_t *req, int status)
{
	struct watch *w = req->data;
	(void)status;
	PQfreeCancel(w->cancel);
	w->cancel = NULL;
	w->cancelling = false;
	if (w->cancel_err[0])
		log_warn("watch: cancelling the wait on node %s failed: %s", w->running.name,
			 w->cancel_err);
	if (w->closing)
		pg_close(&w->pg, on_closed);
	else
		watch_kick(w);
}

/* Stop the statement in flight (it waits on a lock: only a cancel ends it). */
static void watch_cancel(struct watch *w)
{
	if (w->cancelling || !w->pg.conn || !(w->cancel = PQgetCancel(w->pg.conn)))
		return;
	w->cancelling = true;
	w->cancel_sent = true;
	w->cancel_req.data = w;
	if (uv_queue_work(w->n->loop, &w->cancel_req, cancel_work, cancel_done) < 0) {
		PQfreeCancel(w->cancel);
		w->cancel = NULL;
		w->cancelling = false;
	}
}

/* Bring the statement in flight in line with the target. */
static void watch_kick(struct watch *w)
{
	char key[16];
	if (w->closing || w->cancelling || !pg_ready(&w->pg))
		return;
	if (w->inflight) {
		if (!w->held && !w->cancel_sent && !peer_same(&w->running, &w->target))
			watch_cancel(w);
		return;
	}
	if (w->held) {
		report_gone(w);
		return;
	}
	if (!w->target.name[0])
		return;
	snprintf(key, sizeof key, "%d", w->target.key);
	const char *p[] = {key};
	if (pg_query(&w->pg, w->n->sql.sql[STORE_WATCH], 1, p, on_watch, w) == 0) {
		w->inflight = true;
		w->cancel_sent = false;
		w->running = w->target;
	}
}

void watch_target(struct watch *w, const char *name_key)
{
	const char *sp = name_key ? strrchr(name_key, ' ') : NULL;
	size_t len = sp ? (size_t)(sp - name_key) : 0;
	if (!w->open || w->closing)
		return;
	if (!sp || len == 0 || len >= sizeof w->target.name) {
		w->target.name[0] = '\0';
	} else {
		memcpy(w->target.name, name_key, len);
		w->target.name[len] = '\0';
		w->target.key = atoi(sp + 1);
		/* While this node's heartbeats skip session checks (just after it
		 * connected) they may name a session that has ended: not again. */
		if (peer_same(&w->target, &w->gone) && strcmp(node_session_param(w->n), "true"))
			w->target.name[0] = '\0';
	}
	/* Also retries a statement that failed, at most once a heartbeat. */
	watch_kick(w);
}

static void on_connected(struct pg_conn *c, void *ud)
{
	struct watch *w = ud;
	w->inflight = w->held = false;
	w->running.name[0] = '\0';
	pg_query(c, w->n->sql.sql[STORE_WATCH_SETUP], 0, NULL, NULL, NULL);
	watch_kick(w);
}

static void on_disconnected(struct pg_conn *c, const char *why, void *ud)
{
	struct watch *w = ud;
	(void)c;
	(void)why;
	w->inflight = w->held = false;
	w->running.name[0] = '\0';
}

static const struct pg_handlers watch_handlers = {
	.connected = on_connected,
	.disconnected = on_disconnected,
};

int watch_start(struct watch *w, struct node *n)
{
	const struct config *cfg = n->cfg;
	memset(w, 0, sizeof *w);
	w->n = n;
	/* No query deadline: the statement is meant to wait as long as the node lives. */
	if (pg_init(&w->pg, n->loop, cfg->dsn ? cfg->dsn : "", &watch_handlers, w,
		    cfg->connect_timeout_sec * 1000, cfg->reconnect_max_sec * 1000, 0) < 0)
		return -1;
	w->open = true;
	pg_set_appname(&w->pg, cfg->node, "watch");
	pg_start(&w->pg);
	return 0;
}

void watch_close(struct watch *w, void (*cb)(struct watch *w))
{
	if (!w->open || w->closing)
		return;
	w->closing = true;
	w->closed_cb = cb;
	if (w->inflight && pg_ready(&w->pg))
		watch_cancel(w);
	if (!w->cancelling)
		pg_close(&w->pg, on_closed);
}
