/* snapshot.c: the node's own status as one JSON document (SPEC section 7). */
#include "supervisor/snapshot.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "supervisor/clusterview.h"
#include "supervisor/cronsched.h"
#include "supervisor/health.h"
#include "supervisor/node.h"
#include "supervisor/services.h"
#include "supervisor/work.h"

const char *snapshot_state_name(const struct node *n)
{
	static const char *const names[] = {
		[NODE_STARTING] = "starting", [NODE_COLD_START] = "cold_start",
		[NODE_RUNNING] = "running",   [NODE_FENCED] = "fenced",
		[NODE_DRAINING] = "draining", [NODE_STOPPED] = "stopped",
	};
	return names[n->state];
}

bool snapshot_ready(const struct node *n, const char **why)
{
	const char *r = NULL;
	uint64_t fresh = (uint64_t)(config_fence_after_sec(n->cfg) * 1000.0);
	if (n->state == NODE_DRAINING || n->state == NODE_STOPPED)
		r = "draining: leaving the cluster";
	else if (n->state == NODE_FENCED)
		r = "self-fenced: no heartbeat accepted by the database";
	else if (!n->cfg->enabled)
		r = NULL;
	else if (!pg_ready(&n->pg))
		r = "database not connected";
	else if (!n->registered)
		r = "starting: not registered in the cluster yet";
	else if (node_now_ms(n) - n->hb_ok_ms >= fresh)
		r = "heartbeat stale";
	else if (!n->tokens_received)
		r = "cold start: waiting for the first token distribution";
	if (why)
		*why = r ? r : "ready";
	return r == NULL;
}

void snapshot_iso(const struct node *n, uint64_t mono_ms, char *buf, size_t len)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	int64_t wall = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
	wall -= (int64_t)(node_now_ms(n) - mono_ms);
	time_t sec = (time_t)(wall / 1000);
	struct tm tm;
	gmtime_r(&sec, &tm);
	char day[32];
	strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03dZ", day, (int)(wall % 1000));
}

json_t *snapshot_child(const struct node *n, const char *name, int pid, const char *state,
		       const char *task, uint64_t since_ms, unsigned restarts)
{
	char since[40], lower[16];
	size_t i = 0;
	for (; state[i] && i < sizeof lower - 1; i++)
		lower[i] = (char)tolower((unsigned char)state[i]);
	lower[i] = 0;
	snapshot_iso(n, since_ms, since, sizeof since);
	return json_pack("{s:s, s:o, s:s, s:o, s:s, s:I}", "name", name,
			 "pid", pid > 0 ? json_integer(pid) : json_null(), "state", lower,
			 "task", task ? json_string(task) : json_null(), "since", since,
			 "restarts", (json_int_t)restarts);
}

/* Counters of the task engine, with the tasks running now. */
static json_t *counters(const struct node *n)
{
	const struct work *w = n->work;
	struct work_counters c = w ? w->c : (struct work_counters){0};
	size_t active = w ? w->mode->active((struct work *)w) : 0;
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
			 "claimed", (json_int_t)c.claimed, "done", (json_int_t)c.done,
			 "failed", (json_int_t)c.failed, "retried", (json_int_t)c.retried,
			 "rejected", (json_int_t)c.rejected, "skipped", (json_int_t)c.skipped,
			 "in_flight", (json_int_t)active,
			 "queued", (json_int_t)(w ? w->nready : 0));
}

/* Unowned tokens that a lock keeps unowned, from the last cluster read (null: unknown). */
static json_t *unowned_locked(const struct node *n)
{
	const json_t *view = clusterview_last(health_clusterview(n));
	json_t *v = json_object_get(json_object_get(view, "unowned_tokens"), "locked");
	return json_is_integer(v) ? json_incref(v) : json_null();
}

/* Each job's last run cluster-wide (any leader) and its recent failures, from the last
 * cluster read: "last_run_cluster" (null until read). */
static void add_cluster_cron(const struct node *n, json_t *cron)
{
	const json_t *runs = json_object_get(clusterview_last(health_clusterview(n)), "cron");
	size_t i;
	json_t *job;
	json_array_foreach(cron, i, job) {
		json_t *r = json_object_get(runs, json_string_value(json_object_get(job, "name")));
		json_object_set(job, "last_run_cluster", r ? r : json_null());
	}
}

json_t *snapshot_json(struct node *n)
{
	char now[40], hb[40];
	const char *why;
	bool ready = snapshot_ready(n, &why);
	bool connected = n->cfg->enabled && pg_ready(&n->pg);
	snapshot_iso(n, node_now_ms(n), now, sizeof now);
	snapshot_iso(n, n->hb_ok_ms, hb, sizeof hb);
	json_t *children = json_array();
	if (n->work && n->work->mode->status)
		n->work->mode->status(n->work, children);
	json_t *doc = json_pack(
		"{s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:b, s:I, s:i, s:i, s:I}",
		"node", n->cfg->node, "pid", (int)getpid(), "version", JOBSYNC_VERSION,
		"incarnation", n->incarnation, "site", n->cfg->site ? n->cfg->site : "",
		"updated_at", now, "state", snapshot_state_name(n), "ready", ready,
		"ready_reason", why, "leader", n->leader, "is_leader", n->is_leader,
		"term", (json_int_t)n->term, "tokens_owned", n->owned,
		"total_tokens", n->cfg->total_tokens, "token_version", (json_int_t)n->token_version);
	if (!doc) {
		json_decref(children);
		return NULL;
	}
	json_object_set_new(doc, "coordination", json_boolean(n->cfg->enabled));
	json_object_set_new(doc, "database", json_pack("{s:b, s:s, s:i}", "connected", connected,
		"server", n->cfg->enabled && n->pg.label ? n->pg.label : "",
		"reconnects", n->cfg->enabled ? (int)pg_reconnects(&n->pg) : 0));
	bool beat = n->cfg->enabled && n->registered;
	json_object_set_new(doc, "last_heartbeat", beat ? json_string(hb) : json_null());
	json_object_set_new(doc, "heartbeat_age_sec", beat ?
		json_real((double)(node_now_ms(n) - n->hb_ok_ms) / 1000.0) : json_null());
	json_object_set_new(doc, "http", health_address(n) ? json_string(health_address(n))
							   : json_null());
	json_object_set_new(doc, "date", n->work ? json_string(n->work->date) : json_null());
	json_object_set_new(doc, "children", children);
	json_object_set_new(doc, "counters", counters(n));
	json_object_set_new(doc, "unowned_locked_tokens", unowned_locked(n));
	json_object_set_new(doc, "reload", json_pack("{s:I, s:I, s:b, s:o}",
		"applied", (json_int_t)n->reloads, "refused", (json_int_t)n->reload_failures,
		"last_ok", n->last_reload_ok, "last_at", n->last_reload_unix ?
		json_integer(n->last_reload_unix) : json_null()));
	json_t *services = json_array(), *cron = json_array();
	services_status(n->services, services);
	cronsched_status(n->cron, cron);
	add_cluster_cron(n, cron);
	json_object_set_new(doc, "services", services);
	json_object_set_new(doc, "cron", cron);
	return doc;
}
