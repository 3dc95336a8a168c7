/* test_config_work.c: [tasks], [worker], [service.NAME], [cron.NAME] keys: defaults, errors, examples. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "config/schema.h"

/* Parse text as file "t.ini" into *cfg; returns config_parse_file()'s result. */
static int parse_text(const char *text, struct config *cfg, struct config_errors *errs)
{
	FILE *fp = fmemopen((void *)text, strlen(text), "r");
	int rc;

	assert_non_null(fp);
	rc = config_parse_file(fp, "t.ini", cfg, errs);
	fclose(fp);
	return rc;
}

/* Parse text and expect exactly one error, at line, whose message contains substr. */
static void expect_error(const char *text, int line, const char *substr)
{
	struct config cfg = {0};
	struct config_errors errs = {0};

	assert_int_equal(parse_text(text, &cfg, &errs), -1);
	if (errs.n != 1 || errs.v[0].line != line || !strstr(errs.v[0].msg, substr)) {
		fprintf(stderr, "--- input:\n%s--- expected line %d '%s', got:\n", text, line,
			substr);
		config_errors_print(&errs, stderr);
		fail();
	}
	config_errors_free(&errs);
	config_free(&cfg);
}

/* Parse text and expect no error at all. */
static void expect_clean(const char *text, struct config *cfg)
{
	struct config_errors errs = {0};

	if (parse_text(text, cfg, &errs) != 0 || errs.n) {
		fprintf(stderr, "--- input:\n%s--- unexpected errors:\n", text);
		config_errors_print(&errs, stderr);
		fail();
	}
	config_errors_free(&errs);
}

