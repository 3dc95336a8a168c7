/* http.h: a small HTTP/1.1 server (GET and HEAD only) on the libuv loop, for health and metrics. */
#ifndef JOBSYNC_HTTP_H
#define JOBSYNC_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

struct http_server;
struct http_exchange;            /* one request waiting for its answer */

/* Valid from the handler call until http_respond() on its exchange. */
struct http_request {
	const char *method;          /* "GET" or "HEAD" (others never reach the handler) */
	const char *path;            /* decoded path without the query, e.g. "/health/ready" */
	const char *query;           /* raw query string after '?', "" when none */
	bool head;                   /* HEAD: the server sends headers only */
};

/*
 * Requests the server answers itself, then closes the connection: other
 * methods 405 (with Allow), bad syntax, a body, a bad %-escape or %00, no
 * Host in HTTP/1.1 400, target over 2 KiB 414, request line + headers over
 * 8 KiB 431, headers not complete 5 s after accept (or after the first byte
 * on a kept-alive connection) 408, HTTP/2+ 505. Idle keep-alive: closed after
 * 5 s; a response not taken within 10 s: closed. 1024 connections at most.
 */

/*
 * Called once per valid GET/HEAD request; answer now or later with
 * http_respond(). Every exchange must be answered exactly once, even after
 * the client went away or the server was closed: that is what frees it.
 * A connection waits for the answer before it reads its next request.
 */
typedef void (*http_handler)(struct http_exchange *x, const struct http_request *req, void *ud);

/*
 * Bind and listen on "HOST:PORT": a numeric IPv4 address, "[IPv6]" or
 * "localhost"; port 0 picks an ephemeral port. No name lookup. On failure
 * returns NULL with a message in err, e.g. "health.listen '127.0.0.1:80':
 * cannot bind: permission denied", and leaves no handle on the loop.
 */
struct http_server *http_server_new(uv_loop_t *loop, const char *hostport, http_handler h,
				    void *ud, char *err, size_t errlen);

/* The bound port (useful with port 0) and "HOST:PORT" actually bound. */
int http_server_port(const struct http_server *s);
const char *http_server_address(const struct http_server *s);

/*
 * Answer a request: status (200-599, else 500), content type (NULL:
 * "text/plain; charset=utf-8"), body (copied; not sent for HEAD), extra
 * headers NULL or "Name: value\r\n..." text. Frees x. Safe after the client
 * went away or the server closed (then it only frees).
 */
void http_respond(struct http_exchange *x, int status, const char *content_type,
		  const char *body, size_t len, const char *extra_headers);

/*
 * Stop listening and close every connection now; s must not be used after.
 * done(ud) runs (from the loop) once every handle is closed and s is freed;
 * done may be NULL. Pending exchanges must still be answered (that frees them).
 */
void http_server_close(struct http_server *s, void (*done)(void *ud), void *ud);

/* Counters for metrics. */
struct http_stats {
	uint64_t requests;           /* responses queued, errors from the server included */
	uint64_t responses_2xx, responses_4xx, responses_5xx;
	uint64_t timeouts;           /* header (slow client) and write timeouts */
	uint64_t rejected;           /* connections closed at once: over the cap */
	unsigned open;               /* connections open now */
};
void http_server_stats(const struct http_server *s, struct http_stats *out);

/* Tuning, for tests: timeouts in ms (0 keeps the current value) and the connection cap. */
void http_server_set_timeouts(struct http_server *s, unsigned header_ms, unsigned idle_ms,
			      unsigned write_ms);
void http_server_set_max_conns(struct http_server *s, unsigned max_conns);

#endif
