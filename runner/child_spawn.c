/* child_spawn.c: start a child's process with posix_spawn (no page-table copy) and watch its exit through a pidfd. */
#include "runner/child_io.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int spawn_mode;  /* 0 = not probed yet, 1 = posix_spawn + pidfd, -1 = uv_spawn */

static int child_pidfd_open(int pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/*
 * Once per process: can exits be watched through a pidfd (Linux 5.3+)? If
 * not, children go through uv_spawn (fork) as before. A SIGCHLD ignored by
 * the node would let the kernel reap our children before waitid: libuv's
 * own SIGCHLD handler avoids that for uv_spawn, the default does it here.
 */
static bool child_use_pidfd(void)
{
	struct sigaction sa;
	int fd;

	if (spawn_mode == 0) {
		fd = child_pidfd_open((int)getpid());
		if (fd >= 0)
			close(fd);
		spawn_mode = fd >= 0 || (errno != ENOSYS && errno != EPERM) ? 1 : -1;
		if (spawn_mode > 0 && sigaction(SIGCHLD, NULL, &sa) == 0 &&
		    sa.sa_handler == SIG_IGN) {
			memset(&sa, 0, sizeof(sa));
			sa.sa_handler = SIG_DFL;
			sigaction(SIGCHLD, &sa, NULL);
		}
	}
	return spawn_mode > 0;
}

void child_spawn_use_fork(bool on)
{
	spawn_mode = on ? -1 : 0;
}

/*
 * The pidfd is readable: the child ended. What is left of its group is
 * SIGKILLed while the zombie still holds the pgid (it cannot be reused),
 * then the zombie is reaped through the pidfd: never waitpid(-1), so no
 * other exit is taken.
 */
static void child_on_pidfd(uv_poll_t *h, int status, int events)
{
	struct child *c = h->data;
	int exit_status = 0, term_signal = 0, r;
	siginfo_t info;

	(void)events;
	memset(&info, 0, sizeof(info));
	do
		r = waitid(P_PIDFD, (id_t)c->pidfd, &info, WEXITED | WNOHANG | WNOWAIT);
	while (r < 0 && errno == EINTR);
	if ((r < 0 && errno == EAGAIN) || (r == 0 && info.si_pid == 0)) {
		if (status < 0) /* libuv stopped the watcher on an error: watch again */
			uv_poll_start(h, UV_READABLE, child_on_pidfd);
		return; /* not yet */
	}
	if (r == 0)
		kill(-c->pid, SIGKILL);
	memset(&info, 0, sizeof(info));
	do
		r = waitid(P_PIDFD, (id_t)c->pidfd, &info, WEXITED | WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r < 0 || info.si_pid == 0) {
		fprintf(stderr, "jobsync: child %d: cannot read its exit status: %s\n", c->pid,
			r < 0 ? strerror(errno) : "not reaped");
		exit_status = 255;
	} else if (info.si_code == CLD_EXITED) {
		exit_status = info.si_status;
	} else {
		term_signal = info.si_status; /* CLD_KILLED or CLD_DUMPED */
	}
	child_process_close(c);
	child_exited(c, exit_status, term_signal);
}

/* As execvp does for a file without "#!": run it with /bin/sh. */
static int child_spawn_script(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
			      const posix_spawnattr_t *attr, char *const *argv, char *const *env)
{
	size_t n = 0;
	char **v;
	int r;

	while (argv[n])
		n++;
	v = calloc(n + 2, sizeof(*v));
	if (!v)
		return ENOMEM;
	v[0] = "/bin/sh";
	v[1] = (char *)path;
	for (size_t i = 1; i < n; i++)
		v[i + 1] = argv[i];
	r = posix_spawn(pid, "/bin/sh", fa, attr, v, env);
	free(v);
	return r;
}

/* stdin (/dev/null or the pipe), stdout and stderr pipes, the parent's ends closed, then cwd. */
static int child_file_actions(posix_spawn_file_actions_t *fa, struct child *c, const int fds[3],
			      const char *cwd)
{
	uv_os_fd_t fd;
	int r = 0;

	if (c->in_init && uv_fileno((uv_handle_t *)&c->in, &fd) == 0)
		r = posix_spawn_file_actions_addclose(fa, fd);
	for (int i = 0; i < 2 && r == 0; i++)
		if (uv_fileno((uv_handle_t *)&c->out[i].pipe, &fd) == 0)
			r = posix_spawn_file_actions_addclose(fa, fd);
	if (r == 0 && fds[0] >= 0)
		r = posix_spawn_file_actions_adddup2(fa, fds[0], 0);
	else if (r == 0)
		r = posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDONLY, 0);
	for (int i = 1; i < 3 && r == 0; i++)
		r = posix_spawn_file_actions_adddup2(fa, fds[i], i);
	if (r == 0 && cwd)
		r = posix_spawn_file_actions_addchdir_np(fa, cwd);
	return r;
}

