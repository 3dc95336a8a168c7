/* mode_stream_roll.c: stream mode on SIGHUP: replace or remove the children one at a time, losing no id. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner/argv.h"
#include "runner/program.h"
#include "supervisor/log.h"
#include "supervisor/mode_stream_int.h"
#include "supervisor/node.h"

/*
 * A rolling restart (the s6/supervisord way of replacing a pool): one child
 * at a time gets no new ids; once it has answered those it holds (or after
 * stop_timeout_sec, when the rest are retried like the ids of any child that
 * stops) its stdin is closed and it gets the stop signal; then a child with
 * the new settings takes its slot and the next one follows. The other
 * children keep serving meanwhile, so no id waits and none runs twice.
 */

static void roll_stop(struct work *w, struct stream_proc *p);

static void on_roll_deadline(uv_timer_t *t)
{
	struct work *w = t->data;
	struct stream_state *st = w->mode_state;
	if (st->rolling < 0 || st->roll_stopping)
		return;
	struct stream_proc *p = &st->procs[st->rolling];
	log_warn("worker-%d: %zu tasks still in flight %d s after the reload asked it to stop; "
		 "stopping it now (they will be retried)",
		 p->index, p->n, w->n->cfg->worker.cmd.stop_timeout_sec);
	roll_stop(w, p);
}

/* The child being rolled is down: start its replacement (or leave the slot removed). */
static void on_roll_stopped(struct program *prog, void *ud)
{
	struct stream_proc *p = ud;
	struct work *w = p->w;
	struct stream_state *st = w->mode_state;

	st->rolling = -1;
	st->roll_stopping = false;
	p->retiring = false;
	if (p->index < st->want) {
		program_free(prog);
		p->prog = NULL;
		if (stream_proc_start(w, p) < 0) {
			log_error("worker-%d: out of memory", p->index);
			abort();
		}
		log_info("worker-%d: replaced by a child with the reloaded settings", p->index);
	} else {
		p->gen = 0; /* its program stays (stopped) until the slot is trimmed */
		log_info("worker-%d: removed (procs lowered by the reload)", p->index);
	}
	stream_roll_next(w);
}

static void roll_stop(struct work *w, struct stream_proc *p)
{
	struct stream_state *st = w->mode_state;
	st->roll_stopping = true;
	uv_timer_stop(&st->roll_timer);
	if (p->child)
		child_close_stdin(p->child);
	program_stop(p->prog, on_roll_stopped);
}

void stream_roll_check(struct stream_proc *p)
{
	struct stream_state *st = p->w->mode_state;
	if (st->rolling != p->index || st->roll_stopping || p->n > 0 || p->w->stopped)
		return;
	roll_stop(p->w, p);
}

/* Removed slots at the end of the pool go once stopped (the array itself is kept). */
static void trim(struct stream_state *st)
{
	while (st->nprocs > st->want && st->procs[st->nprocs - 1].gen == 0) {
		struct stream_proc *p = &st->procs[st->nprocs - 1];
		program_free(p->prog);
		free(p->inflight);
		memset(p, 0, sizeof *p);
		st->nprocs--;
	}
}

void stream_roll_next(struct work *w)
{
	struct stream_state *st = w->mode_state;
	if (st->rolling >= 0 || w->stopped)
		return;
	trim(st);
	for (int i = 0; i < st->nprocs; i++) {
		struct stream_proc *p = &st->procs[i];
		bool keep = i < st->want ? p->gen == st->gen : p->gen == 0;
		if (keep)
			continue;
		st->rolling = i;
		st->roll_stopping = false;
		p->retiring = true;
		log_info("worker-%d: %s by the reload: no new tasks; stopping it once its %zu in "
			 "flight are answered", i, i < st->want ? "being replaced" : "being removed",
			 p->n);
		uv_timer_start(&st->roll_timer, on_roll_deadline,
			       (uint64_t)w->n->cfg->worker.cmd.stop_timeout_sec * 1000, 0);
		stream_roll_check(p);
		return;
	}
}

