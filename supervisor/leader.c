/* leader.c: inspect the cluster, remove dead nodes, plan and commit distributions. */
#include "supervisor/leader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/cronsched.h"
#include "supervisor/log.h"
#include "supervisor/member.h"
#include "supervisor/node.h"
#include "supervisor/pgarray.h"
#include "supervisor/services.h"

static void leader_continue(struct node *n);

int leader_init(struct leader *l, int total)
{
	memset(l, 0, sizeof *l);
	l->total = total;
	l->owner = malloc(sizeof *l->owner * (size_t)total);
	return l->owner ? 0 : -1;
}

static void free_strv(char **v, int n)
{
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void leader_forget(struct leader *l)
{
	free_strv(l->names, l->nnames);
	l->names = NULL;
	l->nnames = l->capnames = 0;
	for (size_t i = 0; i < l->nlocks; i++)
		free((char *)l->locks[i].pattern);
	free(l->locks);
	l->locks = NULL;
	l->nlocks = 0;
	free_strv(l->live, l->nlive);
	l->live = NULL;
	l->nlive = 0;
	free_strv(l->gone, l->ngone);
	l->gone = NULL;
	l->ngone = 0;
	l->tokens_loaded = l->locks_loaded = false;
	l->lock_fp[0] = '\0';
}

void leader_free(struct leader *l)
{
	leader_forget(l);
	free(l->owner);
	l->owner = NULL;
}

/* Index of name in the interned table, adding it; -1 on allocation failure. */
static int intern(struct leader *l, const char *name)
{
	for (int i = 0; i < l->nnames; i++)
		if (!strcmp(l->names[i], name))
			return i;
	if (l->nnames == l->capnames) {
		int cap = l->capnames ? l->capnames * 2 : 16;
		char **v = realloc(l->names, sizeof *v * (size_t)cap);
		if (!v)
			return -1;
		l->names = v;
		l->capnames = cap;
	}
	if (!(l->names[l->nnames] = strdup(name)))
		return -1;
	return l->nnames++;
}

void leader_start(struct node *n, int64_t term)
{
	struct leader *l = &n->leader_state;
	leader_forget(l);
	l->active = true;
	l->term = term;
	l->since_ms = l->grew_ms = l->full_ms = node_now_ms(n);
	l->waiting_logged = false;
	l->pruned = false;
	l->lock_changed = false;
	log_info("this node now leads the cluster (term %lld)", (long long)term);
	if (n->services)
		services_lead(n->services, term);
	if (n->cron)
		cronsched_lead(n->cron, term);
	leader_tick(n);
}

void leader_stop(struct node *n, const char *why)
{
	struct leader *l = &n->leader_state;
	if (!l->active)
		return;
	log_warn("this node no longer leads (term %lld): %s", (long long)l->term, why);
	l->active = false;
	if (n->services)
		services_unlead(n->services, why);
	if (n->cron)
		cronsched_unlead(n->cron, why);
	leader_forget(l);
}

void leader_locks_changed(struct node *n)
{
	if (!n->leader_state.active)
		return;
	n->leader_state.locks_loaded = false;
	n->leader_state.lock_changed = true;
	leader_tick(n);
}

void leader_leave_seen(struct node *n)
{
	n->leader_state.leave_seen = true;
	leader_tick(n);
}

/* End a pass; run the queued one if any. */
static void leader_done(struct node *n)
{
	struct leader *l = &n->leader_state;
	l->busy = false;
	if (l->again && l->active) {
		l->again = false;
		leader_tick(n);
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool in_sorted(char **v, int nv, const char *s)
{
	return nv > 0 && bsearch(&s, v, (size_t)nv, sizeof *v, cmp_str) != NULL;
}

static void on_inspect(struct pg_conn *c, const PGresult *res, void *arg)
{
	struct node *n = arg;
	struct leader *l = &n->leader_state;
	(void)c;
	if (!res || !l->active || PQresultStatus(res) != PGRES_TUPLES_OK) {
		if (res && l->active)
			log_error("leader: inspecting the cluster failed: %s",
				  PQresultErrorMessage(res));
		leader_done(n);
		return;
	}
	int rows = PQntuples(res), nlive = 0, ngone = 0;
	char **live = calloc((size_t)rows + 1, sizeof *live);
	char **gone = calloc((size_t)rows + 1, sizeof *gone);
	if (!live || !gone) {
		free(live);
		free(gone);
		leader_done(n);
		return;
	}
	for (int i = 0; i < rows; i++) {
		char kind = PQgetvalue(res, i, 0)[0];
		const char *val = PQgetvalue(res, i, 1);
		if (kind == 'L') {
			live[nlive++] = strdup(val);
		} else if (kind == 'D' || kind == 'Z') {
			gone[ngone++] = strdup(val);
			if (kind == 'D')
				log_warn("leader: removed dead node %s (no heartbeat for %d s)", val,
					 n->cfg->heartbeat_timeout_sec);
		} else if (kind == 'E') {
			node_watch_expiry(n, val);
		} else if (kind == 'F' && strcmp(val, l->lock_fp) != 0) {
			if (l->lock_fp[0])
				l->lock_changed = true;
			snprintf(l->lock_fp, sizeof l->lock_fp, "%s", val);
			l->locks_loaded = false;
		}
	}
	qsort(gone, (size_t)ngone, sizeof *gone, cmp_str);
	free_strv(l->gone, l->ngone);
	l->gone = gone;
	l->ngone = ngone;
	qsort(live, (size_t)nlive, sizeof *live, cmp_str);
	for (int i = 0; i < nlive; i++)
		if (!in_sorted(l->live, l->nlive, live[i]))
			l->grew_ms = node_now_ms(n);
	free_strv(l->live, l->nlive);
	l->live = live;
	l->nlive = nlive;
	leader_continue(n);
}

static void on_prune(struct pg_conn *c, const PGresult *res, void *arg)
{
	(void)c;
	(void)arg;
	if (!res)
		return;
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_error("leader: pruning history failed: %s", PQresultErrorMessage(res));
		return;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "0") || strcmp(PQgetvalue(res, 0, 1), "0") ||
	    strcmp(PQgetvalue(res, 0, 2), "0") || strcmp(PQgetvalue(res, 0, 3), "0"))
		log_info("pruned history past retention: %s rebalances, %s audits, %s claims, "
			 "%s requests", PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
			 PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3));
}

