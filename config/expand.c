/* expand.c: ${VAR}, ${VAR:-default} and $$ in config values, from the environment. */
#include "config/expand.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/schema.h"

/* Append the expansion of one "${...}" body (inner, len bytes) to out. */
static int expand_one(const char *inner, size_t len, char **out, size_t *n, size_t *cap,
		      char *err, size_t errlen)
{
	size_t name_len = 0;
	const char *val, *def = NULL;
	size_t def_len = 0;
	char name[256];

	while (name_len < len && (isalnum((unsigned char)inner[name_len]) || inner[name_len] == '_'))
		name_len++;
	if (name_len == 0 || isdigit((unsigned char)inner[0]) || name_len >= sizeof(name) ||
	    (name_len < len && (len - name_len < 2 || memcmp(inner + name_len, ":-", 2)))) {
		snprintf(err, errlen, "invalid variable reference '${%.*s}'",
			 (int)(len > 64 ? 64 : len), inner);
		return -1;
	}
	memcpy(name, inner, name_len);
	name[name_len] = '\0';
	if (name_len < len) {
		def = inner + name_len + 2;
		def_len = len - name_len - 2;
	}
	val = getenv(name);
	if (!val && !def) {
		snprintf(err, errlen, "environment variable '%.64s' is not set (use ${%.64s:-default} for a default)",
			 name, name);
		return -1;
	}
	if (def && (!val || !*val))
		val = def;
	else
		def_len = strlen(val);
	if (*n + def_len + 1 > *cap) {
		*cap = *n + def_len + 64;
		*out = config_xrealloc(*out, *cap);
	}
	memcpy(*out + *n, val, def_len);
	*n += def_len;
	return 0;
}

char *config_expand_env(const char *s, char *err, size_t errlen)
{
	size_t cap = strlen(s) + 64, n = 0;
	char *out = config_xrealloc(NULL, cap);

	while (*s) {
		if (s[0] == '$' && s[1] == '{') {
			const char *close = strchr(s + 2, '}');

			if (!close) {
				snprintf(err, errlen, "unterminated '${' in value");
				free(out);
				return NULL;
			}
			if (expand_one(s + 2, (size_t)(close - s - 2), &out, &n, &cap, err, errlen)) {
				free(out);
				return NULL;
			}
			s = close + 1;
			continue;
		}
		if (n + 2 > cap) {
			cap *= 2;
			out = config_xrealloc(out, cap);
		}
		out[n++] = *s;
		s += (s[0] == '$' && s[1] == '$') ? 2 : 1;
	}
	out[n] = '\0';
	return out;
}
