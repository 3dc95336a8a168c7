/* tokens.h: the pure token distribution (G6: balanced, minimal, no orphans, locks). */
#ifndef JOBSYNC_TOKENS_H
#define JOBSYNC_TOKENS_H

#include <stddef.h>

/*
 * Inputs to one distribution. Nodes are the live nodes eligible to own tokens,
 * given by name in any order (the plan sorts nothing in place).
 *  owner[t]   index into names of token t's current owner, or -1 (none, or
 *             an owner that is no longer live).
 *  locks      for locked tokens, the LIKE patterns that may own them.
 */
struct tokens_lock {
	int token;
	const char *pattern;
};

struct tokens_input {
	int total;                    /* number of tokens */
	const char *const *names;     /* live node names */
	int nnodes;
	const int *owner;             /* [total] */
	const struct tokens_lock *locks; /* any order, several patterns per token allowed */
	size_t nlocks;
};

struct tokens_plan {
	int *owner;                   /* [total] new owner index, -1 = unowned (locked, no match) */
	int moved;                    /* tokens whose owner changed (incl. orphans adopted) */
	int unowned_locked;           /* locked tokens matching no live node */
	int locked;                   /* number of distinct locked tokens */
};

/*
 * Compute the distribution: locked tokens go only to matching nodes (kept
 * where the owner still matches, else the matching node with fewest locked
 * tokens); unlocked tokens are balanced to within one across all nodes with
 * the fewest possible moves. Deterministic for equal inputs. Returns 0, or -1
 * on allocation failure. Free with tokens_plan_free().
 * Owner indices outside [0, nnodes) are read as -1 (departed), so such a token
 * that stays unowned is not counted in moved; lock entries whose token is
 * outside [0, total) or whose pattern is NULL are ignored. Node names are
 * expected to be unique; ties are broken by strcmp order of the names.
 */
int tokens_plan(const struct tokens_input *in, struct tokens_plan *out);
void tokens_plan_free(struct tokens_plan *plan);

#endif
