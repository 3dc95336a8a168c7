/* validate.c: checks of a parsed config that need more than one key (timings, names, locks). */
#include "config/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "config/schema.h"
#include "config/validate_work.h"

/* Line where global key name was set, 0 when it kept its default. */
static int key_line(const struct config *cfg, const char *name)
{
	int idx = config_key_index("cluster", name);

	if (idx < 0)
		idx = config_key_index("coordination", name);
	return idx < 0 ? 0 : abs(cfg->key_line[idx]);
}

/* The first non-zero of two lines. */
static int either(int a, int b)
{
	return a ? a : b;
}

double config_fence_after_sec(const struct config *cfg)
{
	double a = (double)cfg->heartbeat_timeout_sec - 2.0;
	double b = 1.5 * (double)cfg->heartbeat_interval_sec;

	return a > b ? a : b;
}

/* One int or enum key of base within its table bounds, reported at line. */
static void check_key_bounds(const struct config_key *k, const void *base, int line,
			     const char *path, struct config_errors *errs)
{
	const void *field = (const char *)base + k->offset;
	int v, n = 0;

	if (k->type == CONFIG_INT) {
		v = *(const int *)field;
		if (v < k->min || v > k->max)
			config_error_add(errs, path, abs(line), "'%s' = %d is out of range (%ld..%ld)",
					 k->name, v, k->min, k->max);
	} else if (k->type == CONFIG_ENUM) {
		v = *(const int *)field;
		while (k->choices[n])
			n++;
		if (v < 0 || v >= n)
			config_error_add(errs, path, abs(line), "'%s' has an invalid value", k->name);
	}
}

/* Every int and enum key within its table bounds (catches structs not built by the parser). */
static void check_bounds(const struct config *cfg, const char *path, struct config_errors *errs)
{
	for (int i = 0; i < CONFIG_NKEYS; i++)
		check_key_bounds(&config_keys[i], cfg, cfg->key_line[i], path, errs);
	for (size_t r = 0; r < CONFIG_NREPEATED; r++) {
		const struct config_repeated *rep = &config_repeated[r];

		for (size_t i = 0; i < config_repeated_count(rep, cfg); i++) {
			void *item = config_repeated_item(rep, cfg, i);
			const int *lines = config_repeated_key_lines(rep, item);

			for (int k = rep->first; k < rep->first + rep->nkeys; k++)
				check_key_bounds(&config_keys[k], item, lines[k - rep->first], path,
						 errs);
		}
	}
}

/* Heartbeat timeout versus interval, and self-fencing finishing before the timeout. */
static void check_timings(const struct config *cfg, const char *path, struct config_errors *errs)
{
	int interval = cfg->heartbeat_interval_sec, timeout = cfg->heartbeat_timeout_sec;
	int grace = cfg->fence_kill_grace_sec;
	int line = either(key_line(cfg, "heartbeat_timeout_sec"),
			  key_line(cfg, "heartbeat_interval_sec"));
	double fence = config_fence_after_sec(cfg);
	int t = config_key_index("coordination", "heartbeat_timeout_sec");
	int i = config_key_index("coordination", "heartbeat_interval_sec");
	int g = config_key_index("coordination", "fence_kill_grace_sec");

	/* A rejected value was reported already; its default would only add noise. */
	if (cfg->key_line[t] < 0 || cfg->key_line[i] < 0 || cfg->key_line[g] < 0)
		return;
	if (timeout <= 2 * interval)
		config_error_add(errs, path, line,
				 "heartbeat_timeout_sec (%d) must be more than twice "
				 "heartbeat_interval_sec (%d), so that one lost heartbeat is not death",
				 timeout, interval);
	if (fence + grace >= timeout)
		config_error_add(errs, path, either(key_line(cfg, "fence_kill_grace_sec"), line),
				 "self-fencing ends too late: a node that cannot heartbeat stops its "
				 "children after max(heartbeat_timeout_sec - 2, 1.5 x "
				 "heartbeat_interval_sec) = %.1f s and kills them "
				 "fence_kill_grace_sec = %d s later, at %.1f s; that must be before "
				 "heartbeat_timeout_sec = %d s, when other nodes take its tasks over",
				 fence, grace, fence + grace, timeout);
}

