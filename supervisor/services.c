/* services.c: [service.NAME] cluster singletons, supervised on the leader only (SPEC section 6). */
#include "supervisor/services.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner/argv.h"
#include "runner/program.h"
#include "config/diff.h"
#include "supervisor/childenv.h"
#include "supervisor/exitcode.h"
#include "supervisor/health.h"
#include "supervisor/log.h"
#include "supervisor/node.h"
#include "supervisor/snapshot.h"

/* Bytes of one logged output line of a service; the rest is cut and flagged. */
#define SERVICES_MAX_LINE 4096

/* One [service.NAME]: its split command and, while it runs or stops, its program. */
struct service {
	struct services *s;
	const struct config_service *cfg;
	char **argv;
	char ctx[160];          /* "service=NAME", the log context */
	struct program *prog;   /* NULL when down; recreated per term (the env carries it) */
	int64_t term;           /* term the program was started for */
	bool stopping;          /* program_stop() issued, done() not yet called */
	bool stale;             /* a reload changed its settings: restart it with them */
	bool removed;           /* a reload removed it: stop it, then drop it */
};

struct services {
	struct node *n;
	struct service *v;
	size_t count;
	bool leading;           /* services should run, for term */
	int64_t term;
	bool closing;
	bool fatal_leave;       /* an essential service went FATAL: leave on the next turn */
	bool local_lead;        /* coordination off: lead in term 0 on the first turn */
	uv_timer_t kick;        /* zero-delay timer for the two deferred actions above */
	bool kick_open;
};

static void service_reconcile(struct service *sv);

/* The command of a service: split without a shell, or /bin/sh -c COMMAND. */
static char **service_argv(const struct config_service *c)
{
	const char *err = NULL;
	char **argv = NULL;

	if (c->cmd.shell) {
		char *shell[] = {"/bin/sh", "-c", c->cmd.command, NULL};
		return argv_subst(shell, "");
	}
	if (argv_split(c->cmd.command, &argv, &err) < 0) {
		log_at(LOG_LEVEL_ERROR, NULL, "[service.%s] command: %s", c->name, err);
		return NULL;
	}
	return argv;
}

/* The restart policy of a service from its config keys. */
static struct policy service_policy(const struct config_restart_policy *c)
{
	struct policy p = {
		.restart = (enum restart_mode)c->restart,
		.max_restarts = c->max_restarts,
		.window_ms = (uint64_t)c->restart_window_sec * 1000,
		.backoff_base_ms = 200,
		.backoff_cap_ms = 30000,
		.stable_ms = (uint64_t)c->stable_sec * 1000,
		.fatal_cooldown_ms = (uint64_t)c->fatal_cooldown_sec * 1000,
		.no_restart_exit = c->no_restart_exit,
	};
	return p;
}

/* The deferred actions: lead without coordination, or leave after an essential FATAL. */
static void services_on_kick(uv_timer_t *t)
{
	struct services *s = t->data;

	if (s->closing)
		return;
	if (s->local_lead) {
		s->local_lead = false;
		services_lead(s, 0);
	}
	if (s->fatal_leave) {
		s->fatal_leave = false;
		log_error("an essential service is FATAL: leaving the cluster");
		node_request_leave(s->n, EXIT_SOFTWARE);
	}
}

static void service_on_state(struct program *p, enum program_state from, enum program_state to,
			     const char *why, void *ud)
{
	struct service *sv = ud;
	struct services *s = sv->s;

	(void)p;
	health_changed(s->n);
	(void)from;
	log_at(to == PROG_FATAL ? LOG_LEVEL_ERROR : LOG_LEVEL_INFO, sv->ctx, "%s (%s)",
	       program_state_name(to), why ? why : "");
	/* Not from inside the runner's callback: node_request_leave() stops services. */
	if (to == PROG_FATAL && sv->cfg->policy.essential && !s->closing) {
		s->fatal_leave = true;
		uv_timer_start(&s->kick, services_on_kick, 0, 0);
	}
}

static void service_on_line(struct program *p, enum child_stream st, const char *line,
			    size_t len, bool truncated, void *ud)
{
	struct service *sv = ud;

	(void)p;
	log_at(st == CHILD_STDERR ? LOG_LEVEL_WARN : LOG_LEVEL_INFO, sv->ctx, "%s: %.*s%s",
	       st == CHILD_STDERR ? "stderr" : "stdout", (int)len, line,
	       truncated ? " [truncated]" : "");
}

static const struct program_events service_events = {
	.on_state = service_on_state,
	.on_line = service_on_line,
};

