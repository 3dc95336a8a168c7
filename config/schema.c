/* schema.c: lookups in the key table, and typed parsing of values into struct config. */
#include "config/schema.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void *config_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q) {
		fputs("jobsync: out of memory\n", stderr);
		abort();
	}
	return q;
}

char *config_xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(config_xrealloc(NULL, n), s, n);
}

int config_key_index(const char *section, const char *name)
{
	for (size_t i = 0; i < CONFIG_ALL_NKEYS; i++)
		if (!strcmp(config_keys[i].section, section) && !strcmp(config_keys[i].name, name))
			return (int)i;
	return -1;
}

/* Levenshtein distance of a and b, giving up (returning 3) when both are long. */
static int edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	int row[64];

	if (la >= 63 || lb >= 63)
		return 3;
	for (size_t j = 0; j <= lb; j++)
		row[j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		int diag = row[0];

		row[0] = (int)i;
		for (size_t j = 1; j <= lb; j++) {
			int up = row[j];
			int best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

const char *config_key_suggest(const char *section, const char *name)
{
	const char *best = NULL;
	int best_d = 3;

	for (size_t i = 0; i < CONFIG_ALL_NKEYS; i++) {
		int d;

		if (strcmp(config_keys[i].section, section))
			continue;
		d = edit_distance(name, config_keys[i].name);
		if (d < best_d) {
			best_d = d;
			best = config_keys[i].name;
		}
	}
	return best;
}

/* Signals a program may be stopped with, by name. */
static const struct {
	const char *name;
	int number;
} signals[] = {
	{"TERM", SIGTERM}, {"INT", SIGINT},   {"HUP", SIGHUP},   {"QUIT", SIGQUIT},
	{"KILL", SIGKILL}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2},
};

int config_signal_number(const char *name)
{
	if (!strncasecmp(name, "SIG", 3))
		name += 3;
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		if (!strcasecmp(name, signals[i].name))
			return signals[i].number;
	return -1;
}

/* Parse "FIRST-LAST" (integers, FIRST <= LAST, spaces allowed around '-'); "" = unset. */
static int parse_range(const char *s, long long v[2], char *err, size_t errlen, const char *what)
{
	const char *p = s;
	char *end;

	v[0] = v[1] = 0;
	if (!*s)
		return 0;
	for (int i = 0; i < 2; i++) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!isdigit((unsigned char)*p) && !(*p == '-' && isdigit((unsigned char)p[1])))
			goto bad;
		errno = 0;
		v[i] = strtoll(p, &end, 10);
		if (errno == ERANGE)
			goto bad;
		for (p = end; *p == ' ' || *p == '\t'; p++)
			;
		if (i == 0 && *p++ != '-')
			goto bad;
	}
	if (*p)
		goto bad;
	if (v[0] > v[1]) {
		snprintf(err, errlen, "'%s' = %.64s: FIRST is above LAST", what, s);
		v[0] = v[1] = 0;
		return -1;
	}
	return 0;
bad:
	snprintf(err, errlen, "invalid range '%.64s' for '%s' (use FIRST-LAST, integers)", s, what);
	v[0] = v[1] = 0;
	return -1;
}

void *config_key_field(const struct config_key *key, void *base)
{
	return (char *)base + key->offset;
}

