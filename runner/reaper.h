/* reaper.h: reap orphans re-parented to the node (PID 1 or subreaper) without taking libuv's exits. */
#ifndef JOBSYNC_REAPER_H
#define JOBSYNC_REAPER_H

#include <stdbool.h>

#include <uv.h>

/*
 * Become a child subreaper when PID 1 or asked to, and on every SIGCHLD reap
 * the zombie children that the runner did not start (child_is_ours() false).
 * Never waitpid(-1): libuv reaps its own children by pid. Every uv_spawn() of
 * the process must go through child_spawn(), or its exit may be taken here.
 * The signal handle does not keep the loop alive. Returns 0 or a negative errno.
 */
int reaper_start(uv_loop_t *loop, bool force_subreaper);
/* Stop watching (the handle closes on the next loop turn); drops the subreaper flag it set. */
void reaper_stop(void);
/* Orphans reaped so far (for tests and status). */
unsigned long reaper_reaped(void);

#endif
