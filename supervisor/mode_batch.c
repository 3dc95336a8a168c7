/* mode_batch.c: batch mode: up to batch_size ids on a child's stdin, then EOF; exit 0 = done. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner/argv.h"
#include "runner/child.h"
#include "supervisor/log.h"
#include "supervisor/node.h"
#include "supervisor/snapshot.h"
#include "supervisor/work_modes.h"

/* One child and the batch of tasks it was given. */
struct batch_run {
	struct work *w;
	struct child *c;
	struct task **tasks;
	size_t n;
	uv_timer_t timer;           /* task_timeout_sec for the whole batch, then kill grace */
	bool timed_out, stopping;
	struct batch_run *prev, *next;
};

struct batch_state {
	char **argv;
	struct task **pending;      /* collected for the next batch */
	size_t npending;
	struct batch_run *head;
	size_t running, active;
};

static int batch_init(struct work *w)
{
	const struct config_worker *wk = &w->n->cfg->worker;
	struct batch_state *st = calloc(1, sizeof *st);
	const char *err = NULL;
	char *shell[] = {"/bin/sh", "-c", wk->cmd.command, NULL};
	if (!st)
		return -1;
	w->mode_state = st;
	st->pending = calloc((size_t)wk->batch_size, sizeof *st->pending);
	if (!st->pending)
		return -1;
	if (wk->cmd.shell)
		st->argv = argv_subst(shell, "");
	else if (argv_split(wk->cmd.command, &st->argv, &err) < 0) {
		log_error("[worker] command: %s", err);
		return -1;
	}
	return st->argv ? 0 : -1;
}

static size_t batch_free_slots(struct work *w)
{
	struct batch_state *st = w->mode_state;
	size_t procs = (size_t)w->n->cfg->worker.procs, size = (size_t)w->n->cfg->worker.batch_size;
	if (st->running >= procs)
		return 0;
	return (procs - st->running) * size - st->npending;
}

static size_t batch_active(struct work *w)
{
	struct batch_state *st = w->mode_state;
	return st->active + st->npending;
}

static void run_closed(uv_handle_t *h)
{
	struct batch_run *r = h->data;
	free(r->tasks);
	free(r);
}

static void on_output(struct child *c, enum child_stream s, const char *line, size_t len,
		      bool truncated, void *ud)
{
	(void)c;
	(void)ud;
	log_at(s == CHILD_STDERR ? LOG_LEVEL_WARN : LOG_LEVEL_INFO, "child=batch", "%s %.*s%s",
	       s == CHILD_STDERR ? "stderr:" : "stdout:", (int)len, line,
	       truncated ? " [truncated]" : "");
}

static void on_exit_batch(struct child *c, int status, int sig, void *ud)
{
	struct batch_run *r = ud;
	struct work *w = r->w;
	struct batch_state *st = w->mode_state;
	char msg[512];
	int code = sig ? 128 + sig : status;
	if (r->timed_out)
		snprintf(msg, sizeof msg, "batch timed out after %d s",
			 w->n->cfg->worker.task_timeout_sec);
	else if (code)
		snprintf(msg, sizeof msg, "batch of %zu %s %d: %.400s", r->n,
			 sig ? "killed by signal" : "exited with status", sig ? sig : status,
			 child_stderr_tail(c));
	else
		msg[0] = '\0';
	if (r->prev)
		r->prev->next = r->next;
	else
		st->head = r->next;
	if (r->next)
		r->next->prev = r->prev;
	st->running--;
	st->active -= r->n;
	child_free(c);
	uv_timer_stop(&r->timer);
	uv_close((uv_handle_t *)&r->timer, run_closed);
	for (size_t i = 0; i < r->n; i++)
		work_finished(w, r->tasks[i], code == 0 && !r->timed_out, code, msg);
}

static void on_timer(uv_timer_t *timer)
{
	struct batch_run *r = timer->data;
	if (r->stopping) {
		child_kill(r->c);
		return;
	}
	r->timed_out = true;
	log_warn("a batch of %zu tasks timed out after %d s; stopping it", r->n,
		 r->w->n->cfg->worker.task_timeout_sec);
	child_stop(r->c);
}

static const struct child_events batch_events = {.on_line = on_output, .on_exit = on_exit_batch};

