/* test_http.c: the HTTP server on a real libuv loop, with non-blocking clients on the same loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <signal.h>

#include <http_parser.h>

#include "supervisor/http.h"

#define MAXRESP 4
#define MAXCLIENTS 256
#define MS(ns) ((ns) / 1000000)

/* Client flags. */
#define C_HEAD 1          /* the requests are HEAD: responses have no body */
#define C_NOREAD 2        /* never read (a client that does not take its response) */
#define C_CLOSE_SENT 4    /* close as soon as the request is written */
#define C_DRIBBLE 8       /* send the request one byte every 20 ms (slow loris) */

struct fx;

/* One client connection: sends its request, collects and parses what comes back. */
struct client {
	struct fx *f;
	uv_tcp_t tcp;
	uv_connect_t connect;
	uv_write_t write;
	uv_timer_t drip;             /* C_DRIBBLE */
	char *out;                   /* the request */
	size_t out_len, sent;
	int flags;
	int want;                    /* close after this many responses; 0: read until EOF */
	char *raw;                   /* everything received, NUL-terminated */
	size_t raw_len;
	struct http_parser parser;
	int nresp, parse_errors;
	int status[MAXRESP];
	char body[MAXRESP][128];
	size_t body_len[MAXRESP];
	bool eof, closing, done;
	int error;                   /* connect or read error */
	uint64_t done_ns;
};

/* A deferred answer: the handler responds from a timer. */
struct deferred {
	uv_timer_t timer;
	struct http_exchange *x;
	struct fx *f;
};

/* Everything one test's server and clients did. */
struct fx {
	uv_loop_t loop;
	uv_timer_t watchdog, poll, heartbeat;
	bool polling, beating;
	bool (*until)(struct fx *f);
	struct http_server *s;
	int port;
	int calls;                   /* handler calls */
	int answered_at[8];          /* deferred answers done when call i came */
	int deferred, deferred_answered;
	int server_closed;           /* done callbacks */
	struct http_stats stats;     /* taken when the server is closed */
	bool keep_server;            /* the test closes the server itself */
	int nclients, ndone;
	struct client clients[MAXCLIENTS];
	char method[8], path[2200], query[256];
	bool head;
	uint64_t start_ns, last_beat, max_gap;
	unsigned beats, max_open;
	char *big;
};

static void on_watchdog(uv_timer_t *t)
{
	struct fx *f = t->data;

	fail_msg("watchdog: %d of %d clients done, %d handler calls", f->ndone, f->nclients,
		 f->calls);
}

static void server_done(void *ud)
{
	((struct fx *)ud)->server_closed++;
}

static void close_server(struct fx *f)
{
	if (!f->s)
		return;
	http_server_stats(f->s, &f->stats);
	http_server_close(f->s, server_done, f);
	f->s = NULL;
}

static void deferred_closed(uv_handle_t *h)
{
	free(h->data);
}

static void deferred_fire(uv_timer_t *t)
{
	struct deferred *d = t->data;

	d->f->deferred_answered++;
	http_respond(d->x, 200, "text/plain", "later\n", 6, NULL);
	uv_close((uv_handle_t *)t, deferred_closed);
}

/* "/" hello, "/defer?MS" later, "/echo..." path and query, "/big" 32 MiB, "/fail" 500, else 404. */
static void handler(struct http_exchange *x, const struct http_request *req, void *ud)
{
	struct fx *f = ud;
	char body[2400];
	int n;

	if (f->calls < 8)
		f->answered_at[f->calls] = f->deferred_answered;
	f->calls++;
	snprintf(f->method, sizeof(f->method), "%s", req->method);
	snprintf(f->path, sizeof(f->path), "%s", req->path);
	snprintf(f->query, sizeof(f->query), "%s", req->query);
	f->head = req->head;
	if (strcmp(req->path, "/") == 0) {
		http_respond(x, 200, "text/plain", "hello\n", 6, NULL);
	} else if (strcmp(req->path, "/defer") == 0) {
		struct deferred *d = calloc(1, sizeof(*d));

		assert_non_null(d);
		d->x = x;
		d->f = f;
		d->timer.data = d;
		f->deferred++;
		uv_timer_init(&f->loop, &d->timer);
		uv_timer_start(&d->timer, deferred_fire, req->query[0] ? strtoul(req->query, NULL, 10) : 50, 0);
	} else if (strncmp(req->path, "/echo", 5) == 0) {
		n = snprintf(body, sizeof(body), "%s?%s", req->path, req->query);
		http_respond(x, 200, "text/plain", body, (size_t)n, "X-Test: yes\r\n");
	} else if (strcmp(req->path, "/big") == 0) {
		f->big = malloc(32 << 20);
		assert_non_null(f->big);
		memset(f->big, 'x', 32 << 20);
		http_respond(x, 200, "application/octet-stream", f->big, 32 << 20, NULL);
	} else if (strcmp(req->path, "/fail") == 0) {
		http_respond(x, 500, NULL, "boom\n", 5, NULL);
	} else {
		http_respond(x, 404, NULL, "not found\n", 10, NULL);
	}
}