static void test_work_defaults(void **state)
{
	struct config cfg = {0};
	const struct config_service *s;
	const struct config_cron *c;

	(void)state;
	config_defaults(&cfg);
	assert_int_equal(cfg.health_check_interval_sec, 30);
	assert_string_equal(cfg.status_file, "");
	assert_string_equal(cfg.listen, "127.0.0.1:8080");
	assert_int_equal(cfg.tasks.source, SOURCE_NONE);
	assert_string_equal(cfg.tasks.query, "");
	assert_string_equal(cfg.tasks.dsn, "");
	assert_false(cfg.tasks.sql_token_filter);
	assert_string_equal(cfg.tasks.command, "");
	assert_string_equal(cfg.tasks.path, "");
	assert_string_equal(cfg.tasks.range, "");
	assert_int_equal(cfg.tasks.range_first, 0);
	assert_int_equal(cfg.tasks.range_last, 0);
	assert_int_equal(cfg.tasks.poll_interval_sec, 30);
	assert_string_equal(cfg.tasks.channel, "");
	assert_int_equal(cfg.tasks.line, 0);
	assert_int_equal(cfg.worker.mode, MODE_EXEC);
	assert_string_equal(cfg.worker.cmd.command, "");
	assert_false(cfg.worker.cmd.shell);
	assert_string_equal(cfg.worker.cmd.cwd, "");
	assert_int_equal(cfg.worker.cmd.stop_signal, SIGTERM);
	assert_int_equal(cfg.worker.cmd.stop_timeout_sec, 30);
	assert_int_equal(cfg.worker.concurrency, 1);
	assert_int_equal(cfg.worker.procs, 1);
	assert_int_equal(cfg.worker.inflight, 1);
	assert_int_equal(cfg.worker.batch_size, 100);
	assert_int_equal(cfg.worker.max_line, 65536);
	assert_int_equal(cfg.worker.task_timeout_sec, 0);
	assert_int_equal(cfg.worker.max_attempts, 3);
	assert_int_equal(cfg.worker.retry_backoff_sec, 1);
	assert_int_equal(cfg.worker.retry_backoff_max_sec, 60);
	assert_int_equal(cfg.worker.policy.restart, CONFIG_RESTART_ALWAYS);
	assert_int_equal(cfg.worker.policy.max_restarts, 5);
	assert_int_equal(cfg.worker.policy.restart_window_sec, 60);
	assert_int_equal(cfg.worker.policy.fatal_cooldown_sec, 60);
	assert_int_equal(cfg.worker.policy.stable_sec, 10);
	assert_false(cfg.worker.policy.essential);
	assert_int_equal(cfg.worker.policy.no_restart_exit, 125);
	assert_int_equal(cfg.worker.line, 0);
	assert_int_equal(cfg.nservices, 0);
	assert_int_equal(cfg.ncrons, 0);
	config_free(&cfg);

	expect_clean("[service.s]\ncommand = x\n[cron.c]\nschedule = @daily\ncommand = y\n", &cfg);
	assert_int_equal(cfg.nservices, 1);
	s = &cfg.services[0];
	assert_string_equal(s->name, "s");
	assert_int_equal(s->line, 1);
	assert_string_equal(s->cmd.command, "x");
	assert_false(s->cmd.shell);
	assert_string_equal(s->cmd.cwd, "");
	assert_int_equal(s->cmd.stop_signal, SIGTERM);
	assert_int_equal(s->cmd.stop_timeout_sec, 10);
	assert_int_equal(s->policy.restart, CONFIG_RESTART_ALWAYS);
	assert_int_equal(s->policy.max_restarts, 5);
	assert_int_equal(s->policy.restart_window_sec, 60);
	assert_int_equal(s->policy.fatal_cooldown_sec, 60);
	assert_int_equal(s->policy.stable_sec, 10);
	assert_false(s->policy.essential);
	assert_int_equal(s->policy.no_restart_exit, 125);
	assert_int_equal(s->key_line[0], 2);
	assert_int_equal(cfg.ncrons, 1);
	c = &cfg.crons[0];
	assert_string_equal(c->name, "c");
	assert_int_equal(c->line, 3);
	assert_string_equal(c->schedule, "@daily");
	assert_string_equal(c->timezone, "");
	assert_string_equal(c->cmd.command, "y");
	assert_false(c->cmd.shell);
	assert_string_equal(c->cmd.cwd, "");
	assert_int_equal(c->cmd.stop_signal, SIGTERM);
	assert_int_equal(c->cmd.stop_timeout_sec, 10);
	assert_true(c->enabled);
	assert_int_equal(c->timeout_sec, 0);
	assert_int_equal(c->max_attempts, 1);
	assert_int_equal(c->retry_backoff_sec, 10);
	assert_int_equal(c->retry_backoff_max_sec, 300);
	assert_int_equal(c->misfire, MISFIRE_SKIP);
	assert_int_equal(c->misfire_grace_sec, 300);
	assert_int_equal(c->concurrency_policy, CONCURRENCY_FORBID);
	config_free(&cfg);
}

/* A [tasks] source and a [worker] header: 3 lines, [worker] at line 4. */
#define W "[tasks]\nsource = range\nrange = 1-9\n[worker]\n"

