/* like.c: SQL LIKE matching (% _ and backslash escape) as PostgreSQL does it, UTF-8 aware. */
#include "supervisor/like.h"

#include <stddef.h>

/*
 * Length in bytes of the UTF-8 character at s (s[0] != 0): the lead byte
 * plus the continuation bytes it announces and that are actually present.
 * Invalid bytes count as one-byte characters, so matching never stalls.
 */
static size_t like_charlen(const char *s)
{
	unsigned char c = (unsigned char)s[0];
	size_t want, n = 1;

	if (c >= 0xf0 && c <= 0xf7)
		want = 4;
	else if (c >= 0xe0)
		want = c <= 0xef ? 3 : 1;
	else if (c >= 0xc0)
		want = 2;
	else
		want = 1;
	while (n < want && ((unsigned char)s[n] & 0xc0) == 0x80)
		n++;
	return n;
}

/*
 * Greedy matching with backtracking to the last '%' only: on a mismatch the
 * last '%' absorbs one more character of text and matching resumes after it.
 * Since '_' and literals each consume exactly one character, retrying earlier
 * '%'s can never help, so the cost is O(len(pattern) * len(text)) at worst,
 * never exponential. A pattern ending in a lone escape matches nothing
 * (PostgreSQL raises an error for it).
 */
bool like_match(const char *pattern, const char *text)
{
	const char *p = pattern, *t = text;
	const char *star_p = NULL, *star_t = NULL;

	if (pattern == NULL || text == NULL)
		return false;
	while (*t != '\0') {
		if (*p == '%') {
			while (*p == '%')
				p++;
			if (*p == '\0')
				return true;    /* trailing % eats the rest */
			star_p = p;
			star_t = t;
			continue;
		}
		if (*p == '_') {
			p++;
			t += like_charlen(t);
			continue;
		}
		if (*p != '\0') {
			const char *lit = p;
			size_t n;

			if (*lit == '\\') {
				lit++;
				if (*lit == '\0')
					return false;
			}
			n = like_charlen(lit);
			size_t i = 0;
			while (i < n && t[i] == lit[i])
				i++;
			if (i == n) {
				p = lit + n;
				t += n;
				continue;
			}
		}
		/* Mismatch (or pattern exhausted): let the last % take one more char. */
		if (star_p == NULL)
			return false;
		star_t += like_charlen(star_t);
		t = star_t;
		p = star_p;
	}
	while (*p == '%')
		p++;
	return *p == '\0';
}
