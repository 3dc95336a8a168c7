/* cli_db.h: what the database subcommands share: -c/--dsn/--prefix, connect, run SQL. */
#ifndef JOBSYNC_CLI_DB_H
#define JOBSYNC_CLI_DB_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "config/config.h"

/* getopt_long values of the shared options (short option 'c' is --config). */
enum {
	CLI_DB_OPT_DSN = 0x1000,
	CLI_DB_OPT_PREFIX,
};

#define CLI_DB_LONG_OPTIONS                                            \
	{"config", required_argument, NULL, 'c'},                      \
	{"dsn", required_argument, NULL, CLI_DB_OPT_DSN},              \
	{"prefix", required_argument, NULL, CLI_DB_OPT_PREFIX}

#define CLI_TASK_MAX 1024  /* bytes in a task id */
#define CLI_TOKENS_MAX 1048576

/* The cluster metadata row (@meta). */
struct cli_meta {
	int total_tokens;
	char hash[64];
	int schema_version;
	long long term;
	long long token_version;
};

/* One database subcommand's connection and settings. */
struct cli_db {
	const char *config_path;   /* -c FILE, or NULL */
	const char *dsn_arg;       /* --dsn, or NULL */
	const char *prefix_arg;    /* --prefix, or NULL */
	struct config cfg;         /* loaded when config_path is set */
	bool have_cfg;
	const char *dsn;           /* effective conninfo */
	const char *prefix;        /* effective, validated prefix */
	PGconn *conn;
};

void cli_db_init(struct cli_db *db);

/* Store a shared option seen by getopt_long; false when opt is not one. */
bool cli_db_option(struct cli_db *db, int opt, const char *arg);

/*
 * After option parsing: load the config (exit 78 with FILE:LINE errors),
 * resolve the dsn and prefix (exit 64 when neither -c nor --dsn was given or
 * the prefix is invalid). Returns 0 or an exit code.
 */
int cli_db_resolve(struct cli_db *db);

/* Load a config file only, printing FILE:LINE errors; 0 or EXIT_CONFIG. */
int cli_config_load(const char *path, struct config *cfg);

/* Blocking connect (connect_timeout 10 s); 0 or EXIT_UNAVAILABLE. */
int cli_db_connect(struct cli_db *db);

/* Fail with exit 69 and a hint to run init-db when @meta does not exist. */
int cli_db_check_schema(struct cli_db *db);

/* Read @meta (missing schema -> 69); 0 or an exit code. */
int cli_db_read_meta(struct cli_db *db, struct cli_meta *meta);

/*
 * Expand "@" in tmpl with the prefix and run it with text parameters (NULL
 * entries are SQL NULL). On failure prints "jobsync: WHAT: error", sets *rc
 * (69 when the connection is lost or the schema is missing, 65 for a data
 * exception, 70 otherwise) and
 * returns NULL. The caller PQclear()s the result.
 */
PGresult *cli_db_exec(struct cli_db *db, const char *what, const char *tmpl, int nparams,
		      const char *const *params, int *rc);

/* Report a failed statement, as cli_db_exec does; returns the exit code. */
int cli_db_report(struct cli_db *db, const char *what, const PGresult *res);

/* pg_notify('<prefix>events', payload) so the leader reacts now; 0 or an exit code. */
int cli_db_notify(struct cli_db *db, const char *payload);

/* Run a query whose single row and column is JSON text; NULL on error (*rc set). */
json_t *cli_db_json(struct cli_db *db, const char *what, const char *tmpl, int nparams,
		    const char *const *params, int *rc);

void cli_db_close(struct cli_db *db);

/* A timestamptz expression X as ISO 8601 text in UTC with milliseconds. */
#define CLI_SQL_TS(x) "to_char((" x ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"+00:00\"')"

/*
 * SQL expression: the locks as a JSON array of {token_id, node_pattern, task,
 * reason, created_by, created_at, expires_at, owner, state}, state being
 * ok, unowned (no owner, or one not in @node), misassigned (the owner
 * matches none of the token's live patterns) or expired.
 */
extern const char cli_locks_json_sql[];

/* Print rows of cells (row-major, NULL shown as "-") as aligned columns. */
void cli_table_print(FILE *out, const char *const *head, size_t ncols,
		     const char *const *cells, size_t nrows);

/* True for a valid table prefix: [a-z_][a-z0-9_]{0,30}. */
bool cli_prefix_valid(const char *p);

/* NULL when id[0..len) is a valid task id, else why not. */
const char *cli_task_check(const char *id, size_t len);

/* Parse a whole decimal integer within [min, max]; false otherwise. */
bool cli_parse_int(const char *s, long min, long max, long *out);

#endif
