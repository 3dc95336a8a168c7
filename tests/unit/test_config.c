/* test_config.c: config parsing, validation and sample: every error class at its exact line. */
#include <setjmp.h>
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
static int parse_text(const char *text, size_t len, struct config *cfg,
		      struct config_errors *errs)
{
	FILE *fp;
	int rc;

	if (len == 0) {
		/* fmemopen rejects size 0 in older glibc: parse an empty file via "r" on "". */
		static char empty[1];

		fp = fmemopen(empty, 1, "r");
		assert_non_null(fp);
		fgetc(fp);
	} else {
		fp = fmemopen((void *)text, len, "r");
		assert_non_null(fp);
	}
	rc = config_parse_file(fp, "t.ini", cfg, errs);
	fclose(fp);
	return rc;
}

static void print_errors(const struct config_errors *errs)
{
	config_errors_print(errs, stderr);
}

/* Parse text and expect exactly one error, at line, whose message contains substr. */
static void expect_error(const char *text, int line, const char *substr)
{
	struct config cfg = {0};
	struct config_errors errs = {0};

	assert_int_equal(parse_text(text, strlen(text), &cfg, &errs), -1);
	if (errs.n != 1 || errs.v[0].line != line || !strstr(errs.v[0].msg, substr)) {
		fprintf(stderr, "--- input:\n%s--- expected line %d '%s', got:\n", text, line,
			substr);
		print_errors(&errs);
		fail();
	}
	assert_string_equal(errs.v[0].file, "t.ini");
	config_errors_free(&errs);
	config_free(&cfg);
}

/* Parse text and expect no error at all. */
static void expect_clean(const char *text, struct config *cfg)
{
	struct config_errors errs = {0};

	if (parse_text(text, strlen(text), cfg, &errs) != 0 || errs.n) {
		fprintf(stderr, "--- input:\n%s--- unexpected errors:\n", text);
		print_errors(&errs);
		fail();
	}
	config_errors_free(&errs);
}

static void test_defaults(void **state)
{
	struct config cfg = {0};

	(void)state;
	config_defaults(&cfg);
	assert_string_equal(cfg.dsn, "");
	assert_string_equal(cfg.site, "");
	assert_string_equal(cfg.prefix, "sync_");
	assert_non_null(cfg.node);
	assert_true(strlen(cfg.node) > 0);
	assert_int_equal(cfg.log_level, LOG_LEVEL_INFO);
	assert_int_equal(cfg.log_format, LOG_FORMAT_TEXT);
	assert_true(cfg.enabled);
	assert_int_equal(cfg.total_tokens, 10000);
	assert_int_equal(cfg.heartbeat_interval_sec, 5);
	assert_int_equal(cfg.heartbeat_timeout_sec, 15);
	assert_int_equal(cfg.rebalance_check_interval_sec, 30);
	assert_int_equal(cfg.dead_node_check_interval_sec, 10);
	assert_int_equal(cfg.token_refresh_initial_interval_sec, 5);
	assert_int_equal(cfg.token_refresh_steady_interval_sec, 30);
	assert_true(cfg.locks_enabled);
	assert_int_equal(cfg.leader_lock_timeout_sec, 30);
	assert_int_equal(cfg.wait_on_enter, 0);
	assert_int_equal(cfg.cold_start_quiet_sec, 2);
	assert_int_equal(cfg.connect_timeout_sec, 10);
	assert_int_equal(cfg.reconnect_max_sec, 30);
	assert_int_equal(cfg.fence_kill_grace_sec, 1);
	assert_false(cfg.clear_existing_locks);
	assert_int_equal(cfg.retention_days, 30);
	assert_int_equal(cfg.nlocks, 0);
	for (int i = 0; i < CONFIG_NKEYS; i++)
		assert_int_equal(cfg.key_line[i], 0);
	assert_true(config_fence_after_sec(&cfg) == 13.0);
	config_free(&cfg);
}

