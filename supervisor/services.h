/* services.h: [service.NAME] cluster singletons, run on the leader only (SPEC section 6). */
#ifndef JOBSYNC_SERVICES_H
#define JOBSYNC_SERVICES_H

#include <stdbool.h>
#include <stdint.h>

struct node;
struct services;

/* Prepare the configured services (none run yet). NULL when there are none. */
struct services *services_new(struct node *n);

/* This node now leads in term: start every service (within a second). */
void services_lead(struct services *s, int64_t term);

/* Leadership lost, term changed, self-fenced or draining: stop every service. */
void services_unlead(struct services *s, const char *why);

struct config_diff;
/*
 * SIGHUP: n->cfg is the new config, d what changed. Mark and sweep by NAME:
 * unchanged services keep running untouched, changed ones are restarted with
 * their new settings, removed ones are stopped, added ones start if this node
 * leads. A copy being stopped never overlaps its successor.
 */
void services_reload(struct services *s, const struct config_diff *d);

/* Shutdown: stop (kill after the stop timeout) and close handles. */
void services_close(struct services *s);
void services_free(struct services *s);

struct json_t;
/* For status: append one object per service (name, pid, state, since, restarts) to arr. */
void services_status(const struct services *s, struct json_t *arr);

/* For status: number of services running now. */
int services_running(const struct services *s);

#endif
