/* cronsched_run.c: one cron run: its history row (fenced insert), attempts as children, timeout, retries. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner/argv.h"
#include "runner/child.h"
#include "supervisor/backoff.h"
#include "supervisor/childenv.h"
#include "supervisor/cronsched_int.h"
#include "supervisor/log.h"
#include "supervisor/node.h"


static void run_attempt(struct cronsched_run *r);
static void on_run_timer(uv_timer_t *t);

void cronsched_instant_text(const struct cronsched_job *j, int64_t ms, char *buf, size_t len)
{
	if (cron_format_local((time_t)(ms / 1000), j->cfg->timezone, buf, len) != CRON_OK)
		snprintf(buf, len, "@%lld", (long long)(ms / 1000));
}

static void run_closed(uv_handle_t *h)
{
	struct cronsched_run *r = h->data;
	struct cronsched *c = r->c;
	if (r->prev)
		r->prev->next = r->next;
	else
		c->runs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	c->open_handles--;
	free(r);
}

/* The run is over on this node: uncount it and free it once its timer is closed. */
static void run_release(struct cronsched_run *r)
{
	if (r->released)
		return;
	r->released = true;
	if (r->counted)
		r->job->active--;
	r->counted = false;
	uv_timer_stop(&r->timer);
	uv_close((uv_handle_t *)&r->timer, run_closed);
}

static void on_row_written(struct pg_conn *pc, const PGresult *res, void *arg)
{
	const char *what = arg;
	(void)pc;
	if (res && PQresultStatus(res) != PGRES_COMMAND_OK)
		log_warn("cron: %s failed: %s", what, PQresultErrorMessage(res));
}

/* Record the end of the run (history row, or only the log without a database). */
static void run_finish(struct cronsched_run *r, const char *status)
{
	struct cronsched *c = r->c;
	char when[80], id[24], att[16], ex[16];
	cronsched_instant_text(r->job, r->instant_ms, when, sizeof when);
	cronsched_count_end(r->job, r->instant_ms, status);
	snprintf(id, sizeof id, "%lld", (long long)r->id);
	log_at(strcmp(status, "success") ? LOG_LEVEL_WARN : LOG_LEVEL_INFO, NULL,
	       "cron %s (%s%s%s): %s after %d attempt%s, exit status %d", r->job->cfg->name,
	       when, r->id ? ", run " : "", r->id ? id : "", status, r->attempt,
	       r->attempt == 1 ? "" : "s", r->exit_status);
	if (r->id > 0 && !c->local) {
		snprintf(att, sizeof att, "%d", r->attempt);
		snprintf(ex, sizeof ex, "%d", r->exit_status);
		const char *p[] = {id, status, att, r->attempt ? ex : NULL, r->tail};
		pg_query(&c->n->pg, c->sql[CRONSQL_FINISH], 5, p, on_row_written,
			 "recording the end of a run");
	}
}

/* Keep the last CRONSCHED_TAIL bytes of output. */
static void tail_add(struct cronsched_run *r, const char *line, size_t len)
{
	if (len > CRONSCHED_TAIL - 1)
		line += len - (CRONSCHED_TAIL - 1), len = CRONSCHED_TAIL - 1;
	size_t need = len + 1;
	if (r->tail_len + need > CRONSCHED_TAIL) {
		size_t drop = r->tail_len + need - CRONSCHED_TAIL;
		memmove(r->tail, r->tail + drop, r->tail_len - drop);
		r->tail_len -= drop;
	}
	memcpy(r->tail + r->tail_len, line, len);
	r->tail_len += len;
	r->tail[r->tail_len++] = '\n';
	r->tail[r->tail_len] = '\0';
}

static void on_line(struct child *ch, enum child_stream s, const char *line, size_t len,
		    bool truncated, void *ud)
{
	struct cronsched_run *r = ud;
	char ctx[160];
	(void)ch;
	(void)truncated;
	snprintf(ctx, sizeof ctx, "cron=%s", r->job->cfg->name);
	log_at(LOG_LEVEL_INFO, ctx, "%s: %.*s", s == CHILD_STDERR ? "stderr" : "stdout", (int)len,
	       line);
	tail_add(r, line, len);
}

