/* test_guard.c: the node's guard kills its children's groups when the node dies or freezes; spawn cost. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runner/child.h"

#define MS(ns) ((ns) / 1000000)

static char *const test_env[] = { "PATH=/usr/bin:/bin", "LC_ALL=C", NULL };

/* What the children of one loop reported. */
struct rec {
	uv_loop_t *loop;
	int exits, status, sig, running, started, total;
	struct child *c;
};

static void on_exit_cb(struct child *c, int status, int sig, void *ud)
{
	struct rec *r = ud;

	r->exits++;
	r->status = status;
	r->sig = sig;
	(void)c;
}

static const struct child_events events = { NULL, on_exit_cb, NULL };

static int spawn(uv_loop_t *loop, const char *script, struct rec *r, struct child **out)
{
	const char *argv[] = { "sh", "-c", script, NULL };
	struct child_spec spec = {
		.name = "guarded", .argv = (char *const *)argv, .env = test_env,
		.stop_signal = SIGTERM, .stop_timeout_ms = 5000, .max_line = 256,
	};

	return child_spawn(loop, &spec, &events, r, out);
}

/* Live (non-zombie) processes in process group pgid; pid alone when pgid < 0. */
static int count(int pgid, int pid)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d))) {
		char path[300], buf[512], *p, st;
		int p_id = atoi(e->d_name), ppid, pgrp;
		FILE *f;
		size_t k;

		if (p_id <= 0 || (pid > 0 && p_id != pid))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", p_id);
		if (!(f = fopen(path, "r")))
			continue;
		k = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[k] = '\0';
		p = strrchr(buf, ')');
		if (p && sscanf(p + 1, " %c %d %d", &st, &ppid, &pgrp) == 3 &&
		    (pid > 0 || pgrp == pgid) && st != 'Z' && st != 'X')
			n++;
	}
	closedir(d);
	return n;
}

/* ms until the group (or the pid) is gone, or -1 after limit_ms. */
static int gone_after(int pgid, int pid, int limit_ms)
{
	uint64_t t0 = uv_hrtime();

	while (count(pgid, pid) > 0) {
		if (MS(uv_hrtime() - t0) > (uint64_t)limit_ms)
			return -1;
		usleep(5000);
	}
	return (int)MS(uv_hrtime() - t0);
}

/* Wait until pid ignores SIGTERM (the guard is past its start-up). */
static bool ignores_term(int pid)
{
	char path[64], line[256];
	unsigned long long ign = 0;
	bool found = false;

	for (int i = 0; i < 500 && !found; i++) {
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/status", pid);
		assert_non_null(f = fopen(path, "r"));
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "SigIgn: %llx", &ign) == 1)
				found = ign & (1ULL << (SIGTERM - 1));
		fclose(f);
		if (!found)
			usleep(10000);
	}
	return found;
}

/* Read n ints from fd within 10 s. */
static void read_ints(int fd, int *v, size_t n)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	assert_int_equal(poll(&pfd, 1, 10000), 1);
	assert_int_equal(read(fd, v, n * sizeof(*v)), (ssize_t)(n * sizeof(*v)));
}

/*
 * In a forked helper "node": a guard (silence_ms) and one child group of
 * three (sh and two sleeps); reports the pgid and the guard's pid on fd,
 * then runs the loop. After the child's exit it reports the signal, runs one
 * more child (exit 7), stops the guard and checks the loop closes.
 */
static void helper_node(int fd, uint64_t silence_ms)
{
	struct rec r;
	uv_loop_t loop;
	int v[2];

	memset(&r, 0, sizeof(r));
	if (uv_loop_init(&loop) != 0 || child_guard_start(&loop, NULL, silence_ms) != 0)
		_exit(10);
	if (spawn(&loop, "sleep 1000 & sleep 1000 & wait", &r, &r.c) != 0)
		_exit(11);
	v[0] = child_pid(r.c);
	v[1] = child_guard_pid();
	if (write(fd, v, sizeof(v)) != (ssize_t)sizeof(v))
		_exit(12);
	uv_run(&loop, UV_RUN_DEFAULT);
	if (r.exits != 1 || write(fd, &r.sig, sizeof(r.sig)) != (ssize_t)sizeof(r.sig))
		_exit(13);
	child_free(r.c);
	r.c = NULL;
	if (spawn(&loop, "exit 7", &r, &r.c) != 0)
		_exit(14);
	uv_run(&loop, UV_RUN_DEFAULT);
	if (r.exits != 2 || r.status != 7)
		_exit(15);
	child_free(r.c);
	child_guard_stop();
	uv_run(&loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&loop) != 0 || child_guard_pid() != 0 || kill(v[1], 0) == 0)
		_exit(16);
	_exit(0);
}

