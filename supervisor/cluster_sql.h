/* cluster_sql.h: the one query that reads the whole cluster (`jobsync status`, the HTML page). */
#ifndef JOBSYNC_CLUSTER_SQL_H
#define JOBSYNC_CLUSTER_SQL_H

/*
 * The cluster as one JSON value (cluster, nodes, locks, unowned_tokens,
 * rebalances, cron (each job's last run), progress), an '@' template; parameters: $1 heartbeat timeout in
 * seconds, $2 prefix, $3 date (YYYY-MM-DD). Malloc'd; NULL when out of memory.
 */
char *cluster_sql(void);

#endif
