/* node.c: the node's lifecycle: loop, signals, connection setup, shutdown. */
#include "supervisor/node.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "supervisor/cronsched.h"
#include "supervisor/exitcode.h"
#include "supervisor/hash.h"
#include "supervisor/health.h"
#include "supervisor/log.h"
#include "supervisor/member.h"
#include "supervisor/pgarray.h"
#include "supervisor/reload.h"
#include "supervisor/schema.h"
#include "supervisor/services.h"
#include "supervisor/work.h"
#include "runner/child.h"
#include "runner/reaper.h"

static void setup_next(struct node *n);

/*
 * Fill buf with random bytes from the kernel. Session keys and incarnations
 * must differ between processes started close together: a seed made of the
 * pid and the time repeats across restarts.
 */
static void random_bytes(struct node *n, void *buf, size_t len)
{
	uint8_t *p = buf;
	ssize_t got = getrandom(buf, len, 0);
	for (size_t i = got > 0 ? (size_t)got : 0; i < len; i++) {
		n->rng ^= n->rng << 13;
		n->rng ^= n->rng >> 7;
		n->rng ^= n->rng << 17;
		p[i] = (uint8_t)n->rng;
	}
}

/* A new session key in 1..2^31-1 (the advisory lock's second key). */
static int new_session_key(struct node *n)
{
	uint32_t v;
	random_bytes(n, &v, sizeof v);
	return 1 + (int)(v % 2147483646u);
}

uint64_t node_now_ms(const struct node *n)
{
	return uv_now(n->loop);
}

const char *node_timeout_param(const struct node *n, char *buf, size_t len)
{
	snprintf(buf, len, "%d", n->cfg->heartbeat_timeout_sec);
	return buf;
}

const char *node_session_param(const struct node *n)
{
	uint64_t grace = (uint64_t)n->cfg->heartbeat_interval_sec * 1000 + 2000;
	return node_now_ms(n) - n->connected_ms >= grace ? "true" : "false";
}

void node_set_state(struct node *n, enum node_state s)
{
	if (n->state == s)
		return;
	n->state = s;
	health_changed(n);
	sdnotify_status(&n->notify);
}

void node_set_leader(struct node *n, bool me, int64_t term, const char *leader)
{
	bool changed = strcmp(n->leader, leader) != 0 || n->term != term || n->is_leader != me;
	if (strcmp(n->leader, leader) != 0 || n->term != term)
		log_info("leader is %s (term %lld)", *leader ? leader : "(none)", (long long)term);
	snprintf(n->leader, sizeof n->leader, "%s", leader);
	n->term = term;
	if (me && (!n->leader_state.active || n->leader_state.term != term))
		leader_start(n, term);
	else if (!me && n->leader_state.active)
		leader_stop(n, "another node leads now");
	n->is_leader = me;
	if (changed)
		health_changed(n);
}

static void on_closed(uv_handle_t *h)
{
	struct node *n = h->data;
	n->open_handles--;
}

static void on_pg_closed(struct pg_conn *c)
{
	struct node *n = c->ud;
	n->open_handles--;
}

static void on_watch_closed(struct watch *w)
{
	w->n->open_handles--;
}

void node_shutdown(struct node *n, int code)
{
	if (n->stopping)
		return;
	n->stopping = true;
	n->exit_code = code;
	node_set_state(n, NODE_STOPPED);
	sdnotify_stopping(&n->notify); /* once: a drain already sent it */
	sdnotify_close(&n->notify);
	uv_handle_t *handles[] = {
		(uv_handle_t *)&n->sigterm, (uv_handle_t *)&n->sigint, (uv_handle_t *)&n->sighup,
		(uv_handle_t *)&n->hb_timer, (uv_handle_t *)&n->fence_timer,
		(uv_handle_t *)&n->leader_timer, (uv_handle_t *)&n->leave_timer,
		(uv_handle_t *)&n->expiry_timer, (uv_handle_t *)&n->refresh_timer,
	};
	for (size_t i = 0; i < sizeof handles / sizeof handles[0]; i++)
		uv_close(handles[i], on_closed);
	if (n->pg_open)
		pg_close(&n->pg, on_pg_closed);
	if (n->watch.open)
		watch_close(&n->watch, on_watch_closed);
	if (n->work)
		work_close(n->work);
	if (n->services)
		services_close(n->services);
	if (n->cron)
		cronsched_close(n->cron);
	health_close(n);
	child_guard_stop();
	reaper_stop();
}

