/* test_child.c: runner children on a real libuv loop: exits, lines, stdin, stop, process groups (both spawn paths). */
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
#include <limits.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runner/child_io.h" /* child_spawn_use_fork */

#define MAXLINES 64
#define MS(ns) ((ns) / 1000000)

static char self_exe[PATH_MAX];
static char *const test_env[] = { "PATH=/usr/bin:/bin", "LC_ALL=C", NULL };

/* Everything one test's child reported. */
struct rec {
	uv_loop_t loop;
	uv_timer_t watchdog;
	struct child *c;
	int nlines, exits, status, sig, drained;
	enum child_stream stream[MAXLINES];
	char *text[MAXLINES];
	size_t len[MAXLINES], total;
	bool trunc[MAXLINES];
	uint64_t stop_ns, exit_ns;
	bool stop_on_ready;
};

static void on_line(struct child *c, enum child_stream s, const char *line, size_t len,
		    bool truncated, void *ud)
{
	struct rec *r = ud;

	assert_ptr_equal(c, r->c);
	r->total += len;
	if (r->nlines < MAXLINES) {
		r->stream[r->nlines] = s;
		r->text[r->nlines] = malloc(len + 1);
		memcpy(r->text[r->nlines], line, len);
		r->text[r->nlines][len] = '\0';
		r->len[r->nlines] = len;
		r->trunc[r->nlines] = truncated;
	}
	r->nlines++;
	if (r->stop_on_ready && len == 5 && memcmp(line, "ready", 5) == 0) {
		r->stop_ns = uv_hrtime();
		child_stop(c);
		child_stop(c); /* idempotent */
	}
}

static void on_exit_cb(struct child *c, int status, int sig, void *ud)
{
	struct rec *r = ud;

	assert_ptr_equal(c, r->c);
	assert_false(child_is_ours(child_pid(c)));
	r->exits++;
	r->status = status;
	r->sig = sig;
	r->exit_ns = uv_hrtime();
	uv_timer_stop(&r->watchdog);
}

static void on_drained(struct child *c, void *ud)
{
	(void)c;
	((struct rec *)ud)->drained++;
}

static const struct child_events events = { on_line, on_exit_cb, on_drained };

static void on_watchdog(uv_timer_t *t)
{
	struct rec *r = t->data;

	fail_msg("watchdog: child %d still running", r->c ? child_pid(r->c) : -1);
}

/* Spawn argv on a fresh loop in r (a 30 s watchdog fails a hung test). */
static int start(struct rec *r, const char *const *argv, bool stdin_pipe, size_t max_line)
{
	struct child_spec spec = {
		.name = "test", .argv = (char *const *)argv, .env = test_env,
		.stop_signal = SIGTERM, .stop_timeout_ms = 300, .stdin_pipe = stdin_pipe,
		.max_line = max_line, .stderr_tail = 3,
	};

	memset(r, 0, sizeof(*r));
	assert_int_equal(uv_loop_init(&r->loop), 0);
	uv_timer_init(&r->loop, &r->watchdog);
	r->watchdog.data = r;
	uv_timer_start(&r->watchdog, on_watchdog, 30000, 0);
	uv_unref((uv_handle_t *)&r->watchdog);
	return child_spawn(&r->loop, &spec, &events, r, &r->c);
}

/* Free the child and the lines, close the loop: no handle may be left. */
static void finish(struct rec *r)
{
	if (r->c)
		child_free(r->c);
	uv_close((uv_handle_t *)&r->watchdog, NULL);
	uv_run(&r->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&r->loop), 0);
	for (int i = 0; i < r->nlines && i < MAXLINES; i++)
		free(r->text[i]);
}

/* Alive and not a zombie (pid 1 here may not reap re-parented processes). */
static bool alive(int pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

/* Live (non-zombie) processes in process group pgid. */
static int group_size(int pgid)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d))) {
		char path[300], buf[512], *p, st;
		int pid = atoi(e->d_name), ppid, pgrp;
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
		if (p && sscanf(p + 1, " %c %d %d", &st, &ppid, &pgrp) == 3 && pgrp == pgid &&
		    st != 'Z' && st != 'X')
			n++;
	}
	closedir(d);
	return n;
}

