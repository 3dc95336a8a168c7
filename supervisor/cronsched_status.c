/* cronsched_status.c: the cron jobs as the status document shows them. */
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "runner/child.h"
#include "supervisor/cronsched.h"
#include "supervisor/cronsched_int.h"
#include "supervisor/health.h"

/* A cron-clock instant as ISO 8601 UTC. */
static void iso_utc(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

const char *const cronsched_status_names[CRONSCHED_NSTATUS] = {
	"success", "failed", "timeout", "skipped",
};

void cronsched_count_end(struct cronsched_job *j, int64_t instant_ms, const char *status)
{
	for (int i = 0; i < CRONSCHED_NSTATUS; i++) {
		if (!strcmp(status, cronsched_status_names[i])) {
			j->ended[i]++;
			j->last_status = i + 1;
			j->last_instant_ms = instant_ms;
		}
	}
	health_changed(j->c->n);
}

/* Runs this node ended, by status. */
static json_t *ended(const struct cronsched_job *j)
{
	json_t *o = json_object();
	for (int i = 0; i < CRONSCHED_NSTATUS; i++)
		json_object_set_new(o, cronsched_status_names[i], json_integer((json_int_t)j->ended[i]));
	return o;
}

/* The last run this node ended: instant and status, or null. */
static json_t *last_run(const struct cronsched_job *j)
{
	char at[40];
	if (!j->last_status)
		return json_null();
	iso_utc(j->last_instant_ms, at, sizeof at);
	return json_pack("{s:s, s:s}", "instant", at,
			 "status", cronsched_status_names[j->last_status - 1]);
}

/* Pids of this job's runs whose attempt is running now, as a JSON array. */
static json_t *running_pids(const struct cronsched *c, const struct cronsched_job *j)
{
	json_t *pids = json_array();
	for (const struct cronsched_run *r = c->runs; r; r = r->next)
		if (r->job == j && r->child && child_pid(r->child) > 0)
			json_array_append_new(pids, json_integer(child_pid(r->child)));
	return pids;
}

void cronsched_status(const struct cronsched *c, json_t *arr)
{
	char next[80], local[80];
	for (size_t i = 0; c && i < c->njobs; i++) {
		const struct cronsched_job *j = &c->jobs[i];
		const struct config_cron *cc = j->cfg;
		bool armed = c->leading && j->next_ms > 0;
		if (armed) {
			iso_utc(j->next_ms, next, sizeof next);
			cronsched_instant_text(j, j->next_ms, local, sizeof local);
		}
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:b, s:b, s:o, s:o, s:i, s:o, s:o, s:o}",
			"name", cc->name, "schedule", cc->schedule,
			"timezone", cc->timezone && *cc->timezone ? cc->timezone : "local",
			"enabled", cc->enabled && j->ok, "leading", c->leading,
			"next_run", armed ? json_string(next) : json_null(),
			"next_run_local", armed ? json_string(local) : json_null(),
			"running", j->active, "pids", running_pids(c, j),
			"last_run", last_run(j), "ended", ended(j)));
	}
}
