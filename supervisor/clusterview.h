/* clusterview.h: the whole cluster as one JSON value read by the node, cached briefly. */
#ifndef JOBSYNC_CLUSTERVIEW_H
#define JOBSYNC_CLUSTERVIEW_H

#include <stdint.h>

#include <jansson.h>

struct node;
struct clusterview;

/* Called with the view (borrowed; NULL when the database could not be read). */
typedef void (*clusterview_cb)(const json_t *view, void *arg);

/* NULL when out of memory or coordination is off (there is no cluster to read). */
struct clusterview *clusterview_new(struct node *n);

/*
 * Call cb with a view at most max_age_ms old: at once from the cache, or when
 * the one query in flight answers (many callers share one query).
 */
void clusterview_get(struct clusterview *v, uint64_t max_age_ms, clusterview_cb cb, void *arg);

/* The last view read (borrowed), or NULL. */
const json_t *clusterview_last(const struct clusterview *v);

/* Answer every waiter with NULL (shutdown); later gets answer NULL at once. */
void clusterview_close(struct clusterview *v);
void clusterview_free(struct clusterview *v);

#endif
