/* schema.c: the DDL text of SPEC section 2 and the seeding statement. */
#include "supervisor/schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *schema_expand(const char *tmpl, const char *prefix)
{
	size_t plen = strlen(prefix), n = 0;
	for (const char *p = tmpl; *p; p++)
		n += (*p == '@') ? plen : 1;
	char *out = malloc(n + 1), *o = out;
	if (!out)
		return NULL;
	for (const char *p = tmpl; *p; p++) {
		if (*p == '@') {
			memcpy(o, prefix, plen);
			o += plen;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return out;
}

/* Token of a task: MD5 as a 128-bit big-endian integer mod n, by Horner over
 * four 32-bit words so every intermediate fits a bigint (n <= 2^20). */
#define WORD(i) "('x' || lpad(substr(h, " #i ", 8), 16, '0'))::bit(64)::bigint"

static const char schema_ddl_tmpl[] =
	"BEGIN;\n"
	"SET LOCAL client_min_messages = warning;\n"
	"SELECT pg_advisory_xact_lock(7365329, hashtext('@'));\n"
	"CREATE TABLE IF NOT EXISTS @meta (\n"
	"  id int PRIMARY KEY CHECK (id = 1),\n"
	"  schema_version int NOT NULL,\n"
	"  total_tokens int NOT NULL,\n"
	"  hash text NOT NULL,\n"
	"  term bigint NOT NULL DEFAULT 0,\n"
	"  leader_node text,\n"
	"  leader_incarnation text,\n"
	"  leader_since timestamptz,\n"
	"  token_version bigint NOT NULL DEFAULT 0,\n"
	"  created_at timestamptz NOT NULL DEFAULT now());\n"
	"CREATE TABLE IF NOT EXISTS @node (\n"
	"  name text PRIMARY KEY,\n"
	"  incarnation text NOT NULL,\n"
	"  created_on timestamptz NOT NULL DEFAULT now(),\n"
	"  last_heartbeat timestamptz NOT NULL DEFAULT now(),\n"
	"  site text NOT NULL DEFAULT '',\n"
	"  host text NOT NULL DEFAULT '',\n"
	"  pid int,\n"
	"  version text,\n"
	"  session_key int,\n"
	"  draining boolean NOT NULL DEFAULT false);\n"
	"CREATE TABLE IF NOT EXISTS @token (\n"
	"  token_id int PRIMARY KEY,\n"
	"  node text,\n"
	"  assigned_at timestamptz NOT NULL DEFAULT now(),\n"
	"  version bigint NOT NULL DEFAULT 0);\n"
	"CREATE INDEX IF NOT EXISTS @token_node_idx ON @token (node);\n"
	"CREATE INDEX IF NOT EXISTS @token_version_idx ON @token (version);\n"
	"CREATE TABLE IF NOT EXISTS @lock (\n"
	"  token_id int NOT NULL,\n"
	"  node_pattern text NOT NULL,\n"
	"  reason text NOT NULL DEFAULT '',\n"
	"  created_at timestamptz NOT NULL DEFAULT now(),\n"
	"  created_by text NOT NULL DEFAULT '',\n"
	"  expires_at timestamptz,\n"
	"  task text,\n"
	"  PRIMARY KEY (token_id, node_pattern));\n"
	"CREATE INDEX IF NOT EXISTS @lock_created_by_idx ON @lock (created_by);\n"
	"CREATE TABLE IF NOT EXISTS @claim (\n"
	"  item text NOT NULL,\n"
	"  date date NOT NULL DEFAULT current_date,\n"
	"  node text NOT NULL,\n"
	"  incarnation text,\n"
	"  fence bigint,\n"
	"  created_on timestamptz NOT NULL DEFAULT now(),\n"
	"  PRIMARY KEY (date, item));\n"
	"CREATE INDEX IF NOT EXISTS @claim_node_idx ON @claim (node);\n"
	"CREATE SEQUENCE IF NOT EXISTS @fence_seq;\n"
	"CREATE TABLE IF NOT EXISTS @audit (\n"
	"  item text NOT NULL,\n"
	"  date date NOT NULL DEFAULT current_date,\n"
	"  node text NOT NULL,\n"
	"  created_on timestamptz NOT NULL DEFAULT now(),\n"
	"  status text NOT NULL DEFAULT 'done' CHECK (status IN ('done', 'failed')),\n"
	"  attempts int NOT NULL DEFAULT 1,\n"
	"  exit_status int,\n"
	"  duration_ms bigint,\n"
	"  message text,\n"
	"  PRIMARY KEY (date, item));\n"
	"CREATE TABLE IF NOT EXISTS @rebalance (\n"
	"  id bigserial PRIMARY KEY,\n"
	"  triggered_at timestamptz NOT NULL DEFAULT now(),\n"
	"  trigger_reason text NOT NULL,\n"
	"  leader_node text NOT NULL,\n"
	"  nodes_before int NOT NULL,\n"
	"  nodes_after int NOT NULL,\n"
	"  tokens_moved int NOT NULL,\n"
	"  duration_ms int NOT NULL,\n"
	"  term bigint,\n"
	"  token_version bigint);\n"
	"CREATE TABLE IF NOT EXISTS @request (\n"
	"  id bigserial PRIMARY KEY,\n"
	"  kind text NOT NULL,\n"
	"  arg text,\n"
	"  requested_at timestamptz NOT NULL DEFAULT now(),\n"
	"  requested_by text,\n"
	"  done_at timestamptz,\n"
	"  result text);\n"
	"CREATE OR REPLACE FUNCTION @token_of(id text, total int) RETURNS int\n"
	"LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $f$\n"
	"  SELECT mod(mod(mod(mod(" WORD(1) ", n) * 4294967296 + " WORD(9) ", n)\n"
	"             * 4294967296 + " WORD(17) ", n) * 4294967296 + " WORD(25) ", n)::int\n"
	"  FROM (SELECT md5(convert_to(id, 'UTF8')) AS h, total::bigint AS n) s\n"
	"$f$;\n"
	"CREATE OR REPLACE FUNCTION @token_of(id text) RETURNS int\n"
	"LANGUAGE sql STABLE STRICT AS $f$\n"
	"  SELECT @token_of($1, (SELECT m.total_tokens FROM @meta m WHERE m.id = 1))\n"
	"$f$;\n"
	"INSERT INTO @meta (id, schema_version, total_tokens, hash)\n"
	"  VALUES (1, %d, %d, '" SCHEMA_HASH_NAME "') ON CONFLICT (id) DO NOTHING;\n"
	"INSERT INTO @token (token_id)\n"
	"  SELECT generate_series(0, total_tokens - 1) FROM @meta WHERE id = 1\n"
	"  ON CONFLICT (token_id) DO NOTHING;\n"
	"CREATE TABLE IF NOT EXISTS @cron_run (\n"
	"  id bigserial PRIMARY KEY,\n"
	"  job text NOT NULL,\n"
	"  instant timestamptz NOT NULL,\n"
	"  node text NOT NULL,\n"
	"  term bigint NOT NULL,\n"
	"  requested boolean NOT NULL DEFAULT false,\n"
	"  started timestamptz,\n"
	"  finished timestamptz,\n"
	"  status text NOT NULL CHECK (status IN\n"
	"    ('running', 'success', 'failed', 'timeout', 'skipped')),\n"
	"  attempts int NOT NULL DEFAULT 0,\n"
	"  exit_status int,\n"
	"  output_tail text,\n"
	"  UNIQUE (job, instant));\n"
	"CREATE INDEX IF NOT EXISTS @cron_run_instant_idx ON @cron_run (instant);\n"
	"COMMIT;\n";

const char schema_meta_tmpl[] =
	"SELECT total_tokens, hash, schema_version, term, token_version FROM @meta WHERE id = 1";

char *schema_ddl(const char *prefix, int total_tokens)
{
	char *tmpl = schema_expand(schema_ddl_tmpl, prefix);
	if (!tmpl)
		return NULL;
	size_t n = strlen(tmpl) + 32;
	char *out = malloc(n);
	if (out)
		snprintf(out, n, tmpl, SCHEMA_VERSION, total_tokens);
	free(tmpl);
	return out;
}
