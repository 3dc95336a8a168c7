/* cronsched.h: [cron.NAME] jobs fired once for the cluster by the leader (SPEC section 6). */
#ifndef JOBSYNC_CRONSCHED_H
#define JOBSYNC_CRONSCHED_H

#include <stdbool.h>
#include <stdint.h>

struct node;
struct cronsched;

/* Prepare the configured cron jobs. NULL when there are none. */
struct cronsched *cronsched_new(struct node *n);

/* This node now leads in term: handle misfires, arm the timers, serve run requests. */
void cronsched_lead(struct cronsched *c, int64_t term);

/* Leadership lost: disarm; running jobs are stopped. */
void cronsched_unlead(struct cronsched *c, const char *why);

/* A NOTIFY on the cluster channel with payload "cron": look at run requests now. */
void cronsched_notify(struct cronsched *c);

struct json_t;
/* For status: append one object per job (schedule, next instant, runs in progress) to arr. */
void cronsched_status(const struct cronsched *c, struct json_t *arr);

struct config_diff;
/*
 * SIGHUP: n->cfg is the new config, d what changed. Jobs are matched by NAME:
 * added ones are armed, removed ones never fire again, changed ones are armed
 * with their new schedule (a run under way finishes; the next use the new
 * settings); unchanged ones keep their next instant.
 */
void cronsched_reload(struct cronsched *c, const struct config_diff *d);
/* Every job was just added by a reload: an instant before now is no misfire. */
void cronsched_mark_added(struct cronsched *c);

void cronsched_close(struct cronsched *c);
void cronsched_free(struct cronsched *c);

#endif
