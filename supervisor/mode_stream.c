/* mode_stream.c: stream mode: `procs` long-running children, one id per line, replies. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner/argv.h"
#include "runner/lines.h"
#include "runner/program.h"
#include "supervisor/exitcode.h"
#include "supervisor/log.h"
#include "supervisor/mode_stream_int.h"
#include "supervisor/node.h"
#include "supervisor/snapshot.h"
#include "supervisor/work_modes.h"

/* Fail (as an attempt) every task the child held; the engine retries them. */
static void fail_inflight(struct stream_proc *p, const char *why)
{
	size_t n = p->n;
	struct task **v = p->inflight;
	p->inflight = NULL;
	p->n = 0;
	for (size_t i = 0; i < n; i++)
		work_finished(p->w, v[i], false, 1, why);
	free(v);
}

/* Stop a child that broke the protocol; its ids are retried when it exits. */
static void proc_bad(struct stream_proc *p, const char *what, const char *line, size_t len)
{
	if (p->bad)
		return;
	p->bad = true;
	log_warn("worker-%d broke the stream protocol (%s: '%.*s'); stopping it, its %zu "
		 "tasks will be retried", p->index, what, (int)(len < 80 ? len : 80), line, p->n);
	if (p->child)
		child_stop(p->child);
}

static void on_reply(struct stream_proc *p, const char *line, size_t len, bool truncated)
{
	const char *id, *msg;
	size_t idlen, msglen;
	if (truncated) {
		proc_bad(p, "line over max_line", line, len);
		return;
	}
	enum reply_kind k = lines_parse_reply(line, len, &id, &idlen, &msg, &msglen);
	if (k == REPLY_BAD) {
		proc_bad(p, "not 'ID ok' or 'ID fail MESSAGE'", line, len);
		return;
	}
	for (size_t i = 0; i < p->n; i++) {
		struct task *t = p->inflight[i];
		if (t->len != idlen || memcmp(t->id, id, idlen))
			continue;
		p->inflight[i] = p->inflight[--p->n];
		char m[512];
		snprintf(m, sizeof m, "%.*s", (int)(msglen < 500 ? msglen : 500), msg ? msg : "");
		work_finished(p->w, t, k == REPLY_OK, k == REPLY_OK ? 0 : 1, m);
		stream_roll_check(p);
		return;
	}
	proc_bad(p, "reply for an id not in flight", line, len);
}

static void on_line(struct program *prog, enum child_stream s, const char *line, size_t len,
		    bool truncated, void *ud)
{
	struct stream_proc *p = ud;
	char ctx[32];
	(void)prog;
	if (s == CHILD_STDOUT) {
		on_reply(p, line, len, truncated);
		return;
	}
	snprintf(ctx, sizeof ctx, "child=worker-%d", p->index);
	log_at(LOG_LEVEL_WARN, ctx, "stderr: %.*s%s", (int)len, line, truncated ? " [truncated]" : "");
}

static void on_spawn(struct program *prog, struct child *c, void *ud)
{
	struct stream_proc *p = ud;
	(void)prog;
	p->child = c;
	p->bad = false;
}

static void on_exit_proc(struct program *prog, int status, int sig, void *ud)
{
	struct stream_proc *p = ud;
	char why[128];
	(void)prog;
	p->child = NULL;
	if (p->n > 0) {
		snprintf(why, sizeof why, "worker-%d %s %d with the task in flight", p->index,
			 sig ? "was killed by signal" : "exited with status", sig ? sig : status);
		fail_inflight(p, why);
	}
	/* Being replaced by a reload: stopped now, not restarted by the policy. */
	stream_roll_check(p);
}

static void on_state(struct program *prog, enum program_state from, enum program_state to,
		     const char *why, void *ud)
{
	struct stream_proc *p = ud;
	(void)from;
	log_at(to == PROG_FATAL ? LOG_LEVEL_ERROR : LOG_LEVEL_INFO, NULL, "worker-%d: %s (%s)",
	       p->index, program_state_name(to), why ? why : "");
	if (to == PROG_STOPPED && p->resume) {
		p->resume = false;
		if (!p->w->fenced && !p->w->draining && !p->w->stopped)
			program_start(prog);
	}
	if (to == PROG_FATAL && p->w->n->cfg->worker.policy.essential) {
		log_error("worker-%d is essential and went FATAL: the node leaves", p->index);
		node_request_leave(p->w->n, EXIT_SOFTWARE);
	}
}

static const struct program_events stream_events = {
	.on_state = on_state, .on_spawn = on_spawn, .on_line = on_line, .on_exit = on_exit_proc,
};

