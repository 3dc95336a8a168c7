/* member.h: membership of one node: heartbeat, self-fencing, token fetch, leave. */
#ifndef JOBSYNC_MEMBER_H
#define JOBSYNC_MEMBER_H

#include "supervisor/node.h"

/* Start the heartbeat and fence timers once the node is registered. */
void member_start(struct node *n);

/* Send a heartbeat now (unless one is in flight). */
void member_heartbeat(struct node *n);

/* Run the leader's next look in ms (then every rebalance_check_interval_sec again). */
void member_leader_tick_in(struct node *n, uint64_t ms);

/* False (and fenced at once) when the heartbeat lease ran out unnoticed. */
bool member_lease_ok(struct node *n);

/* A NOTIFY arrived on the cluster channel. */
void member_notify(struct node *n, const char *payload);

/* Graceful leave: release tokens and claims, delete the row, NOTIFY; then stop. */
void member_leave(struct node *n);

/* The connection is gone: stop leading (its session lock is gone too). */
void member_disconnected(struct node *n);

#endif
