/* http_conn.c: one HTTP connection: parse a request, hand it to the handler, write the answer, time out. */
#include "supervisor/http_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One response on its way out; freed in the write callback. */
struct http_out {
	uv_write_t req;
	char data[];
};

static void http_conn_feed(struct http_conn *c, const char *data, size_t len);
static void http_conn_timeout(uv_timer_t *t);

/* The reason phrase of a status. */
static const char *http_reason(int status)
{
	const char *r = http_status_str((enum http_status)status);

	return r[0] == '<' ? "Unknown" : r;
}

static void http_conn_closed(uv_handle_t *h)
{
	struct http_conn *c = h->data;
	struct http_server *s = c->srv;

	if (--c->handles == 0) {
		free(c->url);
		free(c->rest);
		free(c);
	}
	http_server_release(s);
}

void http_conn_close(struct http_conn *c)
{
	struct http_server *s = c->srv;

	if (c->state == HTTP_CONN_CLOSING)
		return;
	c->state = HTTP_CONN_CLOSING;
	if (c->pending) {
		c->pending->conn = NULL;
		c->pending = NULL;
	}
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->stats.open--;
	uv_close((uv_handle_t *)&c->tcp, http_conn_closed);
	uv_close((uv_handle_t *)&c->timer, http_conn_closed);
}

static void http_conn_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct http_conn *c = h->data;

	(void)hint;
	*buf = uv_buf_init(c->srv->rbuf, sizeof(c->srv->rbuf));
}

static void http_conn_on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	struct http_conn *c = st->data;

	if (nread < 0)
		http_conn_close(c);         /* EOF or error; a partial request is dropped */
	else if (nread > 0 && c->state == HTTP_CONN_READING)
		http_conn_feed(c, buf->base, (size_t)nread);
	/* HTTP_CONN_LINGER: input is discarded */
}

static void http_conn_read(struct http_conn *c, bool on)
{
	if (on == c->reading)
		return;
	c->reading = on;
	if (!on)
		uv_read_stop((uv_stream_t *)&c->tcp);
	else if (uv_read_start((uv_stream_t *)&c->tcp, http_conn_alloc, http_conn_on_read) != 0)
		http_conn_close(c);
}

static void http_conn_shut(uv_shutdown_t *req, int status)
{
	struct http_conn *c = req->handle->data;

	if (status < 0)
		http_conn_close(c);
}

/*
 * The last response is written: send FIN and drain what the client still
 * sends until its EOF, so that closing does not reset the connection and
 * destroy the response before the client read it (nginx's lingering close).
 */
static void http_conn_linger(struct http_conn *c)
{
	c->state = HTTP_CONN_LINGER;
	uv_timer_start(&c->timer, http_conn_timeout, HTTP_LINGER_MS, 0);
	if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, http_conn_shut) != 0) {
		http_conn_close(c);
		return;
	}
	http_conn_read(c, true);
}

/* A response is out: close, linger, or go on with the next (maybe already read) request. */
static void http_conn_written(uv_write_t *req, int status)
{
	struct http_conn *c = req->handle->data;
	char *rest = c->rest;
	size_t len = c->rest_len;

	free(req);                  /* the struct http_out it starts */
	if (c->state == HTTP_CONN_CLOSING)
		return;
	if (status < 0) {
		http_conn_close(c);
		return;
	}
	if (c->final) {
		http_conn_linger(c);
		return;
	}
	c->state = HTTP_CONN_READING;
	c->idle = true;
	uv_timer_start(&c->timer, http_conn_timeout, c->srv->idle_ms, 0);
	if (rest) {
		c->rest = NULL;
		http_conn_feed(c, rest, len);
		free(rest);
	}
	if (c->state == HTTP_CONN_READING)
		http_conn_read(c, true);
}