void stream_roll_cancel(struct work *w)
{
	struct stream_state *st = w->mode_state;
	if (st->rolling >= 0)
		st->procs[st->rolling].retiring = false;
	st->rolling = -1;
	st->roll_stopping = false;
	if (st->roll_timer_open)
		uv_timer_stop(&st->roll_timer);
}

void stream_roll_close(struct work *w)
{
	struct stream_state *st = w->mode_state;
	stream_roll_cancel(w);
	if (st->roll_timer_open) {
		st->roll_timer_open = false;
		uv_close((uv_handle_t *)&st->roll_timer, NULL);
	}
}

/* True when the children must be replaced: what their program copied changed. */
static bool children_differ(const struct config_worker *a, const struct config_worker *b)
{
	const struct config_restart_policy *x = &a->policy, *y = &b->policy;
	return strcmp(a->cmd.command, b->cmd.command) || a->cmd.shell != b->cmd.shell ||
	       strcmp(a->cmd.cwd ? a->cmd.cwd : "", b->cmd.cwd ? b->cmd.cwd : "") ||
	       a->cmd.stop_signal != b->cmd.stop_signal ||
	       a->cmd.stop_timeout_sec != b->cmd.stop_timeout_sec || a->max_line != b->max_line ||
	       x->restart != y->restart || x->max_restarts != y->max_restarts ||
	       x->restart_window_sec != y->restart_window_sec ||
	       x->fatal_cooldown_sec != y->fatal_cooldown_sec || x->stable_sec != y->stable_sec ||
	       x->no_restart_exit != y->no_restart_exit;
}

/* More slots: the array grows (programs follow their slot), new children start now. */
static void grow(struct work *w, int procs)
{
	struct stream_state *st = w->mode_state;
	struct stream_proc *v = realloc(st->procs, (size_t)procs * sizeof *v);
	if (!v) {
		log_error("out of memory");
		abort();
	}
	st->procs = v;
	for (int i = 0; i < st->nprocs; i++)
		program_set_ud(v[i].prog, &v[i]);
	for (int i = st->nprocs; i < procs; i++) {
		memset(&v[i], 0, sizeof v[i]);
		v[i].index = i;
		if (stream_proc_start(w, &v[i]) < 0) {
			log_error("out of memory");
			abort();
		}
	}
	st->nprocs = procs;
}

void stream_reload(struct work *w, const struct config *old)
{
	struct stream_state *st = w->mode_state;
	const struct config_worker *a = &old->worker, *b = &w->n->cfg->worker;
	if (w->stopped)
		return;
	if (!st->roll_timer_open) {
		uv_timer_init(w->n->loop, &st->roll_timer);
		st->roll_timer.data = w;
		st->roll_timer_open = true;
	}
	if (b->task_timeout_sec > 0)
		stream_timeout_start(w);
	if (children_differ(a, b)) {
		char *shell[] = {"/bin/sh", "-c", b->cmd.command, NULL};
		char **argv = NULL, **env = work_env(w, NULL);
		const char *err = NULL;
		if (b->cmd.shell)
			argv = argv_subst(shell, "");
		else if (argv_split(b->cmd.command, &argv, &err) < 0)
			argv = NULL;
		if (!argv || !env) {
			log_error("reload: [worker] command: %s; the children keep the previous settings",
				  err ? err : "out of memory");
			argv_free(argv);
			work_env_free(env);
		} else {
			argv_free(st->argv);
			work_env_free(st->env);
			st->argv = argv;
			st->env = env;
			st->gen++;
			log_info("worker: replacing the %d stream children one at a time with the "
				 "reloaded settings", b->procs);
		}
	}
	if (b->procs != st->want)
		log_info("worker: procs %d -> %d", st->want, b->procs);
	st->want = b->procs;
	if (st->want > st->nprocs)
		grow(w, st->want);
	stream_roll_next(w);
}
