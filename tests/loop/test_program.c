/* test_program.c: supervised programs with real processes: restarts, backoff, FATAL, stop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "runner/program.h"

extern char **environ;

#define MAXEV 64

/* Everything one program did during a test, and when to stop it. */
struct rec {
	uv_loop_t loop;
	uv_timer_t stop_timer;
	struct program *p;
	int spawns, exits, done_calls, spawn_failures, fatals, nstates;
	uint64_t spawn_at[MAXEV], exit_at[MAXEV], fail_at[MAXEV];
	int exit_status[MAXEV], exit_signal[MAXEV];
	enum program_state to[MAXEV];
	char why[MAXEV][256];
	int stop_after_spawns;		/* program_stop() in on_spawn number N (0 = never) */
	int stop_after_fatals;		/* program_stop() on FATAL number N */
	int stop_in_state;		/* program_stop() when entering this state (-1 = never) */
	uint64_t stop_after_ms;		/* program_stop() this long after the start (0 = never) */
	uint64_t t0;
};

static void on_done(struct program *p, void *ud)
{
	struct rec *r = ud;

	assert_ptr_equal(p, r->p);
	assert_int_equal(program_state(p), PROG_STOPPED);
	assert_null(program_child(p));
	r->done_calls++;
}

static void on_state(struct program *p, enum program_state from, enum program_state to,
		     const char *why, void *ud)
{
	struct rec *r = ud;
	uint64_t now = uv_now(&r->loop);

	assert_int_equal(program_state(p), to);
	assert_true(r->nstates < MAXEV);
	r->to[r->nstates] = to;
	snprintf(r->why[r->nstates], sizeof(r->why[0]), "%s", why);
	r->nstates++;
	print_message("  +%4llu ms %s -> %s: %s\n", (unsigned long long)(now - r->t0),
		      program_state_name(from), program_state_name(to), why);
	if (strncmp(why, "spawn failed", 12) == 0)
		r->fail_at[r->spawn_failures++] = now;
	if (to == PROG_FATAL && ++r->fatals == r->stop_after_fatals)
		program_stop(p, on_done);
	if ((int)to == r->stop_in_state)
		program_stop(p, on_done);
}

static void on_spawn(struct program *p, struct child *c, void *ud)
{
	struct rec *r = ud;

	assert_ptr_equal(program_child(p), c);
	assert_true(child_pid(c) > 0);
	r->spawn_at[r->spawns++] = uv_now(&r->loop);
	if (r->spawns == r->stop_after_spawns)
		program_stop(p, on_done);
}

static void on_exit_ev(struct program *p, int exit_status, int term_signal, void *ud)
{
	struct rec *r = ud;

	(void)p;
	r->exit_status[r->exits] = exit_status;
	r->exit_signal[r->exits] = term_signal;
	r->exit_at[r->exits++] = uv_now(&r->loop);
}

static void on_stop_timer(uv_timer_t *t)
{
	struct rec *r = t->data;

	program_stop(r->p, on_done);
}

static const struct program_events events = {
	.on_state = on_state, .on_spawn = on_spawn, .on_line = NULL, .on_exit = on_exit_ev,
};

/* Start a program running `sh -c script` (or argv) and run the loop until it is idle. */
static void rec_run(struct rec *r, char *const *argv, const struct policy *pol)
{
	struct child_spec spec = {
		.name = "test", .argv = argv, .env = environ, .cwd = NULL,
		.stop_signal = SIGTERM, .stop_timeout_ms = 200, .stdin_pipe = false,
		.max_line = 1024, .stderr_tail = 256,
	};

	assert_int_equal(uv_loop_init(&r->loop), 0);
	uv_update_time(&r->loop);
	r->t0 = uv_now(&r->loop);
	r->p = program_new(&r->loop, &spec, pol, &events, r);
	assert_non_null(r->p);
	assert_int_equal(program_state(r->p), PROG_STOPPED);
	assert_int_equal(uv_timer_init(&r->loop, &r->stop_timer), 0);
	r->stop_timer.data = r;
	if (r->stop_after_ms)
		uv_timer_start(&r->stop_timer, on_stop_timer, r->stop_after_ms, 0);
	program_start(r->p);
	uv_run(&r->loop, UV_RUN_DEFAULT);
}

/* Stop if still needed, free, and check that the loop closes with no handle left. */
static void rec_finish(struct rec *r)
{
	int before = r->done_calls;

	if (program_state(r->p) != PROG_STOPPED || r->done_calls == 0) {
		program_stop(r->p, on_done);
		assert_int_equal(r->done_calls, before);	/* never synchronous */
		uv_run(&r->loop, UV_RUN_DEFAULT);
		assert_int_equal(r->done_calls, before + 1);
	}
	assert_int_equal(program_state(r->p), PROG_STOPPED);
	program_free(r->p);
	uv_close((uv_handle_t *)&r->stop_timer, NULL);
	uv_run(&r->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&r->loop), 0);
}

