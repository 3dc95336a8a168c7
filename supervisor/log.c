/* log.c: formatting and writing of log lines (text or JSON) to stderr. */
#include "supervisor/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static char log_node[128] = "-";
static enum log_level log_min = LOG_LEVEL_INFO;
static enum log_format log_fmt = LOG_FORMAT_TEXT;

static const char *const level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

void log_setup(const char *node, enum log_level level, enum log_format format)
{
	snprintf(log_node, sizeof log_node, "%s", node && *node ? node : "-");
	log_min = level;
	log_fmt = format;
}

/* Append s to out as the inside of a JSON string (quotes not included). */
static size_t json_escape(char *out, size_t cap, size_t at, const char *s)
{
	for (; *s && at + 7 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			out[at++] = '\\';
			out[at++] = (char)c;
		} else if (c < 0x20) {
			at += (size_t)snprintf(out + at, cap - at, "\\u%04x", c);
		} else {
			out[at++] = (char)c;
		}
	}
	out[at] = '\0';
	return at;
}

static void log_write(enum log_level level, const char *ctx, const char *msg)
{
	char ts[40], line[8192];
	struct timespec now;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	size_t n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + n, sizeof ts - n, ".%03ldZ", now.tv_nsec / 1000000);

	if (log_fmt == LOG_FORMAT_JSON) {
		size_t at = (size_t)snprintf(line, sizeof line,
					     "{\"ts\":\"%s\",\"level\":\"%s\",\"node\":\"", ts,
					     level_names[level]);
		at = json_escape(line, sizeof line, at, log_node);
		if (ctx) {
			at += (size_t)snprintf(line + at, sizeof line - at, "\",\"ctx\":\"");
			at = json_escape(line, sizeof line, at, ctx);
		}
		at += (size_t)snprintf(line + at, sizeof line - at, "\",\"msg\":\"");
		at = json_escape(line, sizeof line, at, msg);
		snprintf(line + at, sizeof line - at, "\"}");
	} else {
		snprintf(line, sizeof line, "%s %-5s node=%s%s%s %s", ts, level_names[level],
			 log_node, ctx ? " " : "", ctx ? ctx : "", msg);
	}
	fprintf(stderr, "%s\n", line);
}

void log_at(enum log_level level, const char *ctx, const char *fmt, ...)
{
	char msg[4096];
	va_list ap;

	if (level < log_min)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	log_write(level, ctx, msg);
}

void log_errno(int errnum, const char *fmt, ...)
{
	char msg[4096];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof msg)
		snprintf(msg + n, sizeof msg - (size_t)n, ": %s", strerror(errnum));
	log_write(LOG_LEVEL_ERROR, NULL, msg);
}
