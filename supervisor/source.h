/* source.h: task sources (sql, command, file, range) feeding the engine's listing. */
#ifndef JOBSYNC_SOURCE_H
#define JOBSYNC_SOURCE_H

#include "config/config.h"

struct work;
struct source;

/* Prepare the configured source (its own connection for sql). NULL on failure (logged). */
struct source *source_new(struct work *w);

/* First listing, then again every poll_interval_sec (0 = list once). */
void source_start(struct source *s);

/* List again now (NOTIFY on the task channel); merged with any listing under way. */
void source_relist(struct work *w);

void source_close(struct source *s);
void source_free(struct source *s);

const char *source_name(enum config_source src);

#endif
