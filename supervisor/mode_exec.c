/* mode_exec.c: exec mode: one process per task, "{}" replaced by the id, `concurrency` at once. */
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

/* One running task: its process and its deadline. */
struct exec_slot {
	struct work *w;
	struct task *t;
	struct child *c;
	uv_timer_t timer;           /* task_timeout_sec, then the kill grace of a stop */
	bool timed_out, stopping;
	struct exec_slot *prev, *next;
};

struct exec_state {
	char **argv;                /* the command split once; NULL with shell = true */
	struct exec_slot *head;
	size_t running;
};

static int exec_init(struct work *w)
{
	const struct config_worker *wk = &w->n->cfg->worker;
	struct exec_state *st = calloc(1, sizeof *st);
	const char *err = NULL;
	if (!st)
		return -1;
	w->mode_state = st;
	if (!wk->cmd.shell && argv_split(wk->cmd.command, &st->argv, &err) < 0) {
		log_error("[worker] command: %s", err);
		return -1;
	}
	return 0;
}

static size_t exec_free_slots(struct work *w)
{
	struct exec_state *st = w->mode_state;
	size_t max = (size_t)w->n->cfg->worker.concurrency;
	return st->running < max ? max - st->running : 0;
}

static size_t exec_active(struct work *w)
{
	return ((struct exec_state *)w->mode_state)->running;
}

static void slot_closed(uv_handle_t *h)
{
	free(h->data);
}

static void on_output(struct child *c, enum child_stream s, const char *line, size_t len,
		      bool truncated, void *ud)
{
	struct exec_slot *slot = ud;
	char ctx[96];
	(void)c;
	snprintf(ctx, sizeof ctx, "task=%.80s", slot->t->id);
	log_at(s == CHILD_STDERR ? LOG_LEVEL_WARN : LOG_LEVEL_INFO, ctx, "%s %.*s%s",
	       s == CHILD_STDERR ? "stderr:" : "stdout:", (int)len, line,
	       truncated ? " [truncated]" : "");
}

/* The last line of the stderr tail, as the failure message. */
static const char *last_line(const char *tail, char *buf, size_t len)
{
	size_t n = strlen(tail);
	while (n && (tail[n - 1] == '\n' || tail[n - 1] == '\r'))
		n--;
	size_t start = n;
	while (start && tail[start - 1] != '\n')
		start--;
	snprintf(buf, len, "%.*s", (int)(n - start), tail + start);
	return buf;
}

static void on_exit_task(struct child *c, int status, int sig, void *ud)
{
	struct exec_slot *slot = ud;
	struct work *w = slot->w;
	struct exec_state *st = w->mode_state;
	struct task *t = slot->t;
	char msg[512], line[400];
	int code = sig ? 128 + sig : status;

	if (slot->timed_out)
		snprintf(msg, sizeof msg, "timed out after %d s", w->n->cfg->worker.task_timeout_sec);
	else if (sig)
		snprintf(msg, sizeof msg, "killed by signal %d: %s", sig,
			 last_line(child_stderr_tail(c), line, sizeof line));
	else if (status)
		snprintf(msg, sizeof msg, "exit status %d: %s", status,
			 last_line(child_stderr_tail(c), line, sizeof line));
	else
		msg[0] = '\0';
	if (slot->prev)
		slot->prev->next = slot->next;
	else
		st->head = slot->next;
	if (slot->next)
		slot->next->prev = slot->prev;
	st->running--;
	child_free(c);
	uv_timer_stop(&slot->timer);
	uv_close((uv_handle_t *)&slot->timer, slot_closed);
	work_finished(w, t, code == 0 && !slot->timed_out, code, msg);
}

static void on_timer(uv_timer_t *timer)
{
	struct exec_slot *slot = timer->data;
	if (slot->stopping) {
		child_kill(slot->c);
		return;
	}
	slot->timed_out = true;
	log_at(LOG_LEVEL_WARN, NULL, "task '%.80s' timed out after %d s; stopping it", slot->t->id,
	       slot->w->n->cfg->worker.task_timeout_sec);
	child_stop(slot->c);
}

static const struct child_events exec_events = {.on_line = on_output, .on_exit = on_exit_task};

