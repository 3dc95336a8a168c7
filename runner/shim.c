/* shim.c: `jobsync __child`: leads the child's process group and takes it down when the node dies. */
#include "runner/child.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A signal no worker is ever sent: the parent-death signal. */
#define SHIM_DEATH_SIGNAL (SIGRTMIN + 1)

static bool shim_parse_int(const char *s, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 10);
	return errno == 0 && end != s && *end == '\0';
}

/* The node is gone: SIGKILL to the whole group, this shim included. */
static void shim_kill_group(void)
{
	kill(0, SIGKILL);
	_exit(137);
}

/* In the forked command: default signal dispositions and mask, then exec; 127/126 if that fails. */
static void shim_exec(char **argv)
{
	struct sigaction sa;
	sigset_t none;
	int e;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (int s = 1; s < NSIG; s++)
		if (s != SIGKILL && s != SIGSTOP)
			sigaction(s, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execvp(argv[0], argv);
	e = errno;
	dprintf(2, "jobsync: cannot run %s: %s\n", argv[0], strerror(e));
	_exit(e == ENOENT || e == ENOTDIR ? 127 : 126);
}

/* Leave the command alone with stdin and stdout: the node sees EOF / EPIPE when it closes them. */
static void shim_detach_stdio(void)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return;
	dup2(fd, 0);
	dup2(fd, 1);
	if (fd > 2)
		close(fd);
}

/* Exit as the command did: its code, or its signal re-raised (without a core dump). */
static void shim_exit_like(int status)
{
	struct rlimit none = { 0, 0 };
	struct sigaction sa;
	sigset_t set;
	int sig;

	if (WIFEXITED(status))
		_exit(WEXITSTATUS(status));
	sig = WTERMSIG(status);
	setrlimit(RLIMIT_CORE, &none);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(sig, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
	_exit(128 + sig);
}

/*
 * argv: EXE "__child" STOPSIG PPID "--" COMMAND ARGS... The shim leads a new
 * session (uv_spawn's UV_PROCESS_DETACHED) and forks the command into its
 * own process group. It ignores STOPSIG (the node sends it to the whole
 * group; the command gets it directly), waits for the command and exits
 * like it. When PPID (the node) dies, the parent-death signal makes it
 * SIGKILL the group; a 1 s getppid() poll backs that up.
 */
int child_shim_main(int argc, char **argv)
{
	int death = SHIM_DEATH_SIGNAL, status;
	long stopsig, ppid;
	sigset_t set;
	pid_t pid, r;

	if (argc < 6 || strcmp(argv[1], "__child") != 0 || !shim_parse_int(argv[2], &stopsig) ||
	    !shim_parse_int(argv[3], &ppid) || strcmp(argv[4], "--") != 0) {
		fprintf(stderr, "usage: jobsync __child STOPSIG PPID -- COMMAND [ARGS...]\n");
		return 126;
	}
	if (getpgrp() != getpid() && setsid() < 0) /* never kill a group it does not lead */
		setpgid(0, 0);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, death);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (prctl(PR_SET_PDEATHSIG, death) < 0) {
		fprintf(stderr, "jobsync: __child: PR_SET_PDEATHSIG: %s\n", strerror(errno));
		return 126;
	}
	if (getppid() != (pid_t)ppid)
		shim_kill_group();
	if (stopsig > 0 && stopsig < NSIG && stopsig != SIGKILL && stopsig != SIGSTOP &&
	    stopsig != SIGCHLD && stopsig != death)
		signal((int)stopsig, SIG_IGN);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "jobsync: cannot run %s: fork: %s\n", argv[5], strerror(errno));
		return 126;
	}
	if (pid == 0)
		shim_exec(argv + 5);
	shim_detach_stdio();
	for (;;) {
		struct timespec ts = { 1, 0 };
		int sig = sigtimedwait(&set, NULL, &ts);

		if (sig == death || getppid() != (pid_t)ppid)
			shim_kill_group();
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			shim_exit_like(status);
		if (r < 0 && errno != EINTR) {
			fprintf(stderr, "jobsync: __child: waitpid: %s\n", strerror(errno));
			shim_kill_group();
		}
	}
}
