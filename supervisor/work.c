/* work.c: the claim and audit pipelines, retries, handoff, fencing and drain. */
#include "supervisor/work.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "supervisor/backoff.h"
#include "supervisor/childenv.h"
#include "supervisor/exitcode.h"
#include "supervisor/hash.h"
#include "supervisor/health.h"
#include "supervisor/log.h"
#include "supervisor/member.h"
#include "supervisor/node.h"
#include "supervisor/pgarray.h"
#include "supervisor/source.h"
#include "supervisor/taskid.h"
#include "supervisor/work_modes.h"

#define CLAIM_BATCH 4096
#define AUDIT_BATCH 4096
#define CLAIM_LOW 256          /* claim again below this many tasks in hand */
#define AUDIT_LINGER_MS 20     /* gather results this long before an audit statement */
#define AUDIT_EAGER 512        /* ... unless this many are waiting */
#define CHECK_BATCH 5000

static void work_pump(struct work *w);

/* Append t to a growable array of tasks; -1 on allocation failure. */
static int push(struct task ***v, size_t *n, size_t *cap, struct task *t)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		struct task **nv = realloc(*v, c * sizeof *nv);
		if (!nv)
			return -1;
		*v = nv;
		*cap = c;
	}
	(*v)[(*n)++] = t;
	return 0;
}

/* A text[] literal of the ids of tasks[0..n). */
static char *ids_literal(struct task *const *tasks, size_t n)
{
	const char **ids = malloc((n + 1) * sizeof *ids);
	if (!ids)
		return NULL;
	for (size_t i = 0; i < n; i++)
		ids[i] = tasks[i]->id;
	char *lit = pgarray_text(ids, n);
	free(ids);
	return lit;
}

static bool can_claim(const struct work *w)
{
	const struct node *n = w->n;
	return !w->fenced && !w->draining && !w->stopped && n->registered &&
	       n->state != NODE_FENCED && n->state != NODE_DRAINING &&
	       (w->local || pg_ready(&w->claim_pg));
}

/* Coordination off: this node owns everything; "claims" and "audits" are local. */
static void claim_local(struct work *w, struct task **tasks, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		taskset_set(&w->ts, tasks[i], TASK_RUNNING);
		push(&w->ready, &w->nready, &w->capready, tasks[i]);
		w->c.claimed++;
	}
}

/* ---- claims ---------------------------------------------------------------------- */

struct batch {
	struct work *w;
	struct task **tasks;
	size_t n;
};

static void batch_free(struct batch *b)
{
	free(b->tasks);
	free(b);
}

static void on_claimed(struct pg_conn *c, const PGresult *res, void *arg)
{
	struct batch *b = arg;
	struct work *w = b->w;
	(void)c;
	w->claim_inflight = false;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		if (res)
			log_error("claiming %zu tasks failed: %s", b->n, PQresultErrorMessage(res));
		for (size_t i = 0; i < b->n; i++)
			taskset_set(&w->ts, b->tasks[i], TASK_FOREIGN);
		batch_free(b);
		return;
	}
	for (int i = 0; i < PQntuples(res); i++) {
		const char *id = PQgetvalue(res, i, 0);
		struct task *t = taskset_find(&w->ts, id, (size_t)PQgetlength(res, i, 0));
		if (!t || t->state != TASK_CLAIMING)
			continue;
		char st = PQgetvalue(res, i, 1)[0];
		if (st == 'c') {
			t->fence = atoll(PQgetvalue(res, i, 2));
			taskset_set(&w->ts, t, TASK_RUNNING);
			t->started_ms = 0;
			push(&w->ready, &w->nready, &w->capready, t);
			w->c.claimed++;
		} else {
			/* Audited already (a), or held elsewhere (h): looked at again later. */
			taskset_set(&w->ts, t, st == 'a' ? TASK_DONE : TASK_FOREIGN);
		}
	}
	for (size_t i = 0; i < b->n; i++)
		if (b->tasks[i]->state == TASK_CLAIMING)
			taskset_set(&w->ts, b->tasks[i], TASK_FOREIGN);
	batch_free(b);
	work_pump(w);
}