/*
 * posix_spawn (clone with CLONE_VM | CLONE_VFORK: no copy of the node's
 * page tables): a new session and process group (pgid = pid), every
 * catchable signal back to its default (SIGPIPE ignored by the node is not
 * inherited), an empty mask. An exec failure comes back as its errno.
 */
static int child_posix_spawn(struct child *c, const struct child_spec *spec, const char *path)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	char *const *env = spec->env ? spec->env : environ;
	sigset_t none, all;
	int fds[3], r;
	pid_t pid = 0;

	r = child_io_pipes(c, fds);
	if (r < 0)
		return r;
	sigemptyset(&none);
	sigfillset(&all);
	sigdelset(&all, SIGKILL);
	sigdelset(&all, SIGSTOP);
	posix_spawnattr_init(&attr);
	posix_spawn_file_actions_init(&fa);
	r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
				     POSIX_SPAWN_SETSIGDEF);
	if (r == 0)
		r = posix_spawnattr_setsigmask(&attr, &none);
	if (r == 0)
		r = posix_spawnattr_setsigdefault(&attr, &all);
	if (r == 0)
		r = child_file_actions(&fa, c, fds, spec->cwd);
	if (r == 0)
		r = posix_spawn(&pid, path, &fa, &attr, spec->argv, env);
	if (r == ENOEXEC)
		r = child_spawn_script(&pid, path, &fa, &attr, spec->argv, env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	child_io_close_fds(fds);
	if (r != 0)
		return -r;
	c->pid = (int)pid;
	return 0;
}

/* Watch the new process's pidfd; on failure the process is killed and reaped here. */
static int child_watch(struct child *c)
{
	int r;

	c->pidfd = child_pidfd_open(c->pid);
	if (c->pidfd < 0) {
		r = -errno;
		goto fail;
	}
	r = uv_poll_init(c->loop, &c->exit_poll, c->pidfd);
	if (r < 0)
		goto fail;
	c->exit_poll.data = c;
	c->handles++;
	r = uv_poll_start(&c->exit_poll, UV_READABLE, child_on_pidfd);
	if (r == 0)
		return 0;
fail:
	kill(-c->pid, SIGKILL);
	while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
		;
	c->pid = 0;
	return r;
}

/* The uv_spawn fallback: libuv reaped the child by pid; then its group is killed. */
static void child_on_uv_exit(uv_process_t *p, int64_t status, int sig)
{
	struct child *c = p->data;

	kill(-c->pid, SIGKILL);
	child_exited(c, (int)status, sig);
}

/*
 * Without pidfd_open: uv_spawn (fork) detached (setsid: new session and
 * group); libuv resets every signal disposition and empties the mask.
 */
static int child_uv_spawn(struct child *c, const struct child_spec *spec, const char *path)
{
	uv_process_options_t opt;
	uv_stdio_container_t stdio[3];
	int r;

	child_io_stdio(c, stdio);
	memset(&opt, 0, sizeof(opt));
	opt.exit_cb = child_on_uv_exit;
	opt.file = path;
	opt.args = (char **)spec->argv;
	opt.env = (char **)spec->env;
	opt.cwd = spec->cwd;
	opt.flags = UV_PROCESS_DETACHED;
	opt.stdio_count = 3;
	opt.stdio = stdio;
	c->proc.data = c;
	r = uv_spawn(c->loop, &c->proc, &opt);
	c->handles++; /* initialized even when the spawn failed */
	if (r == 0)
		c->pid = c->proc.pid;
	return r;
}

int child_process_start(struct child *c, const struct child_spec *spec, const char *path)
{
	int r;

	if (!child_use_pidfd())
		return child_uv_spawn(c, spec, path);
	r = child_posix_spawn(c, spec, path);
	return r < 0 ? r : child_watch(c);
}

void child_process_close(struct child *c)
{
	child_close_handle((uv_handle_t *)&c->proc);
	child_close_handle((uv_handle_t *)&c->exit_poll); /* stops the watcher at once */
	if (c->pidfd >= 0)
		close(c->pidfd);
	c->pidfd = -1;
}
