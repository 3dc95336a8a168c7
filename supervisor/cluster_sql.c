/* cluster_sql.c: the one query that reads the whole cluster (`jobsync status`, the HTML page). */
#include "supervisor/cluster_sql.h"

#include <stdio.h>
#include <stdlib.h>

#include "supervisor/cli_db.h"

/* Everything but the locks (spliced in at %s); $1 heartbeat timeout, $2 prefix, $3 date. */
static const char cluster_fmt[] =
	"WITH m AS (SELECT total_tokens, term, leader_node, token_version FROM @meta WHERE id = 1),"
	" owned AS (SELECT node, count(*) AS n FROM @token WHERE node IS NOT NULL GROUP BY node),"
	" un AS (SELECT t.token_id, EXISTS (SELECT 1 FROM @lock l WHERE l.token_id = t.token_id"
	"   AND (l.expires_at IS NULL OR l.expires_at >= now())) AS locked"
	"  FROM @token t LEFT JOIN @node n ON n.name = t.node WHERE n.name IS NULL)"
	" SELECT json_build_object("
	"'cluster', (SELECT json_build_object('prefix', $2::text, 'total_tokens', m.total_tokens,"
	"  'term', m.term, 'leader', m.leader_node, 'token_version', m.token_version) FROM m),"
	"'nodes', (SELECT coalesce(json_agg(json_build_object("
	"  'name', n.name,"
	"  'alive', now() - n.last_heartbeat < make_interval(secs => $1::float8),"
	"  'heartbeat_age_sec', round(extract(epoch FROM now() - n.last_heartbeat)::numeric, 1),"
	"  'created_on', " CLI_SQL_TS("n.created_on") ","
	"  'site', n.site, 'host', n.host, 'pid', n.pid, 'draining', n.draining,"
	"  'leader', coalesce(n.name = (SELECT leader_node FROM m), false),"
	"  'tokens', coalesce(o.n, 0),"
	"  'percent', round(coalesce(o.n, 0) * 100.0"
	"   / nullif((SELECT total_tokens FROM m), 0), 2))"
	"  ORDER BY n.created_on, n.name), '[]'::json)"
	"  FROM @node n LEFT JOIN owned o ON o.node = n.name),"
	"'locks', %s,"
	"'unowned_tokens', (SELECT json_build_object('count', count(*),"
	"  'locked', count(*) FILTER (WHERE locked),"
	"  'sample', coalesce((array_agg(token_id ORDER BY token_id))[1:100], '{}')) FROM un),"
	"'rebalances', (SELECT coalesce(json_agg(json_build_object("
	"  'triggered_at', " CLI_SQL_TS("r.triggered_at") ","
	"  'trigger_reason', r.trigger_reason, 'leader_node', r.leader_node,"
	"  'nodes_before', r.nodes_before, 'nodes_after', r.nodes_after,"
	"  'tokens_moved', r.tokens_moved, 'duration_ms', r.duration_ms)"
	"  ORDER BY r.triggered_at DESC, r.id DESC), '[]'::json)"
	"  FROM (SELECT * FROM @rebalance ORDER BY triggered_at DESC, id DESC LIMIT 5) r),"
	"'cron', (SELECT coalesce(json_object_agg(r.job, json_build_object("
	"  'instant', " CLI_SQL_TS("r.instant") ", 'status', r.status, 'node', r.node,"
	"  'finished', " CLI_SQL_TS("r.finished") ", 'failures_24h', (SELECT count(*)"
	"   FROM @cron_run f WHERE f.job = r.job AND f.status IN ('failed', 'timeout')"
	"   AND f.instant > now() - interval '1 day'))), '{}'::json)"
	"  FROM (SELECT DISTINCT ON (job) * FROM @cron_run ORDER BY job, instant DESC) r),"
"'progress', (SELECT json_build_object('date', $3::text,"
	"  'claimed', coalesce(sum(claimed), 0), 'done', coalesce(sum(done), 0),"
	"  'failed', coalesce(sum(failed), 0), 'in_flight', coalesce(sum(in_flight), 0),"
	"  'nodes', coalesce(json_agg(json_build_object('node', node, 'claimed', claimed,"
	"   'done', done, 'failed', failed, 'in_flight', in_flight) ORDER BY node), '[]'::json))"
	"  FROM (SELECT coalesce(a.node, c.node) AS node, count(c.item) AS claimed,"
	"   count(*) FILTER (WHERE a.status = 'done') AS done,"
	"   count(*) FILTER (WHERE a.status = 'failed') AS failed,"
	"   count(*) FILTER (WHERE c.item IS NOT NULL AND a.item IS NULL) AS in_flight"
	"   FROM (SELECT item, node FROM @claim WHERE date = $3::date) c"
	"   FULL JOIN (SELECT item, node, status FROM @audit WHERE date = $3::date) a"
	"   ON a.item = c.item GROUP BY 1) p))";

char *cluster_sql(void)
{
	char *sql;
	return asprintf(&sql, cluster_fmt, cli_locks_json_sql) < 0 ? NULL : sql;
}
