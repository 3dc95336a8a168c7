/* lines.h: bounded line splitting of child output, and the stream protocol's replies. */
#ifndef JOBSYNC_LINES_H
#define JOBSYNC_LINES_H

#include <stdbool.h>
#include <stddef.h>

/* Accumulates bytes and yields complete lines of at most max bytes. */
struct lines {
	char *buf;
	size_t len, cap, max;   /* cap: allocated, grown on demand up to max + 2 */
	bool skipping;          /* inside an over-long line: dropping until newline */
};

int lines_init(struct lines *l, size_t max);
void lines_free(struct lines *l);

/*
 * Feed data; fn is called for every complete line (without "\n" or "\r\n");
 * truncated is set for a line longer than max (its first max bytes are given,
 * once). Returns 0.
 */
int lines_feed(struct lines *l, const char *data, size_t n,
	       void (*fn)(const char *line, size_t len, bool truncated, void *arg), void *arg);

/* Deliver what is left without a final newline (at EOF). */
void lines_flush(struct lines *l,
		 void (*fn)(const char *line, size_t len, bool truncated, void *arg), void *arg);

enum reply_kind { REPLY_OK, REPLY_FAIL, REPLY_BAD };

/*
 * Parse one stream-protocol reply: "ID ok" or "ID fail MESSAGE". The id is the
 * text before the last " ok" / first " fail " as sent (ids never contain a
 * newline: such ids are refused by the feeder). On REPLY_BAD nothing is set.
 */
enum reply_kind lines_parse_reply(const char *line, size_t len, const char **id, size_t *idlen,
				  const char **msg, size_t *msglen);

#endif