static const struct {
	const char *text;
	int line;
	const char *msg;
} error_cases[] = {
	/* [tasks]: each source needs its key */
	{"[tasks]\nsource = sql\n[worker]\ncommand = w {}\n", 2, "source = sql needs a 'query'"},
	{"[tasks]\nsource = command\n[worker]\ncommand = w\n", 2,
	 "source = command needs a 'command' in [tasks]"},
	{"[tasks]\nsource = file\n[worker]\ncommand = w\n", 2, "source = file needs a 'path'"},
	{"[tasks]\nsource = range\n[worker]\ncommand = w\n", 2, "source = range needs a 'range'"},
	{"[tasks]\nsource = sql\nquery =\n[worker]\ncommand = w\n", 3,
	 "source = sql needs a 'query'"},
	/* keys of another source, at their own line */
	{"[tasks]\nsource = file\npath = t.txt\n\nquery = select 1\n[worker]\ncommand = w\n", 5,
	 "'query' is only used with source = sql"},
	{W "command = w\n[tasks]\n", 6, "duplicate section [tasks] (first at line 1)"},
	{"[tasks]\nsource = range\nrange = 1-10\npath = t.txt\n[worker]\ncommand = w\n", 4,
	 "'path' is only used with source = file"},
	{"[tasks]\nsource = range\nrange = 1-10\nsql_token_filter = yes\n[worker]\ncommand = w\n",
	 4, "'sql_token_filter' is only used with source = sql"},
	{"[tasks]\ncommand = ./list\n", 2, "'command' is only used with source = command"},
	{"[tasks]\nsource = sql\nquery = q\nsql_token_filter = true\npoll_interval_sec = 0\n"
	 "[worker]\ncommand = w\n", 4, "sql_token_filter needs streaming (poll_interval_sec > 0)"},
	{"[tasks]\nsource = sql\nquery = q\nrange = 1-2\n[worker]\ncommand = w\n", 4,
	 "'range' is only used with source = range"},
	/* ranges, channels, sources */
	{"[tasks]\nsource = range\nrange = 10-1\n[worker]\ncommand = w\n", 3,
	 "'range' = 10-1: FIRST is above LAST"},
	{"[tasks]\nsource = range\nrange = 1-x\n[worker]\ncommand = w\n", 3,
	 "invalid range '1-x' for 'range' (use FIRST-LAST, integers)"},
	{"[tasks]\nsource = range\nrange = 5\n[worker]\ncommand = w\n", 3, "invalid range"},
	{"[tasks]\nsource = range\nrange = 1-2-3\n[worker]\ncommand = w\n", 3, "invalid range"},
	{"[tasks]\nsource = range\nrange = 1-99999999999999999999\n[worker]\ncommand = w\n", 3,
	 "invalid range"},
	{"[tasks]\nchannel = Bad\n", 2, "invalid channel 'Bad': must match [a-z_][a-z0-9_$]{0,62}"},
	{"[tasks]\nchannel = 1abc\n", 2, "invalid channel"},
	{"[tasks]\nchannel = a-b\n", 2, "invalid channel"},
	{"[tasks]\nchannel = a234567890123456789012345678901234567890123456789012345678901234\n", 2,
	 "invalid channel"},
	{"[tasks]\nsource = queue\n[worker]\ncommand = w\n", 2,
	 "invalid value 'queue' for 'source' (one of: none, sql, command, file, range)"},
	{"[tasks]\npoll_interval_sec = -1\n", 2, "out of range"},
	/* [tasks] and [worker] go together */
	{"[tasks]\nsource = range\nrange = 1-5\n", 2, "[tasks] source = range needs a [worker]"},
	{"\n[worker]\ncommand = w\n", 2, "[worker] needs a [tasks] source"},
	{"[tasks]\n[worker]\ncommand = w\n", 2, "[worker] needs a [tasks] source"},
	/* [worker] */
	{W "mode = exec\n", 4, "[worker] needs a 'command'"},
	{W "command =\n", 5, "[worker] has an empty 'command'"},
	{W "command = w 'unterminated\n", 5, "'command': unterminated single quote"},
	{W "command = w \"unterminated\n", 5, "'command': unterminated double quote"},
	{W "mode = stream\ncommand = w {}\n", 6, "'{}' is only replaced in exec mode"},
	{W "command = w --id={}\nmode = batch\n", 5, "'{}' is only replaced in exec mode"},
	{W "mode = parallel\ncommand = w\n", 5,
	 "invalid value 'parallel' for 'mode' (one of: exec, stream, batch)"},
	{W "command = w\nretry_backoff_sec = 10\nretry_backoff_max_sec = 5\n", 7,
	 "retry_backoff_max_sec (5) must be at least retry_backoff_sec (10)"},
	{W "command = w\nretry_backoff_sec = 100\n", 6,
	 "retry_backoff_max_sec (60) must be at least retry_backoff_sec (100)"},
	{W "command = w\nconcurrency = 0\n", 6, "'concurrency' = 0 is out of range (1..4096)"},
	{W "command = w\nprocs = 1025\n", 6, "out of range (1..1024)"},
	{W "command = w\ninflight = 10001\n", 6, "out of range (1..10000)"},
	{W "command = w\nbatch_size = 0\n", 6, "out of range (1..100000)"},
	{W "command = w\nmax_line = 255\n", 6, "out of range (256..16777216)"},
	{W "command = w\nmax_attempts = 101\n", 6, "out of range (1..100)"},
	{W "command = w\nno_restart_exit = 256\n", 6, "out of range (0..255)"},
	{W "command = w\ntask_timeout_sec = -1\n", 6, "out of range"},
	{W "command = w\nstop_signal = STOP\n", 6,
	 "invalid signal 'STOP' for 'stop_signal' (one of: TERM, INT, HUP, QUIT, KILL, USR1, USR2)"},
	{W "command = w\nstop_signal = SIG\n", 6, "invalid signal"},
	{W "command = w\nrestart = sometimes\n", 6,
	 "invalid value 'sometimes' for 'restart' (one of: always, on-failure, never)"},
	{W "command = w\nessential = maybe\n", 6, "invalid boolean"},
	{W "command = w\ncomand = x\n", 6, "unknown key 'comand' in [worker] (did you mean 'command'?)"},
	{W "command = w\ncommand = x\n", 6, "duplicate key 'command' in [worker] (first set at line 5)"},
	/* [service.NAME] */
	{"[service.pub]\nshell = true\n", 1, "[service.pub] needs a 'command'"},
	{"[service.pub]\ncommand =\n", 2, "[service.pub] has an empty 'command'"},
	{"[service.pub]\ncommand = a \"b\n", 2, "'command': unterminated double quote"},
	{"[service.pub]\ncommand = a\n[service.pub]\n", 3,
	 "duplicate section [service.pub] (first at line 1)"},
	{"[service.pub]\ncommand = a\ncommand = b\n", 3,
	 "duplicate key 'command' in [service.pub] (first set at line 2)"},
	{"[service.pub]\ncommand = a\ncomand = b\n", 3,
	 "unknown key 'comand' in [service.pub] (did you mean 'command'?)"},
	{"[service.pub]\ncommand = a\nmode = exec\n", 3, "unknown key 'mode' in [service.pub]"},
	{"[service.pub]\ncommand = a\nno_restart_exit = 256\n", 3, "out of range (0..255)"},
	{"[service.pub]\ncommand = a\nstop_timeout_sec = x\n", 3, "invalid integer 'x'"},
	/* [cron.NAME] */
	{"[cron.c]\ncommand = x\n", 1, "[cron.c] needs a 'schedule'"},
	{"[cron.c]\nschedule = @daily\n", 1, "[cron.c] needs a 'command'"},
	{"[cron.c]\nschedule =\ncommand = x\n", 2, "[cron.c] has an empty 'schedule'"},
	{"[cron.c]\nschedule = 61 * * * *\ncommand = x\n", 2, "'schedule': minute"},
	{"[cron.c]\nschedule = 0 0 30 2 *\ncommand = x\n", 2,
	 "'schedule': never fires: day 30 does not occur in February"},
	{"[cron.c]\nschedule = @sometimes\ncommand = x\n", 2, "'schedule': "},
	{"[cron.c]\nschedule = @daily\ntimezone = Mars/Olympus\ncommand = x\n", 3,
	 "'timezone': unknown time zone 'Mars/Olympus'"},
	{"[cron.c]\nschedule = @daily\ntimezone = ../../etc/passwd\ncommand = x\n", 3,
	 "'timezone': unknown time zone"},
	{"[cron.c]\nschedule = @daily\ntimezone = /etc/localtime\ncommand = x\n", 3,
	 "'timezone': unknown time zone"},
	{"[cron.c]\nschedule = @daily\ncommand = x '\n", 3, "'command': unterminated single quote"},
	{"[cron.c]\nschedule = @daily\ncommand = x\nmisfire = twice\n", 4,
	 "invalid value 'twice' for 'misfire' (one of: skip, once)"},
	{"[cron.c]\nschedule = @daily\ncommand = x\nconcurrency_policy = replace\n", 4,
	 "invalid value 'replace' for 'concurrency_policy' (one of: forbid, allow)"},
	{"[cron.c]\nschedule = @daily\ncommand = x\nretry_backoff_max_sec = 5\n", 4,
	 "retry_backoff_max_sec (5) must be at least retry_backoff_sec (10)"},
	{"[cron.c]\nschedule = @daily\ncommand = x\nmax_attempts = 0\n", 4, "out of range (1..100)"},
	{"[cron.c]\nschedule = @daily\ncommand = x\nenabled = sometimes\n", 4, "invalid boolean"},
	{"[cron.c]\nschedule = @daily\ncommand = x\nstop_signal = sigfoo\n", 4, "invalid signal"},
	{"[cron.c]\nschedule = @daily\ncommand = x\nrestart = never\n", 4,
	 "unknown key 'restart' in [cron.c]"},
	{"[cron.c]\nschedule = @daily\ncommand = x\n[cron.c]\n", 4,
	 "duplicate section [cron.c] (first at line 1)"},
	/* [health] */
	{"[health]\nlisten = nowhere\n", 2, "invalid listen address 'nowhere'"},
	{"[health]\nlisten = example.com:8080\n", 2, "invalid listen address"},
	{"[health]\nlisten = 127.0.0.1:-1\n", 2, "invalid listen address"},
	{"[health]\nlisten = [::1:8080\n", 2, "invalid listen address"},
	{"[health]\nlisten = :65536\n", 2, "invalid listen address"},
	{"[health]\nlistn = x\n", 2, "unknown key 'listn' in [health] (did you mean 'listen'?)"},
};

