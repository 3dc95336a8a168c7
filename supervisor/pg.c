/* pg.c: libpq driven by libuv: non-blocking connect, queries, notifies, reconnect. */
#include "supervisor/pg.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "supervisor/backoff.h"
#include "supervisor/dsn.h"
#include "supervisor/log.h"

struct pg_query {
	struct pg_query *next;
	char *sql;
	int nparams;
	char **params;
	pg_result_fn cb;
	void *arg;
};

static void pg_connect_step(struct pg_conn *c);
static void pg_on_io(uv_poll_t *p, int status, int events);
static void pg_send_next(struct pg_conn *c);

static void query_free(struct pg_query *q)
{
	for (int i = 0; i < q->nparams; i++)
		free(q->params[i]);
	free(q->params);
	free(q->sql);
	free(q);
}

static void handle_closed(uv_handle_t *h)
{
	struct pg_conn *c = h->data;
	if (h->type == UV_POLL)
		free(h);
	if (--c->open_handles == 0 && c->closed_cb)
		c->closed_cb(c);
}

/* Stop watching the current socket (the handle is freed when closed). */
static void poll_drop(struct pg_conn *c)
{
	if (!c->poll)
		return;
	uv_poll_stop(c->poll);
	uv_close((uv_handle_t *)c->poll, handle_closed);
	c->poll = NULL;
	c->poll_fd = -1;
}

/* Watch PQsocket() for events, replacing the handle if the socket changed. */
static int poll_watch(struct pg_conn *c, int events)
{
	int fd = PQsocket(c->conn);
	if (fd < 0)
		return -1;
	if (c->poll && c->poll_fd != fd)
		poll_drop(c);
	if (!c->poll) {
		c->poll = malloc(sizeof *c->poll);
		if (!c->poll || uv_poll_init(c->loop, c->poll, fd) != 0) {
			free(c->poll);
			c->poll = NULL;
			return -1;
		}
		c->poll->data = c;
		c->open_handles++;
		c->poll_fd = fd;
		c->poll_events = 0;
	}
	if (c->poll_events != events) {
		c->poll_events = events;
		uv_poll_start(c->poll, events, pg_on_io);
	}
	return 0;
}

/* Fail every queued query with a NULL result; callbacks may queue no new work. */
static void fail_queries(struct pg_conn *c)
{
	struct pg_query *q = c->head;
	c->head = c->tail = NULL;
	c->inflight = false;
	while (q) {
		struct pg_query *next = q->next;
		if (q->cb)
			q->cb(c, NULL, q->arg);
		query_free(q);
		q = next;
	}
}

/* Server notices (e.g. "terminating connection") go to the log, not raw stderr. */
static void on_notice(void *arg, const char *message)
{
	struct pg_conn *c = arg;
	char msg[512];
	snprintf(msg, sizeof msg, "%s", message);
	msg[strcspn(msg, "\n")] = '\0';
	log_debug("database %s: %s", c->label, msg);
}

static void on_reconnect_timer(uv_timer_t *t)
{
	struct pg_conn *c = t->data;
	pg_start(c);
}

/* Close the libpq connection and everything watching it. */
static void drop_session(struct pg_conn *c)
{
	poll_drop(c);
	uv_timer_stop(&c->qtimer);
	if (c->result) {
		PQclear(c->result);
		c->result = NULL;
	}
	if (c->conn) {
		PQfinish(c->conn);
		c->conn = NULL;
	}
}

/* Tear down the session and schedule the next attempt after a backoff. */
static void pg_fail(struct pg_conn *c, const char *why)
{
	bool was_ready = c->state == PG_READY;
	char msg[512];

	snprintf(msg, sizeof msg, "%s", why && *why ? why : "connection lost");
	msg[strcspn(msg, "\n")] = '\0';
	dsn_scrub_message(msg, c->conninfo);
	drop_session(c);
	c->state = PG_BACKOFF;
	c->backoff_ms = backoff_next_ms(c->backoff_ms, 200,
					(uint64_t)c->reconnect_max_ms, &c->rng);
	log_warn("database %s: %s; reconnecting in %.1f s", c->label, msg,
		 (double)c->backoff_ms / 1000.0);
	uv_timer_start(&c->timer, on_reconnect_timer, c->backoff_ms, 0);
	fail_queries(c);
	if (was_ready && c->h->disconnected)
		c->h->disconnected(c, msg, c->ud);
}