static void test_empty_file_is_defaults(void **state)
{
	struct config cfg = {0};

	(void)state;
	expect_clean("", &cfg);
	assert_int_equal(cfg.total_tokens, 10000);
	config_free(&cfg);
	expect_clean("; only a comment\n\n# another\n", &cfg);
	assert_string_equal(cfg.path, "t.ini");
	config_free(&cfg);
	/* parsing over defaults or an earlier config frees it (no leak under ASan) */
	config_defaults(&cfg);
	expect_clean("[cluster]\nsite = a\n", &cfg);
	expect_clean("[cluster]\nsite = b\n[lock.x]\npattern = %\ntasks = t\n", &cfg);
	expect_clean("[cluster]\n", &cfg);
	assert_string_equal(cfg.site, "");
	assert_int_equal(cfg.nlocks, 0);
	config_free(&cfg);
}

static const struct {
	const char *text;
	int line;
	const char *msg;
} error_cases[] = {
	/* unknown key, with and without a suggestion */
	{"[cluster]\nnod = x\n", 2, "unknown key 'nod' in [cluster] (did you mean 'node'?)"},
	{"[cluster]\n\nwhatever = x\n", 3, "unknown key 'whatever' in [cluster]"},
	{"[lock.a]\npattern = %\ntasks = 1\npatern = x\n", 4,
	 "unknown key 'patern' in [lock.a] (did you mean 'pattern'?)"},
	/* unknown sections, including the ones not supported yet; their keys are skipped */
	{"[cluster]\n[workers]\nmode = exec\n", 2, "unknown section [workers]"},
	{"\n\n[task]\nsource = sql\n", 3, "unknown section [task]"},
	{"[services.publisher]\ncommand = x\n", 1, "unknown section [services.publisher]"},
	{"[hooks]\n", 1, "unknown section [hooks]"},
	{"[lock]\n", 1, "unknown section [lock]"},
	{"[service]\n", 1, "unknown section [service]"},
	{"[cron]\ncommand = x\n", 1, "unknown section [cron]"},
	{"[lock.]\n", 1, "invalid lock name"},
	{"[lock.a b]\n", 1, "invalid lock name"},
	{"[service.]\n", 1, "invalid service name"},
	{"[cron.a/b]\nschedule = @daily\n", 1, "invalid cron name in [cron.a/b]"},
	{"[cluster\n", 1, "missing ']'"},
	{"key = 1\n", 1, "outside of any section"},
	{"[cluster]\njunk\n", 2, "expected 'key = value' or '[section]'"},
	{"[cluster]\n= x\n", 2, "missing key name"},
	/* duplicates name both lines */
	{"[cluster]\nsite = a\n\nsite = b\n", 4, "duplicate key 'site' in [cluster] (first set at line 2)"},
	{"[cluster]\n[coordination]\n[cluster]\n", 3, "duplicate section [cluster] (first at line 1)"},
	{"[lock.a]\npattern = %\ntasks = 1\n[lock.a]\n", 4, "duplicate section [lock.a] (first at line 1)"},
	/* continuation lines never reach inih */
	{"[cluster]\nsite = a\n  more\n", 3, "indented continuation lines are not supported"},
	{"[cluster]\nsite = a\n\tmore\n", 3, "indented continuation lines are not supported"},
	/* ints */
	{"[coordination]\ntotal_tokens = 5s\n", 2, "invalid integer '5s' for 'total_tokens'"},
	{"[coordination]\ntotal_tokens =\n", 2, "invalid integer '' for 'total_tokens'"},
	{"[coordination]\ntotal_tokens = 0x10\n", 2, "invalid integer"},
	{"[coordination]\ntotal_tokens = 1.5\n", 2, "invalid integer"},
	{"[coordination]\ntotal_tokens = 99999999999999999999999\n", 2, "invalid integer"},
	{"[coordination]\ntotal_tokens = 9999999999\n", 2, "out of range (1..1000000)"},
	{"[coordination]\ntotal_tokens = 0\n", 2, "'total_tokens' = 0 is out of range (1..1000000)"},
	{"[coordination]\nheartbeat_interval_sec = 0\n", 2, "out of range"},
	{"[coordination]\nfence_kill_grace_sec = 0\n", 2, "out of range"},
	{"[coordination]\nreconnect_max_sec = 0\n", 2, "out of range"},
	{"[coordination]\nconnect_timeout_sec = -1\n", 2, "out of range"},
	{"[coordination]\ntoken_refresh_initial_interval_sec = 0\n", 2, "out of range"},
	{"[coordination]\ntoken_refresh_steady_interval_sec = 0\n", 2, "out of range"},
	{"[lock.a]\npattern = %\ntasks = 1\nexpires_days = -1\n", 4, "out of range"},
	/* bools and enums */
	{"[coordination]\nenabled = maybe\n", 2, "invalid boolean 'maybe' for 'enabled'"},
	{"[coordination]\nlocks_enabled = 2\n", 2, "invalid boolean"},
	{"[cluster]\nlog_level = loud\n", 2,
	 "invalid value 'loud' for 'log_level' (one of: debug, info, warn, error)"},
	{"[cluster]\nlog_format = xml\n", 2, "invalid value 'xml' for 'log_format'"},
	/* prefix and node */
	{"[cluster]\nprefix = Sync_\n", 2, "invalid prefix 'Sync_'"},
	{"[cluster]\nprefix = 1abc\n", 2, "invalid prefix"},
	{"[cluster]\nprefix =\n", 2, "invalid prefix"},
	{"[cluster]\nprefix = a-b\n", 2, "invalid prefix"},
	{"[cluster]\nprefix = abcdefghijabcdefghijabcdefghijab\n", 2, "invalid prefix"},
	{"[cluster]\nnode =\n", 2, "node name is empty"},
	{"[cluster]\nnode = a b\n", 2, "whitespace or control"},
	{"[cluster]\nnode = 0123456789012345678901234567890123456789012345678901234567890123\n", 2,
	 "longer than 63 bytes"},
	/* environment */
	{"[cluster]\n\nsite = ${JOBSYNC_TEST_UNSET}\n", 3,
	 "environment variable 'JOBSYNC_TEST_UNSET' is not set"},
	{"[cluster]\nsite = a${JOBSYNC_TEST_SET\n", 2, "unterminated '${'"},
	{"[cluster]\nsite = ${}\n", 2, "invalid variable reference"},
	{"[cluster]\nsite = ${A-b}\n", 2, "invalid variable reference '${A-b}'"},
	{"[cluster]\nsite = ${9A}\n", 2, "invalid variable reference"},
	/* locks */
	{"[lock.gpu]\ntasks = 100\n", 1, "[lock.gpu] needs a 'pattern'"},
	{"[lock.gpu]\ntasks = 100\npattern =\n", 3, "[lock.gpu] has an empty 'pattern'"},
	{"[lock.gpu]\npattern = %-gpu\n", 1, "[lock.gpu] needs 'tasks' or 'tokens'"},
	{"[lock.gpu]\npattern = %\ntasks = 1,,2\n", 3, "empty item in 'tasks' list"},
	{"[lock.gpu]\npattern = %\ntasks = 1,\n", 3, "empty item"},
	{"[lock.gpu]\npattern = %\ntasks =\n", 3, "empty 'tasks' list"},
	{"[lock.gpu]\npattern = %\ntokens = 1, x\n", 3, "invalid integer 'x' for 'tokens'"},
	{"[lock.gpu]\npattern = %\ntokens = 1, -2\n", 3, "out of range"},
	{"[lock.gpu]\npattern = %\ntokens = 1,\n", 3, "empty item"},
	/* tokens are checked against total_tokens after the whole file is read */
	{"[lock.gpu]\npattern = %\ntokens = 5, 100\n[coordination]\ntotal_tokens = 100\n", 3,
	 "[lock.gpu] token 100 is out of range (0..99"},
	/* timings */
	{"[coordination]\nheartbeat_interval_sec = 5\nheartbeat_timeout_sec = 10\n", 3,
	 "heartbeat_timeout_sec (10) must be more than twice heartbeat_interval_sec (5)"},
	{"[coordination]\nheartbeat_interval_sec = 8\n", 2,
	 "heartbeat_timeout_sec (15) must be more than twice heartbeat_interval_sec (8)"},
	{"[coordination]\nfence_kill_grace_sec = 2\n", 2,
	 "= 13.0 s and kills them fence_kill_grace_sec = 2 s later, at 15.0 s; that must be "
	 "before heartbeat_timeout_sec = 15 s"},
	{"[coordination]\nheartbeat_interval_sec = 3\nheartbeat_timeout_sec = 7\n"
	 "fence_kill_grace_sec = 3\n",
	 4, "self-fencing ends too late"},
};

