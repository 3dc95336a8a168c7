/* cli_cron.c: `jobsync cron list|history|run`: cron jobs from the config and their run history. */
#include <getopt.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "supervisor/cli.h"
#include "supervisor/cli_db.h"
#include "supervisor/cron.h"
#include "supervisor/cronsched_sql.h"
#include "supervisor/exitcode.h"

enum { CRON_OPT_LIMIT = 0x2000, CRON_OPT_JSON, CRON_OPT_WAIT };

static const struct option cron_opts[] = {
	CLI_DB_LONG_OPTIONS,
	{"limit", required_argument, NULL, CRON_OPT_LIMIT},
	{"json", no_argument, NULL, CRON_OPT_JSON},
	{"wait", required_argument, NULL, CRON_OPT_WAIT},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/* The last run of every job: job, status, instant. */
static const char cron_last_sql[] =
	"SELECT DISTINCT ON (job) job, status, " CLI_SQL_TS("instant") " FROM @cron_run"
	" ORDER BY job, instant DESC";

static const char cron_history_sql[] =
	"SELECT " CLI_SQL_TS("instant") ", node, " CLI_SQL_TS("started") ", "
	CLI_SQL_TS("finished") ", status, attempts::text, exit_status::text,"
	" split_part(coalesce(output_tail, ''), E'\\n', 1)"
	" FROM @cron_run WHERE job = $1 ORDER BY instant DESC, id DESC LIMIT $2::int";

static const char cron_history_json_sql[] =
	"SELECT coalesce(json_agg(json_build_object('id', id, 'job', job,"
	" 'instant', " CLI_SQL_TS("instant") ", 'node', node, 'term', term,"
	" 'requested', requested, 'started', " CLI_SQL_TS("started") ","
	" 'finished', " CLI_SQL_TS("finished") ", 'status', status, 'attempts', attempts,"
	" 'exit_status', exit_status, 'output_tail', output_tail)"
	" ORDER BY instant DESC, id DESC), '[]'::json)"
	" FROM (SELECT * FROM @cron_run WHERE job = $1 ORDER BY instant DESC, id DESC"
	"  LIMIT $2::int) r";

static void cron_usage(FILE *out)
{
	fprintf(out,
		"usage: jobsync cron list [DB OPTIONS]\n"
		"       jobsync cron history NAME [--limit N] [--json] [DB OPTIONS]\n"
		"       jobsync cron run NAME [--wait SEC] [DB OPTIONS]\n"
		"\n"
		"list     the [cron.NAME] jobs of the config: schedule, zone, next fire time,\n"
		"         and the last run when the database is reachable\n"
		"history  runs of NAME, newest first (default --limit 20)\n"
		"run      ask the leader to run NAME now; wait up to SEC seconds (default 30,\n"
		"         0 = do not wait) and print the outcome\n"
		"\n"
		"DB OPTIONS:   -c, --config FILE | --dsn DSN   [--prefix P (default sync_)]\n"
		"\n"
		"Exit status: 0 ok (run: success), 1 run failed, timed out or skipped,\n"
		"64 usage or unknown job, 69 database unavailable, 70 internal,\n"
		"75 run still pending when the wait ended, 78 invalid config.\n");
}

static int cron_bad_usage(const char *msg)
{
	fprintf(stderr, "jobsync cron: %s\n", msg);
	cron_usage(stderr);
	return EXIT_USAGE;
}

static const struct config_cron *cron_find(const struct cli_db *db, const char *name)
{
	for (size_t i = 0; db->have_cfg && i < db->cfg.ncrons; i++)
		if (!strcmp(db->cfg.crons[i].name, name))
			return &db->cfg.crons[i];
	return NULL;
}

/* True when the run history table exists (older schemas lack it). */
static bool cron_table_exists(struct cli_db *db)
{
	int rc = 0;
	PGresult *res = cli_db_exec(db, "checking the schema",
				    "SELECT to_regclass('@cron_run') IS NOT NULL", 0, NULL, &rc);
	bool ok = res && PQntuples(res) == 1 && !strcmp(PQgetvalue(res, 0, 0), "t");
	PQclear(res);
	return ok;
}

/* Next fire time of job cc as text in its zone. */
static void cron_next_text(const struct config_cron *cc, char *buf, size_t len)
{
	struct cron c;
	time_t next;
	char err[200];
	if (!cc->enabled)
		snprintf(buf, len, "disabled");
	else if (cron_parse(cc->schedule, &c, err, sizeof err) < 0)
		snprintf(buf, len, "bad schedule");
	else if (cron_next(&c, cc->timezone, (time_t)(cronsched_clock_ms() / 1000), &next) != CRON_OK ||
		 cron_format_local(next, cc->timezone, buf, len) != CRON_OK)
		snprintf(buf, len, "never");
}

static int cron_list(struct cli_db *db)
{
	PGresult *last = NULL;
	int rc = 0;
	if (db->have_cfg && !db->cfg.enabled && !db->dsn_arg)
		; /* coordination off: no database, history is in the node's log */
	else if ((rc = cli_db_connect(db)) == 0 && cron_table_exists(db))
		last = cli_db_exec(db, "reading the last runs", cron_last_sql, 0, NULL, &rc);
	else if (!db->have_cfg)
		return rc ? rc : EXIT_UNAVAILABLE;
	else
		fprintf(stderr, "jobsync: last runs not shown (no database or no history table)\n");
	rc = 0;
	size_t nrows = db->have_cfg ? db->cfg.ncrons : (last ? (size_t)PQntuples(last) : 0);
	char (*next)[96] = calloc(nrows + 1, sizeof *next);
	const char **cells = calloc((nrows + 1) * 7, sizeof *cells);
	if (!next || !cells) {
		fprintf(stderr, "jobsync: out of memory\n");
		rc = EXIT_SOFTWARE;
		goto cleanup;
	}
	for (size_t i = 0; i < nrows; i++) {
		const char **row = cells + i * 7;
		const char *name = db->have_cfg ? db->cfg.crons[i].name : PQgetvalue(last, (int)i, 0);
		row[0] = name;
		if (db->have_cfg) {
			const struct config_cron *cc = &db->cfg.crons[i];
			cron_next_text(cc, next[i], sizeof next[i]);
			row[1] = cc->schedule;
			row[2] = cc->timezone && *cc->timezone ? cc->timezone : "local";
			row[3] = cc->enabled ? "yes" : "no";
			row[4] = next[i];
		}
		for (int k = 0; last && k < PQntuples(last); k++)
			if (!strcmp(PQgetvalue(last, k, 0), name)) {
				row[5] = PQgetvalue(last, k, 1);
				row[6] = PQgetvalue(last, k, 2);
			}
	}
	static const char *const head[] = {"JOB", "SCHEDULE", "ZONE", "ENABLED", "NEXT",
					   "LAST STATUS", "LAST INSTANT"};
	if (nrows == 0)
		printf("no cron jobs%s\n", db->have_cfg ? " in the config" : " in the history");
	else
		cli_table_print(stdout, head, 7, cells, nrows);
cleanup:
	free(next);
	free(cells);
	PQclear(last);
	return rc;
}

static int cron_history(struct cli_db *db, const char *name, long limit, bool json)
{
	char lim[24];
	int rc = 0;
	if (db->have_cfg && !cron_find(db, name)) {
		fprintf(stderr, "jobsync: no cron job '%s' in %s\n", name, db->config_path);
		return EXIT_USAGE;
	}
	if ((rc = cli_db_connect(db)) || (rc = cli_db_check_schema(db)))
		return rc;
	if (!cron_table_exists(db)) {
		fprintf(stderr, "jobsync: no cron history table; run 'jobsync init-db'\n");
		return EXIT_UNAVAILABLE;
	}
	snprintf(lim, sizeof lim, "%ld", limit);
	const char *p[] = {name, lim};
	if (json) {
		json_t *v = cli_db_json(db, "reading the history", cron_history_json_sql, 2, p, &rc);
		if (!v)
			return rc;
		char *s = json_dumps(v, JSON_INDENT(2));
		printf("%s\n", s ? s : "[]");
		free(s);
		json_decref(v);
		return 0;
	}
	PGresult *res = cli_db_exec(db, "reading the history", cron_history_sql, 2, p, &rc);
	if (!res)
		return rc;
	int n = PQntuples(res);
	const char **cells = calloc((size_t)n * 8 + 1, sizeof *cells);
	if (!cells) {
		PQclear(res);
		return EXIT_SOFTWARE;
	}
	for (int i = 0; i < n; i++)
		for (int k = 0; k < 8; k++)
			cells[i * 8 + k] = PQgetisnull(res, i, k) ? NULL : PQgetvalue(res, i, k);
	static const char *const head[] = {"INSTANT", "NODE", "STARTED", "FINISHED", "STATUS",
					   "ATTEMPTS", "EXIT", "OUTPUT"};
	if (n == 0)
		printf("no runs of '%s' recorded\n", name);
	else
		cli_table_print(stdout, head, 8, cells, (size_t)n);
	free(cells);
	PQclear(res);
	return 0;
}

static void cron_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static double cron_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Print a finished (or still running) run row; returns the exit code of `cron run`. */
static int cron_print_run(PGresult *res, const char *name, const char *run_id)
{
	const char *status = PQgetvalue(res, 0, 0);
	printf("cron %s run %s on %s: %s", name, run_id, PQgetvalue(res, 0, 1), status);
	if (!PQgetisnull(res, 0, 2))
		printf(" (exit status %s, %s attempt%s)", PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3),
		       strcmp(PQgetvalue(res, 0, 3), "1") ? "s" : "");
	printf("\n");
	if (!PQgetisnull(res, 0, 4) && *PQgetvalue(res, 0, 4))
		printf("output tail:\n%s", PQgetvalue(res, 0, 4));
	return !strcmp(status, "success") ? EXIT_OK : 1;
}

