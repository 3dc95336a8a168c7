/* reload.c: SIGHUP: a fresh config, validated and diffed, then applied live or refused as a whole. */
#include "supervisor/reload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/diff.h"
#include "supervisor/cronsched.h"
#include "supervisor/health.h"
#include "supervisor/log.h"
#include "supervisor/node.h"
#include "supervisor/services.h"
#include "supervisor/work.h"

#define RELOAD_SUMMARY 1024

/* Read and validate the file again exactly as at startup; NULL (errors logged) if invalid. */
static struct config *reload_load(struct node *n)
{
	struct config_errors errs = {0};
	struct config *cfg = calloc(1, sizeof *cfg);

	if (!cfg) {
		log_error("reload: out of memory");
		return NULL;
	}
	if (config_load(n->cfg->path, cfg, &errs) == 0 && n->node_override) {
		free(cfg->node);
		cfg->node = config_xstrdup(n->node_override);
		config_validate(cfg, &errs);
	}
	if (errs.n == 0)
		return cfg;
	for (size_t i = 0; i < errs.n; i++) {
		const struct config_error *e = &errs.v[i];

		if (e->line > 0)
			log_error("%s:%d: %s", e->file, e->line, e->msg);
		else
			log_error("%s: %s", e->file, e->msg);
	}
	config_errors_free(&errs);
	config_free(cfg);
	free(cfg);
	return NULL;
}

/* "FILE:LINE: " of a change, or "FILE: " when it has no line in the new file. */
static void where(const struct config *cfg, const struct config_change *c, char *buf, size_t len)
{
	if (c->line > 0)
		snprintf(buf, len, "%s:%d: ", cfg->path, c->line);
	else
		snprintf(buf, len, "%s: ", cfg->path);
}

/* Log every change only a restart applies; true when there is one. */
static bool reload_refusals(const struct config *old, const struct config *cfg,
			    const struct config_diff *d)
{
	char name[200], at[300];
	bool refuse = d->refused > 0;

	for (size_t i = 0; i < d->n; i++) {
		const struct config_change *c = &d->v[i];

		if (c->reloadable)
			continue;
		config_change_name(c, name, sizeof name);
		where(cfg, c, at, sizeof at);
		if (c->secret)
			log_error("%sreload refused: %s cannot change live (values not shown); "
				  "restart the node to apply", at, name);
		else
			log_error("%sreload refused: %s cannot change live ('%s' -> '%s'); restart the "
				  "node to apply", at, name, c->old_value, c->new_value);
	}
	/* The task engine is never torn down live: its running tasks hold claims. */
	if (old->tasks.source != SOURCE_NONE && cfg->tasks.source == SOURCE_NONE) {
		log_error("%s: reload refused: tasks.source cannot change live from '%s' to 'none' "
			  "(the task engine runs); restart the node to apply", cfg->path,
			  config_keys[config_key_index("tasks", "source")].choices[old->tasks.source]);
		refuse = true;
	}
	return refuse;
}

/* ---- locks ---------------------------------------------------------------------- */

static void on_locks_written(struct pg_conn *c, const PGresult *res, void *arg)
{
	struct node *n = arg;
	(void)c;
	if (res && PQresultStatus(res) == PGRES_TUPLES_OK) {
		n->locks_written = true;
		return;
	}
	n->locks_written = false; /* the next (re)connection writes them */
	if (res)
		log_error("reload: writing the [lock.*] sections failed: %s",
			  PQresultErrorMessage(res));
}

static void on_locks_cleared(struct pg_conn *c, const PGresult *res, void *arg)
{
	struct node *n = arg;
	(void)c;
	if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
		if (res)
			log_error("reload: clearing this node's earlier locks failed: %s",
				  PQresultErrorMessage(res));
		return;
	}
	log_info("clear_existing_locks: removed %s earlier locks of this node",
		 PQcmdTuples((PGresult *)res));
	if (node_put_locks(n, on_locks_written) < 0)
		n->locks_written = false;
}