static void test_error_lines(void **state)
{
	(void)state;
	unsetenv("JOBSYNC_TEST_UNSET");
	for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++)
		expect_error(error_cases[i].text, error_cases[i].line, error_cases[i].msg);
}

static void test_long_lines(void **state)
{
	size_t n = 5000;
	char *text = malloc(n + 64);
	struct config cfg = {0};

	(void)state;
	/* 4097 bytes: rejected at its own line; the lines around it still count */
	strcpy(text, "[cluster]\nsite = ");
	memset(text + strlen(text), 'a', 4097 - strlen("site = "));
	strcpy(text + 10 + 4097, "\nlog_level = loud\n");
	{
		struct config_errors errs = {0};

		assert_int_equal(parse_text(text, strlen(text), &cfg, &errs), -1);
		assert_int_equal(errs.n, 2);
		assert_int_equal(errs.v[0].line, 2);
		assert_string_equal(errs.v[0].msg, "line too long (max 4096 bytes)");
		assert_int_equal(errs.v[1].line, 3);
		config_errors_free(&errs);
		config_free(&cfg);
	}
	/* exactly 4096 bytes (with CRLF): accepted, longer than inih's 200-byte buffer */
	strcpy(text, "[cluster]\r\nsite = ");
	memset(text + strlen(text), 'b', 4096 - strlen("site = "));
	strcpy(text + 11 + 4096, "\r\nprefix = p_ ; comment\r\n");
	expect_clean(text, &cfg);
	assert_int_equal(strlen(cfg.site), 4096 - strlen("site = "));
	assert_string_equal(cfg.prefix, "p_");
	assert_int_equal(cfg.key_line[config_key_index("cluster", "prefix")], 3);
	config_free(&cfg);
	/* a 300-byte dsn with an inline comment and expansion */
	setenv("JOBSYNC_TEST_SET", "xyz", 1);
	strcpy(text, "[cluster]\ndsn = host=h application_name=");
	n = strlen(text);
	memset(text + n, 'c', 300);
	strcpy(text + n + 300, "${JOBSYNC_TEST_SET} ; libpq conninfo\nsite=s\n");
	expect_clean(text, &cfg);
	assert_int_equal(strlen(cfg.dsn), strlen("host=h application_name=") + 303);
	assert_string_equal(cfg.dsn + strlen(cfg.dsn) - 4, "cxyz");
	assert_string_equal(cfg.site, "s");
	config_free(&cfg);
	free(text);
}

