/* program.c: a long-running child kept up by the restart policy (backoff, intensity, cooldown). */
#include "runner/program.h"

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* With a zero backoff base, never restart sooner than this: no hot loop. */
#define PROGRAM_MIN_DELAY_MS 100

struct program {
	uv_loop_t *loop;
	uv_timer_t timer;		/* backoff, FATAL cooldown, or the deferred done() */
	struct child_spec spec;		/* deep copy: every string is ours */
	struct policy policy;
	struct policy_state pst;
	struct program_events ev;
	void *ud;
	enum program_state state;
	struct child *child;		/* set while RUNNING or STOPPING */
	uint64_t spawned_ms, since_ms;
	unsigned restarts;
	void (*done)(struct program *p, void *ud);
};

static const struct child_events program_child_events;

static void program_strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* Copy a NULL-terminated string vector (NULL stays NULL); NULL *ok on failure. */
static char **program_strv_dup(char *const *v, bool *ok)
{
	size_t n = 0;
	char **r;

	if (!v)
		return NULL;
	while (v[n])
		n++;
	r = calloc(n + 1, sizeof(*r));
	if (!r)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		r[i] = strdup(v[i]);
		if (!r[i])
			goto fail;
	}
	return r;
fail:
	program_strv_free(r);
	*ok = false;
	return NULL;
}

/* Free the copied spec strings. */
static void program_spec_free(struct child_spec *s)
{
	free((char *)s->name);
	free((char *)s->cwd);
	program_strv_free((char **)s->argv);
	program_strv_free((char **)s->env);
}

/* A duration for people: "40 ms", "0.4 s", "60 s". */
static void program_fmt_ms(char *buf, size_t n, uint64_t ms)
{
	if (ms < 100)
		snprintf(buf, n, "%" PRIu64 " ms", ms);
	else if (ms < 10000)
		snprintf(buf, n, "%.1f s", (double)ms / 1000.0);
	else
		snprintf(buf, n, "%" PRIu64 " s", (ms + 500) / 1000);
}

/* Move to state `to` and tell the owner why (also reported when the state stays the same). */
static void program_set(struct program *p, enum program_state to, const char *why)
{
	enum program_state from = p->state;

	p->state = to;
	p->since_ms = uv_now(p->loop);
	if (p->ev.on_state)
		p->ev.on_state(p, from, to, why, p->ud);
}

struct program *program_new(uv_loop_t *loop, const struct child_spec *spec,
			    const struct policy *policy, const struct program_events *ev, void *ud)
{
	struct program *p = calloc(1, sizeof(*p));
	bool ok = true;
	uint64_t seed;

	if (!p)
		return NULL;
	p->loop = loop;
	p->spec = *spec;
	p->spec.name = strdup(spec->name ? spec->name : "program");
	p->spec.cwd = spec->cwd ? strdup(spec->cwd) : NULL;
	p->spec.argv = program_strv_dup(spec->argv, &ok);
	p->spec.env = program_strv_dup(spec->env, &ok);
	if (!ok || !p->spec.name || (spec->cwd && !p->spec.cwd) || !p->spec.argv) {
		program_spec_free(&p->spec);
		free(p);
		return NULL;
	}
	p->policy = *policy;
	if (ev)
		p->ev = *ev;
	p->ud = ud;
	p->state = PROG_STOPPED;
	p->since_ms = uv_now(loop);
	/* Jitter must differ between programs and nodes: time, address and name. */
	seed = uv_hrtime() ^ (uint64_t)(uintptr_t)p;
	for (const char *c = p->spec.name; *c; c++)
		seed = (seed ^ (unsigned char)*c) * 0x100000001b3ULL;
	policy_state_init(&p->pst, seed);
	uv_timer_init(loop, &p->timer);
	p->timer.data = p;
	return p;
}

static void program_on_timer(uv_timer_t *t);

