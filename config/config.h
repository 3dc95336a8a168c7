/* config.h: the validated configuration of one node, built from INI files. */
#ifndef JOBSYNC_CONFIG_H
#define JOBSYNC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/*
 * Entries of the key table (config/schema.h): global keys ([cluster],
 * [coordination], [health], [tasks], [worker]), then the keys of the repeated
 * sections [lock.NAME], [service.NAME] and [cron.NAME].
 */
#define CONFIG_NKEYS 57
#define CONFIG_LOCK_NKEYS 5
#define CONFIG_SERVICE_NKEYS 12
#define CONFIG_CRON_NKEYS 15

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

/* Supervision settings shared by [worker], [service.NAME] and [cron.NAME]. */
enum config_restart { CONFIG_RESTART_ALWAYS, CONFIG_RESTART_ON_FAILURE, CONFIG_RESTART_NEVER };

/* A command and how to stop it. */
struct config_command {
	char *command;              /* argv split without a shell, unless shell = true */
	bool shell;                 /* run as /bin/sh -c COMMAND */
	char *cwd;                  /* "" = the node's */
	int stop_signal;            /* signal number; key value is a name: TERM, INT, ... */
	int stop_timeout_sec;       /* then SIGKILL */
};

/* Restart policy of a long-running program (stream/batch workers, services). */
struct config_restart_policy {
	enum config_restart restart;
	int max_restarts;           /* more than this in restart_window_sec -> FATAL */
	int restart_window_sec;
	int fatal_cooldown_sec;     /* 0 = stay FATAL */
	int stable_sec;             /* healthy this long resets the backoff */
	bool essential;             /* FATAL makes the node exit non-zero */
	int no_restart_exit;        /* default 125 */
};

enum config_source { SOURCE_NONE, SOURCE_SQL, SOURCE_COMMAND, SOURCE_FILE, SOURCE_RANGE };
enum config_mode { MODE_EXEC, MODE_STREAM, MODE_BATCH };
enum config_misfire { MISFIRE_SKIP, MISFIRE_ONCE };
enum config_concurrency { CONCURRENCY_FORBID, CONCURRENCY_ALLOW };

/* [tasks]: where task ids come from. */
struct config_tasks {
	enum config_source source;  /* none = this node only holds tokens */
	char *query;                /* sql: $1 is the date */
	char *dsn;                  /* sql: "" = the cluster's dsn */
	bool sql_token_filter;      /* sql: filter by owned tokens inside the query */
	char *command;              /* command: one id per stdout line */
	char *path;                 /* file: one id per line */
	char *range;                /* range: "FIRST-LAST" (integers) */
	long long range_first, range_last; /* parsed range */
	int poll_interval_sec;      /* 0 = batch: list once, exit when all audited */
	char *channel;              /* NOTIFY channel that triggers a relist, "" = none */
	int line;                   /* line of the [tasks] header, 0 = absent */
};

/* [worker]: how tasks run. */
struct config_worker {
	enum config_mode mode;
	struct config_command cmd;
	int concurrency;            /* exec: processes at once */
	int procs;                  /* stream, batch: long-running children */
	int inflight;               /* stream: ids in flight per child */
	int batch_size;             /* batch: ids per child */
	int max_line;               /* bytes of a protocol or output line */
	int task_timeout_sec;       /* 0 = none */
	int max_attempts;
	int retry_backoff_sec;      /* first retry delay (capped exponential with jitter) */
	int retry_backoff_max_sec;
	struct config_restart_policy policy;
	int line;                   /* line of the [worker] header, 0 = absent */
};

/* One [service.NAME]: a cluster singleton run on the leader. */
struct config_service {
	char *name;
	struct config_command cmd;
	struct config_restart_policy policy;
	int line;
	int key_line[CONFIG_SERVICE_NKEYS]; /* as in struct config_lock */
};

/* One [cron.NAME]: a scheduled command fired once for the cluster by the leader. */
struct config_cron {
	char *name;
	char *schedule;             /* 5-field cron or @macro, validated with cron_parse() */
	char *timezone;             /* IANA name, "" = the node's zone */
	struct config_command cmd;
	bool enabled;
	int timeout_sec;            /* 0 = none */
	int max_attempts;
	int retry_backoff_sec;
	int retry_backoff_max_sec;
	enum config_misfire misfire;
	int misfire_grace_sec;
	enum config_concurrency concurrency_policy;
	int line;
	int key_line[CONFIG_CRON_NKEYS]; /* as in struct config_lock */
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
	int health_check_interval_sec; /* status file rewrite period */

	/* [health] */
	char *status_file;          /* "" = none */
	char *listen;               /* HOST:PORT of the HTTP endpoint, "" = off */

	/* [lock.NAME] sections, in file order */
	struct config_lock *locks;
	size_t nlocks;

	struct config_tasks tasks;
	struct config_worker worker;
	struct config_service *services;
	size_t nservices;
	struct config_cron *crons;
	size_t ncrons;

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