static void test_env_expansion(void **state)
{
	static const struct {
		const char *value;
		const char *want;
	} cases[] = {
		{"${JOBSYNC_TEST_SET}", "xyz"},
		{"a-${JOBSYNC_TEST_SET}-b", "a-xyz-b"},
		{"${JOBSYNC_TEST_SET}${JOBSYNC_TEST_SET}", "xyzxyz"},
		{"${JOBSYNC_TEST_UNSET:-dflt}", "dflt"},
		{"${JOBSYNC_TEST_UNSET:-}", ""},
		{"${JOBSYNC_TEST_EMPTY:-dflt}", "dflt"},
		{"${JOBSYNC_TEST_EMPTY}", ""},
		{"${JOBSYNC_TEST_SET:-dflt}", "xyz"},
		{"${JOBSYNC_TEST_UNSET:-a b:c}", "a b:c"},
		{"$$", "$"},
		{"$${JOBSYNC_TEST_SET}", "${JOBSYNC_TEST_SET}"},
		{"cost $5 and $1", "cost $5 and $1"},
		{"trailing $", "trailing $"},
		{"${JOBSYNC_TEST_SPECIAL}", "a ; b # c"},
	};
	char text[256];
	struct config cfg = {0};

	(void)state;
	setenv("JOBSYNC_TEST_SET", "xyz", 1);
	setenv("JOBSYNC_TEST_EMPTY", "", 1);
	setenv("JOBSYNC_TEST_SPECIAL", "a ; b # c", 1);
	unsetenv("JOBSYNC_TEST_UNSET");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), "[cluster]\nsite = %s\n", cases[i].value);
		expect_clean(text, &cfg);
		assert_string_equal(cfg.site, cases[i].want);
		config_free(&cfg);
	}
	/* expansion applies to typed values too */
	setenv("JOBSYNC_TEST_NUM", "42", 1);
	expect_clean("[coordination]\nretention_days = ${JOBSYNC_TEST_NUM}\n", &cfg);
	assert_int_equal(cfg.retention_days, 42);
	config_free(&cfg);
}