/* Wait up to ms for pid (or, if group, its process group) to be gone. */
static bool gone_within(int pid, bool group, int ms)
{
	for (int i = 0; i < ms / 10; i++) {
		if (group ? group_size(pid) == 0 : !alive(pid))
			return true;
		usleep(10000);
	}
	return false;
}

static void test_exit_status(void **state)
{
	const char *argv[] = { "sh", "-c", "exit 3", NULL };
	struct rec r;

	(void)state;
	assert_int_equal(start(&r, argv, false, 0), 0);
	assert_true(child_is_ours(child_pid(r.c)));
	assert_string_equal(child_name(r.c), "test");
	assert_true(child_started_ms(r.c) > 0);
	uv_run(&r.loop, UV_RUN_DEFAULT);
	assert_int_equal(r.exits, 1);
	assert_int_equal(r.status, 3);
	assert_int_equal(r.sig, 0);
	child_stop(r.c); /* safe after the exit */
	child_kill(r.c);
	assert_int_equal(child_write(r.c, "x", 1), -EPIPE);
	finish(&r);
}

static void test_term_signal(void **state)
{
	const char *argv[] = { "sh", "-c", "kill -USR1 $$", NULL };
	struct rec r;

	(void)state;
	assert_int_equal(start(&r, argv, false, 0), 0);
	uv_run(&r.loop, UV_RUN_DEFAULT);
	assert_int_equal(r.exits, 1);
	assert_int_equal(r.sig, SIGUSR1);
	finish(&r);
}

static void test_not_found(void **state)
{
	const char *missing[] = { "/nonexistent/jobsync-worker", NULL };
	const char *unknown[] = { "jobsync-no-such-worker", NULL };
	const char *noexec[] = { "/etc/passwd", NULL };
	const char *dir[] = { "/tmp", NULL };
	struct rec r;

	(void)state;
	assert_int_equal(start(&r, missing, false, 0), -ENOENT);
	assert_null(r.c);
	finish(&r);
	assert_int_equal(start(&r, unknown, false, 0), -ENOENT);
	assert_null(r.c);
	finish(&r);
	assert_int_equal(start(&r, noexec, false, 0), -EACCES);
	finish(&r);
	assert_int_equal(start(&r, dir, false, 0), -EACCES);
	finish(&r);
}

static void test_lines(void **state)
{
	const char *argv[] = { "sh", "-c", "printf 'a\\nbb\\r\\nccc'; printf 'e1\\ne2' >&2", NULL };
	const char *want[] = { "a", "bb", "ccc" };
	struct rec r;
	int out = 0, err = 0;

	(void)state;
	assert_int_equal(start(&r, argv, false, 0), 0);
	uv_run(&r.loop, UV_RUN_DEFAULT);
	assert_int_equal(r.exits, 1);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.nlines, 5);
	for (int i = 0; i < r.nlines; i++) {
		assert_false(r.trunc[i]);
		if (r.stream[i] == CHILD_STDOUT)
			assert_string_equal(r.text[i], want[out++]);
		else
			assert_string_equal(r.text[i], err++ ? "e2" : "e1");
	}
	assert_string_equal(child_stderr_tail(r.c), "\ne2");
	finish(&r);
}

static void test_long_line(void **state)
{
	const char *argv[] = { "sh", "-c", "head -c 1000000 /dev/zero | tr '\\0' x; echo; echo after",
			       NULL };
	struct rec r;

	(void)state;
	assert_int_equal(start(&r, argv, false, 1000), 0);
	uv_run(&r.loop, UV_RUN_DEFAULT);
	assert_int_equal(r.exits, 1);
	assert_int_equal(r.nlines, 2);
	assert_int_equal(r.len[0], 1000);
	assert_true(r.trunc[0]);
	assert_int_equal(strspn(r.text[0], "x"), 1000);
	assert_string_equal(r.text[1], "after");
	assert_false(r.trunc[1]);
	finish(&r);
}

/* 1000 times the bytes 0..255 (NUL, CR, invalid UTF-8 and one '\n' each). */
static int worker_garbage(void)
{
	unsigned char block[256];

	for (int i = 0; i < 256; i++)
		block[i] = (unsigned char)i;
	for (int i = 0; i < 1000; i++)
		if (write(1, block, sizeof(block)) != (ssize_t)sizeof(block))
			return 1;
	return 0;
}