/* Write the [lock.NAME] sections as at startup (clear_existing_locks honoured). */
static void reload_locks(struct node *n)
{
	const struct config *cfg = n->cfg;
	int rc;

	if (!cfg->enabled)
		return;
	if (!cfg->locks_enabled) {
		log_info("reload: locks_enabled = false: the [lock.*] sections are not written");
		return;
	}
	if (cfg->nlocks == 0 && !cfg->clear_existing_locks) {
		log_info("reload: no [lock.*] sections; locks written earlier stay "
			 "(clear_existing_locks = false)");
		return;
	}
	n->locks_written = false;
	if (!n->registered || n->setup != SETUP_DONE || !pg_ready(&n->pg)) {
		log_info("reload: the [lock.*] sections are written once the node is connected");
		return;
	}
	if (cfg->clear_existing_locks)
		rc = pg_query(&n->pg, n->sql.sql[STORE_LOCKS_CLEAR], 1, (const char *[]){cfg->node},
			      on_locks_cleared, n);
	else
		rc = node_put_locks(n, on_locks_written);
	if (rc < 0)
		log_warn("reload: the [lock.*] sections will be written at the next connection");
}

/* ---- the NOTIFY channel of the task source --------------------------------------- */

static void on_listened(struct pg_conn *c, const PGresult *res, void *arg)
{
	(void)c;
	(void)arg;
	if (res && PQresultStatus(res) != PGRES_COMMAND_OK)
		log_error("reload: changing the task channel failed: %s", PQresultErrorMessage(res));
}

/* LISTEN on the new channel (validated identifiers), now and after every reconnect. */
static void reload_channel(struct node *n, const struct config *old)
{
	const char *was = old->tasks.channel ? old->tasks.channel : "";
	const char *now = n->cfg->tasks.channel ? n->cfg->tasks.channel : "";
	char *l = malloc(strlen(n->sql.channel) + 8), q[300];

	if (!l) {
		log_error("reload: out of memory");
		return;
	}
	sprintf(l, "LISTEN %s", n->sql.channel);
	free(n->sql.listen);
	n->sql.listen = l;
	if (*now && store_listen_also(&n->sql, now) < 0)
		log_error("reload: out of memory");
	if (!n->cfg->enabled || !pg_ready(&n->pg))
		return;
	snprintf(q, sizeof q, "%s%s%s%s%s", *was && strcmp(was, n->sql.channel) ? "UNLISTEN " : "",
		 *was && strcmp(was, n->sql.channel) ? was : "", *was && *now ? "; " : "",
		 *now ? "LISTEN " : "", now);
	if (*q)
		pg_query(&n->pg, q, 0, NULL, on_listened, n);
}

/* ---- applying --------------------------------------------------------------------- */

/* The task engine: the mode and the source take the change; one starts if none ran. */
static void reload_work(struct node *n, const struct config *old, const struct config_diff *d)
{
	if (n->work) {
		work_reload(n->work, old, d);
	} else if (n->cfg->tasks.source != SOURCE_NONE && n->registered &&
		   (!n->cfg->enabled || n->setup == SETUP_DONE)) {
		/* (still setting up: SETUP_DONE starts it with the new config) */
		if (!(n->work = work_new(n)))
			log_error("reload: cannot start the task engine");
	}
	if (config_diff_has_key(d, "tasks", "channel"))
		reload_channel(n, old);
}

static void reload_leader_work(struct node *n, const struct config_diff *d)
{
	if (config_diff_has(d, CONFIG_SERVICE_SECTION, NULL)) {
		if (n->services) {
			services_reload(n->services, d);
		} else if ((n->services = services_new(n)) && n->leader_state.active) {
			services_lead(n->services, n->leader_state.term);
		}
	}
	if (config_diff_has(d, CONFIG_CRON_SECTION, NULL)) {
		if (n->cron) {
			cronsched_reload(n->cron, d);
		} else if ((n->cron = cronsched_new(n))) {
			cronsched_mark_added(n->cron);
			if (n->leader_state.active)
				cronsched_lead(n->cron, n->leader_state.term);
		}
	}
}

