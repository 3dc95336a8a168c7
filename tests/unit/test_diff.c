/* test_diff.c: config_diff(): each key type, refused keys, repeated sections matched by NAME. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "config/diff.h"

static const char base[] =
	"[cluster]\n"                                   /* 1 */
	"dsn = host=/tmp dbname=a password=s3cret\n"    /* 2 */
	"node = n1\n"                                   /* 3 */
	"prefix = sync_\n"                              /* 4 */
	"\n"                                            /* 5 */
	"[coordination]\n"                              /* 6 */
	"total_tokens = 100\n"                          /* 7 */
	"\n"                                            /* 8 */
	"[tasks]\n"                                     /* 9 */
	"source = range\n"                              /* 10 */
	"range = 1-100\n"                               /* 11 */
	"\n"                                            /* 12 */
	"[worker]\n"                                    /* 13 */
	"command = /bin/true {}\n"                      /* 14 */
	"concurrency = 2\n"                             /* 15 */
	"\n"                                            /* 16 */
	"[lock.gpu]\n"                                  /* 17 */
	"tasks = a, b\n"                                /* 18 */
	"pattern = %-gpu\n"                             /* 19 */
	"\n"                                            /* 20 */
	"[service.pub]\n"                               /* 21 */
	"command = /bin/sleep 100\n"                    /* 22 */
	"\n"                                            /* 23 */
	"[cron.clean]\n"                                /* 24 */
	"schedule = 0 3 * * *\n"                        /* 25 */
	"command = /bin/true\n";                        /* 26 */

/* Two parsed configs and their diff (the diff points into both). */
struct fixture {
	struct config a, b;
	struct config_diff d;
};

static void parse(const char *text, struct config *cfg)
{
	struct config_errors errs = {0};
	FILE *fp = fmemopen((void *)text, strlen(text), "r");

	assert_non_null(fp);
	memset(cfg, 0, sizeof(*cfg));
	if (config_parse_file(fp, "t.ini", cfg, &errs) != 0) {
		config_errors_print(&errs, stderr);
		fail_msg("config did not parse:\n%s", text);
	}
	fclose(fp);
	config_errors_free(&errs);
}

/* base with the first occurrence of from replaced by to. */
static char *edit(const char *text, const char *from, const char *to)
{
	const char *at = strstr(text, from);
	char *out;

	assert_non_null(at);
	out = malloc(strlen(text) - strlen(from) + strlen(to) + 1);
	assert_non_null(out);
	memcpy(out, text, (size_t)(at - text));
	strcpy(out + (at - text), to);
	strcat(out, at + strlen(from));
	return out;
}

static void diff_texts(struct fixture *f, const char *old, const char *new)
{
	parse(old, &f->a);
	parse(new, &f->b);
	memset(&f->d, 0, sizeof(f->d));
	config_diff(&f->a, &f->b, &f->d);
}

/* Diff base against base edited once. */
static void diff_edit(struct fixture *f, const char *from, const char *to)
{
	char *text = edit(base, from, to);

	diff_texts(f, base, text);
	free(text);
}

static void release(struct fixture *f)
{
	config_diff_free(&f->d);
	config_free(&f->a);
	config_free(&f->b);
}

static void expect_one(struct fixture *f, const char *name, bool reloadable, int line)
{
	char buf[160];

	assert_int_equal(f->d.n, 1);
	config_change_name(&f->d.v[0], buf, sizeof buf);
	assert_string_equal(buf, name);
	assert_int_equal(f->d.v[0].reloadable, reloadable);
	assert_int_equal(f->d.refused, reloadable ? 0 : 1);
	assert_int_equal(f->d.v[0].line, line);
}

static void test_no_change(void **state)
{
	struct fixture f;

	(void)state;
	diff_texts(&f, base, base);
	assert_int_equal(f.d.n, 0);
	assert_int_equal(f.d.refused, 0);
	assert_false(config_diff_has(&f.d, "worker", NULL));
	release(&f);
	/* the same range written differently is the same range */
	diff_edit(&f, "range = 1-100", "range = 1 - 100");
	assert_int_equal(f.d.n, 0);
	release(&f);
	/* moving a section around changes nothing */
	diff_edit(&f,
		  "[service.pub]\ncommand = /bin/sleep 100\n\n"
		  "[cron.clean]\nschedule = 0 3 * * *\ncommand = /bin/true\n",
		  "[cron.clean]\nschedule = 0 3 * * *\ncommand = /bin/true\n\n"
		  "[service.pub]\ncommand = /bin/sleep 100\n");
	assert_int_equal(f.d.n, 0);
	release(&f);
}