static void test_garbage(void **state)
{
	const char *argv[] = { self_exe, "__worker", "garbage", NULL };
	struct rec r;

	(void)state;
	assert_int_equal(start(&r, argv, false, 4096), 0);
	uv_run(&r.loop, UV_RUN_DEFAULT);
	assert_int_equal(r.exits, 1);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.nlines, 1001);
	assert_int_equal(r.total, 256000 - 1000);
	assert_int_equal(r.len[0], 10);
	assert_int_equal(r.text[0][0], '\0');
	assert_int_equal(r.len[1], 255);
	finish(&r);
}

static void test_stdin_feed(void **state)
{
	const char *argv[] = { "cat", NULL };
	struct rec r;

	(void)state;
	assert_int_equal(start(&r, argv, true, 0), 0);
	assert_int_equal(child_write(r.c, "x\n", 2), 0);
	assert_int_equal(child_write(r.c, "y\nz", 3), 0);
	child_close_stdin(r.c);
	assert_int_equal(child_write(r.c, "w", 1), -EPIPE);
	uv_run(&r.loop, UV_RUN_DEFAULT);
	assert_int_equal(r.exits, 1);
	assert_int_equal(r.status, 0);
	assert_true(r.drained >= 1);
	assert_int_equal(child_write_queued(r.c), 0);
	assert_int_equal(r.nlines, 3);
	assert_string_equal(r.text[0], "x");
	assert_string_equal(r.text[1], "y");
	assert_string_equal(r.text[2], "z");
	finish(&r);
}

/* Offers 64 KiB to the child's stdin on each tick, counting what it refused. */
struct feeder {
	struct rec *r;
	uv_timer_t tick, stop;
	int ticks, accepted, eagain, epipe;
	char chunk[65536];
};

static void feed_once(struct feeder *f)
{
	int e = child_write(f->r->c, f->chunk, sizeof(f->chunk));

	if (e == 0)
		f->accepted++;
	else if (e == -EAGAIN)
		f->eagain++;
	else if (e == -EPIPE)
		f->epipe++;
	else
		fail_msg("child_write: %d", e);
	assert_true(child_write_queued(f->r->c) <= 1024 * 1024);
}

static void on_tick(uv_timer_t *t)
{
	struct feeder *f = t->data;

	f->ticks++;
	if (f->r->exits)
		uv_timer_stop(t);
	else
		feed_once(f);
}

static void on_stop_feeding(uv_timer_t *t)
{
	struct feeder *f = t->data;

	child_kill(f->r->c);
}

static void feeder_init(struct feeder *f, struct rec *r)
{
	memset(f, 0, sizeof(*f));
	memset(f->chunk, 'a', sizeof(f->chunk));
	f->r = r;
	uv_timer_init(&r->loop, &f->tick);
	uv_timer_init(&r->loop, &f->stop);
	f->tick.data = f->stop.data = f;
}

static void feeder_close(struct feeder *f)
{
	uv_close((uv_handle_t *)&f->tick, NULL);
	uv_close((uv_handle_t *)&f->stop, NULL);
}

static void test_stdin_never_read(void **state)
{
	const char *argv[] = { "sleep", "1000", NULL };
	struct feeder f;
	struct rec r;
	uint64_t t0;

	(void)state;
	assert_int_equal(start(&r, argv, true, 0), 0);
	feeder_init(&f, &r);
	t0 = uv_hrtime();
	for (int i = 0; i < 32; i++) /* 2 MiB offered at once */
		feed_once(&f);
	assert_true(MS(uv_hrtime() - t0) < 1000);
	assert_true(f.eagain > 0);
	uv_timer_start(&f.tick, on_tick, 10, 10);
	uv_timer_start(&f.stop, on_stop_feeding, 500, 0);
	uv_run(&r.loop, UV_RUN_DEFAULT);
	print_message("never-read: %d accepted, %d EAGAIN, %d ticks in 500 ms\n", f.accepted,
		      f.eagain, f.ticks);
	assert_true(f.ticks >= 10);
	assert_int_equal(r.exits, 1);
	assert_int_equal(r.sig, SIGKILL);
	feeder_close(&f);
	finish(&r);
}

