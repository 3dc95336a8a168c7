/* validate_work.c: checks of what runs: task sources, worker modes, commands, services, crons. */
#include "config/validate_work.h"

#include <stdlib.h>
#include <string.h>

#include "config/schema.h"
#include "runner/argv.h"
#include "supervisor/cron.h"

/* Line a global key was set on: > 0 set, 0 default, < 0 value rejected. */
static int global_line(const struct config *cfg, const char *section, const char *name)
{
	int idx = config_key_index(section, name);

	return idx < 0 ? 0 : cfg->key_line[idx];
}

/* Same for a key of an item of a repeated section. */
static int item_line(const struct config_repeated *rep, const void *item, const char *name)
{
	int idx = config_key_index(rep->section, name);

	return idx < 0 ? 0 : config_repeated_key_lines(rep, (void *)item)[idx - rep->first];
}

/* The first non-zero of two lines. */
static int either(int a, int b)
{
	return a ? a : b;
}

/* Required keys of each item: "[lock.a] needs a 'pattern'" or "has an empty 'pattern'". */
static void check_required(const struct config *cfg, const char *path, struct config_errors *errs)
{
	for (size_t r = 0; r < CONFIG_NREPEATED; r++) {
		const struct config_repeated *rep = &config_repeated[r];

		for (size_t i = 0; i < config_repeated_count(rep, cfg); i++) {
			const char *item = config_repeated_item(rep, cfg, i);
			const char *name = *(char *const *)(item + rep->name_offset);
			const int *lines = config_repeated_key_lines(rep, (void *)item);

			for (int k = rep->first; k < rep->first + rep->nkeys; k++) {
				const struct config_key *key = &config_keys[k];
				const char *v;
				int line = lines[k - rep->first];

				if (!key->required || key->type != CONFIG_STRING || line < 0)
					continue;
				v = *(char *const *)(item + key->offset);
				if (!line && !(v && *v))
					config_error_add(errs, path, *(const int *)(item + rep->line_offset),
							 "[%s.%s] needs a '%s'", rep->section, name,
							 key->name);
				else if (line && !(v && *v))
					config_error_add(errs, path, line, "[%s.%s] has an empty '%s'",
							 rep->section, name, key->name);
			}
		}
	}
}

/* A command runs as the runner will run it: split without a shell unless shell = true. */
static void check_command(const struct config_command *c, int line, const char *path,
			  struct config_errors *errs)
{
	char **argv = NULL;
	const char *err = NULL;

	if (!c->command || !*c->command || line < 0)
		return; /* missing or empty: reported as a required key */
	if (c->shell)
		return;
	if (argv_split(c->command, &argv, &err))
		config_error_add(errs, path, line, "'command': %s", err ? err : "cannot split");
	else
		argv_free(argv);
}

/* retry_backoff_max_sec must not be below retry_backoff_sec. */
static void check_retry(int first, int max, int first_line, int max_line, int header,
			const char *path, struct config_errors *errs)
{
	if (first_line < 0 || max_line < 0 || max >= first)
		return;
	config_error_add(errs, path, either(max_line, either(first_line, header)),
			 "retry_backoff_max_sec (%d) must be at least retry_backoff_sec (%d)", max,
			 first);
}

/* Keys used by one task source only, and the one each source needs. */
static const struct {
	const char *key;
	enum config_source source;
	bool needed;
} source_keys[] = {
	{"query", SOURCE_SQL, true},       {"dsn", SOURCE_SQL, false},
	{"sql_token_filter", SOURCE_SQL, false}, {"command", SOURCE_COMMAND, true},
	{"path", SOURCE_FILE, true},       {"range", SOURCE_RANGE, true},
};

/* PostgreSQL identifier for LISTEN: [a-z_][a-z0-9_$]{0,62}. */
static bool valid_channel(const char *s)
{
	size_t n = strlen(s);
	bool ok = n >= 1 && n <= 63 && ((*s >= 'a' && *s <= 'z') || *s == '_');

	for (size_t i = 1; ok && i < n; i++)
		ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
		     s[i] == '$';
	return ok;
}

