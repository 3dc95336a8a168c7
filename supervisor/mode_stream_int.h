/* mode_stream_int.h: stream mode's pool, shared by mode_stream.c and mode_stream_roll.c (reload). */
#ifndef JOBSYNC_MODE_STREAM_INT_H
#define JOBSYNC_MODE_STREAM_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "config/config.h"
#include "supervisor/work.h"

struct program;

/* One child of the pool and the tasks it holds. */
struct stream_proc {
	struct work *w;
	int index;
	struct program *prog;
	struct child *child;        /* while running */
	struct task **inflight;
	size_t n;
	bool bad;                   /* wrote garbage: being stopped */
	bool retiring;              /* reload: gets no new ids; stopped once they are answered */
	bool resume;                /* unfenced while stopping: start again once stopped */
	uint64_t gen;               /* settings it was started with; 0 = removed by a reload */
};

struct stream_state {
	struct stream_proc *procs;
	int nprocs;                 /* slots in use; a reload that lowers procs trims them */
	char **argv;
	char **env;
	uv_timer_t timer;           /* task_timeout_sec checks */
	bool timer_open;
	/* Reload (mode_stream_roll.c): children are replaced or removed one at a time. */
	uint64_t gen;               /* bumped when every child must be replaced */
	int want;                   /* procs configured now */
	int rolling;                /* index being replaced or removed, -1 = none */
	bool roll_stopping;         /* its stop was sent */
	uv_timer_t roll_timer;      /* stop_timeout_sec for the ids it still holds */
	bool roll_timer_open;
};

/* Create and start p's program with the current settings (st->argv, st->env, cfg). */
int stream_proc_start(struct work *w, struct stream_proc *p);

/* task_timeout_sec checks, every second (started once a timeout is configured). */
void stream_timeout_start(struct work *w);

/* Start replacing or removing the next out-of-date child, if none is under way. */
void stream_roll_next(struct work *w);
/* p answered or lost ids: stop it now if it is being replaced and holds none. */
void stream_roll_check(struct stream_proc *p);
/* Every child is being stopped (fence, drain, shutdown): forget the replacement. */
void stream_roll_cancel(struct work *w);
void stream_roll_close(struct work *w);

/* mode_ops.reload of stream mode. */
void stream_reload(struct work *w, const struct config *old);

#endif
