/* cli_lock.c: `jobsync lock add|list|clear`: pin tokens to nodes whose name matches a LIKE pattern. */
#include <getopt.h>
#include <stdbool.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervisor/cli.h"
#include "supervisor/cli_db.h"
#include "supervisor/exitcode.h"
#include "supervisor/hash.h"
#include "supervisor/pgarray.h"

#define LOCK_BATCH 1000
#define LOCK_MAX_DAYS 36500

enum {
	LOCK_OPT_REASON = 0x2000, LOCK_OPT_EXPIRES, LOCK_OPT_CREATOR, LOCK_OPT_FILE,
	LOCK_OPT_TOKEN, LOCK_OPT_TASK, LOCK_OPT_ALL, LOCK_OPT_JSON,
};

static const struct option lock_opts[] = {
	CLI_DB_LONG_OPTIONS,
	{"reason", required_argument, NULL, LOCK_OPT_REASON},
	{"expires-days", required_argument, NULL, LOCK_OPT_EXPIRES},
	{"creator", required_argument, NULL, LOCK_OPT_CREATOR},
	{"file", required_argument, NULL, LOCK_OPT_FILE},
	{"token", required_argument, NULL, LOCK_OPT_TOKEN},
	{"task", required_argument, NULL, LOCK_OPT_TASK},
	{"all", no_argument, NULL, LOCK_OPT_ALL},
	{"json", no_argument, NULL, LOCK_OPT_JSON},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

/* Everything the three actions may be given. */
struct lock_args {
	const char *reason, *expires, *creator, *file, *token, *task;
	int all, json;
	char **pos;
	int npos;
};

/* Insert-or-update one batch: tokens $1 and tasks $2 arrays, duplicates collapsed. */
static const char lock_insert_tmpl[] =
	"INSERT INTO @lock AS l (token_id, node_pattern, reason, created_by, expires_at, task)"
	" SELECT DISTINCT ON (u.token_id) u.token_id, $3, $4, $5,"
	"  CASE WHEN $6::int > 0 THEN now() + make_interval(days => $6::int) END, u.task"
	" FROM unnest($1::int[], $2::text[]) WITH ORDINALITY AS u(token_id, task, ord)"
	" ORDER BY u.token_id, u.ord"
	" ON CONFLICT (token_id, node_pattern) DO UPDATE SET reason = EXCLUDED.reason,"
	"  created_by = EXCLUDED.created_by, expires_at = EXCLUDED.expires_at,"
	"  task = coalesce(EXCLUDED.task, l.task)";

static void lock_usage(FILE *out)
{
	fprintf(out,
		"usage: jobsync lock add TASK PATTERN [OPTIONS]\n"
		"       jobsync lock add --file F PATTERN [OPTIONS]   (F: one task id a line, - = stdin)\n"
		"       jobsync lock add --token N PATTERN [OPTIONS]\n"
		"       jobsync lock list [--json] [DB OPTIONS]\n"
		"       jobsync lock clear (--task T | --token N | --creator NAME | --all) [DB OPTIONS]\n"
		"\n"
		"A lock lets only nodes whose name matches the SQL LIKE PATTERN own the\n"
		"token of TASK; the leader rebalances within a second.\n"
		"\n"
		"add options:  --reason R  --expires-days N (0 = never)  --creator NAME\n"
		"              (default cli:$USER@HOST)\n"
		"DB OPTIONS:   -c, --config FILE | --dsn DSN   [--prefix P (default sync_)]\n"
		"\n"
		"Exit status: 0 ok, 64 usage, 65 bad data (task id, pattern, lock file),\n"
		"69 database unavailable, 70 internal, 78 invalid config.\n");
}

static int lock_bad_usage(const char *msg)
{
	fprintf(stderr, "jobsync lock: %s\n", msg);
	lock_usage(stderr);
	return EXIT_USAGE;
}

/* Read task ids from path ("-" = stdin); blank lines skipped; 0 or EXIT_DATAERR. */
static int lock_read_file(const char *path, char ***tasks, size_t *ntasks)
{
	FILE *fp = strcmp(path, "-") ? fopen(path, "r") : stdin;
	char *line = NULL;
	size_t cap = 0, tcap = 0;
	ssize_t n;
	int rc = 0, lineno = 0;
	if (!fp) {
		fprintf(stderr, "jobsync: cannot open %s: %m\n", path);
		return EXIT_DATAERR;
	}
	while ((n = getline(&line, &cap, fp)) >= 0) {
		size_t len = (size_t)n;
		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			len--;
		if (len == 0)
			continue;
		const char *why = cli_task_check(line, len);
		if (why) {
			fprintf(stderr, "%s:%d: %s\n", path, lineno, why);
			rc = EXIT_DATAERR;
			continue;
		}
		if (*ntasks == tcap) {
			tcap = tcap ? 2 * tcap : 256;
			char **nt = realloc(*tasks, tcap * sizeof **tasks);
			if (!nt)
				goto oom;
			*tasks = nt;
		}
		if (!((*tasks)[*ntasks] = strndup(line, len)))
			goto oom;
		(*ntasks)++;
	}
	if (ferror(fp)) {
		fprintf(stderr, "jobsync: reading %s: %m\n", path);
		rc = EXIT_DATAERR;
	}
	goto cleanup;
oom:
	fprintf(stderr, "jobsync: out of memory\n");
	rc = EXIT_SOFTWARE;
cleanup:
	free(line);
	if (fp != stdin)
		fclose(fp);
	return rc;
}

/* Insert locks for tasks[] (or one token when tasks is NULL) in batches. */
static int lock_insert(struct cli_db *db, const struct lock_args *a, int total, char **tasks,
		       size_t ntasks, long token)
{
	char host[256] = "localhost", creator[512], days[32];
	int toks[LOCK_BATCH];
	const char *ids[LOCK_BATCH];
	char *toks_lit = NULL, *ids_lit = NULL;
	int rc = 0;
	if (!a->creator) {
		const struct passwd *pw = getpwuid(getuid());
		const char *user = getenv("USER");
		if ((!user || !*user) && pw)
			user = pw->pw_name;
		if (gethostname(host, sizeof host) != 0)
			snprintf(host, sizeof host, "localhost");
		host[sizeof host - 1] = '\0';
		snprintf(creator, sizeof creator, "cli:%s@%s", user && *user ? user : "unknown", host);
	}
	snprintf(days, sizeof days, "%s", a->expires ? a->expires : "0");
	for (size_t at = 0; at < (tasks ? ntasks : 1); at += LOCK_BATCH) {
		size_t end = tasks ? (at + LOCK_BATCH < ntasks ? at + LOCK_BATCH : ntasks) : 1;
		for (size_t i = at; i < end; i++) {
			toks[i - at] = tasks ? hash_token_of(tasks[i], strlen(tasks[i]), total) : (int)token;
			ids[i - at] = tasks ? tasks[i] : NULL;
		}
		free(toks_lit);
		free(ids_lit);
		toks_lit = pgarray_int(toks, end - at);
		ids_lit = pgarray_text(ids, end - at);
		if (!toks_lit || !ids_lit)
			goto oom;
		const char *params[] = {toks_lit, ids_lit, a->pos[a->npos - 1], a->reason ? a->reason : "",
					a->creator ? a->creator : creator, days};
		PGresult *res = cli_db_exec(db, "adding locks", lock_insert_tmpl, 6, params, &rc);
		if (!res)
			goto cleanup;
		PQclear(res);
	}
	goto cleanup;
oom:
	fprintf(stderr, "jobsync: out of memory\n");
	rc = EXIT_SOFTWARE;
cleanup:
	free(toks_lit);
	free(ids_lit);
	return rc;
}

/* Warn when no node matches the pattern now: its tokens will stay unowned. */
static void lock_warn_unmatched(struct cli_db *db, const char *pattern)
{
	int rc = 0;
	const char *params[] = {pattern};
	PGresult *res = cli_db_exec(db, "matching nodes",
				    "SELECT count(*) FROM @node WHERE name LIKE $1", 1, params, &rc);
	if (res && PQntuples(res) == 1 && atoll(PQgetvalue(res, 0, 0)) == 0)
		fprintf(stderr, "jobsync: warning: no node matches '%s' now; its locked tokens "
			"stay unowned until one joins\n", pattern);
	PQclear(res);
}

static int lock_int_cmp(const void *a, const void *b)
{
	return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b);
}