/* Fork a helper node; return its pid, the group's pgid and the guard's pid once the group is up. */
static pid_t helper_start(uint64_t silence_ms, int *fd, int *pgid, int *guard)
{
	int fds[2], v[2];
	pid_t helper;

	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	helper = fork();
	assert_true(helper >= 0);
	if (helper == 0) {
		close(fds[0]);
		helper_node(fds[1], silence_ms);
	}
	close(fds[1]);
	read_ints(fds[0], v, 2);
	*fd = fds[0];
	*pgid = v[0];
	*guard = v[1];
	assert_true(*pgid > 0 && *guard > 0);
	for (int i = 0; i < 500 && count(*pgid, 0) < 3; i++)
		usleep(10000);
	assert_true(count(*pgid, 0) >= 3); /* sh and two sleeps */
	assert_int_equal(count(0, *guard), 1);
	return helper;
}

/* The node is SIGKILLed: the guard reads EOF and kills the group at once, then exits. */
static void test_parent_death(void **state)
{
	int fd, pgid, guard, st, ms;
	pid_t helper;

	(void)state;
	helper = helper_start(60000, &fd, &pgid, &guard);
	assert_int_equal(kill(helper, SIGKILL), 0);
	assert_int_equal(waitpid(helper, &st, 0), helper);
	ms = gone_after(pgid, 0, 5000);
	print_message("parent death: group gone %d ms after the node's SIGKILL\n", ms);
	assert_true(ms >= 0);
	assert_true(gone_after(0, guard, 5000) >= 0);
	close(fd);
}

/* The node is SIGSTOPped: after the silence the guard kills the group; resumed, the node sees it. */
static void test_frozen_parent(void **state)
{
	int fd, pgid, guard, st, sig = 0, ms;
	pid_t helper;

	(void)state;
	helper = helper_start(500, &fd, &pgid, &guard);
	usleep(800000); /* longer than the silence: the keepalive holds the guard back */
	assert_true(count(pgid, 0) >= 3);
	assert_int_equal(kill(helper, SIGSTOP), 0);
	ms = gone_after(pgid, 0, 5000);
	print_message("frozen parent: group gone %d ms after the node's SIGSTOP (silence 500)\n", ms);
	assert_true(ms >= 0);
	assert_int_equal(count(0, guard), 1); /* the guard keeps waiting */
	assert_int_equal(kill(helper, SIGCONT), 0);
	read_ints(fd, &sig, 1);
	assert_int_equal(sig, SIGKILL);
	assert_int_equal(waitpid(helper, &st, 0), helper);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0); /* loop healthy, guard stopped, loop closed */
	close(fd);
}