static int cl_headers_complete(struct http_parser *p)
{
	struct client *c = p->data;

	if (c->nresp < MAXRESP)
		c->status[c->nresp] = p->status_code;
	return (c->flags & C_HEAD) ? 1 : 0;
}

static int cl_body(struct http_parser *p, const char *at, size_t len)
{
	struct client *c = p->data;

	if (c->nresp < MAXRESP) {
		size_t room = sizeof(c->body[0]) - 1 - c->body_len[c->nresp];
		size_t n = len < room ? len : room;

		memcpy(c->body[c->nresp] + c->body_len[c->nresp], at, n);
		c->body_len[c->nresp] += n;
	}
	return 0;
}

static int cl_message_complete(struct http_parser *p)
{
	((struct client *)p->data)->nresp++;
	return 0;
}

static const struct http_parser_settings cl_settings = {
	.on_headers_complete = cl_headers_complete,
	.on_body = cl_body,
	.on_message_complete = cl_message_complete,
};

static void client_closed(uv_handle_t *h)
{
	struct client *c = h->data;
	struct fx *f = c->f;

	c->done = true;
	c->done_ns = uv_hrtime();
	if (++f->ndone == f->nclients && !f->keep_server)
		close_server(f);
}

static void client_close(struct client *c)
{
	if (c->closing)
		return;
	c->closing = true;
	if (c->flags & C_DRIBBLE)
		uv_close((uv_handle_t *)&c->drip, NULL);
	uv_close((uv_handle_t *)&c->tcp, client_closed);
}

static void client_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct client *c = h->data;
	char *raw = realloc(c->raw, c->raw_len + hint + 1);

	assert_non_null(raw);
	c->raw = raw;
	*buf = uv_buf_init(c->raw + c->raw_len, (unsigned)hint);
}

static void client_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct client *c = st->data;
	size_t used;

	(void)buf;
	if (nread < 0) {
		if (nread == UV_EOF)
			c->eof = true;
		else
			c->error = (int)nread;
		client_close(c);
		return;
	}
	used = http_parser_execute(&c->parser, &cl_settings, c->raw + c->raw_len, (size_t)nread);
	if (used != (size_t)nread || HTTP_PARSER_ERRNO(&c->parser) != HPE_OK)
		c->parse_errors++;
	c->raw_len += (size_t)nread;
	c->raw[c->raw_len] = '\0';
	if (c->want && c->nresp >= c->want)
		client_close(c);
}

static void client_written(uv_write_t *req, int status)
{
	struct client *c = req->data;

	(void)status;
	if (c->flags & C_CLOSE_SENT)
		client_close(c);
}

static void client_drip(uv_timer_t *t)
{
	struct client *c = t->data;
	uv_buf_t b = uv_buf_init(c->out + c->sent, 1);

	if (c->sent < c->out_len && uv_try_write((uv_stream_t *)&c->tcp, &b, 1) == 1)
		c->sent++;
}

static void client_connected(uv_connect_t *req, int status)
{
	struct client *c = req->data;
	uv_buf_t b = uv_buf_init(c->out, (unsigned)c->out_len);

	if (status < 0) {
		c->error = status;
		client_close(c);
		return;
	}
	if (!(c->flags & C_NOREAD))
		assert_int_equal(uv_read_start((uv_stream_t *)&c->tcp, client_alloc, client_read), 0);
	if (c->flags & C_DRIBBLE) {
		uv_timer_start(&c->drip, client_drip, 0, 20);
	} else if (c->out_len) {
		c->write.data = c;
		assert_int_equal(uv_write(&c->write, (uv_stream_t *)&c->tcp, &b, 1, client_written), 0);
	}
}

