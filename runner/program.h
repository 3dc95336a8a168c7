/* program.h: a long-running supervised child with a restart policy (s6/supervisord-like). */
#ifndef JOBSYNC_PROGRAM_H
#define JOBSYNC_PROGRAM_H

#include <stdbool.h>
#include <stdint.h>

#include "runner/child.h"
#include "runner/policy.h"

enum program_state {
	PROG_STOPPED,   /* not started, or stopped on request */
	PROG_RUNNING,   /* process up */
	PROG_BACKOFF,   /* exited; restarting after a delay */
	PROG_STOPPING,  /* stop signal sent, waiting for exit */
	PROG_EXITED,    /* exited and the policy says do not restart */
	PROG_FATAL,     /* restarted too often (intensity limit); cooldown or stays */
};

struct program;

struct program_events {
	void (*on_state)(struct program *p, enum program_state from, enum program_state to,
			 const char *why, void *ud);
	/* A new process is up (stream mode attaches its stdin/stdout here). */
	void (*on_spawn)(struct program *p, struct child *c, void *ud);
	void (*on_line)(struct program *p, enum child_stream s, const char *line, size_t len,
			bool truncated, void *ud);
	/* The process ended (before any restart decision is acted on). */
	void (*on_exit)(struct program *p, int exit_status, int term_signal, void *ud);
};

/* spec and policy are copied. */
struct program *program_new(uv_loop_t *loop, const struct child_spec *spec,
			    const struct policy *policy, const struct program_events *ev, void *ud);
void program_start(struct program *p);
/* Stop (stop signal, SIGKILL after the timeout); done(p) once it is down. */
void program_stop(struct program *p, void (*done)(struct program *p, void *ud));
enum program_state program_state(const struct program *p);
const char *program_state_name(enum program_state s);
struct child *program_child(const struct program *p); /* NULL when not running */
unsigned program_restarts(const struct program *p);
uint64_t program_since_ms(const struct program *p);
/* The owner moved its state: later events carry ud (a config reload rebuilt its array). */
void program_set_ud(struct program *p, void *ud);
/* Free a stopped program (handles close asynchronously). */
void program_free(struct program *p);

#endif
