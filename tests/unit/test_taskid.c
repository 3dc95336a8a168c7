/* test_taskid.c: which task ids are accepted (SPEC section 4). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "supervisor/taskid.h"

static void test_ids(void **state)
{
	(void)state;
	char big[TASKID_MAX + 1];
	memset(big, 'x', sizeof big);
	assert_null(taskid_problem("task-1", 6));
	assert_null(taskid_problem("'; DROP TABLE sync_audit; --", 28));
	assert_null(taskid_problem("quo\"te's", 8));
	assert_null(taskid_problem("caf\xc3\xa9 \xf0\x9f\x98\x80", 10));
	assert_null(taskid_problem(big, TASKID_MAX));
	assert_non_null(taskid_problem(big, TASKID_MAX + 1));
	assert_non_null(taskid_problem("", 0));
	assert_non_null(taskid_problem("a\nb", 3));
	assert_non_null(taskid_problem("a\rb", 3));
	assert_non_null(taskid_problem("a\0b", 3));
	assert_non_null(taskid_problem("\xff", 1));
	assert_non_null(taskid_problem("\xc3", 1));          /* truncated sequence */
	assert_non_null(taskid_problem("\xc0\xaf", 2));      /* overlong */
	assert_non_null(taskid_problem("\xed\xa0\x80", 3));  /* surrogate */
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_ids)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