static void leave_now(struct node *n);

static void on_quiet_check(uv_timer_t *t)
{
	leave_now(t->data);
}

/*
 * The task engine drained (or there is none): once the services have stopped
 * (so the next leader's copy cannot overlap), release tokens, leave, exit.
 */
static void leave_now(struct node *n)
{
	if (n->services && services_running(n->services) > 0) {
		uv_timer_start(&n->leave_timer, on_quiet_check, 50, 0);
		return;
	}
	if (!n->cfg->enabled) {
		node_shutdown(n, n->exit_code);
		return;
	}
	member_leave(n);
}

static void on_drain_marked(struct pg_conn *c, const PGresult *res, void *arg)
{
	(void)c;
	(void)arg;
	if (res && PQresultStatus(res) != PGRES_TUPLES_OK)
		log_warn("marking this node as draining failed: %s", PQresultErrorMessage(res));
}

void node_request_leave(struct node *n, int code)
{
	if (n->state == NODE_DRAINING || n->stopping)
		return;
	n->exit_code = code;
	node_set_state(n, NODE_DRAINING);
	sdnotify_stopping(&n->notify);
	/* A draining node stops leading at once: its services stop, the next oldest
	 * takes over (the drain mark makes this node not live). */
	leader_stop(n, "draining");
	n->is_leader = false;
	/* Also when coordination is off (no leadership: they run unconditionally). */
	if (n->services)
		services_unlead(n->services, "draining");
	if (n->cron)
		cronsched_unlead(n->cron, "draining");
	if (!n->work) {
		leave_now(n);
		return;
	}
	/* Hand the tokens over at once; running tasks finish under their claims. */
	const char *p[] = {n->cfg->node, n->incarnation, n->sql.channel};
	if (n->registered)
		pg_query(&n->pg, n->sql.sql[STORE_DRAIN], 3, p, on_drain_marked, n);
	work_drain(n->work, leave_now);
}

static void on_signal(uv_signal_t *s, int signum)
{
	struct node *n = s->data;
	if (signum == SIGHUP) {
		reload_run(n);
		return;
	}
	if (n->state == NODE_DRAINING) {
		log_warn("%s again: stopping the running tasks now", strsignal(signum));
		if (n->work)
			work_stop_now(n->work);
		else
			node_shutdown(n, n->exit_code);
		return;
	}
	log_info("%s: leaving the cluster", strsignal(signum));
	node_request_leave(n, EXIT_OK);
}

/* A step of the setup chain finished; report failures and move on. */
static bool step_ok(struct node *n, const PGresult *res, ExecStatusType want, const char *what)
{
	if (!res)
		return false; /* the connection failed; setup restarts on reconnect */
	if (PQresultStatus(res) != want) {
		log_error("%s failed: %s", what, PQresultErrorMessage(res));
		pg_reset(&n->pg, what);
		return false;
	}
	return true;
}

static void on_setup_step(struct pg_conn *c, const PGresult *res, void *arg);

static void on_meta(struct pg_conn *c, const PGresult *res, void *arg)
{
	struct node *n = arg;
	(void)c;
	if (!step_ok(n, res, PGRES_TUPLES_OK, "reading the cluster metadata"))
		return;
	int total = PQntuples(res) ? atoi(PQgetvalue(res, 0, 0)) : -1;
	if (total != n->cfg->total_tokens) {
		log_error("%s: total_tokens = %d does not match the cluster's total_tokens = %d "
			  "(prefix '%s'); every node of a cluster must use the same value",
			  n->cfg->path, n->cfg->total_tokens, total, n->cfg->prefix);
		node_shutdown(n, EXIT_CONFIG);
		return;
	}
	if (strcmp(PQgetvalue(res, 0, 1), SCHEMA_HASH_NAME) != 0) {
		log_error("the cluster uses hash '%s'; this node only knows '%s'",
			  PQgetvalue(res, 0, 1), SCHEMA_HASH_NAME);
		node_shutdown(n, EXIT_CONFIG);
		return;
	}
	n->setup = SETUP_SESSION;
	setup_next(n);
}

static void on_session(struct pg_conn *c, const PGresult *res, void *arg)
{
	struct node *n = arg;
	(void)c;
	if (!step_ok(n, res, PGRES_TUPLES_OK, "taking the session lock"))
		return;
	n->session_locked = PQgetvalue(res, 0, 0)[0] == 't';
	if (!n->session_locked) {
		/* Key collision with another session: pick another and retry. */
		n->session_key = new_session_key(n);
		setup_next(n);
		return;
	}
	n->setup = SETUP_LISTEN;
	setup_next(n);
}

