/* schema_keys.c: the one table of config keys (type, default, bounds, reload, help), by section. */
#include "config/schema.h"

#include <stddef.h>
#include <string.h>

static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const log_formats[] = {"text", "json", NULL};
static const char *const sources[] = {"none", "sql", "command", "file", "range", NULL};
static const char *const modes[] = {"exec", "stream", "batch", NULL};
static const char *const restarts[] = {"always", "on-failure", "never", NULL};
static const char *const misfires[] = {"skip", "once", NULL};
static const char *const concurrencies[] = {"forbid", "allow", NULL};

#define C(field) offsetof(struct config, field), 0
#define L(field) offsetof(struct config_lock, field), 0
#define CR(field) offsetof(struct config_cron, field), 0
#define LL(field, count) offsetof(struct config_lock, field), offsetof(struct config_lock, count)
#define OFF(type, member) offsetof(type, member), 0
#define INT(sec, name, def, min, max, help, off) \
	{sec, name, CONFIG_INT, def, NULL, min, max, NULL, true, false, help, off}

/* How a program is started and stopped: [worker], [service.NAME], [cron.NAME]. */
#define COMMAND_KEYS(sec, type, pre, stop_def, help)                                         \
	{sec, "command", CONFIG_STRING, "", NULL, 0, 0, NULL, true, true,                    \
	 help " (words split without a shell; quotes and backslash work)",                   \
	 OFF(type, pre cmd.command)},                                                        \
	{sec, "shell", CONFIG_BOOL, "false", NULL, 0, 0, NULL, true, false,                  \
	 "run the command with /bin/sh -c", OFF(type, pre cmd.shell)},                        \
	{sec, "cwd", CONFIG_STRING, "", NULL, 0, 0, NULL, true, false,                       \
	 "working directory of the command; empty = the node's", OFF(type, pre cmd.cwd)},    \
	{sec, "stop_signal", CONFIG_SIGNAL, "TERM", NULL, 0, 0, NULL, true, false,           \
	 "signal sent to the process group to stop it", OFF(type, pre cmd.stop_signal)},     \
	INT(sec, "stop_timeout_sec", stop_def, 0, 86400,                                     \
	    "seconds between the stop signal and SIGKILL", OFF(type, pre cmd.stop_timeout_sec))

/* Capped exponential retry delays of tasks and cron runs. */
#define RETRY_KEYS(sec, type, pre, def, max_def)                                            \
	INT(sec, "retry_backoff_sec", def, 0, 86400, "seconds before the first retry",      \
	    OFF(type, pre retry_backoff_sec)),                                               \
	INT(sec, "retry_backoff_max_sec", max_def, 0, 86400,                                 \
	    "cap of the retry delay, in seconds", OFF(type, pre retry_backoff_max_sec))

/* Restarts of long-running programs: stream and batch workers, services. */
#define POLICY_KEYS(sec, type, pre)                                                         \
	{sec, "restart", CONFIG_ENUM, "always", NULL, 0, 0, restarts, true, false,           \
	 "when a long-running program is restarted after it exits",                          \
	 OFF(type, pre policy.restart)},                                                     \
	INT(sec, "max_restarts", "5", 0, 10000,                                              \
	    "more restarts than this within restart_window_sec: FATAL",                      \
	    OFF(type, pre policy.max_restarts)),                                             \
	INT(sec, "restart_window_sec", "60", 1, 86400, "window of max_restarts, in seconds", \
	    OFF(type, pre policy.restart_window_sec)),                                       \
	INT(sec, "fatal_cooldown_sec", "60", 0, 86400,                                       \
	    "seconds in FATAL before trying again; 0 = stay FATAL",                          \
	    OFF(type, pre policy.fatal_cooldown_sec)),                                       \
	INT(sec, "stable_sec", "10", 0, 86400,                                               \
	    "seconds of healthy running that reset the restart backoff",                     \
	    OFF(type, pre policy.stable_sec)),                                               \
	{sec, "essential", CONFIG_BOOL, "false", NULL, 0, 0, NULL, true, false,              \
	 "true: the node exits non-zero when this program goes FATAL",                        \
	 OFF(type, pre policy.essential)},                                                   \
	INT(sec, "no_restart_exit", "125", 0, 255, "exit code that means do not restart",    \
	    OFF(type, pre policy.no_restart_exit))