static void test_stdin_epipe(void **state)
{
	const char *argv[] = { "head", "-c", "10", NULL };
	struct feeder f;
	struct rec r;

	(void)state;
	assert_int_equal(start(&r, argv, true, 0), 0);
	feeder_init(&f, &r);
	uv_timer_start(&f.tick, on_tick, 0, 5);
	uv_run(&r.loop, UV_RUN_DEFAULT);
	assert_int_equal(r.exits, 1);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.nlines, 1);
	assert_string_equal(r.text[0], "aaaaaaaaaa");
	assert_int_equal(child_write(r.c, "x", 1), -EPIPE);
	feeder_close(&f);
	finish(&r);
}

static void test_stop_escalation(void **state)
{
	const char *argv[] = { "sh", "-c", "trap '' TERM; echo ready; sleep 1000", NULL };
	struct rec r;
	uint64_t ms;

	(void)state;
	assert_int_equal(start(&r, argv, false, 0), 0);
	r.stop_on_ready = true;
	uv_run(&r.loop, UV_RUN_DEFAULT);
	ms = MS(r.exit_ns - r.stop_ns);
	print_message("stop escalation: SIGKILL after %llu ms (stop_timeout 300)\n",
		      (unsigned long long)ms);
	assert_int_equal(r.exits, 1);
	assert_int_equal(r.sig, SIGKILL);
	assert_true(ms >= 250 && ms <= 5000);
	finish(&r);
}

static void test_group_stop(void **state)
{
	const char *argv[] = { "sh", "-c", "sleep 1000 & echo $!; echo ready; sleep 1000", NULL };
	struct rec r;
	int grandchild, pid;

	(void)state;
	assert_int_equal(start(&r, argv, false, 0), 0);
	pid = child_pid(r.c);
	r.stop_on_ready = true;
	uv_run(&r.loop, UV_RUN_DEFAULT);
	assert_int_equal(r.exits, 1);
	assert_int_equal(r.sig, SIGTERM);
	assert_true(MS(r.exit_ns - r.stop_ns) < 250); /* no escalation needed */
	grandchild = atoi(r.text[0]);
	assert_true(grandchild > 0);
	assert_true(gone_within(grandchild, false, 5000));
	assert_true(gone_within(pid, true, 5000));
	finish(&r);
}

static void test_leftovers_killed(void **state)
{
	const char *argv[] = { "sh", "-c", "sleep 1000 & echo $!; exit 5", NULL };
	struct rec r;
	int pid;

	(void)state;
	assert_int_equal(start(&r, argv, false, 0), 0);
	pid = child_pid(r.c);
	uv_run(&r.loop, UV_RUN_DEFAULT);
	assert_int_equal(r.exits, 1);
	assert_int_equal(r.status, 5);
	assert_true(gone_within(atoi(r.text[0]), false, 5000));
	assert_true(gone_within(pid, true, 5000));
	finish(&r);
}

/* A process that left the group keeps stdout open: on_exit comes after the grace anyway. */
static void test_output_grace(void **state)
{
	const char *argv[] = { "sh", "-c", "setsid sleep 1000 & echo $!; sleep 0.1; exit 2", NULL };
	struct rec r;
	uint64_t t0, ms;
	int escaped;

	(void)state;
	assert_int_equal(start(&r, argv, false, 0), 0);
	t0 = uv_hrtime();
	uv_run(&r.loop, UV_RUN_DEFAULT);
	ms = MS(r.exit_ns - t0);
	print_message("output grace: on_exit %llu ms after the spawn (exit at ~100, grace 200)\n",
		      (unsigned long long)ms);
	assert_int_equal(r.exits, 1);
	assert_int_equal(r.status, 2);
	assert_true(ms >= 250 && ms <= 5000);
	escaped = atoi(r.text[0]);
	assert_true(escaped > 0);
	kill(escaped, SIGKILL);
	finish(&r);
}

static void test_kill_now(void **state)
{
	const char *argv[] = { "sh", "-c", "trap '' TERM; sleep 1000", NULL };
	struct rec r;

	(void)state;
	assert_int_equal(start(&r, argv, false, 0), 0);
	child_kill(r.c);
	child_kill(r.c);
	uv_run(&r.loop, UV_RUN_DEFAULT);
	assert_int_equal(r.exits, 1);
	assert_int_equal(r.sig, SIGKILL);
	finish(&r);
}

