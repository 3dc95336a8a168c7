/* http.c: the HTTP server's listener: address, bind, accept or reject, close, stats. */
#include "supervisor/http_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

void http_server_release(struct http_server *s)
{
	void (*done)(void *ud) = s->done;
	void *ud = s->done_ud;

	if (--s->handles > 0 || !s->closing)
		return;
	free(s);
	if (done)
		done(ud);
}

static void http_server_handle_closed(uv_handle_t *h)
{
	http_server_release(h->data);
}

static void http_server_rejected(uv_handle_t *h)
{
	struct http_server *s = h->data;

	free(h);
	http_server_release(s);
}

/* Over the connection cap (or out of memory): accept and close at once, never leave it queued. */
static void http_server_reject(struct http_server *s)
{
	uv_tcp_t *t = malloc(sizeof(*t));

	s->stats.rejected++;
	if (!t)
		return;                    /* out of memory: libuv holds the socket, the listener waits */
	uv_tcp_init(s->loop, t);
	t->data = s;
	s->handles++;
	uv_accept((uv_stream_t *)&s->listener, (uv_stream_t *)t);
	uv_close((uv_handle_t *)t, http_server_rejected);
}

static void http_server_on_connection(uv_stream_t *l, int status)
{
	struct http_server *s = l->data;

	if (status < 0) {          /* out of fds: libuv accepted and closed what it could */
		s->stats.rejected++;
		return;
	}
	if (s->stats.open >= s->max_conns || http_conn_accept(s) != 0)
		http_server_reject(s);
}

/* Parse "HOST:PORT": numeric IPv4, [IPv6] or localhost, port 0-65535. 0 or -1. */
static int http_parse_address(const char *hostport, struct sockaddr_storage *ss)
{
	char host[INET6_ADDRSTRLEN + 16];
	const char *h = hostport, *colon, *p;
	size_t hlen;
	long port = 0;

	if (!hostport)
		return -1;
	if (hostport[0] == '[') {
		const char *end = strchr(hostport, ']');

		if (!end || end[1] != ':')
			return -1;
		h = hostport + 1;
		hlen = (size_t)(end - h);
		colon = end + 1;
	} else {
		colon = strchr(hostport, ':');
		if (!colon || strchr(colon + 1, ':'))
			return -1;          /* none, or a bare IPv6 address */
		hlen = (size_t)(colon - hostport);
	}
	if (hlen == 0 || hlen >= sizeof(host) || colon[1] == '\0' || strlen(colon + 1) > 5)
		return -1;
	for (p = colon + 1; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		port = port * 10 + (*p - '0');
	}
	if (port > 65535)
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (hostport[0] == '[')
		return uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss) == 0 ? 0 : -1;
	if (strcmp(host, "localhost") == 0)
		strcpy(host, "127.0.0.1");
	return uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) == 0 ? 0 : -1;
}

/* A bound, listening, non-blocking socket for ss; the fd or a libuv error, with the step in *what. */
static int http_listen_socket(const struct sockaddr_storage *ss, const char **what)
{
	socklen_t len = ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						  : sizeof(struct sockaddr_in);
	int fd, one = 1, err;

	*what = "cannot create a socket";
	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return uv_translate_sys_error(errno);
	*what = "cannot bind";
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (const struct sockaddr *)ss, len) != 0)
		goto cleanup;
	*what = "cannot listen";
	if (listen(fd, HTTP_BACKLOG) != 0)
		goto cleanup;
	return fd;
cleanup:
	err = uv_translate_sys_error(errno);
	close(fd);
	return err;
}

/* Record the port and "HOST:PORT" the listener is bound to. */
static void http_server_bound(struct http_server *s)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "?";

	memset(&ss, 0, sizeof(ss));
	uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len);
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;

		uv_ip6_name(a, host, sizeof(host));
		s->port = ntohs(a->sin6_port);
		snprintf(s->address, sizeof(s->address), "[%s]:%d", host, s->port);
	} else {
		const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;

		uv_ip4_name(a, host, sizeof(host));
		s->port = ntohs(a->sin_port);
		snprintf(s->address, sizeof(s->address), "%s:%d", host, s->port);
	}
}

/*
 * The socket is created, bound and put to listen with plain syscalls (none
 * blocks) before any libuv handle exists, so a bad address or a failed bind
 * leaves nothing on the loop.
 */
struct http_server *http_server_new(uv_loop_t *loop, const char *hostport, http_handler h,
				    void *ud, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	struct http_server *s = NULL;
	const char *what = "cannot listen";
	int fd = -1, r = UV_ENOMEM;

	if (http_parse_address(hostport, &ss) != 0) {
		snprintf(err, errlen, "health.listen '%s': not a HOST:PORT address "
			 "(numeric IPv4, [IPv6] or localhost, port 0-65535)", hostport ? hostport : "");
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		goto cleanup;
	fd = r = http_listen_socket(&ss, &what);
	if (fd < 0)
		goto cleanup;
	s->loop = loop;
	s->handler = h;
	s->ud = ud;
	s->header_ms = HTTP_HEADER_MS;
	s->idle_ms = HTTP_IDLE_MS;
	s->write_ms = HTTP_WRITE_MS;
	s->max_conns = HTTP_MAX_CONNS;
	uv_tcp_init(loop, &s->listener);
	s->listener.data = s;
	s->handles = 1;
	r = uv_tcp_open(&s->listener, fd);
	if (r != 0)
		close(fd);
	else
		r = uv_listen((uv_stream_t *)&s->listener, HTTP_BACKLOG, http_server_on_connection);
	if (r != 0) {              /* libuv refused the socket: the close completes in the loop */
		s->closing = true;
		uv_close((uv_handle_t *)&s->listener, http_server_handle_closed);
		s = NULL;
		goto cleanup;
	}
	http_server_bound(s);
	return s;
cleanup:
	free(s);
	snprintf(err, errlen, "health.listen '%s': %s: %s", hostport, what, uv_strerror(r));
	return NULL;
}

int http_server_port(const struct http_server *s)
{
	return s->port;
}

const char *http_server_address(const struct http_server *s)
{
	return s->address;
}

void http_server_close(struct http_server *s, void (*done)(void *ud), void *ud)
{
	if (!s || s->closing)
		return;
	s->closing = true;
	s->done = done;
	s->done_ud = ud;
	uv_close((uv_handle_t *)&s->listener, http_server_handle_closed);
	while (s->conns)
		http_conn_close(s->conns);
}

void http_server_stats(const struct http_server *s, struct http_stats *out)
{
	*out = s->stats;
}

void http_server_set_timeouts(struct http_server *s, unsigned header_ms, unsigned idle_ms,
			      unsigned write_ms)
{
	if (header_ms)
		s->header_ms = header_ms;
	if (idle_ms)
		s->idle_ms = idle_ms;
	if (write_ms)
		s->write_ms = write_ms;
}

void http_server_set_max_conns(struct http_server *s, unsigned max_conns)
{
	s->max_conns = max_conns;
}