static void test_work_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++)
		expect_error(error_cases[i].text, error_cases[i].line, error_cases[i].msg);
}

static void test_work_values(void **state)
{
	static const struct {
		const char *value;
		int signo;
	} sigs[] = {
		{"TERM", SIGTERM}, {"SIGTERM", SIGTERM}, {"term", SIGTERM}, {"sigint", SIGINT},
		{"HUP", SIGHUP},   {"Quit", SIGQUIT},    {"KILL", SIGKILL}, {"SIGUSR1", SIGUSR1},
		{"usr2", SIGUSR2},
	};
	char text[256];
	struct config cfg = {0};

	(void)state;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		snprintf(text, sizeof(text), "[service.s]\ncommand = x\nstop_signal = %s\n",
			 sigs[i].value);
		expect_clean(text, &cfg);
		assert_int_equal(cfg.services[0].cmd.stop_signal, sigs[i].signo);
		config_free(&cfg);
	}
	expect_clean("[tasks]\nsource = range\nrange = -5 - 1000000000000\n"
		     "poll_interval_sec = 0\nchannel = new_tasks$1\n"
		     "[worker]\nmode = stream\ncommand = w 'not split with shell = true\n"
		     "shell = true\ncwd = /srv\nessential = yes\nrestart = on-failure\n",
		     &cfg);
	assert_int_equal(cfg.tasks.range_first, -5);
	assert_true(cfg.tasks.range_last == 1000000000000LL);
	assert_int_equal(cfg.tasks.poll_interval_sec, 0);
	assert_string_equal(cfg.tasks.channel, "new_tasks$1");
	assert_int_equal(cfg.worker.mode, MODE_STREAM);
	assert_true(cfg.worker.cmd.shell);
	assert_string_equal(cfg.worker.cmd.command, "w 'not split with shell = true");
	assert_string_equal(cfg.worker.cmd.cwd, "/srv");
	assert_true(cfg.worker.policy.essential);
	assert_int_equal(cfg.worker.policy.restart, CONFIG_RESTART_ON_FAILURE);
	config_free(&cfg);
	/* exec mode without "{}" takes the id from the environment only */
	expect_clean("[tasks]\nsource = file\npath = ids.txt\n[worker]\ncommand = w --env\n", &cfg);
	assert_string_equal(cfg.tasks.path, "ids.txt");
	config_free(&cfg);
	/* empty values of another source's keys are as good as unset */
	expect_clean("[tasks]\nsource = command\ncommand = ./list\nquery =\npath =\nrange =\n"
		     "sql_token_filter = false\n[worker]\ncommand = w {}\n",
		     &cfg);
	config_free(&cfg);
}