/* Connect a client that sends request (len bytes) and expects want responses (0: until EOF). */
static struct client *client_start_len(struct fx *f, const char *request, size_t len, int want,
				       int flags)
{
	struct client *c;
	struct sockaddr_in sa;

	assert_true(f->nclients < MAXCLIENTS);
	c = &f->clients[f->nclients++];
	c->f = f;
	c->want = want;
	c->flags = flags;
	c->out_len = len;
	c->out = malloc(len + 1);
	assert_non_null(c->out);
	memcpy(c->out, request, len);
	c->raw = calloc(1, 1);
	http_parser_init(&c->parser, HTTP_RESPONSE);
	c->parser.data = c;
	assert_int_equal(uv_ip4_addr("127.0.0.1", f->port, &sa), 0);
	assert_int_equal(uv_tcp_init(&f->loop, &c->tcp), 0);
	c->tcp.data = c;
	c->connect.data = c;
	if (flags & C_DRIBBLE) {
		uv_timer_init(&f->loop, &c->drip);
		c->drip.data = c;
	}
	assert_int_equal(uv_tcp_connect(&c->connect, &c->tcp, (struct sockaddr *)&sa,
					client_connected), 0);
	return c;
}

static struct client *client_start(struct fx *f, const char *request, int want, int flags)
{
	return client_start_len(f, request, strlen(request), want, flags);
}

/* A fresh loop with a server on 127.0.0.1:0 (a 20 s watchdog fails a hung test). */
static void fx_init(struct fx *f)
{
	char err[256] = "";

	memset(f, 0, sizeof(*f));
	assert_int_equal(uv_loop_init(&f->loop), 0);
	uv_timer_init(&f->loop, &f->watchdog);
	f->watchdog.data = f;
	uv_timer_start(&f->watchdog, on_watchdog, 20000, 0);
	uv_unref((uv_handle_t *)&f->watchdog);
	f->s = http_server_new(&f->loop, "127.0.0.1:0", handler, f, err, sizeof(err));
	assert_non_null(f->s);
	assert_string_equal(err, "");
	f->port = http_server_port(f->s);
	assert_true(f->port > 0);
	f->start_ns = uv_hrtime();
}

static void on_poll(uv_timer_t *t)
{
	struct fx *f = t->data;

	if (!f->s || !f->until(f))
		return;
	uv_close((uv_handle_t *)t, NULL);
	f->polling = false;
	for (int i = 0; i < f->nclients; i++)
		if (!f->clients[i].closing)
			client_close(&f->clients[i]);
	close_server(f);
}

/* Close the clients left and the server once until(f) holds (checked every 10 ms). */
static void fx_until(struct fx *f, bool (*until)(struct fx *f))
{
	f->keep_server = true;
	f->until = until;
	f->polling = true;
	uv_timer_init(&f->loop, &f->poll);
	f->poll.data = f;
	uv_timer_start(&f->poll, on_poll, 10, 10);
}

static void on_heartbeat(uv_timer_t *t)
{
	struct fx *f = t->data;
	uint64_t now = uv_hrtime();
	struct http_stats st;

	if (f->beats++ && now - f->last_beat > f->max_gap)
		f->max_gap = now - f->last_beat;
	f->last_beat = now;
	if (f->s) {
		http_server_stats(f->s, &st);
		if (st.open > f->max_open)
			f->max_open = st.open;
	}
	if (!f->s) {
		uv_close((uv_handle_t *)t, NULL);
		f->beating = false;
	}
}

/* Run until every client is done and the server closed; no handle may be left. */
static void fx_run(struct fx *f)
{
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_null(f->s);
	assert_int_equal(f->server_closed, 1);
	assert_int_equal(f->ndone, f->nclients);
	assert_int_equal(f->deferred, f->deferred_answered);
	uv_close((uv_handle_t *)&f->watchdog, NULL);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
}

static void fx_free(struct fx *f)
{
	for (int i = 0; i < f->nclients; i++) {
		free(f->clients[i].out);
		free(f->clients[i].raw);
	}
	free(f->big);
	free(f);
}

static struct fx *fx_new(void)
{
	struct fx *f = malloc(sizeof(*f));

	assert_non_null(f);
	fx_init(f);
	return f;
}

/* The header block of the first response of c (up to the blank line), or fails. */
static void assert_header(const struct client *c, const char *line)
{
	const char *end = strstr(c->raw, "\r\n\r\n");

	assert_non_null(end);
	if (!strstr(c->raw, line) || strstr(c->raw, line) > end)
		fail_msg("no '%s' in:\n%s", line, c->raw);
}

