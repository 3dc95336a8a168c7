/* child_io.h: the state of one child, shared by child.c, child_spawn.c (process) and child_io.c (pipes); runner-private. */
#ifndef JOBSYNC_CHILD_IO_H
#define JOBSYNC_CHILD_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "runner/child.h"
#include "runner/lines.h"

#define CHILD_WRITE_MAX (1024 * 1024) /* bytes queued for stdin before -EAGAIN */
#define CHILD_READ_BUF 65536          /* one read from stdout or stderr */
#define CHILD_GRACE_MS 200            /* wait for output EOF after the exit */
#define CHILD_DEFAULT_MAX_LINE 4096

/* One output pipe (stdout or stderr) and its line splitter. */
struct child_out {
	uv_pipe_t pipe;
	struct lines lines;
	struct child *owner;
	enum child_stream which;
	bool eof;               /* EOF, error, or cut after the grace: closed */
};

struct child {
	uv_loop_t *loop;
	uv_process_t proc;      /* the uv_spawn fallback (no pidfd_open) */
	uv_poll_t exit_poll;    /* readable pidfd: the child exited (posix_spawn) */
	int pidfd;              /* -1 = none */
	uv_timer_t timer;       /* stop escalation before the exit, output grace after */
	uv_pipe_t in;
	uv_shutdown_t shutdown_req;
	struct child_out out[2];
	struct child_events ev;
	void *ud;
	char *name;
	int pid;                /* also the pgid: the child leads its own group */
	unsigned guard_gen;     /* the guard that knows the group, 0 = none */
	int stop_signal;
	uint64_t stop_timeout_ms;
	uint64_t started_ms;
	int handles;            /* initialized handles not yet closed */
	bool in_init;           /* stdin is a pipe (handle initialized) */
	bool in_closed;         /* no more writes: closed by us, broken, or the child exited */
	size_t in_queued;       /* bytes handed to uv_write and not yet completed */
	bool stopping, exited, done, freeing;
	int exit_status, term_signal;
	char *tail;             /* last tail_max bytes of stderr, NUL-terminated */
	size_t tail_len, tail_max;
};

/* Init the pipe handles (not yet open), the splitters and the tail. */
int child_io_init(struct child *c, const struct child_spec *spec);
/* Fill stdio[0..2] for uv_spawn (libuv creates the pipes). */
void child_io_stdio(struct child *c, uv_stdio_container_t *stdio);
/*
 * Create the pipes for posix_spawn (O_CLOEXEC, every fd >= 3): the parent
 * ends go into the handles, the child ends into fds[0..2] (fds[0] = -1:
 * stdin is /dev/null). Close the child ends with child_io_close_fds.
 */
int child_io_pipes(struct child *c, int fds[3]);
void child_io_close_fds(int fds[3]);
/* Start reading stdout and stderr (after a successful spawn). */
int child_io_start(struct child *c);
/* The process exited: stdin takes no more writes. */
void child_io_on_exit(struct child *c);
/* The grace after the exit is over: deliver partial lines and close the outputs. */
void child_io_cut(struct child *c);
/* Both outputs reached EOF (or were cut). */
bool child_io_drained(const struct child *c);
/* Close the pipes still open (child_free, or a failed spawn). */
void child_io_close(struct child *c);
/* Free the splitters and the tail (after the last handle closed). */
void child_io_release(struct child *c);

/* From child.c: close callback of every handle, closing once, and the check for the end. */
void child_handle_closed(uv_handle_t *h);
void child_close_handle(uv_handle_t *h);
void child_check_done(struct child *c);
/* From child.c: the process was reaped (its group already SIGKILLed). */
void child_exited(struct child *c, int exit_status, int term_signal);

/*
 * From child_spawn.c: start the process at path (resolved argv[0]) with its
 * exit watched; 0 and c->pid, or a negative errno with no process left
 * (handles it initialized are counted and closed by child_process_close).
 */
int child_process_start(struct child *c, const struct child_spec *spec, const char *path);
/* Close the exit watcher (pidfd poll or uv_process handle). */
void child_process_close(struct child *c);
/* For tests: spawn through uv_spawn (fork), as without pidfd_open. */
void child_spawn_use_fork(bool on);

/* From guard.c: register a new group (returns the guard's generation, 0 = no guard), forget it. */
unsigned child_guard_add(int pgid);
void child_guard_remove(int pgid, unsigned gen);

#endif
