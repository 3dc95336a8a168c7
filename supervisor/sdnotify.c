/* sdnotify.c: tell systemd (or any NOTIFY_SOCKET listener) that the node is ready, alive, stopping. */
#include "supervisor/sdnotify.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervisor/log.h"
#include "supervisor/node.h"
#include "supervisor/work.h"

/* STATUS= is sent at most this often (the status timer's period too). */
#define SDNOTIFY_STATUS_MIN_MS 1000

/* Copy of getenv(name) (NULL when unset or empty), then remove name from the environment. */
static char *take_env(const char *name)
{
	const char *v = getenv(name);
	char *copy = v && *v ? strdup(v) : NULL;
	unsetenv(name);
	return copy;
}

/* Fill s->addr from NOTIFY_SOCKET: "/path", or "@name" for an abstract socket. */
static int parse_address(struct sdnotify *s, const char *value)
{
	size_t len = strlen(value);

	memset(&s->addr, 0, sizeof s->addr);
	s->addr.sun_family = AF_UNIX;
	if ((value[0] != '/' && value[0] != '@') || len >= sizeof s->addr.sun_path)
		return -1;
	memcpy(s->addr.sun_path, value, len);
	if (value[0] == '@') {
		/* Abstract: a leading NUL, and the length counts no trailing NUL. */
		s->addr.sun_path[0] = '\0';
		s->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	} else {
		s->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
	}
	return 0;
}

/*
 * Half of WATCHDOG_USEC in milliseconds (at least 1), or 0 when the watchdog
 * is off: unset, not a positive number, or meant for another process
 * (WATCHDOG_PID set to a pid other than ours).
 */
static uint64_t watchdog_interval(const char *usec, const char *pid)
{
	char *end;

	if (!usec)
		return 0;
	errno = 0;
	unsigned long long us = strtoull(usec, &end, 10);
	if (errno || *end || end == usec || us == 0 || usec[0] == '-') {
		log_warn("sd_notify: ignoring WATCHDOG_USEC='%s' (not a positive number)", usec);
		return 0;
	}
	if (pid) {
		errno = 0;
		long p = strtol(pid, &end, 10);
		if (errno || *end || end == pid || p <= 0) {
			log_warn("sd_notify: ignoring the watchdog: WATCHDOG_PID='%s' is not a pid", pid);
			return 0;
		}
		if ((pid_t)p != getpid()) {
			log_info("sd_notify: the watchdog is for pid %ld, not this process: no pings", p);
			return 0;
		}
	}
	uint64_t ms = (uint64_t)(us / 2000);
	return ms ? ms : 1;
}

/* Send one message of len bytes; drop it (logged) when the socket cannot take it now. */
static void send_raw(struct sdnotify *s, const char *msg, size_t len)
{
	if (sendto(s->fd, msg, len, MSG_NOSIGNAL | MSG_DONTWAIT, (struct sockaddr *)&s->addr,
		   s->addrlen) >= 0)
		return;
	int err = errno;
	int line = (int)strcspn(msg, "\n");
	if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR || s->warned) {
		log_debug("sd_notify: dropped '%.*s': %s", line, msg, strerror(err));
		return;
	}
	s->warned = true; /* once; later failures are debug lines */
	log_warn("sd_notify: cannot send '%.*s' to the notification socket: %s", line, msg,
		 strerror(err));
}

void sdnotify_send(struct sdnotify *s, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (!s->enabled || s->closed)
		return;
	va_start(ap, fmt);
	int len = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (len < 0)
		return;
	send_raw(s, buf, (size_t)len < sizeof buf ? (size_t)len : sizeof buf - 1);
}

