/* cronsched.c: [cron.NAME] jobs fired by the leader: timers from cron_next, misfires, manual requests. */
#include "supervisor/cronsched.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/diff.h"
#include "supervisor/cronsched_int.h"
#include "supervisor/log.h"
#include "supervisor/node.h"
#include "supervisor/schema.h"

#define CRONSCHED_POLL_MS 30000           /* fallback look at manual requests (NOTIFY is the path) */
#define CRONSCHED_PRUNE_MS (3600 * 1000)  /* retention at most hourly */
#define CRONSCHED_MISFIRE_STEPS 100000    /* bound of the walk over the grace window */

static void job_arm(struct cronsched_job *j, int64_t after_ms);

static void on_job_closed(uv_handle_t *h)
{
	struct cronsched_job *j = h->data;
	j->c->open_handles--;
}

/* A job's instant came: fire it and arm the next one. */
static void on_job_timer(uv_timer_t *t)
{
	struct cronsched_job *j = t->data;
	struct cronsched *c = j->c;
	int64_t instant = j->next_ms;
	if (!c->leading || c->closing || instant == 0)
		return;
	if (cronsched_clock_ms() < instant) {
		job_arm(j, instant - 1000); /* woke early (clock step): wait again */
		return;
	}
	job_arm(j, instant);
	cronsched_fire(c, j, instant, 0, false);
}

/* Arm j's timer for its first instant strictly after after_ms (cron clock). */
static void job_arm(struct cronsched_job *j, int64_t after_ms)
{
	time_t next;
	j->next_ms = 0;
	uv_timer_stop(&j->timer);
	if (!j->ok || !j->cfg->enabled)
		return;
	int rc = cron_next(&j->sched, j->cfg->timezone, (time_t)(after_ms / 1000), &next);
	if (rc != CRON_OK) {
		log_warn("cron %s: no next fire time (%s)", j->cfg->name,
			 rc == CRON_NEVER ? "none within the horizon" : "bad zone or time");
		return;
	}
	j->next_ms = (int64_t)next * 1000;
	uv_timer_start(&j->timer, on_job_timer, cronsched_clock_delay_ms(j->next_ms), 0);
}

/*
 * Misfire check on becoming leader: the latest instant <= now that is at most
 * misfire_grace_sec old. cron_next only goes forward, so walk from the start
 * of the grace window (a bounded walk over the instants inside it, not a
 * minute scan). The fenced, ON CONFLICT insert does nothing when the instant
 * already has a row.
 */
static void job_misfire(struct cronsched_job *j, int64_t now_ms)
{
	const struct config_cron *cc = j->cfg;
	time_t now = (time_t)(now_ms / 1000), from = now - cc->misfire_grace_sec - 60, t, last = 0;
	if (!j->ok || !cc->enabled)
		return;
	if (j->since_ms / 1000 > from)
		from = (time_t)(j->since_ms / 1000); /* not missed: the job did not exist yet */
	for (int i = 0; i < CRONSCHED_MISFIRE_STEPS; i++) {
		if (cron_next(&j->sched, cc->timezone, from, &t) != CRON_OK || t > now)
			break;
		last = t;
		from = t;
	}
	if (last == 0 || now - last > cc->misfire_grace_sec)
		return;
	char when[80];
	cronsched_instant_text(j, (int64_t)last * 1000, when, sizeof when);
	log_info("cron %s: checking the latest instant %s for a misfire (misfire = %s)", cc->name,
		 when, cc->misfire == MISFIRE_SKIP ? "skip" : "once");
	cronsched_fire(j->c, j, (int64_t)last * 1000, 0, cc->misfire == MISFIRE_SKIP);
}

static void on_request_done(struct pg_conn *pc, const PGresult *res, void *arg)
{
	(void)pc;
	(void)arg;
	if (res && PQresultStatus(res) != PGRES_COMMAND_OK)
		log_warn("cron: closing a run request failed: %s", PQresultErrorMessage(res));
}

static void cronsched_look(struct cronsched *c);

static void on_requests(struct pg_conn *pc, const PGresult *res, void *arg)
{
	struct cronsched *c = arg;
	(void)pc;
	c->req_inflight = false;
	if (!res)
		return;
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		log_warn("cron: reading run requests failed: %s", PQresultErrorMessage(res));
		return;
	}
	for (int i = 0; c->leading && !c->closing && i < PQntuples(res); i++) {
		const char *id = PQgetvalue(res, i, 0), *name = PQgetvalue(res, i, 1);
		struct cronsched_job *j = NULL;
		for (size_t k = 0; k < c->njobs; k++)
			if (!strcmp(c->jobs[k].cfg->name, name) && c->jobs[k].ok)
				j = &c->jobs[k];
		if (!j) {
			char msg[300];
			log_warn("cron: run request %s names unknown job '%.200s'", id, name);
			snprintf(msg, sizeof msg, "error: unknown cron job '%.200s'", name);
			pg_query(&c->n->pg, c->sql[CRONSQL_REQ_DONE], 2, (const char *[]){id, msg},
				 on_request_done, c);
			continue;
		}
		log_info("cron %s: run requested (request %s)", j->cfg->name, id);
		cronsched_fire(c, j, cronsched_clock_ms(), atoll(id), false);
	}
	if (c->req_again) {
		c->req_again = false;
		cronsched_look(c);
	}
}