/* How many distinct tokens the tasks fall on (0 when out of memory). */
static size_t lock_distinct_tokens(char **tasks, size_t ntasks, int total)
{
	int *t = malloc(ntasks * sizeof *t);
	size_t n = 0;
	if (!t)
		return 0;
	for (size_t i = 0; i < ntasks; i++)
		t[i] = hash_token_of(tasks[i], strlen(tasks[i]), total);
	qsort(t, ntasks, sizeof *t, lock_int_cmp);
	for (size_t i = 0; i < ntasks; i++)
		n += i == 0 || t[i] != t[i - 1];
	free(t);
	return n;
}

static int lock_add(struct cli_db *db, const struct lock_args *a)
{
	struct cli_meta meta;
	char **tasks = NULL;
	size_t ntasks = 0;
	long token = -1, days = 0;
	int rc = 0;
	if (a->file && a->token)
		return lock_bad_usage("give at most one of --file and --token");
	if (a->npos != ((a->file || a->token) ? 1 : 2))
		return lock_bad_usage((a->file || a->token) ? "lock add --file/--token takes PATTERN"
							    : "lock add takes TASK PATTERN");
	if (a->expires && !cli_parse_int(a->expires, 0, LOCK_MAX_DAYS, &days))
		return lock_bad_usage("--expires-days must be an integer in 0..36500");
	if (a->token && !cli_parse_int(a->token, 0, CLI_TOKENS_MAX - 1, &token))
		return lock_bad_usage("--token must be a token number");
	const char *pattern = a->pos[a->npos - 1];
	if (!*pattern || strlen(pattern) > CLI_TASK_MAX) {
		fprintf(stderr, "jobsync: the pattern must be 1 to 1024 bytes\n");
		return EXIT_DATAERR;
	}
	if (a->file) {
		if ((rc = lock_read_file(a->file, &tasks, &ntasks)))
			goto cleanup;
		if (ntasks == 0) {
			fprintf(stderr, "jobsync: no task ids in %s\n", a->file);
			rc = EXIT_DATAERR;
			goto cleanup;
		}
	} else if (!a->token) {
		const char *why = cli_task_check(a->pos[0], strlen(a->pos[0]));
		if (why) {
			fprintf(stderr, "jobsync: %s\n", why);
			return EXIT_DATAERR;
		}
		tasks = &a->pos[0];
		ntasks = 1;
	}
	if ((rc = cli_db_connect(db)) || (rc = cli_db_read_meta(db, &meta)))
		goto cleanup;
	if (token >= meta.total_tokens) {
		fprintf(stderr, "jobsync: token %ld out of range: the cluster has %d tokens\n",
			token, meta.total_tokens);
		rc = EXIT_DATAERR;
		goto cleanup;
	}
	PGresult *res = cli_db_exec(db, "starting a transaction", "BEGIN", 0, NULL, &rc);
	if (!res)
		goto cleanup;
	PQclear(res);
	if ((rc = lock_insert(db, a, meta.total_tokens, tasks, ntasks, token)) ||
	    (rc = cli_db_notify(db, "lock")))
		goto cleanup;
	res = cli_db_exec(db, "committing", "COMMIT", 0, NULL, &rc);
	if (!res)
		goto cleanup;
	PQclear(res);
	if (a->token)
		printf("locked token %ld to pattern '%s'", token, pattern);
	else if (!a->file)
		printf("locked task '%s' (token %d) to pattern '%s'", tasks[0],
		       hash_token_of(tasks[0], strlen(tasks[0]), meta.total_tokens), pattern);
	else
		printf("locked %zu tasks on %zu tokens to pattern '%s'", ntasks,
		       lock_distinct_tokens(tasks, ntasks, meta.total_tokens), pattern);
	if (days > 0)
		printf(", expires in %ld days", days);
	printf("\n");
	lock_warn_unmatched(db, pattern);
cleanup:
	if (a->file) {
		for (size_t i = 0; i < ntasks; i++)
			free(tasks[i]);
		free(tasks);
	}
	return rc;
}