/*
 * Claim when the tasks in hand fall below a low watermark (twice the free
 * slots plus a margin), then a whole batch: few, large statements rather than
 * one per finished task.
 */
static void claim_more(struct work *w)
{
	if (w->claim_inflight || !can_claim(w) || (!w->local && !member_lease_ok(w->n)))
		return;
	size_t slots = w->mode->free_slots(w);
	if (w->nready >= slots * 2 + CLAIM_LOW)
		return;
	size_t want = CLAIM_BATCH;
	struct batch *b = calloc(1, sizeof *b);
	if (!b || !(b->tasks = malloc(want * sizeof *b->tasks))) {
		free(b);
		return;
	}
	b->w = w;
	b->n = taskset_take(&w->ts, w->n->mine, b->tasks, want);
	if (b->n == 0) {
		batch_free(b);
		return;
	}
	if (w->local) {
		claim_local(w, b->tasks, b->n);
		batch_free(b);
		return;
	}
	for (size_t i = 0; i < b->n; i++)
		taskset_set(&w->ts, b->tasks[i], TASK_CLAIMING);
	char *items = ids_literal(b->tasks, b->n), tbuf[32];
	int *toks = malloc(b->n * sizeof *toks);
	for (size_t i = 0; toks && i < b->n; i++)
		toks[i] = b->tasks[i]->token;
	char *tokens = toks ? pgarray_int(toks, b->n) : NULL;
	free(toks);
	const char *p[] = {w->n->cfg->node, w->n->incarnation, w->date, items,
			   node_timeout_param(w->n, tbuf, sizeof tbuf), tokens};
	if (items && tokens &&
	    pg_query(&w->claim_pg, w->n->sql.sql[STORE_CLAIM], 6, p, on_claimed, b) == 0) {
		w->claim_inflight = true;
	} else {
		for (size_t i = 0; i < b->n; i++)
			taskset_set(&w->ts, b->tasks[i], TASK_PENDING);
		batch_free(b);
	}
	free(items);
	free(tokens);
}

/* ---- releases -------------------------------------------------------------------- */

static void on_released(struct pg_conn *c, const PGresult *res, void *arg)
{
	struct batch *b = arg;
	struct work *w = b->w;
	(void)c;
	w->release_inflight = false;
	if (res && PQresultStatus(res) == PGRES_TUPLES_OK && atoi(PQgetvalue(res, 0, 0)) > 0)
		log_info("released %s claims for their new owners", PQgetvalue(res, 0, 0));
	batch_free(b);
	work_pump(w);
}

/* Give back claims queued in releaseq (tasks not started, or stopped). */
static void release_claims(struct work *w)
{
	if (w->local)
		w->nrelease = 0;
	if (w->release_inflight || w->nrelease == 0 || !pg_ready(&w->claim_pg))
		return;
	struct batch *b = calloc(1, sizeof *b);
	if (!b)
		return;
	b->w = w;
	b->tasks = w->releaseq;
	b->n = w->nrelease;
	w->releaseq = NULL;
	w->nrelease = w->caprelease = 0;
	char *items = ids_literal(b->tasks, b->n);
	const char *p[] = {w->n->cfg->node, w->n->incarnation, w->date, items};
	if (items && pg_query(&w->claim_pg, w->n->sql.sql[STORE_RELEASE], 4, p, on_released, b) == 0)
		w->release_inflight = true;
	else
		batch_free(b);
	free(items);
}

/* Drop a claimed task we will not run: its claim goes back, it becomes foreign. */
static void give_back(struct work *w, struct task *t)
{
	taskset_set(&w->ts, t, TASK_FOREIGN);
	push(&w->releaseq, &w->nrelease, &w->caprelease, t);
}

/* ---- audits ---------------------------------------------------------------------- */

