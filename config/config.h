/* config.h: the validated configuration of one node, built from INI files. */
#ifndef JOBSYNC_CONFIG_H
#define JOBSYNC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Entries of the key table (config/schema.h): global keys, then [lock.NAME] keys. */
#define CONFIG_NKEYS 23
#define CONFIG_LOCK_NKEYS 5

/* One [lock.NAME] section: pin the tokens of some tasks to nodes matching a pattern. */
struct config_lock {
	char *name;        /* NAME of [lock.NAME] */
	char **tasks;      /* task ids (key "tasks", comma separated, trimmed) */
	size_t ntasks;
	int *tokens;       /* explicit token ids (key "tokens"), may be empty */
	size_t ntokens;
	char *pattern;     /* SQL LIKE pattern on node names (required) */
	char *reason;      /* free text, default "" */
	int expires_days;  /* 0 = never */
	int line;          /* line of the section header, for messages */
	int key_line[CONFIG_LOCK_NKEYS]; /* line of each lock key, 0 = unset, < 0 = rejected */
};

enum log_format { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };
enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };

struct config {
	char *path;                 /* file the config came from */

	/* [cluster] */
	char *dsn;                  /* libpq conninfo; "" = libpq environment */
	char *node;                 /* node name; default: host name */
	char *site;
	char *prefix;               /* [a-z_][a-z0-9_]{0,30} */
	enum log_level log_level;
	enum log_format log_format;

	/* [coordination] */
	bool enabled;
	int total_tokens;
	int heartbeat_interval_sec;
	int heartbeat_timeout_sec;
	int rebalance_check_interval_sec;
	int dead_node_check_interval_sec;
	int token_refresh_initial_interval_sec;
	int token_refresh_steady_interval_sec;
	bool locks_enabled;
	int leader_lock_timeout_sec;
	int wait_on_enter;          /* seconds */
	int cold_start_quiet_sec;
	int connect_timeout_sec;
	int reconnect_max_sec;
	int fence_kill_grace_sec;
	bool clear_existing_locks;
	int retention_days;

	/* [lock.NAME] sections, in file order */
	struct config_lock *locks;
	size_t nlocks;

	/* line each global key of the table was set on (0 = default, -line = value rejected) */
	int key_line[CONFIG_NKEYS];
};

/* One problem found while loading, reported as "FILE:LINE: message". */
struct config_error {
	char *file;
	int line;                   /* 0 when the problem is not tied to a line */
	char *msg;
};

struct config_errors {
	struct config_error *v;
	size_t n;
};

/* Fill *cfg with defaults (node = gethostname()); overwrites *cfg without freeing it. */
void config_defaults(struct config *cfg);

/*
 * Parse the INI text read from fp (named path in messages) into *cfg, on top of
 * defaults, expand ${VAR} and ${VAR:-default} from the environment, then
 * validate. Every problem is appended to *errs. Returns 0 when errs is empty.
 * *cfg must be zeroed ({0}) or hold a config (config_defaults() or an earlier
 * load): it is freed and reset to defaults first, and must be released with
 * config_free() afterwards, even on error.
 */
int config_parse_file(FILE *fp, const char *path, struct config *cfg,
		      struct config_errors *errs);

/* Open and parse path as config_parse_file(); an unreadable file is reported in *errs. */
int config_load(const char *path, struct config *cfg, struct config_errors *errs);

/* Cross-key checks (timings, prefix); appends to *errs; returns 0 if none. */
int config_validate(const struct config *cfg, struct config_errors *errs);

/* Seconds without a successful heartbeat after which a node fences itself. */
double config_fence_after_sec(const struct config *cfg);

/* Write a commented sample config generated from the key table. */
void config_sample(FILE *out);

/* Write the key reference as a Markdown table (for the README). */
void config_reference_md(FILE *out);

/* Append one error (printf format); file may be NULL for "". */
void config_error_add(struct config_errors *errs, const char *file, int line,
		      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Write every error as "FILE:LINE: message" (or "FILE: message"), one a line. */
void config_errors_print(const struct config_errors *errs, FILE *out);

void config_free(struct config *cfg);
void config_errors_free(struct config_errors *errs);

#endif
