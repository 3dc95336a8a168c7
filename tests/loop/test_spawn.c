/* test_spawn.c: many children exiting at once, no zombie left, cwd and scripts; posix_spawn and the fork fallback. */
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
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runner/child_io.h"
#include "runner/reaper.h"

#define NMANY 200

static char *const test_env[] = { "PATH=/usr/bin:/bin", "LC_ALL=C", NULL };

/* The children of one test and what each reported. */
struct many {
	uv_loop_t loop;
	struct child *c[NMANY];
	int exits[NMANY], status[NMANY], sig[NMANY], done;
	char line[NMANY][64];
};

static void on_line(struct child *c, enum child_stream s, const char *line, size_t len,
		    bool truncated, void *ud)
{
	struct many *m = ud;

	(void)s;
	(void)truncated;
	for (int i = 0; i < NMANY; i++)
		if (m->c[i] == c)
			snprintf(m->line[i], sizeof(m->line[i]), "%.*s", (int)len, line);
}

static void on_exit_cb(struct child *c, int status, int sig, void *ud)
{
	struct many *m = ud;

	assert_false(child_is_ours(child_pid(c)));
	for (int i = 0; i < NMANY; i++) {
		if (m->c[i] == c) {
			m->exits[i]++;
			m->status[i] = status;
			m->sig[i] = sig;
		}
	}
	m->done++;
}

static const struct child_events events = { on_line, on_exit_cb, NULL };

/* Zombie children of this process (an exit nobody reaped). */
static int zombies(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0, self = (int)getpid();

	assert_non_null(d);
	while ((e = readdir(d))) {
		char path[300], buf[512], *p, st;
		int pid = atoi(e->d_name), ppid;
		FILE *f;
		size_t k;

		if (pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/stat", pid);
		if (!(f = fopen(path, "r")))
			continue;
		k = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[k] = '\0';
		p = strrchr(buf, ')');
		if (p && sscanf(p + 1, " %c %d", &st, &ppid) == 2 && ppid == self && st == 'Z')
			n++;
	}
	closedir(d);
	return n;
}

/*
 * NMANY children block on their stdin; all stdins are closed in one loop
 * turn, so they exit together (every fourth by SIGTERM, the others with
 * i % 100), with the guard and the reaper (subreaper) running: each exit
 * reaches its own on_exit once, the reaper takes none, no zombie is left.
 */
static void run_many(void)
{
	unsigned long reaped = reaper_reaped();
	struct many *m = calloc(1, sizeof(*m));

	assert_non_null(m);
	assert_int_equal(uv_loop_init(&m->loop), 0);
	assert_int_equal(reaper_start(&m->loop, true), 0);
	assert_int_equal(child_guard_start(&m->loop, NULL, 10000), 0);
	for (int i = 0; i < NMANY; i++) {
		char code[16];
		const char *argv[] = { "sh", "-c", i % 4 == 3 ? "read x; kill -TERM $$" :
				       "read x; echo $$; exit \"$1\"", "sh", code, NULL };
		struct child_spec spec = {
			.name = "many", .argv = (char *const *)argv, .env = test_env,
			.stop_signal = SIGTERM, .stop_timeout_ms = 1000, .stdin_pipe = true,
			.max_line = 64,
		};

		snprintf(code, sizeof(code), "%d", i % 100);
		assert_int_equal(child_spawn(&m->loop, &spec, &events, m, &m->c[i]), 0);
		assert_true(child_is_ours(child_pid(m->c[i])));
	}
	for (int i = 0; i < 20; i++)
		uv_run(&m->loop, UV_RUN_NOWAIT);
	usleep(200000); /* every sh is waiting in read */
	for (int i = 0; i < NMANY; i++)
		child_close_stdin(m->c[i]);
	uv_run(&m->loop, UV_RUN_DEFAULT);
	assert_int_equal(m->done, NMANY);
	for (int i = 0; i < NMANY; i++) {
		assert_int_equal(m->exits[i], 1);
		if (i % 4 == 3) {
			assert_int_equal(m->sig[i], SIGTERM);
		} else {
			assert_int_equal(m->status[i], i % 100);
			assert_int_equal(m->sig[i], 0);
			assert_int_equal(atoi(m->line[i]), child_pid(m->c[i]));
		}
		child_free(m->c[i]);
	}
	assert_int_equal(reaper_reaped(), reaped); /* none of ours went to the reaper */
	child_guard_stop();
	uv_run(&m->loop, UV_RUN_DEFAULT);
	reaper_stop();
	uv_run(&m->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&m->loop), 0);
	assert_int_equal(zombies(), 0);
	free(m);
}

static void test_many_exits(void **state)
{
	(void)state;
	child_spawn_use_fork(false);
	run_many();
}

static void test_many_exits_fork(void **state)
{
	(void)state;
	child_spawn_use_fork(true);
	run_many();
	child_spawn_use_fork(false);
}

/* Run argv in cwd; returns the exit status, first stdout line in line. */
static int run_one(const char *const *argv, const char *cwd, char *line, size_t size)
{
	struct child_spec spec = {
		.name = "one", .argv = (char *const *)argv, .env = test_env, .cwd = cwd,
		.stop_signal = SIGTERM, .stop_timeout_ms = 1000, .max_line = 256,
	};
	struct many *m = calloc(1, sizeof(*m));
	int status;

	assert_non_null(m);
	assert_int_equal(uv_loop_init(&m->loop), 0);
	assert_int_equal(child_spawn(&m->loop, &spec, &events, m, &m->c[0]), 0);
	uv_run(&m->loop, UV_RUN_DEFAULT);
	assert_int_equal(m->exits[0], 1);
	assert_int_equal(m->sig[0], 0);
	status = m->status[0];
	snprintf(line, size, "%s", m->line[0]);
	child_free(m->c[0]);
	uv_run(&m->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&m->loop), 0);
	free(m);
	return status;
}

/* cwd applies before the exec: pwd, a relative path, and a script without "#!" (run by sh). */
static void check_cwd_and_script(void)
{
	const char *pwd[] = { "pwd", NULL };
	const char *rel[] = { "./jobsync-script", "a1", NULL };
	char dir[] = "/tmp/jobsync-spawn-XXXXXX", path[300], line[256];
	FILE *f;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(run_one(pwd, dir, line, sizeof(line)), 0);
	assert_string_equal(line, dir);
	snprintf(path, sizeof(path), "%s/jobsync-script", dir);
	assert_non_null(f = fopen(path, "w"));
	fputs("echo \"script $1\"\nexit 6\n", f);
	fclose(f);
	assert_int_equal(chmod(path, 0755), 0);
	assert_int_equal(run_one(rel, dir, line, sizeof(line)), 6);
	assert_string_equal(line, "script a1");
	unlink(path);
	rmdir(dir);
	assert_int_equal(zombies(), 0);
}

static void test_cwd_and_script(void **state)
{
	(void)state;
	child_spawn_use_fork(false);
	check_cwd_and_script();
}

static void test_cwd_and_script_fork(void **state)
{
	(void)state;
	child_spawn_use_fork(true);
	check_cwd_and_script();
	child_spawn_use_fork(false);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_many_exits),
		cmocka_unit_test(test_many_exits_fork),
		cmocka_unit_test(test_cwd_and_script),
		cmocka_unit_test(test_cwd_and_script_fork),
	};

	if (argc > 1 && strcmp(argv[1], "__guard") == 0)
		return child_guard_main(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
