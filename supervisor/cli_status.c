/* cli_status.c: `jobsync status`: the cluster in one consistent query, as a table or JSON. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "supervisor/cli.h"
#include "supervisor/cli_db.h"
#include "supervisor/cluster_sql.h"
#include "supervisor/exitcode.h"

#define STATUS_DEFAULT_TIMEOUT 15
#define STATUS_SAMPLE_SHOWN 20

enum { STATUS_OPT_TIMEOUT = 0x2000, STATUS_OPT_JSON, STATUS_OPT_DATE };

static void status_usage(FILE *out)
{
	fprintf(out,
		"usage: jobsync status (-c FILE | --dsn DSN) [--prefix P] [--timeout SEC]\n"
		"                      [--date YYYY-MM-DD] [--json]\n"
		"\n"
		"Show the cluster: leader and term, nodes (alive, heartbeat age, token\n"
		"share), locks, unowned tokens, the last rebalances, and the progress of\n"
		"the date's tasks per node (claimed, done, failed, in flight).\n"
		"\n"
		"  -c, --config FILE  take dsn, prefix and heartbeat_timeout_sec from this config\n"
		"      --dsn DSN      libpq conninfo or postgresql:// URI (overrides -c)\n"
		"      --prefix P     table prefix (default sync_)\n"
		"      --date DATE    progress of this date (default today, local time)\n"
		"      --timeout SEC  a node is alive when its heartbeat is younger (default:\n"
		"                     config heartbeat_timeout_sec, else %d)\n"
		"      --json         print JSON\n"
		"  -h, --help         show this help\n"
		"\n"
		"Exit status: 0 ok, 64 usage, 69 database unavailable or no schema,\n"
		"70 internal, 78 invalid config.\n",
		STATUS_DEFAULT_TIMEOUT);
}

static const char *status_str(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s ? s : "-";
}

static long long status_int(const json_t *obj, const char *key)
{
	return (long long)json_integer_value(json_object_get(obj, key));
}

static double status_num(const json_t *obj, const char *key)
{
	return json_number_value(json_object_get(obj, key));
}

/* The node table; one row per registered node, the leader marked with '*'. */
static int status_print_nodes(const json_t *nodes)
{
	static const char *const head[] = {"", "NODE", "STATE", "HEARTBEAT_AGE", "CREATED_ON",
					   "SITE", "HOST", "PID", "DRAINING", "TOKENS", "PERCENT"};
	enum { NCOLS = sizeof head / sizeof head[0] };
	size_t n = json_array_size(nodes);
	char **cells = calloc(n * NCOLS + 1, sizeof *cells);
	if (!cells)
		return EXIT_SOFTWARE;
	for (size_t r = 0; r < n; r++) {
		const json_t *nd = json_array_get(nodes, r);
		char **row = cells + r * NCOLS;
		json_t *pid = json_object_get(nd, "pid");
		row[0] = strdup(json_is_true(json_object_get(nd, "leader")) ? "*" : "");
		row[1] = strdup(status_str(nd, "name"));
		row[2] = strdup(json_is_true(json_object_get(nd, "alive")) ? "alive" : "DEAD");
		asprintf(&row[3], "%.1fs", status_num(nd, "heartbeat_age_sec"));
		row[4] = strdup(status_str(nd, "created_on"));
		row[5] = strdup(status_str(nd, "site"));
		row[6] = strdup(status_str(nd, "host"));
		if (json_is_integer(pid))
			asprintf(&row[7], "%lld", (long long)json_integer_value(pid));
		row[8] = strdup(json_is_true(json_object_get(nd, "draining")) ? "yes" : "no");
		asprintf(&row[9], "%lld", status_int(nd, "tokens"));
		asprintf(&row[10], "%.2f%%", status_num(nd, "percent"));
	}
	if (n == 0)
		printf("no nodes registered\n");
	else
		cli_table_print(stdout, head, NCOLS, (const char *const *)cells, n);
	for (size_t i = 0; i < n * NCOLS; i++)
		free(cells[i]);
	free(cells);
	return 0;
}

/* Lock counts by state, then the unowned tokens. */
static void status_print_tokens(const json_t *locks, const json_t *un)
{
	size_t misassigned = 0, unowned = 0, expired = 0, i;
	json_t *l;
	json_array_foreach(locks, i, l) {
		const char *st = status_str(l, "state");
		misassigned += !strcmp(st, "misassigned");
		unowned += !strcmp(st, "unowned");
		expired += !strcmp(st, "expired");
	}
	printf("\nlocks: %zu (%zu unowned, %zu misassigned, %zu expired); "
	       "unowned locked tokens: %lld\n",
	       json_array_size(locks), unowned, misassigned, expired, status_int(un, "locked"));
	size_t shown = 0, problems = unowned + misassigned + expired;
	json_array_foreach(locks, i, l) {
		const char *st = status_str(l, "state");
		if (strcmp(st, "ok") && shown++ < STATUS_SAMPLE_SHOWN)
			printf("  token %lld pattern '%s' task %s owner %s: %s\n",
			       status_int(l, "token_id"), status_str(l, "node_pattern"),
			       status_str(l, "task"), status_str(l, "owner"), st);
	}
	if (problems > STATUS_SAMPLE_SHOWN)
		printf("  ... and %zu more ('jobsync lock list' shows all)\n",
		       problems - STATUS_SAMPLE_SHOWN);
	const json_t *sample = json_object_get(un, "sample");
	printf("unowned tokens: %lld", status_int(un, "count"));
	for (i = 0; i < json_array_size(sample) && i < STATUS_SAMPLE_SHOWN; i++)
		printf("%s%lld", i ? " " : ": ", (long long)json_integer_value(json_array_get(sample, i)));
	printf("%s\n", status_int(un, "count") > STATUS_SAMPLE_SHOWN ? " ..." : "");
}

