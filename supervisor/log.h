/* log.h: one line per event to stderr, as text or JSON, with the node as context. */
#ifndef JOBSYNC_LOG_H
#define JOBSYNC_LOG_H

#include "config/config.h"

/* Set the node name, level and format used by every later line. */
void log_setup(const char *node, enum log_level level, enum log_format format);

/* Log one line; ctx is an optional "key=value" context (task, child), or NULL. */
void log_at(enum log_level level, const char *ctx, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* As log_at(LOG_LEVEL_ERROR, ...), with ": strerror(errnum)" appended. */
void log_errno(int errnum, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_at(LOG_LEVEL_DEBUG, NULL, __VA_ARGS__)
#define log_info(...) log_at(LOG_LEVEL_INFO, NULL, __VA_ARGS__)
#define log_warn(...) log_at(LOG_LEVEL_WARN, NULL, __VA_ARGS__)
#define log_error(...) log_at(LOG_LEVEL_ERROR, NULL, __VA_ARGS__)

#endif
