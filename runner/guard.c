/* guard.c: one guard process per node SIGKILLs the node's process groups when the node dies or freezes. */
#include "runner/child_io.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define GUARD_KILL_AFTER_MS 2000 /* after EOF was sent, a guard still alive is SIGKILLed */
#define GUARD_DEFAULT_SILENCE_MS 10000

/* The node's side: the guard process, the pipe to its stdin, the keepalive timer. */
struct guard_state {
	uv_process_t proc;
	uv_pipe_t pipe;
	uv_timer_t timer;       /* keepalive while the pipe is open, kill deadline after */
	int handles;            /* handles not yet closed; 0 = a new start is possible */
	int pid;                /* 0 once reaped */
	bool pipe_open, stopping, warned;
	size_t live;            /* groups registered with this guard and not yet removed */
};

static struct guard_state guard;
static unsigned guard_gen;      /* bumped per start: tells a child of an older guard */

/* One queued write when the pipe was momentarily full (the bytes follow the request). */
struct guard_wreq {
	uv_write_t req;
	char data[32];
};

static void guard_closed(uv_handle_t *h)
{
	(void)h;
	guard.handles--;
}

static void guard_close(uv_handle_t *h)
{
	if (!uv_is_closing(h))
		uv_close(h, guard_closed);
}

static void guard_on_kill_deadline(uv_timer_t *t)
{
	(void)t;
	if (guard.pid > 0)
		kill(guard.pid, SIGKILL);
}

/* No more lines: the guard reads EOF and exits (killing what is still registered). */
static void guard_close_pipe(void)
{
	if (!guard.pipe_open)
		return;
	guard.pipe_open = false;
	guard_close((uv_handle_t *)&guard.pipe);
	uv_timer_stop(&guard.timer);
	if (guard.pid > 0)
		uv_timer_start(&guard.timer, guard_on_kill_deadline, GUARD_KILL_AFTER_MS, 0);
	else
		guard_close((uv_handle_t *)&guard.timer);
}

static void guard_written(uv_write_t *req, int status)
{
	(void)status; /* a failure shows up in the next uv_try_write */
	free(req);
}

/*
 * Send one short line. uv_try_write is synchronous and non-blocking, so the
 * guard knows a group microseconds after its spawn; a full pipe (or writes
 * already queued) falls back to a queued write, keeping the order.
 */
static void guard_send(const char *line)
{
	size_t len = strlen(line);
	uv_buf_t b = uv_buf_init((char *)line, (unsigned int)len);
	struct guard_wreq *w;
	int r;

	if (!guard.pipe_open)
		return;
	r = uv_try_write((uv_stream_t *)&guard.pipe, &b, 1);
	if (r == (int)len)
		return;
	if (r >= 0 || r == UV_EAGAIN) {
		size_t done = r > 0 ? (size_t)r : 0;

		w = malloc(sizeof(*w));
		if (w) {
			memcpy(w->data, line + done, len - done);
			b = uv_buf_init(w->data, (unsigned int)(len - done));
			r = uv_write(&w->req, (uv_stream_t *)&guard.pipe, &b, 1, guard_written);
			if (r == 0)
				return;
			free(w);
		} else {
			r = UV_ENOMEM;
		}
	}
	if (!guard.warned)
		fprintf(stderr, "jobsync: cannot write to the guard: %s; children are not guarded\n",
			uv_strerror(r));
	guard.warned = true;
	guard_close_pipe();
}

static void guard_on_keepalive(uv_timer_t *t)
{
	(void)t;
	guard_send(".\n");
}

/* The guard exited: expected after EOF; otherwise children are no longer guarded. */
static void guard_on_exit(uv_process_t *p, int64_t status, int sig)
{
	(void)p;
	if (!guard.stopping)
		fprintf(stderr, "jobsync: the guard exited (status %lld, signal %d); children are "
			"not guarded\n", (long long)status, sig);
	guard.pid = 0;
	guard_close((uv_handle_t *)&guard.proc);
	if (guard.pipe_open)
		guard_close_pipe();
	guard_close((uv_handle_t *)&guard.timer);
}

int child_guard_start(uv_loop_t *loop, const char *exe, uint64_t silence_ms)
{
	uv_process_options_t opt;
	uv_stdio_container_t stdio[3];
	char silence[24];
	char *args[4];
	int r;

	if (guard.handles > 0)
		return -EBUSY;
	if (silence_ms == 0)
		return -EINVAL;
	memset(&guard, 0, sizeof(guard));
	guard_gen++;
	snprintf(silence, sizeof(silence), "%llu", (unsigned long long)silence_ms);
	args[0] = "jobsync";
	args[1] = "__guard";
	args[2] = silence;
	args[3] = NULL;
	r = uv_pipe_init(loop, &guard.pipe, 0);
	if (r < 0)
		return r;
	guard.handles++;
	uv_timer_init(loop, &guard.timer);
	guard.handles++;
	memset(stdio, 0, sizeof(stdio));
	stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
	stdio[0].data.stream = (uv_stream_t *)&guard.pipe;
	stdio[1].flags = UV_IGNORE;
	stdio[2].flags = UV_INHERIT_FD;
	stdio[2].data.fd = 2;
	memset(&opt, 0, sizeof(opt));
	opt.exit_cb = guard_on_exit;
	opt.file = exe ? exe : "/proc/self/exe";
	opt.args = args;
	opt.cwd = "/";
	opt.flags = UV_PROCESS_DETACHED; /* its own session: the node's group kills miss it */
	opt.stdio_count = 3;
	opt.stdio = stdio;
	r = uv_spawn(loop, &guard.proc, &opt);
	guard.handles++;
	if (r < 0) {
		guard.stopping = true;
		guard_close((uv_handle_t *)&guard.proc);
		guard_close((uv_handle_t *)&guard.pipe);
		guard_close((uv_handle_t *)&guard.timer);
		fprintf(stderr, "jobsync: cannot start the guard %s: %s; children are not guarded\n",
			opt.file, uv_strerror(r));
		return r;
	}
	guard.pid = guard.proc.pid;
	guard.pipe_open = true;
	uv_unref((uv_handle_t *)&guard.proc);
	uv_unref((uv_handle_t *)&guard.pipe);
	uv_unref((uv_handle_t *)&guard.timer);
	uv_timer_start(&guard.timer, guard_on_keepalive, silence_ms / 4 ? silence_ms / 4 : 1,
		       silence_ms / 4 ? silence_ms / 4 : 1);
	return 0;
}