/* Format the status line and headers into buf (snprintf semantics). */
static int http_format_head(char *buf, size_t cap, int status, const char *ctype,
			    const char *clen, bool close, const char *extra)
{
	return snprintf(buf, cap,
			"HTTP/1.1 %d %s\r\nContent-Type: %s\r\n%sCache-Control: no-store\r\n"
			"Connection: %s\r\n%s\r\n",
			status, http_reason(status), ctype, clen, close ? "close" : "keep-alive",
			extra);
}

/* Queue one response on c (reading stops until it is written); final closes after it. */
static void http_conn_send(struct http_conn *c, int status, const char *ctype, const char *body,
			   size_t len, const char *extra, bool head, bool final)
{
	struct http_server *s = c->srv;
	bool bodyless = status == 204 || status == 304;
	struct http_out *out;
	char clen[48] = "";
	int n;
	uv_buf_t b;

	if (status < 200 || status > 599)
		status = 500;
	if (!ctype)
		ctype = "text/plain; charset=utf-8";
	if (!extra)
		extra = "";
	if (!bodyless)
		snprintf(clen, sizeof(clen), "Content-Length: %zu\r\n", len);
	if (head || bodyless)
		len = 0;
	n = http_format_head(NULL, 0, status, ctype, clen, final, extra);
	out = n < 0 ? NULL : malloc(sizeof(*out) + (size_t)n + 1 + len);
	if (!out) {
		http_conn_close(c);
		return;
	}
	http_format_head(out->data, (size_t)n + 1, status, ctype, clen, final, extra);
	if (len)
		memcpy(out->data + n, body, len);
	b = uv_buf_init(out->data, (unsigned)((size_t)n + len));

	s->stats.requests++;
	if (status < 300)
		s->stats.responses_2xx++;
	else if (status >= 400 && status < 500)
		s->stats.responses_4xx++;
	else if (status >= 500)
		s->stats.responses_5xx++;
	c->state = HTTP_CONN_WRITING;
	c->final = final;
	http_conn_read(c, false);
	uv_timer_start(&c->timer, http_conn_timeout, s->write_ms, 0);
	if (uv_write(&out->req, (uv_stream_t *)&c->tcp, &b, 1, http_conn_written) != 0) {
		free(out);
		http_conn_close(c);
	}
}

/* Answer an invalid request with a one-line text body, then close the connection. */
static void http_conn_fail(struct http_conn *c, int status)
{
	char body[64];
	int n = snprintf(body, sizeof(body), "%s\n", http_reason(status));

	http_conn_send(c, status, NULL, body, (size_t)n,
		       status == 405 ? "Allow: GET, HEAD\r\n" : NULL, c->is_head, true);
}

/* The header deadline (408), the idle, write or linger deadline passed. */
static void http_conn_timeout(uv_timer_t *t)
{
	struct http_conn *c = t->data;

	if (c->state == HTTP_CONN_READING && !c->idle) {
		c->srv->stats.timeouts++;
		if (c->head_bytes > 0)
			http_conn_fail(c, 408);
		else
			http_conn_close(c);    /* nothing sent at all: nothing to answer */
		return;
	}
	if (c->state == HTTP_CONN_WRITING)
		c->srv->stats.timeouts++;
	http_conn_close(c);
}

static int http_hex(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = (char)tolower((unsigned char)ch);
	return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* Percent-decode src into dst (NUL-terminated, at most len + 1 bytes); -1 on a bad escape or %00. */
static int http_decode(char *dst, const char *src, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		int hi, lo;

		if (src[i] != '%') {
			*dst++ = src[i];
			continue;
		}
		if (len - i < 3)
			return -1;
		hi = http_hex(src[i + 1]);
		lo = http_hex(src[i + 2]);
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
			return -1;
		*dst++ = (char)(hi * 16 + lo);
		i += 2;
	}
	*dst = '\0';
	return 0;
}

