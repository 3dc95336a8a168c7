/* services.c: [service.NAME] cluster singletons, supervised on the leader only (SPEC section 6). */
#include "supervisor/services.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner/argv.h"
#include "runner/program.h"
#include "supervisor/childenv.h"
#include "supervisor/exitcode.h"
#include "supervisor/log.h"
#include "supervisor/node.h"

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
	program_start(sv->prog);
}

/* The stop asked by service_reconcile() is complete: free, then look again. */
static void service_stopped(struct program *p, void *ud)
{
	struct service *sv = ud;

	program_free(p);
	sv->prog = NULL;
	sv->stopping = false;
	service_reconcile(sv);
}

/*
 * Bring sv to what its owner wants: running for the current term while
 * leading (and not closing), down otherwise. A program of an older term is
 * stopped first and started again for the new term once it is down.
 */
static void service_reconcile(struct service *sv)
{
	struct services *s = sv->s;
	bool want = s->leading && !s->closing;

	if (sv->stopping)
		return; /* service_stopped() reconciles again */
	if (!sv->prog) {
		if (want && sv->argv)
			service_start(sv, s->term);
		return;
	}
	if (want && sv->term == s->term)
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