/*
 * A clean stop: EOF to the guard once no registered group is left (children
 * still stopping keep it watching), and the loop waits for its exit.
 */
void child_guard_stop(void)
{
	if (guard.handles == 0 || guard.stopping)
		return;
	guard.stopping = true;
	if (guard.pid > 0)
		uv_ref((uv_handle_t *)&guard.proc);
	if (guard.live == 0)
		guard_close_pipe();
}

int child_guard_pid(void)
{
	return guard.pid;
}

unsigned child_guard_add(int pgid)
{
	char line[24];

	if (!guard.pipe_open)
		return 0;
	snprintf(line, sizeof(line), "+%d\n", pgid);
	guard_send(line);
	guard.live++;
	return guard_gen;
}

void child_guard_remove(int pgid, unsigned gen)
{
	char line[24];

	if (gen == 0 || gen != guard_gen || guard.live == 0)
		return;
	guard.live--;
	snprintf(line, sizeof(line), "-%d\n", pgid);
	guard_send(line);
	if (guard.stopping && guard.live == 0)
		guard_close_pipe();
}

/* ---- The guard process itself ---- */

/* The process groups it was told about. */
struct guard_set {
	int *v;
	size_t n, cap;
};

static uint64_t guard_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* SIGKILL every registered group and forget them; returns how many. */
static size_t guard_kill_all(struct guard_set *s)
{
	size_t n = s->n;

	for (size_t i = 0; i < s->n; i++)
		kill(-s->v[i], SIGKILL);
	s->n = 0;
	return n;
}

/* One line: "+PGID" registers a group, "-PGID" forgets it, anything else is a keepalive. */
static void guard_line(struct guard_set *s, const char *line)
{
	char *end;
	long pgid;

	if (line[0] != '+' && line[0] != '-')
		return;
	pgid = strtol(line + 1, &end, 10);
	if (*end != '\0' || pgid <= 1 || pgid > 0x7fffffffL)
		return;
	for (size_t i = 0; i < s->n; i++) {
		if (s->v[i] == (int)pgid) {
			if (line[0] == '-')
				s->v[i] = s->v[--s->n];
			return;
		}
	}
	if (line[0] == '-')
		return;
	if (s->n == s->cap) {
		int *nv = realloc(s->v, (s->cap ? s->cap * 2 : 64) * sizeof(*nv));

		if (!nv) { /* cannot track it: the safe side is to not let it run unguarded */
			kill(-(int)pgid, SIGKILL);
			return;
		}
		s->v = nv;
		s->cap = s->cap ? s->cap * 2 : 64;
	}
	s->v[s->n++] = (int)pgid;
}

/*
 * `jobsync __guard SILENCE_MS`: read lines from stdin (the node). EOF means
 * the node is gone: kill every registered group, exit 0. No byte for
 * SILENCE_MS means it is frozen or stuck: kill them, forget them, keep going.
 */
int child_guard_main(int argc, char **argv)
{
	struct guard_set set = { NULL, 0, 0 };
	uint64_t silence = GUARD_DEFAULT_SILENCE_MS, last;
	char buf[512], line[32];
	size_t len = 0;
	bool fired = false, skip = false;

	if (argc > 2 && atoll(argv[2]) > 0)
		silence = (uint64_t)atoll(argv[2]);
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	last = guard_now_ms();
	for (;;) {
		struct pollfd pfd = { .fd = 0, .events = POLLIN };
		uint64_t now = guard_now_ms();
		uint64_t left = now - last >= silence ? 0 : silence - (now - last);
		int timeout = fired ? -1 : left > INT_MAX ? INT_MAX : (int)left;
		ssize_t n;

		if (poll(&pfd, 1, timeout) == 0) {
			if (guard_now_ms() - last < silence)
				continue; /* a timeout capped at INT_MAX ms */
			fprintf(stderr, "jobsync guard: node silent for %llu ms; killed %zu process "
				"groups\n", (unsigned long long)(guard_now_ms() - last),
				guard_kill_all(&set));
			fired = true;
			continue;
		}
		n = read(0, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
		last = guard_now_ms();
		fired = false;
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != '\n') {
				if (len + 1 < sizeof(line))
					line[len++] = buf[i];
				else
					skip = true;
				continue;
			}
			line[len] = '\0';
			if (!skip)
				guard_line(&set, line);
			len = 0;
			skip = false;
		}
	}
	guard_kill_all(&set);
	free(set.v);
	return 0;
}