/* Read pending manual run requests (one read in flight at a time). */
static void cronsched_look(struct cronsched *c)
{
	if (!c->leading || c->closing || c->local)
		return;
	if (c->req_inflight) {
		c->req_again = true;
		return;
	}
	if (pg_query(&c->n->pg, c->sql[CRONSQL_REQUESTS], 0, NULL, on_requests, c) == 0)
		c->req_inflight = true;
}

static void on_pruned(struct pg_conn *pc, const PGresult *res, void *arg)
{
	(void)pc;
	(void)arg;
	if (res && PQresultStatus(res) != PGRES_COMMAND_OK)
		log_warn("cron: pruning run history failed: %s", PQresultErrorMessage(res));
	else if (res && atoi(PQcmdTuples((PGresult *)res)) > 0)
		log_info("cron: pruned %s runs past retention", PQcmdTuples((PGresult *)res));
}

/* Delete history past retention_days, at most hourly. */
static void cronsched_prune(struct cronsched *c)
{
	uint64_t now = uv_now(c->n->loop);
	char days[16];
	if (c->pruned && now - c->pruned_ms < CRONSCHED_PRUNE_MS)
		return;
	snprintf(days, sizeof days, "%d", c->n->cfg->retention_days);
	if (pg_query(&c->n->pg, c->sql[CRONSQL_PRUNE], 1, (const char *[]){days}, on_pruned, c) == 0) {
		c->pruned = true;
		c->pruned_ms = now;
	}
}

static void on_poll(uv_timer_t *t)
{
	struct cronsched *c = t->data;
	cronsched_look(c);
	cronsched_prune(c);
}

/* Set up job j of c for its [cron.NAME] section: parse the schedule, make its timer. */
static void job_init(struct cronsched *c, struct cronsched_job *j, const struct config_cron *cc)
{
	char err[256];
	j->c = c;
	j->cfg = cc;
	j->ok = cron_parse(cc->schedule, &j->sched, err, sizeof err) == 0;
	if (!j->ok)
		log_error("cron %s: bad schedule '%s': %s", cc->name, cc->schedule, err);
	uv_timer_init(c->n->loop, &j->timer);
	j->timer.data = j;
	c->open_handles++;
}

struct cronsched *cronsched_new(struct node *n)
{
	const struct config *cfg = n->cfg;
	if (cfg->ncrons == 0)
		return NULL;
	struct cronsched *c = calloc(1, sizeof *c);
	if (!c || !(c->jobs = calloc(cfg->ncrons, sizeof *c->jobs)))
		goto fail;
	c->n = n;
	c->local = !cfg->enabled;
	c->rng = ((uint64_t)getpid() << 20) ^ (uint64_t)(uintptr_t)c ^ uv_hrtime();
	if (!c->rng)
		c->rng = 1;
	for (int i = 0; i < CRONSQL_NSTMT; i++)
		if (!(c->sql[i] = schema_expand(cronsched_sql_tmpl[i], cfg->prefix)))
			goto fail;
	c->njobs = cfg->ncrons;
	for (size_t i = 0; i < c->njobs; i++)
		job_init(c, &c->jobs[i], &cfg->crons[i]);
	uv_timer_init(n->loop, &c->poll);
	c->poll.data = c;
	c->open_handles++;
	if (cronsched_clock_is_test())
		log_warn("cron: test clock in effect (JOBSYNC_TEST_CRON_EPOCH, "
			 "JOBSYNC_TEST_CRON_SECONDS_PER_MINUTE)");
	if (c->local) {
		/* No database: this node is the whole cluster; history goes to the log. */
		c->leading = true;
		for (size_t i = 0; i < c->njobs; i++)
			job_arm(&c->jobs[i], cronsched_clock_ms());
	}
	return c;
fail:
	log_error("cron: out of memory");
	if (c) {
		for (int i = 0; i < CRONSQL_NSTMT; i++)
			free(c->sql[i]);
		free(c->jobs);
	}
	free(c);
	return NULL;
}

static void on_orphans(struct pg_conn *pc, const PGresult *res, void *arg)
{
	(void)pc;
	(void)arg;
	if (res && PQresultStatus(res) != PGRES_COMMAND_OK)
		log_warn("cron: closing runs of earlier leaders failed: %s", PQresultErrorMessage(res));
	else if (res && atoi(PQcmdTuples((PGresult *)res)) > 0)
		log_warn("cron: %s runs of an earlier leader marked failed", PQcmdTuples((PGresult *)res));
}

