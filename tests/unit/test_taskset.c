/* test_taskset.c: listing, ownership, the pending queue and adoption after a token move. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "supervisor/taskset.h"

#define TOKENS 10

static void test_add_and_find(void **state)
{
	(void)state;
	struct taskset ts;
	uint8_t owned[TOKENS] = {1, 1, 0, 0, 1};
	bool added;
	assert_int_equal(taskset_init(&ts), 0);
	struct task *a = taskset_add(&ts, "a", 1, 0, owned, &added);
	assert_true(added);
	assert_int_equal(a->state, TASK_PENDING);
	struct task *b = taskset_add(&ts, "b\0x", 3, 2, owned, &added);
	assert_true(added);
	assert_int_equal(b->state, TASK_FOREIGN);
	assert_ptr_equal(taskset_add(&ts, "a", 1, 0, owned, &added), a);
	assert_false(added);
	assert_ptr_equal(taskset_find(&ts, "b\0x", 3), b);
	assert_null(taskset_find(&ts, "b", 1));
	assert_int_equal(ts.count[TASK_PENDING], 1);
	assert_int_equal(ts.count[TASK_FOREIGN], 1);
	taskset_free(&ts);
}

static void test_take_in_order_and_skip_moved(void **state)
{
	(void)state;
	struct taskset ts;
	uint8_t owned[TOKENS];
	struct task *out[8];
	bool added;
	char id[8];
	memset(owned, 1, sizeof owned);
	taskset_init(&ts);
	for (int i = 0; i < 6; i++) {
		snprintf(id, sizeof id, "t%d", i);
		taskset_add(&ts, id, strlen(id), i, owned, &added);
	}
	owned[1] = 0; /* token 1 moved away before t1 was taken */
	size_t n = taskset_take(&ts, owned, out, 3);
	assert_int_equal(n, 3);
	assert_string_equal(out[0]->id, "t0");
	assert_string_equal(out[1]->id, "t2");
	assert_string_equal(out[2]->id, "t3");
	assert_int_equal(taskset_find(&ts, "t1", 2)->state, TASK_FOREIGN);
	for (size_t i = 0; i < n; i++)
		taskset_set(&ts, out[i], TASK_CLAIMING);
	/* token 1 comes back: t1 is adopted once, however often adopt runs */
	owned[1] = 1;
	assert_int_equal(taskset_adopt(&ts, owned), 1);
	assert_int_equal(taskset_adopt(&ts, owned), 0);
	n = taskset_take(&ts, owned, out, 8);
	assert_int_equal(n, 3);
	assert_string_equal(out[0]->id, "t4");
	assert_string_equal(out[1]->id, "t5");
	assert_string_equal(out[2]->id, "t1");
	assert_int_equal(taskset_take(&ts, owned, out, 8), 0);
	assert_int_equal(ts.count[TASK_CLAIMING], 3);
	assert_int_equal(ts.count[TASK_PENDING], 3);
	taskset_free(&ts);
}

static void test_requeue_once(void **state)
{
	(void)state;
	struct taskset ts;
	uint8_t owned[TOKENS];
	struct task *out[4];
	bool added;
	memset(owned, 1, sizeof owned);
	taskset_init(&ts);
	struct task *t = taskset_add(&ts, "x", 1, 3, owned, &added);
	taskset_set(&ts, t, TASK_FOREIGN);
	taskset_set(&ts, t, TASK_PENDING);
	taskset_set(&ts, t, TASK_PENDING);
	assert_int_equal(taskset_take(&ts, owned, out, 4), 1);
	assert_int_equal(taskset_take(&ts, owned, out, 4), 0);
	taskset_free(&ts);
}

static void test_many(void **state)
{
	(void)state;
	struct taskset ts;
	uint8_t owned[TOKENS];
	bool added;
	char id[16];
	memset(owned, 0, sizeof owned);
	owned[7] = 1;
	taskset_init(&ts);
	for (int i = 0; i < 100000; i++) {
		snprintf(id, sizeof id, "%d", i);
		assert_non_null(taskset_add(&ts, id, strlen(id), i % TOKENS, owned, &added));
	}
	assert_int_equal(ts.n, 100000);
	assert_int_equal(ts.count[TASK_PENDING], 10000);
	for (int i = 0; i < 100000; i += 997) {
		snprintf(id, sizeof id, "%d", i);
		struct task *t = taskset_find(&ts, id, strlen(id));
		assert_non_null(t);
		assert_int_equal(t->token, i % TOKENS);
	}
	taskset_free(&ts);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_and_find),
		cmocka_unit_test(test_take_in_order_and_skip_moved),
		cmocka_unit_test(test_requeue_once),
		cmocka_unit_test(test_many),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
