/* clusterview.c: the whole cluster as one JSON value read by the node, cached briefly. */
#include "supervisor/clusterview.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "supervisor/cluster_sql.h"
#include "supervisor/log.h"
#include "supervisor/node.h"
#include "supervisor/schema.h"
#include "supervisor/work.h"

struct waiter {
	clusterview_cb cb;
	void *arg;
	struct waiter *next;
};

struct clusterview {
	struct node *n;
	char *sql;
	json_t *view;
	uint64_t read_ms;          /* loop time of the last answer */
	bool inflight, closed;
	struct waiter *waiters;
};

struct clusterview *clusterview_new(struct node *n)
{
	if (!n->cfg->enabled)
		return NULL;
	struct clusterview *v = calloc(1, sizeof *v);
	char *tmpl = cluster_sql();
	if (v && tmpl)
		v->sql = schema_expand(tmpl, n->cfg->prefix);
	free(tmpl);
	if (!v || !v->sql) {
		free(v);
		return NULL;
	}
	v->n = n;
	return v;
}

/* Call and free every waiter with view. */
static void answer_all(struct clusterview *v, const json_t *view)
{
	struct waiter *w = v->waiters;
	v->waiters = NULL;
	while (w) {
		struct waiter *next = w->next;
		w->cb(view, w->arg);
		free(w);
		w = next;
	}
}

static void on_view(struct pg_conn *c, const PGresult *res, void *arg)
{
	struct clusterview *v = arg;
	json_t *view = NULL;
	(void)c;
	v->inflight = false;
	if (res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		view = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
	else if (res)
		log_warn("reading the cluster for the status page failed: %s",
			 PQresultErrorMessage(res));
	if (view) {
		json_decref(v->view);
		v->view = view;
		v->read_ms = node_now_ms(v->n);
	}
	answer_all(v, view);
	if (v->closed)
		clusterview_free(v);
}

/* The date of the progress figures: the engine's, --date, or today. */
static void view_date(const struct node *n, char *buf, size_t len)
{
	if (n->work) {
		snprintf(buf, len, "%s", n->work->date);
	} else if (n->date) {
		snprintf(buf, len, "%s", n->date);
	} else {
		time_t now = time(NULL);
		struct tm tm;
		localtime_r(&now, &tm);
		strftime(buf, len, "%Y-%m-%d", &tm);
	}
}

void clusterview_get(struct clusterview *v, uint64_t max_age_ms, clusterview_cb cb, void *arg)
{
	if (!v || v->closed) {
		cb(NULL, arg);
		return;
	}
	if (v->view && node_now_ms(v->n) - v->read_ms <= max_age_ms) {
		cb(v->view, arg);
		return;
	}
	struct waiter *w = malloc(sizeof *w);
	if (!w) {
		cb(NULL, arg);
		return;
	}
	*w = (struct waiter){.cb = cb, .arg = arg, .next = v->waiters};
	v->waiters = w;
	if (v->inflight)
		return;
	char tbuf[32], date[16];
	view_date(v->n, date, sizeof date);
	const char *p[] = {node_timeout_param(v->n, tbuf, sizeof tbuf), v->n->cfg->prefix, date};
	if (pg_query(&v->n->pg, v->sql, 3, p, on_view, v) == 0)
		v->inflight = true;
	else
		answer_all(v, NULL); /* not connected */
}

const json_t *clusterview_last(const struct clusterview *v)
{
	return v ? v->view : NULL;
}

void clusterview_close(struct clusterview *v)
{
	if (!v)
		return;
	v->closed = true;
	answer_all(v, NULL);
}

void clusterview_free(struct clusterview *v)
{
	if (!v)
		return;
	if (v->inflight) {
		v->closed = true; /* freed by on_view, which pg calls on close */
		return;
	}
	answer_all(v, NULL);
	json_decref(v->view);
	free(v->sql);
	free(v);
}