/* The guard ignores terminal signals, lets a healthy node's children run, and stops cleanly. */
static void test_clean_stop(void **state)
{
	struct rec r;
	uv_loop_t loop;
	int guard;

	(void)state;
	memset(&r, 0, sizeof(r));
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(child_guard_start(&loop, NULL, 300), 0);
	assert_int_equal(child_guard_start(&loop, NULL, 300), -EBUSY);
	guard = child_guard_pid();
	assert_true(guard > 0 && child_is_ours(guard));
	assert_true(ignores_term(guard));
	kill(guard, SIGTERM);
	kill(guard, SIGINT);
	kill(guard, SIGHUP);
	assert_int_equal(spawn(&loop, "sleep 1; exit 4", &r, &r.c), 0); /* > silence */
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(r.exits, 1);
	assert_int_equal(r.status, 4);
	assert_int_equal(count(0, guard), 1);
	child_free(r.c);
	child_guard_stop();
	child_guard_stop();
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(child_guard_pid(), 0);
	assert_true(kill(guard, 0) < 0 && errno == ESRCH); /* reaped by libuv */
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* Stopped while a child still runs: the guard waits for its group's end, then exits. */
static void test_stop_waits(void **state)
{
	struct rec r;
	uv_loop_t loop;
	int guard;

	(void)state;
	memset(&r, 0, sizeof(r));
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(child_guard_start(&loop, NULL, 5000), 0);
	guard = child_guard_pid();
	assert_int_equal(spawn(&loop, "sleep 1000", &r, &r.c), 0);
	child_guard_stop();
	for (int i = 0; i < 20; i++)
		uv_run(&loop, UV_RUN_NOWAIT);
	usleep(200000);
	assert_int_equal(count(0, guard), 1);
	assert_int_equal(r.exits, 0);
	child_stop(r.c);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(r.exits, 1);
	assert_int_equal(r.sig, SIGTERM); /* the stop signal, not the guard's SIGKILL */
	assert_true(kill(guard, 0) < 0 && errno == ESRCH);
	child_free(r.c);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

/* Keep two /bin/true running until r->total have run. */
static void cost_on_exit(struct child *c, int status, int sig, void *ud);
static const struct child_events cost_events = { NULL, cost_on_exit, NULL };

static void cost_spawn(uv_loop_t *loop, struct rec *r)
{
	static const char *const argv[] = { "/bin/true", NULL };
	struct child_spec spec = {
		.name = "true", .argv = (char *const *)argv, .env = test_env,
		.stop_signal = SIGTERM, .stop_timeout_ms = 1000,
	};
	struct child *c;

	assert_int_equal(child_spawn(loop, &spec, &cost_events, r, &c), 0);
	r->started++;
	r->running++;
}

static void cost_on_exit(struct child *c, int status, int sig, void *ud)
{
	struct rec *r = ud;

	assert_int_equal(status, 0);
	assert_int_equal(sig, 0);
	r->running--;
	r->exits++;
	if (r->started < r->total)
		cost_spawn(r->loop, r);
	child_free(c);
}

/* ms for 2000 `/bin/true`, 2 at a time, through child_spawn with the guard on. */
static uint64_t cost_run(void)
{
	struct rec r;
	uv_loop_t loop;
	uint64_t t0, ns;

	memset(&r, 0, sizeof(r));
	r.total = 2000;
	r.loop = &loop;
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(child_guard_start(&loop, NULL, 5000), 0);
	t0 = uv_hrtime();
	cost_spawn(&loop, &r);
	cost_spawn(&loop, &r);
	uv_run(&loop, UV_RUN_DEFAULT);
	ns = uv_hrtime() - t0;
	assert_int_equal(r.exits, 2000);
	child_guard_stop();
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	return ns;
}

/*
 * 2000 `/bin/true`, 2 at a time, through child_spawn (guard on) vs `xargs -P2 -n1`;
 * then again with 256 MiB of touched heap, like a node with many tasks and
 * libraries mapped: a fork() would copy its page tables on every spawn.
 */
static void test_spawn_cost(void **state)
{
	size_t big = (size_t)256 << 20;
	uint64_t t0, ours, fat, xargs;
	char *ballast;

	(void)state;
	ours = cost_run();
	assert_non_null(ballast = malloc(big));
	memset(ballast, 1, big);
	fat = cost_run();
	free(ballast);
	t0 = uv_hrtime();
	assert_int_equal(system("seq 2000 | xargs -P2 -n1 /bin/true"), 0);
	xargs = uv_hrtime() - t0;
	print_message("spawn cost: 2000 x /bin/true, 2 at a time: child_spawn %llu ms "
		      "(%.0f us each), xargs -P2 -n1 %llu ms: ratio %.2f\n",
		      (unsigned long long)MS(ours), (double)ours / 2000 / 1000,
		      (unsigned long long)MS(xargs), (double)ours / (double)xargs);
	print_message("spawn cost with 256 MiB of touched heap: child_spawn %llu ms "
		      "(%.0f us each): ratio %.2f\n", (unsigned long long)MS(fat),
		      (double)fat / 2000 / 1000, (double)fat / (double)xargs);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parent_death),
		cmocka_unit_test(test_frozen_parent),
		cmocka_unit_test(test_clean_stop),
		cmocka_unit_test(test_stop_waits),
		cmocka_unit_test(test_spawn_cost),
	};

	if (argc > 1 && strcmp(argv[1], "__guard") == 0)
		return child_guard_main(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