/* Prune history past retention_days, at the start of a term and hourly. */
static void leader_prune(struct node *n)
{
	struct leader *l = &n->leader_state;
	uint64_t now = node_now_ms(n);
	char days[16];
	if (l->pruned && now - l->pruned_ms < 3600 * 1000)
		return;
	snprintf(days, sizeof days, "%d", n->cfg->retention_days);
	const char *p[] = {days};
	if (pg_query(&n->pg, n->sql.sql[STORE_PRUNE], 1, p, on_prune, n) == 0) {
		l->pruned = true;
		l->pruned_ms = now;
	}
}

void leader_tick(struct node *n)
{
	struct leader *l = &n->leader_state;
	char tbuf[32];
	if (!l->active)
		return;
	if (l->busy) {
		l->again = true;
		return;
	}
	/* Reread everything now and then, in case rows were edited by hand. */
	uint64_t now = node_now_ms(n);
	if (now - l->full_ms >= (uint64_t)n->cfg->rebalance_check_interval_sec * 1000) {
		l->full_ms = now;
		l->tokens_loaded = l->locks_loaded = false;
	}
	leader_prune(n);
	const char *p[] = {node_timeout_param(n, tbuf, sizeof tbuf), node_session_param(n)};
	l->busy = true;
	l->pass_ms = now;
	if (pg_query(&n->pg, n->sql.sql[STORE_INSPECT], 2, p, on_inspect, n) < 0)
		l->busy = false;
}

static void on_load_tokens(struct pg_conn *c, const PGresult *res, void *arg)
{
	struct node *n = arg;
	struct leader *l = &n->leader_state;
	(void)c;
	if (!res || !l->active || PQresultStatus(res) != PGRES_TUPLES_OK) {
		leader_done(n);
		return;
	}
	for (int t = 0; t < l->total; t++)
		l->owner[t] = -1;
	for (int i = 0; i < PQntuples(res); i++) {
		if (PQgetisnull(res, i, 0))
			continue;
		int who = intern(l, PQgetvalue(res, i, 0)), t;
		const char *p = PQgetvalue(res, i, 1);
		while (pglist_next(&p, &t))
			if (t < l->total)
				l->owner[t] = who;
	}
	l->tokens_loaded = true;
	leader_continue(n);
}

static void on_load_locks(struct pg_conn *c, const PGresult *res, void *arg)
{
	struct node *n = arg;
	struct leader *l = &n->leader_state;
	(void)c;
	if (!res || !l->active || PQresultStatus(res) != PGRES_TUPLES_OK) {
		leader_done(n);
		return;
	}
	for (size_t i = 0; i < l->nlocks; i++)
		free((char *)l->locks[i].pattern);
	free(l->locks);
	l->nlocks = 0;
	int rows = PQntuples(res);
	l->locks = calloc((size_t)rows + 1, sizeof *l->locks);
	for (int i = 0; l->locks && i < rows; i++) {
		int t = atoi(PQgetvalue(res, i, 0));
		if (t < 0 || t >= l->total)
			continue;
		l->locks[l->nlocks].token = t;
		l->locks[l->nlocks++].pattern = strdup(PQgetvalue(res, i, 1));
	}
	l->locks_loaded = true;
	leader_continue(n);
}

