/* store.c: the SQL of membership, leadership, token distribution and locks. */
#include "supervisor/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/schema.h"

#define STR_(x) #x
#define STR(x) STR_(x)

/*
 * A node is alive when its heartbeat is fresh, it is not draining, and (when
 * it registered a session key) its database session still holds the advisory
 * lock: a crashed process loses its session at once, long before its
 * heartbeat times out. T is the timeout parameter; S (a boolean parameter)
 * turns the session check off for a grace period after this node (re)connects,
 * since a database restart ends every session at once.
 */
#define ALIVE(n, T, S)                                                           \
	"(" n ".last_heartbeat > now() - make_interval(secs => " T ")"           \
	" AND NOT " n ".draining AND (NOT " S " OR " n ".session_key IS NULL OR EXISTS (" \
	"SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory'"                  \
	" AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())" \
	" AND l.classid = " STR(STORE_SESSION_LOCK_CLASS)                          \
	" AND l.objid = " n ".session_key::oid AND l.objsubid = 2 AND l.granted)))"

static const char *const templates[STORE_NSTMT] = {
	[STORE_META] = "SELECT total_tokens, hash, schema_version, term, token_version"
		       " FROM @meta WHERE id = 1",

	[STORE_SESSION_LOCK] = "SELECT pg_try_advisory_lock("
			       STR(STORE_SESSION_LOCK_CLASS) ", $1::int)",

	/* Take over a name only from a dead or sessionless previous incarnation. */
	[STORE_REGISTER] =
		"INSERT INTO @node AS n (name, incarnation, created_on, last_heartbeat,"
		" site, host, pid, version, session_key, draining)"
		" VALUES ($1, $2, clock_timestamp(), now(), $3, $4, $5::int, $6, $7::int, false)"
		" ON CONFLICT (name) DO UPDATE SET incarnation = EXCLUDED.incarnation,"
		" created_on = EXCLUDED.created_on, last_heartbeat = EXCLUDED.last_heartbeat,"
		" site = EXCLUDED.site, host = EXCLUDED.host, pid = EXCLUDED.pid,"
		" version = EXCLUDED.version, session_key = EXCLUDED.session_key, draining = false"
		" WHERE NOT " ALIVE("n", "$8::float8", "$10::bool")
		" RETURNING incarnation, pg_notify($9, 'join')",

	/*
	 * Renew only a heartbeat that has not expired: once it has, the cluster may
	 * have taken this incarnation's work, so the node must rejoin as a new
	 * (younger) incarnation rather than resume, even if its row was not yet
	 * removed.
	 */
	[STORE_HEARTBEAT] =
		"WITH hb AS (UPDATE @node SET last_heartbeat = now(), session_key = $3::int"
		" WHERE name = $1 AND incarnation = $2"
		" AND last_heartbeat > now() - make_interval(secs => $4::float8) RETURNING 1)"
		" SELECT (SELECT count(*) FROM hb), m.term, m.leader_node, m.leader_incarnation,"
		" m.token_version, (SELECT n.incarnation FROM @node n WHERE "
		ALIVE("n", "$4::float8", "$5::bool")
		" ORDER BY n.created_on, n.name LIMIT 1),"
		" (SELECT n.incarnation FROM @node n WHERE " ALIVE("n", "$4::float8", "$5::bool")
		" ORDER BY n.created_on, n.name OFFSET 1 LIMIT 1),"
		/* Next expiry of another node's row, alive or not (a row whose session
		 * ended is removed at its expiry too). */
		" (SELECT extract(epoch FROM min(n.last_heartbeat) + make_interval(secs => $4::float8)"
		" - now()) FROM @node n WHERE n.name <> $1),"
		/* The node this one watches (watch.c): the next older live one, the
		 * oldest watching the youngest, so every node has one watcher. */
		" (SELECT w.name || ' ' || w.session_key FROM @node w, @node me"
		" WHERE me.name = $1 AND me.incarnation = $2 AND w.incarnation <> $2"
		" AND w.session_key IS NOT NULL AND " ALIVE("w", "$4::float8", "$5::bool")
		" ORDER BY (w.created_on, w.name) < (me.created_on, me.name) DESC,"
		" w.created_on DESC, w.name DESC LIMIT 1)"
		" FROM @meta m WHERE m.id = 1",

	/* Become leader only if this incarnation is the oldest live node. */
	[STORE_CLAIM_LEADER] =
		"UPDATE @meta SET term = term + 1, leader_node = $1, leader_incarnation = $2,"
		" leader_since = now()"
		" WHERE id = 1 AND leader_incarnation IS DISTINCT FROM $2"
		" AND (SELECT n.incarnation FROM @node n WHERE " ALIVE("n", "$3::float8", "$4::bool")
		" ORDER BY n.created_on, n.name LIMIT 1) = $2"
		" RETURNING term",

	/*
	 * Leader's look at the cluster: remove nodes past the heartbeat timeout
	 * (releasing their unaudited claims), expire locks, and list live (L),
	 * removed (D) and present-but-not-alive (Z, draining ones excepted: they
	 * leave) nodes, plus a fingerprint of
	 * the lock table (F) and the seconds until the next heartbeat expires (E).
	 */
	[STORE_INSPECT] =
		"WITH dead AS (DELETE FROM @node n"
		" WHERE n.last_heartbeat < now() - make_interval(secs => $1::float8)"
		" RETURNING n.name),"
		" rel AS (DELETE FROM @claim c USING dead WHERE c.node = dead.name"
		" AND NOT EXISTS (SELECT 1 FROM @audit a WHERE a.item = c.item AND a.date = c.date)"
		" RETURNING 1),"
		" exp AS (DELETE FROM @lock WHERE expires_at < now() RETURNING 1)"
		" SELECT 'L', n.name FROM @node n WHERE " ALIVE("n", "$1::float8", "$2::bool")
		" AND n.name NOT IN (SELECT name FROM dead)"
		" UNION ALL SELECT 'D', name FROM dead"
		" UNION ALL SELECT 'Z', n.name FROM @node n WHERE NOT " ALIVE("n", "$1::float8", "$2::bool")
		" AND NOT n.draining AND n.name NOT IN (SELECT name FROM dead)"
		" UNION ALL SELECT 'F', (SELECT count(*) FROM @lock WHERE expires_at IS NULL"
		" OR expires_at >= now())::text || '/' || coalesce((SELECT max(created_at)::text"
		" FROM @lock), '') || '/' || (SELECT count(*) FROM exp)::text"
		" || '/' || (SELECT count(*) FROM rel)::text"
		" UNION ALL SELECT 'E', extract(epoch FROM min(n.last_heartbeat)"
		" + make_interval(secs => $1::float8) - now())::text FROM @node n"
		" WHERE n.name NOT IN (SELECT name FROM dead) HAVING count(*) > 0",

	/* One row per owner (NULL: unowned), its tokens as "1,5,9": a few KB, not a row each. */
	[STORE_LOAD_TOKENS] = "SELECT node, string_agg(token_id::text, ',') FROM @token GROUP BY node",

	/* A waiting backend whose client vanished ends within a second (PostgreSQL 14+;
	 * on older servers this fails and is ignored). */
	[STORE_WATCH_SETUP] = "SELECT set_config('client_connection_check_interval', '1000', false)",

	/* Granted only once the watched node's session (and with it its lock) ended. */
	[STORE_WATCH] = "SELECT pg_advisory_lock(" STR(STORE_SESSION_LOCK_CLASS) ", $1::int)",

	[STORE_WATCH_GONE] = "SELECT pg_advisory_unlock(" STR(STORE_SESSION_LOCK_CLASS) ", $1::int),"
			     " pg_notify($2, 'gone ' || $3)",

	[STORE_LOAD_LOCKS] = "SELECT token_id, node_pattern FROM @lock"
			     " WHERE expires_at IS NULL OR expires_at >= now()",

	/*
	 * Write a distribution, fenced by the term (G5): nothing is written
	 * unless this incarnation still leads in term $1.
	 * $1 term $2 inc $3 token ids $4 owners $5 reason $6 leader name
	 * $7 nodes before $8 nodes after $9 moved $10 duration ms $11 channel
	 */
	[STORE_COMMIT] =
		"WITH m AS (SELECT id FROM @meta WHERE id = 1 AND term = $1::bigint"
		" AND leader_incarnation = $2 FOR UPDATE),"
		" v AS (UPDATE @meta SET token_version = token_version + 1"
		" WHERE id IN (SELECT id FROM m) RETURNING token_version),"
		" u AS (UPDATE @token t SET node = x.node, assigned_at = now(),"
		" version = v.token_version FROM unnest($3::int[], $4::text[]) AS x(id, node), v"
		" WHERE t.token_id = x.id RETURNING 1),"
		" r AS (INSERT INTO @rebalance (trigger_reason, leader_node, nodes_before,"
		" nodes_after, tokens_moved, duration_ms, term, token_version)"
		" SELECT $5, $6, $7::int, $8::int, $9::int, $10::int, $1::bigint, v.token_version"
		" FROM v RETURNING 1)"
		" SELECT v.token_version, (SELECT count(*) FROM u), (SELECT count(*) FROM r),"
		" pg_notify($11, 'tokens ' || v.token_version) FROM v",

	/* Tokens changed since version $2, as lists: now mine, now not mine. */
	[STORE_FETCH_MINE] =
		"SELECT m.token_version,"
		" coalesce(string_agg(t.token_id::text, ',') FILTER (WHERE t.node = $1), ''),"
		" coalesce(string_agg(t.token_id::text, ',')"
		" FILTER (WHERE t.node IS DISTINCT FROM $1), '')"
		" FROM @meta m LEFT JOIN @token t ON t.version > $2::bigint WHERE m.id = 1"
		" GROUP BY m.token_version",

	/*
	 * Leave: delete this incarnation's row (its tokens are then ownerless until
	 * the leader, woken by the NOTIFY, hands them on), release its unaudited
	 * claims and the leadership.
	 */
	[STORE_LEAVE] =
		"WITH d AS (DELETE FROM @node WHERE name = $1 AND incarnation = $2 RETURNING name),"
		" t AS (SELECT token_id FROM @token WHERE node = $1 AND EXISTS (SELECT 1 FROM d)),"
		" c AS (DELETE FROM @claim cl WHERE cl.node = $1 AND EXISTS (SELECT 1 FROM d)"
		" AND NOT EXISTS (SELECT 1 FROM @audit a WHERE a.item = cl.item AND a.date = cl.date)"
		" RETURNING 1),"
		" l AS (UPDATE @meta SET leader_node = NULL, leader_incarnation = NULL"
		" WHERE id = 1 AND leader_incarnation = $2 RETURNING 1)"
		" SELECT (SELECT count(*) FROM d), (SELECT count(*) FROM t),"
		" (SELECT count(*) FROM l), pg_notify($3, 'leave')",

	[STORE_LOCKS_CLEAR] = "DELETE FROM @lock WHERE created_by = $1",

	[STORE_LOCKS_PUT] =
		"WITH ins AS (INSERT INTO @lock (token_id, node_pattern, reason, created_by,"
		" expires_at, task)"
		" SELECT x.token, x.pattern, x.reason, $6,"
		" CASE WHEN x.days > 0 THEN now() + make_interval(days => x.days) END, x.task"
		" FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::int[])"
		" AS x(token, pattern, reason, task, days)"
		" ON CONFLICT (token_id, node_pattern) DO UPDATE SET reason = EXCLUDED.reason,"
		" created_by = EXCLUDED.created_by, expires_at = EXCLUDED.expires_at,"
		" task = EXCLUDED.task RETURNING 1)"
		" SELECT (SELECT count(*) FROM ins), pg_notify($7, 'lock')",

	/* History past retention (leader, hourly). */
	[STORE_PRUNE] =
		"WITH r AS (DELETE FROM @rebalance"
		" WHERE triggered_at < now() - make_interval(days => $1::int) RETURNING 1),"
		" a AS (DELETE FROM @audit WHERE date < current_date - $1::int RETURNING 1),"
		" c AS (DELETE FROM @claim WHERE date < current_date - $1::int RETURNING 1),"
		" q AS (DELETE FROM @request"
		" WHERE requested_at < now() - make_interval(days => $1::int) RETURNING 1)"
		" SELECT (SELECT count(*) FROM r), (SELECT count(*) FROM a),"
		" (SELECT count(*) FROM c), (SELECT count(*) FROM q)",

	/*
	 * Claim a batch (G1): only while this incarnation is registered, fresh and
	 * not draining, only tasks whose token ($6, the same hash as @token_of, which
	 * the unit tests pin) this node owns in the token table,
	 * not yet audited, and unique per (item, date). Every input comes back:
	 * c = claimed (with its fencing number), a = already audited, h = held by
	 * another node or not ours right now.
	 */
	[STORE_CLAIM] =
		"WITH me AS (SELECT 1 FROM @node WHERE name = $1 AND incarnation = $2"
		" AND NOT draining AND last_heartbeat > now() - make_interval(secs => $5::float8)),"
		/* The node sends each item once. */
		" x AS (SELECT item, tok FROM unnest($4::text[], $6::int[]) AS u(item, tok)),"
		" cand AS (SELECT x.item FROM x WHERE EXISTS (SELECT 1 FROM me)"
		" AND EXISTS (SELECT 1 FROM @token t WHERE t.token_id = x.tok AND t.node = $1)"
		" AND NOT EXISTS (SELECT 1 FROM @audit a WHERE a.item = x.item AND a.date = $3::date)),"
		" ins AS (INSERT INTO @claim (item, date, node, incarnation, fence)"
		" SELECT item, $3::date, $1, $2, nextval('@fence_seq') FROM cand"
		" ON CONFLICT (item, date) DO NOTHING RETURNING item, fence)"
		" SELECT x.item, CASE WHEN ins.item IS NOT NULL THEN 'c'"
		" WHEN EXISTS (SELECT 1 FROM @audit a WHERE a.item = x.item AND a.date = $3::date)"
		" THEN 'a' ELSE 'h' END, ins.fence"
		" FROM x LEFT JOIN ins ON ins.item = x.item",

	/* Audit a batch (G3): accepted only for the claims this incarnation holds. */
	[STORE_AUDIT] =
		"WITH x AS (SELECT * FROM unnest($4::text[], $5::text[], $6::int[], $7::int[],"
		" $8::bigint[], $9::text[]) AS u(item, status, attempts, exit_status, duration_ms,"
		" message)),"
		" ins AS (INSERT INTO @audit (item, date, node, status, attempts, exit_status, duration_ms,"
		" message)"
		" SELECT x.item, $3::date, $1, x.status, x.attempts, x.exit_status, x.duration_ms,"
		" x.message FROM x"
		/* One primary-key probe per item, whatever the statistics say: a join
		 * may scan every claim of the node (the table grows all day). */
		" WHERE (SELECT c.node = $1 AND c.incarnation = $2 FROM @claim c"
		" WHERE c.item = x.item AND c.date = $3::date)"
		" ON CONFLICT (item, date) DO NOTHING RETURNING item)"
		/* Only the rejected come back (usually none), not a row per task. */
		" SELECT x.item FROM x WHERE NOT EXISTS (SELECT 1 FROM ins WHERE ins.item = x.item)",

	/* Give claims back unaudited (token moved, drain): the new owner runs them. */
	[STORE_RELEASE] =
		"WITH d AS (DELETE FROM @claim c WHERE c.node = $1 AND c.incarnation = $2"
		" AND c.date = $3::date AND c.item = ANY($4::text[])"
		" AND NOT EXISTS (SELECT 1 FROM @audit a WHERE a.item = c.item AND a.date = c.date)"
		" RETURNING 1) SELECT count(*) FROM d",

	/* Start of a drain: the node stops counting as live, so its tokens move now. */
	[STORE_DRAIN] =
		"UPDATE @node SET draining = true WHERE name = $1 AND incarnation = $2"
		" RETURNING pg_notify($3, 'leave')",

	[STORE_AUDITED] =
		"SELECT a.item FROM @audit a WHERE a.date = $1::date AND a.item = ANY($2::text[])",
};

int store_init(struct store *s, const char *prefix)
{
	memset(s, 0, sizeof *s);
	for (int i = 0; i < STORE_NSTMT; i++)
		if (!(s->sql[i] = schema_expand(templates[i], prefix)))
			return -1;
	snprintf(s->channel, sizeof s->channel, "%sevents", prefix);
	s->listen = malloc(strlen(s->channel) + 8);
	if (!s->listen)
		return -1;
	sprintf(s->listen, "LISTEN %s", s->channel);
	return 0;
}

int store_listen_also(struct store *s, const char *channel)
{
	size_t len = strlen(s->listen) + strlen(channel) + 16;
	char *l = malloc(len);
	if (!l)
		return -1;
	snprintf(l, len, "%s; LISTEN %s", s->listen, channel);
	free(s->listen);
	s->listen = l;
	return 0;
}

void store_free(struct store *s)
{
	for (int i = 0; i < STORE_NSTMT; i++)
		free(s->sql[i]);
	free(s->listen);
	memset(s, 0, sizeof *s);
}
