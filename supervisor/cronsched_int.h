/* cronsched_int.h: the cron scheduler's internal state, shared by cronsched.c and cronsched_run.c. */
#ifndef JOBSYNC_CRONSCHED_INT_H
#define JOBSYNC_CRONSCHED_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "config/config.h"
#include "supervisor/cron.h"
#include "supervisor/cronsched_sql.h"

#define CRONSCHED_TAIL 2048        /* bytes of output kept for the history row */

struct node;
struct child;

/* Statuses a run ends with, as the history rows name them. */
enum { CRONSCHED_SUCCESS, CRONSCHED_FAILED, CRONSCHED_TIMEOUT, CRONSCHED_SKIPPED,
       CRONSCHED_NSTATUS };
extern const char *const cronsched_status_names[CRONSCHED_NSTATUS];

/* One [cron.NAME] job and its timer. */
struct cronsched_job {
	struct cronsched *c;
	const struct config_cron *cfg;
	struct cron sched;
	bool ok;                       /* the schedule parsed */
	uv_timer_t timer;
	int64_t next_ms;               /* armed instant on the cron clock, 0 = none */
	int active;                    /* runs of this job on this node not yet ended */
	/* Runs this node ended, by status (status file, metrics); the last one's outcome. */
	uint64_t ended[CRONSCHED_NSTATUS];
	int last_status;               /* 1 + index into cronsched_status_names, 0 = none */
	int64_t last_instant_ms;       /* its instant on the cron clock */
	int64_t since_ms;              /* added by a reload then (cron clock): no misfire before */
};

/* Count a run of j that ended with status (a cronsched_status_names entry). */
void cronsched_count_end(struct cronsched_job *j, int64_t instant_ms, const char *status);

/* One run: a scheduled instant or a manual request, with its attempts. */
struct cronsched_run {
	struct cronsched *c;
	struct cronsched_job *job;
	struct cronsched_run *prev, *next;
	int64_t id;                    /* history row; 0 = none (yet, or no database) */
	int64_t instant_ms;
	int64_t request_id;            /* 0 = scheduled */
	bool skipped;                  /* recorded as skipped, never run */
	bool counted;                  /* counted in job->active */
	int attempt;
	struct child *child;
	uv_timer_t timer;              /* timeout of the attempt, or the delay before the next */
	bool timed_out, abandoned, released;
	uint64_t delay_ms;
	int exit_status;
	char tail[CRONSCHED_TAIL + 1];
	size_t tail_len;
};

struct cronsched {
	struct node *n;
	struct cronsched_job *jobs;
	size_t njobs;
	char *sql[CRONSQL_NSTMT];
	uv_timer_t poll;               /* fallback look at requests; hourly prune */
	bool leading, closing, local;  /* local: coordination off, no database */
	bool req_inflight, req_again;
	int64_t term;
	uint64_t pruned_ms;
	bool pruned;
	struct cronsched_run *runs;
	struct cronsched_job **old_jobs; /* arrays replaced by reloads: runs may still use them */
	size_t nold_jobs;
	int open_handles;
	uint64_t rng;
};

/* Fire job j for instant_ms (request_id 0 = scheduled); skip = record skipped, do not run. */
void cronsched_fire(struct cronsched *c, struct cronsched_job *j, int64_t instant_ms,
		    int64_t request_id, bool skip);

/* Stop every run (leadership lost or shutdown); rows are marked failed with why. */
void cronsched_abandon_all(struct cronsched *c, const char *why, bool kill_now);

/* "2026-03-08 03:00:00 UTC"-style text of a cron-clock instant in the job's zone. */
void cronsched_instant_text(const struct cronsched_job *j, int64_t ms, char *buf, size_t len);

#endif
