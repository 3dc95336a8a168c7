/* pgarray.c: building PostgreSQL array literals for bulk parameters; reading int lists. */
#include "supervisor/pgarray.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *pgarray_int(const int *v, size_t n)
{
	char *out = malloc(n * 12 + 3), *o = out;
	if (!out)
		return NULL;
	*o++ = '{';
	for (size_t i = 0; i < n; i++)
		o += sprintf(o, i ? ",%d" : "%d", v[i]);
	*o++ = '}';
	*o = '\0';
	return out;
}

char *pgarray_text(const char *const *v, size_t n)
{
	size_t len = 3;
	for (size_t i = 0; i < n; i++)
		len += v[i] ? 2 * strlen(v[i]) + 3 : 5;
	char *out = malloc(len), *o = out;
	if (!out)
		return NULL;
	*o++ = '{';
	for (size_t i = 0; i < n; i++) {
		if (i)
			*o++ = ',';
		if (!v[i]) {
			memcpy(o, "NULL", 4);
			o += 4;
			continue;
		}
		*o++ = '"';
		for (const char *s = v[i]; *s; s++) {
			if (*s == '"' || *s == '\\')
				*o++ = '\\';
			*o++ = *s;
		}
		*o++ = '"';
	}
	*o++ = '}';
	*o = '\0';
	return out;
}

bool pglist_next(const char **p, int *out)
{
	const char *s = *p;
	long v = 0;

	if (*s == ',')
		s++;
	if (*s < '0' || *s > '9')
		return false;
	while (*s >= '0' && *s <= '9') {
		v = v * 10 + (*s++ - '0');
		if (v > 2147483647L)
			return false;
	}
	if (*s != ',' && *s != '\0')
		return false;
	*out = (int)v;
	*p = s;
	return true;
}
