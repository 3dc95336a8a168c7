/* pg.h: one asynchronous PostgreSQL connection on the libuv loop. */
#ifndef JOBSYNC_PG_H
#define JOBSYNC_PG_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>
#include <uv.h>

struct pg_conn;

/*
 * Result of one query: res is the final PGresult (owned by pg; valid during
 * the callback only), or NULL when the connection failed before it finished.
 */
typedef void (*pg_result_fn)(struct pg_conn *c, const PGresult *res, void *arg);

struct pg_handlers {
	void (*connected)(struct pg_conn *c, void *ud);
	/* The connection is gone; pg reconnects by itself after a backoff. */
	void (*disconnected)(struct pg_conn *c, const char *why, void *ud);
	void (*notify)(struct pg_conn *c, const char *channel, const char *payload, void *ud);
};

struct pg_query;

enum pg_state { PG_IDLE, PG_CONNECTING, PG_READY, PG_BACKOFF, PG_CLOSING };

struct pg_conn {
	uv_loop_t *loop;
	char *conninfo;
	char *label;                 /* conninfo with the password hidden */
	char appname[64];            /* fallback_application_name, "" = libpq's */
	PGconn *conn;
	uv_poll_t *poll;             /* on PQsocket(); replaced when the socket changes */
	int poll_fd;
	int poll_events;
	uv_timer_t timer;            /* connect deadline, then reconnect delay */
	uv_timer_t qtimer;           /* deadline of the query in flight */
	uv_getaddrinfo_t resolver;   /* host name lookup off the loop */
	bool resolving;
	char *resolved;              /* conninfo with hostaddr= added, for this attempt */
	enum pg_state state;
	struct pg_query *head, *tail;
	bool inflight;
	PGresult *result;            /* result kept while draining a multi-statement */
	uint64_t backoff_ms, rng;
	int connect_timeout_ms, reconnect_max_ms, query_timeout_ms;
	unsigned connects;            /* successful connections, the first included */
	int open_handles;
	const struct pg_handlers *h;
	void *ud;
	void (*closed_cb)(struct pg_conn *c);
};

/* Prepare c; nothing happens until pg_start(). Returns 0 or -1 (no memory). */
int pg_init(struct pg_conn *c, uv_loop_t *loop, const char *conninfo,
	    const struct pg_handlers *h, void *ud, int connect_timeout_ms,
	    int reconnect_max_ms, int query_timeout_ms);

/*
 * Name the connection in pg_stat_activity ("jobsync NODE ROLE"); a dsn's own
 * application_name wins. Call before pg_start().
 */
void pg_set_appname(struct pg_conn *c, const char *node, const char *role);

/* Begin connecting (and reconnecting whenever the connection is lost). */
void pg_start(struct pg_conn *c);

bool pg_ready(const struct pg_conn *c);

/* Connections made after the first one (metrics). */
unsigned pg_reconnects(const struct pg_conn *c);

/*
 * Queue a statement. With nparams > 0 it is sent with PQsendQueryParams
 * (text parameters, NULL = SQL NULL); with nparams == 0 with PQsendQuery, so
 * it may hold several statements. Parameters are copied; cb may be NULL when
 * the result is not wanted. Returns -1 when the connection is not ready (cb is
 * then never called).
 */
int pg_query(struct pg_conn *c, const char *sql, int nparams,
	     const char *const *params, pg_result_fn cb, void *arg);

/* Drop the connection now and reconnect after the backoff (e.g. stuck query). */
void pg_reset(struct pg_conn *c, const char *why);

/* Close everything; cb runs after the last handle is closed. */
void pg_close(struct pg_conn *c, void (*cb)(struct pg_conn *c));

#endif
