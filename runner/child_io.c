/* child_io.c: a child's pipes: output split into bounded lines, stderr tail, bounded stdin queue. */
#include "runner/child_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One queued stdin write; the bytes are copied so the caller's buffer may go. */
struct child_wreq {
	uv_write_t req;
	struct child *c;
	size_t len;
	char data[];
};

#define CHILD_OUT_OF(h) ((struct child_out *)(void *)((char *)(h) - offsetof(struct child_out, pipe)))
#define CHILD_WREQ_OF(r) ((struct child_wreq *)(void *)((char *)(r) - offsetof(struct child_wreq, req)))

int child_io_init(struct child *c, const struct child_spec *spec)
{
	size_t max = spec->max_line ? spec->max_line : CHILD_DEFAULT_MAX_LINE;
	int r;

	c->tail_max = spec->stderr_tail; /* c->tail is allocated with the first stderr byte */
	for (int i = 0; i < 2; i++) {
		struct child_out *o = &c->out[i];

		o->owner = c;
		o->which = i == 0 ? CHILD_STDOUT : CHILD_STDERR;
		if (lines_init(&o->lines, max) < 0)
			return -ENOMEM;
	}
	for (int i = 0; i < 2; i++) {
		r = uv_pipe_init(c->loop, &c->out[i].pipe, 0);
		if (r < 0)
			return r;
		c->out[i].pipe.data = c;
		c->handles++;
	}
	if (spec->stdin_pipe) {
		r = uv_pipe_init(c->loop, &c->in, 0);
		if (r < 0)
			return r;
		c->in.data = c;
		c->handles++;
		c->in_init = true;
	} else {
		c->in_closed = true;
	}
	return 0;
}

void child_io_stdio(struct child *c, uv_stdio_container_t *stdio)
{
	memset(stdio, 0, 3 * sizeof(*stdio));
	for (int i = 0; i < 2; i++) {
		stdio[1 + i].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
		stdio[1 + i].data.stream = (uv_stream_t *)&c->out[i].pipe;
	}
	stdio[0].flags = UV_IGNORE; /* libuv opens /dev/null */
	if (c->in_init) {
		stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
		stdio[0].data.stream = (uv_stream_t *)&c->in;
	}
}

/* Move fd above 2 (the node may run with 0-2 closed) so the child's dup2s cannot collide. */
static int child_io_high(int *fd)
{
	int n;

	if (*fd > 2)
		return 0;
	n = fcntl(*fd, F_DUPFD_CLOEXEC, 3);
	if (n < 0)
		return -errno;
	close(*fd);
	*fd = n;
	return 0;
}

void child_io_close_fds(int fds[3])
{
	for (int i = 0; i < 3; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

int child_io_pipes(struct child *c, int fds[3])
{
	int p[2], r;

	fds[0] = fds[1] = fds[2] = -1;
	for (int i = 0; i < 3; i++) {
		uv_pipe_t *h = i == 0 ? &c->in : &c->out[i - 1].pipe;
		int mine = i == 0 ? 1 : 0; /* the parent writes stdin, reads the outputs */

		if (i == 0 && !c->in_init)
			continue;
		if (pipe2(p, O_CLOEXEC) < 0) {
			r = -errno;
			goto fail;
		}
		r = child_io_high(&p[0]);
		if (r == 0)
			r = child_io_high(&p[1]);
		if (r == 0)
			r = uv_pipe_open(h, p[mine]); /* sets O_NONBLOCK on the parent's end */
		if (r < 0) {
			close(p[0]);
			close(p[1]);
			goto fail;
		}
		fds[i] = p[1 - mine];
	}
	return 0;
fail:
	child_io_close_fds(fds);
	return r;
}

/*
 * One read buffer for every pipe: libuv calls alloc and then read for one
 * stream at a time on the loop's thread, and the read callback copies what it
 * keeps, so children need no buffer of their own while they are silent.
 */
static char child_io_rbuf[CHILD_READ_BUF];

static void child_io_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	(void)h;
	(void)hint;
	*buf = uv_buf_init(child_io_rbuf, sizeof(child_io_rbuf));
}

/* The splitter's callback: hand the line to the owner unless it is being freed. */
static void child_io_line(const char *line, size_t len, bool truncated, void *arg)
{
	struct child_out *o = arg;
	struct child *c = o->owner;

	if (!c->freeing && c->ev.on_line)
		c->ev.on_line(c, o->which, line, len, truncated, c->ud);
}

/* Keep the last tail_max bytes of stderr. */
static void child_io_tail(struct child *c, const char *p, size_t n)
{
	size_t keep;

	if (c->tail_max == 0)
		return;
	if (!c->tail && !(c->tail = malloc(c->tail_max + 1)))
		return; /* out of memory: no tail rather than no output */
	if (n >= c->tail_max) {
		memcpy(c->tail, p + n - c->tail_max, c->tail_max);
		c->tail_len = c->tail_max;
	} else {
		keep = c->tail_len + n > c->tail_max ? c->tail_max - n : c->tail_len;
		memmove(c->tail, c->tail + c->tail_len - keep, keep);
		memcpy(c->tail + keep, p, n);
		c->tail_len = keep + n;
	}
	c->tail[c->tail_len] = '\0';
}

/* EOF (or a read error, or the grace cut): the partial line goes out, the pipe closes. */
static void child_io_end(struct child_out *o)
{
	if (o->eof)
		return;
	o->eof = true;
	lines_flush(&o->lines, child_io_line, o);
	child_close_handle((uv_handle_t *)&o->pipe);
}

static void child_io_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct child_out *o = CHILD_OUT_OF(s);
	struct child *c = o->owner;

	if (nread > 0) {
		if (o->which == CHILD_STDERR)
			child_io_tail(c, buf->base, (size_t)nread);
		lines_feed(&o->lines, buf->base, (size_t)nread, child_io_line, o);
	} else if (nread < 0) {
		child_io_end(o);
		child_check_done(c);
	}
}

