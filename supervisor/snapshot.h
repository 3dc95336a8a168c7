/* snapshot.h: the node's own status as one JSON document (SPEC section 7). */
#ifndef JOBSYNC_SNAPSHOT_H
#define JOBSYNC_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

struct node;

/* The status document: node, state, leadership, tokens, database, children, counters... */
json_t *snapshot_json(struct node *n);

/* The node's state as the status document names it ("running", "draining", ...). */
const char *snapshot_state_name(const struct node *n);

/* Readiness: true when the node should receive traffic; else *why says what is missing. */
bool snapshot_ready(const struct node *n, const char **why);

/* A loop-clock instant (node_now_ms) as ISO 8601 UTC text with milliseconds. */
void snapshot_iso(const struct node *n, uint64_t mono_ms, char *buf, size_t len);

/* One entry of "children": name, pid (0 = none), state, task (or NULL), since, restarts. */
json_t *snapshot_child(const struct node *n, const char *name, int pid, const char *state,
		       const char *task, uint64_t since_ms, unsigned restarts);

#endif