/* Create and start the program of sv for term: the env names the term, so one per term. */
static void service_start(struct service *sv, int64_t term)
{
	const struct config_service *c = sv->cfg;
	char leader[] = "JOBSYNC_LEADER=1", tbuf[48], nbuf[300];
	const char *extra[] = {leader, tbuf, nbuf, NULL};
	struct policy pol = service_policy(&c->policy);
	char **env;
	char name[200];

	snprintf(tbuf, sizeof tbuf, "JOBSYNC_TERM=%" PRId64, term);
	snprintf(nbuf, sizeof nbuf, "JOBSYNC_SERVICE=%s", c->name);
	snprintf(name, sizeof name, "service:%s", c->name);
	env = childenv_new(sv->s->n, extra);
	struct child_spec spec = {
		.name = name,
		.argv = sv->argv,
		.env = env,
		.cwd = c->cmd.cwd && *c->cmd.cwd ? c->cmd.cwd : NULL,
		.stop_signal = c->cmd.stop_signal,
		.stop_timeout_ms = (uint64_t)c->cmd.stop_timeout_sec * 1000,
		.stdin_pipe = false,
		.max_line = SERVICES_MAX_LINE,
		.stderr_tail = 2048,
	};
	sv->prog = env ? program_new(sv->s->n->loop, &spec, &pol, &service_events, sv) : NULL;
	childenv_free(env);
	if (!sv->prog) {
		log_at(LOG_LEVEL_ERROR, sv->ctx, "cannot start: out of memory");
		return;
	}
	sv->term = term;
	sv->stale = false;
	program_start(sv->prog);
}

static void service_drop(struct service *sv);

/* The stop asked by service_reconcile() is complete: free, then look again. */
static void service_stopped(struct program *p, void *ud)
{
	struct service *sv = ud;

	program_free(p);
	sv->prog = NULL;
	sv->stopping = false;
	if (sv->removed) {
		service_drop(sv);
		return;
	}
	service_reconcile(sv);
}

/* True while a removed copy of sv (same NAME) still runs: a singleton never overlaps itself. */
static bool service_shadowed(const struct service *sv)
{
	const struct services *s = sv->s;

	for (size_t i = 0; i < s->count; i++)
		if (&s->v[i] != sv && s->v[i].removed && s->v[i].prog &&
		    !strcmp(s->v[i].cfg->name, sv->cfg->name))
			return true;
	return false;
}

/*
 * Bring sv to what its owner wants: running for the current term while
 * leading (and not closing), down otherwise. A program of an older term is
 * stopped first and started again for the new term once it is down.
 */
static void service_reconcile(struct service *sv)
{
	struct services *s = sv->s;
	bool want = s->leading && !s->closing && !sv->removed;

	if (sv->stopping)
		return; /* service_stopped() reconciles again */
	if (!sv->prog) {
		if (want && sv->argv && !service_shadowed(sv))
			service_start(sv, s->term);
		return;
	}
	if (want && sv->term == s->term && !sv->stale)
		return;
	sv->stopping = true;
	program_stop(sv->prog, service_stopped);
}

static void services_on_kick_closed(uv_handle_t *h)
{
	struct services *s = h->data;

	s->n->open_handles--;
}

struct services *services_new(struct node *n)
{
	const struct config *cfg = n->cfg;
	struct services *s;

	if (cfg->nservices == 0)
		return NULL;
	s = calloc(1, sizeof *s);
	if (!s || !(s->v = calloc(cfg->nservices, sizeof *s->v))) {
		free(s);
		log_error("services: out of memory");
		return NULL;
	}
	s->n = n;
	s->count = cfg->nservices;
	for (size_t i = 0; i < s->count; i++) {
		struct service *sv = &s->v[i];

		sv->s = s;
		sv->cfg = &cfg->services[i];
		snprintf(sv->ctx, sizeof sv->ctx, "service=%s", sv->cfg->name);
		sv->argv = service_argv(sv->cfg);
	}
	uv_timer_init(n->loop, &s->kick);
	s->kick.data = s;
	s->kick_open = true;
	n->open_handles++;
	/* Without coordination this node is the only one: it leads, in term 0. */
	if (!cfg->enabled) {
		s->local_lead = true;
		uv_timer_start(&s->kick, services_on_kick, 0, 0);
	}
	log_info("services: %zu configured, run while this node leads", s->count);
	return s;
}

void services_lead(struct services *s, int64_t term)
{
	if (!s || s->closing)
		return;
	if (s->leading && s->term != term)
		log_info("services: term changed (%" PRId64 " -> %" PRId64 "): restarting them",
			 s->term, term);
	s->leading = true;
	s->term = term;
	for (size_t i = 0; i < s->count; i++)
		service_reconcile(&s->v[i]);
}

void services_unlead(struct services *s, const char *why)
{
	if (!s || !s->leading)
		return;
	log_info("services: stopping them: %s", why ? why : "no longer leading");
	s->leading = false;
	for (size_t i = 0; i < s->count; i++)
		service_reconcile(&s->v[i]);
}