/* The parser paused on a complete request: check its target and hand it to the handler. */
static void http_conn_dispatch(struct http_conn *c)
{
	struct http_server *s = c->srv;
	struct http_parser_url u;
	const char *path = "/", *query = "";
	size_t plen = 1, qlen = 0;
	struct http_exchange *x;
	bool head = c->is_head;

	c->is_head = false;
	http_parser_url_init(&u);
	if (!c->url || http_parser_parse_url(c->url, c->url_len, 0, &u) != 0)
		goto bad;
	if (u.field_set & (1 << UF_PATH)) {
		path = c->url + u.field_data[UF_PATH].off;
		plen = u.field_data[UF_PATH].len;
	} else if (!(u.field_set & (1 << UF_HOST))) {
		goto bad;                  /* neither origin nor absolute form */
	}
	if (path[0] != '/')
		goto bad;
	if (u.field_set & (1 << UF_QUERY)) {
		query = c->url + u.field_data[UF_QUERY].off;
		qlen = u.field_data[UF_QUERY].len;
	}
	x = malloc(sizeof(*x) + plen + 1 + qlen + 1);
	if (!x) {
		http_conn_fail(c, 503);
		return;
	}
	if (http_decode(x->text, path, plen) != 0) {
		free(x);
		goto bad;
	}
	x->conn = c;
	x->req.method = head ? "HEAD" : "GET";
	x->req.head = head;
	x->req.path = x->text;
	x->req.query = x->text + strlen(x->text) + 1;
	memcpy((char *)x->req.query, query, qlen);
	((char *)x->req.query)[qlen] = '\0';

	c->pending = x;
	c->state = HTTP_CONN_PENDING;
	uv_timer_stop(&c->timer);
	http_conn_read(c, false);
	s->handler(x, &x->req, s->ud);
	return;
bad:
	c->is_head = head;
	http_conn_fail(c, 400);
}

static int http_on_message_begin(struct http_parser *p)
{
	struct http_conn *c = p->data;

	c->url_len = 0;
	c->field_len = 0;
	c->in_value = true;
	c->hosts = 0;
	c->error = 0;
	c->is_head = false;
	return 0;
}

/* Collect the request target (it may come in pieces); longer than HTTP_URL_MAX: 414. */
static int http_on_url(struct http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;
	size_t need = c->url_len + len;

	c->is_head = p->method == HTTP_HEAD;
	if (need > HTTP_URL_MAX) {
		c->error = 414;
		return -1;
	}
	if (need > c->url_cap) {
		size_t cap = need < 128 ? 128 : need * 2 < HTTP_URL_MAX ? need * 2 : HTTP_URL_MAX;
		char *url = realloc(c->url, cap);

		if (!url) {
			c->error = 503;
			return -1;
		}
		c->url = url;
		c->url_cap = cap;
	}
	memcpy(c->url + c->url_len, at, len);
	c->url_len = need;
	return 0;
}

/* Header names are only looked at to count Host headers (RFC 9112 3.2: exactly one). */
static int http_on_header_field(struct http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;

	if (c->in_value) {
		c->in_value = false;
		c->field_len = 0;
	}
	for (size_t i = 0; i < len; i++, c->field_len++)
		if (c->field_len < sizeof(c->field))
			c->field[c->field_len] = (char)tolower((unsigned char)at[i]);
	return 0;
}

static int http_on_header_value(struct http_parser *p, const char *at, size_t len)
{
	struct http_conn *c = p->data;

	(void)at;
	(void)len;
	if (!c->in_value) {
		c->in_value = true;
		if (c->field_len == 4 && memcmp(c->field, "host", 4) == 0)
			c->hosts++;
	}
	return 0;
}

/* Only GET and HEAD, HTTP/1.x, one Host (1.1), and no body. */
static int http_on_headers_complete(struct http_parser *p)
{
	struct http_conn *c = p->data;

	if (p->method != HTTP_GET && p->method != HTTP_HEAD)
		c->error = 405;
	else if (p->http_major != 1)
		c->error = 505;
	else if (c->hosts > 1 || (p->http_minor >= 1 && c->hosts == 0))
		c->error = 400;
	else if ((p->flags & F_CHUNKED) || ((p->flags & F_CONTENTLENGTH) && p->content_length > 0))
		c->error = 400;
	return c->error ? -1 : 0;
}