static void test_get(void **state)
{
	struct fx *f = fx_new();
	struct client *c, *e, *h;

	(void)state;
	c = client_start(f, "GET / HTTP/1.1\r\nHost: t\r\n\r\n", 1, 0);
	e = client_start(f, "GET /echo/a%20b%2F?x=1&y=%41 HTTP/1.1\r\nHost: t\r\n\r\n", 1, 0);
	h = client_start(f, "GET / HTTP/1.1\r\nHOST:\r\n\r\n", 1, 0);   /* empty, but one */
	fx_run(f);
	assert_int_equal(f->calls, 3);
	assert_int_equal(h->status[0], 200);
	assert_int_equal(c->nresp, 1);
	assert_int_equal(c->parse_errors, 0);
	assert_int_equal(c->status[0], 200);
	assert_string_equal(c->body[0], "hello\n");
	assert_true(strncmp(c->raw, "HTTP/1.1 200 OK\r\n", 17) == 0);
	assert_header(c, "\r\nContent-Type: text/plain\r\n");
	assert_header(c, "\r\nContent-Length: 6\r\n");
	assert_header(c, "\r\nCache-Control: no-store\r\n");
	assert_header(c, "\r\nConnection: keep-alive\r\n");
	assert_int_equal(e->status[0], 200);
	assert_string_equal(e->body[0], "/echo/a b/?x=1&y=%41");
	assert_header(e, "\r\nX-Test: yes\r\n");
	assert_string_equal(f->method, "GET");
	assert_false(f->head);
	assert_int_equal(f->stats.requests, 3);
	assert_int_equal(f->stats.responses_2xx, 3);
	assert_int_equal(f->stats.responses_4xx + f->stats.responses_5xx, 0);
	fx_free(f);
}

static void test_head(void **state)
{
	struct fx *f = fx_new();
	struct client *c;
	const char *end;

	(void)state;
	c = client_start(f, "HEAD / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", 0, C_HEAD);
	fx_run(f);
	assert_int_equal(f->calls, 1);
	assert_string_equal(f->method, "HEAD");
	assert_true(f->head);
	assert_true(c->eof);
	assert_int_equal(c->nresp, 1);
	assert_int_equal(c->status[0], 200);
	assert_header(c, "\r\nContent-Length: 6\r\n");
	assert_header(c, "\r\nConnection: close\r\n");
	end = strstr(c->raw, "\r\n\r\n");
	assert_int_equal((size_t)(end + 4 - c->raw), c->raw_len);   /* no body */
	fx_free(f);
}

static void test_not_found_and_fail(void **state)
{
	struct fx *f = fx_new();
	struct client *c, *d;

	(void)state;
	c = client_start(f, "GET /nope HTTP/1.1\r\nHost: t\r\n\r\n", 1, 0);
	d = client_start(f, "GET /fail HTTP/1.1\r\nHost: t\r\n\r\n", 1, 0);
	fx_run(f);
	assert_int_equal(f->calls, 2);
	assert_int_equal(c->status[0], 404);
	assert_string_equal(c->body[0], "not found\n");
	assert_header(c, "\r\nContent-Type: text/plain; charset=utf-8\r\n");
	assert_true(strncmp(d->raw, "HTTP/1.1 500 Internal Server Error\r\n", 36) == 0);
	assert_int_equal(f->stats.responses_4xx, 1);
	assert_int_equal(f->stats.responses_5xx, 1);
	fx_free(f);
}

static void test_deferred(void **state)
{
	struct fx *f = fx_new();
	struct client *c;

	(void)state;
	c = client_start(f, "GET /defer?100 HTTP/1.1\r\nHost: t\r\n\r\n", 1, 0);
	fx_run(f);
	assert_int_equal(f->calls, 1);
	assert_int_equal(f->deferred_answered, 1);
	assert_int_equal(c->status[0], 200);
	assert_string_equal(c->body[0], "later\n");
	assert_true(MS(c->done_ns - f->start_ns) >= 90);
	fx_free(f);
}

static bool gone_and_answered(struct fx *f)
{
	struct http_stats st;

	http_server_stats(f->s, &st);
	return f->deferred_answered == 1 && st.open == 0;
}

