/* diff.h: what changed between two configs, key by key from the key table, for a live reload. */
#ifndef JOBSYNC_CONFIG_DIFF_H
#define JOBSYNC_CONFIG_DIFF_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "config/schema.h"

/* Longest value text kept for messages (longer values are cut and end with "..."). */
#define CONFIG_DIFF_VALUE 96

enum config_change_kind {
	CONFIG_CHANGE_KEY,     /* a key's value changed (set, changed, or back to its default) */
	CONFIG_CHANGE_ADDED,   /* a [lock|service|cron.NAME] section appeared */
	CONFIG_CHANGE_REMOVED, /* a [lock|service|cron.NAME] section went away */
};

/*
 * One change. section and item point into the configs given to config_diff()
 * and live as long as they do.
 */
struct config_change {
	enum config_change_kind kind;
	const char *section;           /* "worker", or a repeated section: "service" */
	const char *item;              /* NAME of [service.NAME]; NULL for global keys */
	const struct config_key *key;  /* the key that changed; NULL when added or removed */
	bool reloadable;               /* false: only a restart applies it (the reload is refused) */
	bool secret;                   /* a dsn: its values are never put in messages */
	int line;                      /* where the change is in the new file; 0 = unknown */
	char old_value[CONFIG_DIFF_VALUE]; /* values as config text ("" when added/removed) */
	char new_value[CONFIG_DIFF_VALUE];
};

struct config_diff {
	struct config_change *v;
	size_t n;
	size_t refused;                /* changes with reloadable == false */
};

/*
 * Compare two valid configs: every key of the table (global keys, then the
 * repeated sections' items matched by NAME). *out must be zeroed; release it
 * with config_diff_free(). Returns the number of changes.
 */
size_t config_diff(const struct config *old, const struct config *new, struct config_diff *out);
void config_diff_free(struct config_diff *d);

/* True when d has a change in section (and in its item NAME, unless item is NULL). */
bool config_diff_has(const struct config_diff *d, const char *section, const char *item);

/* True when d changes key name of the global section (e.g. "worker", "command"). */
bool config_diff_has_key(const struct config_diff *d, const char *section, const char *name);

/* The change's name for messages: "worker.command", "cron.x.schedule", "service.pub". */
void config_change_name(const struct config_change *c, char *buf, size_t len);

/* The value of key k in base (struct config or a repeated item) as config text. */
void config_key_format(const struct config_key *k, const void *base, char *buf, size_t len);

#endif