/*
 * Act on an ended run (a real exit, or a failed spawn counted as status 127):
 * ask the policy, then go to BACKOFF with a timer, EXITED, or FATAL with the
 * cooldown timer (none when the cooldown is 0). what says what happened.
 */
static void program_decide(struct program *p, const char *what, uint64_t ran_ms, int status,
			   int sig)
{
	char why[512], d[32], w[32];
	uint64_t delay = 0;
	enum policy_decision dec = policy_on_exit(&p->policy, &p->pst, uv_now(p->loop), ran_ms,
						  status, sig, &delay);

	switch (dec) {
	case POLICY_RESTART:
		/* the policy keeps delay >= base; a zero base gets the floor */
		if (p->policy.backoff_base_ms == 0 && delay < PROGRAM_MIN_DELAY_MS)
			delay = PROGRAM_MIN_DELAY_MS;
		program_fmt_ms(d, sizeof(d), delay);
		snprintf(why, sizeof(why), "%s; restarting in %s", what, d);
		uv_timer_start(&p->timer, program_on_timer, delay, 0);
		program_set(p, PROG_BACKOFF, why);
		break;
	case POLICY_EXITED:
		snprintf(why, sizeof(why), "%s; not restarting", what);
		program_set(p, PROG_EXITED, why);
		break;
	case POLICY_FATAL:
	default:
		program_fmt_ms(w, sizeof(w), p->policy.window_ms);
		program_fmt_ms(d, sizeof(d), delay);
		snprintf(why, sizeof(why), "%s; restarted %d times in %s: FATAL%s%s", what,
			 p->policy.max_restarts < 0 ? 0 : p->policy.max_restarts, w,
			 delay ? "; retrying in " : "", delay ? d : "");
		if (delay)
			uv_timer_start(&p->timer, program_on_timer, delay, 0);
		program_set(p, PROG_FATAL, why);
		break;
	}
}

/* Spawn the process; a failure is handled as a run that ended with status 127. */
static void program_spawn(struct program *p, const char *how)
{
	char why[512];
	int rc = child_spawn(p->loop, &p->spec, &program_child_events, p, &p->child);

	if (rc < 0) {
		p->child = NULL;
		snprintf(why, sizeof(why), "spawn failed: %s", strerror(-rc));
		program_decide(p, why, 0, 127, 0);
		return;
	}
	p->spawned_ms = uv_now(p->loop);
	snprintf(why, sizeof(why), "%s (pid %d)", how, child_pid(p->child));
	program_set(p, PROG_RUNNING, why);
	if (p->ev.on_spawn && p->state == PROG_RUNNING && p->child)
		p->ev.on_spawn(p, p->child, p->ud);
}

/* The backoff or the FATAL cooldown is over: start again. */
static void program_on_timer(uv_timer_t *t)
{
	struct program *p = t->data;

	if (p->state == PROG_BACKOFF) {
		p->restarts++;
		program_spawn(p, "restarted");
	} else if (p->state == PROG_FATAL) {
		/* the policy cleared its history when it said FATAL */
		p->restarts++;
		program_spawn(p, "cooldown over; restarted");
	}
}

/* The deferred done() of a stop that found no process to wait for. */
static void program_on_done_timer(uv_timer_t *t)
{
	struct program *p = t->data;
	void (*done)(struct program *, void *) = p->done;

	p->done = NULL;
	if (done)
		done(p, p->ud);
}

static void program_child_line(struct child *c, enum child_stream s, const char *line,
			       size_t len, bool truncated, void *ud)
{
	struct program *p = ud;

	(void)c;
	if (p->ev.on_line)
		p->ev.on_line(p, s, line, len, truncated, p->ud);
}

