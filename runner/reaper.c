/* reaper.c: reap orphans re-parented to the node (PID 1 or subreaper) without taking libuv's exits. */
#include "runner/reaper.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runner/child.h"

static uv_signal_t reaper_sig;
static bool reaper_running, reaper_closing, reaper_set_flag;
static unsigned long reaper_count;

/* A small growable list of pids. */
struct reaper_pids {
	int *v;
	size_t n, cap;
};

static void reaper_push(struct reaper_pids *p, int pid)
{
	int *nv;

	if (p->n == p->cap) {
		nv = realloc(p->v, (p->cap ? p->cap * 2 : 32) * sizeof(*nv));
		if (!nv)
			return; /* the next SIGCHLD retries */
		p->v = nv;
		p->cap = p->cap ? p->cap * 2 : 32;
	}
	p->v[p->n++] = pid;
}

/* Read /proc/PID/stat: the state letter and the parent pid; false when gone. */
static bool reaper_stat(int pid, char *state, int *ppid)
{
	char path[64], buf[1024], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %c %d", state, ppid) != 2)
		return false;
	return true;
}

/* Children of every thread of this process, from /proc/self/task/TID/children. */
static bool reaper_list_children(struct reaper_pids *out)
{
	char path[320];
	struct dirent *e;
	bool any = false;
	DIR *d = opendir("/proc/self/task");
	FILE *f;
	int pid;

	if (!d)
		return false;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/children", e->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		any = true;
		while (fscanf(f, "%d", &pid) == 1)
			reaper_push(out, pid);
		fclose(f);
	}
	closedir(d);
	return any;
}

/* Fallback without CONFIG_PROC_CHILDREN: every process whose parent is us. */
static void reaper_list_by_ppid(struct reaper_pids *out)
{
	struct dirent *e;
	DIR *d = opendir("/proc");
	int self = (int)getpid(), ppid;
	char state;

	if (!d)
		return;
	while ((e = readdir(d))) {
		int pid = atoi(e->d_name);

		if (pid > 0 && reaper_stat(pid, &state, &ppid) && ppid == self)
			reaper_push(out, pid);
	}
	closedir(d);
}

/* Reap every zombie child that is not the runner's (libuv reaps those by pid). */
static void reaper_scan(void)
{
	struct reaper_pids kids = { NULL, 0, 0 };
	char state;
	int ppid, status;

	if (!reaper_list_children(&kids))
		reaper_list_by_ppid(&kids);
	for (size_t i = 0; i < kids.n; i++) {
		int pid = kids.v[i];

		if (child_is_ours(pid) || !reaper_stat(pid, &state, &ppid) || state != 'Z')
			continue;
		if (waitpid(pid, &status, WNOHANG) == pid)
			reaper_count++;
	}
	free(kids.v);
}

static void reaper_on_sigchld(uv_signal_t *h, int signum)
{
	(void)h;
	(void)signum;
	reaper_scan();
}

static void reaper_closed(uv_handle_t *h)
{
	(void)h;
	reaper_closing = false;
}

int reaper_start(uv_loop_t *loop, bool force_subreaper)
{
	int r;

	if (reaper_running || reaper_closing)
		return -EBUSY;
	if (getpid() == 1 || force_subreaper) {
		if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
			return -errno;
		reaper_set_flag = getpid() != 1;
	}
	r = uv_signal_init(loop, &reaper_sig);
	if (r < 0)
		return r;
	r = uv_signal_start(&reaper_sig, reaper_on_sigchld, SIGCHLD);
	if (r < 0) {
		reaper_closing = true;
		uv_close((uv_handle_t *)&reaper_sig, reaper_closed);
		return r;
	}
	uv_unref((uv_handle_t *)&reaper_sig);
	reaper_running = true;
	reaper_scan(); /* orphans that died before we watched */
	return 0;
}

void reaper_stop(void)
{
	if (!reaper_running)
		return;
	reaper_running = false;
	reaper_closing = true;
	uv_close((uv_handle_t *)&reaper_sig, reaper_closed);
	if (reaper_set_flag)
		prctl(PR_SET_CHILD_SUBREAPER, 0);
	reaper_set_flag = false;
}

unsigned long reaper_reaped(void)
{
	return reaper_count;
}
