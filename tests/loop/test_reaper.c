/* test_reaper.c: as a subreaper, orphans are reaped while the runner's exits still reach on_exit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runner/child.h"
#include "runner/reaper.h"

#define NCHILD 8

static char *const test_env[] = { "PATH=/usr/bin:/bin", NULL };

/* The runner's children of one test and what they reported. */
struct rec {
	uv_loop_t loop;
	struct child *c[NCHILD];
	int exits[NCHILD], status[NCHILD], sig[NCHILD];
};

static void on_exit_cb(struct child *c, int status, int sig, void *ud)
{
	struct rec *r = ud;

	for (int i = 0; i < NCHILD; i++) {
		if (r->c[i] == c) {
			r->exits[i]++;
			r->status[i] = status;
			r->sig[i] = sig;
		}
	}
}

static const struct child_events events = { NULL, on_exit_cb, NULL };

/* An orphan: a grandchild whose parent exits at once, so it is re-parented to us. */
static pid_t make_orphan(int delay_ms)
{
	int fds[2], st;
	pid_t mid, orphan = 0;

	assert_int_equal(pipe(fds), 0);
	mid = fork();
	assert_true(mid >= 0);
	if (mid == 0) {
		pid_t g = fork();

		if (g == 0) {
			usleep((useconds_t)delay_ms * 1000);
			_exit(0);
		}
		if (write(fds[1], &g, sizeof(g)) != (ssize_t)sizeof(g))
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &orphan, sizeof(orphan)), sizeof(orphan));
	close(fds[0]);
	assert_int_equal(waitpid(mid, &st, 0), mid);
	assert_true(orphan > 0);
	return orphan;
}

/* Gone for good: not even a zombie. */
static bool reaped(pid_t pid)
{
	return kill(pid, 0) < 0 && errno == ESRCH;
}

/* n runner children exiting with 10+i after a short sleep, and n orphans dying meanwhile. */
static void run_mix(int n)
{
	pid_t orphans[NCHILD];
	unsigned long before = reaper_reaped();
	struct rec r;
	int guard;

	memset(&r, 0, sizeof(r));
	assert_int_equal(uv_loop_init(&r.loop), 0);
	assert_int_equal(reaper_start(&r.loop, true), 0);
	assert_int_equal(child_guard_start(&r.loop, NULL, 10000), 0); /* its exit is libuv's */
	guard = child_guard_pid();
	assert_true(guard > 0 && child_is_ours(guard));
	for (int i = 0; i < n; i++)
		orphans[i] = make_orphan(50 + 30 * i);
	for (int i = 0; i < n; i++) {
		char script[64];
		const char *argv[] = { "sh", "-c", script, NULL };
		struct child_spec spec = {
			.name = "reaped", .argv = (char *const *)argv, .env = test_env,
			.stop_signal = SIGTERM, .stop_timeout_ms = 1000, .max_line = 256,
		};

		snprintf(script, sizeof(script), "sleep 0.%d; exit %d", 2 + i % 5, 10 + i);
		assert_int_equal(child_spawn(&r.loop, &spec, &events, &r, &r.c[i]), 0);
	}
	uv_run(&r.loop, UV_RUN_DEFAULT);
	for (int i = 0; i < n; i++) {
		assert_int_equal(r.exits[i], 1);
		assert_int_equal(r.status[i], 10 + i);
		assert_int_equal(r.sig[i], 0);
		child_free(r.c[i]);
	}
	/* The last orphan may die after the last runner child: give it a moment. */
	for (int k = 0; k < 300 && !reaped(orphans[n - 1]); k++)
	{
		uv_run(&r.loop, UV_RUN_NOWAIT);
		usleep(10000);
	}
	for (int i = 0; i < n; i++)
		assert_true(reaped(orphans[i]));
	assert_true(reaper_reaped() - before >= (unsigned long)n);
	child_guard_stop();
	uv_run(&r.loop, UV_RUN_DEFAULT); /* until libuv reaped the guard */
	assert_int_equal(child_guard_pid(), 0);
	assert_true(reaped(guard));
	reaper_stop();
	uv_run(&r.loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&r.loop), 0);
}

static void test_one_orphan(void **state)
{
	(void)state;
	run_mix(1);
}

static void test_many_orphans(void **state)
{
	(void)state;
	run_mix(NCHILD);
}

/* An orphan that died before the reaper started is reaped by its first scan. */
static void test_orphan_before_start(void **state)
{
	uv_loop_t loop;
	pid_t orphan;
	char path[64], buf[256], *p = NULL;
	FILE *f;

	(void)state;
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	orphan = make_orphan(0);
	for (int k = 0; k < 500 && !(p && p[2] == 'Z'); k++) { /* wait for the zombie */
		usleep(10000);
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)orphan);
		assert_non_null(f = fopen(path, "r"));
		buf[fread(buf, 1, sizeof(buf) - 1, f)] = '\0';
		fclose(f);
		p = strrchr(buf, ')');
	}
	assert_true(p && p[2] == 'Z');
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(reaper_start(&loop, true), 0);
	assert_true(reaped(orphan));
	assert_int_equal(reaper_start(&loop, true), -EBUSY);
	reaper_stop();
	reaper_stop();
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_orphan),
		cmocka_unit_test(test_many_orphans),
		cmocka_unit_test(test_orphan_before_start),
	};

	if (argc > 1 && strcmp(argv[1], "__guard") == 0)
		return child_guard_main(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
