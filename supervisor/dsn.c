/* dsn.c: find the passwords in a libpq conninfo to redact it or scrub messages (pure). */
#include "supervisor/dsn.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define DSN_MAX_SECRETS 16

/* One password found in a conninfo: its raw span and its decoded value. */
struct dsn_secret {
	size_t start;       /* raw span in the conninfo, quotes included */
	size_t len;
	size_t inner_start; /* raw span without the quotes */
	size_t inner_len;
	char *value;        /* decoded value, malloc'd */
};

struct dsn_secrets {
	struct dsn_secret v[DSN_MAX_SECRETS];
	size_t n;
	size_t cut;         /* unparsable from here on (SIZE_MAX: parsed fully) */
};

static bool dsn_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Record a secret; value is taken over (freed here when there is no room). */
static void dsn_add(struct dsn_secrets *out, size_t start, size_t len, size_t inner_start,
		    size_t inner_len, char *value)
{
	if (out->n == DSN_MAX_SECRETS) {
		/* Too many password keys to track: treat the rest as secret. */
		if (out->cut > start)
			out->cut = start;
		free(value);
		return;
	}
	out->v[out->n++] = (struct dsn_secret){start, len, inner_start, inner_len, value};
}

static int dsn_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode s[0..len) into a malloc'd string (invalid escapes kept as is). */
static char *dsn_pct_decode(const char *s, size_t len)
{
	char *out = malloc(len + 1), *o = out;
	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		int hi, lo;
		if (s[i] == '%' && i + 2 < len && (hi = dsn_hex(s[i + 1])) >= 0 &&
		    (lo = dsn_hex(s[i + 2])) >= 0) {
			*o++ = (char)(hi * 16 + lo);
			i += 2;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

/* Parse key = value pairs as libpq does (quotes, backslash escapes). */
static void dsn_find_kv(const char *s, struct dsn_secrets *out)
{
	size_t i = 0, n = strlen(s);
	for (;;) {
		while (i < n && dsn_is_space(s[i]))
			i++;
		if (i == n)
			return;
		size_t kstart = i;
		while (i < n && s[i] != '=' && !dsn_is_space(s[i]))
			i++;
		size_t klen = i - kstart;
		while (i < n && dsn_is_space(s[i]))
			i++;
		if (i == n || s[i] != '=' || klen == 0) {
			out->cut = kstart;
			return;
		}
		i++;
		while (i < n && dsn_is_space(s[i]))
			i++;
		size_t vstart = i, b = 0;
		bool quoted = i < n && s[i] == '\'';
		char *buf = malloc(n - i + 1);
		if (!buf) {
			out->cut = kstart;
			return;
		}
		if (quoted) {
			for (i++; i < n && s[i] != '\''; i++) {
				if (s[i] == '\\' && i + 1 < n)
					i++;
				buf[b++] = s[i];
			}
			if (i == n) { /* unterminated quote */
				free(buf);
				out->cut = kstart;
				return;
			}
			i++;
		} else {
			for (; i < n && !dsn_is_space(s[i]); i++) {
				if (s[i] == '\\' && i + 1 < n)
					i++;
				buf[b++] = s[i];
			}
		}
		buf[b] = '\0';
		if (klen == 8 && !memcmp(s + kstart, "password", 8)) {
			size_t q = quoted ? 1 : 0;
			dsn_add(out, vstart, i - vstart, vstart + q, i - vstart - 2 * q, buf);
		} else {
			free(buf);
		}
	}
}

/* postgresql://user:password@host.../db?password=...&... */
static void dsn_find_uri(const char *s, size_t scheme_len, struct dsn_secrets *out)
{
	size_t n = strlen(s), auth = scheme_len;
	/* The authority ends at the first '/'; the user info at its last '@'
	 * (conservative: an unencoded '@' or '?' in a password stays hidden). */
	size_t auth_end = auth + strcspn(s + auth, "/");
	size_t at = SIZE_MAX;
	for (size_t i = auth; i < auth_end; i++)
		if (s[i] == '@')
			at = i;
	if (at != SIZE_MAX) {
		const char *colon = memchr(s + auth, ':', at - auth);
		if (colon) {
			size_t ps = (size_t)(colon - s) + 1;
			char *v = dsn_pct_decode(s + ps, at - ps);
			if (v)
				dsn_add(out, ps, at - ps, ps, at - ps, v);
			else
				out->cut = auth;
		}
	}
	size_t from = at != SIZE_MAX ? at : auth;
	const char *q = strchr(s + from, '?');
	if (!q)
		return;
	for (size_t i = (size_t)(q - s) + 1; i < n;) {
		size_t pend = i + strcspn(s + i, "&");
		const char *eq = memchr(s + i, '=', pend - i);
		if (eq) {
			char *key = dsn_pct_decode(s + i, (size_t)(eq - s) - i);
			size_t vs = (size_t)(eq - s) + 1;
			if (key && !strcmp(key, "password")) {
				char *v = dsn_pct_decode(s + vs, pend - vs);
				if (v)
					dsn_add(out, vs, pend - vs, vs, pend - vs, v);
				else
					out->cut = vs;
			}
			free(key);
		}
		i = pend + 1;
	}
}

static void dsn_find(const char *s, struct dsn_secrets *out)
{
	out->n = 0;
	out->cut = SIZE_MAX;
	if (!strncmp(s, "postgresql://", 13))
		dsn_find_uri(s, 13, out);
	else if (!strncmp(s, "postgres://", 11))
		dsn_find_uri(s, 11, out);
	else
		dsn_find_kv(s, out);
}

static void dsn_secrets_free(struct dsn_secrets *sec)
{
	for (size_t i = 0; i < sec->n; i++)
		free(sec->v[i].value);
	sec->n = 0;
}

char *dsn_redact(const char *conninfo)
{
	struct dsn_secrets sec;
	const char *s = conninfo ? conninfo : "";
	dsn_find(s, &sec);
	size_t n = strlen(s);
	char *out = malloc(n + 4 * (sec.n + 1) + 1), *o = out;
	if (!out)
		goto cleanup;
	size_t pos = 0, end = sec.cut < n ? sec.cut : n;
	for (size_t i = 0; i < sec.n; i++) {
		if (sec.v[i].start < pos || sec.v[i].start + sec.v[i].len > end)
			continue;
		memcpy(o, s + pos, sec.v[i].start - pos);
		o += sec.v[i].start - pos;
		memcpy(o, "***", 3);
		o += 3;
		pos = sec.v[i].start + sec.v[i].len;
	}
	if (pos < end) {
		memcpy(o, s + pos, end - pos);
		o += end - pos;
	}
	if (sec.cut < n) {
		memcpy(o, "***", 3);
		o += 3;
	}
	*o = '\0';
cleanup:
	dsn_secrets_free(&sec);
	return out;
}

/* Star out every occurrence of needle[0..len) in msg. */
static void dsn_star(char *msg, const char *needle, size_t len)
{
	if (len == 0)
		return;
	for (char *p = msg; (p = memmem(p, strlen(p), needle, len)) != NULL; p += len)
		memset(p, '*', len);
}

void dsn_scrub_message(char *msg, const char *conninfo)
{
	struct dsn_secrets sec;
	if (!msg || !conninfo)
		return;
	dsn_find(conninfo, &sec);
	for (size_t i = 0; i < sec.n; i++) {
		dsn_star(msg, sec.v[i].value, strlen(sec.v[i].value));
		dsn_star(msg, conninfo + sec.v[i].inner_start, sec.v[i].inner_len);
	}
	dsn_secrets_free(&sec);
}
