/* cli_initdb.c: `jobsync init-db`: create the schema idempotently and show the cluster metadata. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/cli.h"
#include "supervisor/cli_db.h"
#include "supervisor/exitcode.h"
#include "supervisor/schema.h"

#define INITDB_DEFAULT_TOTAL 10000
#define INITDB_ATTEMPTS 3
#define INITDB_OPT_TOTAL 0x2000

static void initdb_usage(FILE *out)
{
	fprintf(out,
		"usage: jobsync init-db (-c FILE | --dsn DSN) [--prefix P] [--total-tokens N]\n"
		"\n"
		"Create the jobsync tables and functions (idempotent, safe to run from\n"
		"many places at once) and print the cluster metadata.\n"
		"\n"
		"  -c, --config FILE     take dsn, prefix and total_tokens from this config\n"
		"      --dsn DSN         libpq conninfo or postgresql:// URI (overrides -c)\n"
		"      --prefix P        table prefix (default sync_)\n"
		"      --total-tokens N  tokens of a new cluster (default: config, else %d);\n"
		"                        an existing cluster with another value is an error\n"
		"  -h, --help            show this help\n"
		"\n"
		"Exit status: 0 ok, 64 usage, 69 database unavailable, 70 internal,\n"
		"78 invalid config or total_tokens differing from the cluster's.\n",
		INITDB_DEFAULT_TOTAL);
}

/* True for the SQLSTATEs a concurrent creator can cause; worth one more try. */
static bool initdb_retryable(const PGresult *res)
{
	const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	return st && (!strcmp(st, "23505") || !strcmp(st, "42P07") || !strcmp(st, "40001") ||
		      !strcmp(st, "40P01") || !strcmp(st, "42710"));
}

/* Run the DDL transaction, retrying races; 0 or an exit code. */
static int initdb_create(struct cli_db *db, int total)
{
	char *ddl = schema_ddl(db->prefix, total);
	int rc = 0;
	if (!ddl) {
		fprintf(stderr, "jobsync: out of memory\n");
		return EXIT_SOFTWARE;
	}
	for (int attempt = 1;; attempt++) {
		PGresult *res = PQexec(db->conn, ddl);
		ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
		if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
			PQclear(res);
			break;
		}
		bool retry = attempt < INITDB_ATTEMPTS && initdb_retryable(res) &&
			     PQstatus(db->conn) == CONNECTION_OK;
		if (!retry)
			rc = cli_db_report(db, "creating the schema", res);
		PQclear(res);
		if (PQstatus(db->conn) == CONNECTION_OK)
			PQclear(PQexec(db->conn, "ROLLBACK"));
		if (!retry)
			break;
	}
	free(ddl);
	return rc;
}

int cli_initdb_main(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_DB_LONG_OPTIONS,
		{"total-tokens", required_argument, NULL, INITDB_OPT_TOTAL},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct cli_db db;
	struct cli_meta meta;
	const char *total_arg = NULL;
	long total = INITDB_DEFAULT_TOTAL;
	int opt, rc = 0;
	cli_db_init(&db);
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		if (cli_db_option(&db, opt, optarg))
			continue;
		if (opt == INITDB_OPT_TOTAL) {
			total_arg = optarg;
		} else if (opt == 'h') {
			initdb_usage(stdout);
			return EXIT_OK;
		} else {
			fprintf(stderr, "jobsync init-db: bad option '%s'\n", argv[optind - 1]);
			initdb_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "jobsync init-db: unexpected argument '%s'\n", argv[optind]);
		initdb_usage(stderr);
		return EXIT_USAGE;
	}
	if (total_arg && !cli_parse_int(total_arg, 1, CLI_TOKENS_MAX, &total)) {
		fprintf(stderr, "jobsync init-db: --total-tokens must be an integer in 1..%d\n",
			CLI_TOKENS_MAX);
		return EXIT_USAGE;
	}
	rc = cli_db_resolve(&db);
	if (rc == EXIT_USAGE)
		initdb_usage(stderr);
	if (rc)
		goto cleanup;
	bool requested = total_arg || db.have_cfg;
	const char *source = total_arg ? "--total-tokens" : "the config";
	if (!total_arg && db.have_cfg)
		total = db.cfg.total_tokens;
	if ((rc = cli_db_connect(&db)) || (rc = initdb_create(&db, (int)total)) ||
	    (rc = cli_db_read_meta(&db, &meta)))
		goto cleanup;
	if (requested && meta.total_tokens != total) {
		fprintf(stderr, "jobsync: the cluster with prefix '%s' already has total_tokens %d, "
			"but %s asks for %ld; total_tokens cannot change once a cluster exists "
			"(use another prefix or keep %d)\n",
			db.prefix, meta.total_tokens, source, total, meta.total_tokens);
		rc = EXIT_CONFIG;
		goto cleanup;
	}
	if (strcmp(meta.hash, SCHEMA_HASH_NAME) || meta.schema_version > SCHEMA_VERSION) {
		fprintf(stderr, "jobsync: the cluster with prefix '%s' uses hash %s and schema "
			"version %d; this jobsync knows %s and version %d\n", db.prefix, meta.hash,
			meta.schema_version, SCHEMA_HASH_NAME, SCHEMA_VERSION);
		rc = EXIT_CONFIG;
		goto cleanup;
	}
	printf("schema ready: prefix %s, total_tokens %d, hash %s, schema version %d\n",
	       db.prefix, meta.total_tokens, meta.hash, meta.schema_version);
cleanup:
	cli_db_close(&db);
	return rc;
}