/* task_timeout_sec: a child holding an overdue task is stopped; its tasks are retried. */
static void on_timeout_check(uv_timer_t *timer)
{
	struct work *w = timer->data;
	struct stream_state *st = w->mode_state;
	uint64_t now = node_now_ms(w->n), limit = (uint64_t)w->n->cfg->worker.task_timeout_sec * 1000;
	if (limit == 0)
		return; /* a reload set task_timeout_sec = 0 */
	for (int i = 0; i < st->nprocs; i++) {
		struct stream_proc *p = &st->procs[i];
		for (size_t k = 0; k < p->n && p->child && !p->bad; k++) {
			if (now - p->inflight[k]->started_ms < limit)
				continue;
			log_warn("task '%.80s' timed out after %d s on worker-%d; stopping the worker",
				 p->inflight[k]->id, w->n->cfg->worker.task_timeout_sec, i);
			p->bad = true;
			child_stop(p->child);
		}
	}
}

int stream_proc_start(struct work *w, struct stream_proc *p)
{
	const struct config_worker *wk = &w->n->cfg->worker;
	struct stream_state *st = w->mode_state;
	char name[32];
	struct policy pol = {
		.restart = (enum restart_mode)wk->policy.restart,
		.max_restarts = wk->policy.max_restarts,
		.window_ms = (uint64_t)wk->policy.restart_window_sec * 1000,
		.backoff_base_ms = 200, .backoff_cap_ms = 30000,
		.stable_ms = (uint64_t)wk->policy.stable_sec * 1000,
		.fatal_cooldown_ms = (uint64_t)wk->policy.fatal_cooldown_sec * 1000,
		.no_restart_exit = wk->policy.no_restart_exit,
	};
	snprintf(name, sizeof name, "worker-%d", p->index);
	struct child_spec spec = {
		.name = name, .argv = st->argv, .env = st->env,
		.cwd = wk->cmd.cwd && *wk->cmd.cwd ? wk->cmd.cwd : NULL,
		.stop_signal = wk->cmd.stop_signal,
		.stop_timeout_ms = (uint64_t)wk->cmd.stop_timeout_sec * 1000,
		.stdin_pipe = true, .max_line = (size_t)wk->max_line, .stderr_tail = 2048,
	};
	p->w = w;
	p->prog = program_new(w->n->loop, &spec, &pol, &stream_events, p);
	if (!p->prog)
		return -1;
	p->gen = st->gen;
	p->retiring = p->bad = false;
	program_start(p->prog);
	return 0;
}

void stream_timeout_start(struct work *w)
{
	struct stream_state *st = w->mode_state;
	if (st->timer_open)
		return;
	uv_timer_init(w->n->loop, &st->timer);
	st->timer.data = w;
	st->timer_open = true;
	uv_timer_start(&st->timer, on_timeout_check, 1000, 1000);
}

static int stream_init(struct work *w)
{
	const struct config_worker *wk = &w->n->cfg->worker;
	struct stream_state *st = calloc(1, sizeof *st);
	const char *err = NULL;
	char *shell[] = {"/bin/sh", "-c", wk->cmd.command, NULL};
	if (!st)
		return -1;
	w->mode_state = st;
	if (wk->cmd.shell)
		st->argv = argv_subst(shell, "");
	else if (argv_split(wk->cmd.command, &st->argv, &err) < 0) {
		log_error("[worker] command: %s", err);
		return -1;
	}
	st->env = work_env(w, NULL);
	st->nprocs = st->want = wk->procs;
	st->gen = 1;
	st->rolling = -1;
	st->procs = calloc((size_t)st->nprocs, sizeof *st->procs);
	if (!st->argv || !st->env || !st->procs)
		return -1;
	for (int i = 0; i < st->nprocs; i++) {
		st->procs[i].index = i;
		if (stream_proc_start(w, &st->procs[i]) < 0)
			return -1;
	}
	if (wk->task_timeout_sec > 0)
		stream_timeout_start(w);
	return 0;
}

static size_t proc_room(const struct work *w, const struct stream_proc *p)
{
	size_t max = (size_t)w->n->cfg->worker.inflight;
	if (!p->child || p->bad || p->retiring || program_state(p->prog) != PROG_RUNNING)
		return 0;
	return p->n < max ? max - p->n : 0;
}

static size_t stream_free_slots(struct work *w)
{
	struct stream_state *st = w->mode_state;
	size_t free_slots = 0;
	for (int i = 0; i < st->nprocs; i++)
		free_slots += proc_room(w, &st->procs[i]);
	return free_slots;
}

