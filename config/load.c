/* load.c: defaults, loading a file by name, error lists, and freeing a config. */
#include "config/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/schema.h"

void config_defaults(struct config *cfg)
{
	char host[256];

	memset(cfg, 0, sizeof(*cfg));
	for (int i = 0; i < CONFIG_NKEYS; i++) {
		char err[128];

		/* The table's defaults are valid by construction (tested). */
		config_key_set(&config_keys[i], cfg, config_keys[i].def, err, sizeof(err));
	}
	if (gethostname(host, sizeof(host)) == 0) {
		host[sizeof(host) - 1] = '\0';
		free(cfg->node);
		cfg->node = config_xstrdup(host);
	}
	cfg->path = config_xstrdup("");
}

int config_load(const char *path, struct config *cfg, struct config_errors *errs)
{
	FILE *fp = fopen(path, "r");
	int rc;

	if (!fp) {
		int e = errno;

		config_free(cfg);
		config_defaults(cfg);
		free(cfg->path);
		cfg->path = config_xstrdup(path);
		config_error_add(errs, path, 0, "cannot open: %s", strerror(e));
		return -1;
	}
	rc = config_parse_file(fp, path, cfg, errs);
	fclose(fp);
	return rc;
}

void config_error_add(struct config_errors *errs, const char *file, int line, const char *fmt,
		      ...)
{
	struct config_error *e;
	va_list ap;
	int n;

	errs->v = config_xrealloc(errs->v, (errs->n + 1) * sizeof(*errs->v));
	e = &errs->v[errs->n++];
	e->file = config_xstrdup(file ? file : "");
	e->line = line;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	e->msg = config_xrealloc(NULL, n > 0 ? (size_t)n + 1 : 1);
	e->msg[0] = '\0';
	va_start(ap, fmt);
	if (n > 0)
		vsnprintf(e->msg, (size_t)n + 1, fmt, ap);
	va_end(ap);
}

void config_errors_print(const struct config_errors *errs, FILE *out)
{
	for (size_t i = 0; i < errs->n; i++) {
		const struct config_error *e = &errs->v[i];

		if (e->line > 0)
			fprintf(out, "%s:%d: %s\n", e->file, e->line, e->msg);
		else
			fprintf(out, "%s: %s\n", e->file, e->msg);
	}
}

void config_errors_free(struct config_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++) {
		free(errs->v[i].file);
		free(errs->v[i].msg);
	}
	free(errs->v);
	errs->v = NULL;
	errs->n = 0;
}

void config_free(struct config *cfg)
{
	for (int i = 0; i < CONFIG_NKEYS; i++)
		config_key_clear(&config_keys[i], cfg);
	for (size_t r = 0; r < CONFIG_NREPEATED; r++) {
		const struct config_repeated *rep = &config_repeated[r];
		size_t n = config_repeated_count(rep, cfg);

		for (size_t l = 0; l < n; l++) {
			char *item = config_repeated_item(rep, cfg, l);

			for (int i = rep->first; i < rep->first + rep->nkeys; i++)
				config_key_clear(&config_keys[i], item);
			free(*(char **)(item + rep->name_offset));
		}
		free(*(void **)((char *)cfg + rep->items_offset));
	}
	free(cfg->path);
	memset(cfg, 0, sizeof(*cfg));
}
