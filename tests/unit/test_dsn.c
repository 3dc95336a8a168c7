/* test_dsn.c: passwords never survive dsn_redact() or dsn_scrub_message(). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "supervisor/dsn.h"

static const struct {
	const char *in;
	const char *out;
} redact_cases[] = {
	{"host=db port=5432 dbname=jobs user=js", "host=db port=5432 dbname=jobs user=js"},
	{"host=db password=s3cret user=js", "host=db password=*** user=js"},
	{"host=db password = s3cret", "host=db password = ***"},
	{"password='a b\\' c' host=db", "password=*** host=db"},
	{"password=a\\ b host=db", "password=*** host=db"},
	{"host=db password=", "host=db password=***"},
	{"password=one password=two", "password=*** password=***"},
	{"host=db password", "host=db ***"},
	{"host=db password='unterminated", "host=db ***"},
	{"passwordx=1 password_file=2", "passwordx=1 password_file=2"},
	{"", ""},
	{"postgresql://js:s3cret@db:5432/jobs", "postgresql://js:***@db:5432/jobs"},
	{"postgres://js:s%40cret@db/jobs", "postgres://js:***@db/jobs"},
	{"postgresql://js@db/jobs", "postgresql://js@db/jobs"},
	{"postgresql://db/jobs?user=js&password=pw&sslmode=require",
	 "postgresql://db/jobs?user=js&password=***&sslmode=require"},
	{"postgresql://js:p@ss@h1,h2/jobs", "postgresql://js:***@h1,h2/jobs"},
	{"postgresql://js:pa?ss@db/jobs", "postgresql://js:***@db/jobs"},
	{"postgresql://", "postgresql://"},
};

static void test_redact_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof redact_cases / sizeof redact_cases[0]; i++) {
		char *got = dsn_redact(redact_cases[i].in);
		assert_non_null(got);
		assert_string_equal(got, redact_cases[i].out);
		free(got);
	}
}

static void test_redact_null(void **state)
{
	(void)state;
	char *got = dsn_redact(NULL);
	assert_non_null(got);
	assert_string_equal(got, "");
	free(got);
}

static void scrub_check(const char *conninfo, const char *msg, const char *want)
{
	char *buf = strdup(msg);
	assert_non_null(buf);
	dsn_scrub_message(buf, conninfo);
	assert_string_equal(buf, want);
	free(buf);
}

static void test_scrub(void **state)
{
	(void)state;
	scrub_check("host=db password=hunter2", "bad password hunter2 and hunter2",
		    "bad password ******* and *******");
	scrub_check("password='a b\\'c'", "x a b'c y a b\\'c z", "x ***** y ****** z");
	scrub_check("postgresql://u:p%40w@db/x", "p@w or p%40w", "*** or *****");
	scrub_check("postgresql://db/x?password=zz", "got zz", "got **");
	scrub_check("host=db user=js", "connection refused", "connection refused");
	scrub_check("host=db password=", "anything", "anything");
	/* message unchanged length; NULLs tolerated */
	dsn_scrub_message(NULL, "password=x");
	char m[] = "x";
	dsn_scrub_message(m, NULL);
	assert_string_equal(m, "x");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_redact_table),
		cmocka_unit_test(test_redact_null),
		cmocka_unit_test(test_scrub),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