/* The owner's summary on one line (a newline would start another assignment). */
static void summarize(struct sdnotify *s, char *buf, size_t len)
{
	buf[0] = '\0';
	if (s->summary)
		s->summary(s->ud, buf, len);
	for (char *p = buf; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
}

/* Send prefix (e.g. "READY=1\n", or "") with the current STATUS=, and remember it. */
static void send_with_status(struct sdnotify *s, const char *prefix)
{
	char buf[sizeof s->status];

	summarize(s, buf, sizeof buf);
	sdnotify_send(s, "%sSTATUS=%s", prefix, buf);
	memcpy(s->status, buf, sizeof s->status);
	s->status_ms = uv_now(s->watchdog_timer.loop);
}

void sdnotify_ready(struct sdnotify *s)
{
	if (!s->enabled || s->closed || s->ready_sent)
		return;
	s->ready_sent = true;
	send_with_status(s, "READY=1\n");
	log_debug("sd_notify: READY=1 (%s)", s->status);
}

void sdnotify_stopping(struct sdnotify *s)
{
	if (!s->enabled || s->closed || s->stopping_sent)
		return;
	s->stopping_sent = true;
	send_with_status(s, "STOPPING=1\n");
	log_debug("sd_notify: STOPPING=1 (%s)", s->status);
}

void sdnotify_status(struct sdnotify *s)
{
	char buf[sizeof s->status];

	if (!s->enabled || s->closed)
		return;
	summarize(s, buf, sizeof buf);
	if (!strcmp(buf, s->status))
		return;
	/* Sent less than a second ago: the status timer sends the change later. */
	if (s->status[0] && uv_now(s->status_timer.loop) - s->status_ms < SDNOTIFY_STATUS_MIN_MS)
		return;
	send_with_status(s, "");
}

static void on_status_timer(uv_timer_t *t)
{
	sdnotify_status(t->data);
}

static void on_watchdog_timer(uv_timer_t *t)
{
	sdnotify_send(t->data, "WATCHDOG=1");
}

int sdnotify_init(struct sdnotify *s, uv_loop_t *loop,
		  void (*summary)(void *ud, char *buf, size_t len), void *ud)
{
	/* Read all three first: children must see none of them, whatever happens next. */
	char *path = take_env("NOTIFY_SOCKET");
	char *usec = take_env("WATCHDOG_USEC");
	char *pid = take_env("WATCHDOG_PID");
	int rc = 0;

	memset(s, 0, sizeof *s);
	s->fd = -1;
	s->summary = summary;
	s->ud = ud;
	if (!path)
		goto cleanup;
	if (parse_address(s, path) < 0) {
		log_warn("sd_notify: NOTIFY_SOCKET='%s' is not a socket path or @abstract name "
			 "(at most %zu bytes): not notifying", path, sizeof s->addr.sun_path - 1);
		rc = -1;
		goto cleanup;
	}
	s->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		log_warn("sd_notify: cannot create a socket for NOTIFY_SOCKET: %s", strerror(errno));
		rc = -1;
		goto cleanup;
	}
	s->watchdog_ms = watchdog_interval(usec, pid);
	s->enabled = true;
	/* Neither timer keeps the loop running; the node closes them on shutdown. */
	uv_timer_init(loop, &s->status_timer);
	s->status_timer.data = s;
	uv_timer_start(&s->status_timer, on_status_timer, SDNOTIFY_STATUS_MIN_MS,
		       SDNOTIFY_STATUS_MIN_MS);
	uv_unref((uv_handle_t *)&s->status_timer);
	uv_timer_init(loop, &s->watchdog_timer);
	s->watchdog_timer.data = s;
	if (s->watchdog_ms) {
		uv_timer_start(&s->watchdog_timer, on_watchdog_timer, s->watchdog_ms,
			       s->watchdog_ms);
		sdnotify_send(s, "WATCHDOG=1");
	}
	uv_unref((uv_handle_t *)&s->watchdog_timer);
	log_info("sd_notify: notifying %s%s", path, s->watchdog_ms ? " with watchdog pings" : "");
	if (s->watchdog_ms)
		log_debug("sd_notify: WATCHDOG=1 every %llu ms", (unsigned long long)s->watchdog_ms);
cleanup:
	free(path);
	free(usec);
	free(pid);
	return rc;
}

void sdnotify_close(struct sdnotify *s)
{
	if (!s->enabled || s->closed)
		return;
	s->closed = true;
	uv_close((uv_handle_t *)&s->status_timer, NULL);
	uv_close((uv_handle_t *)&s->watchdog_timer, NULL);
	close(s->fd);
	s->fd = -1;
}

void sdnotify_node_summary(void *ud, char *buf, size_t len)
{
	const struct node *n = ud;
	const struct config *cfg = n->cfg;
	size_t inflight = n->work && n->work->mode_state ? n->work->mode->active(n->work) : 0;
	char tasks[48] = ""; /* ", N tasks in flight" */
	bool db = !cfg->enabled || pg_ready(&n->pg);

	if (n->work)
		snprintf(tasks, sizeof tasks, ", %zu task%s in flight", inflight,
			 inflight == 1 ? "" : "s");
	switch (n->state) {
	case NODE_STARTING:
		snprintf(buf, len, "starting: %s", db ? "registering" : "connecting to the database");
		break;
	case NODE_COLD_START:
		snprintf(buf, len, "cold start: registered, waiting for tokens");
		break;
	case NODE_RUNNING:
		if (!cfg->enabled)
			snprintf(buf, len, "running: coordination off%s", tasks);
		else
			snprintf(buf, len, "running: %d of %d tokens, leader %.64s%s%s%s", n->owned,
				 cfg->total_tokens, *n->leader ? n->leader : "(none)",
				 n->is_leader ? " (this node)" : "", tasks,
				 db ? "" : ", database unreachable");
		break;
	case NODE_FENCED:
		snprintf(buf, len, "fenced: no heartbeat accepted, not acting as an owner%s", tasks);
		break;
	case NODE_DRAINING:
		/* "draining: N tasks in flight" */
		snprintf(buf, len, "draining%s%s", *tasks ? ":" : "", *tasks ? tasks + 1 : "");
		break;
	case NODE_STOPPED:
		snprintf(buf, len, "stopping");
		break;
	}
}
