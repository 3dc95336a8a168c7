/* sdnotify.h: the systemd notification protocol (READY, STOPPING, WATCHDOG, STATUS) without libsystemd. */
#ifndef JOBSYNC_SDNOTIFY_H
#define JOBSYNC_SDNOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>
#include <sys/un.h>

#include <uv.h>

struct sdnotify {
	bool enabled;              /* NOTIFY_SOCKET was usable: the handles below exist */
	int fd;                    /* AF_UNIX datagram socket, non-blocking */
	struct sockaddr_un addr;
	socklen_t addrlen;
	uint64_t watchdog_ms;      /* ping interval (half of WATCHDOG_USEC), 0 = off */
	uv_timer_t watchdog_timer; /* WATCHDOG=1 from the loop: a stuck loop stops it */
	uv_timer_t status_timer;   /* re-reads the summary every second; sends it if changed */
	/* writes a one-line summary of the owner ud (e.g. "running: 10 of 100 tokens") */
	void (*summary)(void *ud, char *buf, size_t len);
	void *ud;
	char status[200];          /* the last STATUS= sent */
	uint64_t status_ms;        /* loop time it was sent */
	bool ready_sent, stopping_sent, closed, warned;
};

/*
 * Read NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID, then remove them from
 * the environment so children do not inherit them. Without a socket every
 * later call does nothing. summary (with ud) describes the owner for STATUS=.
 * Returns 0, or -1 when NOTIFY_SOCKET is set but unusable (logged; disabled).
 */
int sdnotify_init(struct sdnotify *s, uv_loop_t *loop,
		  void (*summary)(void *ud, char *buf, size_t len), void *ud);

/* Send one datagram of "KEY=VALUE" lines; best effort, never blocks. */
void sdnotify_send(struct sdnotify *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* READY=1 with the current STATUS=, once. */
void sdnotify_ready(struct sdnotify *s);

/* The summary may have changed: send it now, or within a second if one was just sent. */
void sdnotify_status(struct sdnotify *s);

/* STOPPING=1 with the current STATUS=, once. */
void sdnotify_stopping(struct sdnotify *s);

/* Stop and close the timers (the loop ends once they are closed) and the socket. */
void sdnotify_close(struct sdnotify *s);

/* The summary of a struct node (ud): state, tokens, leader, tasks in flight. */
void sdnotify_node_summary(void *ud, char *buf, size_t len);

#endif
