/* page.h: the read-only HTML page of the node and its cluster (GET /). */
#ifndef JOBSYNC_PAGE_H
#define JOBSYNC_PAGE_H

#include <stddef.h>

#include <jansson.h>

/* Colours of the nodes' shares, in the cluster's node order (also used by tests). */
#define PAGE_NCOLORS 8
extern const char *const page_colors[PAGE_NCOLORS];

/*
 * The page (malloc'd, *len bytes) from this node's status document and the
 * cluster view of cluster_sql() (NULL when the database could not be read).
 */
char *page_html(const json_t *status, const json_t *cluster, size_t *len);

#endif