static void on_exit_attempt(struct child *ch, int status, int sig, void *ud)
{
	struct cronsched_run *r = ud;
	const struct config_cron *cc = r->job->cfg;
	child_free(ch);
	r->child = NULL;
	uv_timer_stop(&r->timer);
	r->exit_status = sig ? 128 + sig : status;
	if (r->abandoned) {
		run_release(r);
		return;
	}
	bool ok = status == 0 && sig == 0 && !r->timed_out;
	if (ok) {
		run_finish(r, "success");
		run_release(r);
		return;
	}
	if (r->attempt < cc->max_attempts && (r->c->leading || r->c->local) && !r->c->closing) {
		r->delay_ms = backoff_next_ms(r->delay_ms, (uint64_t)cc->retry_backoff_sec * 1000,
					      (uint64_t)cc->retry_backoff_max_sec * 1000, &r->c->rng);
		log_warn("cron %s: attempt %d of %d %s (exit status %d); retrying in %.1f s",
			 cc->name, r->attempt, cc->max_attempts,
			 r->timed_out ? "timed out" : "failed", r->exit_status,
			 (double)r->delay_ms / 1000);
		r->timed_out = false;
		uv_timer_start(&r->timer, on_run_timer, r->delay_ms, 0);
		return;
	}
	run_finish(r, r->timed_out ? "timeout" : "failed");
	run_release(r);
}

static const struct child_events run_events = {.on_line = on_line, .on_exit = on_exit_attempt};

/* The attempt's timeout (stop the group; SIGKILL follows) or the end of the retry delay. */
static void on_run_timer(uv_timer_t *t)
{
	struct cronsched_run *r = t->data;
	if (r->child) {
		r->timed_out = true;
		log_warn("cron %s: attempt %d timed out after %d s; stopping it", r->job->cfg->name,
			 r->attempt, r->job->cfg->timeout_sec);
		child_stop(r->child);
		return;
	}
	run_attempt(r);
}

/* The environment of a cron child: the node's (childenv) plus the run's. */
static char **run_env(const struct cronsched_run *r)
{
	char job[200], instant[64], run[64], attempt[48];
	snprintf(job, sizeof job, "JOBSYNC_CRON_JOB=%s", r->job->cfg->name);
	snprintf(instant, sizeof instant, "JOBSYNC_CRON_INSTANT=%lld",
		 (long long)(r->instant_ms / 1000));
	snprintf(run, sizeof run, "JOBSYNC_CRON_RUN=%lld", (long long)r->id);
	snprintf(attempt, sizeof attempt, "JOBSYNC_ATTEMPT=%d", r->attempt);
	const char *extra[] = {"JOBSYNC_LEADER=1", job, instant, run, attempt, NULL};
	return childenv_new(r->c->n, extra);
}

/* Start the next attempt as a child in its own process group. */
static void run_attempt(struct cronsched_run *r)
{
	struct cronsched *c = r->c;
	const struct config_cron *cc = r->job->cfg;
	char *shell[] = {"/bin/sh", "-c", cc->cmd.command, NULL};
	char **argv = NULL, **env = NULL, name[160], id[24], att[16];
	const char *err = NULL;
	int rc = -ENOMEM;

	r->attempt++;
	if (r->id > 0 && !c->local) {
		snprintf(id, sizeof id, "%lld", (long long)r->id);
		snprintf(att, sizeof att, "%d", r->attempt);
		pg_query(&c->n->pg, c->sql[CRONSQL_ATTEMPT], 2, (const char *[]){id, att},
			 on_row_written, "recording an attempt");
	}
	if (!cc->cmd.shell && argv_split(cc->cmd.command, &argv, &err) < 0)
		rc = -EINVAL;
	else if ((env = run_env(r)) != NULL) {
		snprintf(name, sizeof name, "cron:%s", cc->name);
		struct child_spec spec = {
			.name = name, .argv = cc->cmd.shell ? shell : argv, .env = env,
			.cwd = cc->cmd.cwd && *cc->cmd.cwd ? cc->cmd.cwd : NULL,
			.stop_signal = cc->cmd.stop_signal,
			.stop_timeout_ms = (uint64_t)cc->cmd.stop_timeout_sec * 1000,
			.max_line = 4096, .stderr_tail = 256,
		};
		rc = child_spawn(c->n->loop, &spec, &run_events, r, &r->child);
	}
	if (argv)
		argv_free(argv);
	childenv_free(env);
	if (rc < 0) {
		char msg[512];
		snprintf(msg, sizeof msg, "cannot start '%s': %s", cc->cmd.command,
			 err ? err : strerror(-rc));
		log_error("cron %s: %s", cc->name, msg);
		tail_add(r, msg, strlen(msg));
		r->exit_status = rc == -ENOENT ? 127 : 126;
		run_finish(r, "failed");
		run_release(r);
		return;
	}
	log_info("cron %s: attempt %d of %d started (pid %d, run %lld)", cc->name, r->attempt,
		 cc->max_attempts, child_pid(r->child), (long long)r->id);
	if (cc->timeout_sec > 0)
		uv_timer_start(&r->timer, on_run_timer, (uint64_t)cc->timeout_sec * 1000, 0);
}