static void on_audited(struct pg_conn *c, const PGresult *res, void *arg)
{
	struct batch *b = arg;
	struct work *w = b->w;
	(void)c;
	w->audit_inflight = false;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		if (res)
			log_error("auditing %zu tasks failed: %s", b->n, PQresultErrorMessage(res));
		/* Try again: the claim is still held (or the audit will be rejected). */
		for (size_t i = 0; i < b->n; i++)
			push(&w->auditq, &w->naudit, &w->capaudit, b->tasks[i]);
		batch_free(b);
		return;
	}
	/* The rows are the audits refused (G3: the claim was lost, released as
	 * dead or held by another incarnation); the rest of the batch is done. */
	for (int i = 0; i < PQntuples(res); i++) {
		struct task *t = taskset_find(&w->ts, PQgetvalue(res, i, 0),
					      (size_t)PQgetlength(res, i, 0));
		if (!t || t->state != TASK_AUDITING)
			continue;
		log_warn("audit of task '%s' rejected: this node no longer holds its claim",
			 t->id);
		w->c.rejected++;
		taskset_set(&w->ts, t, TASK_FOREIGN);
	}
	for (size_t i = 0; i < b->n; i++) {
		struct task *t = b->tasks[i];
		if (t->state != TASK_AUDITING)
			continue;
		taskset_set(&w->ts, t, TASK_DONE);
		if (t->failed)
			w->c.failed++;
		else
			w->c.done++;
	}
	batch_free(b);
	work_pump(w);
}

static void on_audit_due(uv_timer_t *t)
{
	struct work *w = t->data;
	w->audit_due = true;
	work_pump(w);
}

static void audit_flush(struct work *w)
{
	if (w->local) {
		for (size_t i = 0; i < w->naudit; i++) {
			taskset_set(&w->ts, w->auditq[i], TASK_DONE);
			if (w->auditq[i]->failed)
				w->c.failed++;
			else
				w->c.done++;
		}
		w->naudit = 0;
		return;
	}
	if (w->audit_inflight || w->naudit == 0 || !pg_ready(&w->audit_pg))
		return;
	/* Let results gather briefly: short tasks finish one at a time. */
	if (w->naudit < AUDIT_EAGER && !w->draining && !w->audit_due) {
		if (!uv_is_active((uv_handle_t *)&w->audit_timer))
			uv_timer_start(&w->audit_timer, on_audit_due, AUDIT_LINGER_MS, 0);
		return;
	}
	w->audit_due = false;
	size_t n = w->naudit < AUDIT_BATCH ? w->naudit : AUDIT_BATCH;
	struct batch *b = calloc(1, sizeof *b);
	const char **st = calloc(n + 1, sizeof *st), **msg = calloc(n + 1, sizeof *msg);
	int *att = calloc(n + 1, sizeof *att), *ex = calloc(n + 1, sizeof *ex);
	int *ms = calloc(n + 1, sizeof *ms);
	char *a[6] = {NULL};
	if (!b || !st || !msg || !att || !ex || !ms || !(b->tasks = malloc(n * sizeof *b->tasks)))
		goto cleanup;
	b->w = w;
	b->n = n;
	memcpy(b->tasks, w->auditq, n * sizeof *b->tasks);
	for (size_t i = 0; i < n; i++) {
		struct task *t = b->tasks[i];
		st[i] = t->failed ? "failed" : "done";
		att[i] = t->attempts;
		ex[i] = t->exit_status;
		ms[i] = t->duration_ms;
		msg[i] = t->message;
	}
	a[0] = ids_literal(b->tasks, n);
	a[1] = pgarray_text(st, n);
	a[2] = pgarray_int(att, n);
	a[3] = pgarray_int(ex, n);
	a[4] = pgarray_int(ms, n);
	a[5] = pgarray_text(msg, n);
	if (!a[0] || !a[1] || !a[2] || !a[3] || !a[4] || !a[5])
		goto cleanup;
	const char *p[] = {w->n->cfg->node, w->n->incarnation, w->date,
			   a[0], a[1], a[2], a[3], a[4], a[5]};
	if (pg_query(&w->audit_pg, w->n->sql.sql[STORE_AUDIT], 9, p, on_audited, b) == 0) {
		w->audit_inflight = true;
		memmove(w->auditq, w->auditq + n, (w->naudit - n) * sizeof *w->auditq);
		w->naudit -= n;
		b = NULL;
	}
cleanup:
	if (b)
		batch_free(b);
	for (int i = 0; i < 6; i++)
		free(a[i]);
	free(st);
	free(msg);
	free(att);
	free(ex);
	free(ms);
}

