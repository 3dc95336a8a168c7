/* child.h: one child process on the libuv loop: own process group, killed by the guard with its node. */
#ifndef JOBSYNC_CHILD_H
#define JOBSYNC_CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

enum child_stream { CHILD_STDOUT, CHILD_STDERR };

struct child;

struct child_spec {
	const char *name;           /* for messages: "task:ID", "worker-2", "service:x" */
	char *const *argv;          /* NULL-terminated; argv[0] is searched in PATH */
	char *const *env;           /* complete environment, NULL-terminated */
	const char *cwd;            /* NULL = the node's */
	int stop_signal;            /* sent to the process group by child_stop() */
	uint64_t stop_timeout_ms;   /* then SIGKILL to the group */
	bool stdin_pipe;            /* stdin is a pipe fed by child_write(); else /dev/null */
	size_t max_line;            /* longest line delivered; the rest is cut, flagged */
	size_t stderr_tail;         /* bytes of stderr kept for child_stderr_tail() */
};

struct child_events {
	/* One line of output (without the newline); never blocks the loop. */
	void (*on_line)(struct child *c, enum child_stream s, const char *line, size_t len,
			bool truncated, void *ud);
	/* The process ended and its output is drained: exit status, or the signal. */
	void (*on_exit)(struct child *c, int exit_status, int term_signal, void *ud);
	/* Optional: everything queued by child_write() reached the pipe. */
	void (*on_drained)(struct child *c, void *ud);
};

/*
 * Start a child. Returns 0 and *out, or a negative errno (e.g. -ENOENT when
 * argv[0] is not found, -EACCES when it is not executable: checked before
 * spawning so the message is clear). When the child exits, whatever is left
 * of its process group is SIGKILLed; output still held open by a process
 * that left the group is cut 200 ms after the exit. The child is exec'd
 * directly (no shim) as the leader of a new session and process group
 * (pgid = pid), with default signal dispositions and an empty signal mask;
 * its group is registered with the node's guard, if one runs.
 */
int child_spawn(uv_loop_t *loop, const struct child_spec *spec, const struct child_events *ev,
		void *ud, struct child **out);

/*
 * Queue bytes for the child's stdin; -EPIPE once closed, -EAGAIN over 1 MiB
 * queued. The daemon must ignore SIGPIPE: a write to a child that closed its
 * stdin then fails with EPIPE instead of killing the node.
 */
int child_write(struct child *c, const char *buf, size_t len);
size_t child_write_queued(const struct child *c);
void child_close_stdin(struct child *c);

/* stop_signal to the group, SIGKILL after stop_timeout_ms; idempotent. */
void child_stop(struct child *c);
/* SIGKILL to the group now. */
void child_kill(struct child *c);

int child_pid(const struct child *c);
const char *child_name(const struct child *c);
/* Last stderr_tail bytes of stderr, NUL-terminated. */
const char *child_stderr_tail(const struct child *c);
/* Monotonic ms when it started. */
uint64_t child_started_ms(const struct child *c);

/* Release after on_exit (handles close asynchronously). */
void child_free(struct child *c);

/*
 * Start the node's guard: `EXE __guard SILENCE_MS` (EXE NULL = /proc/self/exe)
 * in its own session, reading one line per event on a pipe from the node:
 * "+PGID" after each spawn, "-PGID" once the group is cleaned after the exit,
 * "." every silence_ms/4. On EOF (the node died, even by SIGKILL) it SIGKILLs
 * every registered group and exits; after silence_ms without a byte (the node
 * is frozen or its loop stuck) it SIGKILLs them, forgets them and keeps
 * waiting. Its handles do not keep the loop alive. One guard per process;
 * without one, child_spawn still works. Returns 0 or a negative errno.
 */
int child_guard_start(uv_loop_t *loop, const char *exe, uint64_t silence_ms);
/*
 * Clean stop: EOF to the guard as soon as no registered group is left (at
 * once if none), then the loop runs until the guard's exit is reaped and its
 * handles are closed. Idempotent; a later child_guard_start may follow.
 */
void child_guard_stop(void);
/* The guard's pid, 0 when none runs. */
int child_guard_pid(void);
/* `jobsync __guard ...`: main() dispatches argv[1] == "__guard" to it first thing. */
int child_guard_main(int argc, char **argv);

/* Pids of live children of this process that the runner started, guard included (for the reaper). */
bool child_is_ours(int pid);

#endif