static void test_reloadable_change(void **state)
{
	struct fixture f;

	(void)state;
	diff_edit(&f, "command = /bin/true {}", "command = /bin/echo {}");
	expect_one(&f, "worker.command", true, 14);
	assert_int_equal(f.d.v[0].kind, CONFIG_CHANGE_KEY);
	assert_null(f.d.v[0].item);
	assert_string_equal(f.d.v[0].old_value, "/bin/true {}");
	assert_string_equal(f.d.v[0].new_value, "/bin/echo {}");
	assert_true(config_diff_has(&f.d, "worker", NULL));
	assert_true(config_diff_has_key(&f.d, "worker", "command"));
	assert_false(config_diff_has_key(&f.d, "worker", "concurrency"));
	assert_false(config_diff_has(&f.d, "tasks", NULL));
	release(&f);

	diff_edit(&f, "concurrency = 2", "concurrency = 8");
	expect_one(&f, "worker.concurrency", true, 15);
	assert_string_equal(f.d.v[0].old_value, "2");
	assert_string_equal(f.d.v[0].new_value, "8");
	release(&f);

	/* a key removed from the file goes back to its default: no line in the new file */
	diff_edit(&f, "concurrency = 2\n", "");
	expect_one(&f, "worker.concurrency", true, 0);
	assert_string_equal(f.d.v[0].new_value, "1");
	release(&f);

	/* enum, signal and range values are printed as config text */
	diff_edit(&f, "[cluster]\n", "[cluster]\nlog_level = debug\n");
	expect_one(&f, "cluster.log_level", true, 2);
	assert_string_equal(f.d.v[0].old_value, "info");
	assert_string_equal(f.d.v[0].new_value, "debug");
	release(&f);
	diff_edit(&f, "concurrency = 2", "stop_signal = SIGINT");
	assert_int_equal(f.d.n, 2);
	assert_string_equal(f.d.v[0].key->name, "stop_signal");
	assert_string_equal(f.d.v[0].old_value, "TERM");
	assert_string_equal(f.d.v[0].new_value, "INT");
	assert_string_equal(f.d.v[1].key->name, "concurrency");
	release(&f);
	diff_edit(&f, "range = 1-100", "range = 5-500");
	expect_one(&f, "tasks.range", true, 11);
	assert_string_equal(f.d.v[0].new_value, "5-500");
	release(&f);
}

static void test_long_value_cut(void **state)
{
	struct fixture f;
	char cmd[400];

	(void)state;
	memset(cmd, 'x', sizeof cmd);
	memcpy(cmd, "command = /bin/", 15);
	cmd[sizeof cmd - 1] = '\0';
	diff_edit(&f, "command = /bin/true {}", cmd);
	assert_int_equal(f.d.n, 1);
	assert_int_equal(strlen(f.d.v[0].new_value), CONFIG_DIFF_VALUE - 1);
	assert_string_equal(f.d.v[0].new_value + CONFIG_DIFF_VALUE - 4, "...");
	release(&f);
}

static void test_refused(void **state)
{
	static const struct {
		const char *from, *to, *name;
		int line;
	} cases[] = {
		{"dsn = host=/tmp dbname=a password=s3cret", "dsn = host=/tmp dbname=b password=s3cret",
		 "cluster.dsn", 2},
		{"node = n1", "node = n2", "cluster.node", 3},
		{"prefix = sync_", "prefix = other_", "cluster.prefix", 4},
		{"total_tokens = 100", "total_tokens = 200", "coordination.total_tokens", 7},
		{"[coordination]\n", "[coordination]\nenabled = false\n", "coordination.enabled", 7},
		{"[coordination]\n", "[coordination]\nheartbeat_interval_sec = 2\n",
		 "coordination.heartbeat_interval_sec", 7},
		{"[cluster]\n", "[cluster]\nsite = b\n", "cluster.site", 2},
	};
	struct fixture f;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		diff_edit(&f, cases[i].from, cases[i].to);
		expect_one(&f, cases[i].name, false, cases[i].line);
		release(&f);
	}
	/* worker.mode cannot change live (with it, command drops its "{}") */
	diff_edit(&f, "command = /bin/true {}", "mode = batch\ncommand = /bin/true");
	assert_int_equal(f.d.n, 2);
	assert_int_equal(f.d.refused, 1);
	assert_string_equal(f.d.v[0].key->name, "mode");
	assert_false(f.d.v[0].reloadable);
	assert_int_equal(f.d.v[0].line, 14);
	assert_true(f.d.v[1].reloadable);
	release(&f);
	/* the dsn is secret: its values (with the password) are never kept */
	diff_edit(&f, "password=s3cret", "password=other");
	assert_int_equal(f.d.n, 1);
	assert_true(f.d.v[0].secret);
	assert_string_equal(f.d.v[0].old_value, "");
	assert_string_equal(f.d.v[0].new_value, "");
	release(&f);
	/* a refused key among reloadable ones is counted once */
	diff_edit(&f, "prefix = sync_\n", "prefix = p_\nlog_format = json\n");
	assert_int_equal(f.d.n, 2);
	assert_int_equal(f.d.refused, 1);
	assert_false(f.d.v[0].reloadable); /* table order: prefix before log_format */
	assert_true(f.d.v[1].reloadable);
	release(&f);
}

