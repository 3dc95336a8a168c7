/* lines.c: bounded line splitting of child output, and parsing of stream-protocol replies. */
#include "runner/lines.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The callback type, spelled out once for the static helpers. */
#define LINES_FN(name) void (*name)(const char *line, size_t len, bool truncated, void *arg)

/*
 * The buffer holds max + 1 content bytes (the extra one is a '\r' that may
 * turn out to end a CRLF) plus a NUL, so every line handed to fn is also
 * NUL-terminated. max must be at least 1. Returns 0, or -1 with errno set.
 */
int lines_init(struct lines *l, size_t max)
{
	l->buf = NULL;
	l->len = 0;
	l->cap = 0;
	l->max = max;
	l->skipping = false;
	if (max == 0 || max > SIZE_MAX - 2) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/*
 * Room for need bytes plus the NUL: the buffer grows by doubling up to max + 2
 * (most children print short lines or nothing, so a node with many children
 * does not hold max bytes for each). False when memory is short.
 */
static bool lines_reserve(struct lines *l, size_t need)
{
	size_t cap = l->cap ? l->cap : 256;
	char *nb;

	if (need + 1 <= l->cap)
		return true;
	while (cap < need + 1)
		cap *= 2;
	if (cap > l->max + 2)
		cap = l->max + 2;
	nb = realloc(l->buf, cap);
	if (!nb)
		return false;
	l->buf = nb;
	l->cap = cap;
	return true;
}

void lines_free(struct lines *l)
{
	free(l->buf);
	l->buf = NULL;
	l->len = 0;
	l->cap = 0;
	l->skipping = false;
}

/* Hand buf[0..len) to fn, NUL-terminated, and empty the buffer. */
static void lines_emit(struct lines *l, size_t len, bool truncated, LINES_FN(fn), void *arg)
{
	if (!lines_reserve(l, len)) {
		l->len = 0;
		return;
	}
	l->buf[len] = '\0';
	l->len = 0;
	fn(l->buf, len, truncated, arg);
}

/*
 * Append bytes that contain no newline. Once the line cannot fit any more
 * (more than max bytes, not counting one trailing '\r' that a '\n' may
 * follow) its first max bytes go out flagged truncated, and the rest of the
 * line is dropped until the next newline.
 */
static void lines_append(struct lines *l, const char *p, size_t k, LINES_FN(fn), void *arg)
{
	size_t room, take;

	if (l->skipping || k == 0)
		return;
	room = l->max + 1 - l->len;
	take = k < room ? k : room;
	if (!lines_reserve(l, l->len + take)) {
		l->skipping = true; /* out of memory: drop this line rather than fail */
		l->len = 0;
		return;
	}
	memcpy(l->buf + l->len, p, take);
	l->len += take;
	if (l->len > l->max && (k > take || l->buf[l->max] != '\r')) {
		lines_emit(l, l->max, true, fn, arg);
		l->skipping = true;
	}
}

/* A '\n' arrived: deliver the line without a trailing '\r', unless it was cut already. */
static void lines_end(struct lines *l, LINES_FN(fn), void *arg)
{
	size_t len = l->len;

	if (l->skipping) {
		l->skipping = false;
		l->len = 0;
		return;
	}
	if (len > 0 && l->buf[len - 1] == '\r')
		len--;
	lines_emit(l, len, false, fn, arg);
}

int lines_feed(struct lines *l, const char *data, size_t n,
	       void (*fn)(const char *line, size_t len, bool truncated, void *arg), void *arg)
{
	while (n > 0) {
		const char *nl = memchr(data, '\n', n);
		size_t seg = nl ? (size_t)(nl - data) : n;

		lines_append(l, data, seg, fn, arg);
		if (nl) {
			lines_end(l, fn, arg);
			seg++;
		}
		data += seg;
		n -= seg;
	}
	return 0;
}

/*
 * At EOF: a partial line goes out as it is (a lone trailing '\r' is content
 * here, as no '\n' follows); one that is already cut is not repeated.
 */
void lines_flush(struct lines *l,
		 void (*fn)(const char *line, size_t len, bool truncated, void *arg), void *arg)
{
	if (l->skipping) {
		l->skipping = false;
		l->len = 0;
		return;
	}
	if (l->len == 0)
		return;
	if (l->len > l->max)
		lines_emit(l, l->max, true, fn, arg);
	else
		lines_emit(l, l->len, false, fn, arg);
}

/* First occurrence of needle in hay[0..n), as an offset, or -1 (binary-safe). */
static long lines_find(const char *hay, size_t n, const char *needle, size_t k)
{
	if (k > n)
		return -1;
	for (size_t i = 0; i + k <= n; i++)
		if (memcmp(hay + i, needle, k) == 0)
			return (long)i;
	return -1;
}

/*
 * Replies: "ID ok" or "ID fail MESSAGE" (or "ID fail": empty message). When
 * both readings fit ("7 fail not ok") the failure wins: a message that ends
 * in " ok" is far likelier than an id that contains " fail ", and reading a
 * failure as a success would lose it. An empty id is REPLY_BAD. msg, msglen
 * may be NULL; on REPLY_OK the message is empty.
 */
enum reply_kind lines_parse_reply(const char *line, size_t len, const char **id, size_t *idlen,
				  const char **msg, size_t *msglen)
{
	static const char fail_sep[] = " fail ", fail_end[] = " fail", ok_end[] = " ok";
	long at = lines_find(line, len, fail_sep, sizeof(fail_sep) - 1);
	size_t il, mo;

	if (at < 0 && len >= sizeof(fail_end) - 1 &&
	    memcmp(line + len - (sizeof(fail_end) - 1), fail_end, sizeof(fail_end) - 1) == 0)
		at = (long)(len - (sizeof(fail_end) - 1));
	if (at >= 0) {
		il = (size_t)at;
		mo = il + sizeof(fail_sep) - 1;
		if (mo > len)
			mo = len;
		if (il == 0)
			return REPLY_BAD;
		*id = line;
		*idlen = il;
		if (msg)
			*msg = line + mo;
		if (msglen)
			*msglen = len - mo;
		return REPLY_FAIL;
	}
	if (len > sizeof(ok_end) - 1 &&
	    memcmp(line + len - (sizeof(ok_end) - 1), ok_end, sizeof(ok_end) - 1) == 0) {
		*id = line;
		*idlen = len - (sizeof(ok_end) - 1);
		if (msg)
			*msg = line + len;
		if (msglen)
			*msglen = 0;
		return REPLY_OK;
	}
	return REPLY_BAD;
}