/* Start one child with the pending tasks: their ids on stdin, then EOF. */
static void launch(struct work *w)
{
	struct batch_state *st = w->mode_state;
	const struct config_worker *wk = &w->n->cfg->worker;
	struct batch_run *r = calloc(1, sizeof *r);
	char **env = work_env(w, NULL);
	size_t bytes = 0;
	int rc = -ENOMEM;
	for (size_t i = 0; i < st->npending; i++)
		bytes += st->pending[i]->len + 1;
	char *buf = malloc(bytes + 1), *o = buf;
	struct child_spec spec = {
		.name = "batch", .argv = st->argv, .env = env,
		.cwd = wk->cmd.cwd && *wk->cmd.cwd ? wk->cmd.cwd : NULL,
		.stop_signal = wk->cmd.stop_signal,
		.stop_timeout_ms = (uint64_t)wk->cmd.stop_timeout_sec * 1000,
		.stdin_pipe = true, .max_line = (size_t)wk->max_line, .stderr_tail = 2048,
	};
	if (r && env && buf && (r->tasks = malloc(st->npending * sizeof *r->tasks)))
		rc = child_spawn(w->n->loop, &spec, &batch_events, r, &r->c);
	work_env_free(env);
	if (rc < 0) {
		char msg[256];
		snprintf(msg, sizeof msg, "cannot start the worker '%s': %s", st->argv[0],
			 strerror(-rc));
		size_t n = st->npending;
		st->npending = 0;
		if (r)
			free(r->tasks);
		free(r);
		free(buf);
		for (size_t i = 0; i < n; i++)
			work_finished(w, st->pending[i], false, rc == -ENOENT ? 127 : 126, msg);
		return;
	}
	for (size_t i = 0; i < st->npending; i++) {
		memcpy(o, st->pending[i]->id, st->pending[i]->len);
		o += st->pending[i]->len;
		*o++ = '\n';
	}
	child_write(r->c, buf, bytes);
	child_close_stdin(r->c);
	free(buf);
	r->w = w;
	memcpy(r->tasks, st->pending, st->npending * sizeof *r->tasks);
	r->n = st->npending;
	st->npending = 0;
	uv_timer_init(w->n->loop, &r->timer);
	r->timer.data = r;
	if (wk->task_timeout_sec > 0)
		uv_timer_start(&r->timer, on_timer, (uint64_t)wk->task_timeout_sec * 1000, 0);
	r->next = st->head;
	if (st->head)
		st->head->prev = r;
	st->head = r;
	st->running++;
	st->active += r->n;
}

static void batch_start(struct work *w, struct task *t)
{
	struct batch_state *st = w->mode_state;
	st->pending[st->npending++] = t;
	if (st->npending == (size_t)w->n->cfg->worker.batch_size)
		launch(w);
}

/* The engine has nothing more to start now: run a partial batch rather than wait. */
static void batch_flush(struct work *w)
{
	struct batch_state *st = w->mode_state;
	if (st->npending && st->running < (size_t)w->n->cfg->worker.procs)
		launch(w);
}

static void batch_stop_all(struct work *w, uint64_t grace_ms)
{
	struct batch_state *st = w->mode_state;
	size_t n = st->npending;
	st->npending = 0;
	for (size_t i = 0; i < n; i++)
		work_finished(w, st->pending[i], false, 1, "stopped before it started");
	for (struct batch_run *r = st->head; r; r = r->next) {
		if (grace_ms == 0) {
			child_kill(r->c);
			continue;
		}
		child_stop(r->c);
		r->stopping = true;
		uv_timer_start(&r->timer, on_timer, grace_ms, 0);
	}
}

/*
 * SIGHUP changed [worker]: the next batches run the new command; running
 * batches finish as they were started. Ids collected for the next batch go out
 * now when they fill the new batch_size (procs is read live).
 */
static void batch_reload(struct work *w, const struct config *old)
{
	struct batch_state *st = w->mode_state;
	const struct config_worker *wk = &w->n->cfg->worker;
	char *shell[] = {"/bin/sh", "-c", wk->cmd.command, NULL};
	char **argv = NULL;
	const char *err = NULL;

	if (wk->cmd.shell)
		argv = argv_subst(shell, "");
	else if (argv_split(wk->cmd.command, &argv, &err) < 0)
		argv = NULL;
	if (!argv) {
		log_error("reload: [worker] command: %s; new batches keep the previous command",
			  err ? err : "out of memory");
		return;
	}
	argv_free(st->argv);
	st->argv = argv;
	if (wk->batch_size == old->worker.batch_size)
		return;
	if (st->npending >= (size_t)wk->batch_size)
		launch(w);
	struct task **pending = realloc(st->pending, (size_t)wk->batch_size * sizeof *pending);
	if (!pending) {
		log_error("out of memory");
		abort();
	}
	st->pending = pending;
}

static void batch_free(struct work *w)
{
	struct batch_state *st = w->mode_state;
	if (!st)
		return;
	argv_free(st->argv);
	free(st->pending);
	free(st);
	w->mode_state = NULL;
}

/* Status: one entry per running batch child, with its first task. */
static void batch_status(struct work *w, json_t *children)
{
	struct batch_state *st = w->mode_state;
	char name[32];
	int i = 0;
	for (struct batch_run *r = st->head; r; r = r->next) {
		snprintf(name, sizeof name, "batch-%d", i++);
		json_t *c = snapshot_child(w->n, name, child_pid(r->c),
			r->stopping ? "stopping" : "running", r->n ? r->tasks[0]->id : NULL,
			child_started_ms(r->c), 0);
		json_object_set_new(c, "in_flight", json_integer((json_int_t)r->n));
		json_array_append_new(children, c);
	}
}

const struct mode_ops mode_batch_ops = {
	.name = "batch",
	.init = batch_init,
	.free_slots = batch_free_slots,
	.start = batch_start,
	.stop_all = batch_stop_all,
	.active = batch_active,
	.status = batch_status,
	.flush = batch_flush,
	.reload = batch_reload,
	.free = batch_free,
};
