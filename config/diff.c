/* diff.c: compare two configs key by key, driven by the key table, for a live reload (pure). */
#include "config/diff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Names a signal key may hold, to print its value back. */
static const char *const signal_names[] = {"TERM", "INT", "HUP", "QUIT", "KILL", "USR1", "USR2"};

static const char *str_or_empty(const char *s)
{
	return s ? s : "";
}

/* Append s to buf (len bytes), cutting with "..." when it does not fit. */
static void append(char *buf, size_t len, const char *s)
{
	size_t at = strlen(buf), n = strlen(s);

	if (at + n < len) {
		memcpy(buf + at, s, n + 1);
		return;
	}
	if (len < 4 || at >= len - 4)
		return;
	memcpy(buf + at, s, len - 4 - at);
	memcpy(buf + len - 4, "...", 4);
}

void config_key_format(const struct config_key *k, const void *base, char *buf, size_t len)
{
	const void *field = (const char *)base + k->offset;
	const size_t *count = (const size_t *)((const char *)base + k->count_offset);
	char num[32];
	int v;

	if (!len)
		return;
	buf[0] = '\0';
	switch (k->type) {
	case CONFIG_STRING:
	case CONFIG_RANGE:
		append(buf, len, str_or_empty(*(char *const *)field));
		return;
	case CONFIG_INT:
		snprintf(buf, len, "%d", *(const int *)field);
		return;
	case CONFIG_BOOL:
		snprintf(buf, len, "%s", *(const bool *)field ? "true" : "false");
		return;
	case CONFIG_ENUM:
		snprintf(buf, len, "%s", k->choices[*(const int *)field]);
		return;
	case CONFIG_SIGNAL:
		v = *(const int *)field;
		snprintf(buf, len, "%d", v);
		for (size_t i = 0; i < sizeof(signal_names) / sizeof(signal_names[0]); i++)
			if (config_signal_number(signal_names[i]) == v)
				snprintf(buf, len, "%s", signal_names[i]);
		return;
	case CONFIG_LIST:
		for (size_t i = 0; i < *count; i++) {
			if (i)
				append(buf, len, ", ");
			append(buf, len, (*(char **const *)field)[i]);
		}
		return;
	case CONFIG_INT_LIST:
		for (size_t i = 0; i < *count; i++) {
			snprintf(num, sizeof num, "%s%d", i ? ", " : "", (*(int *const *)field)[i]);
			append(buf, len, num);
		}
		return;
	}
}

/* True when key k holds the same value in a and b (structs of the same kind). */
static bool key_equal(const struct config_key *k, const void *a, const void *b)
{
	const void *fa = (const char *)a + k->offset, *fb = (const char *)b + k->offset;
	size_t na = 0, nb = 0;

	if (k->type == CONFIG_LIST || k->type == CONFIG_INT_LIST) {
		na = *(const size_t *)((const char *)a + k->count_offset);
		nb = *(const size_t *)((const char *)b + k->count_offset);
		if (na != nb)
			return false;
	}
	switch (k->type) {
	case CONFIG_STRING:
		return !strcmp(str_or_empty(*(char *const *)fa), str_or_empty(*(char *const *)fb));
	case CONFIG_INT:
	case CONFIG_ENUM:
	case CONFIG_SIGNAL:
		return *(const int *)fa == *(const int *)fb;
	case CONFIG_BOOL:
		return *(const bool *)fa == *(const bool *)fb;
	case CONFIG_LIST:
		for (size_t i = 0; i < na; i++)
			if (strcmp((*(char **const *)fa)[i], (*(char **const *)fb)[i]))
				return false;
		return true;
	case CONFIG_INT_LIST:
		return na == 0 || !memcmp(*(int *const *)fa, *(int *const *)fb, na * sizeof(int));
	case CONFIG_RANGE:
		/* The parsed bounds: "1-10" and "1 - 10" are the same range. */
		return !memcmp((const char *)a + k->count_offset, (const char *)b + k->count_offset,
			       2 * sizeof(long long));
	}
	return false;
}

static struct config_change *push(struct config_diff *d, enum config_change_kind kind,
				  const char *section, const char *item, bool reloadable, int line)
{
	struct config_change *c;

	d->v = config_xrealloc(d->v, (d->n + 1) * sizeof(*d->v));
	c = &d->v[d->n++];
	memset(c, 0, sizeof(*c));
	c->kind = kind;
	c->section = section;
	c->item = item;
	c->reloadable = reloadable;
	c->line = line < 0 ? -line : line;
	if (!reloadable)
		d->refused++;
	return c;
}

