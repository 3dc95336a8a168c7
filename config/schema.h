/* schema.h: the single table of config keys, and typed value parsing driven by it. */
#ifndef JOBSYNC_CONFIG_SCHEMA_H
#define JOBSYNC_CONFIG_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"

enum config_type {
	CONFIG_STRING,   /* char * */
	CONFIG_INT,      /* int, full decimal, within [min, max] */
	CONFIG_BOOL,     /* bool: true/false yes/no on/off 1/0 */
	CONFIG_ENUM,     /* int-sized enum, index into choices */
	CONFIG_LIST,     /* char ** + size_t count: comma separated, trimmed */
	CONFIG_INT_LIST, /* int * + size_t count: comma separated ints in [min, max] */
	CONFIG_SIGNAL,   /* int signal number, from a name: TERM, SIGTERM, term, ... */
	CONFIG_RANGE,    /* char * "FIRST-LAST", parsed into long long[2] at count_offset */
};

/* Section names of the repeated [lock.NAME], [service.NAME], [cron.NAME] keys. */
#define CONFIG_LOCK_SECTION "lock"
#define CONFIG_SERVICE_SECTION "service"
#define CONFIG_CRON_SECTION "cron"

/* Where the keys of each repeated section start in config_keys, and the total. */
#define CONFIG_LOCK_FIRST CONFIG_NKEYS
#define CONFIG_SERVICE_FIRST (CONFIG_LOCK_FIRST + CONFIG_LOCK_NKEYS)
#define CONFIG_CRON_FIRST (CONFIG_SERVICE_FIRST + CONFIG_SERVICE_NKEYS)
#define CONFIG_ALL_NKEYS (CONFIG_CRON_FIRST + CONFIG_CRON_NKEYS)

/* One key: everything validation, the sample and the reference need. */
struct config_key {
	const char *section;         /* "cluster", ..., or a repeated section ("lock") */
	const char *name;
	enum config_type type;
	const char *def;             /* default as config text */
	const char *def_doc;         /* default as documented, when def is computed */
	long min, max;               /* bounds of CONFIG_INT and CONFIG_INT_LIST */
	const char *const *choices;  /* CONFIG_ENUM names, in enum order, NULL-ended */
	bool reloadable;             /* a SIGHUP applies it without a restart */
	bool required;               /* must be set in its section */
	const char *help;
	size_t offset;               /* into struct config, or the repeated section's item */
	size_t count_offset;         /* lists: the size_t count field; range: long long[2] */
};

/* Global keys are config_keys[0 .. CONFIG_NKEYS-1], grouped by section, then repeated ones. */
extern const struct config_key config_keys[CONFIG_ALL_NKEYS];

/*
 * A repeated section [SECTION.NAME]: an array of items in struct config, each
 * item with its NAME, header line and key lines (index = key index - first).
 */
struct config_repeated {
	const char *section;         /* "lock" for [lock.NAME] */
	int first, nkeys;            /* its keys in config_keys */
	size_t item_size;
	size_t items_offset;         /* in struct config: the item array pointer */
	size_t count_offset;         /* in struct config: its size_t count */
	size_t name_offset;          /* in the item: char *name */
	size_t line_offset;          /* in the item: int line of the header */
	size_t key_line_offset;      /* in the item: int key_line[nkeys] */
};

#define CONFIG_NREPEATED 3
extern const struct config_repeated config_repeated[CONFIG_NREPEATED];

/* Index in config_keys of section/name (section "lock" for lock keys), or -1. */
int config_key_index(const char *section, const char *name);

/* The repeated section named section ("lock"), or NULL. */
const struct config_repeated *config_repeated_find(const char *section);

/* Item i of a repeated section in cfg, its count, its header line and its key lines. */
void *config_repeated_item(const struct config_repeated *rep, const struct config *cfg, size_t i);
size_t config_repeated_count(const struct config_repeated *rep, const struct config *cfg);
int *config_repeated_key_lines(const struct config_repeated *rep, void *item);

/* Header line field of global section ([tasks], [worker]) in cfg, or NULL if not recorded. */
int *config_section_line(struct config *cfg, const char *section);

/* Signal number of a name (TERM, SIGTERM, term...) among those allowed, or -1. */
int config_signal_number(const char *name);

/* The key of section closest to name within edit distance 2, or NULL. */
const char *config_key_suggest(const char *section, const char *name);

/* Bytes of the field the key points into (struct config or struct config_lock). */
void *config_key_field(const struct config_key *key, void *base);

/*
 * Parse text as key's type into its field of base (freeing any previous
 * value). On error writes a message to err and leaves the field unchanged.
 */
int config_key_set(const struct config_key *key, void *base, const char *text,
		   char *err, size_t errlen);

/* Free the value of key in base (strings and lists) and zero it. */
void config_key_clear(const struct config_key *key, void *base);

/* malloc/strdup that abort on exhaustion (config is loaded before anything else). */
void *config_xrealloc(void *p, size_t n);
char *config_xstrdup(const char *s);

#endif