static size_t stream_active(struct work *w)
{
	struct stream_state *st = w->mode_state;
	size_t n = 0;
	for (int i = 0; i < st->nprocs; i++)
		n += st->procs[i].n;
	return n;
}

/* Unfenced: the pool the fence stopped starts again (now, or once a child is down). */
static void stream_resume(struct work *w)
{
	struct stream_state *st = w->mode_state;
	for (int i = 0; i < st->nprocs; i++) {
		struct stream_proc *p = &st->procs[i];
		if (!p->prog)
			continue;
		if (program_state(p->prog) == PROG_STOPPING)
			p->resume = true;
		else
			program_start(p->prog);
	}
}

/* Give t to the child with the most room; its id goes down the pipe as one line. */
static void stream_start(struct work *w, struct task *t)
{
	struct stream_state *st = w->mode_state;
	struct stream_proc *best = NULL;
	size_t room = 0;
	for (int i = 0; i < st->nprocs; i++) {
		size_t r = proc_room(w, &st->procs[i]);
		if (r > room) {
			room = r;
			best = &st->procs[i];
		}
	}
	struct task **v = best ? realloc(best->inflight, (best->n + 1) * sizeof *v) : NULL;
	if (!v) {
		work_finished(w, t, false, 1, "no stream worker is running");
		return;
	}
	best->inflight = v;
	char *line = malloc(t->len + 1);
	if (!line) {
		work_finished(w, t, false, 1, "out of memory");
		return;
	}
	memcpy(line, t->id, t->len);
	line[t->len] = '\n';
	int rc = child_write(best->child, line, t->len + 1);
	free(line);
	if (rc < 0) {
		work_finished(w, t, false, 1, rc == -EPIPE ? "the worker closed its stdin"
							  : "the worker is not reading its stdin");
		return;
	}
	t->slot = best->index;
	best->inflight[best->n++] = t;
}

static void stream_stop_all(struct work *w, uint64_t grace_ms)
{
	struct stream_state *st = w->mode_state;
	stream_roll_cancel(w);
	for (int i = 0; i < st->nprocs; i++) {
		struct stream_proc *p = &st->procs[i];
		if (p->child)
			child_close_stdin(p->child);
		program_stop(p->prog, NULL);
		if (grace_ms == 0 && p->child)
			child_kill(p->child);
	}
}

static void stream_free(struct work *w)
{
	struct stream_state *st = w->mode_state;
	if (!st)
		return;
	for (int i = 0; st->procs && i < st->nprocs; i++) {
		if (st->procs[i].prog)
			program_free(st->procs[i].prog);
		free(st->procs[i].inflight);
	}
	free(st->procs);
	argv_free(st->argv);
	work_env_free(st->env);
	free(st);
	w->mode_state = NULL;
}

/* A stopped program is freed inside the loop, so its handles close before the loop ends. */
static void on_stopped_free(struct program *prog, void *ud)
{
	struct stream_proc *p = ud;
	program_free(prog);
	p->prog = NULL;
}

static void stream_close(struct work *w)
{
	struct stream_state *st = w->mode_state;
	if (!st)
		return;
	for (int i = 0; i < st->nprocs; i++)
		if (st->procs[i].prog)
			program_stop(st->procs[i].prog, on_stopped_free);
	if (st->timer_open) {
		st->timer_open = false;
		uv_close((uv_handle_t *)&st->timer, NULL);
	}
	stream_roll_close(w);
}

/* Status: one entry per child of the pool, with the first of the ids it holds. */
static void stream_status(struct work *w, json_t *children)
{
	struct stream_state *st = w->mode_state;
	char name[32];
	for (int i = 0; i < st->nprocs; i++) {
		struct stream_proc *p = &st->procs[i];
		snprintf(name, sizeof name, "worker-%d", p->index);
		json_t *c = snapshot_child(w->n, name, p->child ? child_pid(p->child) : 0,
			program_state_name(program_state(p->prog)), p->n ? p->inflight[0]->id : NULL,
			program_since_ms(p->prog), program_restarts(p->prog));
		json_object_set_new(c, "in_flight", json_integer((json_int_t)p->n));
		json_array_append_new(children, c);
	}
}

const struct mode_ops mode_stream_ops = {
	.name = "stream",
	.init = stream_init,
	.free_slots = stream_free_slots,
	.start = stream_start,
	.stop_all = stream_stop_all,
	.active = stream_active,
	.status = stream_status,
	.resume = stream_resume,
	.close = stream_close,
	.reload = stream_reload,
	.free = stream_free,
};