/* ---- results and retries ---------------------------------------------------------- */

const double work_duration_bounds[WORK_DURATION_BUCKETS] = {
	0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800,
};

/* Count an attempt's duration in the histogram. */
static void count_duration(struct work_counters *c, int ms)
{
	double sec = (double)ms / 1000.0;
	int i = 0;
	while (i < WORK_DURATION_BUCKETS && sec > work_duration_bounds[i])
		i++;
	c->duration[i]++;
	c->attempts++;
	c->duration_sum_sec += sec;
}

void work_finished(struct work *w, struct task *t, bool ok, int exit_status, const char *msg)
{
	const struct config_worker *wk = &w->n->cfg->worker;
	char ctx[96];

	t->duration_ms = (int)(node_now_ms(w->n) - t->started_ms);
	count_duration(&w->c, t->duration_ms);
	health_changed(w->n);
	t->exit_status = exit_status;
	free(t->message);
	t->message = msg && *msg ? strdup(msg) : NULL;
	snprintf(ctx, sizeof ctx, "task=%.80s", t->id);
	if (ok || t->attempts >= wk->max_attempts || w->fenced) {
		if (w->fenced) {
			/* Stopped by self-fencing: not audited; the claim is released later. */
			taskset_set(&w->ts, t, TASK_FOREIGN);
			return;
		}
		if (!ok)
			log_at(LOG_LEVEL_WARN, ctx, "failed after %d attempts (exit %d)%s%s",
			       t->attempts, exit_status, msg && *msg ? ": " : "", msg ? msg : "");
		t->failed = !ok;
		taskset_set(&w->ts, t, TASK_AUDITING);
		push(&w->auditq, &w->naudit, &w->capaudit, t);
	} else {
		uint64_t rng = (uint64_t)(uintptr_t)t ^ node_now_ms(w->n);
		uint64_t prev = 0, base = (uint64_t)wk->retry_backoff_sec * 1000;
		for (int i = 1; i < t->attempts; i++)
			prev = backoff_next_ms(prev, base, (uint64_t)wk->retry_backoff_max_sec * 1000, &rng);
		uint64_t delay = backoff_next_ms(prev, base, (uint64_t)wk->retry_backoff_max_sec * 1000,
						 &rng);
		log_at(LOG_LEVEL_INFO, ctx, "attempt %d failed (exit %d); retrying in %.1f s",
		       t->attempts, exit_status, (double)delay / 1000.0);
		t->ready_ms = node_now_ms(w->n) + delay;
		taskset_set(&w->ts, t, TASK_WAITING);
		w->c.retried++;
	}
	work_pump(w);
}

/* Start ready tasks while the mode has free slots. */
static void start_ready(struct work *w)
{
	if (w->nready && !w->local && !member_lease_ok(w->n))
		return;
	size_t i = 0;
	while (i < w->nready && w->mode->free_slots(w) > 0 && !w->draining && !w->fenced) {
		struct task *t = w->ready[i++];
		if (t->state != TASK_RUNNING)
			continue;
		if (!w->n->mine[t->token]) {
			give_back(w, t); /* token moved before it started: the new owner runs it */
			continue;
		}
		t->attempts++;
		t->started_ms = node_now_ms(w->n);
		w->mode->start(w, t);
		health_changed(w->n);
	}
	if (i) {
		memmove(w->ready, w->ready + i, (w->nready - i) * sizeof *w->ready);
		w->nready -= i;
	}
	if (w->mode->flush)
		w->mode->flush(w);
}