/* The client leaves before the deferred answer: the answer only frees, the server notices. */
static void test_client_gone(void **state)
{
	struct fx *f = fx_new();
	struct client *c;

	(void)state;
	c = client_start(f, "GET /defer?150 HTTP/1.1\r\nHost: t\r\n\r\n", 1, C_CLOSE_SENT);
	fx_until(f, gone_and_answered);
	fx_run(f);
	assert_int_equal(f->calls, 1);
	assert_int_equal(c->nresp, 0);
	assert_int_equal(f->stats.open, 0);
	fx_free(f);
}

static void close_soon(uv_timer_t *t)
{
	close_server(t->data);
	uv_close((uv_handle_t *)t, NULL);
}

/* The server closes while an answer is pending: the client sees EOF, the late answer only frees. */
static void test_close_with_pending(void **state)
{
	struct fx *f = fx_new();
	struct client *c;
	uv_timer_t t;

	(void)state;
	f->keep_server = true;
	c = client_start(f, "GET /defer?200 HTTP/1.1\r\nHost: t\r\n\r\n", 1, 0);
	uv_timer_init(&f->loop, &t);
	t.data = f;
	uv_timer_start(&t, close_soon, 50, 0);
	fx_run(f);
	assert_int_equal(f->calls, 1);
	assert_int_equal(f->deferred_answered, 1);
	assert_int_equal(c->nresp, 0);
	assert_true(c->eof || c->error);
	fx_free(f);
}

/* Each request, the status expected, and the connection closed after the answer. */
static void expect_errors(const char *const *requests, const int *statuses, int n)
{
	struct fx *f = fx_new();

	for (int i = 0; i < n; i++)
		client_start(f, requests[i], 0, 0);
	fx_run(f);
	if (f->calls != 0)
		fail_msg("%d handler calls, the last one for '%s'", f->calls, f->path);
	for (int i = 0; i < n; i++) {
		struct client *c = &f->clients[i];

		if (c->nresp != 1 || c->status[0] != statuses[i])
			fail_msg("request %d: %d responses, status %d, expected %d:\n%s", i,
				 c->nresp, c->status[0], statuses[i], c->raw);
		assert_true(c->eof);
		assert_header(c, "\r\nConnection: close\r\n");
		assert_header(c, "\r\nContent-Type: text/plain; charset=utf-8\r\n");
		assert_non_null(strchr(c->body[0], '\n'));
	}
	assert_int_equal(f->stats.requests, n);
	fx_free(f);
}

static void test_method_405(void **state)
{
	static const char *const req[] = {
		"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc",
		"DELETE /x HTTP/1.1\r\nHost: t\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n",
	};
	static const int st[] = { 405, 405, 405 };

	(void)state;
	expect_errors(req, st, 3);
	/* and the Allow header */
	{
		struct fx *f = fx_new();
		struct client *c = client_start(f, req[0], 0, 0);

		fx_run(f);
		assert_header(c, "\r\nAllow: GET, HEAD\r\n");
		assert_string_equal(c->body[0], "Method Not Allowed\n");
		fx_free(f);
	}
}

static void test_bad_requests_400(void **state)
{
	static const char *const req[] = {
		"HELLO\r\n\r\n",
		"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 tls hello",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"GET / HTTP/1.1\r\n\r\n",                                  /* no Host */
		"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",            /* two */
		"GET /a%zz HTTP/1.1\r\nHost: t\r\n\r\n",
		"GET /a%00b HTTP/1.1\r\nHost: t\r\n\r\n",
		"GET /a%4 HTTP/1.1\r\nHost: t\r\n\r\n",
		"GET * HTTP/1.1\r\nHost: t\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\n",
		"GET / HTTP/1.x\r\nHost: t\r\n\r\n",
		"GET /\x01 HTTP/1.1\r\nHost: t\r\n\r\n",
		"GET / HTTP/2.0\r\nHost: t\r\n\r\n",
	};
	static const int st[] = { 400, 400, 400, 400, 400, 400, 400, 400, 400, 400, 400, 400, 505 };

	(void)state;
	expect_errors(req, st, 13);
}

/* Build "GET / HTTP/1.1\r\nHost: t\r\nX-Pad: ...\r\n\r\n" of exactly total bytes. */
static char *padded_request(size_t total)
{
	const char *pre = "GET / HTTP/1.1\r\nHost: t\r\nX-Pad: ", *post = "\r\n\r\n";
	size_t pad = total - strlen(pre) - strlen(post);
	char *r = malloc(total + 1);

	assert_non_null(r);
	strcpy(r, pre);
	memset(r + strlen(pre), 'p', pad);
	strcpy(r + strlen(pre) + pad, post);
	assert_int_equal(strlen(r), total);
	return r;
}

