/* parse.c: INI text to struct config: a line reader in front of inih, then typed keys. */
#include "config/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "config/expand.h"
#include "config/schema.h"

/* Longest accepted line, without its line ending. */
#define PARSE_MAX_LINE 4096

enum parse_section { SECTION_NONE, SECTION_GLOBAL, SECTION_REPEATED, SECTION_IGNORE };

/*
 * What the reader knows about the file. inih (Debian 55) splits lines longer
 * than its 200-byte buffer, strips only " ;" comments, merges indented lines
 * into the previous key and does not tell its handler the line number, so the
 * reader hands inih exactly one cleaned line per physical line: a blank line
 * for comments, section headers (tracked here) and rejected lines, and a
 * "key = value" line otherwise. A key line too long for inih's buffer is
 * replaced by a placeholder and the handler splits the stashed line itself.
 */
struct parse_state {
	FILE *fp;
	const char *path;
	struct config *cfg;
	struct config_errors *errs;
	int line;                        /* physical line last handed to inih */
	char buf[PARSE_MAX_LINE + 2];
	const char *key_line;            /* the current key line inside buf */
	bool stashed;                    /* key_line did not fit inih's buffer */
	enum parse_section kind;
	const char *section;             /* table section name when SECTION_GLOBAL */
	const struct config_repeated *rep; /* the repeated section when SECTION_REPEATED */
	size_t item;                     /* index of the current item of rep */
	int global_line[CONFIG_NKEYS];   /* header line, by first key index of its section */
};

/* Start item name of the repeated section rep at the current line (or resume a duplicate). */
static void begin_item(struct parse_state *ps, const struct config_repeated *rep,
		       const char *name)
{
	struct config *cfg = ps->cfg;
	size_t n = config_repeated_count(rep, cfg);
	void **items = (void **)((char *)cfg + rep->items_offset);
	char *item;

	ps->kind = SECTION_REPEATED;
	ps->rep = rep;
	for (size_t i = 0; i < n; i++) {
		item = config_repeated_item(rep, cfg, i);
		if (!strcmp(*(char **)(item + rep->name_offset), name)) {
			config_error_add(ps->errs, ps->path, ps->line,
					 "duplicate section [%s.%s] (first at line %d)", rep->section,
					 name, *(int *)(item + rep->line_offset));
			ps->item = i;
			return;
		}
	}
	*items = config_xrealloc(*items, (n + 1) * rep->item_size);
	item = config_repeated_item(rep, cfg, n);
	memset(item, 0, rep->item_size);
	*(char **)(item + rep->name_offset) = config_xstrdup(name);
	*(int *)(item + rep->line_offset) = ps->line;
	for (int i = rep->first; i < rep->first + rep->nkeys; i++) {
		char err[64];

		if (config_keys[i].type != CONFIG_LIST && config_keys[i].type != CONFIG_INT_LIST)
			config_key_set(&config_keys[i], item, config_keys[i].def, err, sizeof(err));
	}
	ps->item = n;
	*(size_t *)((char *)cfg + rep->count_offset) = n + 1;
}

/* Handle a "[name]" header: a global section of the key table, [SECTION.NAME], or unknown. */
static void begin_section(struct parse_state *ps, const char *name)
{
	const char *dot = strchr(name, '.');

	for (int i = 0; i < CONFIG_NKEYS; i++) {
		int *header;

		if (strcmp(name, config_keys[i].section))
			continue;
		/* i is the first key of the section: the table groups keys by section */
		if (ps->global_line[i]) {
			config_error_add(ps->errs, ps->path, ps->line,
					 "duplicate section [%s] (first at line %d)", name,
					 ps->global_line[i]);
		} else {
			ps->global_line[i] = ps->line;
			header = config_section_line(ps->cfg, name);
			if (header)
				*header = ps->line;
		}
		ps->kind = SECTION_GLOBAL;
		ps->section = config_keys[i].section;
		return;
	}
	ps->kind = SECTION_IGNORE;
	for (size_t r = 0; dot && r < CONFIG_NREPEATED; r++) {
		const struct config_repeated *rep = &config_repeated[r];
		const char *n = dot + 1;

		if (strlen(rep->section) != (size_t)(dot - name) ||
		    strncmp(name, rep->section, (size_t)(dot - name)))
			continue;
		if (!*n || n[strspn(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				       "0123456789_.-")]) {
			config_error_add(ps->errs, ps->path, ps->line,
					 "invalid %s name in [%.200s] (use letters, digits, '_', '.', "
					 "'-')",
					 rep->section, name);
			return;
		}
		begin_item(ps, rep, n);
		return;
	}
	config_error_add(ps->errs, ps->path, ps->line, "unknown section [%.200s]", name);
}

