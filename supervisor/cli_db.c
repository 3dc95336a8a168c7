/* cli_db.c: shared option handling, blocking connection and SQL helpers of the DB subcommands. */
#include "supervisor/cli_db.h"
#include "supervisor/taskid.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/dsn.h"
#include "supervisor/exitcode.h"
#include "supervisor/schema.h"

#define CLI_DB_CONNECT_TIMEOUT "10"
#define CLI_DB_DEFAULT_PREFIX "sync_"

void cli_db_init(struct cli_db *db)
{
	memset(db, 0, sizeof *db);
}

bool cli_db_option(struct cli_db *db, int opt, const char *arg)
{
	switch (opt) {
	case 'c':
		db->config_path = arg;
		return true;
	case CLI_DB_OPT_DSN:
		db->dsn_arg = arg;
		return true;
	case CLI_DB_OPT_PREFIX:
		db->prefix_arg = arg;
		return true;
	default:
		return false;
	}
}

bool cli_prefix_valid(const char *p)
{
	size_t n = strlen(p);
	if (n < 1 || n > 31 || !((p[0] >= 'a' && p[0] <= 'z') || p[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') || p[i] == '_'))
			return false;
	return true;
}

bool cli_parse_int(const char *s, long min, long max, long *out)
{
	char *end;
	if (!s || !*s)
		return false;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

const char *cli_task_check(const char *id, size_t len)
{
	return taskid_problem(id, len);
}

int cli_config_load(const char *path, struct config *cfg)
{
	struct config_errors errs = {0};
	memset(cfg, 0, sizeof *cfg);
	if (config_load(path, cfg, &errs) == 0 && errs.n == 0)
		return 0;
	config_errors_print(&errs, stderr);
	if (errs.n == 0)
		fprintf(stderr, "%s: invalid configuration\n", path);
	config_errors_free(&errs);
	config_free(cfg);
	memset(cfg, 0, sizeof *cfg);
	return EXIT_CONFIG;
}

int cli_db_resolve(struct cli_db *db)
{
	if (db->config_path) {
		int rc = cli_config_load(db->config_path, &db->cfg);
		if (rc)
			return rc;
		db->have_cfg = true;
	}
	if (db->dsn_arg)
		db->dsn = db->dsn_arg;
	else if (db->have_cfg)
		db->dsn = db->cfg.dsn ? db->cfg.dsn : "";
	else {
		fprintf(stderr, "jobsync: give -c FILE or --dsn DSN\n");
		return EXIT_USAGE;
	}
	if (db->prefix_arg)
		db->prefix = db->prefix_arg;
	else if (db->have_cfg && db->cfg.prefix && *db->cfg.prefix)
		db->prefix = db->cfg.prefix;
	else
		db->prefix = CLI_DB_DEFAULT_PREFIX;
	if (!cli_prefix_valid(db->prefix)) {
		fprintf(stderr, "jobsync: invalid prefix '%s': expected [a-z_][a-z0-9_]{0,30}\n",
			db->prefix);
		return db->prefix_arg ? EXIT_USAGE : EXIT_CONFIG;
	}
	return 0;
}

/* Print libpq's message without its trailing newline and without any password. */
static void cli_db_print_error(struct cli_db *db, const char *head, const char *msg)
{
	char *copy = strdup(msg ? msg : "");
	if (!copy) {
		fprintf(stderr, "%s: out of memory\n", head);
		return;
	}
	size_t n = strlen(copy);
	while (n > 0 && (copy[n - 1] == '\n' || copy[n - 1] == ' '))
		copy[--n] = '\0';
	dsn_scrub_message(copy, db->dsn);
	fprintf(stderr, "%s: %s\n", head, copy);
	free(copy);
}

int cli_db_connect(struct cli_db *db)
{
	/* Keywords before dbname are defaults the conninfo may override. */
	const char *keys[] = {"connect_timeout", "application_name", "dbname", NULL};
	const char *vals[] = {CLI_DB_CONNECT_TIMEOUT, "jobsync-cli", db->dsn, NULL};
	db->conn = PQconnectdbParams(keys, vals, 1);
	if (db->conn && PQstatus(db->conn) == CONNECTION_OK)
		return 0;
	char *red = dsn_redact(db->dsn);
	char head[1024];
	snprintf(head, sizeof head, "jobsync: cannot connect to the database (%s)",
		 red ? red : "?");
	cli_db_print_error(db, head, db->conn ? PQerrorMessage(db->conn) : "out of memory");
	free(red);
	return EXIT_UNAVAILABLE;
}

static int cli_db_no_schema(struct cli_db *db)
{
	fprintf(stderr, "jobsync: no jobsync schema with prefix '%s' in this database; "
		"run 'jobsync init-db'\n", db->prefix);
	return EXIT_UNAVAILABLE;
}

int cli_db_report(struct cli_db *db, const char *what, const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	if (state && !strcmp(state, "42P01")) /* undefined_table */
		return cli_db_no_schema(db);
	char head[256];
	snprintf(head, sizeof head, "jobsync: %s", what);
	cli_db_print_error(db, head, res ? PQresultErrorMessage(res) : PQerrorMessage(db->conn));
	if (PQstatus(db->conn) != CONNECTION_OK || (state && !strncmp(state, "08", 2)) ||
	    (state && (!strcmp(state, "57P01") || !strcmp(state, "57P03"))))
		return EXIT_UNAVAILABLE;
	if (state && !strncmp(state, "22", 2)) /* data exception: bad input */
		return EXIT_DATAERR;
	return EXIT_SOFTWARE;
}

PGresult *cli_db_exec(struct cli_db *db, const char *what, const char *tmpl, int nparams,
		      const char *const *params, int *rc)
{
	char *sql = schema_expand(tmpl, db->prefix);
	if (!sql) {
		fprintf(stderr, "jobsync: %s: out of memory\n", what);
		*rc = EXIT_SOFTWARE;
		return NULL;
	}
	PGresult *res = PQexecParams(db->conn, sql, nparams, NULL, params, NULL, NULL, 0);
	free(sql);
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return res;
	*rc = cli_db_report(db, what, res);
	PQclear(res);
	return NULL;
}

int cli_db_check_schema(struct cli_db *db)
{
	int rc = 0;
	PGresult *res = cli_db_exec(db, "checking the schema",
				    "SELECT to_regclass('@meta') IS NOT NULL", 0, NULL, &rc);
	if (!res)
		return rc;
	bool ok = PQntuples(res) == 1 && !strcmp(PQgetvalue(res, 0, 0), "t");
	PQclear(res);
	return ok ? 0 : cli_db_no_schema(db);
}

int cli_db_read_meta(struct cli_db *db, struct cli_meta *meta)
{
	int rc = cli_db_check_schema(db);
	if (rc)
		return rc;
	PGresult *res = cli_db_exec(db, "reading the cluster metadata", schema_meta_tmpl, 0,
				    NULL, &rc);
	if (!res)
		return rc;
	if (PQntuples(res) != 1) {
		fprintf(stderr, "jobsync: the cluster metadata row of prefix '%s' is missing; "
			"run 'jobsync init-db'\n", db->prefix);
		rc = EXIT_UNAVAILABLE;
		goto cleanup;
	}
	memset(meta, 0, sizeof *meta);
	meta->total_tokens = atoi(PQgetvalue(res, 0, 0));
	snprintf(meta->hash, sizeof meta->hash, "%s", PQgetvalue(res, 0, 1));
	meta->schema_version = atoi(PQgetvalue(res, 0, 2));
	meta->term = atoll(PQgetvalue(res, 0, 3));
	meta->token_version = atoll(PQgetvalue(res, 0, 4));
	if (meta->total_tokens < 1) {
		fprintf(stderr, "jobsync: invalid total_tokens %d in %smeta\n",
			meta->total_tokens, db->prefix);
		rc = EXIT_SOFTWARE;
	}
cleanup:
	PQclear(res);
	return rc;
}

void cli_db_close(struct cli_db *db)
{
	if (db->conn)
		PQfinish(db->conn);
	db->conn = NULL;
	if (db->have_cfg)
		config_free(&db->cfg);
	db->have_cfg = false;
}

const char cli_locks_json_sql[] =
	"(SELECT coalesce(json_agg(json_build_object("
	" 'token_id', l.token_id, 'node_pattern', l.node_pattern, 'task', l.task,"
	" 'reason', l.reason, 'created_by', l.created_by,"
	" 'created_at', " CLI_SQL_TS("l.created_at") ","
	" 'expires_at', " CLI_SQL_TS("l.expires_at") ","
	" 'owner', t.node,"
	" 'state', CASE WHEN l.expires_at < now() THEN 'expired'"
	"  WHEN n.name IS NULL THEN 'unowned'"
	"  WHEN EXISTS (SELECT 1 FROM @lock m WHERE m.token_id = l.token_id"
	"   AND (m.expires_at IS NULL OR m.expires_at >= now())"
	"   AND t.node LIKE m.node_pattern) THEN 'ok'"
	"  ELSE 'misassigned' END)"
	" ORDER BY l.token_id, l.node_pattern), '[]'::json)"
	" FROM @lock l LEFT JOIN @token t ON t.token_id = l.token_id"
	" LEFT JOIN @node n ON n.name = t.node)";

int cli_db_notify(struct cli_db *db, const char *payload)
{
	char channel[64];
	int rc = 0;
	snprintf(channel, sizeof channel, "%sevents", db->prefix);
	const char *params[] = {channel, payload};
	PGresult *res = cli_db_exec(db, "notifying the cluster", "SELECT pg_notify($1, $2)", 2,
				    params, &rc);
	PQclear(res);
	return rc;
}

json_t *cli_db_json(struct cli_db *db, const char *what, const char *tmpl, int nparams,
		    const char *const *params, int *rc)
{
	json_error_t err;
	json_t *out = NULL;
	PGresult *res = cli_db_exec(db, what, tmpl, nparams, params, rc);
	if (!res)
		return NULL;
	if (PQntuples(res) != 1 || PQnfields(res) != 1 || PQgetisnull(res, 0, 0)) {
		fprintf(stderr, "jobsync: %s: unexpected result\n", what);
		*rc = EXIT_SOFTWARE;
		goto cleanup;
	}
	out = json_loads(PQgetvalue(res, 0, 0), JSON_DECODE_ANY, &err);
	if (!out) {
		fprintf(stderr, "jobsync: %s: bad JSON from the database: %s\n", what, err.text);
		*rc = EXIT_SOFTWARE;
	}
cleanup:
	PQclear(res);
	return out;
}

void cli_table_print(FILE *out, const char *const *head, size_t ncols,
		     const char *const *cells, size_t nrows)
{
	size_t width[32] = {0};
	if (ncols > 32)
		ncols = 32;
	for (size_t c = 0; c < ncols; c++)
		width[c] = strlen(head[c]);
	for (size_t r = 0; r < nrows; r++)
		for (size_t c = 0; c < ncols; c++) {
			const char *v = cells[r * ncols + c];
			size_t n = strlen(v ? v : "-");
			if (n > width[c])
				width[c] = n;
		}
	for (size_t r = 0; r <= nrows; r++) {
		for (size_t c = 0; c < ncols; c++) {
			const char *v = r == 0 ? head[c] : cells[(r - 1) * ncols + c];
			if (!v)
				v = "-";
			if (c + 1 == ncols)
				fprintf(out, "%s\n", v);
			else
				fprintf(out, "%-*s  ", (int)width[c], v);
		}
	}
}
