/* test_like.c: SQL LIKE matching as PostgreSQL does it: %, _, escapes, UTF-8, worst cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "supervisor/like.h"

struct like_case {
	const char *pattern;
	const char *text;
	bool match;
};

/* Expected answers are those of PostgreSQL's `text LIKE pattern`. */
static const struct like_case cases[] = {
	/* literals and case */
	{ "", "", true },
	{ "", "a", false },
	{ "a", "", false },
	{ "abc", "abc", true },
	{ "abc", "abcd", false },
	{ "abcd", "abc", false },
	{ "ABC", "abc", false },
	{ "node-1", "node-1", true },
	/* % */
	{ "%", "", true },
	{ "%", "anything", true },
	{ "%%", "", true },
	{ "a%", "a", true },
	{ "a%", "abc", true },
	{ "a%", "ba", false },
	{ "%a", "bca", true },
	{ "%a", "ab", false },
	{ "%b%", "abc", true },
	{ "%b%", "ac", false },
	{ "a%c", "ac", true },
	{ "a%c", "abbbc", true },
	{ "a%c", "abcb", false },
	{ "a%b%c", "aXbYc", true },
	{ "a%b%c", "acb", false },
	{ "%ab%ab", "xabyabab", true },
	{ "%aab", "aaab", true },
	{ "gpu-%", "gpu-01", true },
	{ "gpu-%", "cpu-01", false },
	/* _ */
	{ "_", "", false },
	{ "_", "a", true },
	{ "_", "ab", false },
	{ "__", "ab", true },
	{ "a_c", "abc", true },
	{ "a_c", "ac", false },
	{ "%_", "", false },
	{ "%_", "x", true },
	{ "_%_", "x", false },
	{ "_%_", "xy", true },
	{ "node-_", "node-7", true },
	{ "node-_", "node-17", false },
	/* backslash escapes */
	{ "\\%", "%", true },
	{ "\\%", "a", false },
	{ "a\\%", "a%", true },
	{ "a\\%", "abc", false },
	{ "\\_", "_", true },
	{ "\\_", "x", false },
	{ "\\\\", "\\", true },
	{ "\\a", "a", true },
	{ "100\\%%", "100% sure", true },
	{ "100\\%%", "1000", false },
	{ "%\\_%", "a_b", true },
	{ "%\\_%", "ab", false },
	{ "a\\", "a", false },      /* trailing escape: an error in PostgreSQL */
	{ "a\\", "a\\", false },
	/* UTF-8: _ is one character, not one byte */
	{ "_", "\xc3\xa9", true },              /* é */
	{ "__", "\xc3\xa9", false },
	{ "_", "\xe2\x82\xac", true },          /* € */
	{ "_", "\xf0\x9f\x98\x80", true },      /* U+1F600 */
	{ "___", "a\xc3\xa9z", true },
	{ "caf_", "caf\xc3\xa9", true },
	{ "caf\xc3\xa9", "caf\xc3\xa9", true },
	{ "caf\xc3\xa9", "cafe", false },
	{ "%\xc3\xa9", "caf\xc3\xa9", true },
	{ "%_\xa9", "caf\xc3\xa9", false },     /* % cannot stop inside a character */
	{ "n\xc5\x93ud-_", "n\xc5\x93ud-\xe2\x82\xac", true },
	{ "\\\xc3\xa9", "\xc3\xa9", true },     /* escaped multibyte character */
	{ "%_%", "\xc3\xa9", true },
	/* invalid UTF-8 never stalls */
	{ "_", "\x80", true },
	{ "__", "\xc3", false },
	{ "_", "\xc3", true },
	/* pathological but not exponential */
	{ "%a%a%a%a%b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false },
	{ "%a%a%a%a%b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", true },
	{ "%_%_%_%_%x", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false },
};

static void test_like_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool got = like_match(cases[i].pattern, cases[i].text);

		if (got != cases[i].match)
			fail_msg("case %zu: '%s' LIKE '%s' gave %d, want %d", i, cases[i].text,
				 cases[i].pattern, got, cases[i].match);
	}
}

static void test_like_null(void **state)
{
	(void)state;
	assert_false(like_match(NULL, "a"));
	assert_false(like_match("a", NULL));
}

/* 40 % signs against 20000 a's with no b: quadratic worst case, must be fast. */
static void test_like_pathological_is_fast(void **state)
{
	enum { TEXT = 20000, STARS = 40 };
	char *text = malloc(TEXT + 2);
	char pattern[2 * STARS + 3];
	size_t n = 0;
	struct timespec a, b;

	(void)state;
	assert_non_null(text);
	memset(text, 'a', TEXT);
	text[TEXT] = '\0';
	for (int i = 0; i < STARS; i++) {
		pattern[n++] = '%';
		pattern[n++] = 'a';
	}
	pattern[n++] = '%';
	pattern[n++] = 'b';
	pattern[n] = '\0';

	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_false(like_match(pattern, text));
	text[TEXT] = 'b';
	text[TEXT + 1] = '\0';
	assert_true(like_match(pattern, text));
	clock_gettime(CLOCK_MONOTONIC, &b);
	double ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
	assert_true(ms < 2000.0);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_like_table),
		cmocka_unit_test(test_like_null),
		cmocka_unit_test(test_like_pathological_is_fast),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