static void test_values_and_comments(void **state)
{
	static const char *const truthy[] = {"true", "TRUE", "yes", "On", "1"};
	static const char *const falsy[] = {"false", "No", "OFF", "0"};
	char text[128];
	struct config cfg = {0};

	(void)state;
	for (size_t i = 0; i < 5; i++) {
		snprintf(text, sizeof(text), "[coordination]\nclear_existing_locks = %s\n", truthy[i]);
		expect_clean(text, &cfg);
		assert_true(cfg.clear_existing_locks);
		config_free(&cfg);
	}
	for (size_t i = 0; i < 4; i++) {
		snprintf(text, sizeof(text), "[coordination]\nenabled = %s\n", falsy[i]);
		expect_clean(text, &cfg);
		assert_false(cfg.enabled);
		config_free(&cfg);
	}
	expect_clean("\xEF\xBB\xBF[cluster] ; the cluster\n"
		     "  log_level = DEBUG   # indented key lines are keys\n"
		     "log_format=json\n"
		     "site = a;b#c ; comment\n"
		     "\t; indented comment\n"
		     "prefix: x_\n"
		     "[coordination]\n"
		     "total_tokens = +20 #\n"
		     "wait_on_enter = 0\n",
		     &cfg);
	assert_int_equal(cfg.log_level, LOG_LEVEL_DEBUG);
	assert_int_equal(cfg.log_format, LOG_FORMAT_JSON);
	assert_string_equal(cfg.site, "a;b#c");
	assert_string_equal(cfg.prefix, "x_");
	assert_int_equal(cfg.total_tokens, 20);
	assert_int_equal(cfg.key_line[config_key_index("cluster", "log_level")], 2);
	assert_int_equal(cfg.key_line[config_key_index("coordination", "wait_on_enter")], 9);
	config_free(&cfg);
}

