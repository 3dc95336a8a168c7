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
};

/* Section name of the repeated [lock.NAME] keys in the table. */
#define CONFIG_LOCK_SECTION "lock"

/* One key: everything validation, the sample and the reference need. */
struct config_key {
	const char *section;         /* "cluster", "coordination" or CONFIG_LOCK_SECTION */
	const char *name;
	enum config_type type;
	const char *def;             /* default as config text */
	const char *def_doc;         /* default as documented, when def is computed */
	long min, max;               /* bounds of CONFIG_INT and CONFIG_INT_LIST */
	const char *const *choices;  /* CONFIG_ENUM names, in enum order, NULL-ended */
	bool reloadable;             /* a SIGHUP applies it without a restart */
	bool required;               /* must be set in its section */
	const char *help;
	size_t offset;               /* into struct config, or struct config_lock */
	size_t count_offset;         /* lists: the size_t count field */
};

/* Global keys are config_keys[0 .. CONFIG_NKEYS-1], then CONFIG_LOCK_NKEYS lock keys. */
extern const struct config_key config_keys[CONFIG_NKEYS + CONFIG_LOCK_NKEYS];

/* Index in config_keys of section/name (section "lock" for lock keys), or -1. */
int config_key_index(const char *section, const char *name);

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
