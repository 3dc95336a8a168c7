/* source.c: listing task ids: a range, a file (read off the loop), a command, a query. */
#include "supervisor/source.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner/argv.h"
#include "runner/child.h"
#include "supervisor/log.h"
#include "supervisor/node.h"
#include "supervisor/pgarray.h"
#include "supervisor/work.h"

struct source {
	struct work *w;
	uv_timer_t poll;
	bool busy, again, closed;
	/* file */
	uv_work_t fs_req;
	char *fs_buf;
	size_t fs_len;
	int fs_errno;
	/* command */
	struct child *child;
	/* sql */
	struct pg_conn pg;
	bool pg_open;
	char *query;
};

static const char *const source_names[] = {"none", "sql", "command", "file", "range"};

const char *source_name(enum config_source src)
{
	return src <= SOURCE_RANGE ? source_names[src] : "?";
}

static void listing_done(struct source *s, bool ok)
{
	s->busy = false;
	/* A source replaced by a reload: its late listing must not count for completion. */
	if (s->closed)
		return;
	work_listing_done(s->w, ok);
	if (s->again) {
		s->again = false;
		source_relist(s->w);
	}
}

/* Feed every line of buf[0..len) as an id ("\r\n" and a missing last newline fine). */
static void list_lines(struct work *w, const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		size_t n = (size_t)(e - p);
		if (n && p[n - 1] == '\r')
			n--;
		if (n)
			work_listed(w, p, n);
		p = nl ? nl + 1 : end;
	}
}

/* ---- range -------------------------------------------------------------------------- */

static void list_range(struct source *s)
{
	const struct config_tasks *t = &s->w->n->cfg->tasks;
	char id[32];
	for (long long i = t->range_first; i <= t->range_last; i++)
		work_listed(s->w, id, (size_t)snprintf(id, sizeof id, "%lld", i));
	listing_done(s, true);
}

/* ---- file (read in the thread pool, never on the loop) ----------------------------- */

static void file_read(uv_work_t *req)
{
	struct source *s = req->data;
	FILE *fp = fopen(s->w->n->cfg->tasks.path, "rb");
	size_t cap = 0;
	s->fs_len = 0;
	s->fs_errno = 0;
	if (!fp) {
		s->fs_errno = errno;
		return;
	}
	for (;;) {
		if (s->fs_len + 65536 > cap) {
			cap = cap ? cap * 2 : 1 << 20;
			char *nb = realloc(s->fs_buf, cap);
			if (!nb) {
				s->fs_errno = ENOMEM;
				break;
			}
			s->fs_buf = nb;
		}
		size_t got = fread(s->fs_buf + s->fs_len, 1, cap - s->fs_len, fp);
		s->fs_len += got;
		if (got == 0) {
			if (ferror(fp))
				s->fs_errno = errno ? errno : EIO;
			break;
		}
	}
	fclose(fp);
}

static void file_done(uv_work_t *req, int status)
{
	struct source *s = req->data;
	bool ok = status == 0 && s->fs_errno == 0;
	if (!ok)
		log_error("tasks: cannot read %s: %s", s->w->n->cfg->tasks.path,
			  strerror(s->fs_errno ? s->fs_errno : ECANCELED));
	else if (!s->closed)
		list_lines(s->w, s->fs_buf, s->fs_len);
	free(s->fs_buf);
	s->fs_buf = NULL;
	listing_done(s, ok);
}

/* ---- command ---------------------------------------------------------------------- */

static void cmd_line(struct child *c, enum child_stream st, const char *line, size_t len,
		     bool truncated, void *ud)
{
	struct source *s = ud;
	if (st == CHILD_STDERR) {
		log_at(LOG_LEVEL_WARN, "source=command", "%.*s", (int)len, line);
	} else if (truncated) {
		log_warn("tasks: the listing command wrote a line over %zu bytes; skipped", len);
	} else if (!s->closed) {
		work_listed(s->w, line, len);
	}
	(void)c;
}

static void cmd_exit(struct child *c, int status, int sig, void *ud)
{
	struct source *s = ud;
	if (status || sig)
		log_error("tasks: the listing command %s %d; this listing is ignored for "
			  "completion", sig ? "was killed by signal" : "exited with status",
			  sig ? sig : status);
	s->child = NULL;
	child_free(c);
	listing_done(s, status == 0 && sig == 0);
}

static const struct child_events cmd_events = {.on_line = cmd_line, .on_exit = cmd_exit};

static void list_command(struct source *s)
{
	const struct config *cfg = s->w->n->cfg;
	char **argv = NULL, **env = work_env(s->w, NULL);
	const char *err = NULL;
	char *shell[] = {"/bin/sh", "-c", cfg->tasks.command, NULL};
	int rc = -ENOMEM;
	if (argv_split(cfg->tasks.command, &argv, &err) < 0) {
		log_error("tasks: command: %s", err);
		goto done;
	}
	/* Shell syntax (a pipeline, a redirection, a variable) asks for a shell. */
	bool use_shell = strpbrk(cfg->tasks.command, "|&;<>()$`*?[]~\n") != NULL;
	struct child_spec spec = {
		.name = "source", .argv = use_shell ? shell : argv, .env = env,
		.stop_signal = SIGTERM, .stop_timeout_ms = 5000, .max_line = 1100,
		.stderr_tail = 1024,
	};
	if (env)
		rc = child_spawn(s->w->n->loop, &spec, &cmd_events, s, &s->child);
	if (rc < 0)
		log_error("tasks: cannot run '%s': %s", cfg->tasks.command, strerror(-rc));
done:
	argv_free(argv);
	work_env_free(env);
	if (rc < 0)
		listing_done(s, false);
}