/* The process is gone: report it, then finish a stop or apply the policy. */
static void program_child_exit(struct child *c, int exit_status, int term_signal, void *ud)
{
	struct program *p = ud;
	uint64_t ran = uv_now(p->loop) - p->spawned_ms;
	char what[128];

	if (term_signal)
		snprintf(what, sizeof(what), "killed by signal %d (%s)", term_signal,
			 strsignal(term_signal));
	else
		snprintf(what, sizeof(what), "exited with status %d", exit_status);
	if (p->child == c)
		p->child = NULL;
	child_free(c);
	if (p->ev.on_exit)
		p->ev.on_exit(p, exit_status, term_signal, p->ud);
	if (p->state == PROG_STOPPING) {
		void (*done)(struct program *, void *) = p->done;
		char why[160];

		snprintf(why, sizeof(why), "stopped (%s)", what);
		p->done = NULL;
		program_set(p, PROG_STOPPED, why);
		if (done)
			done(p, p->ud);
		return;
	}
	if (p->state != PROG_RUNNING)
		return;
	program_decide(p, what, ran, exit_status, term_signal);
}

static const struct child_events program_child_events = {
	.on_line = program_child_line,
	.on_exit = program_child_exit,
	.on_drained = NULL,
};

/*
 * Start now: from STOPPED, EXITED or FATAL (a manual start forgets the restart
 * history), or cut a BACKOFF short. Running or stopping: nothing to do.
 */
void program_start(struct program *p)
{
	if (p->state == PROG_RUNNING || p->state == PROG_STOPPING)
		return;
	uv_timer_stop(&p->timer);
	if (p->state != PROG_BACKOFF)
		policy_state_init(&p->pst, p->pst.rng);
	program_spawn(p, p->state == PROG_BACKOFF ? "restarted early" : "started");
}

/*
 * Stop: a running process gets the stop signal (SIGKILL after the timeout)
 * and done runs when it is gone; otherwise any pending restart is cancelled
 * and done runs on the next loop turn. A second stop only replaces done.
 */
void program_stop(struct program *p, void (*done)(struct program *p, void *ud))
{
	char why[128], t[32];

	p->done = done;
	switch (p->state) {
	case PROG_STOPPING:
		return;
	case PROG_RUNNING:
		program_fmt_ms(t, sizeof(t), p->spec.stop_timeout_ms);
		snprintf(why, sizeof(why), "stopping (signal %d, SIGKILL after %s)",
			 p->spec.stop_signal, t);
		program_set(p, PROG_STOPPING, why);
		if (p->child)
			child_stop(p->child);
		return;
	case PROG_STOPPED:
	case PROG_BACKOFF:
	case PROG_EXITED:
	case PROG_FATAL:
	default:
		uv_timer_stop(&p->timer);
		if (p->state != PROG_STOPPED)
			program_set(p, PROG_STOPPED, "stopped");
		uv_timer_start(&p->timer, program_on_done_timer, 0, 0);
		return;
	}
}

enum program_state program_state(const struct program *p)
{
	return p->state;
}

const char *program_state_name(enum program_state s)
{
	switch (s) {
	case PROG_STOPPED: return "STOPPED";
	case PROG_RUNNING: return "RUNNING";
	case PROG_BACKOFF: return "BACKOFF";
	case PROG_STOPPING: return "STOPPING";
	case PROG_EXITED: return "EXITED";
	case PROG_FATAL: return "FATAL";
	}
	return "UNKNOWN";
}

struct child *program_child(const struct program *p)
{
	return p->child;
}

unsigned program_restarts(const struct program *p)
{
	return p->restarts;
}

uint64_t program_since_ms(const struct program *p)
{
	return p->since_ms;
}

void program_set_ud(struct program *p, void *ud)
{
	p->ud = ud;
}

static void program_on_close(uv_handle_t *h)
{
	struct program *p = h->data;

	program_spec_free(&p->spec);
	free(p);
}

/*
 * Free a stopped program; the memory goes when the timer handle is closed.
 * Freeing one whose process still runs kills it (a caller's mistake, made safe).
 */
void program_free(struct program *p)
{
	if (!p)
		return;
	if (p->child) {
		child_kill(p->child);
		child_free(p->child);
		p->child = NULL;
	}
	uv_timer_stop(&p->timer);
	uv_close((uv_handle_t *)&p->timer, program_on_close);
}