/* Read one physical line into ps->buf; returns -1 at EOF, else flags in *too_long, *nul. */
static int read_line(struct parse_state *ps, bool *too_long, bool *nul)
{
	size_t n = 0;
	int c;

	*too_long = *nul = false;
	while ((c = getc(ps->fp)) != EOF && c != '\n') {
		if (c == '\0')
			*nul = true;
		if (n < PARSE_MAX_LINE + 1)
			ps->buf[n++] = (char)c;
		else
			*too_long = true;
	}
	if (c == EOF && n == 0 && !*too_long)
		return -1;
	if (n > 0 && ps->buf[n - 1] == '\r')
		n--;
	if (n > PARSE_MAX_LINE)
		*too_long = true;
	ps->buf[n] = '\0';
	return 0;
}

/* Classify the line in ps->buf; returns the key line to hand inih, or NULL for a blank. */
static char *clean_line(struct parse_state *ps)
{
	char *start = ps->buf, *s, *p, *end;

	if (ps->line == 1 && !strncmp(start, "\xEF\xBB\xBF", 3))
		start += 3;
	s = start;
	while (*s == ' ' || *s == '\t')
		s++;
	if (!*s || *s == ';' || *s == '#')
		return NULL;
	for (p = s + 1; *p; p++) {
		if ((*p == ';' || *p == '#') && isspace((unsigned char)p[-1])) {
			*p = '\0';
			break;
		}
	}
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	if (*s == '[') {
		char *close = strchr(s, ']');

		if (!close) {
			config_error_add(ps->errs, ps->path, ps->line, "missing ']' in section header");
			ps->kind = SECTION_IGNORE;
			return NULL;
		}
		if (close[1]) {
			config_error_add(ps->errs, ps->path, ps->line,
					 "unexpected text after section header");
		}
		*close = '\0';
		for (s++; isspace((unsigned char)*s); s++)
			;
		for (end = close; end > s && isspace((unsigned char)end[-1]);)
			*--end = '\0';
		begin_section(ps, s);
		return NULL;
	}
	if (!strpbrk(s, "=:")) {
		if (s > start)
			config_error_add(ps->errs, ps->path, ps->line,
					 "indented continuation lines are not supported");
		else
			config_error_add(ps->errs, ps->path, ps->line,
					 "expected 'key = value' or '[section]'");
		return NULL;
	}
	return s;
}

/* inih reader: hand inih exactly one cleaned line per physical line. */
static char *parse_reader(char *str, int num, void *stream)
{
	struct parse_state *ps = stream;
	bool too_long, nul;
	char *s;

	if (num < 8 || read_line(ps, &too_long, &nul) < 0)
		return NULL;
	ps->line++;
	ps->stashed = false;
	ps->key_line = NULL;
	str[0] = '\n';
	str[1] = '\0';
	if (too_long) {
		config_error_add(ps->errs, ps->path, ps->line, "line too long (max %d bytes)",
				 PARSE_MAX_LINE);
		return str;
	}
	if (nul) {
		config_error_add(ps->errs, ps->path, ps->line, "NUL byte in line");
		return str;
	}
	s = clean_line(ps);
	if (!s)
		return str;
	ps->key_line = s;
	if (strlen(s) + 2 <= (size_t)num) {
		size_t len = strlen(s);

		memcpy(str, s, len);
		str[len] = '\n';
		str[len + 1] = '\0';
	} else {
		ps->stashed = true;
		memcpy(str, "stashed=\n", 10);
	}
	return str;
}

