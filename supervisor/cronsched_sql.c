/* cronsched_sql.c: the cron statements of the leader and the (optionally accelerated) cron clock. */
#include "supervisor/cronsched_sql.h"

#include <stdlib.h>
#include <time.h>

const char *const cronsched_sql_tmpl[CRONSQL_NSTMT] = {
	/* G5: the row is written only while this incarnation holds this term, in the
	 * same statement; UNIQUE (job, instant) makes each instant fire once. A manual
	 * run also consumes its request (once) in the same statement. */
	[CRONSQL_FIRE] =
		"WITH r AS (INSERT INTO @cron_run (job, instant, node, term, requested, status,"
		"  started, finished)"
		" SELECT $1, to_timestamp($2::bigint / 1000.0), $3, $4::bigint, $5::boolean, $6,"
		"  CASE WHEN $6 = 'running' THEN now() END,"
		"  CASE WHEN $6 = 'skipped' THEN now() END"
		" WHERE EXISTS (SELECT 1 FROM @meta WHERE id = 1 AND term = $4::bigint"
		"   AND leader_incarnation = $7)"
		"  AND ($8::bigint IS NULL OR EXISTS (SELECT 1 FROM @request"
		"   WHERE id = $8::bigint AND done_at IS NULL))"
		" ON CONFLICT (job, instant) DO NOTHING RETURNING id),"
		" q AS (UPDATE @request SET done_at = now(), result = (SELECT id FROM r)::text"
		"  WHERE id = $8::bigint AND EXISTS (SELECT 1 FROM r))"
		" SELECT id FROM r",
	[CRONSQL_ATTEMPT] =
		"UPDATE @cron_run SET attempts = $2::int WHERE id = $1::bigint",
	[CRONSQL_FINISH] =
		"UPDATE @cron_run SET status = $2, attempts = $3::int, exit_status = $4::int,"
		" output_tail = $5, finished = now() WHERE id = $1::bigint",
	[CRONSQL_ORPHANS] =
		"UPDATE @cron_run SET status = 'failed', finished = now(),"
		" output_tail = concat_ws(E'\\n', output_tail, 'leader lost during the run')"
		" WHERE status = 'running' AND term < $1::bigint",
	[CRONSQL_PRUNE] =
		"DELETE FROM @cron_run WHERE instant < now() - make_interval(days => $1::int)",
	/* Requests nobody picked up within an hour are closed, not run late. */
	[CRONSQL_REQUESTS] =
		"WITH x AS (UPDATE @request SET done_at = now(),"
		"  result = 'error: expired: no leader picked it up within an hour'"
		"  WHERE kind = '" CRONSCHED_REQUEST_KIND "' AND done_at IS NULL"
		"  AND requested_at < now() - interval '1 hour')"
		" SELECT id, coalesce(arg, '') FROM @request WHERE kind = '" CRONSCHED_REQUEST_KIND "'"
		" AND done_at IS NULL AND requested_at >= now() - interval '1 hour'"
		" ORDER BY id LIMIT 50",
	[CRONSQL_REQ_DONE] =
		"UPDATE @request SET done_at = now(), result = $2 WHERE id = $1::bigint"
		" AND done_at IS NULL",
};

/* The test clock's settings: epoch in ms and real seconds per cron minute (0 = off). */
static void clock_settings(int64_t *epoch_ms, int64_t *spm)
{
	const char *e = getenv("JOBSYNC_TEST_CRON_EPOCH");
	const char *s = getenv("JOBSYNC_TEST_CRON_SECONDS_PER_MINUTE");
	*epoch_ms = 0;
	*spm = 0;
	if (!e || !s || !*e || !*s)
		return;
	long long ev = atoll(e), sv = atoll(s);
	if (ev <= 0 || sv <= 0 || sv > 3600)
		return;
	*epoch_ms = (int64_t)ev * 1000;
	*spm = sv;
}

static int64_t real_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool cronsched_clock_is_test(void)
{
	int64_t e, s;
	clock_settings(&e, &s);
	return s > 0;
}

int64_t cronsched_clock_ms(void)
{
	int64_t e, s, now = real_ms();
	clock_settings(&e, &s);
	if (s == 0)
		return now;
	return e + (now - e) * 60 / s;
}

uint64_t cronsched_clock_delay_ms(int64_t cron_ms)
{
	int64_t e, s, now = real_ms(), real_at = cron_ms;
	clock_settings(&e, &s);
	if (s > 0)
		real_at = e + ((cron_ms - e) * s + 59) / 60;
	return real_at > now ? (uint64_t)(real_at - now) : 0;
}