static void on_connect_deadline(uv_timer_t *t)
{
	struct pg_conn *c = t->data;
	char why[64];
	snprintf(why, sizeof why, "connect timed out after %d ms", c->connect_timeout_ms);
	pg_fail(c, why);
}

static void on_query_deadline(uv_timer_t *t)
{
	struct pg_conn *c = t->data;
	char why[64];
	snprintf(why, sizeof why, "query timed out after %d ms", c->query_timeout_ms);
	pg_fail(c, why);
}

int pg_init(struct pg_conn *c, uv_loop_t *loop, const char *conninfo,
	    const struct pg_handlers *h, void *ud, int connect_timeout_ms,
	    int reconnect_max_ms, int query_timeout_ms)
{
	memset(c, 0, sizeof *c);
	c->loop = loop;
	c->h = h;
	c->ud = ud;
	c->poll_fd = -1;
	c->connect_timeout_ms = connect_timeout_ms;
	c->reconnect_max_ms = reconnect_max_ms;
	c->query_timeout_ms = query_timeout_ms;
	c->rng = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)c;
	c->conninfo = strdup(conninfo);
	c->label = dsn_redact(conninfo);
	if (!c->conninfo || !c->label)
		return -1;
	uv_timer_init(loop, &c->timer);
	uv_timer_init(loop, &c->qtimer);
	c->timer.data = c->qtimer.data = c;
	c->open_handles = 2;
	return 0;
}

/* Start libpq's non-blocking connect with conninfo (already resolved). */
static void pg_connect_begin(struct pg_conn *c, const char *conninfo)
{
	const char *keys[] = {"dbname", "fallback_application_name", NULL};
	const char *vals[] = {conninfo, c->appname[0] ? c->appname : NULL, NULL};
	c->conn = PQconnectStartParams(keys, vals, 1);
	if (!c->conn) {
		pg_fail(c, "out of memory");
		return;
	}
	if (PQstatus(c->conn) == CONNECTION_BAD) {
		pg_fail(c, PQerrorMessage(c->conn));
		return;
	}
	PQsetNoticeProcessor(c->conn, on_notice, c);
	pg_connect_step(c);
}

