/* page.c: the read-only HTML page of the node and its cluster (GET /): no scripts, no assets. */
#include "supervisor/page.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const page_colors[PAGE_NCOLORS] = {
	"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf",
};

static const char page_style[] =
	"body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}"
	"h1{font-size:20px;margin:0 0 .2em}h2{font-size:16px;margin:1.4em 0 .4em}"
	"table{border-collapse:collapse;background:#fff}"
	"td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}"
	"th{background:#f0f0f0}.num{text-align:right}.muted{color:#777}"
	".bar{display:flex;height:28px;width:640px;border:1px solid #999;background:#eee}"
	".sw{display:inline-block;width:14px;height:14px;vertical-align:middle;margin-right:4px}"
	".dead{color:#b00}.ok{color:#080}";

/* Text with &, <, >, " escaped. */
static void esc(FILE *out, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", out); break;
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '"': fputs("&quot;", out); break;
		default: fputc(*s, out);
		}
	}
}

static const char *str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

static long long num(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	return json_is_integer(v) ? (long long)json_integer_value(v)
				  : json_is_real(v) ? (long long)json_real_value(v) : 0;
}

/* The nodes table and the token spread bar, from the cluster view. */
static void cluster_part(FILE *out, const json_t *cluster)
{
	const json_t *c = json_object_get(cluster, "cluster"), *nodes = json_object_get(cluster, "nodes");
	const json_t *nd;
	size_t i;
	long long total = num(c, "total_tokens");
	fprintf(out, "<h2>Cluster</h2><p>leader <b>");
	esc(out, str(c, "leader"));
	fprintf(out, "</b>, term %lld, token version %lld, %lld tokens, %lld unowned</p>",
		num(c, "term"), num(c, "token_version"), total,
		num(json_object_get(cluster, "unowned_tokens"), "count"));
	fprintf(out, "<h2>Token spread</h2><div class=\"bar\" id=\"spread\">");
	json_array_foreach(nodes, i, nd) {
		if (num(nd, "tokens") <= 0 || total <= 0)
			continue;
		fprintf(out, "<div title=\"");
		esc(out, str(nd, "name"));
		fprintf(out, "\" style=\"background:%s;width:%.3f%%\"></div>", page_colors[i % PAGE_NCOLORS],
			(double)num(nd, "tokens") * 100.0 / (double)total);
	}
	fprintf(out, "</div><h2>Nodes</h2><table id=\"nodes\"><tr><th>node</th><th>state</th>"
		"<th>heartbeat age</th><th class=num>tokens</th><th class=num>share</th>"
		"<th>host</th><th>site</th><th>pid</th></tr>");
	json_array_foreach(nodes, i, nd) {
		bool alive = json_is_true(json_object_get(nd, "alive"));
		bool draining = json_is_true(json_object_get(nd, "draining"));
		fprintf(out, "<tr><td><span class=sw style=\"background:%s\"></span>",
			page_colors[i % PAGE_NCOLORS]);
		esc(out, str(nd, "name"));
		fprintf(out, "%s</td><td class=\"%s\">%s</td><td class=num>%.1f s</td>"
			"<td class=num>%lld</td><td class=num>%.2f%%</td><td>",
			json_is_true(json_object_get(nd, "leader")) ? " <b>(leader)</b>" : "",
			alive ? "ok" : "dead", draining ? "draining" : alive ? "alive" : "dead",
			json_number_value(json_object_get(nd, "heartbeat_age_sec")), num(nd, "tokens"),
			json_number_value(json_object_get(nd, "percent")));
		esc(out, str(nd, "host"));
		fprintf(out, "</td><td>");
		esc(out, str(nd, "site"));
		fprintf(out, "</td><td class=num>%lld</td></tr>", num(nd, "pid"));
	}
	const json_t *p = json_object_get(cluster, "progress");
	long long done = num(p, "done"), failed = num(p, "failed"), claimed = num(p, "claimed");
	fprintf(out, "</table><h2>Progress of ");
	esc(out, str(p, "date"));
	fprintf(out, "</h2><p>%lld claimed, %lld done, %lld failed, %lld in flight</p>"
		"<table><tr><th>node</th><th class=num>claimed</th><th class=num>done</th>"
		"<th class=num>failed</th><th class=num>in flight</th></tr>",
		claimed, done, failed, num(p, "in_flight"));
	json_array_foreach(json_object_get(p, "nodes"), i, nd) {
		fprintf(out, "<tr><td>");
		esc(out, str(nd, "node"));
		fprintf(out, "</td><td class=num>%lld</td><td class=num>%lld</td><td class=num>%lld</td>"
			"<td class=num>%lld</td></tr>", num(nd, "claimed"), num(nd, "done"),
			num(nd, "failed"), num(nd, "in_flight"));
	}
	fprintf(out, "</table>");
}

