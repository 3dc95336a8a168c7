/* http_int.h: what http.c (listener) and http_conn.c (one connection) share; not for other modules. */
#ifndef JOBSYNC_HTTP_INT_H
#define JOBSYNC_HTTP_INT_H

#include <netinet/in.h>

#include <http_parser.h>

#include "supervisor/http.h"

/* Limits and deadlines (nginx defaults scaled down to a health endpoint). */
#define HTTP_HEAD_MAX 8192       /* request line + headers; beyond: 431, close */
#define HTTP_URL_MAX 2048        /* request target; beyond: 414, close */
#define HTTP_HEADER_MS 5000      /* headers complete within this of accept / first byte: else 408 */
#define HTTP_IDLE_MS 5000        /* keep-alive connection with no new request: closed */
#define HTTP_WRITE_MS 10000      /* a response the client does not read: closed */
#define HTTP_LINGER_MS 2000      /* after the last response: drain input this long at most */
#define HTTP_MAX_CONNS 1024      /* beyond: accepted and closed at once */
#define HTTP_BACKLOG 511
#define HTTP_READ_SIZE 65536     /* one read buffer shared by all connections */

enum http_conn_state {
	HTTP_CONN_READING,       /* waiting for or parsing a request */
	HTTP_CONN_PENDING,       /* the handler has the request; not reading */
	HTTP_CONN_WRITING,       /* a response is being written; not reading */
	HTTP_CONN_LINGER,        /* last response sent, FIN queued: drain until EOF */
	HTTP_CONN_CLOSING,       /* uv_close() called; freed in the last close callback */
};

struct http_conn {
	uv_tcp_t tcp;
	uv_timer_t timer;            /* header, idle, write or linger deadline */
	uv_shutdown_t shutdown;
	struct http_server *srv;
	struct http_conn *prev, *next;
	enum http_conn_state state;
	int handles;                 /* of tcp and timer, not yet closed */
	bool reading;                /* uv_read_start() in effect */
	bool idle;                   /* keep-alive wait: no byte of the next request yet */
	bool final;                  /* close after the response being written */
	bool keep_alive;             /* of the request in hand */
	bool is_head;                /* the request in hand is HEAD */
	struct http_parser parser;
	size_t head_bytes;           /* of the request being read */
	char *url;                   /* request target, grown up to HTTP_URL_MAX */
	size_t url_len, url_cap;
	char field[4];               /* start of the header name being read (for Host) */
	size_t field_len;
	bool in_value;
	int hosts;                   /* Host headers seen */
	int error;                   /* status to answer when a callback stopped the parser */
	char *rest;                  /* pipelined bytes read past the request in hand */
	size_t rest_len;
	struct http_exchange *pending;
};

struct http_exchange {
	struct http_conn *conn;      /* NULL once the connection is gone */
	struct http_request req;
	char text[];                 /* path '\0' query '\0' */
};

struct http_server {
	uv_loop_t *loop;
	uv_tcp_t listener;
	http_handler handler;
	void *ud;
	struct http_conn *conns;
	int handles;                 /* listener, connections' and rejected handles not closed */
	bool closing;
	void (*done)(void *ud);
	void *done_ud;
	unsigned header_ms, idle_ms, write_ms, max_conns;
	int port;
	char address[INET6_ADDRSTRLEN + 16];
	struct http_stats stats;
	char rbuf[HTTP_READ_SIZE];   /* each read is parsed (or copied) before the next */
};

/* Accept one connection from the listener and start reading; -1 when out of memory. */
int http_conn_accept(struct http_server *s);
/* Close c now; a pending exchange is orphaned (its http_respond() only frees it). */
void http_conn_close(struct http_conn *c);
/* One handle of s is closed; the last one after http_server_close() frees s, then calls done. */
void http_server_release(struct http_server *s);

#endif