/* The config example of SPEC section 7, verbatim. */
static const char spec_example[] =
	"[cluster]\n"
	"dsn = host=127.0.0.1 port=5432 dbname=jobs user=jobsync   ; libpq conninfo\n"
	"node = ${HOSTNAME}          ; default: the host name\n"
	"site = production\n"
	"prefix = sync_\n"
	"\n"
	"[coordination]\n"
	"enabled = true\n"
	"total_tokens = 10000\n"
	"heartbeat_interval_sec = 5\n"
	"heartbeat_timeout_sec = 15\n"
	"wait_on_enter = 0\n"
	"\n"
	"[tasks]\n"
	"source = sql\n"
	"query = SELECT id FROM invoices WHERE day = $1 AND status = 'pending'\n"
	"poll_interval_sec = 30\n"
	"; other sources:  source = command + command = ./list-tasks\n"
	";                 source = file + path = tasks.txt\n"
	";                 source = range + range = 1-100000\n"
	"\n"
	"[worker]\n"
	"mode = exec\n"
	"command = /opt/billing/process-invoice {}\n"
	"concurrency = 4\n"
	"task_timeout_sec = 600\n"
	"max_attempts = 3\n"
	"stop_timeout_sec = 30\n"
	"\n"
	"[health]\n"
	"status_file = /run/jobsync/status.json\n"
	"listen = 0.0.0.0:8080\n"
	"\n"
	"[lock.gpu]\n"
	"tasks = 100, 200\n"
	"pattern = %-gpu\n"
	"reason = gpu_required\n"
	"\n"
	"[service.publisher]\n"
	"command = /opt/billing/publish-tickets\n"
	"\n"
	"[cron.cleanup]\n"
	"schedule = 0 3 * * *\n"
	"timezone = America/New_York\n"
	"command = /opt/billing/cleanup\n"
	"timeout_sec = 1800\n"
	"max_attempts = 3\n";