static void test_header_431(void **state)
{
	struct fx *f = fx_new();
	char *at = padded_request(8192), *over = padded_request(8193), *big = padded_request(16384);
	struct client *a, *o, *b;

	(void)state;
	a = client_start(f, at, 1, 0);
	o = client_start(f, over, 0, 0);
	b = client_start(f, big, 0, 0);
	fx_run(f);
	assert_int_equal(f->calls, 1);
	assert_int_equal(a->status[0], 200);
	assert_int_equal(o->status[0], 431);
	assert_true(o->eof);
	assert_int_equal(b->status[0], 431);
	assert_string_equal(b->body[0], "Request Header Fields Too Large\n");
	assert_true(b->eof);
	free(at);
	free(over);
	free(big);
	fx_free(f);
}

static void test_url_too_long(void **state)
{
	struct fx *f = fx_new();
	char req[4000], path[3000];
	struct client *ok, *too;

	(void)state;
	memset(path, 'u', sizeof(path));
	path[0] = '/';
	path[2048] = '\0';                 /* exactly HTTP's 2 KiB limit: served */
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);
	ok = client_start(f, req, 1, 0);
	path[2048] = 'u';
	path[2049] = '\0';
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);
	too = client_start(f, req, 0, 0);
	fx_run(f);
	assert_int_equal(f->calls, 1);
	assert_int_equal(strlen(f->path), 2048);
	assert_int_equal(ok->status[0], 404);
	assert_int_equal(too->status[0], 414);
	assert_true(too->eof);
	fx_free(f);
}

static void test_body_on_get(void **state)
{
	static const char *const req[] = {
		"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello",
		"GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n",
	};
	static const int st[] = { 400, 400, 400 };
	struct fx *f;
	struct client *c;

	(void)state;
	expect_errors(req, st, 3);
	f = fx_new();                  /* an empty body is no body */
	c = client_start(f, "GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n", 1, 0);
	fx_run(f);
	assert_int_equal(c->status[0], 200);
	fx_free(f);
}

/* Two requests in one write: the deferred first is answered before the second is read. */
static void test_pipelined(void **state)
{
	struct fx *f = fx_new();
	struct client *c;

	(void)state;
	c = client_start(f, "GET /defer?50 HTTP/1.1\r\nHost: t\r\n\r\n"
			 "GET / HTTP/1.1\r\nHost: t\r\n\r\n"
			 "GET /echo?3 HTTP/1.1\r\nHost: t\r\n\r\n", 3, 0);
	fx_run(f);
	assert_int_equal(f->calls, 3);
	assert_int_equal(f->answered_at[0], 0);
	assert_int_equal(f->answered_at[1], 1);
	assert_int_equal(c->nresp, 3);
	assert_int_equal(c->parse_errors, 0);
	assert_string_equal(c->body[0], "later\n");
	assert_string_equal(c->body[1], "hello\n");
	assert_string_equal(c->body[2], "/echo?3");
	assert_false(c->eof);
	fx_free(f);
}

static void test_connection_close(void **state)
{
	struct fx *f = fx_new();
	struct client *c, *u;

	(void)state;
	c = client_start(f, "GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
			 "GET /never HTTP/1.1\r\nHost: t\r\n\r\n", 0, 0);
	u = client_start(f, "GET / HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\n"
			 "Upgrade: websocket\r\n\r\nGET /never HTTP/1.1\r\n\r\n", 0, 0);
	fx_run(f);
	assert_int_equal(f->calls, 2);
	assert_int_equal(c->nresp, 1);
	assert_true(c->eof);
	assert_header(c, "\r\nConnection: close\r\n");
	assert_int_equal(u->nresp, 1);        /* no upgrade: answered, then closed */
	assert_int_equal(u->status[0], 200);
	assert_true(u->eof);
	assert_header(u, "\r\nConnection: close\r\n");
	fx_free(f);
}