static void exec_start(struct work *w, struct task *t)
{
	struct exec_state *st = w->mode_state;
	const struct config_worker *wk = &w->n->cfg->worker;
	char *shell[] = {"/bin/sh", "-c", wk->cmd.command, "jobsync", t->id, NULL};
	char **argv = wk->cmd.shell ? NULL : argv_subst(st->argv, t->id);
	char **env = work_env(w, t);
	char name[96];
	struct exec_slot *slot = calloc(1, sizeof *slot);
	int rc = -ENOMEM;

	snprintf(name, sizeof name, "task:%.80s", t->id);
	struct child_spec spec = {
		.name = name, .argv = wk->cmd.shell ? shell : argv, .env = env,
		.cwd = wk->cmd.cwd && *wk->cmd.cwd ? wk->cmd.cwd : NULL,
		.stop_signal = wk->cmd.stop_signal,
		.stop_timeout_ms = (uint64_t)wk->cmd.stop_timeout_sec * 1000,
		.max_line = (size_t)wk->max_line, .stderr_tail = 2048,
	};
	if (slot && env && spec.argv)
		rc = child_spawn(w->n->loop, &spec, &exec_events, slot, &slot->c);
	if (rc < 0) {
		char msg[512];
		snprintf(msg, sizeof msg, "cannot start the worker '%s': %s",
			 spec.argv ? spec.argv[0] : wk->cmd.command, strerror(-rc));
		argv_free(argv);
		work_env_free(env);
		free(slot);
		work_finished(w, t, false, rc == -ENOENT ? 127 : 126, msg);
		return;
	}
	argv_free(argv);
	work_env_free(env);
	slot->w = w;
	slot->t = t;
	uv_timer_init(w->n->loop, &slot->timer);
	slot->timer.data = slot;
	if (wk->task_timeout_sec > 0)
		uv_timer_start(&slot->timer, on_timer, (uint64_t)wk->task_timeout_sec * 1000, 0);
	slot->next = st->head;
	if (st->head)
		st->head->prev = slot;
	st->head = slot;
	st->running++;
}

static void exec_stop_all(struct work *w, uint64_t grace_ms)
{
	struct exec_state *st = w->mode_state;
	for (struct exec_slot *s = st->head; s; s = s->next) {
		if (grace_ms == 0) {
			child_kill(s->c);
			continue;
		}
		child_stop(s->c);
		s->stopping = true;
		uv_timer_start(&s->timer, on_timer, grace_ms, 0);
	}
}

/*
 * SIGHUP changed [worker]: tasks started from now on use the new command,
 * timeouts and limits (free_slots reads concurrency live); running tasks
 * finish as they were started.
 */
static void exec_reload(struct work *w, const struct config *old)
{
	struct exec_state *st = w->mode_state;
	const struct config_command *cmd = &w->n->cfg->worker.cmd;
	char **argv = NULL;
	const char *err = NULL;

	(void)old;
	if (!cmd->shell && argv_split(cmd->command, &argv, &err) < 0) {
		/* config validation splits it too: not expected */
		log_error("reload: [worker] command: %s; new tasks keep the previous command", err);
		return;
	}
	argv_free(st->argv);
	st->argv = argv;
	if (st->running)
		log_info("worker: new tasks start with the reloaded settings; %zu running tasks "
			 "finish as they were started", st->running);
}

static void exec_free(struct work *w)
{
	struct exec_state *st = w->mode_state;
	if (!st)
		return;
	argv_free(st->argv);
	free(st);
	w->mode_state = NULL;
}

/* Status: one child per running task. */
static void exec_status(struct work *w, json_t *children)
{
	struct exec_state *st = w->mode_state;
	char name[32];
	int i = 0;
	for (struct exec_slot *s = st->head; s; s = s->next) {
		snprintf(name, sizeof name, "task-%d", i++);
		json_array_append_new(children, snapshot_child(w->n, name, child_pid(s->c),
			s->stopping ? "stopping" : "running", s->t->id,
			child_started_ms(s->c), (unsigned)(s->t->attempts > 0 ? s->t->attempts - 1 : 0)));
	}
}

const struct mode_ops mode_exec_ops = {
	.name = "exec",
	.init = exec_init,
	.free_slots = exec_free_slots,
	.start = exec_start,
	.stop_all = exec_stop_all,
	.active = exec_active,
	.status = exec_status,
	.reload = exec_reload,
	.free = exec_free,
};