/* Node name: 1..63 bytes, no whitespace or control characters. */
static void check_node(const struct config *cfg, const char *path, struct config_errors *errs)
{
	const char *node = cfg->node ? cfg->node : "";
	int line = key_line(cfg, "node");

	if (!*node) {
		config_error_add(errs, path, line, "node name is empty (set [cluster] node)");
		return;
	}
	if (strlen(node) > 63)
		config_error_add(errs, path, line, "node name is longer than 63 bytes");
	for (const char *p = node; *p; p++) {
		if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p)) {
			config_error_add(errs, path, line,
					 "node name contains whitespace or control characters");
			break;
		}
	}
}

/* Prefix: [a-z_][a-z0-9_]{0,30}. */
static void check_prefix(const struct config *cfg, const char *path, struct config_errors *errs)
{
	const char *p = cfg->prefix ? cfg->prefix : "";
	size_t n = strlen(p);
	bool ok = n >= 1 && n <= 31 && ((*p >= 'a' && *p <= 'z') || *p == '_');

	for (size_t i = 1; ok && i < n; i++)
		ok = (p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') || p[i] == '_';
	if (!ok)
		config_error_add(errs, path, key_line(cfg, "prefix"),
				 "invalid prefix '%.64s': must match [a-z_][a-z0-9_]{0,30}", p);
}

/* Each lock: a pattern, some tasks or tokens, tokens below total_tokens. */
static void check_locks(const struct config *cfg, const char *path, struct config_errors *errs)
{
	int tasks = config_key_index(CONFIG_LOCK_SECTION, "tasks") - CONFIG_LOCK_FIRST;
	int tokens = config_key_index(CONFIG_LOCK_SECTION, "tokens") - CONFIG_LOCK_FIRST;
	/* a missing or empty 'pattern' is reported with the other required keys */
	for (size_t i = 0; i < cfg->nlocks; i++) {
		const struct config_lock *l = &cfg->locks[i];
		const char *name = l->name ? l->name : "";

		if (!l->key_line[tasks] && !l->key_line[tokens] && !l->ntasks && !l->ntokens)
			config_error_add(errs, path, l->line,
					 "[lock.%s] needs 'tasks' or 'tokens' (or both)", name);
		for (size_t t = 0; t < l->ntokens; t++) {
			if (l->tokens[t] < 0 || l->tokens[t] >= cfg->total_tokens) {
				config_error_add(errs, path, abs(l->key_line[tokens]),
						 "[lock.%s] token %d is out of range (0..%d, "
						 "total_tokens - 1)",
						 name, l->tokens[t], cfg->total_tokens - 1);
				break;
			}
		}
	}
}

/* [health] listen: "" (off) or HOST:PORT: HOST numeric IPv4, [IPv6] or localhost; PORT
 * 0..65535 (0 = a free port, logged at startup). No name lookup happens at startup. */
static void check_listen(const struct config *cfg, const char *path, struct config_errors *errs)
{
	const char *l = cfg->listen ? cfg->listen : "";
	const char *colon = strrchr(l, ':');
	char host[64], *end;
	unsigned char addr[16];
	long port;

	if (!*l)
		return;
	if (colon && colon[1] && !isspace((unsigned char)colon[1]) &&
	    (size_t)(colon - l) < sizeof host) {
		port = strtol(colon + 1, &end, 10);
		memcpy(host, l, (size_t)(colon - l));
		host[colon - l] = 0;
		size_t hl = strlen(host);
		bool v6 = hl > 2 && host[0] == '[' && host[hl - 1] == ']';
		if (v6)
			host[hl - 1] = 0;
		bool host_ok = !strcmp(host, "localhost") ||
			       (v6 ? inet_pton(AF_INET6, host + 1, addr) == 1
				   : inet_pton(AF_INET, host, addr) == 1);
		if (!*end && port >= 0 && port <= 65535 && host_ok)
			return;
	}
	config_error_add(errs, path, abs(cfg->key_line[config_key_index("health", "listen")]),
			 "invalid listen address '%.200s': use HOST:PORT with HOST a numeric IPv4 "
			 "address, [IPv6] or localhost, and PORT in 0..65535 (0 = any free port)", l);
}

int config_validate(const struct config *cfg, struct config_errors *errs)
{
	size_t before = errs->n;
	const char *path = cfg->path ? cfg->path : "";

	check_bounds(cfg, path, errs);
	check_timings(cfg, path, errs);
	check_node(cfg, path, errs);
	check_prefix(cfg, path, errs);
	check_locks(cfg, path, errs);
	check_listen(cfg, path, errs);
	config_validate_work(cfg, errs);
	return errs->n > before ? -1 : 0;
}
