/* child.h: one child process on the libuv loop: own process group, dies with the node. */
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
 * Where the jobsync binary is, for the per-child shim ("jobsync __child ...")
 * that puts the child in its own process group and kills that group when the
 * node dies (parent-death signal). Default: /proc/self/exe.
 */
void child_set_shim(const char *exe);

/*
 * Start a child. Returns 0 and *out, or a negative errno (e.g. -ENOENT when
 * argv[0] is not found, -EACCES when it is not executable: checked before
 * spawning so the message is clear). When the child exits, whatever is left
 * of its process group is SIGKILLed; output still held open by a process
 * that left the group is cut 200 ms after the exit. Call from the loop
 * thread (the parent-death signal follows the spawning thread).
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
 * `jobsync __child STOPSIG PPID -- ARGV...`: the shim's entry point
 * (runner/shim.c); main() dispatches argv[1] == "__child" to it first thing.
 */
int child_shim_main(int argc, char **argv);

/* Pids of live children of this process that the runner started (for the reaper). */
bool child_is_ours(int pid);

#endif