static void test_spec_example(void **state)
{
	static const char text[] =
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
		"[lock.gpu]\n"
		"tasks = 100, 200\n"
		"pattern = %-gpu\n"
		"reason = gpu_required\n"
		"\n"
		"[lock.pinned-tokens.v2]\n"
		"tokens = 0,9999 , 17\n"
		"pattern = node-%\n"
		"expires_days = 7\n";
	struct config cfg = {0};

	(void)state;
	setenv("HOSTNAME", "worker-1", 1);
	expect_clean(text, &cfg);
	assert_string_equal(cfg.dsn, "host=127.0.0.1 port=5432 dbname=jobs user=jobsync");
	assert_string_equal(cfg.node, "worker-1");
	assert_string_equal(cfg.site, "production");
	assert_int_equal(cfg.nlocks, 2);
	assert_string_equal(cfg.locks[0].name, "gpu");
	assert_int_equal(cfg.locks[0].line, 14);
	assert_int_equal(cfg.locks[0].ntasks, 2);
	assert_string_equal(cfg.locks[0].tasks[0], "100");
	assert_string_equal(cfg.locks[0].tasks[1], "200");
	assert_int_equal(cfg.locks[0].ntokens, 0);
	assert_string_equal(cfg.locks[0].pattern, "%-gpu");
	assert_string_equal(cfg.locks[0].reason, "gpu_required");
	assert_int_equal(cfg.locks[0].expires_days, 0);
	assert_string_equal(cfg.locks[1].name, "pinned-tokens.v2");
	assert_int_equal(cfg.locks[1].ntokens, 3);
	assert_int_equal(cfg.locks[1].tokens[0], 0);
	assert_int_equal(cfg.locks[1].tokens[1], 9999);
	assert_int_equal(cfg.locks[1].tokens[2], 17);
	assert_int_equal(cfg.locks[1].ntasks, 0);
	assert_string_equal(cfg.locks[1].reason, "");
	assert_int_equal(cfg.locks[1].expires_days, 7);
	config_free(&cfg);
}

static void test_all_errors_collected(void **state)
{
	static const char text[] =
		"[cluster]\n"
		"nod = x\n"
		"log_level = loud\n"
		"[workers]\n"
		"mode = exec\n"
		"[coordination]\n"
		"enabled = maybe\n"
		"heartbeat_timeout_sec = 10\n";
	static const int lines[] = {2, 3, 4, 7, 8};
	struct config cfg = {0};
	struct config_errors errs = {0};
	char *out = NULL;
	size_t outlen = 0;
	FILE *mem;

	(void)state;
	assert_int_equal(parse_text(text, strlen(text), &cfg, &errs), -1);
	assert_int_equal(errs.n, 5);
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(errs.v[i].line, lines[i]);
	config_error_add(&errs, "t.ini", 0, "whole-file problem");
	mem = open_memstream(&out, &outlen);
	config_errors_print(&errs, mem);
	fclose(mem);
	assert_non_null(strstr(out, "t.ini:2: unknown key 'nod' in [cluster]"));
	assert_non_null(strstr(out, "\nt.ini: whole-file problem\n"));
	free(out);
	config_errors_free(&errs);
	config_free(&cfg);
}

static void test_disabled_coordination(void **state)
{
	struct config cfg = {0};

	(void)state;
	expect_clean("[cluster]\ndsn =\n[coordination]\nenabled = false\n", &cfg);
	assert_false(cfg.enabled);
	assert_string_equal(cfg.dsn, "");
	config_free(&cfg);
}

static void test_load_missing_file(void **state)
{
	struct config cfg = {0};
	struct config_errors errs = {0};

	(void)state;
	assert_int_equal(config_load("/nonexistent/jobsync.ini", &cfg, &errs), -1);
	assert_int_equal(errs.n, 1);
	assert_int_equal(errs.v[0].line, 0);
	assert_string_equal(errs.v[0].file, "/nonexistent/jobsync.ini");
	assert_non_null(strstr(errs.v[0].msg, "cannot open: "));
	config_errors_free(&errs);
	config_free(&cfg);
}

/* Uncomment the "#key = value" and "#[section]" lines of the sample's examples. */
static char *uncomment_examples(const char *sample)
{
	char *out = strdup(sample), *p = strstr(out, "#[tasks]");

	assert_non_null(p);
	for (; *p; p++) {
		if (*p == '#' && (p == out || p[-1] == '\n') && p[1] != ' ' && p[1] != '\n')
			*p = ' ';
	}
	return out;
}