/* A request is complete: pause the parser so that it is answered before the next one. */
static int http_on_message_complete(struct http_parser *p)
{
	struct http_conn *c = p->data;

	c->keep_alive = http_should_keep_alive(p) && !p->upgrade;
	http_parser_pause(p, 1);
	return 0;
}

static const struct http_parser_settings http_settings = {
	.on_message_begin = http_on_message_begin,
	.on_url = http_on_url,
	.on_header_field = http_on_header_field,
	.on_header_value = http_on_header_value,
	.on_headers_complete = http_on_headers_complete,
	.on_message_complete = http_on_message_complete,
};

/*
 * Parse bytes received in state READING. The parser pauses at the end of
 * each request; what follows a dispatched request is kept for after its
 * response. At most HTTP_HEAD_MAX + 1 bytes of one request are ever parsed.
 */
static void http_conn_feed(struct http_conn *c, const char *data, size_t len)
{
	struct http_server *s = c->srv;

	while (len > 0 && c->state == HTTP_CONN_READING) {
		size_t room = HTTP_HEAD_MAX + 1 - c->head_bytes, used;
		enum http_errno e;

		if (c->idle) {             /* first byte of the next request: its header deadline */
			c->idle = false;
			uv_timer_start(&c->timer, http_conn_timeout, s->header_ms, 0);
		}
		used = http_parser_execute(&c->parser, &http_settings, data, len < room ? len : room);
		c->head_bytes += used;
		data += used;
		len -= used;
		e = HTTP_PARSER_ERRNO(&c->parser);
		if (e != HPE_OK && e != HPE_PAUSED) {
			http_conn_fail(c, c->error ? c->error : 400);
			return;
		}
		if (c->head_bytes > HTTP_HEAD_MAX) {
			http_conn_fail(c, 431);
			return;
		}
		if (e == HPE_PAUSED) {
			http_parser_pause(&c->parser, 0);
			c->head_bytes = 0;
			http_conn_dispatch(c);
		}
	}
	if (len > 0 && (c->state == HTTP_CONN_PENDING || c->state == HTTP_CONN_WRITING)) {
		c->rest = malloc(len);
		if (!c->rest) {
			http_conn_close(c);
			return;
		}
		memcpy(c->rest, data, len);
		c->rest_len = len;
	}
}

/* Accept a connection (the listener's callback guarantees one) and wait for its first request. */
int http_conn_accept(struct http_server *s)
{
	struct http_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return -1;
	c->srv = s;
	uv_tcp_init(s->loop, &c->tcp);
	c->tcp.data = c;
	c->handles = 1;
	s->handles++;
	if (uv_accept((uv_stream_t *)&s->listener, (uv_stream_t *)&c->tcp) != 0) {
		c->state = HTTP_CONN_CLOSING;
		uv_close((uv_handle_t *)&c->tcp, http_conn_closed);
		return 0;
	}
	uv_timer_init(s->loop, &c->timer);
	c->timer.data = c;
	c->handles++;
	s->handles++;
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->stats.open++;
	uv_tcp_nodelay(&c->tcp, 1);
	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
	c->state = HTTP_CONN_READING;
	uv_timer_start(&c->timer, http_conn_timeout, s->header_ms, 0);
	http_conn_read(c, true);
	return 0;
}

void http_respond(struct http_exchange *x, int status, const char *content_type,
		  const char *body, size_t len, const char *extra_headers)
{
	struct http_conn *c;
	bool head;

	if (!x)
		return;
	c = x->conn;
	head = x->req.head;
	free(x);
	if (!c)
		return;                    /* the client or the server went away */
	c->pending = NULL;
	http_conn_send(c, status, content_type, body, len, extra_headers, head, !c->keep_alive);
}