/* Text of one list cell (NULL for null); states other than ok/expired shouted. */
static char *lock_cell(const json_t *v, bool state)
{
	char buf[32];
	if (json_is_integer(v)) {
		snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
		return strdup(buf);
	}
	if (!json_is_string(v))
		return NULL;
	char *out = strdup(json_string_value(v));
	if (out && state && strcmp(out, "ok") && strcmp(out, "expired"))
		for (char *p = out; *p; p++)
			*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
	return out;
}

static int lock_list(struct cli_db *db, const struct lock_args *a)
{
	static const char *const head[] = {"TOKEN", "PATTERN", "TASK", "REASON", "CREATED_BY",
					   "CREATED_AT", "EXPIRES_AT", "OWNER", "STATE"};
	static const char *const keys[] = {"token_id", "node_pattern", "task", "reason",
					   "created_by", "created_at", "expires_at", "owner", "state"};
	const size_t ncols = sizeof head / sizeof head[0];
	json_t *locks = NULL;
	char **cells = NULL;
	size_t n = 0;
	int rc;
	if (a->npos)
		return lock_bad_usage("lock list takes no arguments");
	if ((rc = cli_db_connect(db)) || (rc = cli_db_check_schema(db)))
		return rc;
	char *tmpl = NULL;
	if (asprintf(&tmpl, "SELECT %s", cli_locks_json_sql) < 0)
		return EXIT_SOFTWARE;
	locks = cli_db_json(db, "listing locks", tmpl, 0, NULL, &rc);
	free(tmpl);
	if (!locks)
		return rc;
	if (a->json) {
		json_dumpf(locks, stdout, JSON_INDENT(2));
		printf("\n");
		goto cleanup;
	}
	n = json_array_size(locks);
	if (!(cells = calloc(n * ncols + 1, sizeof *cells))) {
		rc = EXIT_SOFTWARE;
		goto cleanup;
	}
	for (size_t r = 0; r < n; r++) {
		json_t *row = json_array_get(locks, r);
		for (size_t c = 0; c < ncols; c++) {
			cells[r * ncols + c] = lock_cell(json_object_get(row, keys[c]), c + 1 == ncols);
		}
	}
	if (n == 0)
		printf("no locks\n");
	else
		cli_table_print(stdout, head, ncols, (const char *const *)cells, n);
cleanup:
	for (size_t i = 0; cells && i < n * ncols; i++)
		free(cells[i]);
	free(cells);
	json_decref(locks);
	return rc;
}

