/* health.c: the node's status file and HTTP endpoint (SPEC section 7). */
#include "supervisor/health.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/clusterview.h"
#include "supervisor/http.h"
#include "supervisor/log.h"
#include "supervisor/metrics.h"
#include "supervisor/node.h"
#include "supervisor/page.h"
#include "supervisor/snapshot.h"
#include "supervisor/statusfile.h"

/* Status file writes closer together than this are merged into one. */
#define HEALTH_MIN_WRITE_MS 100
/* The HTML page shows a cluster read at most this old. */
#define HEALTH_PAGE_MAX_AGE_MS 1000

struct health {
	struct node *n;
	struct http_server *http;
	char address[80];
	struct clusterview *view;
	struct statusfile *file;
	uv_timer_t tick;           /* every health_check_interval_sec */
	uv_timer_t soon;           /* a merged write after a change */
	uint64_t written_ms;
	bool closing;
};

static void on_handle_closed(uv_handle_t *h)
{
	struct health *hl = h->data;
	hl->n->open_handles--;
}

/* Write the status file now (queued in the thread pool). */
static void write_now(struct health *hl)
{
	if (!hl->file)
		return;
	uv_timer_stop(&hl->soon);
	hl->written_ms = node_now_ms(hl->n);
	json_t *doc = snapshot_json(hl->n);
	if (doc)
		statusfile_write(hl->file, json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(6)));
	json_decref(doc);
}

static void on_soon(uv_timer_t *t)
{
	write_now(t->data);
}

void health_changed(struct node *n)
{
	struct health *hl = n->health;
	if (!hl || !hl->file || hl->closing || uv_is_active((uv_handle_t *)&hl->soon))
		return;
	uint64_t since = node_now_ms(n) - hl->written_ms;
	uv_timer_start(&hl->soon, on_soon, since >= HEALTH_MIN_WRITE_MS ? 0
					   : HEALTH_MIN_WRITE_MS - since, 0);
}

static void on_view_for_tick(const json_t *view, void *arg)
{
	(void)view;
	write_now(arg);
}

/* Periodic: read the cluster (locked unowned tokens) then rewrite the status file. */
static void on_tick(uv_timer_t *t)
{
	struct health *hl = t->data;
	uint64_t interval = (uint64_t)hl->n->cfg->health_check_interval_sec * 1000;
	if (hl->view && hl->n->registered)
		clusterview_get(hl->view, interval / 2, on_view_for_tick, hl);
	else
		write_now(hl);
}

/* GET /: the page, once a recent enough cluster view is at hand. */
struct page_req {
	struct health *hl;
	struct http_exchange *x;
	bool head;
};

static void on_view_for_page(const json_t *view, void *arg)
{
	struct page_req *pr = arg;
	size_t len = 0;
	json_t *st = snapshot_json(pr->hl->n);
	char *html = st ? page_html(st, view, &len) : NULL;
	if (html)
		http_respond(pr->x, 200, "text/html; charset=utf-8", html, len, NULL);
	else
		http_respond(pr->x, 500, NULL, "out of memory\n", 14, NULL);
	free(html);
	json_decref(st);
	free(pr);
}

static void respond_json(struct http_exchange *x, json_t *doc)
{
	char *text = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) : NULL;
	if (text) {
		size_t len = strlen(text);
		text[len] = '\n';
		http_respond(x, 200, "application/json", text, len + 1, NULL);
	} else {
		http_respond(x, 500, NULL, "out of memory\n", 14, NULL);
	}
	free(text);
}