/* Today's (or --date's) tasks: totals, then one line per node. */
static void status_print_progress(const json_t *p)
{
	const json_t *nodes = json_object_get(p, "nodes");
	size_t i;
	const json_t *n;
	printf("\nprogress %s: claimed %lld, done %lld, failed %lld, in flight %lld\n",
	       status_str(p, "date"), status_int(p, "claimed"), status_int(p, "done"),
	       status_int(p, "failed"), status_int(p, "in_flight"));
	json_array_foreach(nodes, i, n)
		printf("  %-20s claimed %lld, done %lld, failed %lld, in flight %lld\n",
		       status_str(n, "node"), status_int(n, "claimed"), status_int(n, "done"),
		       status_int(n, "failed"), status_int(n, "in_flight"));
}

static void status_print_rebalances(const json_t *rebs)
{
	size_t i;
	json_t *r;
	printf("\nrecent rebalances:%s\n", json_array_size(rebs) ? "" : " none");
	json_array_foreach(rebs, i, r)
		printf("  %s  %-8s leader %s  nodes %lld->%lld  moved %lld tokens  %lld ms\n",
		       status_str(r, "triggered_at"), status_str(r, "trigger_reason"),
		       status_str(r, "leader_node"), status_int(r, "nodes_before"),
		       status_int(r, "nodes_after"), status_int(r, "tokens_moved"),
		       status_int(r, "duration_ms"));
}

static int status_print_table(const json_t *st)
{
	const json_t *c = json_object_get(st, "cluster");
	if (!json_is_object(c)) {
		printf("cluster %s: no metadata row; run 'jobsync init-db'\n",
		       status_str(c, "prefix"));
		return EXIT_UNAVAILABLE;
	}
	printf("cluster %s: total_tokens %lld, leader %s, term %lld, token version %lld\n\n",
	       status_str(c, "prefix"), status_int(c, "total_tokens"), status_str(c, "leader"),
	       status_int(c, "term"), status_int(c, "token_version"));
	int rc = status_print_nodes(json_object_get(st, "nodes"));
	status_print_tokens(json_object_get(st, "locks"), json_object_get(st, "unowned_tokens"));
	status_print_rebalances(json_object_get(st, "rebalances"));
	status_print_progress(json_object_get(st, "progress"));
	return rc;
}

int cli_status_main(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_DB_LONG_OPTIONS,
		{"timeout", required_argument, NULL, STATUS_OPT_TIMEOUT},
		{"json", no_argument, NULL, STATUS_OPT_JSON},
		{"date", required_argument, NULL, STATUS_OPT_DATE},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct cli_db db;
	const char *timeout_arg = NULL, *date = NULL;
	char *tmpl = NULL, timeout_buf[16], today[16];
	json_t *st = NULL;
	long timeout = STATUS_DEFAULT_TIMEOUT;
	int opt, rc = 0, json = 0;
	cli_db_init(&db);
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		if (cli_db_option(&db, opt, optarg))
			continue;
		if (opt == STATUS_OPT_TIMEOUT) {
			timeout_arg = optarg;
		} else if (opt == STATUS_OPT_JSON) {
			json = 1;
		} else if (opt == STATUS_OPT_DATE) {
			date = optarg;
		} else if (opt == 'h') {
			status_usage(stdout);
			return EXIT_OK;
		} else {
			fprintf(stderr, "jobsync status: bad option '%s'\n", argv[optind - 1]);
			status_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc || (timeout_arg && !cli_parse_int(timeout_arg, 1, 86400, &timeout))) {
		fprintf(stderr, "jobsync status: %s\n", optind < argc ? "unexpected argument"
			: "--timeout must be a whole number of seconds in 1..86400");
		status_usage(stderr);
		return EXIT_USAGE;
	}
	if ((rc = cli_db_resolve(&db))) {
		if (rc == EXIT_USAGE)
			status_usage(stderr);
		goto cleanup;
	}
	if (!timeout_arg && db.have_cfg)
		timeout = db.cfg.heartbeat_timeout_sec;
	snprintf(timeout_buf, sizeof timeout_buf, "%ld", timeout);
	if ((rc = cli_db_connect(&db)) || (rc = cli_db_check_schema(&db)))
		goto cleanup;
	if (!(tmpl = cluster_sql())) {
		rc = EXIT_SOFTWARE;
		goto cleanup;
	}
	if (!date) {
		time_t now = time(NULL);
		struct tm tm;
		localtime_r(&now, &tm);
		strftime(today, sizeof today, "%Y-%m-%d", &tm);
		date = today;
	}
	const char *params[] = {timeout_buf, db.prefix, date};
	if (!(st = cli_db_json(&db, "reading the cluster status", tmpl, 3, params, &rc)))
		goto cleanup;
	if (json) {
		json_dumpf(st, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
		printf("\n");
	} else {
		rc = status_print_table(st);
	}
cleanup:
	json_decref(st);
	free(tmpl);
	cli_db_close(&db);
	return rc;
}