static int cron_run(struct cli_db *db, const char *name, long wait_sec)
{
	char host[256] = "localhost", by[512], req[32] = "";
	int rc = 0;
	if (db->have_cfg && !cron_find(db, name)) {
		fprintf(stderr, "jobsync: no cron job '%s' in %s\n", name, db->config_path);
		return EXIT_USAGE;
	}
	if ((rc = cli_db_connect(db)) || (rc = cli_db_check_schema(db)))
		return rc;
	struct passwd *pw = getpwuid(getuid());
	gethostname(host, sizeof host - 1);
	snprintf(by, sizeof by, "cli:%s@%s", pw ? pw->pw_name : "?", host);
	const char *p[] = {name, by};
	PGresult *res = cli_db_exec(db, "requesting the run",
				    "INSERT INTO @request (kind, arg, requested_by) VALUES ('"
				    CRONSCHED_REQUEST_KIND "', $1, $2) RETURNING id", 2, p, &rc);
	if (!res)
		return rc;
	snprintf(req, sizeof req, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	if ((rc = cli_db_notify(db, CRONSCHED_REQUEST_KIND)))
		return rc;
	if (wait_sec == 0) {
		printf("requested run of cron %s: request %s\n", name, req);
		return EXIT_OK;
	}
	double deadline = cron_mono() + (double)wait_sec;
	char run_id[64] = "";
	while (cron_mono() < deadline) {
		if (!*run_id) {
			res = cli_db_exec(db, "reading the request",
					  "SELECT done_at IS NOT NULL, coalesce(result, '') FROM @request"
					  " WHERE id = $1::bigint", 1, (const char *[]){req}, &rc);
			if (!res)
				return rc;
			if (PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't') {
				const char *result = PQgetvalue(res, 0, 1);
				if (strspn(result, "0123456789") != strlen(result) || !*result) {
					fprintf(stderr, "jobsync: the leader refused the run: %s\n", result);
					PQclear(res);
					return EXIT_USAGE;
				}
				snprintf(run_id, sizeof run_id, "%s", result);
			}
			PQclear(res);
		}
		if (*run_id) {
			res = cli_db_exec(db, "reading the run",
					  "SELECT status, node, exit_status::text, attempts::text,"
					  " output_tail FROM @cron_run WHERE id = $1::bigint", 1,
					  (const char *[]){run_id}, &rc);
			if (!res)
				return rc;
			if (PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "running")) {
				rc = cron_print_run(res, name, run_id);
				PQclear(res);
				return rc;
			}
			PQclear(res);
		}
		cron_sleep_ms(200);
	}
	if (*run_id)
		printf("cron %s run %s still running after %ld s; follow it with "
		       "'jobsync cron history %s'\n", name, run_id, wait_sec, name);
	else
		printf("request %s not picked up by the leader within %ld s (is a node running?)\n",
		       req, wait_sec);
	return EXIT_TEMPFAIL;
}