static void test_spec_example(void **state)
{
	struct config cfg = {0};

	(void)state;
	setenv("HOSTNAME", "worker-1", 1);
	expect_clean(spec_example, &cfg);
	assert_string_equal(cfg.node, "worker-1");
	assert_int_equal(cfg.tasks.source, SOURCE_SQL);
	assert_string_equal(cfg.tasks.query,
			    "SELECT id FROM invoices WHERE day = $1 AND status = 'pending'");
	assert_int_equal(cfg.tasks.line, 14);
	assert_int_equal(cfg.worker.line, 22);
	assert_int_equal(cfg.worker.mode, MODE_EXEC);
	assert_string_equal(cfg.worker.cmd.command, "/opt/billing/process-invoice {}");
	assert_int_equal(cfg.worker.concurrency, 4);
	assert_int_equal(cfg.worker.task_timeout_sec, 600);
	assert_int_equal(cfg.worker.cmd.stop_timeout_sec, 30);
	assert_string_equal(cfg.status_file, "/run/jobsync/status.json");
	assert_string_equal(cfg.listen, "0.0.0.0:8080");
	assert_int_equal(cfg.nlocks, 1);
	assert_int_equal(cfg.nservices, 1);
	assert_string_equal(cfg.services[0].name, "publisher");
	assert_int_equal(cfg.services[0].line, 39);
	assert_string_equal(cfg.services[0].cmd.command, "/opt/billing/publish-tickets");
	assert_int_equal(cfg.ncrons, 1);
	assert_string_equal(cfg.crons[0].name, "cleanup");
	assert_int_equal(cfg.crons[0].line, 42);
	assert_string_equal(cfg.crons[0].schedule, "0 3 * * *");
	assert_string_equal(cfg.crons[0].timezone, "America/New_York");
	assert_int_equal(cfg.crons[0].timeout_sec, 1800);
	assert_int_equal(cfg.crons[0].max_attempts, 3);
	assert_int_equal(cfg.crons[0].key_line[config_key_index(CONFIG_CRON_SECTION, "timezone") -
						CONFIG_CRON_FIRST],
			 44);
	config_free(&cfg);
}