/* ---- sql -------------------------------------------------------------------------- */

static void on_rows(struct pg_conn *c, const PGresult *res, void *arg)
{
	struct source *s = arg;
	(void)c;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		if (res)
			log_error("tasks: the query failed: %s", PQresultErrorMessage(res));
		listing_done(s, false);
		return;
	}
	for (int i = 0; i < PQntuples(res) && !s->closed; i++)
		if (!PQgetisnull(res, i, 0))
			work_listed(s->w, PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0));
	listing_done(s, true);
}

static void list_sql(struct source *s)
{
	struct node *n = s->w->n;
	int total = n->cfg->total_tokens, k = 0;
	char *mine = NULL;
	int rc;
	if (n->cfg->tasks.sql_token_filter) {
		int *v = malloc(sizeof *v * (size_t)(total + 1));
		for (int t = 0; v && t < total; t++)
			if (n->mine[t])
				v[k++] = t;
		mine = v ? pgarray_int(v, (size_t)k) : NULL;
		free(v);
	}
	const char *p[] = {s->w->date, mine};
	rc = pg_query(&s->pg, s->query, mine ? 2 : 1, p, on_rows, s);
	free(mine);
	if (rc < 0)
		listing_done(s, false);
}

static void on_sql_connected(struct pg_conn *c, void *ud)
{
	struct source *s = ud;
	(void)c;
	if (s->busy && !s->closed)
		list_sql(s);
}

static const struct pg_handlers sql_handlers = {.connected = on_sql_connected};

/* ---- scheduling ------------------------------------------------------------------- */

static void list_now(struct source *s)
{
	if (s->closed)
		return;
	if (s->busy) {
		s->again = true;
		return;
	}
	s->busy = true;
	switch (s->w->n->cfg->tasks.source) {
	case SOURCE_RANGE:
		list_range(s);
		break;
	case SOURCE_FILE:
		s->fs_req.data = s;
		if (uv_queue_work(s->w->n->loop, &s->fs_req, file_read, file_done) < 0)
			listing_done(s, false);
		break;
	case SOURCE_COMMAND:
		list_command(s);
		break;
	case SOURCE_SQL:
		if (pg_ready(&s->pg))
			list_sql(s); /* else on_sql_connected lists */
		break;
	case SOURCE_NONE:
		listing_done(s, true);
		break;
	}
}

static void on_poll(uv_timer_t *t)
{
	list_now(t->data);
}

void source_relist(struct work *w)
{
	list_now(w->src);
}

struct source *source_new(struct work *w)
{
	const struct config *cfg = w->n->cfg;
	struct source *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->w = w;
	uv_timer_init(w->n->loop, &s->poll);
	s->poll.data = s;
	w->n->open_handles++;
	if (cfg->tasks.source == SOURCE_SQL) {
		const char *dsn = cfg->tasks.dsn && *cfg->tasks.dsn ? cfg->tasks.dsn
				: cfg->dsn ? cfg->dsn : "";
		/* The user's query is used as written; only the wrapper names our function. */
		const char *tmpl = cfg->tasks.sql_token_filter
			? "SELECT q.id FROM (%s) AS q(id) WHERE %stoken_of(q.id::text) = ANY($2::int[])"
			: "%s";
		size_t len = strlen(tmpl) + strlen(cfg->tasks.query) + strlen(cfg->prefix) + 1;
		s->query = malloc(len);
		if (s->query)
			snprintf(s->query, len, tmpl, cfg->tasks.query, cfg->prefix);
		if (!s->query || pg_init(&s->pg, w->n->loop, dsn, &sql_handlers, s,
					 cfg->connect_timeout_sec * 1000,
					 cfg->reconnect_max_sec * 1000, 0) < 0) {
			log_error("out of memory");
			abort();
		}
		pg_set_appname(&s->pg, cfg->node, "source");
		s->pg_open = true;
		w->n->open_handles++;
	}
	return s;
}

void source_start(struct source *s)
{
	int poll = s->w->n->cfg->tasks.poll_interval_sec;
	if (s->pg_open)
		pg_start(&s->pg);
	list_now(s);
	if (poll > 0)
		uv_timer_start(&s->poll, on_poll, (uint64_t)poll * 1000, (uint64_t)poll * 1000);
}

static void on_poll_closed(uv_handle_t *h)
{
	struct source *s = h->data;
	s->w->n->open_handles--;
}

static void on_sql_closed(struct pg_conn *c)
{
	struct source *s = c->ud;
	s->w->n->open_handles--;
}

void source_close(struct source *s)
{
	if (!s || s->closed)
		return;
	s->closed = true;
	if (s->child)
		child_kill(s->child);
	uv_close((uv_handle_t *)&s->poll, on_poll_closed);
	if (s->pg_open)
		pg_close(&s->pg, on_sql_closed);
}

void source_free(struct source *s)
{
	if (!s)
		return;
	free(s->query);
	free(s);
}