int child_io_start(struct child *c)
{
	for (int i = 0; i < 2; i++) {
		int r = uv_read_start((uv_stream_t *)&c->out[i].pipe, child_io_alloc, child_io_read);

		if (r < 0)
			return r;
	}
	return 0;
}

/* Stop taking writes and close stdin (pending writes complete with UV_ECANCELED). */
static void child_io_close_stdin_now(struct child *c)
{
	c->in_closed = true;
	if (c->in_init)
		child_close_handle((uv_handle_t *)&c->in);
}

void child_io_on_exit(struct child *c)
{
	child_io_close_stdin_now(c);
}

void child_io_cut(struct child *c)
{
	for (int i = 0; i < 2; i++)
		child_io_end(&c->out[i]);
}

bool child_io_drained(const struct child *c)
{
	return c->out[0].eof && c->out[1].eof;
}

void child_io_close(struct child *c)
{
	for (int i = 0; i < 2; i++) {
		c->out[i].eof = true;
		child_close_handle((uv_handle_t *)&c->out[i].pipe);
	}
	child_io_close_stdin_now(c);
}

void child_io_release(struct child *c)
{
	for (int i = 0; i < 2; i++)
		lines_free(&c->out[i].lines);
	free(c->tail);
	c->tail = NULL;
}

/* A write finished: account for it; a failure (EPIPE: the child closed stdin) ends stdin. */
static void child_io_written(uv_write_t *req, int status)
{
	struct child_wreq *w = CHILD_WREQ_OF(req);
	struct child *c = w->c;

	c->in_queued -= w->len;
	free(w);
	if (status < 0) {
		if (status != UV_ECANCELED)
			child_io_close_stdin_now(c);
		return;
	}
	if (c->in_queued == 0 && !c->freeing && c->ev.on_drained)
		c->ev.on_drained(c, c->ud);
}

/*
 * A write to a child that closed its stdin fails with EPIPE and raises SIGPIPE:
 * the daemon ignores SIGPIPE (main() does), so only the write's status says it.
 * The queue is bounded: past CHILD_WRITE_MAX bytes pending, -EAGAIN (a single
 * write into an empty queue is always taken, so progress is possible).
 */
int child_write(struct child *c, const char *buf, size_t len)
{
	struct child_wreq *w;
	uv_buf_t b;
	int r;

	if (!c->in_init || c->in_closed)
		return -EPIPE;
	if (len == 0)
		return 0;
	if (c->in_queued > 0 && len > CHILD_WRITE_MAX - (c->in_queued < CHILD_WRITE_MAX ?
							     c->in_queued : CHILD_WRITE_MAX))
		return -EAGAIN;
	w = malloc(sizeof(*w) + len);
	if (!w)
		return -ENOMEM;
	w->c = c;
	w->len = len;
	memcpy(w->data, buf, len);
	b = uv_buf_init(w->data, (unsigned int)len);
	r = uv_write(&w->req, (uv_stream_t *)&c->in, &b, 1, child_io_written);
	if (r < 0) {
		free(w);
		if (r == UV_EPIPE || r == UV_ECONNRESET || r == UV_EBADF) {
			child_io_close_stdin_now(c);
			return -EPIPE;
		}
		return r;
	}
	c->in_queued += len;
	return 0;
}

size_t child_write_queued(const struct child *c)
{
	return c->in_queued;
}

static void child_io_shut(uv_shutdown_t *req, int status)
{
	struct child *c = req->handle->data;

	(void)status;
	child_io_close_stdin_now(c);
}

/* EOF on the child's stdin once the queued bytes are written. */
void child_close_stdin(struct child *c)
{
	if (!c->in_init || c->in_closed)
		return;
	c->in_closed = true;
	if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->in, child_io_shut) < 0)
		child_io_close_stdin_now(c);
}

const char *child_stderr_tail(const struct child *c)
{
	return c->tail ? c->tail : "";
}