/* Every new section at once, two services and two crons, in any order. */
static void test_full_example(void **state)
{
	static const char text[] =
		"[cron.nightly]\n"
		"schedule = @daily\n"
		"command = /opt/jobs/nightly --all\n"
		"enabled = false\n"
		"misfire = once\n"
		"misfire_grace_sec = 600\n"
		"concurrency_policy = allow\n"
		"retry_backoff_sec = 5\n"
		"retry_backoff_max_sec = 5\n"
		"[service.publisher]\n"
		"command = /opt/jobs/publish \"two words\"\n"
		"restart = on-failure\n"
		"max_restarts = 10\n"
		"restart_window_sec = 120\n"
		"fatal_cooldown_sec = 0\n"
		"stable_sec = 30\n"
		"essential = true\n"
		"no_restart_exit = 0\n"
		"stop_signal = INT\n"
		"stop_timeout_sec = 5\n"
		"[tasks]\n"
		"source = sql\n"
		"query = SELECT id FROM t WHERE day = $1\n"
		"dsn = host=tasks.example dbname=t\n"
		"sql_token_filter = true\n"
		"poll_interval_sec = 10\n"
		"channel = jobs_new\n"
		"[worker]\n"
		"mode = batch\n"
		"command = /opt/jobs/batch --stdin\n"
		"cwd = /srv/jobs\n"
		"procs = 8\n"
		"batch_size = 500\n"
		"max_line = 1024\n"
		"inflight = 2\n"
		"max_attempts = 5\n"
		"retry_backoff_sec = 2\n"
		"retry_backoff_max_sec = 120\n"
		"restart = never\n"
		"[service.reporter]\n"
		"command = echo report > /tmp/r\n"
		"shell = true\n"
		"[cron.hourly-report]\n"
		"schedule = 15 */2 * * MON-FRI\n"
		"timezone = UTC\n"
		"command = /opt/jobs/report\n"
		"timeout_sec = 60\n"
		"max_attempts = 4\n"
		"shell = false\n"
		"cwd = /tmp\n";
	struct config cfg = {0};

	(void)state;
	expect_clean(text, &cfg);
	assert_int_equal(cfg.ncrons, 2);
	assert_string_equal(cfg.crons[0].name, "nightly");
	assert_false(cfg.crons[0].enabled);
	assert_int_equal(cfg.crons[0].misfire, MISFIRE_ONCE);
	assert_int_equal(cfg.crons[0].misfire_grace_sec, 600);
	assert_int_equal(cfg.crons[0].concurrency_policy, CONCURRENCY_ALLOW);
	assert_int_equal(cfg.crons[0].retry_backoff_max_sec, 5);
	assert_string_equal(cfg.crons[1].name, "hourly-report");
	assert_int_equal(cfg.crons[1].line, 43);
	assert_string_equal(cfg.crons[1].timezone, "UTC");
	assert_int_equal(cfg.crons[1].max_attempts, 4);
	assert_string_equal(cfg.crons[1].cmd.cwd, "/tmp");
	assert_int_equal(cfg.nservices, 2);
	assert_string_equal(cfg.services[0].cmd.command, "/opt/jobs/publish \"two words\"");
	assert_int_equal(cfg.services[0].policy.restart, CONFIG_RESTART_ON_FAILURE);
	assert_int_equal(cfg.services[0].policy.max_restarts, 10);
	assert_int_equal(cfg.services[0].policy.restart_window_sec, 120);
	assert_int_equal(cfg.services[0].policy.fatal_cooldown_sec, 0);
	assert_int_equal(cfg.services[0].policy.stable_sec, 30);
	assert_true(cfg.services[0].policy.essential);
	assert_int_equal(cfg.services[0].policy.no_restart_exit, 0);
	assert_int_equal(cfg.services[0].cmd.stop_signal, SIGINT);
	assert_int_equal(cfg.services[0].cmd.stop_timeout_sec, 5);
	assert_string_equal(cfg.services[1].name, "reporter");
	assert_true(cfg.services[1].cmd.shell);
	assert_int_equal(cfg.services[1].policy.restart, CONFIG_RESTART_ALWAYS);
	assert_int_equal(cfg.tasks.source, SOURCE_SQL);
	assert_string_equal(cfg.tasks.dsn, "host=tasks.example dbname=t");
	assert_true(cfg.tasks.sql_token_filter);
	assert_int_equal(cfg.tasks.poll_interval_sec, 10);
	assert_string_equal(cfg.tasks.channel, "jobs_new");
	assert_int_equal(cfg.tasks.line, 21);
	assert_int_equal(cfg.worker.line, 28);
	assert_int_equal(cfg.worker.mode, MODE_BATCH);
	assert_string_equal(cfg.worker.cmd.cwd, "/srv/jobs");
	assert_int_equal(cfg.worker.procs, 8);
	assert_int_equal(cfg.worker.batch_size, 500);
	assert_int_equal(cfg.worker.max_line, 1024);
	assert_int_equal(cfg.worker.inflight, 2);
	assert_int_equal(cfg.worker.max_attempts, 5);
	assert_int_equal(cfg.worker.retry_backoff_sec, 2);
	assert_int_equal(cfg.worker.retry_backoff_max_sec, 120);
	assert_int_equal(cfg.worker.policy.restart, CONFIG_RESTART_NEVER);
	assert_int_equal(cfg.worker.cmd.stop_signal, SIGTERM);
	/* reparsing into the same struct frees everything (ASan) */
	expect_clean("[service.a]\ncommand = a\n", &cfg);
	assert_int_equal(cfg.ncrons, 0);
	assert_int_equal(cfg.nservices, 1);
	assert_int_equal(cfg.tasks.line, 0);
	config_free(&cfg);
}