static void on_register(struct pg_conn *c, const PGresult *res, void *arg)
{
	struct node *n = arg;
	(void)c;
	if (!step_ok(n, res, PGRES_TUPLES_OK, "registering the node"))
		return;
	if (PQntuples(res) == 0) {
		log_error("node name '%s' is already in use by a live node of this cluster "
			  "(prefix '%s'); give this node another name (--node or [cluster] node) "
			  "or stop the other one", n->cfg->node, n->cfg->prefix);
		node_shutdown(n, EXIT_TEMPFAIL);
		return;
	}
	n->registered = true;
	n->hb_ok_ms = n->hb_sent_ms; /* registering is a heartbeat */
	node_set_state(n, NODE_COLD_START);
	log_info("joined the cluster as %s (incarnation %s, %d tokens, prefix '%s')",
		 n->cfg->node, n->incarnation, n->cfg->total_tokens, n->cfg->prefix);
	n->setup = SETUP_LOCKS;
	setup_next(n);
}

/* Write the [lock.NAME] sections: one statement for all of them. */
int node_put_locks(struct node *n, pg_result_fn done)
{
	const struct config *cfg = n->cfg;
	size_t count = 0, i = 0;
	for (size_t k = 0; k < cfg->nlocks; k++)
		count += cfg->locks[k].ntasks + cfg->locks[k].ntokens;
	int *tokens = calloc(count + 1, sizeof *tokens), *days = calloc(count + 1, sizeof *days);
	const char **pats = calloc(count + 1, sizeof *pats), **reasons = calloc(count + 1, sizeof *reasons);
	const char **tasks = calloc(count + 1, sizeof *tasks);
	char *a[5] = {NULL};
	int rc = -1;

	if (!tokens || !days || !pats || !reasons || !tasks)
		goto cleanup;
	for (size_t k = 0; k < cfg->nlocks; k++) {
		const struct config_lock *lk = &cfg->locks[k];
		for (size_t j = 0; j < lk->ntasks + lk->ntokens; j++, i++) {
			bool is_task = j < lk->ntasks;
			const char *task = is_task ? lk->tasks[j] : NULL;
			tokens[i] = is_task ? hash_token_of(task, strlen(task), cfg->total_tokens)
					    : lk->tokens[j - lk->ntasks];
			tasks[i] = task;
			pats[i] = lk->pattern;
			reasons[i] = lk->reason ? lk->reason : "";
			days[i] = lk->expires_days;
		}
	}
	a[0] = pgarray_int(tokens, count);
	a[1] = pgarray_text(pats, count);
	a[2] = pgarray_text(reasons, count);
	a[3] = pgarray_text(tasks, count);
	a[4] = pgarray_int(days, count);
	if (!a[0] || !a[1] || !a[2] || !a[3] || !a[4])
		goto cleanup;
	const char *p[] = {a[0], a[1], a[2], a[3], a[4], cfg->node, n->sql.channel};
	rc = pg_query(&n->pg, n->sql.sql[STORE_LOCKS_PUT], 7, p, done, n);
	if (rc == 0)
		log_info("registered %zu locked tokens from %zu [lock.*] sections", count,
			 cfg->nlocks);
cleanup:
	for (int k = 0; k < 5; k++)
		free(a[k]);
	free(tokens);
	free(days);
	free(pats);
	free(reasons);
	free(tasks);
	return rc;
}

static void on_locks_cleared(struct pg_conn *c, const PGresult *res, void *arg)
{
	struct node *n = arg;
	(void)c;
	if (!step_ok(n, res, PGRES_COMMAND_OK, "clearing this node's earlier locks"))
		return;
	log_info("clear_existing_locks: removed %s earlier locks of this node", PQcmdTuples((PGresult *)res));
	if (n->cfg->nlocks == 0 || node_put_locks(n, on_setup_step) < 0) {
		n->locks_written = true;
		n->setup = SETUP_DONE;
		setup_next(n);
	}
}