/* Append key='value' (quoted for conninfo) to buf; false if it does not fit. */
static bool conninfo_append(char *buf, size_t cap, const char *key, const char *val)
{
	size_t at = strlen(buf);
	int n = snprintf(buf + at, cap - at, "%s%s='", at ? " " : "", key);
	if (n < 0 || (size_t)n >= cap - at)
		return false;
	at += (size_t)n;
	for (const char *v = val; *v; v++) {
		if (at + 3 >= cap)
			return false;
		if (*v == '\\' || *v == '\'')
			buf[at++] = '\\';
		buf[at++] = *v;
	}
	if (at + 2 >= cap)
		return false;
	buf[at++] = '\'';
	buf[at] = '\0';
	return true;
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct pg_conn *c = req->data;
	char ip[INET6_ADDRSTRLEN] = "";
	c->resolving = false;
	if (c->state != PG_CONNECTING) {
		uv_freeaddrinfo(res);
		return;
	}
	if (status == 0 && res) {
		const void *addr = res->ai_family == AF_INET6
			? (const void *)&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr
			: (const void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr;
		uv_inet_ntop(res->ai_family, addr, ip, sizeof ip);
	}
	uv_freeaddrinfo(res);
	if (!*ip) {
		char why[256];
		snprintf(why, sizeof why, "cannot resolve the database host: %s",
			 status ? uv_strerror(status) : "no address");
		pg_fail(c, why);
		return;
	}
	size_t cap = strlen(c->resolved) + strlen(ip) + 16;
	char *full = malloc(cap);
	if (!full) {
		pg_fail(c, "out of memory");
		return;
	}
	snprintf(full, cap, "%s", c->resolved);
	conninfo_append(full, cap, "hostaddr", ip);
	pg_connect_begin(c, full);
	free(full);
}

/*
 * libpq resolves host names with a blocking getaddrinfo() inside
 * PQconnectPoll. For a single host name without hostaddr, resolve it with
 * uv_getaddrinfo on the thread pool and pass hostaddr= as well. Returns true
 * when a lookup was started.
 */
static bool pg_resolve_host(struct pg_conn *c)
{
	PQconninfoOption *opts = PQconninfoParse(c->conninfo, NULL), *o;
	const char *host = NULL, *hostaddr = NULL;
	bool started = false;
	size_t cap = strlen(c->conninfo) * 2 + 64;

	if (!opts)
		return false;
	for (o = opts; o->keyword; o++) {
		if (o->val && !strcmp(o->keyword, "host"))
			host = o->val;
		if (o->val && !strcmp(o->keyword, "hostaddr"))
			hostaddr = o->val;
	}
	struct in6_addr tmp;
	if (!host || !*host || hostaddr || host[0] == '/' || host[0] == '@' || strchr(host, ',') ||
	    uv_inet_pton(AF_INET, host, &tmp) == 0 || uv_inet_pton(AF_INET6, host, &tmp) == 0)
		goto cleanup;
	free(c->resolved);
	c->resolved = calloc(1, cap);
	if (!c->resolved)
		goto cleanup;
	for (o = opts; o->keyword; o++)
		if (o->val && !conninfo_append(c->resolved, cap, o->keyword, o->val))
			goto cleanup;
	c->resolver.data = c;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
	started = uv_getaddrinfo(c->loop, &c->resolver, on_resolved, host, NULL, &hints) == 0;
	c->resolving = started;
cleanup:
	PQconninfoFree(opts);
	return started;
}

void pg_set_appname(struct pg_conn *c, const char *node, const char *role)
{
	snprintf(c->appname, sizeof c->appname, "jobsync %s%s%s", node, role ? " " : "",
		 role ? role : "");
}

void pg_start(struct pg_conn *c)
{
	if (c->state == PG_CLOSING)
		return;
	c->state = PG_CONNECTING;
	uv_timer_start(&c->timer, on_connect_deadline, (uint64_t)c->connect_timeout_ms, 0);
	if (c->resolving)
		return; /* an earlier lookup is still running; it continues this attempt */
	if (!pg_resolve_host(c))
		pg_connect_begin(c, c->conninfo);
}

/* One PQconnectPoll step; wait for the socket state it asks for. */
static void pg_connect_step(struct pg_conn *c)
{
	switch (PQconnectPoll(c->conn)) {
	case PGRES_POLLING_READING:
		if (poll_watch(c, UV_READABLE) < 0)
			pg_fail(c, "no socket");
		return;
	case PGRES_POLLING_WRITING:
		if (poll_watch(c, UV_WRITABLE) < 0)
			pg_fail(c, "no socket");
		return;
	case PGRES_POLLING_FAILED:
		pg_fail(c, PQerrorMessage(c->conn));
		return;
	case PGRES_POLLING_OK:
	default:
		break;
	}
	uv_timer_stop(&c->timer);
	if (PQsetnonblocking(c->conn, 1) != 0 || poll_watch(c, UV_READABLE) < 0) {
		pg_fail(c, PQerrorMessage(c->conn));
		return;
	}
	c->state = PG_READY;
	c->backoff_ms = 0;
	if (c->connects++ > 0)
		log_info("database %s: reconnected", c->label);
	if (c->h->connected)
		c->h->connected(c, c->ud);
}

unsigned pg_reconnects(const struct pg_conn *c)
{
	return c->connects > 0 ? c->connects - 1 : 0;
}

bool pg_ready(const struct pg_conn *c)
{
	return c->state == PG_READY;
}

int pg_query(struct pg_conn *c, const char *sql, int nparams,
	     const char *const *params, pg_result_fn cb, void *arg)
{
	if (c->state != PG_READY)
		return -1;
	struct pg_query *q = calloc(1, sizeof *q);
	if (!q)
		return -1;
	q->sql = strdup(sql);
	q->nparams = nparams;
	q->params = nparams > 0 ? calloc((size_t)nparams, sizeof *q->params) : NULL;
	q->cb = cb;
	q->arg = arg;
	bool oom = !q->sql || (nparams > 0 && !q->params);
	for (int i = 0; !oom && i < nparams; i++)
		if (params[i] && !(q->params[i] = strdup(params[i])))
			oom = true;
	if (oom) {
		query_free(q);
		return -1;
	}
	if (c->tail)
		c->tail->next = q;
	else
		c->head = q;
	c->tail = q;
	if (!c->inflight)
		pg_send_next(c);
	return 0;
}

/* Flush pending output; watch for writability while libpq has more to send. */
static int pg_flush(struct pg_conn *c)
{
	int r = PQflush(c->conn);
	if (r < 0)
		return -1;
	return poll_watch(c, r == 1 ? UV_READABLE | UV_WRITABLE : UV_READABLE);
}

static void pg_send_next(struct pg_conn *c)
{
	struct pg_query *q = c->head;
	if (!q || c->inflight || c->state != PG_READY)
		return;
	int ok = q->nparams > 0
		? PQsendQueryParams(c->conn, q->sql, q->nparams, NULL,
				    (const char *const *)q->params, NULL, NULL, 0)
		: PQsendQuery(c->conn, q->sql);
	if (!ok || pg_flush(c) < 0) {
		pg_fail(c, PQerrorMessage(c->conn));
		return;
	}
	c->inflight = true;
	if (c->query_timeout_ms > 0)
		uv_timer_start(&c->qtimer, on_query_deadline, (uint64_t)c->query_timeout_ms, 0);
}

/* Collect results; keep the first error, else the last result, until NULL. */
static void pg_drain_results(struct pg_conn *c)
{
	while (c->inflight && !PQisBusy(c->conn)) {
		PGresult *r = PQgetResult(c->conn);
		if (r) {
			ExecStatusType st = PQresultStatus(r);
			bool err = st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE;
			bool have_err = c->result &&
				PQresultStatus(c->result) == PGRES_FATAL_ERROR;
			if (have_err && !err) {
				PQclear(r);
			} else {
				if (c->result)
					PQclear(c->result);
				c->result = r;
			}
			continue;
		}
		struct pg_query *q = c->head;
		c->head = q->next;
		if (!c->head)
			c->tail = NULL;
		c->inflight = false;
		uv_timer_stop(&c->qtimer);
		PGresult *res = c->result;
		c->result = NULL;
		if (q->cb)
			q->cb(c, res, q->arg);
		PQclear(res);
		query_free(q);
		if (c->state != PG_READY)
			return;
		pg_send_next(c);
	}
}

static void pg_drain_notifies(struct pg_conn *c)
{
	PGnotify *n;
	while (c->state == PG_READY && (n = PQnotifies(c->conn)) != NULL) {
		if (c->h->notify)
			c->h->notify(c, n->relname, n->extra, c->ud);
		PQfreemem(n);
	}
}

static void pg_on_io(uv_poll_t *p, int status, int events)
{
	struct pg_conn *c = p->data;

	if (c->state == PG_CONNECTING) {
		pg_connect_step(c);
		return;
	}
	if (c->state != PG_READY)
		return;
	if (status < 0) {
		pg_fail(c, uv_strerror(status));
		return;
	}
	if ((events & UV_WRITABLE) && pg_flush(c) < 0) {
		pg_fail(c, PQerrorMessage(c->conn));
		return;
	}
	if (events & UV_READABLE) {
		if (!PQconsumeInput(c->conn)) {
			pg_fail(c, PQerrorMessage(c->conn));
			return;
		}
		pg_drain_results(c);
		pg_drain_notifies(c);
	}
	if (c->state == PG_READY && PQstatus(c->conn) == CONNECTION_BAD)
		pg_fail(c, PQerrorMessage(c->conn));
}

void pg_reset(struct pg_conn *c, const char *why)
{
	if (c->state == PG_READY || c->state == PG_CONNECTING)
		pg_fail(c, why);
}

void pg_close(struct pg_conn *c, void (*cb)(struct pg_conn *c))
{
	c->state = PG_CLOSING;
	c->closed_cb = cb;
	drop_session(c);
	fail_queries(c);
	if (c->resolving)
		uv_cancel((uv_req_t *)&c->resolver);
	free(c->conninfo);
	free(c->label);
	free(c->resolved);
	c->conninfo = c->label = c->resolved = NULL;
	uv_close((uv_handle_t *)&c->timer, handle_closed);
	uv_close((uv_handle_t *)&c->qtimer, handle_closed);
}