/* This node: its children, services and cron jobs. */
static void node_part(FILE *out, const json_t *st)
{
	const json_t *c;
	size_t i;
	const json_t *k = json_object_get(st, "counters");
	fprintf(out, "<h2>This node</h2><p>%lld done, %lld failed, %lld retried, %lld in flight, "
		"%lld tokens owned</p><table id=\"children\"><tr><th>child</th><th>pid</th>"
		"<th>state</th><th>task</th><th>since</th><th class=num>restarts</th></tr>",
		num(k, "done"), num(k, "failed"), num(k, "retried"), num(k, "in_flight"),
		num(st, "tokens_owned"));
	const char *lists[] = {"children", "services"};
	for (int l = 0; l < 2; l++) {
		json_array_foreach(json_object_get(st, lists[l]), i, c) {
			fprintf(out, "<tr><td>%s", l ? "service " : "");
			esc(out, str(c, "name"));
			fprintf(out, "</td><td>%lld</td><td>", num(c, "pid"));
			esc(out, str(c, "state"));
			fprintf(out, "</td><td>");
			esc(out, str(c, "task"));
			fprintf(out, "</td><td>");
			esc(out, str(c, "since"));
			fprintf(out, "</td><td class=num>%lld</td></tr>", num(c, "restarts"));
		}
	}
	fprintf(out, "</table>");
	if (json_array_size(json_object_get(st, "cron")) == 0)
		return;
	fprintf(out, "<h2>Cron jobs</h2><table><tr><th>job</th><th>schedule</th><th>next run</th>"
		"<th class=num>running</th><th>last run</th><th class=num>failures 24 h</th></tr>");
	json_array_foreach(json_object_get(st, "cron"), i, c) {
		fprintf(out, "<tr><td>");
		esc(out, str(c, "name"));
		fprintf(out, "</td><td>");
		esc(out, str(c, "schedule"));
		fprintf(out, "</td><td>");
		esc(out, json_is_string(json_object_get(c, "next_run")) ? str(c, "next_run")
									 : "(not leading)");
		const json_t *last = json_object_get(c, "last_run_cluster");
		fprintf(out, "</td><td class=num>%lld</td><td>", num(c, "running"));
		if (json_is_object(last)) {
			esc(out, str(last, "instant"));
			fputc(' ', out);
			esc(out, str(last, "status"));
			fputs(" on ", out);
			esc(out, str(last, "node"));
		}
		fprintf(out, "</td><td class=num>%lld</td></tr>", num(last, "failures_24h"));
	}
	fprintf(out, "</table>");
}

char *page_html(const json_t *status, const json_t *cluster, size_t *len)
{
	char *buf = NULL;
	FILE *out = open_memstream(&buf, len);
	if (!out)
		return NULL;
	fprintf(out, "<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
		"<meta http-equiv=\"refresh\" content=\"5\"><title>jobsync ");
	esc(out, str(status, "node"));
	fprintf(out, "</title><style>%s</style></head><body><h1>jobsync node ", page_style);
	esc(out, str(status, "node"));
	fprintf(out, "</h1><p>state <b>");
	esc(out, str(status, "state"));
	fprintf(out, "</b> (%s), leader ", json_is_true(json_object_get(status, "ready"))
						? "ready" : str(status, "ready_reason"));
	esc(out, str(status, "leader"));
	fprintf(out, ", term %lld, version ", num(status, "term"));
	esc(out, str(status, "version"));
	fprintf(out, " <span class=muted>updated ");
	esc(out, str(status, "updated_at"));
	fprintf(out, "</span></p>");
	if (cluster)
		cluster_part(out, cluster);
	else
		fprintf(out, "<p class=muted>%s</p>",
			json_is_true(json_object_get(status, "coordination"))
			? "The cluster could not be read from the database just now."
			: "Coordination is off: this node runs alone.");
	node_part(out, status);
	fprintf(out, "</body></html>\n");
	if (fclose(out) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
