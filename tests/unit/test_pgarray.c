/* test_pgarray.c: array literals survive quotes, backslashes, commas and NULLs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>

#include "supervisor/pgarray.h"

static void test_int(void **state)
{
	(void)state;
	int v[] = {0, -1, 2147483647};
	char *s = pgarray_int(v, 3);
	assert_string_equal(s, "{0,-1,2147483647}");
	free(s);
	s = pgarray_int(NULL, 0);
	assert_string_equal(s, "{}");
	free(s);
}

static void test_text(void **state)
{
	(void)state;
	const char *v[] = {"a", NULL, "q\"u,o{t}e", "back\\slash", "", "NULL"};
	char *s = pgarray_text(v, 6);
	assert_string_equal(s, "{\"a\",NULL,\"q\\\"u,o{t}e\",\"back\\\\slash\",\"\",\"NULL\"}");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_int),
		cmocka_unit_test(test_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