static int lock_clear(struct cli_db *db, const struct lock_args *a)
{
	struct cli_meta meta;
	char tokbuf[16];
	const char *tmpl, *params[2] = {NULL, NULL};
	long token;
	int nparams = 1, rc;
	if (a->npos)
		return lock_bad_usage("lock clear takes no arguments");
	if (!!a->task + !!a->token + !!a->creator + a->all != 1)
		return lock_bad_usage("give one of --task T, --token N, --creator NAME, --all");
	if (a->token && !cli_parse_int(a->token, 0, CLI_TOKENS_MAX - 1, &token))
		return lock_bad_usage("--token must be a token number");
	if (a->task && cli_task_check(a->task, strlen(a->task))) {
		fprintf(stderr, "jobsync: %s\n", cli_task_check(a->task, strlen(a->task)));
		return EXIT_DATAERR;
	}
	if ((rc = cli_db_connect(db)) || (rc = cli_db_read_meta(db, &meta)))
		return rc;
	if (a->all) {
		tmpl = "DELETE FROM @lock";
		nparams = 0;
	} else if (a->task) {
		/* Locks added for this task, and bare token locks on its token. */
		tmpl = "DELETE FROM @lock WHERE task = $1 OR (task IS NULL AND token_id = $2::int)";
		snprintf(tokbuf, sizeof tokbuf, "%d",
			 hash_token_of(a->task, strlen(a->task), meta.total_tokens));
		params[0] = a->task;
		params[1] = tokbuf;
		nparams = 2;
	} else if (a->token) {
		tmpl = "DELETE FROM @lock WHERE token_id = $1::int";
		params[0] = a->token;
	} else {
		tmpl = "DELETE FROM @lock WHERE created_by = $1";
		params[0] = a->creator;
	}
	PGresult *res = cli_db_exec(db, "starting a transaction", "BEGIN", 0, NULL, &rc);
	if (!res)
		return rc;
	PQclear(res);
	if (!(res = cli_db_exec(db, "removing locks", tmpl, nparams, params, &rc)))
		return rc;
	long long removed = atoll(PQcmdTuples(res));
	PQclear(res);
	if (removed > 0 && (rc = cli_db_notify(db, "lock")))
		return rc;
	if (!(res = cli_db_exec(db, "committing", "COMMIT", 0, NULL, &rc)))
		return rc;
	PQclear(res);
	printf("removed %lld lock%s\n", removed, removed == 1 ? "" : "s");
	return EXIT_OK;
}