/* Distinct owners among the live-or-not names of an owner array. */
static int count_owners(const int *owner, int total, int nnames)
{
	int count = 0;
	char *seen = calloc((size_t)nnames + 1, 1);
	if (!seen)
		return 0;
	for (int t = 0; t < total; t++)
		if (owner[t] >= 0 && !seen[owner[t]]) {
			seen[owner[t]] = 1;
			count++;
		}
	free(seen);
	return count;
}

struct commit {
	struct node *n;
	int *ids;
	int *owners;               /* interned index per changed token, -1 = none */
	int count, moved, before, after;
	const char *reason;
};

static void commit_free(struct commit *cm)
{
	free(cm->ids);
	free(cm->owners);
	free(cm);
}

static void on_commit(struct pg_conn *c, const PGresult *res, void *arg)
{
	struct commit *cm = arg;
	struct node *n = cm->n;
	struct leader *l = &n->leader_state;
	(void)c;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		if (res)
			log_error("leader: writing the distribution failed: %s",
				  PQresultErrorMessage(res));
		l->tokens_loaded = false;
	} else if (PQntuples(res) == 0) {
		leader_stop(n, "the term moved on before the distribution was written");
	} else if (l->active) {
		for (int i = 0; i < cm->count; i++)
			l->owner[cm->ids[i]] = cm->owners[i];
		log_info("distributed tokens (%s): %d moved, nodes %d -> %d, version %s, term %lld",
			 cm->reason, cm->moved, cm->before, cm->after, PQgetvalue(res, 0, 0),
			 (long long)l->term);
		n->distributions++;
	}
	commit_free(cm);
	leader_done(n);
}

/*
 * Why this distribution happens, for the rebalance history: a first
 * distribution, tokens of nodes that died or left, a join, a lock change, or
 * otherwise a repair of rows edited by hand ("manual").
 */
static const char *plan_reason(const struct leader *l, const int *in_owner,
			       const int *out_owner)
{
	bool any_live_owner = false, died = false, left = false, joined = false;
	bool *has = calloc((size_t)l->nlive + 1, sizeof *has);
	for (int t = 0; t < l->total; t++) {
		if (in_owner[t] >= 0) {
			any_live_owner = true;
			if (has)
				has[in_owner[t]] = true;
		} else if (l->owner[t] >= 0) {
			/* Owner no longer live: still in the table (died) or gone (left). */
			if (in_sorted(l->gone, l->ngone, l->names[l->owner[t]]))
				died = true;
			else
				left = true;
		} else if (out_owner[t] >= 0) {
			/* Released by a node that left, or cleared by hand. */
			if (l->leave_seen)
				left = true;
		}
	}
	for (int i = 0; has && i < l->nlive; i++)
		if (!has[i])
			joined = true;
	free(has);
	if (!any_live_owner)
		return "initial";
	if (died)
		return "dead";
	if (left)
		return "leave";
	if (joined)
		return "join";
	return l->lock_changed ? "lock" : "manual";
}

/* Send the changed tokens with the term fence; false if nothing was sent. */
static bool send_commit(struct node *n, struct commit *cm)
{
	struct leader *l = &n->leader_state;
	char term[24], before[16], after[16], moved[16], dur[16];
	const char **names = calloc((size_t)cm->count + 1, sizeof *names);
	char *ids = pgarray_int(cm->ids, (size_t)cm->count);
	char *owners = NULL;
	bool sent = false;

	if (!names || !ids)
		goto cleanup;
	for (int i = 0; i < cm->count; i++)
		names[i] = cm->owners[i] >= 0 ? l->names[cm->owners[i]] : NULL;
	owners = pgarray_text(names, (size_t)cm->count);
	if (!owners)
		goto cleanup;
	snprintf(term, sizeof term, "%lld", (long long)l->term);
	snprintf(before, sizeof before, "%d", cm->before);
	snprintf(after, sizeof after, "%d", cm->after);
	snprintf(moved, sizeof moved, "%d", cm->moved);
	snprintf(dur, sizeof dur, "%llu", (unsigned long long)(node_now_ms(n) - l->pass_ms));
	const char *p[] = {term, n->incarnation, ids, owners, cm->reason, n->cfg->node,
			   before, after, moved, dur, n->sql.channel};
	sent = pg_query(&n->pg, n->sql.sql[STORE_COMMIT], 11, p, on_commit, cm) == 0;
cleanup:
	free(names);
	free(ids);
	free(owners);
	return sent;
}