/* Parse a full decimal integer within [min, max]. */
static int parse_int(const char *s, long min, long max, long *out, char *err, size_t errlen,
		     const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (!*s || isspace((unsigned char)*s) || *end || errno == ERANGE) {
		snprintf(err, errlen, "invalid integer '%s' for '%s'", s, what);
		return -1;
	}
	if (v < min || v > max) {
		snprintf(err, errlen, "'%s' = %ld is out of range (%ld..%ld)", what, v, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};

	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

/* Split text on commas into trimmed items; an empty item is an error. */
static int split_list(const char *text, char ***items, size_t *n, char *err, size_t errlen,
		      const char *what)
{
	const char *p = text;

	*items = NULL;
	*n = 0;
	while (isspace((unsigned char)*p))
		p++;
	if (!*p) {
		snprintf(err, errlen, "empty '%s' list", what);
		return -1;
	}
	for (;;) {
		const char *end = strchr(p, ',');
		const char *b = p, *e = end ? end : p + strlen(p);

		while (b < e && isspace((unsigned char)*b))
			b++;
		while (e > b && isspace((unsigned char)e[-1]))
			e--;
		if (b == e) {
			snprintf(err, errlen, "empty item in '%s' list '%s'", what, text);
			for (size_t i = 0; i < *n; i++)
				free((*items)[i]);
			free(*items);
			*items = NULL;
			*n = 0;
			return -1;
		}
		*items = config_xrealloc(*items, (*n + 1) * sizeof(**items));
		(*items)[*n] = config_xrealloc(NULL, (size_t)(e - b) + 1);
		memcpy((*items)[*n], b, (size_t)(e - b));
		(*items)[*n][e - b] = '\0';
		(*n)++;
		if (!end)
			return 0;
		p = end + 1;
	}
}

void config_key_clear(const struct config_key *key, void *base)
{
	void *field = config_key_field(key, base);
	size_t *count = key->count_offset ? (size_t *)((char *)base + key->count_offset) : NULL;

	switch (key->type) {
	case CONFIG_RANGE:
		memset((char *)base + key->count_offset, 0, 2 * sizeof(long long));
		/* fall through */
	case CONFIG_STRING:
		free(*(char **)field);
		*(char **)field = NULL;
		break;
	case CONFIG_LIST:
		for (size_t i = 0; i < *count; i++)
			free((*(char ***)field)[i]);
		free(*(char ***)field);
		*(char ***)field = NULL;
		*count = 0;
		break;
	case CONFIG_INT_LIST:
		free(*(int **)field);
		*(int **)field = NULL;
		*count = 0;
		break;
	default:
		break;
	}
}

/* Parse an int list: split, then each item a full integer within the key's bounds. */
static int set_int_list(const struct config_key *key, void *base, const char *text, char *err,
			size_t errlen)
{
	char **items;
	size_t n;
	int *v = NULL;
	int rc = 0;

	if (split_list(text, &items, &n, err, errlen, key->name) < 0)
		return -1;
	if (n)
		v = config_xrealloc(NULL, n * sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		long x = 0;

		if (rc == 0 && parse_int(items[i], key->min, key->max, &x, err, errlen, key->name))
			rc = -1;
		v[i] = (int)x;
		free(items[i]);
	}
	free(items);
	if (rc) {
		free(v);
		return -1;
	}
	config_key_clear(key, base);
	*(int **)config_key_field(key, base) = v;
	*(size_t *)((char *)base + key->count_offset) = n;
	return 0;
}

int config_key_set(const struct config_key *key, void *base, const char *text, char *err,
		   size_t errlen)
{
	void *field = config_key_field(key, base);
	long v;
	bool b;

	switch (key->type) {
	case CONFIG_STRING:
		free(*(char **)field);
		*(char **)field = config_xstrdup(text);
		return 0;
	case CONFIG_INT:
		if (parse_int(text, key->min, key->max, &v, err, errlen, key->name))
			return -1;
		*(int *)field = (int)v;
		return 0;
	case CONFIG_BOOL:
		if (parse_bool(text, &b)) {
			snprintf(err, errlen,
				 "invalid boolean '%s' for '%s' (use true/false, yes/no, on/off, 1/0)",
				 text, key->name);
			return -1;
		}
		*(bool *)field = b;
		return 0;
	case CONFIG_ENUM:
		for (int i = 0; key->choices[i]; i++) {
			if (!strcasecmp(text, key->choices[i])) {
				*(int *)field = i;
				return 0;
			}
		}
		snprintf(err, errlen, "invalid value '%s' for '%s' (one of:", text, key->name);
		for (int i = 0; key->choices[i]; i++) {
			size_t len = strlen(err);

			snprintf(err + len, errlen - len, "%s %s", i ? "," : "", key->choices[i]);
		}
		strncat(err, ")", errlen - strlen(err) - 1);
		return -1;
	case CONFIG_LIST: {
		char **items;
		size_t n;

		if (split_list(text, &items, &n, err, errlen, key->name))
			return -1;
		config_key_clear(key, base);
		*(char ***)field = items;
		*(size_t *)((char *)base + key->count_offset) = n;
		return 0;
	}
	case CONFIG_INT_LIST:
		return set_int_list(key, base, text, err, errlen);
	case CONFIG_SIGNAL:
		v = config_signal_number(text);
		if (v < 0) {
			snprintf(err, errlen,
				 "invalid signal '%.64s' for '%s' (one of: TERM, INT, HUP, QUIT, KILL, "
				 "USR1, USR2)",
				 text, key->name);
			return -1;
		}
		*(int *)field = (int)v;
		return 0;
	case CONFIG_RANGE: {
		long long r[2];

		if (parse_range(text, r, err, errlen, key->name))
			return -1;
		free(*(char **)field);
		*(char **)field = config_xstrdup(text);
		memcpy((char *)base + key->count_offset, r, sizeof(r));
		return 0;
	}
	}
	snprintf(err, errlen, "internal error: bad type of '%s'", key->name);
	return -1;
}