/* One line per change, with where it is in the new file. */
static void reload_report(const struct config *cfg, const struct config_diff *d)
{
	char name[200], at[300];

	for (size_t i = 0; i < d->n; i++) {
		const struct config_change *c = &d->v[i];

		config_change_name(c, name, sizeof name);
		where(cfg, c, at, sizeof at);
		if (c->kind != CONFIG_CHANGE_KEY || c->secret)
			log_info("%sreload: %s%s", at, name, c->secret ? " changed" : "");
		else
			log_info("%sreload: %s: '%s' -> '%s'", at, name, c->old_value, c->new_value);
	}
}

/* The one summary line: "reload: applied 2 changes (worker.command, service.x (added))". */
static void reload_summary(const struct config_diff *d)
{
	char summary[RELOAD_SUMMARY] = "", name[200];

	for (size_t i = 0; i < d->n; i++) {
		config_change_name(&d->v[i], name, sizeof name);
		if (strlen(summary) + strlen(name) + 8 < sizeof summary)
			snprintf(summary + strlen(summary), sizeof summary - strlen(summary), "%s%s",
				 i ? ", " : "", name);
		else if (!strstr(summary, ", ..."))
			strcat(summary, ", ...");
	}
	log_info("reload: applied %zu change%s (%s)", d->n, d->n == 1 ? "" : "s", summary);
}

/* Everything live, in order: log, task engine, locks, leader-only work; then the summary. */
static void reload_apply(struct node *n, const struct config *old, const struct config_diff *d)
{
	const struct config *cfg = n->cfg;

	log_setup(cfg->node, cfg->log_level, cfg->log_format);
	reload_report(cfg, d);
	reload_work(n, old, d);
	if (config_diff_has(d, CONFIG_LOCK_SECTION, NULL) ||
	    config_diff_has_key(d, "coordination", "clear_existing_locks") ||
	    config_diff_has_key(d, "coordination", "locks_enabled"))
		reload_locks(n);
	reload_leader_work(n, d);
	reload_summary(d);
}

static void reload_outcome(struct node *n, bool ok)
{
	struct timespec ts;

	if (ok) {
		n->reloads++;
	} else {
		n->reload_failures++;
		log_error("reload refused: keeping the running configuration");
	}
	n->last_reload_ok = ok;
	health_changed(n);
	if (n->notify.ready_sent) {
		/* systemd Type=notify-reload: RELOADING=1 ... READY=1 (all applied above) */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		sdnotify_send(&n->notify, "RELOADING=1\nMONOTONIC_USEC=%llu",
			      (unsigned long long)ts.tv_sec * 1000000ull +
				      (unsigned long long)ts.tv_nsec / 1000ull);
		sdnotify_send(&n->notify, "READY=1");
	}
}

void reload_run(struct node *n)
{
	struct config_diff d = {0};
	const struct config *old = n->cfg;
	struct config *cfg, **v;

	n->last_reload_unix = (int64_t)time(NULL);
	if (n->stopping || n->state == NODE_DRAINING) {
		log_warn("SIGHUP: the node is leaving; its configuration is not reloaded");
		return;
	}
	log_info("SIGHUP: reloading %s", old->path);
	if (!(cfg = reload_load(n))) {
		reload_outcome(n, false);
		return;
	}
	config_diff(old, cfg, &d);
	if (reload_refusals(old, cfg, &d)) {
		reload_outcome(n, false);
		goto discard;
	}
	if (!(v = realloc(n->reloaded, (n->nreloaded + 1) * sizeof *v))) {
		log_error("reload: out of memory");
		reload_outcome(n, false);
		goto discard;
	}
	n->reloaded = v;
	if (d.n == 0) {
		log_info("reload: %s has no changes", old->path);
		reload_outcome(n, true);
		goto discard;
	}
	/* Superseded configs stay until exit: stopping services and cron runs may use them. */
	n->reloaded[n->nreloaded++] = cfg;
	n->cfg = cfg;
	reload_apply(n, old, &d);
	reload_outcome(n, true);
	config_diff_free(&d);
	return;
discard:
	config_diff_free(&d);
	config_free(cfg);
	free(cfg);
}

void reload_free(struct node *n)
{
	for (size_t i = 0; i < n->nreloaded; i++) {
		config_free(n->reloaded[i]);
		free(n->reloaded[i]);
	}
	free(n->reloaded);
	n->reloaded = NULL;
	n->nreloaded = 0;
}