static struct rec *rec_new(void)
{
	struct rec *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	r->stop_in_state = -1;
	return r;
}

static bool why_has(const struct rec *r, int i, const char *s)
{
	return i >= 0 && i < r->nstates && strstr(r->why[i], s) != NULL;
}

/* on-failure with a failing child: restarts after growing, jittered delays >= base. */
static void test_program_restart_growing(void **state)
{
	char *argv[] = { "sh", "-c", "exit 3", NULL };
	const struct policy pol = { RESTART_ON_FAILURE, 100, 60000, 50, 1000, 60000, 0, 125 };
	struct rec *r = rec_new();
	uint64_t maxgap = 0;

	(void)state;
	r->stop_after_spawns = 8;
	rec_run(r, argv, &pol);
	assert_int_equal(r->spawns, 8);
	assert_int_equal(r->done_calls, 1);
	assert_int_equal(program_restarts(r->p), 7);
	for (int i = 1; i < 8; i++) {
		uint64_t gap = r->spawn_at[i] - r->exit_at[i - 1];

		assert_int_equal(r->exit_status[i - 1], 3);
		assert_true(gap >= 50);
		assert_true(gap <= 1000 + 200);
		if (gap > maxgap)
			maxgap = gap;
	}
	/* Delays grow past the base (all 7 below 1.5 base has odds under 1e-4). */
	assert_true(maxgap > 75);
	assert_true(why_has(r, 1, "exited with status 3; restarting in "));
	assert_int_equal(r->to[r->nstates - 1], PROG_STOPPED);
	rec_finish(r);
	free(r);
}

/* Exit status 125 is never restarted, even with restart=always. */
static void test_program_no_restart_exit(void **state)
{
	char *argv[] = { "sh", "-c", "exit 125", NULL };
	const struct policy pol = { RESTART_ALWAYS, 10, 60000, 20, 100, 60000, 0, 125 };
	struct rec *r = rec_new();

	(void)state;
	rec_run(r, argv, &pol);	/* returns once nothing is pending */
	assert_int_equal(r->spawns, 1);
	assert_int_equal(program_state(r->p), PROG_EXITED);
	assert_null(program_child(r->p));
	assert_true(why_has(r, r->nstates - 1, "exited with status 125; not restarting"));
	rec_finish(r);
	assert_int_equal(r->done_calls, 1);
	free(r);
}

/* restart=never: a failure or a signal is final. */
static void test_program_never(void **state)
{
	char *argv[] = { "sh", "-c", "kill -KILL $$", NULL };
	const struct policy pol = { RESTART_NEVER, 10, 60000, 20, 100, 60000, 0, 125 };
	struct rec *r = rec_new();

	(void)state;
	rec_run(r, argv, &pol);
	assert_int_equal(r->spawns, 1);
	assert_int_equal(r->exit_signal[0], SIGKILL);
	assert_int_equal(program_state(r->p), PROG_EXITED);
	assert_true(why_has(r, r->nstates - 1, "killed by signal 9"));
	rec_finish(r);
	free(r);
}

/* More than 2 restarts in 10 s: FATAL, then a fresh start after the 300 ms cooldown. */
static void test_program_fatal_cooldown(void **state)
{
	static const enum program_state want[] = {
		PROG_RUNNING, PROG_BACKOFF, PROG_RUNNING, PROG_BACKOFF, PROG_RUNNING, PROG_FATAL,
		PROG_RUNNING, PROG_BACKOFF, PROG_RUNNING, PROG_BACKOFF, PROG_RUNNING, PROG_FATAL,
		PROG_STOPPED,
	};
	char *argv[] = { "sh", "-c", "exit 1", NULL };
	const struct policy pol = { RESTART_ALWAYS, 2, 10000, 20, 20, 60000, 300, 125 };
	struct rec *r = rec_new();

	(void)state;
	r->stop_after_fatals = 2;
	rec_run(r, argv, &pol);
	assert_int_equal(r->nstates, (int)(sizeof(want) / sizeof(want[0])));
	for (int i = 0; i < r->nstates; i++)
		assert_int_equal(r->to[i], want[i]);
	assert_int_equal(r->spawns, 6);
	assert_true(why_has(r, 5, "exited with status 1; restarted 2 times in 10 s: FATAL; "
			     "retrying in 0.3 s"));
	assert_true(why_has(r, 6, "cooldown over"));
	assert_true(r->spawn_at[3] - r->exit_at[2] >= 300);
	assert_true(r->spawn_at[1] - r->exit_at[0] >= 20);
	assert_int_equal(r->done_calls, 1);
	rec_finish(r);
	free(r);
}