/* Key k differs between a and b: record it with both values (unless secret). */
static void push_key(struct config_diff *d, const struct config_key *k, const char *item,
		     const void *a, const void *b, int line)
{
	struct config_change *c = push(d, CONFIG_CHANGE_KEY, k->section, item, k->reloadable, line);

	c->key = k;
	c->secret = !strcmp(k->name, "dsn");
	if (c->secret)
		return;
	config_key_format(k, a, c->old_value, sizeof c->old_value);
	config_key_format(k, b, c->new_value, sizeof c->new_value);
}

static const char *item_name(const struct config_repeated *rep, const void *item)
{
	return *(char *const *)((const char *)item + rep->name_offset);
}

static int item_line(const struct config_repeated *rep, const void *item)
{
	return *(const int *)((const char *)item + rep->line_offset);
}

/* The item of rep named name in cfg, or NULL. */
static void *find_item(const struct config_repeated *rep, const struct config *cfg,
		       const char *name)
{
	for (size_t i = 0; i < config_repeated_count(rep, cfg); i++) {
		void *it = config_repeated_item(rep, cfg, i);

		if (!strcmp(item_name(rep, it), name))
			return it;
	}
	return NULL;
}

/* Adding or removing a section is live when every key of the section is. */
static bool section_reloadable(const struct config_repeated *rep)
{
	for (int k = rep->first; k < rep->first + rep->nkeys; k++)
		if (!config_keys[k].reloadable)
			return false;
	return true;
}

/* Items of one repeated section: removed ones, then added or changed ones in new order. */
static void diff_repeated(const struct config_repeated *rep, const struct config *old,
			  const struct config *new, struct config_diff *d)
{
	bool live = section_reloadable(rep);

	for (size_t i = 0; i < config_repeated_count(rep, old); i++) {
		void *o = config_repeated_item(rep, old, i);

		if (!find_item(rep, new, item_name(rep, o)))
			push(d, CONFIG_CHANGE_REMOVED, rep->section, item_name(rep, o), live, 0);
	}
	for (size_t i = 0; i < config_repeated_count(rep, new); i++) {
		void *b = config_repeated_item(rep, new, i);
		void *a = find_item(rep, old, item_name(rep, b));
		const int *lines = config_repeated_key_lines(rep, b);

		if (!a) {
			push(d, CONFIG_CHANGE_ADDED, rep->section, item_name(rep, b), live,
			     item_line(rep, b));
			continue;
		}
		for (int k = rep->first; k < rep->first + rep->nkeys; k++) {
			int line = lines[k - rep->first] ? lines[k - rep->first] : item_line(rep, b);

			if (!key_equal(&config_keys[k], a, b))
				push_key(d, &config_keys[k], item_name(rep, b), a, b, line);
		}
	}
}

size_t config_diff(const struct config *old, const struct config *new, struct config_diff *out)
{
	for (int i = 0; i < CONFIG_NKEYS; i++)
		if (!key_equal(&config_keys[i], old, new))
			push_key(out, &config_keys[i], NULL, old, new, new->key_line[i]);
	for (size_t r = 0; r < CONFIG_NREPEATED; r++)
		diff_repeated(&config_repeated[r], old, new, out);
	return out->n;
}

void config_diff_free(struct config_diff *d)
{
	free(d->v);
	memset(d, 0, sizeof(*d));
}

bool config_diff_has(const struct config_diff *d, const char *section, const char *item)
{
	for (size_t i = 0; i < d->n; i++)
		if (!strcmp(d->v[i].section, section) &&
		    (!item || (d->v[i].item && !strcmp(d->v[i].item, item))))
			return true;
	return false;
}

bool config_diff_has_key(const struct config_diff *d, const char *section, const char *name)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->v[i].key && !d->v[i].item && !strcmp(d->v[i].section, section) &&
		    !strcmp(d->v[i].key->name, name))
			return true;
	return false;
}

void config_change_name(const struct config_change *c, char *buf, size_t len)
{
	const char *key = c->key ? c->key->name : NULL;

	if (c->item)
		snprintf(buf, len, "%s.%s%s%s%s", c->section, c->item, key ? "." : "",
			 key ? key : "",
			 c->kind == CONFIG_CHANGE_ADDED     ? " (added)"
			 : c->kind == CONFIG_CHANGE_REMOVED ? " (removed)"
							    : "");
	else
		snprintf(buf, len, "%s.%s", c->section, key ? key : "?");
}