/* Everything the engine can do now: start, claim, audit, release. */
static void work_pump(struct work *w)
{
	if (w->stopped)
		return;
	/* Results can arrive from inside start() (a spawn that fails at once): never
	 * nest, run the loop again instead. */
	if (w->pumping) {
		w->pump_again = true;
		return;
	}
	w->pumping = true;
	do {
		w->pump_again = false;
		start_ready(w);
		claim_more(w);
		audit_flush(w);
		release_claims(w);
	} while (w->pump_again && !w->stopped);
	w->pumping = false;
	if (w->draining && w->drained && w->mode->active(w) == 0 && w->naudit == 0 &&
	    !w->audit_inflight && !w->release_inflight && w->nrelease == 0) {
		void (*done)(struct node *) = w->drained;
		w->drained = NULL;
		done(w->n);
	}
}

/* Batch mode: mark tasks other nodes audited; leave once every listed task is audited. */
static void on_checked(struct pg_conn *c, const PGresult *res, void *arg)
{
	struct work *w = arg;
	(void)c;
	w->check_inflight = false;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK)
		return;
	for (int i = 0; i < PQntuples(res); i++) {
		struct task *t = taskset_find(&w->ts, PQgetvalue(res, i, 0),
					      (size_t)PQgetlength(res, i, 0));
		if (t && (t->state == TASK_FOREIGN || t->state == TASK_PENDING))
			taskset_set(&w->ts, t, TASK_DONE);
	}
}

static void check_batch_done(struct work *w)
{
	struct taskset *ts = &w->ts;
	if (w->n->cfg->tasks.poll_interval_sec != 0 || !w->listing_done || w->draining)
		return;
	if (ts->count[TASK_DONE] == ts->n) {
		log_info("batch complete: all %zu listed tasks of %s are audited; leaving", ts->n,
			 w->date);
		node_request_leave(w->n, EXIT_OK);
		return;
	}
	/* Only other nodes' tasks are asked about: a claim of our own pending
	 * ones reports them audited anyway. */
	if (w->local || w->check_inflight || ts->count[TASK_FOREIGN] == 0 || !pg_ready(&w->claim_pg))
		return;
	struct task **v = malloc(CHECK_BATCH * sizeof *v);
	size_t k = 0;
	for (size_t i = 0; v && i < ts->n && k < CHECK_BATCH; i++)
		if (ts->all[i]->state == TASK_FOREIGN)
			v[k++] = ts->all[i];
	char *items = v && k ? ids_literal(v, k) : NULL;
	const char *p[] = {w->date, items};
	if (items && pg_query(&w->claim_pg, w->n->sql.sql[STORE_AUDITED], 2, p, on_checked, w) == 0)
		w->check_inflight = true;
	free(items);
	free(v);
}

static void on_tick(uv_timer_t *timer)
{
	struct work *w = timer->data;
	uint64_t now = node_now_ms(w->n);
	for (size_t i = 0; i < w->ts.n; i++) {
		struct task *t = w->ts.all[i];
		if (t->state != TASK_WAITING || t->ready_ms > now)
			continue;
		if (!w->n->mine[t->token] || w->draining) {
			give_back(w, t);
			continue;
		}
		taskset_set(&w->ts, t, TASK_RUNNING);
		push(&w->ready, &w->nready, &w->capready, t);
	}
	if (!w->fenced)
		taskset_adopt(&w->ts, w->n->mine);
	check_batch_done(w);
	work_pump(w);
}

/* ---- tokens, fencing, drain ------------------------------------------------------- */

void work_tokens_changed(struct work *w)
{
	const struct config_tasks *t = &w->n->cfg->tasks;
	size_t n = taskset_adopt(&w->ts, w->n->mine);
	if (n)
		log_debug("tokens changed: %zu listed tasks became claimable", n);
	/* A query filtered by owned tokens must run again to see the new tokens' tasks. */
	if (t->source == SOURCE_SQL && t->sql_token_filter)
		source_relist(w);
	work_pump(w);
}

void work_fence(struct work *w)
{
	if (w->fenced)
		return;
	w->fenced = true;
	size_t active = w->mode->active(w);
	if (active)
		log_warn("self-fencing: stopping %zu running tasks", active);
	w->mode->stop_all(w, (uint64_t)w->n->cfg->fence_kill_grace_sec * 1000);
	for (size_t i = 0; i < w->nready; i++)
		give_back(w, w->ready[i]);
	w->nready = 0;
}