static void test_services(void **state)
{
	struct fixture f;
	char *text, buf[160];

	(void)state;
	/* added */
	diff_edit(&f, "[cron.clean]", "[service.web]\ncommand = /bin/web\n\n[cron.clean]");
	expect_one(&f, "service.web (added)", true, 24);
	assert_int_equal(f.d.v[0].kind, CONFIG_CHANGE_ADDED);
	assert_string_equal(f.d.v[0].item, "web");
	assert_true(config_diff_has(&f.d, "service", "web"));
	assert_false(config_diff_has(&f.d, "service", "pub"));
	release(&f);
	/* removed */
	diff_edit(&f, "[service.pub]\ncommand = /bin/sleep 100\n", "");
	expect_one(&f, "service.pub (removed)", true, 0);
	assert_int_equal(f.d.v[0].kind, CONFIG_CHANGE_REMOVED);
	release(&f);
	/* changed: a key of the item, named with the item */
	diff_edit(&f, "command = /bin/sleep 100", "command = /bin/sleep 200\nstop_timeout_sec = 3");
	assert_int_equal(f.d.n, 2);
	config_change_name(&f.d.v[0], buf, sizeof buf);
	assert_string_equal(buf, "service.pub.command");
	assert_int_equal(f.d.v[0].line, 22);
	assert_string_equal(f.d.v[0].old_value, "/bin/sleep 100");
	config_change_name(&f.d.v[1], buf, sizeof buf);
	assert_string_equal(buf, "service.pub.stop_timeout_sec");
	assert_int_equal(f.d.v[1].line, 23);
	assert_int_equal(f.d.refused, 0);
	release(&f);
	/* renamed: one removed, one added */
	diff_edit(&f, "[service.pub]", "[service.pub2]");
	assert_int_equal(f.d.n, 2);
	assert_int_equal(f.d.v[0].kind, CONFIG_CHANGE_REMOVED);
	assert_string_equal(f.d.v[0].item, "pub");
	assert_int_equal(f.d.v[1].kind, CONFIG_CHANGE_ADDED);
	assert_string_equal(f.d.v[1].item, "pub2");
	release(&f);
	/* a key back to its default in an item is reported at the item's header */
	text = edit(base, "command = /bin/sleep 100", "command = /bin/sleep 100\nessential = true");
	diff_texts(&f, text, base);
	expect_one(&f, "service.pub.essential", true, 21);
	release(&f);
	free(text);
}

static void test_cron(void **state)
{
	struct fixture f;

	(void)state;
	diff_edit(&f, "schedule = 0 3 * * *", "schedule = @hourly");
	expect_one(&f, "cron.clean.schedule", true, 25);
	assert_string_equal(f.d.v[0].old_value, "0 3 * * *");
	assert_string_equal(f.d.v[0].new_value, "@hourly");
	assert_true(config_diff_has(&f.d, "cron", "clean"));
	assert_false(config_diff_has(&f.d, "service", NULL));
	release(&f);
	diff_edit(&f, "command = /bin/true\n", "command = /bin/true\nenabled = false\n");
	expect_one(&f, "cron.clean.enabled", true, 27);
	release(&f);
}

static void test_locks(void **state)
{
	struct fixture f;

	(void)state;
	diff_edit(&f, "tasks = a, b", "tasks = a, b, c");
	expect_one(&f, "lock.gpu.tasks", true, 18);
	assert_string_equal(f.d.v[0].old_value, "a, b");
	assert_string_equal(f.d.v[0].new_value, "a, b, c");
	release(&f);
	diff_edit(&f, "pattern = %-gpu", "pattern = %-gpu\ntokens = 1, 2");
	expect_one(&f, "lock.gpu.tokens", true, 20);
	assert_string_equal(f.d.v[0].new_value, "1, 2");
	release(&f);
	diff_edit(&f, "[service.pub]", "[lock.x]\ntokens = 7\npattern = n%\n\n[service.pub]");
	expect_one(&f, "lock.x (added)", true, 21);
	release(&f);
	diff_edit(&f, "[coordination]\n", "[coordination]\nclear_existing_locks = true\n");
	expect_one(&f, "coordination.clear_existing_locks", true, 7);
	release(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_change),
		cmocka_unit_test(test_reloadable_change),
		cmocka_unit_test(test_long_value_cut),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_services),
		cmocka_unit_test(test_cron),
		cmocka_unit_test(test_locks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
