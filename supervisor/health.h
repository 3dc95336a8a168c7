/* health.h: the node's status file and HTTP endpoint (SPEC section 7). */
#ifndef JOBSYNC_HEALTH_H
#define JOBSYNC_HEALTH_H

struct node;
struct clusterview;

/*
 * Open the status file and the HTTP port of n->cfg. Returns 0, or -1 after
 * logging why (a missing directory, a port in use): a configuration error.
 */
int health_start(struct node *n);

/* Something the status shows changed: rewrite the status file soon (writes
 * closer than 100 ms apart are merged, so a busy node writes at most 10 a second). */
void health_changed(struct node *n);

/* The cached cluster view (NULL before the first read or without coordination). */
struct clusterview *health_clusterview(const struct node *n);

/* "HOST:PORT" the HTTP endpoint listens on, or NULL. */
const char *health_address(const struct node *n);

/* Shutdown: a last status file write, close the port and timers. */
void health_close(struct node *n);
void health_free(struct node *n);

#endif
