/* schema.h: the SQL schema (SPEC section 2), parameterised by the table prefix. */
#ifndef JOBSYNC_SCHEMA_H
#define JOBSYNC_SCHEMA_H

#define SCHEMA_VERSION 1
#define SCHEMA_HASH_NAME "md5-be128-mod"

/*
 * Replace every "@" in tmpl with prefix (already validated as
 * [a-z_][a-z0-9_]{0,30}, so it is a safe identifier part). Returns a malloc'd
 * string, or NULL on allocation failure.
 */
char *schema_expand(const char *tmpl, const char *prefix);

/*
 * The whole DDL, the metadata row and the token rows as one idempotent
 * multi-statement transaction, serialised across concurrent starters by a
 * transaction advisory lock. total_tokens only seeds an empty cluster.
 * Returns a malloc'd string, or NULL on allocation failure.
 */
char *schema_ddl(const char *prefix, int total_tokens);

/* Read the cluster metadata: total_tokens, hash, schema_version, term,
 * token_version. Template: expand with schema_expand(). */
extern const char schema_meta_tmpl[];

#endif
