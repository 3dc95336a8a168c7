/* metrics.h: the node's metrics in the Prometheus text exposition format (0.0.4). */
#ifndef JOBSYNC_METRICS_H
#define JOBSYNC_METRICS_H

#include <stddef.h>

#include <jansson.h>

struct node;
struct http_stats;

/* The exposition text (malloc'd, *len bytes); status is the node's snapshot_json(). */
char *metrics_text(struct node *n, const json_t *status, const struct http_stats *http,
		   size_t *len);

#endif