static void test_sample_round_trip(void **state)
{
	char *text = NULL, *locked;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	struct config cfg = {0}, def;

	(void)state;
	config_sample(mem);
	fclose(mem);
	for (int i = 0; i < CONFIG_ALL_NKEYS; i++) {
		char needle[128];

		snprintf(needle, sizeof(needle), "%s =", config_keys[i].name);
		assert_non_null(strstr(text, needle));
		assert_non_null(strstr(text, config_keys[i].help));
	}
	assert_non_null(strstr(text, "[cluster]"));
	assert_non_null(strstr(text, "[coordination]"));
	assert_non_null(strstr(text, "\n[health]\n"));
	assert_non_null(strstr(text, "#[tasks]"));
	assert_non_null(strstr(text, "#[worker]"));
	assert_non_null(strstr(text, "#[lock.gpu]"));
	assert_non_null(strstr(text, "#[service.publisher]"));
	assert_non_null(strstr(text, "#[cron.cleanup]"));
	expect_clean(text, &cfg);
	assert_int_equal(cfg.tasks.line, 0);
	assert_int_equal(cfg.worker.line, 0);
	assert_int_equal(cfg.nservices + cfg.ncrons + cfg.nlocks, 0);
	config_defaults(&def);
	for (int i = 0; i < CONFIG_NKEYS; i++) {
		const struct config_key *k = &config_keys[i];

		if (k->type == CONFIG_STRING || k->type == CONFIG_RANGE)
			assert_string_equal(*(char **)((char *)&cfg + k->offset),
					    *(char **)((char *)&def + k->offset));
		else if (k->type == CONFIG_BOOL)
			assert_int_equal(*(bool *)((char *)&cfg + k->offset),
					 *(bool *)((char *)&def + k->offset));
		else
			assert_int_equal(*(int *)((char *)&cfg + k->offset),
					 *(int *)((char *)&def + k->offset));
	}
	config_free(&def);
	config_free(&cfg);

	locked = uncomment_examples(text);
	expect_clean(locked, &cfg);
	assert_int_equal(cfg.tasks.source, SOURCE_RANGE);
	assert_int_equal(cfg.tasks.range_first, 1);
	assert_int_equal(cfg.tasks.range_last, 1000);
	assert_string_equal(cfg.worker.cmd.command, "/opt/jobs/process-task {}");
	assert_true(cfg.worker.line > cfg.tasks.line && cfg.tasks.line > 0);
	assert_int_equal(cfg.nservices, 1);
	assert_string_equal(cfg.services[0].name, "publisher");
	assert_int_equal(cfg.ncrons, 1);
	assert_string_equal(cfg.crons[0].schedule, "0 3 * * *");
	assert_string_equal(cfg.crons[0].timezone, "UTC");
	assert_int_equal(cfg.nlocks, 1);
	assert_string_equal(cfg.locks[0].name, "gpu");
	assert_int_equal(cfg.locks[0].ntasks, 2);
	assert_int_equal(cfg.locks[0].ntokens, 2);
	config_free(&cfg);
	free(locked);
	free(text);
}

static void test_reference_md(void **state)
{
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);

	(void)state;
	config_reference_md(mem);
	fclose(mem);
	assert_non_null(strstr(text, "| Section | Key |"));
	assert_non_null(strstr(text, "| `[coordination]` | `total_tokens` | integer | `10000` | number of hash tokens"));
	assert_non_null(strstr(text, "| `[lock.NAME]` | `pattern` |"));
	assert_non_null(strstr(text, "| `[service.NAME]` | `command` |"));
	assert_non_null(strstr(text, "| `[cron.NAME]` | `schedule` |"));
	assert_non_null(strstr(text, "| `[worker]` | `stop_signal` | signal | `TERM` |"));
	assert_non_null(strstr(text, "| `[tasks]` | `source` | enum | `none` |"));
	for (int i = 0; i < CONFIG_ALL_NKEYS; i++) {
		char needle[128];

		snprintf(needle, sizeof(needle), "| `%s` |", config_keys[i].name);
		assert_non_null(strstr(text, needle));
	}
	free(text);
}

