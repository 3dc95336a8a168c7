/* argv.c: split worker commands into argv with shell-like quoting but no expansion; "{}" -> id. */
#include "runner/argv.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A growing NULL-terminated list of words. */
struct argv_list {
	char **v;
	size_t n, cap;
};

/* Append a copy of word[0..len); returns 0 or -1 (out of memory). */
static int argv_push(struct argv_list *a, const char *word, size_t len)
{
	char *w;

	if (a->n + 2 > a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 8;
		char **v = realloc(a->v, cap * sizeof(*v));

		if (!v)
			return -1;
		a->v = v;
		a->cap = cap;
		a->v[a->n] = NULL;
	}
	w = malloc(len + 1);
	if (!w)
		return -1;
	memcpy(w, word, len);
	w[len] = '\0';
	a->v[a->n++] = w;
	a->v[a->n] = NULL;
	return 0;
}

static bool argv_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/*
 * Word splitting as a POSIX shell does it, and nothing else: blanks (space,
 * tab, newline, CR, VT, FF) separate words; '...' is literal; inside "..." a
 * backslash escapes only " \ $ ` (and backslash-newline vanishes), otherwise
 * it stays; outside quotes a backslash escapes any character (backslash-newline
 * vanishes). '' and "" make an empty word. $, ~, globs, ;, |, &, <, >, # and
 * the like are ordinary characters: use "sh -c '...'" to get a shell.
 */
int argv_split(const char *cmd, char ***out, const char **err)
{
	struct argv_list a = { NULL, 0, 0 };
	char *word = NULL;
	size_t wl = 0;
	bool in_word = false;
	const char *p = cmd;
	int rc = -1;

	*out = NULL;
	*err = "out of memory";
	if (!cmd)
		cmd = p = "";
	word = malloc(strlen(cmd) + 1);
	if (!word)
		goto cleanup;
	while (*p) {
		char c = *p++;

		if (argv_is_space(c)) {
			if (in_word && argv_push(&a, word, wl) < 0)
				goto cleanup;
			in_word = false;
			wl = 0;
		} else if (c == '\\') {
			if (!*p) {
				*err = "trailing backslash";
				goto cleanup;
			}
			if (*p == '\n') {
				p++;
				continue;
			}
			word[wl++] = *p++;
			in_word = true;
		} else if (c == '\'') {
			const char *end = strchr(p, '\'');

			if (!end) {
				*err = "unterminated single quote";
				goto cleanup;
			}
			memcpy(word + wl, p, (size_t)(end - p));
			wl += (size_t)(end - p);
			p = end + 1;
			in_word = true;
		} else if (c == '"') {
			while (*p && *p != '"') {
				if (*p == '\\' && p[1] == '\n') {
					p += 2;
				} else if (*p == '\\' && p[1] && strchr("\"\\$`", p[1])) {
					word[wl++] = p[1];
					p += 2;
				} else {
					word[wl++] = *p++;
				}
			}
			if (!*p) {
				*err = "unterminated double quote";
				goto cleanup;
			}
			p++;
			in_word = true;
		} else {
			word[wl++] = c;
			in_word = true;
		}
	}
	if (in_word && argv_push(&a, word, wl) < 0)
		goto cleanup;
	if (a.n == 0 || a.v[0][0] == '\0') {
		*err = "empty command";
		goto cleanup;
	}
	*out = a.v;
	a.v = NULL;
	*err = NULL;
	rc = 0;
cleanup:
	free(word);
	argv_free(a.v);
	return rc;
}

/* Copy s with every "{}" replaced by id; scans s only, so id is never re-substituted. */
static char *argv_subst_one(const char *s, const char *id)
{
	size_t idlen = strlen(id), len = strlen(s), k = 0, total;
	const char *q;
	char *r, *w;

	for (q = strstr(s, "{}"); q; q = strstr(q + 2, "{}"))
		k++;
	if (idlen > 2 && k > (SIZE_MAX - len - 1) / (idlen - 2))
		return NULL;
	total = len - 2 * k + k * idlen + 1;
	r = malloc(total);
	if (!r)
		return NULL;
	w = r;
	while ((q = strstr(s, "{}")) != NULL) {
		memcpy(w, s, (size_t)(q - s));
		w += q - s;
		memcpy(w, id, idlen);
		w += idlen;
		s = q + 2;
	}
	memcpy(w, s, strlen(s) + 1);
	return r;
}

/* Returns a new argv (free with argv_free), or NULL when out of memory. */
char **argv_subst(char *const *argv, const char *id)
{
	size_t n = 0;
	char **r;

	if (!argv)
		return NULL;
	if (!id)
		id = "";
	while (argv[n])
		n++;
	r = calloc(n + 1, sizeof(*r));
	if (!r)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		r[i] = argv_subst_one(argv[i], id);
		if (!r[i]) {
			argv_free(r);
			return NULL;
		}
	}
	return r;
}

int argv_has_placeholder(char *const *argv)
{
	for (size_t i = 0; argv && argv[i]; i++)
		if (strstr(argv[i], "{}"))
			return 1;
	return 0;
}

void argv_free(char **argv)
{
	if (!argv)
		return;
	for (size_t i = 0; argv[i]; i++)
		free(argv[i]);
	free(argv);
}
