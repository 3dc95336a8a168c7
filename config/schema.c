/* schema.c: the one table of config keys, and typed parsing of values into struct config. */
#include "config/schema.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const log_formats[] = {"text", "json", NULL};

#define C(field) offsetof(struct config, field), 0
#define L(field) offsetof(struct config_lock, field), 0
#define LL(field, count) offsetof(struct config_lock, field), offsetof(struct config_lock, count)
#define SECS(def, min, max, reload, help, field) \
	{"coordination", #field, CONFIG_INT, def, NULL, min, max, NULL, reload, false, help, C(field)}

const struct config_key config_keys[CONFIG_NKEYS + CONFIG_LOCK_NKEYS] = {
	/* [cluster] */
	{"cluster", "dsn", CONFIG_STRING, "", NULL, 0, 0, NULL, false, false,
	 "libpq conninfo or URI; empty = libpq environment (PGHOST, PGPASSFILE, ...)", C(dsn)},
	{"cluster", "node", CONFIG_STRING, "", "host name", 0, 0, NULL, false, false,
	 "node name, unique among live nodes (at most 63 bytes, no spaces)", C(node)},
	{"cluster", "site", CONFIG_STRING, "", NULL, 0, 0, NULL, false, false,
	 "free-form site or zone label of this node", C(site)},
	{"cluster", "prefix", CONFIG_STRING, "sync_", NULL, 0, 0, NULL, false, false,
	 "prefix of jobsync's tables, [a-z_][a-z0-9_]{0,30}", C(prefix)},
	{"cluster", "log_level", CONFIG_ENUM, "info", NULL, 0, 0, log_levels, true, false,
	 "least severe level logged", C(log_level)},
	{"cluster", "log_format", CONFIG_ENUM, "text", NULL, 0, 0, log_formats, true, false,
	 "log line format", C(log_format)},

	/* [coordination] */
	{"coordination", "enabled", CONFIG_BOOL, "true", NULL, 0, 0, NULL, false, false,
	 "false: a single node without a database that owns every task", C(enabled)},
	{"coordination", "total_tokens", CONFIG_INT, "10000", NULL, 1, 1000000, NULL, false, false,
	 "number of hash tokens shared among nodes (must match the whole cluster)",
	 C(total_tokens)},
	SECS("5", 1, 3600, true, "seconds between heartbeats", heartbeat_interval_sec),
	SECS("15", 1, 86400, true,
	     "seconds without a heartbeat after which a node is dead (> 2 x interval)",
	     heartbeat_timeout_sec),
	SECS("30", 1, 86400, true,
	     "seconds between the leader's full rereads of the token and lock tables (repairs "
	     "hand edits; joins, leaves and lock changes are acted on at once)",
	     rebalance_check_interval_sec),
	SECS("10", 1, 86400, true,
	     "accepted for compatibility: the leader sweeps every second and exactly when a "
	     "heartbeat expires, never later than this",
	     dead_node_check_interval_sec),
	SECS("5", 1, 86400, true,
	     "seconds between fallback polls for token changes until tokens arrive (NOTIFY and "
	     "every heartbeat also bring them)",
	     token_refresh_initial_interval_sec),
	SECS("30", 1, 86400, true, "seconds between fallback polls for token changes once running",
	     token_refresh_steady_interval_sec),
	{"coordination", "locks_enabled", CONFIG_BOOL, "true", NULL, 0, 0, NULL, true, false,
	 "honour task locks when distributing tokens", C(locks_enabled)},
	SECS("30", 1, 86400, true,
	     "accepted for compatibility: leadership is taken by one term-fenced UPDATE, "
	     "with no lock to wait for",
	     leader_lock_timeout_sec),
	SECS("0", 0, 86400, false,
	     "cold start: seconds the first distribution may wait for nodes to join",
	     wait_on_enter),
	SECS("2", 0, 3600, false,
	     "cold start: distribute once no node joined for this many seconds",
	     cold_start_quiet_sec),
	SECS("10", 1, 3600, true, "seconds allowed to connect to the database",
	     connect_timeout_sec),
	SECS("30", 1, 3600, true, "cap of the reconnect delay, in seconds", reconnect_max_sec),
	SECS("1", 1, 3600, true,
	     "seconds between the stop signal and SIGKILL when a node fences itself",
	     fence_kill_grace_sec),
	{"coordination", "clear_existing_locks", CONFIG_BOOL, "false", NULL, 0, 0, NULL, false,
	 false, "replace the locks this node registered earlier with its [lock.*] sections",
	 C(clear_existing_locks)},
	SECS("30", 1, 36500, true, "days of claim and rebalance history kept", retention_days),

	/* [lock.NAME] */
	{CONFIG_LOCK_SECTION, "tasks", CONFIG_LIST, "", NULL, 0, 0, NULL, true, false,
	 "comma-separated task ids whose tokens are locked", LL(tasks, ntasks)},
	{CONFIG_LOCK_SECTION, "tokens", CONFIG_INT_LIST, "", NULL, 0, 999999, NULL, true, false,
	 "comma-separated token ids to lock", LL(tokens, ntokens)},
	{CONFIG_LOCK_SECTION, "pattern", CONFIG_STRING, "", NULL, 0, 0, NULL, true, true,
	 "SQL LIKE pattern of the node names allowed to own these tokens", L(pattern)},
	{CONFIG_LOCK_SECTION, "reason", CONFIG_STRING, "", NULL, 0, 0, NULL, true, false,
	 "free text shown in status", L(reason)},
	{CONFIG_LOCK_SECTION, "expires_days", CONFIG_INT, "0", NULL, 0, 36500, NULL, true, false,
	 "days until the lock expires; 0 = never", L(expires_days)},
};

_Static_assert(sizeof(config_keys) / sizeof(config_keys[0]) == CONFIG_NKEYS + CONFIG_LOCK_NKEYS,
	       "key table size");

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
	for (size_t i = 0; i < CONFIG_NKEYS + CONFIG_LOCK_NKEYS; i++)
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

	for (size_t i = 0; i < CONFIG_NKEYS + CONFIG_LOCK_NKEYS; i++) {
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
	}
	snprintf(err, errlen, "internal error: bad type of '%s'", key->name);
	return -1;
}