static void test_http10(void **state)
{
	struct fx *f = fx_new();
	struct client *c, *k;

	(void)state;
	c = client_start(f, "GET / HTTP/1.0\r\n\r\n", 0, 0);
	k = client_start(f, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
			 "GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 2, 0);
	fx_run(f);
	assert_int_equal(f->calls, 3);
	assert_true(c->eof);
	assert_int_equal(c->nresp, 1);
	assert_true(strncmp(c->raw, "HTTP/1.1 200 OK\r\n", 17) == 0);
	assert_header(c, "\r\nConnection: close\r\n");
	assert_int_equal(k->nresp, 2);
	assert_header(k, "\r\nConnection: keep-alive\r\n");
	assert_false(k->eof);
	fx_free(f);
}

/* Half a request line: 408 and close after the header timeout; silence: closed, no answer. */
static void test_slow_client(void **state)
{
	struct fx *f = fx_new();
	struct client *c, *q;
	uint64_t ms;

	(void)state;
	http_server_set_timeouts(f->s, 200, 0, 0);
	c = client_start(f, "GET /sl", 0, 0);
	q = client_start(f, "", 0, 0);
	fx_run(f);
	assert_int_equal(f->calls, 0);
	assert_int_equal(c->nresp, 1);
	assert_int_equal(c->status[0], 408);
	assert_true(c->eof);
	assert_header(c, "\r\nConnection: close\r\n");
	ms = MS(c->done_ns - f->start_ns);
	assert_true(ms >= 180 && ms < 3000);
	assert_true(q->eof);
	assert_int_equal(q->raw_len, 0);
	assert_int_equal(f->stats.timeouts, 2);
	fx_free(f);
}

/* A byte every 20 ms does not stretch the header deadline (slow loris): 408 at 300 ms, not later. */
static void test_slow_loris(void **state)
{
	struct fx *f = fx_new();
	struct client *c;
	uint64_t ms;

	(void)state;
	http_server_set_timeouts(f->s, 300, 0, 0);
	c = client_start(f, "GET / HTTP/1.1\r\nHost: t\r\nX-Slow: "
			 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			 "\r\n\r\n", 0, C_DRIBBLE);
	fx_run(f);
	assert_int_equal(f->calls, 0);
	assert_int_equal(c->status[0], 408);
	assert_true(c->eof);
	assert_true(c->sent > 5 && c->sent < c->out_len);
	ms = MS(c->done_ns - f->start_ns);
	assert_true(ms >= 280 && ms < 1200);
	assert_int_equal(f->stats.timeouts, 1);
	fx_free(f);
}

/* A keep-alive connection with nothing more to ask is closed after the idle timeout. */
static void test_idle_keepalive(void **state)
{
	struct fx *f = fx_new();
	struct client *c;
	uint64_t ms;

	(void)state;
	http_server_set_timeouts(f->s, 0, 200, 0);
	c = client_start(f, "GET / HTTP/1.1\r\nHost: t\r\n\r\n", 0, 0);
	fx_run(f);
	assert_int_equal(c->nresp, 1);
	assert_true(c->eof);
	ms = MS(c->done_ns - f->start_ns);
	assert_true(ms >= 180 && ms < 3000);
	assert_int_equal(f->stats.timeouts, 0);
	fx_free(f);
}

static bool write_timed_out(struct fx *f)
{
	struct http_stats st;

	http_server_stats(f->s, &st);
	return st.timeouts == 1 && st.open == 0;
}

/* A client that does not read a 32 MiB answer: the connection is closed after the write timeout. */
static void test_write_timeout(void **state)
{
	struct fx *f = fx_new();

	(void)state;
	http_server_set_timeouts(f->s, 0, 0, 200);
	client_start(f, "GET /big HTTP/1.1\r\nHost: t\r\n\r\n", 0, C_NOREAD);
	fx_until(f, write_timed_out);
	fx_run(f);
	assert_int_equal(f->calls, 1);
	assert_int_equal(f->stats.timeouts, 1);
	assert_true(MS(uv_hrtime() - f->start_ns) >= 180);
	fx_free(f);
}

/* 200 clients at once all get their answer, and a 5 ms timer keeps ticking meanwhile. */
static void test_concurrent(void **state)
{
	struct fx *f = fx_new();

	(void)state;
	uv_timer_init(&f->loop, &f->heartbeat);
	f->heartbeat.data = f;
	uv_timer_start(&f->heartbeat, on_heartbeat, 5, 5);
	for (int i = 0; i < 200; i++)
		client_start(f, "GET / HTTP/1.1\r\nHost: t\r\n\r\n", 1, 0);
	fx_run(f);
	assert_int_equal(f->calls, 200);
	for (int i = 0; i < 200; i++) {
		assert_int_equal(f->clients[i].nresp, 1);
		assert_int_equal(f->clients[i].status[0], 200);
		assert_int_equal(f->clients[i].error, 0);
	}
	assert_int_equal(f->stats.requests, 200);
	assert_int_equal(f->stats.responses_2xx, 200);
	assert_int_equal(f->stats.rejected, 0);
	assert_true(f->beats > 0);
	assert_true(f->max_open > 1);
	assert_true(MS(f->max_gap) < 1000);
	fx_free(f);
}

/* Over the cap, a connection is accepted and closed at once. */
static void test_conn_cap(void **state)
{
	struct fx *f = fx_new();
	int empty = 0;

	(void)state;
	http_server_set_max_conns(f->s, 2);
	http_server_set_timeouts(f->s, 300, 0, 0);
	for (int i = 0; i < 3; i++)
		client_start(f, "", 0, 0);
	fx_run(f);
	for (int i = 0; i < 3; i++)
		empty += f->clients[i].raw_len == 0 && (f->clients[i].eof || f->clients[i].error);
	assert_int_equal(empty, 3);
	assert_int_equal(f->stats.rejected, 1);
	assert_int_equal(f->stats.timeouts, 2);
	fx_free(f);
}

static void test_bind_in_use(void **state)
{
	struct fx *f = fx_new();
	char addr[64], want[64], err[256] = "";

	(void)state;
	snprintf(want, sizeof(want), "127.0.0.1:%d", f->port);
	assert_string_equal(http_server_address(f->s), want);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", f->port);
	assert_null(http_server_new(&f->loop, addr, handler, f, err, sizeof(err)));
	if (!strstr(err, "in use") || !strstr(err, "cannot bind") || !strstr(err, addr))
		fail_msg("unexpected: %s", err);
	close_server(f);
	fx_run(f);
	fx_free(f);
}

static void test_addresses(void **state)
{
	static const char *const bad[] = {
		"", "127.0.0.1", "127.0.0.1:", ":8080", "127.0.0.1:65536", "127.0.0.1:-1",
		"127.0.0.1:80x", "127.0.0.1:+80", "256.0.0.1:80", "1.2.3:80", "example.com:80",
		"[::1]", "[::1:80", "::1:80", "[::1]80", "[nope]:80", "localhost:123456",
		" 127.0.0.1:80", "127.0.0.1 :80",
	};
	uv_loop_t loop;
	char err[256];
	struct http_server *s;
	struct fx f;

	(void)state;
	memset(&f, 0, sizeof(f));
	assert_int_equal(uv_loop_init(&loop), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_null(http_server_new(&loop, bad[i], handler, &f, err, sizeof(err)));
		if (!strstr(err, "not a HOST:PORT address"))
			fail_msg("'%s': %s", bad[i], err);
	}
	assert_null(http_server_new(&loop, NULL, handler, &f, err, sizeof(err)));
	assert_int_equal(uv_loop_close(&loop), 0);   /* failures leave nothing on the loop */

	assert_int_equal(uv_loop_init(&loop), 0);
	s = http_server_new(&loop, "localhost:0", handler, &f, err, sizeof(err));
	assert_non_null(s);
	assert_true(strncmp(http_server_address(s), "127.0.0.1:", 10) == 0);
	http_server_close(s, server_done, &f);
	err[0] = '\0';
	s = http_server_new(&loop, "[::1]:0", handler, &f, err, sizeof(err));
	if (s) {
		assert_true(strncmp(http_server_address(s), "[::1]:", 6) == 0);
		http_server_close(s, server_done, &f);
	} else if (!strstr(err, "cannot bind")) {         /* no IPv6 here */
		fail_msg("[::1]:0: %s", err);
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(f.server_closed, s ? 2 : 1);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get),
		cmocka_unit_test(test_head),
		cmocka_unit_test(test_not_found_and_fail),
		cmocka_unit_test(test_deferred),
		cmocka_unit_test(test_client_gone),
		cmocka_unit_test(test_close_with_pending),
		cmocka_unit_test(test_method_405),
		cmocka_unit_test(test_bad_requests_400),
		cmocka_unit_test(test_header_431),
		cmocka_unit_test(test_url_too_long),
		cmocka_unit_test(test_body_on_get),
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_connection_close),
		cmocka_unit_test(test_http10),
		cmocka_unit_test(test_slow_client),
		cmocka_unit_test(test_slow_loris),
		cmocka_unit_test(test_idle_keepalive),
		cmocka_unit_test(test_write_timeout),
		cmocka_unit_test(test_concurrent),
		cmocka_unit_test(test_conn_cap),
		cmocka_unit_test(test_bind_in_use),
		cmocka_unit_test(test_addresses),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