void work_unfence(struct work *w)
{
	if (!w->fenced)
		return;
	w->fenced = false;
	if (w->mode->resume)
		w->mode->resume(w);
	/* Claims of tasks stopped while fenced go back: their new owner (or we) rerun them. */
	for (size_t i = 0; i < w->ts.n; i++) {
		struct task *t = w->ts.all[i];
		if (t->state == TASK_WAITING || (t->state == TASK_FOREIGN && t->fence))
			give_back(w, t);
		t->fence = 0;
	}
	work_pump(w);
}

static void on_drain_deadline(uv_timer_t *timer)
{
	struct work *w = timer->data;
	if (!w->draining)
		return;
	if (w->mode->active(w) && node_now_ms(w->n) >= w->drain_deadline_ms) {
		log_warn("drain: %zu tasks still running after stop_timeout_sec; stopping them",
			 w->mode->active(w));
		w->mode->stop_all(w, (uint64_t)w->n->cfg->worker.cmd.stop_timeout_sec * 1000);
	}
	on_tick(timer);
}

void work_drain(struct work *w, void (*done)(struct node *n))
{
	w->draining = true;
	w->drained = done;
	w->drain_deadline_ms = node_now_ms(w->n) +
		(uint64_t)w->n->cfg->worker.cmd.stop_timeout_sec * 1000;
	for (size_t i = 0; i < w->nready; i++)
		if (w->ready[i]->state == TASK_RUNNING)
			give_back(w, w->ready[i]);
	w->nready = 0;
	if (w->mode->active(w))
		log_info("drain: waiting up to %d s for %zu running tasks",
			 w->n->cfg->worker.cmd.stop_timeout_sec, w->mode->active(w));
	uv_timer_start(&w->tick, on_drain_deadline, 200, 200);
	work_pump(w);
}

void work_stop_now(struct work *w)
{
	w->drain_deadline_ms = 0;
	w->mode->stop_all(w, 0);
}

void work_notify(struct work *w, const char *channel)
{
	if (w->n->cfg->tasks.channel && !strcmp(channel, w->n->cfg->tasks.channel))
		source_relist(w);
}

/* ---- listing ---------------------------------------------------------------------- */

void work_listed(struct work *w, const char *id, size_t len)
{
	bool added;
	const char *why = taskid_problem(id, len);
	if (why) {
		log_warn("skipping a listed task: %s (first bytes: '%.*s')", why,
			 (int)(len < 40 ? len : 40), id);
		w->c.skipped++;
		return;
	}
	int token = hash_token_of(id, len, w->n->cfg->total_tokens);
	if (!taskset_add(&w->ts, id, len, token, w->n->mine, &added))
		log_error("out of memory adding task '%.80s'", id);
}

void work_listing_done(struct work *w, bool ok)
{
	if (ok && w->n->cfg->tasks.poll_interval_sec == 0 && !w->listing_done) {
		w->listing_done = true;
		log_info("listed %zu tasks for %s", w->ts.n, w->date);
	}
	work_pump(w);
}

/* ---- environment ------------------------------------------------------------------ */

char **work_env(struct work *w, const struct task *t)
{
	char date[32], leader[24], id[TASKID_MAX + 32], attempt[32], fence[48];
	snprintf(date, sizeof date, "JOBSYNC_DATE=%s", w->date);
	snprintf(leader, sizeof leader, "JOBSYNC_LEADER=%d", w->n->is_leader ? 1 : 0);
	const char *extra[] = {date, leader, NULL, NULL, NULL, NULL};
	if (t) {
		snprintf(id, sizeof id, "JOBSYNC_TASK_ID=%s", t->id);
		snprintf(attempt, sizeof attempt, "JOBSYNC_ATTEMPT=%d", t->attempts);
		snprintf(fence, sizeof fence, "JOBSYNC_FENCE=%lld", (long long)t->fence);
		extra[2] = id;
		extra[3] = attempt;
		extra[4] = fence;
	}
	return childenv_new(w->n, extra);
}

void work_env_free(char **env)
{
	childenv_free(env);
}

/* ---- setup and teardown ----------------------------------------------------------- */