/* child_free before the exit: the group is killed, no callback runs, nothing leaks. */
static void test_free_early(void **state)
{
	const char *argv[] = { "sleep", "1000", NULL };
	struct rec r;
	int pid;

	(void)state;
	assert_int_equal(start(&r, argv, true, 0), 0);
	pid = child_pid(r.c);
	assert_int_equal(child_write(r.c, "x", 1), 0);
	child_free(r.c);
	r.c = NULL;
	finish(&r);
	assert_int_equal(r.exits, 0);
	assert_false(child_is_ours(pid));
	assert_true(gone_within(pid, true, 5000));
}

/* The child is its own group's leader and does not inherit the node's ignored SIGPIPE. */
static void test_pgid_and_signals(void **state)
{
	/* Shell builtins only: a forked helper could read the mask while dash blocks
	 * every signal around its vfork. */
	const char *argv[] = { "sh", "-c", "while IFS= read -r l; do case $l in SigBlk*|SigIgn*) "
			       "echo \"$l\";; esac; done < /proc/$$/status; "
			       "read -r a b c d e rest < /proc/$$/stat; echo \"$e\"", NULL };
	unsigned long long ign = ~0ULL, blk = ~0ULL;
	struct rec r;
	sigset_t set, old;

	(void)state;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, &old); /* a blocked signal in the node is not inherited either */
	assert_int_equal(start(&r, argv, false, 0), 0);
	sigprocmask(SIG_SETMASK, &old, NULL);
	uv_run(&r.loop, UV_RUN_DEFAULT);
	assert_int_equal(r.exits, 1);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.nlines, 3);
	assert_int_equal(sscanf(r.text[0], "SigBlk: %llx", &blk), 1);
	assert_int_equal(sscanf(r.text[1], "SigIgn: %llx", &ign), 1);
	assert_int_equal(blk, 0);
	assert_int_equal(ign & (1ULL << (SIGPIPE - 1)), 0);
	assert_int_equal(atoi(r.text[2]), child_pid(r.c)); /* pgid = pid */
	finish(&r);
}

/* Writes into a pipe nobody reads: dies of SIGPIPE unless SIGPIPE is ignored (then exits 3). */
static int worker_sigpipe(void)
{
	int fds[2];

	if (pipe(fds) < 0)
		return 1;
	close(fds[0]);
	if (write(fds[1], "x", 1) < 0 && errno == EPIPE)
		return 3;
	return 2;
}

/* The node ignores SIGPIPE (main() here does too); its child gets the default back. */
static void test_sigpipe_default(void **state)
{
	const char *argv[] = { self_exe, "__worker", "sigpipe", NULL };
	struct rec r;

	(void)state;
	assert_int_equal(start(&r, argv, false, 0), 0);
	uv_run(&r.loop, UV_RUN_DEFAULT);
	assert_int_equal(r.exits, 1);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.sig, SIGPIPE);
	finish(&r);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_status),
		cmocka_unit_test(test_term_signal),
		cmocka_unit_test(test_not_found),
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_stdin_feed),
		cmocka_unit_test(test_stdin_never_read),
		cmocka_unit_test(test_stdin_epipe),
		cmocka_unit_test(test_stop_escalation),
		cmocka_unit_test(test_group_stop),
		cmocka_unit_test(test_leftovers_killed),
		cmocka_unit_test(test_output_grace),
		cmocka_unit_test(test_kill_now),
		cmocka_unit_test(test_free_early),
		cmocka_unit_test(test_pgid_and_signals),
		cmocka_unit_test(test_sigpipe_default),
	};
	ssize_t n;
	int rc;

	if (argc > 1 && strcmp(argv[1], "__guard") == 0)
		return child_guard_main(argc, argv);
	if (argc > 2 && strcmp(argv[1], "__worker") == 0 && strcmp(argv[2], "garbage") == 0)
		return worker_garbage();
	if (argc > 2 && strcmp(argv[1], "__worker") == 0 && strcmp(argv[2], "sigpipe") == 0)
		return worker_sigpipe();
	signal(SIGPIPE, SIG_IGN); /* as the daemon does: EPIPE comes back from the write */
	n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	assert_true(n > 0);
	self_exe[n] = '\0';
	rc = cmocka_run_group_tests_name("posix_spawn", tests, NULL, NULL);
	child_spawn_use_fork(true); /* the same with the uv_spawn fallback */
	rc += cmocka_run_group_tests_name("uv_spawn", tests, NULL, NULL);
	return rc;
}
