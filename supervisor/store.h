/* store.h: every SQL statement the daemon sends, named, expanded for one prefix. */
#ifndef JOBSYNC_STORE_H
#define JOBSYNC_STORE_H

/* Advisory lock namespace (classid) of the per-session liveness lock. */
#define STORE_SESSION_LOCK_CLASS 7365330

enum store_stmt {
	STORE_META,          /* -> total_tokens, hash, schema_version, term, token_version */
	STORE_SESSION_LOCK,  /* $1 key -> locked bool */
	STORE_REGISTER,      /* $1 name $2 inc $3 site $4 host $5 pid $6 version $7 key $8 timeout $9 channel $10 session check -> incarnation */
	STORE_HEARTBEAT,     /* $1 name $2 inc $3 key $4 timeout $5 session check -> ok, term, leader_node, leader_inc, token_version, oldest_inc, heir_inc, next_expiry_sec, watch target "name key" */
	STORE_CLAIM_LEADER,  /* $1 name $2 inc $3 timeout $4 session check -> term */
	STORE_INSPECT,       /* $1 timeout $2 session check -> rows (kind L|D|Z|F|E, value) */
	STORE_LOAD_TOKENS,   /* -> node, its token ids "1,5,9" */
	STORE_LOAD_LOCKS,    /* -> token_id, node_pattern */
	STORE_COMMIT,        /* see store.c -> token_version, updated */
	STORE_FETCH_MINE,    /* $1 name $2 since_version -> token_version, ids now mine, ids now not mine */
	STORE_LEAVE,         /* $1 name $2 inc $3 channel -> deleted, released */
	STORE_LOCKS_CLEAR,   /* $1 created_by */
	STORE_LOCKS_PUT,     /* $1 tokens int[] $2 patterns text[] $3 reasons text[] $4 tasks text[] $5 expires_days int[] $6 created_by $7 channel */
	STORE_PRUNE,         /* $1 retention days -> rebalances, audits, claims, requests deleted */
	STORE_CLAIM,         /* $1 name $2 inc $3 date $4 items text[] $5 timeout $6 tokens int[] -> item, c|a|h, fence */
	STORE_AUDIT,         /* $1 name $2 inc $3 date $4 items $5 statuses $6 attempts $7 exits $8 ms $9 msgs -> items rejected */
	STORE_RELEASE,       /* $1 name $2 inc $3 date $4 items text[] -> released count */
	STORE_AUDITED,       /* $1 date $2 items text[] -> items audited for the date */
	STORE_DRAIN,         /* $1 name $2 inc $3 channel: mark draining, NOTIFY leave */
	STORE_WATCH_SETUP,   /* (watch connection) notice a vanished client while waiting */
	STORE_WATCH,         /* $1 key: wait until that node's session lock is free */
	STORE_WATCH_GONE,    /* $1 key $2 channel $3 name: unlock it, NOTIFY "gone NAME" */
	STORE_NSTMT
};

struct store {
	char *sql[STORE_NSTMT];
	char *listen;        /* LISTEN <prefix>events */
	char channel[64];    /* <prefix>events */
};

/* Also LISTEN on channel (a validated identifier) after every connect. 0 or -1. */
int store_listen_also(struct store *s, const char *channel);

/* Expand every statement for prefix (already validated). Returns 0 or -1. */
int store_init(struct store *s, const char *prefix);
void store_free(struct store *s);

#endif