/* Generic continuation for steps whose result only needs to succeed. */
static void on_setup_step(struct pg_conn *c, const PGresult *res, void *arg)
{
	struct node *n = arg;
	(void)c;
	if (!res)
		return;
	ExecStatusType st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		log_error("setup step %d failed: %s", (int)n->setup, PQresultErrorMessage(res));
		pg_reset(&n->pg, "setup failed");
		return;
	}
	if (n->setup == SETUP_SCHEMA) {
		n->schema_ready = true;
		n->setup = SETUP_META;
	} else if (n->setup == SETUP_LISTEN) {
		/* Locks a reload could not write (no connection then) are written now. */
		n->setup = !n->registered ? SETUP_REGISTER
			   : n->locks_written ? SETUP_DONE : SETUP_LOCKS;
	} else if (n->setup == SETUP_LOCKS) {
		n->locks_written = true;
		n->setup = SETUP_DONE;
	}
	setup_next(n);
}

/* Run the next setup step for the current connection. */
static void setup_next(struct node *n)
{
	const struct config *cfg = n->cfg;
	char pid[16], key[16], tbuf[32];
	int rc = 0;

	switch (n->setup) {
	case SETUP_SCHEMA: {
		char *ddl = schema_ddl(cfg->prefix, cfg->total_tokens);
		rc = ddl ? pg_query(&n->pg, ddl, 0, NULL, on_setup_step, n) : -1;
		free(ddl);
		break;
	}
	case SETUP_META:
		rc = pg_query(&n->pg, n->sql.sql[STORE_META], 0, NULL, on_meta, n);
		break;
	case SETUP_SESSION:
		snprintf(key, sizeof key, "%d", n->session_key);
		rc = pg_query(&n->pg, n->sql.sql[STORE_SESSION_LOCK], 1,
			      (const char *[]){key}, on_session, n);
		break;
	case SETUP_LISTEN:
		rc = pg_query(&n->pg, n->sql.listen, 0, NULL, on_setup_step, n);
		break;
	case SETUP_REGISTER: {
		/* A name is free once its holder's session is gone: a crashed node's
		 * restart takes over at once (no grace here, unlike liveness checks). */
		uint8_t raw[16];
		random_bytes(n, raw, sizeof raw);
		for (size_t i = 0; i < sizeof raw; i++)
			sprintf(n->incarnation + 2 * i, "%02x", raw[i]);
		snprintf(pid, sizeof pid, "%d", (int)getpid());
		snprintf(key, sizeof key, "%d", n->session_key);
		const char *p[] = {cfg->node, n->incarnation, cfg->site ? cfg->site : "",
				   n->host, pid, JOBSYNC_VERSION,
				   n->session_locked ? key : NULL,
				   node_timeout_param(n, tbuf, sizeof tbuf), n->sql.channel,
				   "true"};
		n->hb_sent_ms = node_now_ms(n);
		rc = pg_query(&n->pg, n->sql.sql[STORE_REGISTER], 10, p, on_register, n);
		break;
	}
	case SETUP_LOCKS:
		if (n->locks_written || !cfg->locks_enabled ||
		    (cfg->nlocks == 0 && !cfg->clear_existing_locks)) {
			n->setup = SETUP_DONE;
			setup_next(n);
			return;
		}
		if (cfg->clear_existing_locks)
			rc = pg_query(&n->pg, n->sql.sql[STORE_LOCKS_CLEAR], 1,
				      (const char *[]){cfg->node}, on_locks_cleared, n);
		else
			rc = node_put_locks(n, on_setup_step);
		break;
	case SETUP_DONE:
		member_start(n);
		if (!n->work && cfg->tasks.source != SOURCE_NONE && !(n->work = work_new(n)))
			node_shutdown(n, EXIT_SOFTWARE);
		return;
	}
	if (rc < 0 && pg_ready(&n->pg))
		pg_reset(&n->pg, "could not send a setup statement");
}

static void on_connected(struct pg_conn *c, void *ud)
{
	struct node *n = ud;
	(void)c;
	n->connected_ms = node_now_ms(n);
	n->setup = n->schema_ready ? SETUP_SESSION : SETUP_SCHEMA;
	setup_next(n);
}

static void on_disconnected(struct pg_conn *c, const char *why, void *ud)
{
	struct node *n = ud;
	(void)c;
	(void)why;
	member_disconnected(n);
}

static void on_notify(struct pg_conn *c, const char *channel, const char *payload, void *ud)
{
	struct node *n = ud;
	(void)c;
	if (!strcmp(channel, n->sql.channel))
		member_notify(n, payload);
	else if (n->work)
		work_notify(n->work, channel);
}

static const struct pg_handlers node_pg_handlers = {
	.connected = on_connected,
	.disconnected = on_disconnected,
	.notify = on_notify,
};