void cronsched_lead(struct cronsched *c, int64_t term)
{
	char t[24];
	if (!c || c->closing || c->local)
		return;
	if (c->leading)
		cronsched_unlead(c, "new term");
	c->leading = true;
	c->term = term;
	snprintf(t, sizeof t, "%lld", (long long)term);
	pg_query(&c->n->pg, c->sql[CRONSQL_ORPHANS], 1, (const char *[]){t}, on_orphans, c);
	int64_t now = cronsched_clock_ms();
	for (size_t i = 0; i < c->njobs; i++) {
		job_misfire(&c->jobs[i], now);
		job_arm(&c->jobs[i], now);
	}
	c->pruned = false;
	cronsched_prune(c);
	cronsched_look(c);
	uv_timer_start(&c->poll, on_poll, CRONSCHED_POLL_MS, CRONSCHED_POLL_MS);
}

void cronsched_unlead(struct cronsched *c, const char *why)
{
	char msg[200];
	if (!c || c->local || !c->leading)
		return;
	c->leading = false;
	uv_timer_stop(&c->poll);
	for (size_t i = 0; i < c->njobs; i++) {
		uv_timer_stop(&c->jobs[i].timer);
		c->jobs[i].next_ms = 0;
	}
	snprintf(msg, sizeof msg, "leadership lost: %s", why ? why : "");
	cronsched_abandon_all(c, msg, false);
}

/* The job named name among jobs[0..n), or NULL. */
static struct cronsched_job *job_find(struct cronsched_job *jobs, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(jobs[i].cfg->name, name))
			return &jobs[i];
	return NULL;
}

/* Timers live in the job array: a new array gets new timers; the old one is kept for runs. */
void cronsched_reload(struct cronsched *c, const struct config_diff *d)
{
	const struct config *cfg = c->n->cfg;
	int64_t now = cronsched_clock_ms();
	struct cronsched_job *jobs, **old;
	if (c->closing)
		return;
	jobs = calloc(cfg->ncrons + 1, sizeof *jobs);
	old = realloc(c->old_jobs, (c->nold_jobs + 1) * sizeof *old);
	if (old)
		c->old_jobs = old;
	if (!jobs || !old) {
		log_error("cron: out of memory");
		abort();
	}
	for (size_t i = 0; i < cfg->ncrons; i++) {
		struct cronsched_job *j = &jobs[i];
		struct cronsched_job *was = job_find(c->jobs, c->njobs, cfg->crons[i].name);
		bool changed = !was || config_diff_has(d, CONFIG_CRON_SECTION, cfg->crons[i].name);
		job_init(c, j, &cfg->crons[i]);
		if (was) {
			/* A run under way goes on (its next attempts use the new settings). */
			j->active = was->active;
			memcpy(j->ended, was->ended, sizeof j->ended);
			j->last_status = was->last_status;
			j->last_instant_ms = was->last_instant_ms;
			for (struct cronsched_run *r = c->runs; r; r = r->next)
				if (r->job == was)
					r->job = j;
		}
		j->since_ms = was ? was->since_ms : now;
		if (changed)
			log_info("cron %s: %s by the reload", j->cfg->name, was ? "changed" : "added");
		if (!c->leading)
			continue;
		/* Unchanged: the same next instant, even one due this very moment. */
		if (!changed && was->next_ms)
			job_arm(j, was->next_ms - 1000);
		else
			job_arm(j, now);
	}
	for (size_t i = 0; i < c->njobs; i++) {
		struct cronsched_job *j = &c->jobs[i];
		if (!job_find(jobs, cfg->ncrons, j->cfg->name))
			log_info("cron %s: removed by the reload%s", j->cfg->name,
				 j->active ? "; the run under way finishes" : "");
		uv_timer_stop(&j->timer);
		uv_close((uv_handle_t *)&j->timer, on_job_closed);
	}
	c->old_jobs[c->nold_jobs++] = c->jobs;
	c->jobs = jobs;
	c->njobs = cfg->ncrons;
}

void cronsched_mark_added(struct cronsched *c)
{
	int64_t now = cronsched_clock_ms();
	for (size_t i = 0; c && i < c->njobs; i++)
		c->jobs[i].since_ms = now;
}

void cronsched_notify(struct cronsched *c)
{
	if (c)
		cronsched_look(c);
}


static void on_poll_closed(uv_handle_t *h)
{
	struct cronsched *c = h->data;
	c->open_handles--;
}

void cronsched_close(struct cronsched *c)
{
	if (!c || c->closing)
		return;
	c->closing = true;
	cronsched_abandon_all(c, "node stopping", true);
	c->leading = false;
	for (size_t i = 0; i < c->njobs; i++)
		uv_close((uv_handle_t *)&c->jobs[i].timer, on_job_closed);
	uv_close((uv_handle_t *)&c->poll, on_poll_closed);
}

void cronsched_free(struct cronsched *c)
{
	if (!c)
		return;
	for (int i = 0; i < CRONSQL_NSTMT; i++)
		free(c->sql[i]);
	for (size_t i = 0; i < c->nold_jobs; i++)
		free(c->old_jobs[i]);
	free(c->old_jobs);
	free(c->jobs);
	free(c);
}
