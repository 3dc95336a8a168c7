/* child.c: a child in its own process group: resolve, register, report its exit once, stop or kill the group. */
#include "runner/child_io.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Pids of live children started here (the reaper must not take their exits). */
static int *ours;
static size_t ours_len, ours_cap;

/* Room for one more pid, so that adding after the spawn cannot fail. */
static int ours_reserve(void)
{
	int *n;

	if (ours_len < ours_cap)
		return 0;
	n = realloc(ours, (ours_cap ? ours_cap * 2 : 16) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	ours = n;
	ours_cap = ours_cap ? ours_cap * 2 : 16;
	return 0;
}

static void ours_remove(int pid)
{
	for (size_t i = 0; i < ours_len; i++) {
		if (ours[i] == pid) {
			ours[i] = ours[--ours_len];
			break;
		}
	}
	if (ours_len == 0) {
		free(ours);
		ours = NULL;
		ours_cap = 0;
	}
}

bool child_is_ours(int pid)
{
	if (pid > 0 && pid == child_guard_pid())
		return true;
	for (size_t i = 0; i < ours_len; i++)
		if (ours[i] == pid)
			return true;
	return false;
}

/* 0 if path is an executable file, else -ENOENT or -EACCES. */
static int child_check_file(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return errno == EACCES ? -EACCES : -ENOENT;
	if (S_ISDIR(st.st_mode) || access(path, X_OK) < 0)
		return -EACCES;
	return 0;
}

/* Join dir (may be empty: ".") and name under cwd (NULL: the node's) into buf. */
static int child_join(char *buf, size_t size, const char *cwd, const char *dir, size_t dlen,
		      const char *name)
{
	int n;

	if (dlen == 0) {
		dir = ".";
		dlen = 1;
	}
	if (dir[0] != '/' && cwd)
		n = snprintf(buf, size, "%s/%.*s/%s", cwd, (int)dlen, dir, name);
	else
		n = snprintf(buf, size, "%.*s/%s", (int)dlen, dir, name);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/*
 * Find argv[0] as execvp() in the child would: a name with a slash is a path
 * (relative to cwd), else each entry of PATH from the child's env. Checked
 * before spawning so that "not found" is an error here, not an exit 127.
 * out gets the path to exec, as seen from the child's cwd.
 */
static int child_resolve(const char *file, char *const *env, const char *cwd, char *out,
			 size_t size)
{
	const char *path = "/usr/local/bin:/usr/bin:/bin";
	char buf[PATH_MAX];
	int r, best = -ENOENT;

	if (!file || !file[0])
		return -ENOENT;
	if (strchr(file, '/')) {
		if ((size_t)snprintf(out, size, "%s", file) >= size)
			return -ENAMETOOLONG;
		if (file[0] == '/' || !cwd)
			return child_check_file(file);
		r = child_join(buf, sizeof(buf), NULL, cwd, strlen(cwd), file);
		return r < 0 ? r : child_check_file(buf);
	}
	for (char *const *e = env; e && *e; e++)
		if (strncmp(*e, "PATH=", 5) == 0)
			path = *e + 5;
	for (const char *p = path;; p++) {
		const char *end = strchrnul(p, ':');

		if (child_join(buf, sizeof(buf), cwd, p, (size_t)(end - p), file) == 0) {
			r = child_check_file(buf);
			if (r == 0)
				return child_join(out, size, NULL, p, (size_t)(end - p), file);
			if (r == -EACCES)
				best = r;
		}
		if (*end == '\0')
			break;
		p = end;
	}
	return best;
}

/* A handle closed; the last one frees the child (only once child_free asked). */
void child_handle_closed(uv_handle_t *h)
{
	struct child *c = h->data;

	if (--c->handles > 0 || !c->freeing)
		return;
	child_io_release(c);
	free(c->name);
	free(c);
}

/* Close a handle once if it was initialized (calloc leaves the type unknown). */
void child_close_handle(uv_handle_t *h)
{
	if (h->type != UV_UNKNOWN_HANDLE && !uv_is_closing(h))
		uv_close(h, child_handle_closed);
}

/* Close every handle still open; the last close callback frees. */
static void child_close_all(struct child *c)
{
	child_io_close(c);
	child_close_handle((uv_handle_t *)&c->timer);
	child_process_close(c);
}

/* Exited and drained: on_exit, exactly once (or the deferred free). */
void child_check_done(struct child *c)
{
	if (c->done || !c->exited || !child_io_drained(c))
		return;
	c->done = true;
	uv_timer_stop(&c->timer);
	if (c->freeing)
		child_close_all(c);
	else if (c->ev.on_exit)
		c->ev.on_exit(c, c->exit_status, c->term_signal, c->ud);
}

static void child_on_grace(uv_timer_t *t)
{
	struct child *c = t->data;

	child_io_cut(c);
	child_check_done(c);
}

/*
 * The child was reaped (by its pidfd, or by libuv by pid), and what was left
 * of its process group killed: no orphan outlives its task; then the guard
 * forgets the group. Output still held open by a process that left the group
 * is cut after CHILD_GRACE_MS.
 */
void child_exited(struct child *c, int exit_status, int term_signal)
{
	ours_remove(c->pid);
	c->exited = true;
	c->exit_status = exit_status;
	c->term_signal = term_signal;
	child_guard_remove(c->pid, c->guard_gen);
	c->guard_gen = 0;
	uv_timer_stop(&c->timer);
	child_io_on_exit(c);
	if (!child_io_drained(c))
		uv_timer_start(&c->timer, child_on_grace, CHILD_GRACE_MS, 0);
	child_check_done(c);
}

/*
 * Resolve argv[0], set up the pipes and start the process (child_spawn.c:
 * posix_spawn, a new session and group, default signals, empty mask). Its
 * pid is registered as ours and its group with the guard before control
 * goes back to the loop, so the reaper never takes its exit.
 */
int child_spawn(uv_loop_t *loop, const struct child_spec *spec, const struct child_events *ev,
		void *ud, struct child **out)
{
	char path[PATH_MAX];
	struct child *c = NULL;
	int r;

	*out = NULL;
	if (!spec->argv || !spec->argv[0])
		return -EINVAL;
	r = child_resolve(spec->argv[0], spec->env, spec->cwd, path, sizeof(path));
	if (r < 0)
		return r;
	if (ours_reserve() < 0)
		return -ENOMEM;
	c = calloc(1, sizeof(*c));
	if (!c || !(c->name = strdup(spec->name ? spec->name : "child"))) {
		r = -ENOMEM;
		goto cleanup;
	}
	c->loop = loop;
	c->ev = *ev;
	c->ud = ud;
	c->pidfd = -1;
	c->stop_signal = spec->stop_signal > 0 ? spec->stop_signal : SIGTERM;
	c->stop_timeout_ms = spec->stop_timeout_ms;
	uv_timer_init(loop, &c->timer);
	c->timer.data = c;
	c->handles++;
	r = child_io_init(c, spec);
	if (r < 0)
		goto cleanup;
	r = child_process_start(c, spec, path);
	if (r < 0)
		goto cleanup;
	ours[ours_len++] = c->pid;
	c->guard_gen = child_guard_add(c->pid);
	c->started_ms = uv_hrtime() / 1000000;
	r = child_io_start(c);
	if (r < 0) {
		child_kill(c);
		c->freeing = true; /* freed once the exit is reaped */
		goto cleanup;
	}
	*out = c;
	c = NULL;
cleanup:
	if (c && !c->freeing) {
		c->freeing = true;
		if (c->handles > 0) {
			child_close_all(c);
		} else {
			free(c->name);
			free(c);
		}
	}
	return r;
}

static void child_on_stop_timeout(uv_timer_t *t)
{
	struct child *c = t->data;

	if (!c->exited)
		kill(-c->pid, SIGKILL);
}

void child_stop(struct child *c)
{
	if (!c || c->exited || c->stopping)
		return;
	c->stopping = true;
	kill(-c->pid, c->stop_signal);
	if (c->stop_signal != SIGKILL)
		uv_timer_start(&c->timer, child_on_stop_timeout, c->stop_timeout_ms, 0);
}

void child_kill(struct child *c)
{
	if (!c || c->exited)
		return;
	c->stopping = true;
	kill(-c->pid, SIGKILL);
}

int child_pid(const struct child *c)
{
	return c->pid;
}

const char *child_name(const struct child *c)
{
	return c->name;
}

uint64_t child_started_ms(const struct child *c)
{
	return c->started_ms;
}

/*
 * Release after on_exit; handles close asynchronously. Called earlier, it
 * SIGKILLs the group, suppresses every callback, and frees after the exit.
 */
void child_free(struct child *c)
{
	if (!c || c->freeing)
		return;
	c->freeing = true;
	if (!c->done) {
		child_kill(c);
		return;
	}
	child_close_all(c);
}
