/* test_argv.c: command splitting (quotes, escapes, no expansion, errors) and "{}" substitution. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runner/argv.h"

/* One split case: the command and the words, or the error (want[0] == NULL). */
struct split_case {
	const char *cmd;
	const char *want[8];
	const char *err;
};

static const struct split_case splits[] = {
	{ "ls", { "ls" }, NULL },
	{ "  ls   -l\t-a\n", { "ls", "-l", "-a" }, NULL },
	{ "echo 'a b'  c", { "echo", "a b", "c" }, NULL },
	{ "echo \"a b\" c", { "echo", "a b", "c" }, NULL },
	{ "echo a'b'\"c\"d", { "echo", "abcd" }, NULL },		/* one word from parts */
	{ "echo '' \"\" x", { "echo", "", "", "x" }, NULL },		/* empty words */
	{ "echo 'it\\'s", { "echo", "it\\s" }, NULL },		/* no escapes in '...' */
	{ "echo '\"$HOME\"'", { "echo", "\"$HOME\"" }, NULL },
	{ "echo \"\\\" \\\\ \\$ \\` \\n \\a\"",
	  { "echo", "\" \\ $ ` \\n \\a" }, NULL },			/* only \" \\ \$ \` escape */
	{ "echo \"a\\\nb\"", { "echo", "ab" }, NULL },		/* backslash-newline in "..." */
	{ "echo a\\\nb", { "echo", "ab" }, NULL },			/* line continuation */
	{ "echo a\\ b \\'x\\' \\\\", { "echo", "a b", "'x'", "\\" }, NULL },
	{ "echo $HOME ~ *.c ${x} $(id) `id`", { "echo", "$HOME", "~", "*.c", "${x}", "$(id)", "`id`" },
	  NULL },						/* no expansion */
	{ "a|b;c&&d>e<f #g", { "a|b;c&&d>e<f", "#g" }, NULL },	/* no operators, no comments */
	{ "process {} --id={}", { "process", "{}", "--id={}" }, NULL },
	{ "sh -c 'exec \"$0\" \"$@\"' x", { "sh", "-c", "exec \"$0\" \"$@\"", "x" }, NULL },
	{ "caf\xc3\xa9 \xff", { "caf\xc3\xa9", "\xff" }, NULL },	/* bytes pass through */
	{ "", { NULL }, "empty command" },
	{ "   \t\n ", { NULL }, "empty command" },
	{ "'' x", { NULL }, "empty command" },			/* argv[0] empty */
	{ "\\\n", { NULL }, "empty command" },
	{ "echo 'abc", { NULL }, "unterminated single quote" },
	{ "echo \"abc", { NULL }, "unterminated double quote" },
	{ "echo \"abc\\\"", { NULL }, "unterminated double quote" },
	{ "echo \"\\", { NULL }, "unterminated double quote" },
	{ "echo abc\\", { NULL }, "trailing backslash" },
};

static void test_argv_split_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(splits) / sizeof(splits[0]); i++) {
		const struct split_case *c = &splits[i];
		char **av = (char **)1;
		const char *err = "unset";
		int rc = argv_split(c->cmd, &av, &err);
		size_t n = 0;

		if (c->err) {
			assert_int_equal(rc, -1);
			assert_null(av);
			assert_string_equal(err, c->err);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_null(err);
		for (n = 0; c->want[n]; n++) {
			assert_non_null(av[n]);
			assert_string_equal(av[n], c->want[n]);
		}
		assert_null(av[n]);
		argv_free(av);
	}
}

static void test_argv_split_null(void **state)
{
	char **av;
	const char *err;

	(void)state;
	assert_int_equal(argv_split(NULL, &av, &err), -1);
	assert_string_equal(err, "empty command");
	argv_free(NULL);
}

/* Many words make the list grow several times. */
static void test_argv_split_many(void **state)
{
	char cmd[4000], **av;
	const char *err;
	size_t n = 0;

	(void)state;
	cmd[0] = '\0';
	for (int i = 0; i < 500; i++)
		strcat(cmd, i % 2 ? "'b c' " : "a ");
	assert_int_equal(argv_split(cmd, &av, &err), 0);
	while (av[n]) {
		assert_string_equal(av[n], n % 2 ? "b c" : "a");
		n++;
	}
	assert_int_equal(n, 500);
	argv_free(av);
}

/* One substitution case: an id, and the elements expected after "{}" is replaced. */
struct subst_case {
	const char *id;
	const char *want[5];
};

static const char *const subst_argv[] = { "process", "{}", "--id={}", "{}-{}", "{{}}", NULL };

static const struct subst_case substs[] = {
	{ "42", { "process", "42", "--id=42", "42-42", "{42}" } },
	{ "a b", { "process", "a b", "--id=a b", "a b-a b", "{a b}" } },
	{ "it's \"q\"", { "process", "it's \"q\"", "--id=it's \"q\"", "it's \"q\"-it's \"q\"",
			  "{it's \"q\"}" } },
	{ "x\ny", { "process", "x\ny", "--id=x\ny", "x\ny-x\ny", "{x\ny}" } },
	{ "{}", { "process", "{}", "--id={}", "{}-{}", "{{}}" } },	/* never re-substituted */
	{ "$(rm -rf /)", { "process", "$(rm -rf /)", "--id=$(rm -rf /)", "$(rm -rf /)-$(rm -rf /)",
			   "{$(rm -rf /)}" } },
	{ "", { "process", "", "--id=", "-", "{}" } },
	{ "}{", { "process", "}{", "--id=}{", "}{-}{", "{}{}" } },
};

static void test_argv_subst_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(substs) / sizeof(substs[0]); i++) {
		char **r = argv_subst((char *const *)subst_argv, substs[i].id);
		size_t n;

		assert_non_null(r);
		for (n = 0; n < 5; n++)
			assert_string_equal(r[n], substs[i].want[n]);
		assert_null(r[5]);
		argv_free(r);
	}
}

/* Split then substitute: the id stays one element whatever it contains. */
static void test_argv_split_then_subst(void **state)
{
	char **av, **r;
	const char *err;

	(void)state;
	assert_int_equal(argv_split("/opt/billing/process-invoice {} 'x {}'", &av, &err), 0);
	assert_true(argv_has_placeholder(av));
	r = argv_subst(av, "inv 7; rm -rf / '\"\n");
	assert_non_null(r);
	assert_string_equal(r[0], "/opt/billing/process-invoice");
	assert_string_equal(r[1], "inv 7; rm -rf / '\"\n");
	assert_string_equal(r[2], "x inv 7; rm -rf / '\"\n");
	assert_null(r[3]);
	assert_false(argv_has_placeholder(r));
	argv_free(r);
	r = argv_subst(av, NULL);	/* NULL id = empty */
	assert_string_equal(r[1], "");
	argv_free(r);
	argv_free(av);
	assert_false(argv_has_placeholder(NULL));
	assert_null(argv_subst(NULL, "x"));
	{
		const char *const none[] = { "ls", "-l", "{", "}", NULL };
		assert_false(argv_has_placeholder((char *const *)none));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_argv_split_table),
		cmocka_unit_test(test_argv_split_null),
		cmocka_unit_test(test_argv_split_many),
		cmocka_unit_test(test_argv_subst_table),
		cmocka_unit_test(test_argv_split_then_subst),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
