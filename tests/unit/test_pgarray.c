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

/* Read the whole list into v; returns how many, and where the reading stopped. */
static int read_list(const char *list, int *v, int max, const char **end)
{
	int n = 0, t;
	const char *p = list;

	while (n < max && pglist_next(&p, &t))
		v[n++] = t;
	*end = p;
	return n;
}

static void test_list(void **state)
{
	(void)state;
	int v[8];
	const char *end;

	assert_int_equal(read_list("3,17,0,9999", v, 8, &end), 4);
	assert_int_equal(v[0], 3);
	assert_int_equal(v[1], 17);
	assert_int_equal(v[2], 0);
	assert_int_equal(v[3], 9999);
	assert_int_equal(*end, '\0');
	assert_int_equal(read_list("", v, 8, &end), 0);
	assert_int_equal(read_list("2147483647", v, 8, &end), 1);
	assert_int_equal(v[0], 2147483647);
	/* Overflow, signs, spaces and trailing junk stop the reading where they are. */
	assert_int_equal(read_list("5,2147483648", v, 8, &end), 1);
	assert_int_equal(read_list("-1", v, 8, &end), 0);
	assert_int_equal(read_list("1, 2", v, 8, &end), 1);
	assert_int_equal(read_list("1,2x", v, 8, &end), 1);
	assert_string_equal(end, ",2x");
	assert_int_equal(read_list("1,,2", v, 8, &end), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_int),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