static void on_fired(struct pg_conn *pc, const PGresult *res, void *arg)
{
	struct cronsched_run *r = arg;
	struct cronsched *c = r->c;
	char when[80];
	(void)pc;
	cronsched_instant_text(r->job, r->instant_ms, when, sizeof when);
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		if (res)
			log_warn("cron %s (%s): recording the run failed: %s", r->job->cfg->name,
				 when, PQresultErrorMessage(res));
		run_release(r);
		return;
	}
	if (PQntuples(res) == 0) {
		/* Another leader already fired this instant, or this term is over (G5). */
		log_debug("cron %s (%s): not fired here (already recorded or term over)",
			  r->job->cfg->name, when);
		run_release(r);
		return;
	}
	r->id = atoll(PQgetvalue(res, 0, 0));
	if (r->skipped) {
		log_info("cron %s (%s): skipped (run %lld)", r->job->cfg->name, when, (long long)r->id);
		cronsched_count_end(r->job, r->instant_ms, "skipped");
		run_release(r);
		return;
	}
	if (!c->leading || c->closing) {
		snprintf(r->tail, sizeof r->tail, "leadership lost");
		r->tail_len = strlen(r->tail);
		run_finish(r, "failed");
		run_release(r);
		return;
	}
	log_info("cron %s (%s): firing (run %lld%s)", r->job->cfg->name, when, (long long)r->id,
		 r->request_id ? ", requested" : "");
	run_attempt(r);
}

void cronsched_fire(struct cronsched *c, struct cronsched_job *j, int64_t instant_ms,
		    int64_t request_id, bool skip)
{
	struct cronsched_run *r = calloc(1, sizeof *r);
	char when[80];
	if (!r) {
		log_error("cron %s: out of memory", j->cfg->name);
		return;
	}
	r->c = c;
	r->job = j;
	r->instant_ms = instant_ms;
	r->request_id = request_id;
	r->skipped = skip || (j->cfg->concurrency_policy == CONCURRENCY_FORBID && j->active > 0);
	r->counted = !r->skipped;
	if (r->counted)
		j->active++;
	uv_timer_init(c->n->loop, &r->timer);
	r->timer.data = r;
	c->open_handles++;
	r->next = c->runs;
	if (c->runs)
		c->runs->prev = r;
	c->runs = r;
	if (c->local) {
		cronsched_instant_text(j, instant_ms, when, sizeof when);
		if (r->skipped) {
			log_info("cron %s (%s): skipped%s", j->cfg->name, when,
				 skip ? "" : " (the previous run is still going)");
			cronsched_count_end(j, instant_ms, "skipped");
			run_release(r);
		} else {
			log_info("cron %s (%s): firing", j->cfg->name, when);
			run_attempt(r);
		}
		return;
	}
	char ms[24], term[24], req[24];
	snprintf(ms, sizeof ms, "%lld", (long long)instant_ms);
	snprintf(term, sizeof term, "%lld", (long long)c->term);
	snprintf(req, sizeof req, "%lld", (long long)request_id);
	const char *p[] = {j->cfg->name, ms, c->n->cfg->node, term, request_id ? "true" : "false",
			   r->skipped ? "skipped" : "running", c->n->incarnation,
			   request_id ? req : NULL};
	if (pg_query(&c->n->pg, c->sql[CRONSQL_FIRE], 8, p, on_fired, r) < 0)
		run_release(r);
}

void cronsched_abandon_all(struct cronsched *c, const char *why, bool kill_now)
{
	for (struct cronsched_run *r = c->runs; r; r = r->next) {
		if (r->released || r->abandoned)
			continue;
		if (r->id == 0 && !c->local && !r->child)
			continue; /* insert in flight: on_fired sees the loss */
		r->abandoned = true;
		snprintf(r->tail + r->tail_len, sizeof r->tail - r->tail_len, "%s", why);
		r->tail_len = strlen(r->tail);
		if (!r->skipped)
			run_finish(r, "failed");
		if (r->child) {
			if (kill_now)
				child_kill(r->child);
			else
				child_stop(r->child);
		} else {
			run_release(r);
		}
	}
}
