/* cronsched_sql.h: the cron statements ('@' = table prefix) and the cron clock, shared by the node and the CLI. */
#ifndef JOBSYNC_CRONSCHED_SQL_H
#define JOBSYNC_CRONSCHED_SQL_H

#include <stdbool.h>
#include <stdint.h>

/* Statements of the leader, as '@' templates (expanded with schema_expand()). */
enum cronsched_stmt {
	CRONSQL_FIRE,      /* $1 job $2 instant_ms $3 node $4 term $5 requested $6 status $7 inc $8 request id -> id */
	CRONSQL_ATTEMPT,   /* $1 id $2 attempts */
	CRONSQL_FINISH,    /* $1 id $2 status $3 attempts $4 exit_status $5 output_tail */
	CRONSQL_ORPHANS,   /* $1 term: rows still running from earlier terms -> failed */
	CRONSQL_PRUNE,     /* $1 retention days -> deleted count */
	CRONSQL_REQUESTS,  /* -> id, arg of pending cron requests */
	CRONSQL_REQ_DONE,  /* $1 request id $2 result */
	CRONSQL_NSTMT
};

extern const char *const cronsched_sql_tmpl[CRONSQL_NSTMT];

/* Request kind and NOTIFY payload of manual runs. */
#define CRONSCHED_REQUEST_KIND "cron"

/*
 * The cron clock in milliseconds since the epoch. Normally the real time.
 * Test-only: with JOBSYNC_TEST_CRON_EPOCH=<unix seconds> and
 * JOBSYNC_TEST_CRON_SECONDS_PER_MINUTE=<n> in the environment, cron time runs
 * 60/n times faster than real time from that epoch:
 *     cron_now = epoch + (real_now - epoch) * 60 / n
 * so a per-minute schedule fires every n real seconds, and every node given
 * the same epoch agrees on the instants. Never set them in production.
 */
int64_t cronsched_clock_ms(void);

/* Real milliseconds from now until the cron-clock instant cron_ms (0 if past). */
uint64_t cronsched_clock_delay_ms(int64_t cron_ms);

/* True when the test clock is in effect (logged once at start). */
bool cronsched_clock_is_test(void);

#endif