/* Several errors of the new sections at once, sorted by line, none lost. */
static void test_work_errors_collected(void **state)
{
	static const char text[] =
		"[worker]\n"
		"mode = stream\n"
		"command = w {}\n"
		"[service.a]\n"
		"[cron.b]\n"
		"schedule = 0 0 32 * *\n"
		"timezone = Nowhere/Here\n"
		"command = x\n";
	static const int lines[] = {1, 3, 4, 6, 7};
	struct config cfg = {0};
	struct config_errors errs = {0};

	(void)state;
	assert_int_equal(parse_text(text, &cfg, &errs), -1);
	if (errs.n != 5)
		config_errors_print(&errs, stderr);
	assert_int_equal(errs.n, 5);
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(errs.v[i].line, lines[i]);
	config_errors_free(&errs);
	config_free(&cfg);
}

/* Mutated copies of the SPEC example: never crash, never leak; clean or errors. */
static void test_work_mutations(void **state)
{
	static const char alphabet[] = "[]=:;#$ {}'\"\\\n\r\t,.-_*/@aAz09\x01\xff";
	size_t len = sizeof(spec_example) - 1;
	char *buf = malloc(len + 1);
	unsigned seed = 4242;

	(void)state;
	for (int iter = 0; iter < 3000; iter++) {
		struct config cfg = {0};
		struct config_errors errs = {0};
		int rc, nlines = 1;

		memcpy(buf, spec_example, len + 1);
		for (int m = 0; m < 1 + iter % 6; m++) {
			seed = seed * 1103515245u + 12345u;
			buf[(seed >> 8) % len] = alphabet[(seed >> 20) % (sizeof(alphabet) - 1)];
		}
		for (size_t i = 0; i < len; i++)
			nlines += buf[i] == '\n';
		rc = parse_text(buf, &cfg, &errs);
		assert_true((rc == 0) == (errs.n == 0));
		for (size_t i = 0; i < errs.n; i++)
			assert_true(errs.v[i].line >= 0 && errs.v[i].line <= nlines);
		config_errors_free(&errs);
		config_free(&cfg);
	}
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_work_defaults),
		cmocka_unit_test(test_work_errors),
		cmocka_unit_test(test_work_values),
		cmocka_unit_test(test_spec_example),
		cmocka_unit_test(test_full_example),
		cmocka_unit_test(test_work_errors_collected),
		cmocka_unit_test(test_work_mutations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