/* A removed service is down: take it out of the array (programs follow their entry). */
static void service_drop(struct service *sv)
{
	struct services *s = sv->s;
	size_t i = (size_t)(sv - s->v);

	log_at(LOG_LEVEL_INFO, sv->ctx, "removed by the reload");
	argv_free(sv->argv);
	memmove(&s->v[i], &s->v[i + 1], (s->count - i - 1) * sizeof *s->v);
	s->count--;
	for (size_t k = i; k < s->count; k++)
		if (s->v[k].prog)
			program_set_ud(s->v[k].prog, &s->v[k]);
	/* A service added again under the same NAME waited for this copy to stop. */
	for (size_t k = 0; k < s->count; k++)
		service_reconcile(&s->v[k]);
}

/* The entry of s->v, not removed and not yet taken, named name; or NULL. */
static struct service *service_find(struct services *s, const bool *taken, const char *name)
{
	for (size_t j = 0; j < s->count; j++)
		if (!taken[j] && !s->v[j].removed && !strcmp(s->v[j].cfg->name, name))
			return &s->v[j];
	return NULL;
}

void services_reload(struct services *s, const struct config_diff *d)
{
	const struct config *cfg = s->n->cfg;
	size_t k = 0;
	struct service *v = calloc(cfg->nservices + s->count + 1, sizeof *v);
	bool *taken = calloc(s->count + 1, sizeof *taken);

	if (s->closing) {
		free(v);
		free(taken);
		return;
	}
	if (!v || !taken) {
		log_error("services: out of memory");
		abort();
	}
	for (size_t i = 0; i < cfg->nservices; i++) {
		const struct config_service *c = &cfg->services[i];
		struct service *sv = &v[k++], *was = service_find(s, taken, c->name);

		if (was) {
			*sv = *was;
			taken[was - s->v] = true;
			if (config_diff_has(d, CONFIG_SERVICE_SECTION, c->name)) {
				argv_free(sv->argv);
				sv->argv = service_argv(c);
				sv->stale = true;
				log_at(LOG_LEVEL_INFO, sv->ctx, "changed by the reload%s",
				       sv->prog ? ": restarting it" : "");
			}
		} else {
			sv->s = s;
			snprintf(sv->ctx, sizeof sv->ctx, "service=%s", c->name);
			sv->argv = service_argv(c);
			log_at(LOG_LEVEL_INFO, sv->ctx, "added by the reload%s",
			       s->leading ? ": starting it" : "; runs while this node leads");
		}
		sv->cfg = c;
	}
	/* Removed services that still run stay (removed) until they are down. */
	for (size_t j = 0; j < s->count; j++) {
		if (taken[j])
			continue;
		if (!s->v[j].removed)
			log_at(LOG_LEVEL_INFO, s->v[j].ctx, "removed by the reload%s",
			       s->v[j].prog ? ": stopping it" : "");
		if (!s->v[j].prog) {
			argv_free(s->v[j].argv);
			continue;
		}
		v[k] = s->v[j];
		v[k++].removed = true;
	}
	for (size_t i = 0; i < k; i++)
		if (v[i].prog)
			program_set_ud(v[i].prog, &v[i]);
	free(s->v);
	free(taken);
	s->v = v;
	s->count = k;
	for (size_t i = 0; i < s->count; i++)
		service_reconcile(&s->v[i]);
}

/* Shutdown: every program gets its stop signal; each is freed once down. */
void services_close(struct services *s)
{
	if (!s || s->closing)
		return;
	s->closing = true;
	s->leading = false;
	s->local_lead = s->fatal_leave = false;
	if (s->kick_open) {
		s->kick_open = false;
		uv_timer_stop(&s->kick);
		uv_close((uv_handle_t *)&s->kick, services_on_kick_closed);
	}
	for (size_t i = 0; i < s->count; i++)
		service_reconcile(&s->v[i]);
}

/* After the loop ended: every program was freed by service_stopped(). */
void services_free(struct services *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->count; i++) {
		if (s->v[i].prog)
			log_warn("%s: still held at exit", s->v[i].ctx);
		argv_free(s->v[i].argv);
	}
	free(s->v);
	free(s);
}

void services_status(const struct services *s, json_t *arr)
{
	for (size_t i = 0; s && i < s->count; i++) {
		const struct service *sv = &s->v[i];
		struct child *c = sv->prog ? program_child(sv->prog) : NULL;
		json_t *o = snapshot_child(s->n, sv->cfg->name, c ? child_pid(c) : 0,
			sv->prog ? program_state_name(program_state(sv->prog)) : "stopped", NULL,
			sv->prog ? program_since_ms(sv->prog) : node_now_ms(s->n),
			sv->prog ? program_restarts(sv->prog) : 0);
		json_object_del(o, "task");
		json_object_set_new(o, "term", json_integer(sv->prog ? sv->term : 0));
		json_array_append_new(arr, o);
	}
}

int services_running(const struct services *s)
{
	int running = 0;

	if (!s)
		return 0;
	for (size_t i = 0; i < s->count; i++)
		if (s->v[i].prog && program_state(s->v[i].prog) == PROG_RUNNING)
			running++;
	return running;
}