/* [tasks]: the source's own key set, no key of another source, a valid channel. */
static void check_tasks(const struct config *cfg, const char *path, struct config_errors *errs)
{
	const struct config_tasks *t = &cfg->tasks;
	int src_line = global_line(cfg, "tasks", "source");
	const char *const *names = config_keys[config_key_index("tasks", "source")].choices;
	int chan_line = global_line(cfg, "tasks", "channel");

	if (chan_line > 0 && t->channel && *t->channel && !valid_channel(t->channel))
		config_error_add(errs, path, chan_line,
				 "invalid channel '%.64s': must match [a-z_][a-z0-9_$]{0,62}",
				 t->channel);
	if (src_line < 0)
		return; /* a rejected source was reported; its default would only add noise */
	for (size_t i = 0; i < sizeof(source_keys) / sizeof(source_keys[0]); i++) {
		const struct config_key *k = &config_keys[config_key_index("tasks", source_keys[i].key)];
		const void *field = (const char *)cfg + k->offset;
		int line = global_line(cfg, "tasks", k->name);
		bool has = k->type == CONFIG_BOOL ? *(const bool *)field
						  : *(char *const *)field && **(char *const *)field;

		if (line < 0)
			continue;
		if (t->source != source_keys[i].source && has)
			config_error_add(errs, path, line, "'%s' is only used with source = %s",
					 k->name, names[source_keys[i].source]);
		else if (t->source == source_keys[i].source && source_keys[i].needed && !has)
			config_error_add(errs, path, either(line, either(src_line, t->line)),
					 "source = %s needs a '%s' in [tasks]",
					 names[source_keys[i].source], k->name);
	}
	if (t->source != SOURCE_NONE && !cfg->worker.line)
		config_error_add(errs, path, either(src_line, t->line),
				 "[tasks] source = %s needs a [worker] to run the tasks",
				 names[t->source]);
	if (t->source == SOURCE_NONE && cfg->worker.line)
		config_error_add(errs, path, cfg->worker.line, "[worker] needs a [tasks] source");
	/* Batch completion needs every listed task; a filtered query lists only this
	 * node's share, and nothing before the node owns tokens. */
	if (t->source == SOURCE_SQL && t->sql_token_filter && t->poll_interval_sec == 0)
		config_error_add(errs, path,
				 either(global_line(cfg, "tasks", "sql_token_filter"), src_line),
				 "sql_token_filter needs streaming (poll_interval_sec > 0): a batch "
				 "run must list every task to know when the cluster is done");
}

/* [worker]: a command that splits, "{}" only in exec mode, sane retry delays. */
static void check_worker(const struct config *cfg, const char *path, struct config_errors *errs)
{
	const struct config_worker *w = &cfg->worker;
	int cmd_line = global_line(cfg, "worker", "command");
	int mode_line = global_line(cfg, "worker", "mode");

	if (!w->line)
		return;
	if (!cmd_line && !(w->cmd.command && *w->cmd.command))
		config_error_add(errs, path, w->line, "[worker] needs a 'command'");
	else if (cmd_line > 0 && !(w->cmd.command && *w->cmd.command))
		config_error_add(errs, path, cmd_line, "[worker] has an empty 'command'");
	check_command(&w->cmd, cmd_line, path, errs);
	if (mode_line >= 0 && cmd_line > 0 && w->mode != MODE_EXEC && w->cmd.command &&
	    strstr(w->cmd.command, "{}"))
		config_error_add(errs, path, cmd_line, "'{}' is only replaced in exec mode");
	check_retry(w->retry_backoff_sec, w->retry_backoff_max_sec,
		    global_line(cfg, "worker", "retry_backoff_sec"),
		    global_line(cfg, "worker", "retry_backoff_max_sec"), w->line, path, errs);
}

/* [service.NAME]: commands that split. */
static void check_services(const struct config *cfg, const char *path,
			   struct config_errors *errs)
{
	const struct config_repeated *rep = config_repeated_find(CONFIG_SERVICE_SECTION);

	for (size_t i = 0; i < cfg->nservices; i++)
		check_command(&cfg->services[i].cmd, item_line(rep, &cfg->services[i], "command"),
			      path, errs);
}

/* [cron.NAME]: a schedule cron_parse() accepts, a known zone, a command, retry delays. */
static void check_crons(const struct config *cfg, const char *path, struct config_errors *errs)
{
	const struct config_repeated *rep = config_repeated_find(CONFIG_CRON_SECTION);

	for (size_t i = 0; i < cfg->ncrons; i++) {
		const struct config_cron *c = &cfg->crons[i];
		int sched_line = item_line(rep, c, "schedule");
		int tz_line = item_line(rep, c, "timezone");
		struct cron parsed;
		char err[256];

		if (sched_line > 0 && c->schedule && *c->schedule &&
		    cron_parse(c->schedule, &parsed, err, sizeof(err)))
			config_error_add(errs, path, sched_line, "'schedule': %s", err);
		if (tz_line > 0 && c->timezone && *c->timezone && !cron_valid_tz(c->timezone))
			config_error_add(errs, path, tz_line,
					 "'timezone': unknown time zone '%.200s' (an IANA name such "
					 "as Europe/London, or empty for the node's zone)",
					 c->timezone);
		check_command(&c->cmd, item_line(rep, c, "command"), path, errs);
		check_retry(c->retry_backoff_sec, c->retry_backoff_max_sec,
			    item_line(rep, c, "retry_backoff_sec"),
			    item_line(rep, c, "retry_backoff_max_sec"), c->line, path, errs);
	}
}

void config_validate_work(const struct config *cfg, struct config_errors *errs)
{
	const char *path = cfg->path ? cfg->path : "";

	check_required(cfg, path, errs);
	check_tasks(cfg, path, errs);
	check_worker(cfg, path, errs);
	check_services(cfg, path, errs);
	check_crons(cfg, path, errs);
}