static void test_key_table(void **state)
{
	(void)state;
	/* lookups find every key; repeated sections own exactly their index range */
	for (int i = 0; i < CONFIG_ALL_NKEYS; i++) {
		const struct config_key *k = &config_keys[i];
		const struct config_repeated *rep = config_repeated_find(k->section);

		assert_int_equal(config_key_index(k->section, k->name), i);
		assert_non_null(k->help);
		assert_true((i < CONFIG_NKEYS) == (rep == NULL));
		if (rep)
			assert_true(i >= rep->first && i < rep->first + rep->nkeys);
		/* keys of a section are contiguous (the parser finds a section by its first key) */
		if (i > 0 && strcmp(config_keys[i - 1].section, k->section))
			for (int j = 0; j < i; j++)
				assert_string_not_equal(config_keys[j].section, k->section);
	}
	assert_int_equal(config_key_index("cluster", "nope"), -1);
	assert_string_equal(config_key_suggest("coordination", "heartbeat_intervl_sec"),
			    "heartbeat_interval_sec");
	assert_null(config_key_suggest("coordination", "zzz"));
}

/* Random bytes and mutated valid files: never crash; either clean or errors. */
static void test_random_bytes(void **state)
{
	static const char seed_text[] =
		"[cluster]\nnode = n1\nprefix = sync_\n[coordination]\ntotal_tokens = 10\n"
		"[lock.a]\ntasks = 1, 2\ntokens = 3\npattern = %\n${X:-y} = $$\n";
	static const char alphabet[] = "[]=:;#$ {}\n\r\t\\,.-_aAz09\x01\xff";
	unsigned seed = 12345;
	char buf[6000];

	(void)state;
	for (int iter = 0; iter < 3000; iter++) {
		size_t len;
		struct config cfg = {0};
		struct config_errors errs = {0};
		int rc;

		seed = seed * 1103515245u + 12345u;
		if (iter % 3 == 0) {
			len = (seed >> 8) % sizeof(buf);
			for (size_t i = 0; i < len; i++) {
				seed = seed * 1103515245u + 12345u;
				buf[i] = (char)(seed >> 16);
			}
		} else if (iter % 3 == 1) {
			len = (seed >> 8) % 400;
			for (size_t i = 0; i < len; i++) {
				seed = seed * 1103515245u + 12345u;
				buf[i] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
			}
		} else {
			len = sizeof(seed_text) - 1;
			memcpy(buf, seed_text, len);
			for (int m = 0; m < 4; m++) {
				seed = seed * 1103515245u + 12345u;
				buf[(seed >> 8) % len] = alphabet[(seed >> 20) % (sizeof(alphabet) - 1)];
			}
		}
		rc = parse_text(buf, len, &cfg, &errs);
		assert_true((rc == 0) == (errs.n == 0));
		for (size_t i = 0; i < errs.n; i++) {
			assert_non_null(errs.v[i].msg);
			assert_true(errs.v[i].line >= 0);
		}
		config_errors_free(&errs);
		config_free(&cfg);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_empty_file_is_defaults),
		cmocka_unit_test(test_error_lines),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_env_expansion),
		cmocka_unit_test(test_values_and_comments),
		cmocka_unit_test(test_spec_example),
		cmocka_unit_test(test_all_errors_collected),
		cmocka_unit_test(test_disabled_coordination),
		cmocka_unit_test(test_load_missing_file),
		cmocka_unit_test(test_sample_round_trip),
		cmocka_unit_test(test_reference_md),
		cmocka_unit_test(test_key_table),
		cmocka_unit_test(test_random_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