static void on_request(struct http_exchange *x, const struct http_request *req, void *ud)
{
	struct health *hl = ud;
	struct node *n = hl->n;
	const char *why;
	char body[256];

	if (!strcmp(req->path, "/health/live")) {
		http_respond(x, 200, NULL, "live\n", 5, NULL);
	} else if (!strcmp(req->path, "/health/ready")) {
		bool ready = snapshot_ready(n, &why);
		int len = snprintf(body, sizeof body, "%s%s\n", ready ? "" : "not ready: ", why);
		http_respond(x, ready ? 200 : 503, NULL, body, (size_t)len, NULL);
	} else if (!strcmp(req->path, "/status")) {
		json_t *doc = snapshot_json(n);
		respond_json(x, doc);
		json_decref(doc);
	} else if (!strcmp(req->path, "/metrics")) {
		struct http_stats hs;
		size_t len = 0;
		json_t *doc = snapshot_json(n);
		http_server_stats(hl->http, &hs);
		char *text = doc ? metrics_text(n, doc, &hs, &len) : NULL;
		if (text)
			http_respond(x, 200, "text/plain; version=0.0.4; charset=utf-8", text, len, NULL);
		else
			http_respond(x, 500, NULL, "out of memory\n", 14, NULL);
		free(text);
		json_decref(doc);
	} else if (!strcmp(req->path, "/")) {
		struct page_req *pr = malloc(sizeof *pr);
		if (!pr) {
			http_respond(x, 500, NULL, "out of memory\n", 14, NULL);
			return;
		}
		*pr = (struct page_req){.hl = hl, .x = x, .head = req->head};
		clusterview_get(hl->view, HEALTH_PAGE_MAX_AGE_MS, on_view_for_page, pr);
	} else {
		int len = snprintf(body, sizeof body, "not found; try /, /status, /metrics, "
				   "/health/live, /health/ready\n");
		http_respond(x, 404, NULL, body, (size_t)len, NULL);
	}
}

int health_start(struct node *n)
{
	const struct config *cfg = n->cfg;
	struct health *hl = calloc(1, sizeof *hl);
	char err[512];
	if (!hl)
		return -1;
	hl->n = n;
	n->health = hl;
	hl->view = clusterview_new(n);
	if (cfg->status_file && *cfg->status_file &&
	    !(hl->file = statusfile_new(n->loop, cfg->status_file, err, sizeof err))) {
		log_error("%s: %s", cfg->path, err);
		return -1;
	}
	if (cfg->listen && *cfg->listen) {
		hl->http = http_server_new(n->loop, cfg->listen, on_request, hl, err, sizeof err);
		if (!hl->http) {
			log_error("%s: %s", cfg->path, err);
			return -1;
		}
		n->open_handles++;
		snprintf(hl->address, sizeof hl->address, "%s", http_server_address(hl->http));
		log_info("health: listening on http://%s (/, /status, /metrics, /health/live, "
			 "/health/ready)", hl->address);
	}
	uv_timer_init(n->loop, &hl->tick);
	uv_timer_init(n->loop, &hl->soon);
	hl->tick.data = hl->soon.data = hl;
	n->open_handles += 2;
	uint64_t every = (uint64_t)cfg->health_check_interval_sec * 1000;
	uv_timer_start(&hl->tick, on_tick, every, every);
	write_now(hl);
	return 0;
}

struct clusterview *health_clusterview(const struct node *n)
{
	return n->health ? n->health->view : NULL;
}

const char *health_address(const struct node *n)
{
	return n->health && n->health->http ? n->health->address : NULL;
}

static void on_http_closed(void *ud)
{
	struct node *n = ud;
	n->open_handles--;
}

void health_close(struct node *n)
{
	struct health *hl = n->health;
	if (!hl || hl->closing)
		return;
	write_now(hl);
	hl->closing = true;
	clusterview_close(hl->view);
	if (hl->http)
		http_server_close(hl->http, on_http_closed, n);
	hl->http = NULL;
	if (hl->tick.loop) {
		uv_close((uv_handle_t *)&hl->tick, on_handle_closed);
		uv_close((uv_handle_t *)&hl->soon, on_handle_closed);
	}
}

void health_free(struct node *n)
{
	struct health *hl = n->health;
	if (!hl)
		return;
	clusterview_free(hl->view);
	statusfile_free(hl->file);
	free(hl);
	n->health = NULL;
}