/* Runs longer than stable_ms: every delay restarts from the base, in [base, 3 * base]. */
static void test_program_stable_resets(void **state)
{
	char *argv[] = { "sh", "-c", "sleep 0.3; exit 1", NULL };
	const struct policy pol = { RESTART_ON_FAILURE, 100, 60000, 100, 10000, 200, 0, 125 };
	struct rec *r = rec_new();

	(void)state;
	r->stop_after_spawns = 5;
	rec_run(r, argv, &pol);
	assert_int_equal(r->spawns, 5);
	for (int i = 1; i < 5; i++) {
		uint64_t gap = r->spawn_at[i] - r->exit_at[i - 1];

		assert_true(r->exit_at[i - 1] - r->spawn_at[i - 1] >= 200);
		assert_true(gap >= 100);
		assert_true(gap <= 300 + 100);
	}
	rec_finish(r);
	free(r);
}

/* A stop during BACKOFF cancels the restart at once. */
static void test_program_stop_in_backoff(void **state)
{
	char *argv[] = { "sh", "-c", "exit 1", NULL };
	const struct policy pol = { RESTART_ALWAYS, 10, 60000, 5000, 5000, 60000, 0, 125 };
	struct rec *r = rec_new();

	(void)state;
	r->stop_in_state = PROG_BACKOFF;
	rec_run(r, argv, &pol);
	assert_int_equal(r->spawns, 1);
	assert_int_equal(r->nstates, 3);
	assert_int_equal(r->to[1], PROG_BACKOFF);
	assert_int_equal(r->to[2], PROG_STOPPED);
	assert_int_equal(r->done_calls, 1);
	assert_true(uv_now(&r->loop) - r->t0 < 2000);	/* the 5 s timer was cancelled */
	rec_finish(r);
	assert_int_equal(r->done_calls, 1);
	free(r);
}

/* A child that ignores the stop signal is killed after stop_timeout_ms. */
static void test_program_stop_escalates(void **state)
{
	char *argv[] = { "sh", "-c", "trap '' TERM; sleep 30", NULL };
	const struct policy pol = { RESTART_ALWAYS, 10, 60000, 50, 100, 60000, 0, 125 };
	struct rec *r = rec_new();

	(void)state;
	r->stop_after_ms = 300;
	rec_run(r, argv, &pol);
	assert_int_equal(r->spawns, 1);
	assert_int_equal(r->done_calls, 1);
	assert_int_equal(r->exit_signal[0], SIGKILL);
	assert_int_equal(r->to[1], PROG_STOPPING);
	assert_int_equal(r->to[2], PROG_STOPPED);
	assert_true(why_has(r, 2, "stopped (killed by signal 9"));
	assert_true(r->exit_at[0] - r->t0 >= 300 + 200);
	rec_finish(r);
	free(r);
}

/* A missing binary is a failed run (status 127): backoff between tries, then FATAL. */
static void test_program_missing_binary(void **state)
{
	char *argv[] = { "/nonexistent/jobsync-no-such-binary", NULL };
	const struct policy pol = { RESTART_ALWAYS, 3, 60000, 50, 50, 60000, 0, 125 };
	struct rec *r = rec_new();

	(void)state;
	rec_run(r, argv, &pol);	/* FATAL with no cooldown: nothing pending */
	assert_int_equal(r->spawns, 0);
	assert_int_equal(r->spawn_failures, 4);	/* the first try and 3 restarts */
	assert_int_equal(program_state(r->p), PROG_FATAL);
	for (int i = 1; i < r->spawn_failures; i++)
		assert_true(r->fail_at[i] - r->fail_at[i - 1] >= 50);
	assert_true(why_has(r, 0, "spawn failed: No such file or directory; restarting in"));
	assert_true(why_has(r, r->nstates - 1, "restarted 3 times in 60 s: FATAL"));
	assert_int_equal(program_restarts(r->p), 3);
	rec_finish(r);
	free(r);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_program_restart_growing),
		cmocka_unit_test(test_program_no_restart_exit),
		cmocka_unit_test(test_program_never),
		cmocka_unit_test(test_program_fatal_cooldown),
		cmocka_unit_test(test_program_stable_resets),
		cmocka_unit_test(test_program_stop_in_backoff),
		cmocka_unit_test(test_program_stop_escalates),
		cmocka_unit_test(test_program_missing_binary),
	};

	if (argc > 1 && strcmp(argv[1], "__guard") == 0)
		return child_guard_main(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