#define SECS(def, min, max, reload, help, field) \
	{"coordination", #field, CONFIG_INT, def, NULL, min, max, NULL, reload, false, help, C(field)}

const struct config_key config_keys[CONFIG_ALL_NKEYS] = {
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
	SECS("5", 1, 3600, false, "seconds between heartbeats", heartbeat_interval_sec),
	SECS("15", 1, 86400, false,
	     "seconds without a heartbeat after which a node is dead (> 2 x interval)",
	     heartbeat_timeout_sec),
	SECS("30", 1, 86400, true,
	     "seconds between the leader's full looks at the cluster, rereading the token and "
	     "lock tables (repairs hand edits); joins, leaves, crashes and lock changes are "
	     "acted on at once",
	     rebalance_check_interval_sec),
	SECS("10", 1, 86400, true,
	     "accepted for compatibility: the leader sweeps the moment a node's session ends, "
	     "exactly when a heartbeat expires, and every rebalance_check_interval_sec",
	     dead_node_check_interval_sec),
	SECS("5", 1, 86400, true,
	     "seconds between fallback polls for token changes until tokens arrive (NOTIFY and "
	     "every heartbeat also bring them)",
	     token_refresh_initial_interval_sec),
	SECS("30", 1, 86400, true,
	     "seconds between fallback polls for token changes once running (skipped while "
	     "heartbeats, which compare the token version, succeed at least as often)",
	     token_refresh_steady_interval_sec),
	{"coordination", "locks_enabled", CONFIG_BOOL, "true", NULL, 0, 0, NULL, true, false,
	 "honour task locks when distributing tokens", C(locks_enabled)},
	SECS("30", 1, 86400, true,
	     "accepted for compatibility: leadership is taken by one term-fenced UPDATE, "
	     "with no lock to wait for",
	     leader_lock_timeout_sec),
	SECS("0", 0, 86400, true,
	     "cold start: seconds the first distribution may wait for nodes to join",
	     wait_on_enter),
	SECS("2", 0, 3600, true,
	     "cold start: distribute once no node joined for this many seconds",
	     cold_start_quiet_sec),
	SECS("10", 1, 3600, false, "seconds allowed to connect to the database",
	     connect_timeout_sec),
	SECS("30", 1, 3600, false, "cap of the reconnect delay, in seconds", reconnect_max_sec),
	SECS("1", 1, 3600, true,
	     "seconds between the stop signal and SIGKILL when a node fences itself",
	     fence_kill_grace_sec),
	{"coordination", "clear_existing_locks", CONFIG_BOOL, "false", NULL, 0, 0, NULL, true,
	 false, "replace the locks this node registered earlier with its [lock.*] sections",
	 C(clear_existing_locks)},
	SECS("30", 1, 36500, true, "days of claim and rebalance history kept", retention_days),
	SECS("30", 1, 86400, false, "seconds between rewrites of the status file when nothing changes",
	     health_check_interval_sec),

	/* [health] */
	{"health", "status_file", CONFIG_STRING, "", NULL, 0, 0, NULL, false, false,
	 "JSON status file, written atomically on every change; empty = none", C(status_file)},
	{"health", "listen", CONFIG_STRING, "127.0.0.1:8080", NULL, 0, 0, NULL, false, false,
	 "HOST:PORT of the HTTP health, status and metrics endpoint; empty = off", C(listen)},

	/* [tasks] */
	{"tasks", "source", CONFIG_ENUM, "none", NULL, 0, 0, sources, true, false,
	 "where task ids come from; none = this node only holds tokens", C(tasks.source)},
	{"tasks", "query", CONFIG_STRING, "", NULL, 0, 0, NULL, true, false,
	 "source = sql: query returning task ids; $1 is the date", C(tasks.query)},
	{"tasks", "dsn", CONFIG_STRING, "", NULL, 0, 0, NULL, true, false,
	 "source = sql: libpq conninfo of the task database; empty = the cluster's dsn",
	 C(tasks.dsn)},
	{"tasks", "sql_token_filter", CONFIG_BOOL, "false", NULL, 0, 0, NULL, true, false,
	 "source = sql: the query itself filters by this node's tokens, instead of jobsync",
	 C(tasks.sql_token_filter)},
	{"tasks", "command", CONFIG_STRING, "", NULL, 0, 0, NULL, true, false,
	 "source = command: command printing one task id per stdout line", C(tasks.command)},
	{"tasks", "path", CONFIG_STRING, "", NULL, 0, 0, NULL, true, false,
	 "source = file: file of task ids, one a line", C(tasks.path)},
	{"tasks", "range", CONFIG_RANGE, "", NULL, 0, 0, NULL, true, false,
	 "source = range: integer task ids FIRST-LAST, both included",
	 offsetof(struct config, tasks.range), offsetof(struct config, tasks.range_first)},
	{"tasks", "poll_interval_sec", CONFIG_INT, "30", NULL, 0, 86400, NULL, true, false,
	 "seconds between relists; 0 = batch: list once, exit when every task is audited",
	 C(tasks.poll_interval_sec)},
	{"tasks", "channel", CONFIG_STRING, "", NULL, 0, 0, NULL, true, false,
	 "NOTIFY channel that triggers a relist ([a-z_][a-z0-9_$]{0,62}); empty = none",
	 C(tasks.channel)},

	/* [worker] */
	{"worker", "mode", CONFIG_ENUM, "exec", NULL, 0, 0, modes, false, false,
	 "exec: one process per task; stream: ids on stdin, one answer line each; batch: "
	 "batch_size ids on stdin then EOF",
	 C(worker.mode)},
	COMMAND_KEYS("worker", struct config, worker., "30",
		     "command run for tasks; exec mode replaces {} by the task id"),
	INT("worker", "concurrency", "1", 1, 4096, "exec: processes at once", C(worker.concurrency)),
	INT("worker", "procs", "1", 1, 1024, "stream, batch: long-running children",
	    C(worker.procs)),
	INT("worker", "inflight", "1", 1, 10000, "stream: task ids in flight per child",
	    C(worker.inflight)),
	INT("worker", "batch_size", "100", 1, 100000, "batch: task ids per child",
	    C(worker.batch_size)),
	INT("worker", "max_line", "65536", 256, 16777216,
	    "longest protocol or output line of a child, in bytes", C(worker.max_line)),
	INT("worker", "task_timeout_sec", "0", 0, 2592000,
	    "seconds after which a task is killed and failed; 0 = none",
	    C(worker.task_timeout_sec)),
	INT("worker", "max_attempts", "3", 1, 100,
	    "attempts of a task before it is audited as failed", C(worker.max_attempts)),
	RETRY_KEYS("worker", struct config, worker., "1", "60"),
	POLICY_KEYS("worker", struct config, worker.),

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

	/* [service.NAME] */
	COMMAND_KEYS(CONFIG_SERVICE_SECTION, struct config_service, , "10",
		     "command of the cluster singleton run on the leader"),
	POLICY_KEYS(CONFIG_SERVICE_SECTION, struct config_service, ),

	/* [cron.NAME] */
	{CONFIG_CRON_SECTION, "schedule", CONFIG_STRING, "", NULL, 0, 0, NULL, true, true,
	 "5-field cron expression (names, lists, ranges, steps) or @hourly, @daily, @weekly, "
	 "@monthly, @yearly",
	 CR(schedule)},
	{CONFIG_CRON_SECTION, "timezone", CONFIG_STRING, "", NULL, 0, 0, NULL, true, false,
	 "IANA time zone of the schedule (America/New_York); empty = the node's zone",
	 CR(timezone)},
	COMMAND_KEYS(CONFIG_CRON_SECTION, struct config_cron, , "10",
		     "command run at each scheduled instant, once in the cluster"),
	{CONFIG_CRON_SECTION, "enabled", CONFIG_BOOL, "true", NULL, 0, 0, NULL, true, false,
	 "false: keep the job defined but never fire it", CR(enabled)},
	INT(CONFIG_CRON_SECTION, "timeout_sec", "0", 0, 2592000,
	    "seconds after which a run is killed and failed; 0 = none", CR(timeout_sec)),
	INT(CONFIG_CRON_SECTION, "max_attempts", "1", 1, 100, "attempts of one scheduled run",
	    CR(max_attempts)),
	RETRY_KEYS(CONFIG_CRON_SECTION, struct config_cron, , "10", "300"),
	{CONFIG_CRON_SECTION, "misfire", CONFIG_ENUM, "skip", NULL, 0, 0, misfires, true, false,
	 "a run missed during a leader change: skip it, or run it once", CR(misfire)},
	INT(CONFIG_CRON_SECTION, "misfire_grace_sec", "300", 0, 2592000,
	    "how late a missed run may still start with misfire = once", CR(misfire_grace_sec)),
	{CONFIG_CRON_SECTION, "concurrency_policy", CONFIG_ENUM, "forbid", NULL, 0, 0,
	 concurrencies, true, false,
	 "forbid: skip an instant while the previous run is still going; allow: run both",
	 CR(concurrency_policy)},
};

_Static_assert(sizeof(config_keys) / sizeof(config_keys[0]) == CONFIG_ALL_NKEYS, "key table size");
_Static_assert(offsetof(struct config, tasks.range_last) ==
		       offsetof(struct config, tasks.range_first) + sizeof(long long),
	       "range_first, range_last adjacent");

#define REPEATED(sec, first, n, type, items, count)                                         \
	{sec, first, n, sizeof(type), offsetof(struct config, items),                        \
	 offsetof(struct config, count), offsetof(type, name), offsetof(type, line),          \
	 offsetof(type, key_line)}

const struct config_repeated config_repeated[CONFIG_NREPEATED] = {
	REPEATED(CONFIG_LOCK_SECTION, CONFIG_LOCK_FIRST, CONFIG_LOCK_NKEYS, struct config_lock,
		 locks, nlocks),
	REPEATED(CONFIG_SERVICE_SECTION, CONFIG_SERVICE_FIRST, CONFIG_SERVICE_NKEYS,
		 struct config_service, services, nservices),
	REPEATED(CONFIG_CRON_SECTION, CONFIG_CRON_FIRST, CONFIG_CRON_NKEYS, struct config_cron,
		 crons, ncrons),
};

const struct config_repeated *config_repeated_find(const char *section)
{
	for (size_t i = 0; i < CONFIG_NREPEATED; i++)
		if (!strcmp(config_repeated[i].section, section))
			return &config_repeated[i];
	return NULL;
}

void *config_repeated_item(const struct config_repeated *rep, const struct config *cfg, size_t i)
{
	char *items = *(char *const *)((const char *)cfg + rep->items_offset);

	return items + i * rep->item_size;
}

size_t config_repeated_count(const struct config_repeated *rep, const struct config *cfg)
{
	return *(const size_t *)((const char *)cfg + rep->count_offset);
}

int *config_repeated_key_lines(const struct config_repeated *rep, void *item)
{
	return (int *)((char *)item + rep->key_line_offset);
}

int *config_section_line(struct config *cfg, const char *section)
{
	if (!strcmp(section, "tasks"))
		return &cfg->tasks.line;
	if (!strcmp(section, "worker"))
		return &cfg->worker.line;
	return NULL;
}