static void on_work_connected(struct pg_conn *c, void *ud)
{
	(void)c;
	work_pump(ud);
}

static void on_work_disconnected(struct pg_conn *c, const char *why, void *ud)
{
	struct work *w = ud;
	(void)c;
	(void)why;
	w->claim_inflight = w->audit_inflight = w->check_inflight = w->release_inflight = false;
}

static const struct pg_handlers work_pg_handlers = {
	.connected = on_work_connected,
	.disconnected = on_work_disconnected,
};

/* Today in the node's time zone, or the --date given. */
static void work_date(struct work *w, const char *date)
{
	if (date) {
		snprintf(w->date, sizeof w->date, "%s", date);
		return;
	}
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	strftime(w->date, sizeof w->date, "%Y-%m-%d", &tm);
}

/* pg_init only fails when out of memory, with nothing to undo but handles. */
static void init_conn(struct work *w, struct pg_conn *c, const char *role)
{
	const struct config *cfg = w->n->cfg;
	if (pg_init(c, w->n->loop, cfg->dsn ? cfg->dsn : "", &work_pg_handlers, w,
		    cfg->connect_timeout_sec * 1000, cfg->reconnect_max_sec * 1000,
		    cfg->heartbeat_timeout_sec * 1000) < 0) {
		log_error("out of memory");
		abort();
	}
	pg_set_appname(c, cfg->node, role);
	w->n->open_handles++;
}

struct work *work_new(struct node *n)
{
	const struct config *cfg = n->cfg;
	struct work *w = calloc(1, sizeof *w);
	if (!w || taskset_init(&w->ts) < 0) {
		free(w);
		return NULL;
	}
	w->n = n;
	work_date(w, n->date);
	w->mode = work_mode_ops(cfg->worker.mode);
	if (w->mode->init(w) < 0 || !(w->src = source_new(w))) {
		log_error("cannot start the task engine");
		if (w->mode_state)
			w->mode->free(w);
		taskset_free(&w->ts);
		free(w);
		return NULL;
	}
	w->local = !cfg->enabled;
	if (!w->local) {
		init_conn(w, &w->claim_pg, "claims");
		init_conn(w, &w->audit_pg, "audits");
		pg_start(&w->claim_pg);
		pg_start(&w->audit_pg);
	}
	uv_timer_init(n->loop, &w->tick);
	w->tick.data = w;
	uv_timer_init(n->loop, &w->audit_timer);
	w->audit_timer.data = w;
	n->open_handles += 2;
	uv_timer_start(&w->tick, on_tick, 200, 200);
	log_info("tasks: source %s, worker mode %s, date %s", source_name(cfg->tasks.source),
		 w->mode->name, w->date);
	source_start(w->src);
	return w;
}

static void on_conn_closed(struct pg_conn *c)
{
	struct work *w = c->ud;
	w->n->open_handles--;
}

static void on_tick_closed(uv_handle_t *h)
{
	struct work *w = h->data;
	w->n->open_handles--;
}

void work_close(struct work *w)
{
	if (w->stopped)
		return;
	w->stopped = true;
	/* After a clean drain the pool is idle: it may exit on EOF or its stop signal. */
	bool idle = w->draining && w->mode->active(w) == 0;
	w->mode->stop_all(w, idle ? (uint64_t)w->n->cfg->worker.cmd.stop_timeout_sec * 1000 : 0);
	if (w->mode->close)
		w->mode->close(w);
	source_close(w->src);
	if (!w->local) {
		pg_close(&w->claim_pg, on_conn_closed);
		pg_close(&w->audit_pg, on_conn_closed);
	}
	uv_close((uv_handle_t *)&w->tick, on_tick_closed);
	uv_close((uv_handle_t *)&w->audit_timer, on_tick_closed);
}

void work_free(struct work *w)
{
	if (!w)
		return;
	w->mode->free(w);
	source_free(w->src);
	for (size_t i = 0; i < w->nold_src; i++)
		source_free(w->old_src[i]);
	free(w->old_src);
	taskset_free(&w->ts);
	free(w->ready);
	free(w->auditq);
	free(w->releaseq);
	free(w);
}