/* Bit of each option, to refuse the ones an action does not take. */
static unsigned lock_opt_bit(int opt)
{
	return opt >= LOCK_OPT_REASON && opt <= LOCK_OPT_JSON ? 1u << (opt - LOCK_OPT_REASON) : 0;
}

#define LOCK_BIT(o) (1u << ((o) - LOCK_OPT_REASON))

int cli_lock_main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(struct cli_db *, const struct lock_args *);
		unsigned allowed;
	} actions[] = {
		{"add", lock_add, LOCK_BIT(LOCK_OPT_REASON) | LOCK_BIT(LOCK_OPT_EXPIRES) |
				  LOCK_BIT(LOCK_OPT_CREATOR) | LOCK_BIT(LOCK_OPT_FILE) |
				  LOCK_BIT(LOCK_OPT_TOKEN)},
		{"list", lock_list, LOCK_BIT(LOCK_OPT_JSON)},
		{"clear", lock_clear, LOCK_BIT(LOCK_OPT_TASK) | LOCK_BIT(LOCK_OPT_TOKEN) |
				      LOCK_BIT(LOCK_OPT_CREATOR) | LOCK_BIT(LOCK_OPT_ALL)},
	};
	struct lock_args a = {0};
	struct cli_db db;
	unsigned seen = 0;
	int opt, rc, act = -1;
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		lock_usage(stdout);
		return EXIT_OK;
	}
	for (size_t i = 0; argc >= 2 && i < sizeof actions / sizeof actions[0]; i++)
		if (!strcmp(argv[1], actions[i].name))
			act = (int)i;
	if (act < 0)
		return lock_bad_usage(argc < 2 ? "missing action (add, list or clear)"
					       : "unknown action (add, list or clear)");
	argc--;
	argv++;
	cli_db_init(&db);
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "c:h", lock_opts, NULL)) != -1) {
		if (cli_db_option(&db, opt, optarg))
			continue;
		seen |= lock_opt_bit(opt);
		switch (opt) {
		case LOCK_OPT_REASON: a.reason = optarg; break;
		case LOCK_OPT_EXPIRES: a.expires = optarg; break;
		case LOCK_OPT_CREATOR: a.creator = optarg; break;
		case LOCK_OPT_FILE: a.file = optarg; break;
		case LOCK_OPT_TOKEN: a.token = optarg; break;
		case LOCK_OPT_TASK: a.task = optarg; break;
		case LOCK_OPT_ALL: a.all = 1; break;
		case LOCK_OPT_JSON: a.json = 1; break;
		case 'h':
			lock_usage(stdout);
			return EXIT_OK;
		default:
			fprintf(stderr, "jobsync lock: bad option '%s'\n", argv[optind - 1]);
			lock_usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (seen & ~actions[act].allowed)
		return lock_bad_usage("an option does not apply to this action");
	a.pos = argv + optind;
	a.npos = argc - optind;
	rc = cli_db_resolve(&db);
	if (rc == EXIT_USAGE)
		lock_usage(stderr);
	if (rc == 0)
		rc = actions[act].fn(&db, &a);
	cli_db_close(&db);
	return rc;
}