int cli_cron_main(int argc, char **argv)
{
	struct cli_db db;
	long limit = 20, wait_sec = 30;
	bool json = false;
	int opt, rc;

	cli_db_init(&db);
	if (argc < 2)
		return cron_bad_usage("missing action: list, history or run");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		cron_usage(stdout);
		return EXIT_OK;
	}
	const char *action = argv[1];
	if (strcmp(action, "list") && strcmp(action, "history") && strcmp(action, "run")) {
		fprintf(stderr, "jobsync cron: unknown action '%s'\n", action);
		cron_usage(stderr);
		return EXIT_USAGE;
	}
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc - 1, argv + 1, "c:h", cron_opts, NULL)) != -1) {
		if (cli_db_option(&db, opt, optarg))
			continue;
		switch (opt) {
		case 'h':
			cron_usage(stdout);
			return EXIT_OK;
		case CRON_OPT_LIMIT:
			if (!cli_parse_int(optarg, 1, 100000, &limit))
				return cron_bad_usage("--limit takes a number from 1 to 100000");
			break;
		case CRON_OPT_WAIT:
			if (!cli_parse_int(optarg, 0, 86400, &wait_sec))
				return cron_bad_usage("--wait takes seconds from 0 to 86400");
			break;
		case CRON_OPT_JSON:
			json = true;
			break;
		default:
			return cron_bad_usage("unknown option or missing value");
		}
	}
	int npos = argc - 1 - optind;
	char **pos = argv + 1 + optind;
	bool want_name = strcmp(action, "list") != 0;
	if (npos != (want_name ? 1 : 0))
		return cron_bad_usage(want_name ? "expected one job NAME" : "list takes no arguments");
	if ((rc = cli_db_resolve(&db)))
		goto cleanup;
	if (!strcmp(action, "list"))
		rc = cron_list(&db);
	else if (!strcmp(action, "history"))
		rc = cron_history(&db, pos[0], limit, json);
	else
		rc = cron_run(&db, pos[0], wait_sec);
cleanup:
	cli_db_close(&db);
	return rc;
}