/* Plan over the live nodes and commit the tokens whose owner changes. */
static void leader_plan(struct node *n)
{
	struct leader *l = &n->leader_state;
	const struct config *cfg = n->cfg;
	int *map = malloc(sizeof *map * ((size_t)l->nnames + 1));
	int *in_owner = malloc(sizeof *in_owner * (size_t)l->total);
	struct tokens_plan plan = {0};
	struct commit *cm = NULL;

	if (!map || !in_owner)
		goto done;
	for (int i = 0; i < l->nnames; i++) {
		char *key = l->names[i];
		char **hit = l->nlive ? bsearch(&key, l->live, (size_t)l->nlive,
						sizeof *l->live, cmp_str) : NULL;
		map[i] = hit ? (int)(hit - l->live) : -1;
	}
	for (int t = 0; t < l->total; t++)
		in_owner[t] = l->owner[t] >= 0 ? map[l->owner[t]] : -1;
	struct tokens_input in = {
		.total = l->total, .names = (const char *const *)l->live, .nnodes = l->nlive,
		.owner = in_owner, .locks = cfg->locks_enabled ? l->locks : NULL,
		.nlocks = cfg->locks_enabled ? l->nlocks : 0,
	};
	if (tokens_plan(&in, &plan) < 0 || plan.moved == 0)
		goto done;
	const char *reason = plan_reason(l, in_owner, plan.owner);
	uint64_t now = node_now_ms(n);
	if (!strcmp(reason, "initial") && cfg->wait_on_enter > 0 &&
	    now - l->since_ms < (uint64_t)cfg->wait_on_enter * 1000 &&
	    now - l->grew_ms < (uint64_t)cfg->cold_start_quiet_sec * 1000) {
		if (!l->waiting_logged)
			log_info("cold start: holding the first distribution until no node has "
				 "joined for %d s (at most %d s)", cfg->cold_start_quiet_sec,
				 cfg->wait_on_enter);
		l->waiting_logged = true;
		/* Look again the moment the hold ends (the next tick may be later). */
		uint64_t until = l->grew_ms + (uint64_t)cfg->cold_start_quiet_sec * 1000;
		uint64_t cap = l->since_ms + (uint64_t)cfg->wait_on_enter * 1000;
		member_leader_tick_in(n, (until < cap ? until : cap) - now + 10);
		goto done;
	}
	cm = calloc(1, sizeof *cm);
	if (!cm)
		goto done;
	cm->n = n;
	cm->ids = malloc(sizeof *cm->ids * (size_t)plan.moved + 1);
	cm->owners = malloc(sizeof *cm->owners * (size_t)plan.moved + 1);
	if (!cm->ids || !cm->owners)
		goto done;
	for (int t = 0; t < l->total; t++) {
		if (plan.owner[t] == in_owner[t])
			continue;
		int idx = plan.owner[t] >= 0 ? intern(l, l->live[plan.owner[t]]) : -1;
		cm->ids[cm->count] = t;
		cm->owners[cm->count++] = idx;
	}
	cm->moved = plan.moved;
	cm->reason = reason;
	l->lock_changed = l->leave_seen = false;
	cm->before = count_owners(l->owner, l->total, l->nnames);
	cm->after = count_owners(plan.owner, l->total, l->nlive);
	if (send_commit(n, cm)) {
		cm = NULL;
		tokens_plan_free(&plan);
		free(map);
		free(in_owner);
		return;
	}
done:
	if (cm)
		commit_free(cm);
	tokens_plan_free(&plan);
	free(map);
	free(in_owner);
	leader_done(n);
}

/* Load what the plan needs (tokens, locks), then plan. */
static void leader_continue(struct node *n)
{
	struct leader *l = &n->leader_state;
	int rc = 0;
	if (!l->active) {
		leader_done(n);
		return;
	}
	if (!l->tokens_loaded)
		rc = pg_query(&n->pg, n->sql.sql[STORE_LOAD_TOKENS], 0, NULL, on_load_tokens, n);
	else if (n->cfg->locks_enabled && !l->locks_loaded)
		rc = pg_query(&n->pg, n->sql.sql[STORE_LOAD_LOCKS], 0, NULL, on_load_locks, n);
	else
		leader_plan(n);
	if (rc < 0)
		leader_done(n);
}