/* Store one key = value of the current section, reporting problems at the current line. */
static void set_key(struct parse_state *ps, const char *name, const char *value)
{
	const struct config_repeated *rep = ps->kind == SECTION_REPEATED ? ps->rep : NULL;
	const char *sec = rep ? rep->section : ps->section;
	char *item = rep ? config_repeated_item(rep, ps->cfg, ps->item) : NULL;
	char shown[256], err[512];
	const char *hint;
	char *expanded;
	void *base;
	int *line;
	int idx;

	if (item)
		snprintf(shown, sizeof(shown), "%s.%.200s", sec, *(char **)(item + rep->name_offset));
	else
		snprintf(shown, sizeof(shown), "%s", sec);
	idx = config_key_index(sec, name);
	if (idx < 0) {
		hint = config_key_suggest(sec, name);
		config_error_add(ps->errs, ps->path, ps->line, "unknown key '%.200s' in [%s]%s%s%s",
				 name, shown, hint ? " (did you mean '" : "", hint ? hint : "",
				 hint ? "'?)" : "");
		return;
	}
	base = item ? (void *)item : (void *)ps->cfg;
	line = item ? &config_repeated_key_lines(rep, item)[idx - rep->first] : &ps->cfg->key_line[idx];
	if (*line) {
		config_error_add(ps->errs, ps->path, ps->line,
				 "duplicate key '%s' in [%s] (first set at line %d)", name, shown,
				 abs(*line));
		return;
	}
	/* A rejected value is recorded as -line: validate then skips the key. */
	*line = -ps->line;
	expanded = config_expand_env(value, err, sizeof(err));
	if (!expanded) {
		config_error_add(ps->errs, ps->path, ps->line, "'%s': %s", name, err);
		return;
	}
	if (config_key_set(&config_keys[idx], base, expanded, err, sizeof(err)))
		config_error_add(ps->errs, ps->path, ps->line, "%s", err);
	else
		*line = ps->line;
	free(expanded);
}

/* inih handler: route name = value (or the stashed long line) to set_key(). */
static int parse_handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse_state *ps = user;
	char *copy = NULL;

	(void)section; /* sections are tracked by the reader; inih only sees blanks there */
	if (ps->stashed && ps->key_line) {
		char *sep, *n, *v, *e;

		copy = config_xstrdup(ps->key_line);
		sep = strpbrk(copy, "=:");
		*sep = '\0';
		for (e = sep; e > copy && isspace((unsigned char)e[-1]);)
			*--e = '\0';
		for (v = sep + 1; isspace((unsigned char)*v); v++)
			;
		n = copy;
		name = n;
		value = v;
	}
	if (ps->kind == SECTION_IGNORE)
		goto out;
	if (!*name)
		config_error_add(ps->errs, ps->path, ps->line, "missing key name before '='");
	else if (ps->kind == SECTION_NONE)
		config_error_add(ps->errs, ps->path, ps->line,
				 "key '%.200s' outside of any section", name);
	else
		set_key(ps, name, value);
out:
	free(copy);
	return 1;
}

/* Stable insertion sort of errs->v[from..] by line, line 0 last (nearly sorted already). */
static void sort_errors(struct config_errors *errs, size_t from)
{
	for (size_t i = from + 1; i < errs->n; i++) {
		struct config_error e = errs->v[i];
		unsigned key = (unsigned)e.line - 1u; /* line 0 sorts last */
		size_t j = i;

		while (j > from && (unsigned)errs->v[j - 1].line - 1u > key) {
			errs->v[j] = errs->v[j - 1];
			j--;
		}
		errs->v[j] = e;
	}
}

int config_parse_file(FILE *fp, const char *path, struct config *cfg,
		      struct config_errors *errs)
{
	struct parse_state *ps = config_xrealloc(NULL, sizeof(*ps));
	size_t before = errs->n;
	int rc;

	config_free(cfg);
	config_defaults(cfg);
	free(cfg->path);
	cfg->path = config_xstrdup(path);
	memset(ps, 0, sizeof(*ps));
	ps->fp = fp;
	ps->path = path;
	ps->cfg = cfg;
	ps->errs = errs;
	rc = ini_parse_stream(parse_reader, ps, parse_handler, ps);
	if (ferror(fp))
		config_error_add(errs, path, 0, "read error: %s", strerror(errno));
	else if (rc != 0 && errs->n == before)
		config_error_add(errs, path, rc > 0 ? rc : 0, "syntax error");
	free(ps);
	config_validate(cfg, errs);
	sort_errors(errs, before);
	return errs->n > before ? -1 : 0;
}