static void init_handles(struct node *n)
{
	uv_signal_t *sigs[] = {&n->sigterm, &n->sigint, &n->sighup};
	int signums[] = {SIGTERM, SIGINT, SIGHUP};
	for (int i = 0; i < 3; i++) {
		uv_signal_init(n->loop, sigs[i]);
		sigs[i]->data = n;
		uv_signal_start(sigs[i], on_signal, signums[i]);
		uv_unref((uv_handle_t *)sigs[i]);
	}
	uv_timer_t *timers[] = {&n->hb_timer, &n->fence_timer, &n->leader_timer, &n->leave_timer,
				&n->expiry_timer, &n->refresh_timer};
	for (int i = 0; i < 6; i++) {
		uv_timer_init(n->loop, timers[i]);
		timers[i]->data = n;
	}
	n->open_handles = 9;
}

int node_run(const struct config *cfg, const char *date, const char *node_override)
{
	struct node n;
	uv_loop_t loop;
	int rc = EXIT_SOFTWARE;

	memset(&n, 0, sizeof n);
	if (uv_loop_init(&loop) != 0)
		return EXIT_SOFTWARE;
	n.loop = &loop;
	n.cfg = cfg;
	n.token_version = -1;
	n.exit_code = EXIT_OK;
	n.date = date;
	n.node_override = node_override;
	n.last_reload_ok = true;
	n.rng = (uint64_t)getpid() << 32 ^ (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)&n;
	n.session_key = new_session_key(&n);
	if (gethostname(n.host, sizeof n.host) != 0)
		snprintf(n.host, sizeof n.host, "unknown");
	n.mine = calloc((size_t)cfg->total_tokens, 1);
	if (!n.mine || store_init(&n.sql, cfg->prefix) < 0 ||
	    leader_init(&n.leader_state, cfg->total_tokens) < 0)
		goto cleanup;
	init_handles(&n);
	if (health_start(&n) < 0) {
		rc = EXIT_CONFIG;
		goto cleanup;
	}
	/* Before anything spawns: children must not inherit NOTIFY_SOCKET. */
	sdnotify_init(&n.notify, &loop, sdnotify_node_summary, &n);
	if (cfg->tasks.channel && *cfg->tasks.channel && store_listen_also(&n.sql, cfg->tasks.channel) < 0)
		goto cleanup;
	child_guard_start(&loop, NULL, (uint64_t)(config_fence_after_sec(cfg) * 1000));
	if (reaper_start(&loop, false) < 0)
		log_warn("cannot watch for orphaned processes; they will be reaped by init");
	n.services = services_new(&n);
	n.cron = cronsched_new(&n);
	if (cfg->enabled) {
		int to = cfg->heartbeat_timeout_sec * 1000;
		if (pg_init(&n.pg, &loop, cfg->dsn ? cfg->dsn : "", &node_pg_handlers, &n,
			    cfg->connect_timeout_sec * 1000, cfg->reconnect_max_sec * 1000, to) < 0)
			goto cleanup;
		n.open_handles++;
		n.pg_open = true;
		log_info("starting: node %s, database %s, prefix '%s'", cfg->node, n.pg.label,
			 cfg->prefix);
		pg_set_appname(&n.pg, cfg->node, NULL);
		pg_start(&n.pg);
		if (watch_start(&n.watch, &n) < 0)
			goto cleanup;
		n.open_handles++;
	} else {
		log_info("coordination disabled: this node owns every task; no database used");
		n.state = NODE_RUNNING;
		n.owned = cfg->total_tokens;
		n.registered = true;
		memset(n.mine, 1, (size_t)cfg->total_tokens);
		if (cfg->tasks.source != SOURCE_NONE && !(n.work = work_new(&n)))
			n.exit_code = EXIT_SOFTWARE;
		else
			sdnotify_ready(&n.notify); /* the workers started */
		/* Keep the loop alive until a signal arrives. */
		uv_ref((uv_handle_t *)&n.sigterm);
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	rc = n.exit_code;
	log_info("stopped (exit %d)", rc);
cleanup:
	if (n.open_handles > 0 && !n.stopping) {
		node_shutdown(&n, rc);
		uv_run(&loop, UV_RUN_DEFAULT);
	}
	uv_loop_close(&loop);
	work_free(n.work);
	services_free(n.services);
	cronsched_free(n.cron);
	health_free(&n);
	reload_free(&n); /* after everything that may point into a reloaded config */
	leader_free(&n.leader_state);
	store_free(&n.sql);
	free(n.mine);
	return rc;
}
