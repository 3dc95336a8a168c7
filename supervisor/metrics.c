/* metrics.c: the node's metrics in the Prometheus text exposition format (0.0.4). */
#include "supervisor/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/http.h"
#include "supervisor/node.h"
#include "supervisor/snapshot.h"
#include "supervisor/work.h"

/* HELP and TYPE lines of one metric family. */
static void family(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value with \, " and newline escaped. */
static void label_value(FILE *out, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(out, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", out);
		else
			fputc(*v, out);
	}
}

/* name{label="value"} number */
static void sample1(FILE *out, const char *name, const char *label, const char *value, double v)
{
	fprintf(out, "%s{%s=\"", name, label);
	label_value(out, value);
	fprintf(out, "\"} %.17g\n", v);
}

static void gauge(FILE *out, const char *name, const char *help, double v)
{
	family(out, name, "gauge", help);
	fprintf(out, "%s %.17g\n", name, v);
}

static void counter(FILE *out, const char *name, const char *help, double v)
{
	family(out, name, "counter", help);
	fprintf(out, "%s %.17g\n", name, v);
}

/* Children of the task engine and services by state, from the status document. */
static void children_by_state(FILE *out, const json_t *status)
{
	static const char *const states[] = {"running", "stopping", "stopped", "backoff",
					     "exited", "fatal"};
	family(out, "jobsync_children", "gauge",
	       "Worker children by state (exec: one per running task; stream/batch: the pool)");
	for (size_t i = 0; i < sizeof states / sizeof states[0]; i++) {
		size_t k, count = 0;
		const json_t *c;
		json_array_foreach(json_object_get(status, "children"), k, c) {
			const char *st = json_string_value(json_object_get(c, "state"));
			count += st && !strcmp(st, states[i]);
		}
		sample1(out, "jobsync_children", "state", states[i], (double)count);
	}
	size_t k;
	const json_t *s;
	family(out, "jobsync_service_up", "gauge", "1 when the cluster singleton service runs here");
	json_array_foreach(json_object_get(status, "services"), k, s)
		sample1(out, "jobsync_service_up", "service",
			json_string_value(json_object_get(s, "name")),
			json_integer_value(json_object_get(s, "pid")) > 0);
	family(out, "jobsync_service_restarts_total", "counter", "Restarts of each service");
	json_array_foreach(json_object_get(status, "services"), k, s)
		sample1(out, "jobsync_service_restarts_total", "service",
			json_string_value(json_object_get(s, "name")),
			(double)json_integer_value(json_object_get(s, "restarts")));
	family(out, "jobsync_cron_runs_total", "counter",
	       "Cron runs this node ended (as leader), by job and status");
	json_array_foreach(json_object_get(status, "cron"), k, s) {
		const char *job = json_string_value(json_object_get(s, "name"));
		const char *st;
		json_t *v;
		json_object_foreach(json_object_get(s, "ended"), st, v) {
			fputs("jobsync_cron_runs_total{job=\"", out);
			label_value(out, job);
			fprintf(out, "\",status=\"%s\"} %lld\n", st, (long long)json_integer_value(v));
		}
	}
	family(out, "jobsync_cron_failures_24h", "gauge",
	       "Failed or timed-out runs of each cron job in the last 24 h, cluster-wide "
	       "(from the last cluster read)");
	json_array_foreach(json_object_get(status, "cron"), k, s) {
		const json_t *f = json_object_get(json_object_get(s, "last_run_cluster"), "failures_24h");
		sample1(out, "jobsync_cron_failures_24h", "job",
			json_string_value(json_object_get(s, "name")), (double)json_integer_value(f));
	}
	family(out, "jobsync_cron_running", "gauge", "Runs of each cron job in progress on this node");
	json_array_foreach(json_object_get(status, "cron"), k, s)
		sample1(out, "jobsync_cron_running", "job", json_string_value(json_object_get(s, "name")),
			(double)json_integer_value(json_object_get(s, "running")));
}

/* Tasks by result and the duration histogram. */
static void tasks(FILE *out, const struct node *n)
{
	struct work_counters c = n->work ? n->work->c : (struct work_counters){0};
	family(out, "jobsync_tasks_total", "counter", "Task outcomes on this node (since start)");
	sample1(out, "jobsync_tasks_total", "result", "done", (double)c.done);
	sample1(out, "jobsync_tasks_total", "result", "failed", (double)c.failed);
	sample1(out, "jobsync_tasks_total", "result", "retried", (double)c.retried);
	sample1(out, "jobsync_tasks_total", "result", "rejected", (double)c.rejected);
	sample1(out, "jobsync_tasks_total", "result", "skipped", (double)c.skipped);
	counter(out, "jobsync_tasks_claimed_total", "Tasks this node claimed", (double)c.claimed);
	gauge(out, "jobsync_tasks_in_flight", "Tasks running now",
	      n->work ? (double)n->work->mode->active(n->work) : 0);
	gauge(out, "jobsync_tasks_queued", "Claimed tasks waiting for a free slot",
	      n->work ? (double)n->work->nready : 0);
	family(out, "jobsync_task_duration_seconds", "histogram", "Duration of task attempts");
	uint64_t cum = 0;
	for (int i = 0; i < WORK_DURATION_BUCKETS; i++) {
		cum += c.duration[i];
		fprintf(out, "jobsync_task_duration_seconds_bucket{le=\"%g\"} %llu\n",
			work_duration_bounds[i], (unsigned long long)cum);
	}
	fprintf(out, "jobsync_task_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
		(unsigned long long)c.attempts);
	fprintf(out, "jobsync_task_duration_seconds_sum %.17g\n", c.duration_sum_sec);
	fprintf(out, "jobsync_task_duration_seconds_count %llu\n", (unsigned long long)c.attempts);
}

char *metrics_text(struct node *n, const json_t *status, const struct http_stats *http,
		   size_t *len)
{
	char *buf = NULL;
	FILE *out = open_memstream(&buf, len);
	if (!out)
		return NULL;
	family(out, "jobsync_info", "gauge", "Constant 1, labelled with the node and version");
	fprintf(out, "jobsync_info{node=\"");
	label_value(out, n->cfg->node);
	fprintf(out, "\",version=\"%s\"} 1\n", JOBSYNC_VERSION);
	family(out, "jobsync_state", "gauge", "1 for the node's current state");
	static const char *const states[] = {"starting", "cold_start", "running", "fenced",
					     "draining", "stopped"};
	const char *now = snapshot_state_name(n);
	for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
		sample1(out, "jobsync_state", "state", states[i], !strcmp(now, states[i]));
	gauge(out, "jobsync_ready", "1 when the node is ready (see /health/ready)",
	      snapshot_ready(n, NULL));
	tasks(out, n);
	gauge(out, "jobsync_tokens_owned", "Tokens this node owns", n->owned);
	gauge(out, "jobsync_tokens", "Tokens of the cluster", n->cfg->total_tokens);
	gauge(out, "jobsync_token_version", "Version of the distribution this node holds",
	      (double)n->token_version);
	counter(out, "jobsync_token_changes_total", "Times this node's token set changed",
		(double)n->token_changes);
	counter(out, "jobsync_rebalances_total",
		"Token distributions this node committed as leader", (double)n->distributions);
	gauge(out, "jobsync_leader", "1 when this node leads the cluster", n->is_leader);
	gauge(out, "jobsync_leader_term", "Leader term as last seen", (double)n->term);
	bool beat = n->cfg->enabled && n->registered;
	gauge(out, "jobsync_heartbeat_age_seconds", "Seconds since the last accepted heartbeat",
	      beat ? (double)(node_now_ms(n) - n->hb_ok_ms) / 1000.0 : 0);
	gauge(out, "jobsync_database_connected", "1 when the node's database connection is up",
	      n->cfg->enabled && pg_ready(&n->pg));
	counter(out, "jobsync_database_reconnects_total", "Reconnects of the node's connection",
		n->cfg->enabled ? (double)pg_reconnects(&n->pg) : 0);
	family(out, "jobsync_reloads_total", "counter", "SIGHUP reloads by outcome");
	sample1(out, "jobsync_reloads_total", "result", "applied", (double)n->reloads);
	sample1(out, "jobsync_reloads_total", "result", "refused", (double)n->reload_failures);
	gauge(out, "jobsync_reload_last_ok", "1 when the last SIGHUP reload was applied",
	      n->last_reload_ok);
	children_by_state(out, status);
	if (http) {
		family(out, "jobsync_http_responses_total", "counter", "HTTP responses by class");
		sample1(out, "jobsync_http_responses_total", "code", "2xx", (double)http->responses_2xx);
		sample1(out, "jobsync_http_responses_total", "code", "4xx", (double)http->responses_4xx);
		sample1(out, "jobsync_http_responses_total", "code", "5xx", (double)http->responses_5xx);
		gauge(out, "jobsync_http_connections", "Open HTTP connections", http->open);
	}
	if (fclose(out) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
